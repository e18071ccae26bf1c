//! Elementwise operations: arithmetic operators with NumPy broadcasting, comparisons, `mapv`,
//! `zip_with`, `where_`, `clip`, `astype` and the math functions. Each builds one node; the
//! optimizer fuses chains of them into one kernel per block.

use super::ChunkedArray;
use crate::chunks::{AxisChunks, ChunkGrid, broadcast_shapes, unify_axis};
use crate::element::{CastFrom, Element, Float, Numeric, NumericSealed};
use crate::error::Result;
use crate::graph::optimize::input_grid_for;
use crate::graph::{Node, NodeRef, Op};
use crate::ops::arith::{ArithOp, scalar_step};
use crate::ops::expr::{Expr, ExprNode, TileFn, map1, map2, map3};
use std::ops::{Add, Div, Mul, Neg, Rem, Sub};
use std::sync::Arc;

/// The common shape and chunk grid of broadcast operands, and each operand brought to it
/// (rechunked where its chunks differ on a non-broadcast axis).
pub(crate) fn broadcast_nodes(
    op: &'static str,
    nodes: &[&NodeRef],
) -> Result<(ChunkGrid, Vec<NodeRef>)> {
    let mut shape: Vec<usize> = Vec::new();
    for n in nodes {
        shape = broadcast_shapes(op, &shape, &n.shape)?;
    }
    let nd = shape.len();
    let mut axes = Vec::with_capacity(nd);
    for (ax, &len) in shape.iter().enumerate() {
        let mut acc: Option<AxisChunks> = None;
        for n in nodes {
            let off = nd - n.shape.len();
            if ax < off || n.shape[ax - off] != len {
                continue;
            }
            let c = n.grid.axis(ax - off);
            acc = Some(match acc {
                None => c.clone(),
                Some(a) => unify_axis(&a, c),
            });
        }
        axes.push(acc.unwrap_or_else(|| AxisChunks::regular(len, len.max(1))));
    }
    let grid = ChunkGrid::new(axes);
    let inputs = nodes
        .iter()
        .map(|n| {
            let g = input_grid_for(&n.shape, &grid);
            if g == n.grid {
                (*n).clone()
            } else {
                Node::new(
                    g,
                    n.dtype,
                    Op::Rechunk {
                        input: (*n).clone(),
                    },
                )
            }
        })
        .collect();
    Ok((grid, inputs))
}

/// An elementwise node applying `f` to `nodes` (broadcast).
fn apply<O: Element>(
    op: &'static str,
    f: Arc<dyn TileFn>,
    nodes: &[&NodeRef],
) -> Result<ChunkedArray<O>> {
    let (grid, inputs) = broadcast_nodes(op, nodes)?;
    let args: Vec<Expr> = inputs
        .iter()
        .enumerate()
        .map(|(k, n)| Arc::new(ExprNode::Input(k, n.dtype)))
        .collect();
    let expr = Arc::new(ExprNode::Call(f, args));
    Ok(ChunkedArray::from_node(Node::new(
        grid,
        O::DTYPE,
        Op::Elementwise { expr, inputs },
    )))
}

/// One operand of a binary operation: an array or a scalar.
pub enum Operand<'a, T: Element> {
    /// An array (broadcast against the other operand).
    Array(&'a ChunkedArray<T>),
    /// A scalar.
    Scalar(T),
}

/// Converts `&ChunkedArray<T>` and `T` into an [`Operand`].
pub trait IntoOperand<'a, T: Element> {
    /// The operand.
    fn into_operand(self) -> Operand<'a, T>;
}
impl<'a, T: Element> IntoOperand<'a, T> for &'a ChunkedArray<T> {
    fn into_operand(self) -> Operand<'a, T> {
        Operand::Array(self)
    }
}
impl<'a, T: Element> IntoOperand<'a, T> for T {
    fn into_operand(self) -> Operand<'a, T> {
        Operand::Scalar(self)
    }
}

