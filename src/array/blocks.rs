//! Block functions: `map_blocks`, `blockwise` and `map_overlap` run user closures on whole
//! blocks (with a halo of neighbouring elements for `map_overlap`).

use super::ChunkedArray;
use crate::chunks::for_each_index;
use crate::chunks::{ChunkGrid, Region};
use crate::element::{AnyArray, AnyView, DType, Element};
use crate::error::{Error, Result};
use crate::graph::blockfn::BlockFn;
use crate::graph::{Node, NodeRef, Op};
use ndarray::{ArrayD, ArrayViewD, IxDyn};
use std::marker::PhantomData;
use std::sync::Arc;

/// Where a block lies: what block closures receive besides the block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockInfo {
    /// The block's multi-index in the chunk grid.
    pub index: Vec<usize>,
    /// The block's region of the input array (without any halo).
    pub region: Region,
}

/// How [`ChunkedArray::map_overlap`] fills the halo beyond the array's edges.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Boundary<T> {
    /// No halo beyond the edges: blocks at the array's edges get a thinner halo there.
    None,
    /// The halo beyond the edges holds this value.
    Constant(T),
    /// Mirrored at the edge, the edge element included (`x[-1] = x[0]`, `x[-2] = x[1]`;
    /// NumPy's `symmetric` pad, dask's `reflect`).
    Reflect,
    /// Wrapped around (`x[-1] = x[len - 1]`).
    Periodic,
    /// The edge element repeated (`x[-k] = x[0]`).
    Nearest,
}

/// A dependency block as the element type `T` a block function of `op` expects; another type
/// is a bug in the plan (an internal error naming `op`).
pub(super) fn typed_block<'a, 'b, T: Element>(
    op: &'static str,
    v: &'b AnyView<'a>,
) -> Result<&'b ArrayViewD<'a, T>> {
    T::view_ref(v).ok_or_else(|| {
        Error::internal(
            op,
            format!("a {} block where {} was expected", v.dtype(), T::DTYPE),
        )
    })
}

fn typed<'a, 'b, T: Element>(v: &'b AnyView<'a>) -> Result<&'b ArrayViewD<'a, T>> {
    typed_block("block function", v)
}

/// `a` in standard layout (blocks of the plan always are).
fn standard<U: Element>(a: ArrayD<U>) -> ArrayD<U> {
    if a.is_standard_layout() {
        a
    } else {
        a.as_standard_layout().into_owned()
    }
}

struct MapBlocksFn<T, U, F> {
    f: F,
    _t: PhantomData<fn(T) -> U>,
}

