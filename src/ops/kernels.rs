//! Block kernels: what the tasks of sources, elementwise nodes and rechunks run.

use crate::chunks::Region;
use crate::element::{AnyArray, AnyView, DType};
use crate::error::{Error, Result};
use crate::exec::heap::HeapBytes;
use crate::exec::task::{Kernel, TaskCtx, Value};
use crate::io::BlockSource;
use crate::ops::fused::Program;
use std::sync::Arc;

/// Where a kernel finds one of its input blocks.
#[derive(Clone)]
pub(crate) enum Leaf {
    /// The value of the task's dependency number `k`.
    Dep(usize),
    /// A region of an in-memory source, read in place.
    Memory(Arc<dyn BlockSource>, Region),
}

impl HeapBytes for Leaf {
    fn heap_bytes(&self) -> usize {
        match self {
            Leaf::Dep(_) => 0,
            Leaf::Memory(_, region) => region.heap_bytes(),
        }
    }
}

impl Leaf {
    pub(crate) fn view<'a>(&'a self, ctx: &'a TaskCtx<'_, '_>) -> AnyView<'a> {
        match self {
            Leaf::Dep(k) => ctx.dep_view(*k),
            Leaf::Memory(src, region) => src
                .as_memory()
                .expect("internal: memory leaf of a non-memory source")
                .view()
                .slice_region(region.ranges()),
        }
    }
}

/// Reads a region of a source.
pub(crate) struct ReadKernel {
    pub src: Arc<dyn BlockSource>,
    pub region: Region,
}

impl Kernel for ReadKernel {
    fn run(&self, _ctx: &mut TaskCtx<'_, '_>) -> Result<Option<Value>> {
        let block = self.src.read(&self.region)?;
        let want = self.region.shape();
        if block.shape() != want.as_slice() || block.dtype() != self.src.dtype() {
            return Err(Error::UserFunction {
                op: "read",
                detail: format!(
                    "{} returned a {} block of shape {:?} for region {} (expected {} {:?})",
                    self.src.describe(),
                    block.dtype(),
                    block.shape(),
                    self.region,
                    self.src.dtype(),
                    want
                ),
            });
        }
        Ok(Some(Value::Block(block)))
    }

    fn heap_bytes(&self) -> usize {
        self.region.heap_bytes()
    }
}

/// Evaluates a fused elementwise program over leaf blocks.
pub(crate) struct EvalKernel {
    pub program: Arc<Program>,
    pub leaves: Vec<Leaf>,
    pub shape: Vec<usize>,
    pub dtype: DType,
}

impl EvalKernel {
    /// Evaluates into a fresh block.
    pub(crate) fn eval_block(&self, ctx: &TaskCtx<'_, '_>) -> AnyArray {
        let views: Vec<AnyView<'_>> = self.leaves.iter().map(|l| l.view(ctx)).collect();
        let mut out = AnyArray::zeros(self.dtype, &self.shape);
        self.program.eval_into(&views, &mut out.view_mut());
        out
    }
}

impl Kernel for EvalKernel {
    fn run(&self, ctx: &mut TaskCtx<'_, '_>) -> Result<Option<Value>> {
        if let Some(mut out) = ctx.out.take() {
            let views: Vec<AnyView<'_>> = self.leaves.iter().map(|l| l.view(ctx)).collect();
            self.program.eval_into(&views, &mut out);
            return Ok(None);
        }
        Ok(Some(Value::Block(self.eval_block(ctx))))
    }

    fn heap_bytes(&self) -> usize {
        self.leaves.heap_bytes() + self.shape.heap_bytes()
    }
}

/// Assembles a block from pieces of other blocks (rechunk, copies).
pub(crate) struct GatherKernel {
    /// `(source, region of the source block, region of the output block)`.
    pub pieces: Vec<(Leaf, Region, Region)>,
    pub shape: Vec<usize>,
    pub dtype: DType,
}

impl GatherKernel {
    fn fill(&self, ctx: &TaskCtx<'_, '_>, out: &mut crate::element::AnyViewMut<'_>) {
        for (leaf, src, dst) in &self.pieces {
            let v = leaf.view(ctx).slice_region(src.ranges());
            slice_mut(out, dst).assign(&v);
        }
    }
}

impl Kernel for GatherKernel {
    fn run(&self, ctx: &mut TaskCtx<'_, '_>) -> Result<Option<Value>> {
        if let Some(mut out) = ctx.out.take() {
            self.fill(ctx, &mut out);
            return Ok(None);
        }
        let mut block = AnyArray::zeros(self.dtype, &self.shape);
        self.fill(ctx, &mut block.view_mut());
        Ok(Some(Value::Block(block)))
    }

    fn heap_bytes(&self) -> usize {
        self.pieces.heap_bytes() + self.shape.heap_bytes()
    }
}

fn slice_mut<'b>(
    v: &'b mut crate::element::AnyViewMut<'_>,
    region: &Region,
) -> crate::element::AnyViewMut<'b> {
    crate::dispatch!(AnyViewMut, v, v => {
        let mut s = v.view_mut();
        for (ax, r) in region.ranges().iter().enumerate() {
            s.slice_axis_inplace(ndarray::Axis(ax), ndarray::Slice::from(r.start as isize..r.end as isize));
        }
        <T as crate::element::ElementSealed>::wrap_view_mut(s)
    })
}