impl<T: Element> ChunkedArray<T> {
    /// Applies `f` to every element (ndarray's `mapv`), lazily.
    pub fn mapv<U: Element, F>(&self, f: F) -> ChunkedArray<U>
    where
        F: Fn(T) -> U + Send + Sync + 'static,
    {
        self.map_named("mapv", f)
    }

    fn map_named<U: Element, F>(&self, name: &str, f: F) -> ChunkedArray<U>
    where
        F: Fn(T) -> U + Send + Sync + 'static,
    {
        self.map_fn(map1(name, f))
    }

    /// Applies a one-argument tile function (whose output type is `U`).
    fn map_fn<U: Element>(&self, f: Arc<dyn TileFn>) -> ChunkedArray<U> {
        debug_assert_eq!(f.out_dtype(), U::DTYPE);
        let expr = Arc::new(ExprNode::Call(
            f,
            vec![Arc::new(ExprNode::Input(0, T::DTYPE))],
        ));
        ChunkedArray::from_node(Node::new(
            self.node.grid.clone(),
            U::DTYPE,
            Op::Elementwise {
                expr,
                inputs: vec![self.node.clone()],
            },
        ))
    }

    /// Combines two arrays elementwise with `f`, broadcasting them (NumPy rules) and unifying
    /// their chunks.
    ///
    /// # Errors
    /// [`crate::Error::Broadcast`] when the shapes cannot be broadcast together.
    pub fn zip_with<U: Element, V: Element, F>(
        &self,
        other: &ChunkedArray<U>,
        f: F,
    ) -> Result<ChunkedArray<V>>
    where
        F: Fn(T, U) -> V + Send + Sync + 'static,
    {
        apply("zip_with", map2("zip_with", f), &[&self.node, &other.node])
    }

    fn binary<'a, O: Element, F>(
        &self,
        op: &'static str,
        rhs: Operand<'a, T>,
        f: F,
    ) -> Result<ChunkedArray<O>>
    where
        F: Fn(T, T) -> O + Send + Sync + Copy + 'static,
    {
        match rhs {
            Operand::Array(b) => apply(op, map2(op, f), &[&self.node, &b.node]),
            Operand::Scalar(s) => Ok(self.map_named(&format!("{op}({s:?})"), move |a| f(a, s))),
        }
    }

    /// `self > rhs` elementwise.
    ///
    /// # Errors
    /// [`crate::Error::Broadcast`] for incompatible shapes.
    pub fn gt<'a>(&self, rhs: impl IntoOperand<'a, T>) -> Result<ChunkedArray<bool>> {
        self.binary("gt", rhs.into_operand(), |a, b| a > b)
    }
    /// `self >= rhs` elementwise.
    ///
    /// # Errors
    /// [`crate::Error::Broadcast`] for incompatible shapes.
    pub fn ge<'a>(&self, rhs: impl IntoOperand<'a, T>) -> Result<ChunkedArray<bool>> {
        self.binary("ge", rhs.into_operand(), |a, b| a >= b)
    }
    /// `self < rhs` elementwise.
    ///
    /// # Errors
    /// [`crate::Error::Broadcast`] for incompatible shapes.
    pub fn lt<'a>(&self, rhs: impl IntoOperand<'a, T>) -> Result<ChunkedArray<bool>> {
        self.binary("lt", rhs.into_operand(), |a, b| a < b)
    }
    /// `self <= rhs` elementwise.
    ///
    /// # Errors
    /// [`crate::Error::Broadcast`] for incompatible shapes.
    pub fn le<'a>(&self, rhs: impl IntoOperand<'a, T>) -> Result<ChunkedArray<bool>> {
        self.binary("le", rhs.into_operand(), |a, b| a <= b)
    }
    /// `self == rhs` elementwise.
    ///
    /// # Errors
    /// [`crate::Error::Broadcast`] for incompatible shapes.
    pub fn eq_elem<'a>(&self, rhs: impl IntoOperand<'a, T>) -> Result<ChunkedArray<bool>> {
        self.binary("eq", rhs.into_operand(), |a, b| a == b)
    }
    /// `self != rhs` elementwise.
    ///
    /// # Errors
    /// [`crate::Error::Broadcast`] for incompatible shapes.
    pub fn ne_elem<'a>(&self, rhs: impl IntoOperand<'a, T>) -> Result<ChunkedArray<bool>> {
        self.binary("ne", rhs.into_operand(), |a, b| a != b)
    }

    /// The same values with another chunking. Cheap when the array comes straight from a
    /// source (the new blocks are read directly) or from elementwise work on one (the rechunk
    /// is pushed to the sources); otherwise each new block is assembled from the old blocks
    /// that overlap it. When those gathers would not fit the runtime's memory limit (every
    /// new block needs many old ones, as from one-time-step "pancakes" to full-time-series
    /// "pencils"), the rechunk runs in passes through intermediate chunkings (planned as
    /// rechunker's algorithm does), each written to a temporary Zarr array
    /// (removed after the run) so that every pass's tasks fit the limit; `explain_for` shows
    /// the strategy and passes. Without the `zarr` feature it is always a single pass.
    ///
    /// # Errors
    /// Invalid chunks for the shape.
    pub fn rechunk(&self, chunks: impl Into<crate::chunks::ChunkSpec>) -> Result<ChunkedArray<T>> {
        let grid = chunks.into().resolve(
            self.shape(),
            T::DTYPE.size(),
            Some(&self.chunks().chunk_shape()),
            "rechunk",
        )?;
        if &grid == self.chunks() {
            return Ok(self.clone());
        }
        Ok(ChunkedArray::from_node(Node::new(
            grid,
            T::DTYPE,
            Op::Rechunk {
                input: self.node.clone(),
            },
        )))
    }

    /// Converts every element to `U` (NumPy's `astype`, with every case defined): floats to
    /// integers truncate toward zero and **saturate** at `U`'s bounds, NaN becomes 0 (NumPy's
    /// result for these is platform-dependent); integers to narrower integers wrap; nonzero
    /// becomes `true`. See [`CastFrom`].
    pub fn astype<U: Element + CastFrom<T>>(&self) -> ChunkedArray<U> {
        self.map_named(&format!("astype<{}>", U::DTYPE), U::cast_from)
    }
}

