//! The graph pieces of grouped reductions and grouped binary operations: the grouped
//! reduction node's spec ([`GroupSpec`], lowered in [`super::lower`]) and `take` along an axis
//! ([`TakeFn`]), which broadcasts a group result back to positions.

use super::blockfn::BlockFn;
use super::node::NodeRef;
use crate::chunks::{AxisChunks, ChunkGrid, Region};
use crate::element::{AnyArray, AnyView, DType, Element};
use crate::error::Result;
use crate::ops::group::{Cohort, GroupMethod};
use crate::ops::reduce::Reducer;
use ndarray::{ArrayD, Axis, IxDyn};
use std::marker::PhantomData;
use std::sync::Arc;

/// A grouped reduction along `axis`: the output has the groups along it (sorted label
/// order), one output block per cohort; each cohort's partials over its input blocks are
/// combined `split_every` at a time, then finalized.
pub(crate) struct GroupSpec {
    pub input: NodeRef,
    pub axis: usize,
    /// The group code of every position along the axis.
    pub codes: Arc<[u32]>,
    pub cohorts: Arc<[Cohort]>,
    pub method: GroupMethod,
    pub ngroups: usize,
    pub split_every: usize,
    pub reducer: Arc<dyn Reducer>,
}

impl GroupSpec {
    /// The output grid: the input's chunks, the axis in one block per cohort.
    pub(crate) fn out_grid(&self) -> ChunkGrid {
        let sizes: Vec<usize> = self.cohorts.iter().map(|c| c.groups.len()).collect();
        let mut axes = self.input.grid.axes().to_vec();
        axes[self.axis] = AxisChunks::from_sizes(&sizes);
        ChunkGrid::new(axes)
    }

    /// The same reduction of another input (same shape and chunks).
    pub(crate) fn with_input(&self, input: NodeRef) -> GroupSpec {
        GroupSpec {
            input,
            axis: self.axis,
            codes: self.codes.clone(),
            cohorts: self.cohorts.clone(),
            method: self.method,
            ngroups: self.ngroups,
            split_every: self.split_every,
            reducer: self.reducer.clone(),
        }
    }

    /// The plan's name of the node: reduction, axis, strategy and its shape.
    pub(crate) fn describe(&self) -> String {
        let reads: usize = self.cohorts.iter().map(|c| c.blocks.len()).sum();
        format!(
            "groupby[{} axis={} {}: {} groups in {} output blocks, {} block reads of {}]",
            self.reducer.name(),
            self.axis,
            self.method,
            self.ngroups,
            self.cohorts.len(),
            reads,
            self.input.grid.axis(self.axis).nblocks()
        )
    }
}

/// `take` along `axis` (NumPy's `np.take(a, indices, axis)`): output position `j` along the
/// axis is input position `indices[j]`. Each output block reads only the input blocks that
/// hold its positions.
pub(crate) struct TakeFn<T> {
    pub axis: usize,
    pub indices: Arc<[usize]>,
    pub _t: PhantomData<fn() -> T>,
}

impl<T: Element> BlockFn for TakeFn<T> {
    fn name(&self) -> String {
        format!("take[axis {}, {} indices]", self.axis, self.indices.len())
    }

    fn deps(&self, inputs: &[NodeRef], out: &ChunkGrid, idx: &[usize]) -> Vec<(usize, Vec<usize>)> {
        let chunks = inputs[0].grid.axis(self.axis);
        let mut blocks: Vec<usize> = out
            .axis(self.axis)
            .range(idx[self.axis])
            .map(|j| chunks.block_of(self.indices[j]))
            .collect();
        blocks.sort_unstable();
        blocks.dedup();
        blocks
            .into_iter()
            .map(|b| {
                let mut i = idx.to_vec();
                i[self.axis] = b;
                (0, i)
            })
            .collect()
    }

    fn compute(
        &self,
        _idx: &[usize],
        region: &Region,
        deps: &[AnyView<'_>],
        dep_regions: &[Region],
        shape: &[usize],
        _dtype: DType,
    ) -> Result<AnyArray> {
        let ax = self.axis;
        let views: Vec<_> = deps
            .iter()
            .map(|d| T::view_ref(d).expect("internal: take input of another type"))
            .collect();
        let mut out = ArrayD::<T>::default(IxDyn(shape));
        for (k, j) in region.ranges()[ax].clone().enumerate() {
            let i = self.indices[j];
            let d = dep_regions
                .iter()
                .position(|r| r.ranges()[ax].contains(&i))
                .expect("internal: take without the block of an index");
            let local = i - dep_regions[d].ranges()[ax].start;
            out.index_axis_mut(Axis(ax), k)
                .assign(&views[d].index_axis(Axis(ax), local));
        }
        Ok(T::wrap(out))
    }
}
