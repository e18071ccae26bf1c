//! Arithmetic with a scalar (`x * 2.0`, `x - mean`) as tile functions that know what they
//! compute, so that two in a row run as one loop.
//!
//! The fused kernel ([`crate::ops::fused`]) makes one pass over a cache-resident register per
//! operation. A closure hides what it computes, so `(x * 2.0 + 1.0)` costs two passes;
//! a [`ScalarStep`] exposes its operation and scalar, and [`TileFn::then`] composes two steps
//! into a [`ScalarPair`]: one pass, `(x * a) + b` in the same order and with the same
//! rounding as the two steps (no FMA, no reassociation), so results are unchanged.

use super::expr::TileFn;
use crate::element::{AnySlice, AnySliceMut, DType, Numeric};
use std::any::Any;
use std::sync::Arc;

/// An arithmetic operation with a scalar right-hand side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ArithOp {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

impl ArithOp {
    fn name(self) -> &'static str {
        match self {
            ArithOp::Add => "add",
            ArithOp::Sub => "sub",
            ArithOp::Mul => "mul",
            ArithOp::Div => "div",
            ArithOp::Rem => "rem",
        }
    }
}

/// `x op scalar`, elementwise.
pub(crate) struct ScalarStep<T> {
    op: ArithOp,
    scalar: T,
    name: String,
}

/// `(x op1 a) op2 b`, elementwise, in one pass.
pub(crate) struct ScalarPair<T> {
    first: (ArithOp, T),
    second: (ArithOp, T),
    name: String,
}

/// The tile function of `x op scalar`.
pub(crate) fn scalar_step<T: Numeric>(op: ArithOp, scalar: T) -> Arc<dyn TileFn> {
    Arc::new(ScalarStep {
        op,
        scalar,
        name: format!("{}({scalar:?})", op.name()),
    })
}

impl<T: Numeric> TileFn for ScalarStep<T> {
    fn name(&self) -> &str {
        &self.name
    }
    fn out_dtype(&self) -> DType {
        T::DTYPE
    }
    fn call(&self, args: &[AnySlice<'_>], out: AnySliceMut<'_>) {
        let o = T::slice_mut(out);
        let a = &T::slice_ref(args[0])[..o.len()];
        let s = self.scalar;
        // One loop per operation, so each vectorizes.
        macro_rules! run {
            ($op:ident) => {
                for (o, &x) in o.iter_mut().zip(a) {
                    *o = x.$op(s);
                }
            };
        }
        match self.op {
            ArithOp::Add => run!(add_),
            ArithOp::Sub => run!(sub_),
            ArithOp::Mul => run!(mul_),
            ArithOp::Div => run!(div_),
            ArithOp::Rem => run!(rem_),
        }
    }
    fn as_any(&self) -> Option<&dyn Any> {
        Some(self)
    }
    fn then(&self, next: &dyn TileFn) -> Option<Arc<dyn TileFn>> {
        let next = next.as_any()?.downcast_ref::<ScalarStep<T>>()?;
        if self.op == ArithOp::Rem || next.op == ArithOp::Rem {
            return None;
        }
        Some(Arc::new(ScalarPair {
            first: (self.op, self.scalar),
            second: (next.op, next.scalar),
            name: format!("{}∘{}", next.name, self.name),
        }))
    }
}

impl<T: Numeric> TileFn for ScalarPair<T> {
    fn name(&self) -> &str {
        &self.name
    }
    fn out_dtype(&self) -> DType {
        T::DTYPE
    }
    fn call(&self, args: &[AnySlice<'_>], out: AnySliceMut<'_>) {
        let o = T::slice_mut(out);
        let x = &T::slice_ref(args[0])[..o.len()];
        let ((op1, a), (op2, b)) = (self.first, self.second);
        // Each combination gets its own loop, so both operations are known inside it.
        macro_rules! run {
            ($f:ident, $g:ident) => {
                for (o, &x) in o.iter_mut().zip(x) {
                    *o = x.$f(a).$g(b);
                }
            };
        }
        macro_rules! second {
            ($f:ident) => {
                match op2 {
                    ArithOp::Add => run!($f, add_),
                    ArithOp::Sub => run!($f, sub_),
                    ArithOp::Mul => run!($f, mul_),
                    ArithOp::Div => run!($f, div_),
                    ArithOp::Rem => run!($f, rem_),
                }
            };
        }
        match op1 {
            ArithOp::Add => second!(add_),
            ArithOp::Sub => second!(sub_),
            ArithOp::Mul => second!(mul_),
            ArithOp::Div => second!(div_),
            ArithOp::Rem => second!(rem_),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::element::ElementSealed;

    fn eval(f: &dyn TileFn, xs: &[f64]) -> Vec<f64> {
        let mut out = vec![0.0; xs.len()];
        f.call(&[f64::wrap_slice(xs)], f64::wrap_slice_mut(&mut out));
        out
    }

    #[test]
    fn pairs_equal_their_steps_bit_for_bit() {
        let xs: Vec<f64> = (0..37).map(|k| (k as f64 - 18.0) * 0.37).collect();
        let ops = [ArithOp::Add, ArithOp::Sub, ArithOp::Mul, ArithOp::Div];
        for &op1 in &ops {
            for &op2 in &ops {
                let (f, g) = (scalar_step(op1, 2.5f64), scalar_step(op2, -0.3f64));
                let pair = f.then(g.as_ref()).expect("composes");
                let want = eval(g.as_ref(), &eval(f.as_ref(), &xs));
                let got = eval(pair.as_ref(), &xs);
                assert_eq!(
                    got.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                    want.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                    "{op1:?} then {op2:?}"
                );
            }
        }
    }

    #[test]
    fn remainders_and_other_types_do_not_compose() {
        let f = scalar_step(ArithOp::Rem, 3i32);
        assert!(f.then(scalar_step(ArithOp::Add, 1i32).as_ref()).is_none());
        let g = scalar_step(ArithOp::Add, 1.0f32);
        assert!(g.then(scalar_step(ArithOp::Add, 1.0f64).as_ref()).is_none());
        assert!(
            g.then(crate::ops::expr::map1("neg", |x: f32| -x).as_ref())
                .is_none()
        );
    }
}