/// `cond ? x : y` elementwise (NumPy's `where`), broadcasting all three.
///
/// # Errors
/// [`crate::Error::Broadcast`] for incompatible shapes.
///
/// # Example
/// ```
/// use chunkwise::prelude::*;
/// let rt = Runtime::builder().threads(1).build()?;
/// let x = ChunkedArray::from_ndarray(ndarray::arr1(&[-1.0, 2.0, -3.0]), [2])?;
/// let y = where_(&x.gt(0.0)?, &x, 0.0)?;
/// assert_eq!(y.compute(&rt)?.into_raw_vec_and_offset().0, vec![0.0, 2.0, 0.0]);
/// # Ok::<(), chunkwise::Error>(())
/// ```
pub fn where_<'a, 'b, T: Element>(
    cond: &ChunkedArray<bool>,
    x: impl IntoOperand<'a, T>,
    y: impl IntoOperand<'b, T>,
) -> Result<ChunkedArray<T>> {
    match (x.into_operand(), y.into_operand()) {
        (Operand::Array(a), Operand::Array(b)) => apply(
            "where",
            map3("where", |c: bool, a: T, b: T| if c { a } else { b }),
            &[&cond.node, &a.node, &b.node],
        ),
        (Operand::Array(a), Operand::Scalar(s)) => apply(
            "where",
            map2("where", move |c: bool, a: T| if c { a } else { s }),
            &[&cond.node, &a.node],
        ),
        (Operand::Scalar(s), Operand::Array(b)) => apply(
            "where",
            map2("where", move |c: bool, b: T| if c { s } else { b }),
            &[&cond.node, &b.node],
        ),
        (Operand::Scalar(s), Operand::Scalar(t)) => {
            Ok(cond.map_named("where", move |c| if c { s } else { t }))
        }
    }
}