impl<T: Element, U: Element, F> BlockFn for MapBlocksFn<T, U, F>
where
    F: Fn(ArrayViewD<'_, T>, &BlockInfo) -> ArrayD<U> + Send + Sync,
{
    fn name(&self) -> String {
        format!("map_blocks<{}>", U::DTYPE)
    }
    fn deps(
        &self,
        _inputs: &[NodeRef],
        _out: &ChunkGrid,
        idx: &[usize],
    ) -> Vec<(usize, Vec<usize>)> {
        vec![(0, idx.to_vec())]
    }
    fn compute(
        &self,
        idx: &[usize],
        _region: &Region,
        deps: &[AnyView<'_>],
        dep_regions: &[Region],
        _shape: &[usize],
        _dtype: DType,
    ) -> Result<AnyArray> {
        let info = BlockInfo {
            index: idx.to_vec(),
            region: dep_regions[0].clone(),
        };
        Ok(U::wrap(standard((self.f)(
            typed::<T>(&deps[0])?.clone(),
            &info,
        ))))
    }
}

struct BlockwiseFn<T, U, V, F> {
    f: F,
    _t: PhantomData<fn(T, U) -> V>,
}

impl<T: Element, U: Element, V: Element, F> BlockFn for BlockwiseFn<T, U, V, F>
where
    F: Fn(ArrayViewD<'_, T>, ArrayViewD<'_, U>, &BlockInfo) -> ArrayD<V> + Send + Sync,
{
    fn name(&self) -> String {
        format!("blockwise<{}>", V::DTYPE)
    }
    fn deps(
        &self,
        _inputs: &[NodeRef],
        _out: &ChunkGrid,
        idx: &[usize],
    ) -> Vec<(usize, Vec<usize>)> {
        vec![(0, idx.to_vec()), (1, idx.to_vec())]
    }
    fn compute(
        &self,
        idx: &[usize],
        region: &Region,
        deps: &[AnyView<'_>],
        _dep_regions: &[Region],
        _shape: &[usize],
        _dtype: DType,
    ) -> Result<AnyArray> {
        let info = BlockInfo {
            index: idx.to_vec(),
            region: region.clone(),
        };
        let (a, b) = (typed::<T>(&deps[0])?, typed::<U>(&deps[1])?);
        Ok(V::wrap(standard((self.f)(a.clone(), b.clone(), &info))))
    }
}

/// Per axis: for each position of the haloed block, the global source index or `None`
/// (constant fill).
type AxisMap = Vec<Option<usize>>;

/// A run of haloed positions along one axis: `src` is `(dep block position, offset of the
/// first element, step ±1)`, or `None` for the constant.
struct Run {
    dst: std::ops::Range<usize>,
    src: Option<(usize, usize, isize)>,
}

/// Splits an axis's `(dep block position, offset)` map into runs.
fn axis_runs(locate: &[Option<(usize, usize)>]) -> Vec<Run> {
    let mut runs: Vec<Run> = Vec::new();
    for (p, l) in locate.iter().enumerate() {
        if let Some(last) = runs.last_mut() {
            let extends = match (last.src, l) {
                (None, None) => true,
                (Some((k, off, step)), Some((k2, off2))) if k == *k2 => {
                    let n = last.dst.len() as isize;
                    if n == 1 {
                        let d = *off2 as isize - off as isize;
                        if d == 1 || d == -1 {
                            last.src = Some((k, off, d));
                            true
                        } else {
                            false
                        }
                    } else {
                        off as isize + n * step == *off2 as isize
                    }
                }
                _ => false,
            };
            if extends {
                last.dst.end = p + 1;
                continue;
            }
        }
        runs.push(Run {
            dst: p..p + 1,
            src: l.map(|(k, off)| (k, off, 1)),
        });
    }
    runs
}

struct OverlapFn<T, U, F> {
    depth: Vec<usize>,
    boundary: Boundary<T>,
    shape: Vec<usize>,
    f: F,
    _t: PhantomData<fn(T) -> U>,
}

impl<T: Element, U, F> OverlapFn<T, U, F> {
    /// The haloed block of `region`: per axis, the halo before the block and the index map.
    fn halo(&self, region: &Region) -> Vec<(usize, AxisMap)> {
        region
            .0
            .iter()
            .enumerate()
            .map(|(ax, r)| {
                let (d, len) = (self.depth[ax] as isize, self.shape[ax] as isize);
                let (mut lo, mut hi) = (r.start as isize - d, r.end as isize + d);
                if matches!(self.boundary, Boundary::None) || len == 0 {
                    lo = lo.max(0);
                    hi = hi.min(len);
                }
                let map = (lo..hi)
                    .map(|i| {
                        if (0..len).contains(&i) {
                            return Some(i as usize);
                        }
                        match self.boundary {
                            Boundary::None | Boundary::Constant(_) => None,
                            Boundary::Nearest => Some(i.clamp(0, len - 1) as usize),
                            Boundary::Periodic => Some(i.rem_euclid(len) as usize),
                            Boundary::Reflect => {
                                let m = i.rem_euclid(2 * len);
                                Some(if m < len { m } else { 2 * len - 1 - m } as usize)
                            }
                        }
                    })
                    .collect();
                ((r.start as isize - lo) as usize, map)
            })
            .collect()
    }
}

impl<T: Element, U: Element, F> BlockFn for OverlapFn<T, U, F>
where
    F: Fn(ArrayViewD<'_, T>, &BlockInfo) -> ArrayD<U> + Send + Sync,
{
    fn name(&self) -> String {
        format!("map_overlap[depth {:?}, {:?}]", self.depth, self.boundary)
    }
    fn deps(&self, inputs: &[NodeRef], out: &ChunkGrid, idx: &[usize]) -> Vec<(usize, Vec<usize>)> {
        let grid = &inputs[0].grid;
        let halo = self.halo(&out.block_region(idx));
        // Per axis, the input blocks holding any index of the map (sorted, unique).
        let per_axis: Vec<Vec<usize>> = halo
            .iter()
            .enumerate()
            .map(|(ax, (_, map))| {
                let mut b: Vec<usize> = map
                    .iter()
                    .flatten()
                    .map(|&i| grid.axis(ax).block_of(i))
                    .collect();
                b.sort_unstable();
                b.dedup();
                b
            })
            .collect();
        let ranges: Vec<std::ops::Range<usize>> = per_axis.iter().map(|v| 0..v.len()).collect();
        let mut deps = Vec::new();
        for_each_index(&ranges, |k| {
            deps.push((
                0,
                k.iter()
                    .enumerate()
                    .map(|(ax, &j)| per_axis[ax][j])
                    .collect(),
            ));
        });
        deps
    }
    fn scratch_bytes(&self, _inputs: &[NodeRef], out: &ChunkGrid, idx: &[usize]) -> usize {
        let n: usize = self
            .halo(&out.block_region(idx))
            .iter()
            .map(|(_, m)| m.len())
            .product();
        n * (T::DTYPE.size() + U::DTYPE.size())
    }
    fn compute(
        &self,
        idx: &[usize],
        region: &Region,
        deps: &[AnyView<'_>],
        dep_regions: &[Region],
        shape: &[usize],
        _dtype: DType,
    ) -> Result<AnyArray> {
        if region.is_empty() {
            // A block of an empty axis: nothing to compute (and no neighbour to take a halo
            // from); `f` is not called.
            return Ok(AnyArray::zeros(U::DTYPE, shape));
        }
        let halo = self.halo(region);
        let nd = halo.len();
        // Per axis and haloed position: (axis position of the dep block among the deps'
        // distinct starts, offset in it), or None for the constant.
        let mut starts: Vec<Vec<usize>> = vec![Vec::new(); nd];
        for r in dep_regions {
            for (s, range) in starts.iter_mut().zip(&r.0) {
                if !s.contains(&range.start) {
                    s.push(range.start);
                }
            }
        }
        for s in &mut starts {
            s.sort_unstable();
        }
        let locate: Vec<Vec<Option<(usize, usize)>>> = halo
            .iter()
            .enumerate()
            .map(|(ax, (_, map))| {
                map.iter()
                    .map(|m| {
                        m.map(|i| {
                            let k = starts[ax].partition_point(|&s| s <= i) - 1;
                            (k, i - starts[ax][k])
                        })
                    })
                    .collect()
            })
            .collect();
        // Deps come in row-major order over the per-axis block lists.
        let counts: Vec<usize> = starts.iter().map(|s| s.len()).collect();
        let views: Vec<&ArrayViewD<'_, T>> = deps.iter().map(typed::<T>).collect::<Result<_>>()?;
        let fill = match self.boundary {
            Boundary::Constant(v) => v,
            _ => T::default(),
        };
        let hshape: Vec<usize> = halo.iter().map(|(_, m)| m.len()).collect();
        // Per axis, runs of consecutive haloed positions that copy consecutive (or reversed)
        // elements of one dep block, or hold the constant: then one strided copy per
        // combination of runs instead of one lookup per element.
        let runs: Vec<Vec<Run>> = locate.iter().map(|l| axis_runs(l)).collect();
        let mut haloed = ArrayD::from_elem(IxDyn(&hshape), fill);
        let run_counts: Vec<std::ops::Range<usize>> = runs.iter().map(|r| 0..r.len()).collect();
        for_each_index(&run_counts, |combo| {
            let mut lin = 0;
            let mut src = Vec::with_capacity(nd);
            let mut dst = Vec::with_capacity(nd);
            for (ax, &r) in combo.iter().enumerate() {
                let run = &runs[ax][r];
                let Some((k, off, step)) = run.src else {
                    return; // Constant: already filled.
                };
                lin = lin * counts[ax] + k;
                dst.push(ndarray::Slice::from(run.dst.clone()));
                src.push(if step > 0 {
                    ndarray::Slice::from(off..off + run.dst.len())
                } else {
                    ndarray::Slice::new(
                        (off + 1 - run.dst.len()) as isize,
                        Some(off as isize + 1),
                        -1,
                    )
                });
            }
            let from = views[lin].slice_each_axis(|a| src[a.axis.index()]);
            haloed
                .slice_each_axis_mut(|a| dst[a.axis.index()])
                .assign(&from);
        });
        let info = BlockInfo {
            index: idx.to_vec(),
            region: region.clone(),
        };
        let out = (self.f)(haloed.view(), &info);
        if out.shape() != hshape.as_slice() {
            return Err(Error::UserFunction {
                op: "map_overlap",
                detail: format!(
                    "the function returned shape {:?} for a haloed block of shape {hshape:?} (block {idx:?})",
                    out.shape()
                ),
            });
        }
        let trim: Vec<std::ops::Range<usize>> = halo
            .iter()
            .zip(shape)
            .map(|((before, _), &n)| *before..before + n)
            .collect();
        let trimmed = out.slice_each_axis(|a| {
            let r = &trim[a.axis.index()];
            ndarray::Slice::from(r.start as isize..r.end as isize)
        });
        Ok(U::wrap(trimmed.to_owned()))
    }
}

impl<T: Element> ChunkedArray<T> {
    fn block_node<U: Element>(
        &self,
        grid: ChunkGrid,
        f: Arc<dyn BlockFn>,
        inputs: Vec<NodeRef>,
    ) -> ChunkedArray<U> {
        let _ = self;
        ChunkedArray::from_node(Node::new(grid, U::DTYPE, Op::Blocks { f, inputs }))
    }

    /// Applies `f` to every block (with its [`BlockInfo`]); `f` may change the element type
    /// and must return a block of the same shape. Lazy: blocks are computed when needed.
    ///
    /// # Example
    /// ```
    /// use chunkwise::prelude::*;
    /// let rt = Runtime::builder().threads(1).build()?;
    /// let x = ChunkedArray::from_ndarray(ndarray::Array1::<f64>::ones(10), [4])?;
    /// // Each element becomes the index of its block.
    /// let y = x.map_blocks(|b, info| b.mapv(|_| info.index[0] as i32));
    /// assert_eq!(y.compute(&rt)?.into_raw_vec_and_offset().0, vec![0, 0, 0, 0, 1, 1, 1, 1, 2, 2]);
    /// # Ok::<(), chunkwise::Error>(())
    /// ```
    pub fn map_blocks<U: Element, F>(&self, f: F) -> ChunkedArray<U>
    where
        F: Fn(ArrayViewD<'_, T>, &BlockInfo) -> ArrayD<U> + Send + Sync + 'static,
    {
        let f = Arc::new(MapBlocksFn { f, _t: PhantomData });
        self.block_node(self.chunks().clone(), f, vec![self.node.clone()])
    }

    /// [`ChunkedArray::map_blocks`] with declared output chunks: `f` maps input block `idx` to
    /// output block `idx` of `chunks`, which must have the same number of axes and of blocks
    /// along each axis as the input (the block sizes may differ).
    ///
    /// # Errors
    /// [`Error::Shape`] when `chunks` has another number of axes or blocks per axis.
    pub fn map_blocks_to<U: Element, F>(&self, chunks: ChunkGrid, f: F) -> Result<ChunkedArray<U>>
    where
        F: Fn(ArrayViewD<'_, T>, &BlockInfo) -> ArrayD<U> + Send + Sync + 'static,
    {
        if chunks.blocks_shape() != self.chunks().blocks_shape() {
            return Err(Error::Shape {
                op: "map_blocks_to",
                detail: format!(
                    "output chunks {chunks} have {:?} blocks per axis but the input chunks {} have {:?}",
                    chunks.blocks_shape(),
                    self.chunks(),
                    self.chunks().blocks_shape()
                ),
            });
        }
        let f = Arc::new(MapBlocksFn { f, _t: PhantomData });
        Ok(self.block_node(chunks, f, vec![self.node.clone()]))
    }

    /// Applies `f` to corresponding blocks of two arrays of the same shape; their chunks are
    /// unified first (rechunking where they differ). `f` returns a block of the same shape.
    ///
    /// # Errors
    /// [`Error::Shape`] when the shapes differ.
    pub fn blockwise<U: Element, V: Element, F>(
        &self,
        other: &ChunkedArray<U>,
        f: F,
    ) -> Result<ChunkedArray<V>>
    where
        F: Fn(ArrayViewD<'_, T>, ArrayViewD<'_, U>, &BlockInfo) -> ArrayD<V>
            + Send
            + Sync
            + 'static,
    {
        if self.shape() != other.shape() {
            return Err(Error::Shape {
                op: "blockwise",
                detail: format!("shapes {:?} and {:?} differ", self.shape(), other.shape()),
            });
        }
        let (grid, inputs) =
            super::elementwise::broadcast_nodes("blockwise", &[&self.node, &other.node])?;
        let f = Arc::new(BlockwiseFn { f, _t: PhantomData });
        Ok(self.block_node(grid, f, inputs))
    }

    /// Applies `f` to every block extended by a halo of `depth[axis]` elements on each side
    /// (taken from neighbouring blocks, filled by `boundary` beyond the array's edges), then
    /// trims the halo from the result. `f` gets the haloed block and the core block's
    /// [`BlockInfo`] and must return an array of the haloed block's shape. A halo may be
    /// deeper than a chunk (more neighbouring blocks are gathered). An array with a length-0
    /// axis gives an empty result without calling `f`.
    ///
    /// # Errors
    /// [`Error::Axis`] when `depth` has another length than the number of axes.
    pub fn map_overlap<U: Element, F>(
        &self,
        depth: &[usize],
        boundary: Boundary<T>,
        f: F,
    ) -> Result<ChunkedArray<U>>
    where
        F: Fn(ArrayViewD<'_, T>, &BlockInfo) -> ArrayD<U> + Send + Sync + 'static,
    {
        if depth.len() != self.ndim() {
            return Err(Error::Axis {
                op: "map_overlap",
                detail: format!(
                    "depth {depth:?} has {} axes but the array shape {:?} has {}",
                    depth.len(),
                    self.shape(),
                    self.ndim()
                ),
            });
        }
        let f = Arc::new(OverlapFn {
            depth: depth.to_vec(),
            boundary,
            shape: self.shape().to_vec(),
            f,
            _t: PhantomData,
        });
        Ok(self.block_node(self.chunks().clone(), f, vec![self.node.clone()]))
    }
}
