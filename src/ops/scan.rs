//! Scans along an axis (`cumsum`, `cumprod`, `nancumsum`).
//!
//! Blocks along the scanned axis form a chain: block `k` scans its own values and adds the last
//! slice of block `k - 1`'s result (the inclusive total of everything before it). Each input
//! block is read once and at most one finished block per chain is held for its successor;
//! chains along the other axes run in parallel. (dask computes block totals first, then an
//! exclusive scan, then the blocks again: more parallel along the axis, but every input block
//! is read twice or held.)

use crate::element::{AnyArray, AnyView, DType, ElementSealed, Numeric, NumericSealed};
use crate::error::Result;
use crate::exec::heap::HeapBytes;
use crate::exec::task::{Kernel, TaskCtx, Value};
use crate::ops::fused::Program;
use crate::ops::kernels::Leaf;
use ndarray::{ArrayD, Axis, Zip};
use std::marker::PhantomData;
use std::sync::Arc;

/// Which scan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ScanKind {
    Sum,
    Prod,
    NanSum,
}

/// A typed scan (type-erased for the kernel).
pub(crate) trait ScanOp: Send + Sync {
    fn name(&self) -> &'static str;
    /// The scan of `block` along `axis`, continuing from `prev` (the previous block's result).
    fn scan(&self, block: &AnyView<'_>, axis: usize, prev: Option<&AnyArray>) -> AnyArray;
}

pub(crate) struct TypedScan<T> {
    pub kind: ScanKind,
    pub _t: PhantomData<fn(T)>,
}

impl<T: Numeric> ScanOp for TypedScan<T> {
    fn name(&self) -> &'static str {
        match self.kind {
            ScanKind::Sum => "cumsum",
            ScanKind::Prod => "cumprod",
            ScanKind::NanSum => "nancumsum",
        }
    }
    fn scan(&self, block: &AnyView<'_>, axis: usize, prev: Option<&AnyArray>) -> AnyArray {
        let v = T::view_ref(block).expect("internal: scan input of another type");
        let kind = self.kind;
        let mut out: ArrayD<T::Sum> = v.mapv(|x| {
            if kind == ScanKind::NanSum && x.is_nan_() {
                <T::Sum as num_traits::Zero>::zero()
            } else {
                T::acc_to_sum(x.to_acc())
            }
        });
        let op = move |a: T::Sum, b: T::Sum| {
            if kind == ScanKind::Prod {
                a.mul_(b)
            } else {
                a.add_(b)
            }
        };
        if out.len_of(Axis(axis)) == 0 {
            return T::Sum::wrap(out);
        }
        if let Some(p) = prev.and_then(|p| <T::Sum as ElementSealed>::array_ref(p)) {
            let n = p.len_of(Axis(axis));
            if n > 0 {
                let last = p.index_axis(Axis(axis), n - 1);
                Zip::from(out.index_axis_mut(Axis(axis), 0))
                    .and(&last)
                    .for_each(|o, &q| *o = op(q, *o));
            }
        }
        out.accumulate_axis_inplace(Axis(axis), |&a, b| *b = op(a, *b));
        T::Sum::wrap(out)
    }
}

/// Scans one block (evaluating a fused input in place), continuing from the previous block.
pub(crate) struct ScanKernel {
    pub program: Arc<Program>,
    pub leaves: Vec<Leaf>,
    pub block_shape: Vec<usize>,
    pub in_dtype: DType,
    pub axis: usize,
    pub op: Arc<dyn ScanOp>,
    /// Index of the previous block's task among the dependencies.
    pub prev: Option<usize>,
}

impl Kernel for ScanKernel {
    fn run(&self, ctx: &mut TaskCtx<'_, '_>) -> Result<Option<Value>> {
        let views: Vec<AnyView<'_>> = self.leaves.iter().map(|l| l.view(ctx)).collect();
        let prev = self.prev.map(|k| ctx.deps[k].block());
        let identity = self.program.is_identity_over(&views, &self.block_shape);
        let out = if identity {
            self.op.scan(&views[0], self.axis, prev)
        } else {
            let mut block = AnyArray::zeros(self.in_dtype, &self.block_shape);
            self.program.eval_into(&views, &mut block.view_mut());
            self.op.scan(&block.view(), self.axis, prev)
        };
        Ok(Some(Value::Block(out)))
    }

    fn heap_bytes(&self) -> usize {
        self.leaves.heap_bytes() + self.block_shape.heap_bytes()
    }
}
