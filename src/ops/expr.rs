//! Elementwise expressions: trees of tile functions over a node's inputs.
//!
//! An [`Expr`] is what an elementwise node computes for each element, in terms of its inputs.
//! The optimizer inlines the expressions of elementwise inputs into their consumers, so a
//! chain such as `((x * 2 + 1)^2)` becomes one expression over `x`, evaluated in one pass per
//! block (see [`crate::ops::fused`]).

use crate::element::{AnySlice, AnySliceMut, DType, Element};
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

/// A function applied to tiles (short runs of elements) of its arguments.
///
/// Arguments and result are tiles of the same length: registers of the fused kernel, or runs
/// of an input or of the output read and written in place.
pub(crate) trait TileFn: Send + Sync {
    /// A short name for plans (`add`, `mul_scalar`, `sqrt`, ...).
    fn name(&self) -> &str;
    /// The result's element type.
    fn out_dtype(&self) -> DType;
    /// Computes `out` from `args`, element by element.
    fn call(&self, args: &[AnySlice<'_>], out: AnySliceMut<'_>);
    /// This function as `Any`, for functions that others can compose with.
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        None
    }
    /// One function computing `next(self(x))` in a single pass, when both are known to
    /// compose (see [`super::arith`]); `None` otherwise.
    fn then(&self, _next: &dyn TileFn) -> Option<Arc<dyn TileFn>> {
        None
    }
}

/// A node of an elementwise expression.
pub(crate) enum ExprNode {
    /// The block of the node's input number `k`, broadcast to the node's shape.
    Input(usize, DType),
    /// A tile function of sub-expressions.
    Call(Arc<dyn TileFn>, Vec<Expr>),
}

/// A shared expression (sub-expressions used twice are evaluated once: CSE by pointer).
pub(crate) type Expr = Arc<ExprNode>;

impl fmt::Display for ExprNode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExprNode::Input(k, _) => write!(f, "in{k}"),
            ExprNode::Call(func, args) => {
                write!(f, "{}(", func.name())?;
                for (i, a) in args.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{a}")?;
                }
                f.write_str(")")
            }
        }
    }
}

/// `out = f(a)`, elementwise.
pub(crate) struct Map1<A, O, F> {
    name: String,
    f: F,
    _types: PhantomData<fn(A) -> O>,
}

/// `out = f(a, b)`, elementwise.
pub(crate) struct Map2<A, B, O, F> {
    name: String,
    f: F,
    _types: PhantomData<fn(A, B) -> O>,
}

/// `out = f(a, b, c)`, elementwise.
pub(crate) struct Map3<A, B, C, O, F> {
    name: String,
    f: F,
    _types: PhantomData<fn(A, B, C) -> O>,
}

/// `out = value`: a constant (for `full`, `zeros`, `ones`).
pub(crate) struct Fill<T>(pub T);

pub(crate) fn map1<A: Element, O: Element, F>(name: impl Into<String>, f: F) -> Arc<dyn TileFn>
where
    F: Fn(A) -> O + Send + Sync + 'static,
{
    Arc::new(Map1 {
        name: name.into(),
        f,
        _types: PhantomData,
    })
}

pub(crate) fn map2<A: Element, B: Element, O: Element, F>(
    name: impl Into<String>,
    f: F,
) -> Arc<dyn TileFn>
where
    F: Fn(A, B) -> O + Send + Sync + 'static,
{
    Arc::new(Map2 {
        name: name.into(),
        f,
        _types: PhantomData,
    })
}

pub(crate) fn map3<A: Element, B: Element, C: Element, O: Element, F>(
    name: impl Into<String>,
    f: F,
) -> Arc<dyn TileFn>
where
    F: Fn(A, B, C) -> O + Send + Sync + 'static,
{
    Arc::new(Map3 {
        name: name.into(),
        f,
        _types: PhantomData,
    })
}

impl<A: Element, O: Element, F: Fn(A) -> O + Send + Sync> TileFn for Map1<A, O, F> {
    fn name(&self) -> &str {
        &self.name
    }
    fn out_dtype(&self) -> DType {
        O::DTYPE
    }
    #[inline]
    fn call(&self, args: &[AnySlice<'_>], out: AnySliceMut<'_>) {
        let o = O::slice_mut(out);
        let a = &A::slice_ref(args[0])[..o.len()];
        for (o, &a) in o.iter_mut().zip(a) {
            *o = (self.f)(a);
        }
    }
}

impl<A: Element, B: Element, O: Element, F: Fn(A, B) -> O + Send + Sync> TileFn
    for Map2<A, B, O, F>
{
    fn name(&self) -> &str {
        &self.name
    }
    fn out_dtype(&self) -> DType {
        O::DTYPE
    }
    #[inline]
    fn call(&self, args: &[AnySlice<'_>], out: AnySliceMut<'_>) {
        let o = O::slice_mut(out);
        let a = &A::slice_ref(args[0])[..o.len()];
        let b = &B::slice_ref(args[1])[..o.len()];
        for ((o, &a), &b) in o.iter_mut().zip(a).zip(b) {
            *o = (self.f)(a, b);
        }
    }
}

impl<A: Element, B: Element, C: Element, O: Element, F: Fn(A, B, C) -> O + Send + Sync> TileFn
    for Map3<A, B, C, O, F>
{
    fn name(&self) -> &str {
        &self.name
    }
    fn out_dtype(&self) -> DType {
        O::DTYPE
    }
    #[inline]
    fn call(&self, args: &[AnySlice<'_>], out: AnySliceMut<'_>) {
        let o = O::slice_mut(out);
        let a = &A::slice_ref(args[0])[..o.len()];
        let b = &B::slice_ref(args[1])[..o.len()];
        let c = &C::slice_ref(args[2])[..o.len()];
        for (((o, &a), &b), &c) in o.iter_mut().zip(a).zip(b).zip(c) {
            *o = (self.f)(a, b, c);
        }
    }
}

impl<T: Element> TileFn for Fill<T> {
    fn name(&self) -> &str {
        "fill"
    }
    fn out_dtype(&self) -> DType {
        T::DTYPE
    }
    fn call(&self, _args: &[AnySlice<'_>], out: AnySliceMut<'_>) {
        T::slice_mut(out).fill(self.0);
    }
}
