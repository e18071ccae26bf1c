//! Basic slicing (`s![]`): the normalized slice, the grid of a sliced array, reads of sliced
//! regions of a source, and the block function that slices blocks of anything else.
//!
//! Output chunks are the input chunk boundaries intersected with the slice, so every output
//! block lies inside one input block.

use super::blockfn::{BlockFn, to_standard};
use super::node::NodeRef;
use crate::chunks::for_each_index;
use crate::chunks::{AxisChunks, ChunkGrid, Region};
use crate::element::{AnyArray, AnyView, DType};
use crate::error::{Error, Result};
use crate::io::{BlockSource, IoLane};
use ndarray::{Slice, SliceInfoElem};
use std::fmt;
use std::sync::Arc;

/// One element of a normalized slice.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum SliceAxis {
    /// Output index `j` (`0 <= j < len`) reads input index `start + j * step`.
    Range {
        start: usize,
        len: usize,
        step: isize,
    },
    /// Input index `i`; the axis is dropped.
    Index(usize),
    /// A new axis of length 1.
    NewAxis,
}

/// A slice resolved against an input shape: one element per output axis or dropped input axis.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SliceSpec {
    pub elems: Vec<SliceAxis>,
}

impl fmt::Display for SliceSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        for (k, e) in self.elems.iter().enumerate() {
            if k > 0 {
                f.write_str(", ")?;
            }
            match e {
                SliceAxis::Range { start, len, step } => {
                    write!(f, "{start}+{step}*(0..{len})")?;
                }
                SliceAxis::Index(i) => write!(f, "{i}")?,
                SliceAxis::NewAxis => f.write_str("newaxis")?,
            }
        }
        f.write_str("]")
    }
}

impl SliceSpec {
    /// Resolves ndarray slice elements against `shape` with ndarray's rules (negative
    /// positions count from the end; a negative step reverses the range before stepping).
    pub(crate) fn resolve(
        op: &'static str,
        shape: &[usize],
        info: &[SliceInfoElem],
    ) -> Result<Self> {
        let consumed = info
            .iter()
            .filter(|e| !matches!(e, SliceInfoElem::NewAxis))
            .count();
        if consumed != shape.len() {
            return Err(Error::Axis {
                op,
                detail: format!(
                    "the slice indexes {consumed} axes but the array shape {shape:?} has {}",
                    shape.len()
                ),
            });
        }
        let mut elems = Vec::with_capacity(info.len());
        let mut ax = 0;
        for e in info {
            match *e {
                SliceInfoElem::NewAxis => elems.push(SliceAxis::NewAxis),
                SliceInfoElem::Index(i) => {
                    let len = shape[ax];
                    let pos = if i < 0 { i + len as isize } else { i };
                    if pos < 0 || pos >= len as isize {
                        return Err(Error::InvalidArgument {
                            op,
                            detail: format!(
                                "index {i} is out of range for axis {ax} of length {len} (shape {shape:?})"
                            ),
                        });
                    }
                    elems.push(SliceAxis::Index(pos as usize));
                    ax += 1;
                }
                SliceInfoElem::Slice { start, end, step } => {
                    let len = shape[ax] as isize;
                    if step == 0 {
                        return Err(Error::InvalidArgument {
                            op,
                            detail: format!("step 0 on axis {ax} (shape {shape:?})"),
                        });
                    }
                    let abs = |p: isize, what: &str| -> Result<isize> {
                        let q = if p < 0 { p + len } else { p };
                        if q < 0 || q > len {
                            Err(Error::InvalidArgument {
                                op,
                                detail: format!(
                                    "slice {what} {p} is out of range for axis {ax} of length {len} (shape {shape:?})"
                                ),
                            })
                        } else {
                            Ok(q)
                        }
                    };
                    let s = abs(start, "start")?;
                    let e = match end {
                        Some(e) => abs(e, "end")?,
                        None => len,
                    }
                    .max(s);
                    let m = (e - s) as usize;
                    let a = step.unsigned_abs();
                    let n = m.div_ceil(a);
                    let first = if m == 0 || step > 0 {
                        s as usize
                    } else {
                        (e - 1) as usize
                    };
                    elems.push(SliceAxis::Range {
                        start: first,
                        len: n,
                        step,
                    });
                    ax += 1;
                }
            }
        }
        Ok(SliceSpec { elems })
    }

    /// Whether the slice returns its input unchanged.
    pub(crate) fn is_identity(&self, shape: &[usize]) -> bool {
        self.elems.len() == shape.len()
            && self.elems.iter().zip(shape).all(
                |(e, &l)| matches!(e, SliceAxis::Range { start: 0, len, step: 1 } if *len == l),
            )
    }

    /// The output shape.
    pub(crate) fn out_shape(&self) -> Vec<usize> {
        self.elems
            .iter()
            .filter_map(|e| match e {
                SliceAxis::Range { len, .. } => Some(*len),
                SliceAxis::Index(_) => None,
                SliceAxis::NewAxis => Some(1),
            })
            .collect()
    }