impl ChunkedArray<bool> {
    /// `x` where `self` is true, else `y` (see [`where_`]).
    ///
    /// # Errors
    /// [`crate::Error::Broadcast`] for incompatible shapes.
    pub fn select<'a, 'b, T: Element>(
        &self,
        x: impl IntoOperand<'a, T>,
        y: impl IntoOperand<'b, T>,
    ) -> Result<ChunkedArray<T>> {
        where_(self, x, y)
    }

    /// Logical not.
    pub fn not(&self) -> ChunkedArray<bool> {
        self.map_named("not", |a: bool| !a)
    }

    /// Logical and.
    ///
    /// # Errors
    /// [`crate::Error::Broadcast`] for incompatible shapes.
    pub fn and<'a>(&self, rhs: impl IntoOperand<'a, bool>) -> Result<ChunkedArray<bool>> {
        self.binary("and", rhs.into_operand(), |a, b| a & b)
    }

    /// Logical or.
    ///
    /// # Errors
    /// [`crate::Error::Broadcast`] for incompatible shapes.
    pub fn or<'a>(&self, rhs: impl IntoOperand<'a, bool>) -> Result<ChunkedArray<bool>> {
        self.binary("or", rhs.into_operand(), |a, b| a | b)
    }
}

impl<T: Numeric> ChunkedArray<T> {
    /// Absolute value (identity for unsigned types; wrapping for the minimum signed value).
    pub fn abs(&self) -> ChunkedArray<T> {
        self.map_named("abs", T::abs_)
    }

    /// Integer power (wrapping for integers; for floats within 1 ulp of `powf`).
    pub fn powi(&self, n: i32) -> ChunkedArray<T> {
        if n == 2 {
            return self.map_named("square", |a: T| a.mul_(a));
        }
        self.map_named(&format!("powi({n})"), move |a: T| a.powi_(n))
    }

    /// Limits values to `[min, max]` as NumPy's `clip`: `minimum(maximum(x, min), max)`, so
    /// with `min > max` every element becomes `max`, and NaN (in `x` or either bound)
    /// propagates.
    pub fn clip(&self, min: T, max: T) -> ChunkedArray<T> {
        self.map_named(&format!("clip({min:?}, {max:?})"), move |a: T| {
            // NumPy's `maximum`/`minimum`: the NaN operand wins.
            let lo = if a.is_nan_() || (!min.is_nan_() && a >= min) {
                a
            } else {
                min
            };
            if lo.is_nan_() || (!max.is_nan_() && lo <= max) {
                lo
            } else {
                max
            }
        })
    }

    /// Whether each element is NaN (all false for integers).
    pub fn is_nan(&self) -> ChunkedArray<bool> {
        self.map_named("is_nan", T::is_nan_)
    }
}

impl<T: Float> ChunkedArray<T> {
    /// Square root.
    pub fn sqrt(&self) -> ChunkedArray<T> {
        self.map_named("sqrt", |a: T| a.sqrt())
    }
    /// `e^x`.
    pub fn exp(&self) -> ChunkedArray<T> {
        self.map_named("exp", |a: T| a.exp())
    }
    /// Natural logarithm.
    pub fn ln(&self) -> ChunkedArray<T> {
        self.map_named("ln", |a: T| a.ln())
    }
    /// Float power.
    pub fn powf(&self, p: T) -> ChunkedArray<T> {
        self.map_named(&format!("powf({p:?})"), move |a: T| a.powf(p))
    }
    /// Replaces NaN by `value`.
    pub fn fill_nan(&self, value: T) -> ChunkedArray<T> {
        self.map_named(&format!("fill_nan({value:?})"), move |a: T| {
            if a.is_nan() { value } else { a }
        })
    }
}

