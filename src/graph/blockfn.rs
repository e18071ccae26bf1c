//! Block functions: nodes whose every output block is computed by one closure-like object from
//! a few input blocks (slices of non-sources, transposes, reshapes, concatenation,
//! `map_blocks`, `map_overlap`, `blockwise`). One node per operation; the per-block
//! dependencies are asked for during lowering only.

use super::node::NodeRef;
use crate::chunks::{ChunkGrid, Region};
use crate::element::{AnyArray, AnyView, DType};
use crate::error::{Error, Result};
use crate::exec::heap::HeapBytes;
use crate::exec::task::{Kernel, TaskCtx, Value};
use crate::ops::kernels::Leaf;
use std::sync::Arc;

/// How the blocks of an [`super::Op::Blocks`] node are computed.
pub(crate) trait BlockFn: Send + Sync {
    /// A short name for plans (`transpose[1, 0]`, `map_blocks`, ...).
    fn name(&self) -> String;

    /// What identifies the function in a plan hash (issue 11): its name and its concrete type,
    /// which names the closure of a `map_blocks` (stable within one binary, different between
    /// programs).
    #[cfg_attr(not(feature = "zarr"), allow(dead_code))]
    fn identity(&self) -> String {
        format!("{} {}", self.name(), std::any::type_name_of_val(self))
    }

    /// The input blocks output block `idx` needs: `(input number, block index)`, in the order
    /// [`BlockFn::compute`] receives their views.
    fn deps(&self, inputs: &[NodeRef], out: &ChunkGrid, idx: &[usize]) -> Vec<(usize, Vec<usize>)>;

    /// When output block `idx` is exactly an input block (same shape, same values), that
    /// block: lowering then reuses it without a task.
    fn alias(&self, _inputs: &[NodeRef], _idx: &[usize]) -> Option<(usize, Vec<usize>)> {
        None
    }

    /// Working memory of the task of block `idx` beyond its inputs and output.
    fn scratch_bytes(&self, _inputs: &[NodeRef], _out: &ChunkGrid, _idx: &[usize]) -> usize {
        0
    }

    /// Computes output block `idx` (covering `region`, of `shape` and `dtype`) from the views
    /// of its [`BlockFn::deps`] (which cover `dep_regions` of their inputs).
    #[allow(clippy::too_many_arguments)]
    fn compute(
        &self,
        idx: &[usize],
        region: &Region,
        deps: &[AnyView<'_>],
        dep_regions: &[Region],
        shape: &[usize],
        dtype: DType,
    ) -> Result<AnyArray>;

    /// The slice this node applies to its single input, if it is a slice (the optimizer
    /// pushes slices into reads and through elementwise nodes).
    fn as_slice(&self) -> Option<&super::slice::SliceSpec> {
        None
    }
}

/// Runs a [`BlockFn`] for one block.
pub(crate) struct BlockFnKernel {
    pub f: Arc<dyn BlockFn>,
    pub leaves: Vec<Leaf>,
    pub dep_regions: Vec<Region>,
    pub idx: Vec<usize>,
    pub region: Region,
    pub dtype: DType,
}

impl Kernel for BlockFnKernel {
    fn run(&self, ctx: &mut TaskCtx<'_, '_>) -> Result<Option<Value>> {
        let views: Vec<AnyView<'_>> = self.leaves.iter().map(|l| l.view(ctx)).collect();
        let shape = self.region.shape();
        let out = self.f.compute(
            &self.idx,
            &self.region,
            &views,
            &self.dep_regions,
            &shape,
            self.dtype,
        )?;
        if out.shape() != shape.as_slice() || out.dtype() != self.dtype {
            return Err(Error::UserFunction {
                op: "block function",
                detail: format!(
                    "{} returned a {} block of shape {:?} for block {:?} (region {}); expected {} {:?}",
                    self.f.name(),
                    out.dtype(),
                    out.shape(),
                    self.idx,
                    self.region,
                    self.dtype,
                    shape
                ),
            });
        }
        Ok(Some(Value::Block(out)))
    }

    fn heap_bytes(&self) -> usize {
        self.leaves.heap_bytes()
            + self.dep_regions.heap_bytes()
            + self.idx.heap_bytes()
            + self.region.heap_bytes()
    }
}

/// A standard-layout owned copy of a view (views may have negative or permuted strides).
pub(crate) fn to_standard(v: &AnyView<'_>) -> AnyArray {
    let mut out = AnyArray::zeros(v.dtype(), v.shape());
    out.view_mut().assign(v);
    out
}