    /// The output grid: the input's chunk boundaries intersected with the slice.
    pub(crate) fn out_grid(&self, input: &ChunkGrid) -> ChunkGrid {
        let mut axes = Vec::new();
        let mut ax = 0;
        for e in &self.elems {
            match *e {
                SliceAxis::NewAxis => axes.push(AxisChunks::regular(1, 1)),
                SliceAxis::Index(_) => ax += 1,
                SliceAxis::Range { start, len, step } => {
                    axes.push(range_chunks(input.axis(ax), start, len, step));
                    ax += 1;
                }
            }
        }
        ChunkGrid::new(axes)
    }

    /// The input region that covers output `region`, and the ndarray slice that takes the
    /// output from a block of exactly that region.
    pub(crate) fn input_region(&self, region: &Region) -> (Region, Vec<SliceInfoElem>) {
        let mut cover = Vec::new();
        let mut rel = Vec::with_capacity(self.elems.len());
        let mut oax = 0;
        // An empty output region (a slice that empties an axis, a new one included) covers no
        // input element: an empty region on every axis, so no block is read or needed.
        let empty = region.0.iter().any(|r| r.start >= r.end);
        for e in &self.elems {
            if empty {
                match *e {
                    SliceAxis::NewAxis => {}
                    SliceAxis::Index(i) => cover.push(i..i),
                    SliceAxis::Range { start, .. } => cover.push(start..start),
                }
                continue;
            }
            match *e {
                SliceAxis::NewAxis => {
                    rel.push(SliceInfoElem::NewAxis);
                    oax += 1;
                }
                SliceAxis::Index(i) => {
                    cover.push(i..i + 1);
                    rel.push(SliceInfoElem::Index(0));
                }
                SliceAxis::Range { start, step, .. } => {
                    let r = &region.0[oax];
                    oax += 1;
                    if r.start >= r.end {
                        cover.push(start..start);
                        rel.push(Slice::new(0, None, 1).into());
                        continue;
                    }
                    let at = |j: usize| (start as isize + j as isize * step) as usize;
                    let (a, b) = (at(r.start), at(r.end - 1));
                    cover.push(a.min(b)..a.max(b) + 1);
                    rel.push(Slice::new(0, None, step).into());
                }
            }
        }
        (Region(cover), rel)
    }

    /// Whether reading the covering region and reshaping gives the output without a copy
    /// (unit steps only).
    pub(crate) fn is_contiguous(&self) -> bool {
        self.elems
            .iter()
            .all(|e| !matches!(e, SliceAxis::Range { step, len, .. } if *step != 1 && *len > 1))
    }

    /// The slice for an input of shape `in_shape` broadcast against an array of shape
    /// `full_shape` (which this slice was resolved for): the elements of the input's trailing
    /// axes, with broadcast (length-1) axes kept whole. The result broadcasts against this
    /// slice's output the way the input broadcast against the unsliced array.
    pub(crate) fn for_broadcast_input(
        &self,
        in_shape: &[usize],
        full_shape: &[usize],
    ) -> SliceSpec {
        let off = full_shape.len() - in_shape.len();
        let mut elems = Vec::new();
        let mut ax = 0;
        for e in &self.elems {
            let consumes = !matches!(e, SliceAxis::NewAxis);
            if ax < off {
                if consumes {
                    ax += 1;
                }
                continue;
            }
            let e = if consumes && in_shape[ax - off] != full_shape[ax] {
                match e {
                    SliceAxis::Index(_) => SliceAxis::Index(0),
                    _ => SliceAxis::Range {
                        start: 0,
                        len: 1,
                        step: 1,
                    },
                }
            } else {
                e.clone()
            };
            elems.push(e);
            if consumes {
                ax += 1;
            }
        }
        // Leading new axes (before the input's first axis) are left to broadcasting.
        if in_shape.is_empty() {
            elems.clear();
        }
        SliceSpec { elems }
    }
}

/// Chunks along one sliced axis: consecutive output indices grouped by input block.
fn range_chunks(axis: &AxisChunks, start: usize, len: usize, step: isize) -> AxisChunks {
    let mut sizes = Vec::new();
    let mut j = 0usize;
    while j < len {
        let i = (start as isize + j as isize * step) as usize;
        let b = axis.range(axis.block_of(i));
        let end = if step > 0 {
            // First j with start + j*step >= b.end.
            (b.end - start).div_ceil(step as usize)
        } else {
            // First j with start - j*|step| < b.start.
            (start - b.start) / step.unsigned_abs() + 1
        };
        let end = end.min(len);
        sizes.push(end - j);
        j = end;
    }
    AxisChunks::from_sizes(&sizes)
}

/// Slices a standard-layout owned block; the result has standard layout.
pub(crate) fn slice_block(
    block: AnyArray,
    rel: &[SliceInfoElem],
    contiguous: bool,
    out_shape: &[usize],
) -> AnyArray {
    // Reads of in-memory sources keep their layout; the reshape below needs C order.
    let block = if crate::dispatch!(AnyArray, &block, a => a.is_standard_layout()) {
        block
    } else {
        to_standard(&block.view())
    };
    if contiguous {
        // Unit steps over the covering region: the block already holds the output's elements
        // in order; only length-1 axes are added or dropped.
        return crate::dispatch!(AnyArray, block, a => {
            let a = a.into_shape_with_order(out_shape.to_vec()).expect("internal: contiguous slice reshape");
            <T as crate::element::ElementSealed>::wrap(a)
        });
    }
    to_standard(&slice_view(&block.view(), rel))
}