macro_rules! binop {
    ($(#[$doc:meta])* $trait:ident, $method:ident, $name:literal, $op:ident, $arith:expr) => {
        $(#[$doc])*
        impl<T: Numeric> $trait<&ChunkedArray<T>> for &ChunkedArray<T> {
            type Output = Result<ChunkedArray<T>>;
            fn $method(self, rhs: &ChunkedArray<T>) -> Result<ChunkedArray<T>> {
                apply($name, map2($name, |a: T, b: T| a.$op(b)), &[&self.node, &rhs.node])
            }
        }
        impl<T: Numeric> $trait<ChunkedArray<T>> for ChunkedArray<T> {
            type Output = Result<ChunkedArray<T>>;
            fn $method(self, rhs: ChunkedArray<T>) -> Result<ChunkedArray<T>> {
                (&self).$method(&rhs)
            }
        }
        impl<T: Numeric> $trait<&ChunkedArray<T>> for ChunkedArray<T> {
            type Output = Result<ChunkedArray<T>>;
            fn $method(self, rhs: &ChunkedArray<T>) -> Result<ChunkedArray<T>> {
                (&self).$method(rhs)
            }
        }
        impl<T: Numeric> $trait<ChunkedArray<T>> for &ChunkedArray<T> {
            type Output = Result<ChunkedArray<T>>;
            fn $method(self, rhs: ChunkedArray<T>) -> Result<ChunkedArray<T>> {
                self.$method(&rhs)
            }
        }
        $(#[$doc])*
        impl<T: Numeric> $trait<T> for &ChunkedArray<T> {
            type Output = ChunkedArray<T>;
            fn $method(self, s: T) -> ChunkedArray<T> {
                // A step the fused kernel can merge with a neighbouring one.
                self.map_fn(scalar_step($arith, s))
            }
        }
        impl<T: Numeric> $trait<T> for ChunkedArray<T> {
            type Output = ChunkedArray<T>;
            fn $method(self, s: T) -> ChunkedArray<T> {
                (&self).$method(s)
            }
        }
        binop!(@scalar_lhs $trait, $method, $name, $op, i8, i16, i32, i64, u8, u16, u32, u64, f32, f64);
    };
    (@scalar_lhs $trait:ident, $method:ident, $name:literal, $op:ident, $($t:ty),*) => {$(
        impl $trait<&ChunkedArray<$t>> for $t {
            type Output = ChunkedArray<$t>;
            fn $method(self, a: &ChunkedArray<$t>) -> ChunkedArray<$t> {
                a.map_named(&format!(concat!("r", $name, "({:?})"), self), move |x: $t| self.$op(x))
            }
        }
        impl $trait<ChunkedArray<$t>> for $t {
            type Output = ChunkedArray<$t>;
            fn $method(self, a: ChunkedArray<$t>) -> ChunkedArray<$t> {
                self.$method(&a)
            }
        }
    )*};
}

binop!(Add, add, "add", add_, ArithOp::Add);
binop!(Sub, sub, "sub", sub_, ArithOp::Sub);
binop!(Mul, mul, "mul", mul_, ArithOp::Mul);
binop!(
    /// `a / b` elementwise: true division for floats; for **integers NumPy's floor division
    /// `a // b`** (`-7 / 2 == -4`, not Rust's `-3`), division by zero giving 0 and
    /// `MIN / -1` wrapping. See [`Numeric`] for the integer semantics.
    Div, div, "div", div_, ArithOp::Div);
binop!(
    /// `a % b` elementwise as NumPy's `%` (`np.remainder`): the result has the **divisor's
    /// sign** (`-7 % 2 == 1`; for floats `-7.5 % 2.0 == 0.5`, not Rust's `fmod` `-1.5`), so
    /// `a == (a / b) * b + a % b` for integers; integer remainder by zero gives 0, float NaN.
    /// See [`Numeric`] for the integer semantics.
    Rem, rem, "rem", rem_, ArithOp::Rem);

impl<T: Numeric> Neg for &ChunkedArray<T> {
    type Output = ChunkedArray<T>;
    fn neg(self) -> ChunkedArray<T> {
        self.map_named("neg", T::neg_)
    }
}
impl<T: Numeric> Neg for ChunkedArray<T> {
    type Output = ChunkedArray<T>;
    fn neg(self) -> ChunkedArray<T> {
        -&self
    }
}
