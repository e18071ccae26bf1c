//! Block functions of the structural operations: transpose, concatenation and reshape.

use super::blockfn::{BlockFn, to_standard};
use super::node::NodeRef;
use crate::chunks::{ChunkGrid, Region};
use crate::element::{AnyArray, AnyView, DType};
use crate::error::Result;

/// Output axis `k` is input axis `perm[k]`; each output block is the transposed input block.
pub(crate) struct PermuteFn {
    pub perm: Vec<usize>,
}

impl BlockFn for PermuteFn {
    fn name(&self) -> String {
        format!("transpose{:?}", self.perm)
    }
    fn deps(
        &self,
        _inputs: &[NodeRef],
        _out: &ChunkGrid,
        idx: &[usize],
    ) -> Vec<(usize, Vec<usize>)> {
        let mut b = vec![0; idx.len()];
        for (k, &p) in self.perm.iter().enumerate() {
            b[p] = idx[k];
        }
        vec![(0, b)]
    }
    fn compute(
        &self,
        _idx: &[usize],
        _region: &Region,
        deps: &[AnyView<'_>],
        _dep_regions: &[Region],
        _shape: &[usize],
        _dtype: DType,
    ) -> Result<AnyArray> {
        let v = crate::dispatch!(AnyView, &deps[0], a => {
            <T as crate::element::ElementSealed>::wrap_view(a.clone().permuted_axes(self.perm.clone()))
        });
        Ok(to_standard(&v))
    }
}

/// Concatenation along `axis`: each output block is a block of one input (no copy).
pub(crate) struct ConcatFn {
    pub axis: usize,
    /// The first output block (along `axis`) of each input, plus the total.
    pub block_offsets: Vec<usize>,
}

impl BlockFn for ConcatFn {
    fn name(&self) -> String {
        format!("concatenate[axis {}]", self.axis)
    }
    fn alias(&self, _inputs: &[NodeRef], idx: &[usize]) -> Option<(usize, Vec<usize>)> {
        let b = idx[self.axis];
        let k = self.block_offsets.partition_point(|&o| o <= b) - 1;
        let mut i = idx.to_vec();
        i[self.axis] = b - self.block_offsets[k];
        Some((k, i))
    }
    fn deps(
        &self,
        inputs: &[NodeRef],
        _out: &ChunkGrid,
        idx: &[usize],
    ) -> Vec<(usize, Vec<usize>)> {
        vec![self.alias(inputs, idx).expect("concat alias")]
    }
    fn compute(
        &self,
        _idx: &[usize],
        _region: &Region,
        deps: &[AnyView<'_>],
        _dep_regions: &[Region],
        _shape: &[usize],
        _dtype: DType,
    ) -> Result<AnyArray> {
        Ok(to_standard(&deps[0]))
    }
}

/// A C-order reshape whose input grid maps block to block: output block `idx` is input block
/// `in_index(idx)` with its elements (in C order) reshaped.
pub(crate) struct ReshapeFn {
    /// For each output axis that leads a group: `(output axis, input axis)`.
    pub lead: Vec<(usize, usize)>,
    pub in_ndim: usize,
    pub shape: Vec<usize>,
}

impl BlockFn for ReshapeFn {
    fn name(&self) -> String {
        format!("reshape{:?}", self.shape)
    }
    fn deps(
        &self,
        _inputs: &[NodeRef],
        _out: &ChunkGrid,
        idx: &[usize],
    ) -> Vec<(usize, Vec<usize>)> {
        let mut b = vec![0; self.in_ndim];
        for &(o, i) in &self.lead {
            b[i] = idx[o];
        }
        vec![(0, b)]
    }
    fn compute(
        &self,
        _idx: &[usize],
        _region: &Region,
        deps: &[AnyView<'_>],
        _dep_regions: &[Region],
        shape: &[usize],
        _dtype: DType,
    ) -> Result<AnyArray> {
        let owned = to_standard(&deps[0]);
        Ok(crate::dispatch!(AnyArray, owned, a => {
            let a = a.into_shape_with_order(shape.to_vec()).expect("internal: block reshape");
            <T as crate::element::ElementSealed>::wrap(a)
        }))
    }
}