/// A strided view of a view.
pub(crate) fn slice_view<'a>(v: &AnyView<'a>, rel: &[SliceInfoElem]) -> AnyView<'a> {
    crate::dispatch!(AnyView, v, a => {
        let info = ndarray::SliceInfo::<Vec<SliceInfoElem>, ndarray::IxDyn, ndarray::IxDyn>::try_from(rel.to_vec())
            .expect("internal: slice info");
        <T as crate::element::ElementSealed>::wrap_view(a.clone().slice_move(info))
    })
}

/// A source read through a slice: regions of the slice's output become reads of the covering
/// input regions (unit steps need no copy; other steps copy the covering region with the step).
#[derive(Debug)]
pub(crate) struct SlicedSource {
    inner: Arc<dyn BlockSource>,
    spec: SliceSpec,
    shape: Vec<usize>,
}

impl SlicedSource {
    pub(crate) fn new(inner: Arc<dyn BlockSource>, spec: SliceSpec) -> Self {
        let shape = spec.out_shape();
        SlicedSource { inner, spec, shape }
    }
}

impl BlockSource for SlicedSource {
    fn dtype(&self) -> DType {
        self.inner.dtype()
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn read(&self, region: &Region) -> Result<AnyArray> {
        if region.is_empty() {
            return Ok(AnyArray::zeros(self.inner.dtype(), &region.shape()));
        }
        let (cover, rel) = self.spec.input_region(region);
        let block = self.inner.read(&cover)?;
        if block.shape() != cover.shape().as_slice() || block.dtype() != self.inner.dtype() {
            return Err(Error::UserFunction {
                op: "read",
                detail: format!(
                    "{} returned a {} block of shape {:?} for region {} (expected {} {:?})",
                    self.inner.describe(),
                    block.dtype(),
                    block.shape(),
                    cover,
                    self.inner.dtype(),
                    cover.shape()
                ),
            });
        }
        Ok(slice_block(
            block,
            &rel,
            self.spec.is_contiguous(),
            &region.shape(),
        ))
    }
    fn read_scratch_bytes(&self, region: &Region) -> usize {
        let (cover, _) = self.spec.input_region(region);
        let copy = if self.spec.is_contiguous() {
            0
        } else {
            cover.len() * self.inner.dtype().size()
        };
        self.inner.read_scratch_bytes(&cover) + copy
    }
    fn is_rematerializable(&self) -> bool {
        self.inner.is_rematerializable()
    }
    fn io_lane(&self) -> IoLane {
        self.inner.io_lane()
    }
    fn describe(&self) -> String {
        format!("{}{}", self.inner.describe(), self.spec)
    }
    fn location(&self) -> Option<crate::io::guard::StoredLocation> {
        self.inner.location()
    }
}

/// Slices blocks of a computed input: each output block is a strided piece of the input
/// blocks that cover it (one block, by construction of the output grid).
pub(crate) struct SliceFn {
    pub spec: SliceSpec,
}

impl BlockFn for SliceFn {
    fn name(&self) -> String {
        format!("slice{}", self.spec)
    }

    fn deps(&self, inputs: &[NodeRef], out: &ChunkGrid, idx: &[usize]) -> Vec<(usize, Vec<usize>)> {
        let (cover, _) = self.spec.input_region(&out.block_region(idx));
        let mut v = Vec::new();
        for_each_index(&inputs[0].grid.blocks_overlapping(&cover), |b| {
            v.push((0, b.to_vec()));
        });
        v
    }

    fn scratch_bytes(&self, inputs: &[NodeRef], out: &ChunkGrid, idx: &[usize]) -> usize {
        let (cover, _) = self.spec.input_region(&out.block_region(idx));
        if inputs[0]
            .grid
            .blocks_overlapping(&cover)
            .iter()
            .all(|r| r.len() <= 1)
        {
            0
        } else {
            cover.len() * inputs[0].dtype.size()
        }
    }

    fn compute(
        &self,
        idx: &[usize],
        region: &Region,
        deps: &[AnyView<'_>],
        dep_regions: &[Region],
        shape: &[usize],
        dtype: DType,
    ) -> Result<AnyArray> {
        let (cover, rel) = self.spec.input_region(region);
        if deps.is_empty() || region.is_empty() {
            return Ok(AnyArray::zeros(dtype, shape));
        }
        if deps.len() == 1 {
            // The covering region lies inside one block: slice it relative to the block.
            let v = &deps[0];
            let local = cover.relative_to(&dep_regions[0]);
            return Ok(to_standard(&slice_view(
                &v.slice_region(local.ranges()),
                &rel,
            )));
        }
        Err(Error::internal(
            "slice",
            format!("output block {idx:?} spans {} input blocks", deps.len()),
        ))
    }

    fn as_slice(&self) -> Option<&SliceSpec> {
        Some(&self.spec)
    }
}
