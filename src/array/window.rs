//! Moving windows along one axis ([`Rolling`], from [`ChunkedArray::rolling`]) and block
//! reductions over fixed factors per axis ([`Coarsen`], from [`ChunkedArray::coarsen`]), with
//! xarray's semantics.
//!
//! A rolling reduction is one block function: each output block takes its block of the input
//! plus the neighbouring blocks along the axis that hold its halo (`window - 1` positions
//! before the block, or split around it when centred) and sweeps it with an O(n) running
//! kernel. Chunks shorter than the halo along the axis are first merged (a rechunk, read
//! straight from a store), so that a block needs at most its two neighbours. A coarsen
//! reduction rechunks so that every block holds whole windows, then reduces each block alone.

use super::ChunkedArray;
use crate::chunks::{AxisChunks, ChunkGrid, Region};
use crate::element::{AnyArray, AnyView, DType, Element, ElementSealed, Numeric};
use crate::error::{Error, Result};
use crate::graph::blockfn::BlockFn;
use crate::graph::{Node, NodeRef, Op};
use crate::ops::window::{
    CoarsenOp, Pieces, RollGeom, RollOp, TILE, coarsen_extreme, coarsen_mean, coarsen_sum,
    coarsened_shape,
};
use ndarray::{ArrayD, IxDyn};
use std::marker::PhantomData;
use std::sync::Arc;

/// Largest block (bytes) the rolling rechunk makes by merging chunks along the axis before it
/// also splits the other axes.
const ROLLING_BLOCK_BYTES: usize = 64 << 20;

/// A moving window along one axis of an array: [`ChunkedArray::rolling`] makes it, its
/// reductions ([`mean`](Self::mean), [`sum`](Self::sum), [`min`](Self::min),
/// [`max`](Self::max), [`var`](Self::var), [`std`](Self::std)) give an array of the input's
/// shape.
///
/// As xarray's `DataArray.rolling(dim=window, center=..., min_periods=...)`: the window of
/// position `i` is `[i - window + 1, i]` (trailing), or with [`center`](Self::center)
/// `[i - window / 2, i + (window - 1) / 2]`; NaN values are skipped, and a window with fewer
/// than [`min_periods`](Self::min_periods) non-NaN values (default: the window length) gives
/// NaN, as do the first positions, whose windows run off the array. Results are floats
/// (`f64` for integer inputs); `var`/`std` are population moments (ddof 0).
///
/// # Example: a 3-step running mean
/// ```
/// use chunkwise::prelude::*;
/// let rt = Runtime::builder().threads(2).build()?;
/// let x = ChunkedArray::from_ndarray(ndarray::arr1(&[1.0f64, 2.0, 3.0, 4.0, 5.0]), [2])?;
/// let m: ndarray::ArrayD<f64> = x.rolling(0, 3).mean()?.compute(&rt)?;
/// assert!(m[[0]].is_nan() && m[[1]].is_nan());
/// assert_eq!(m.as_slice().unwrap()[2..], [2.0, 3.0, 4.0]);
/// // Centred, and a result wherever one value is there.
/// let c = x.rolling(0, 3).center(true).min_periods(1).max()?.compute(&rt)?;
/// assert_eq!(c.into_raw_vec_and_offset().0, vec![2.0, 3.0, 4.0, 5.0, 5.0]);
/// # Ok::<(), chunkwise::Error>(())
/// ```
#[derive(Clone, Debug)]
#[must_use = "a Rolling does nothing until one of its reductions is called"]
pub struct Rolling<T: Element> {
    x: ChunkedArray<T>,
    axis: usize,
    window: usize,
    center: bool,
    min_periods: Option<usize>,
}

impl<T: Element> ChunkedArray<T> {
    /// A moving window of `window` positions along `axis` (xarray's `rolling`); see
    /// [`Rolling`] for its reductions and options. Lazy: the arguments are checked when a
    /// reduction is built.
    pub fn rolling(&self, axis: usize, window: usize) -> Rolling<T> {
        Rolling {
            x: self.clone(),
            axis,
            window,
            center: false,
            min_periods: None,
        }
    }
}

impl<T: Numeric> Rolling<T> {
    /// Labels at the window's centre (`true`) or its end (`false`, the default), as xarray's
    /// `center`: with an even window the centre is the later of the two middle positions.
    pub fn center(mut self, center: bool) -> Self {
        self.center = center;
        self
    }

    /// Non-NaN values a window needs for a result (default: the window length; 1..=window).
    pub fn min_periods(mut self, n: usize) -> Self {
        self.min_periods = Some(n);
        self
    }

    /// Running mean of the non-NaN values.
    ///
    /// # Errors
    /// As [`Rolling::sum`].
    pub fn mean(&self) -> Result<ChunkedArray<T::Mean>> {
        self.build(RollOp::Mean)
    }

    /// Running sum of the non-NaN values.
    ///
    /// # Errors
    /// [`Error::Axis`] for an axis out of range; [`Error::InvalidArgument`] for a window of 0
    /// or longer than the axis, or `min_periods` outside `1..=window`.
    pub fn sum(&self) -> Result<ChunkedArray<T::Mean>> {
        self.build(RollOp::Sum)
    }

    /// Running minimum of the non-NaN values.
    ///
    /// # Errors
    /// As [`Rolling::sum`].
    pub fn min(&self) -> Result<ChunkedArray<T::Mean>> {
        self.build(RollOp::Min)
    }

    /// Running maximum of the non-NaN values.
    ///
    /// # Errors
    /// As [`Rolling::sum`].
    pub fn max(&self) -> Result<ChunkedArray<T::Mean>> {
        self.build(RollOp::Max)
    }

    /// Running population variance (ddof 0) of the non-NaN values.
    ///
    /// # Errors
    /// As [`Rolling::sum`].
    pub fn var(&self) -> Result<ChunkedArray<T::Mean>> {
        self.build(RollOp::Var)
    }

    /// Running population standard deviation (ddof 0) of the non-NaN values.
    ///
    /// # Errors
    /// As [`Rolling::sum`].
    pub fn std(&self) -> Result<ChunkedArray<T::Mean>> {
        self.build(RollOp::Std)
    }

    fn geom(&self, op: &'static str) -> Result<RollGeom> {
        let shape = self.x.shape();
        if self.axis >= shape.len() {
            return Err(Error::Axis {
                op,
                detail: format!(
                    "axis {} is out of range for an array of shape {shape:?} ({} axes)",
                    self.axis,
                    shape.len()
                ),
            });
        }
        let len = shape[self.axis];
        if self.window == 0 || self.window > len {
            return Err(Error::InvalidArgument {
                op,
                detail: format!(
                    "window {} on axis {} of length {len} (shape {shape:?}): the window must be \
                     at least 1 and at most the axis length",
                    self.window, self.axis
                ),
            });
        }
        let min_periods = self.min_periods.unwrap_or(self.window);
        if min_periods == 0 || min_periods > self.window {
            return Err(Error::InvalidArgument {
                op,
                detail: format!(
                    "min_periods {min_periods} must be at least 1 and at most the window {}",
                    self.window
                ),
            });
        }
        Ok(RollGeom {
            window: self.window,
            before: if self.center {
                self.window / 2
            } else {
                self.window - 1
            },
            min_periods,
            len,
        })
    }

    fn build(&self, op: RollOp) -> Result<ChunkedArray<T::Mean>> {
        let name = match op {
            RollOp::Sum => "rolling sum",
            RollOp::Mean => "rolling mean",
            RollOp::Var => "rolling var",
            RollOp::Std => "rolling std",
            RollOp::Min => "rolling min",
            RollOp::Max => "rolling max",
        };
        let geom = self.geom(name)?;
        let x = self.x.rechunk(rolling_grid(
            self.x.chunks(),
            self.axis,
            geom.before.max(geom.after()),
            T::DTYPE.size(),
        ))?;
        let f = Arc::new(RollingFn::<T> {
            axis: self.axis,
            geom,
            op,
            _t: PhantomData,
        });
        Ok(ChunkedArray::from_node(Node::new(
            x.chunks().clone(),
            <T::Mean as Element>::DTYPE,
            Op::Blocks {
                f,
                inputs: vec![x.node.clone()],
            },
        )))
    }
}

/// The grid a rolling reduction runs on: the input's, unless some block along `axis` (but the
/// last) is shorter than the halo `depth`; then blocks along the axis are merged to the
/// smallest multiple of the first chunk that holds the halo (so a store's chunks are read
/// whole), and the other axes are split, largest first, while a block exceeds
/// [`ROLLING_BLOCK_BYTES`] and the input's largest block.
fn rolling_grid(grid: &ChunkGrid, axis: usize, depth: usize, elem: usize) -> ChunkGrid {
    let a = grid.axis(axis);
    let sizes = a.sizes();
    if sizes.len() <= 1 || sizes[..sizes.len() - 1].iter().all(|&s| s >= depth) {
        return grid.clone();
    }
    let first = sizes[0].max(1);
    let chunk = (depth.div_ceil(first) * first).min(a.len()).max(1);
    let mut chunks = grid.max_block_shape();
    chunks[axis] = chunk;
    let limit = ROLLING_BLOCK_BYTES.max(grid.max_block_len() * elem);
    loop {
        let bytes = chunks.iter().product::<usize>() * elem;
        let widest = (0..chunks.len())
            .filter(|&k| k != axis && chunks[k] > 1)
            .max_by_key(|&k| chunks[k]);
        match widest {
            Some(k) if bytes > limit => chunks[k] = chunks[k].div_ceil(2),
            _ => break,
        }
    }
    let axes = grid
        .shape()
        .iter()
        .zip(&chunks)
        .enumerate()
        .map(|(k, (&len, &c))| {
            if k != axis && c == grid.max_block_shape()[k] {
                grid.axis(k).clone()
            } else {
                AxisChunks::regular(len, c.max(1))
            }
        })
        .collect();
    ChunkGrid::new(axes)
}

/// The block function of a rolling reduction: output block `idx` from the input blocks along
/// the axis that cover its windows.
struct RollingFn<T> {
    axis: usize,
    geom: RollGeom,
    op: RollOp,
    _t: PhantomData<fn() -> T>,
}

impl<T: Numeric> RollingFn<T> {
    /// The haloed range along the axis of output positions `r`.
    fn halo(&self, r: &std::ops::Range<usize>) -> std::ops::Range<usize> {
        if r.is_empty() {
            return r.clone();
        }
        let lo = r.start.saturating_sub(self.geom.before);
        let hi = (r.end - 1 + self.geom.after()).min(self.geom.len - 1) + 1;
        lo..hi
    }
}

impl<T: Numeric> BlockFn for RollingFn<T> {
    fn name(&self) -> String {
        format!(
            "rolling {}[axis {}, window {}, before {}, min_periods {}]",
            self.op.name(),
            self.axis,
            self.geom.window,
            self.geom.before,
            self.geom.min_periods
        )
    }

    fn deps(&self, inputs: &[NodeRef], out: &ChunkGrid, idx: &[usize]) -> Vec<(usize, Vec<usize>)> {
        let r = out.axis(self.axis).range(idx[self.axis]);
        let h = self.halo(&r);
        let blocks = if h.is_empty() {
            idx[self.axis]..idx[self.axis] + 1
        } else {
            inputs[0].grid.axis(self.axis).blocks_overlapping(h)
        };
        blocks
            .map(|b| {
                let mut i = idx.to_vec();
                i[self.axis] = b;
                (0, i)
            })
            .collect()
    }

    fn scratch_bytes(&self, _inputs: &[NodeRef], out: &ChunkGrid, idx: &[usize]) -> usize {
        let shape = out.block_shape(idx);
        let inner: usize = shape[self.axis + 1..].iter().product();
        let w = TILE.min(inner.max(1));
        let r = out.axis(self.axis).range(idx[self.axis]);
        let haloed = self.halo(&r).len() + 1;
        match self.op {
            // g, h (T) and the prefix counts (u32) over a tile of the haloed range.
            RollOp::Min | RollOp::Max => haloed * w * (2 * T::DTYPE.size() + 4),
            // Counts and sums of one tile.
            _ => w * 48,
        }
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
        let outer: usize = shape[..ax].iter().product();
        let inner: usize = shape[ax + 1..].iter().product();
        let mut out = vec![T::Mean::default(); shape.iter().product()];
        if out.is_empty() {
            return Ok(AnyArray::zeros(<T::Mean as Element>::DTYPE, shape));
        }
        let views: Vec<_> = deps
            .iter()
            .map(|v| super::blocks::typed_block::<T>("rolling", v).map(|v| v.as_standard_layout()))
            .collect::<Result<_>>()?;
        let parts: Vec<(usize, usize, &[T])> = views
            .iter()
            .zip(dep_regions)
            .map(|(v, r)| {
                let data = v.as_slice().expect("standard layout is contiguous");
                (r.0[ax].start, r.0[ax].len(), data)
            })
            .collect();
        let src = Pieces::new(parts, outer, inner);
        let r = &region.0[ax];
        crate::ops::window::rolling(&src, self.geom, self.op, r.start, r.len(), &mut out);
        let out = ArrayD::from_shape_vec(IxDyn(shape), out)
            .map_err(|e| Error::internal("rolling", e.to_string()))?;
        Ok(<T::Mean as ElementSealed>::wrap(out))
    }
}

/// What [`Coarsen`] does with an axis whose length is not a multiple of its factor (xarray's
/// `boundary`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CoarsenBoundary {
    /// Refuse it: an [`Error::Shape`] naming the axis, its length and the factor (the default).
    #[default]
    Exact,
    /// Drop the trailing partial window.
    Trim,
    /// Keep the trailing partial window, reduced over the elements it has.
    Pad,
}

/// Block reductions over fixed factors per axis (xarray's `coarsen`): [`ChunkedArray::coarsen`]
/// makes it; its reductions give an array whose axis `k` has `len_k / factor_k` positions
/// (rounded up with [`CoarsenBoundary::Pad`], down with `Trim`).
///
/// `sum`, `mean`, `min`, `max` propagate NaN as NumPy's reductions do; `nansum`, `nanmean`,
/// `nanmin`, `nanmax` skip it, which is what xarray's `coarsen(...).mean()` does for floats
/// (its default `skipna`). Result types are those of [`ChunkedArray::sum`] (`T::Sum`),
/// [`ChunkedArray::mean`] (`T::Mean`) and [`ChunkedArray::min`] (`T`).
///
/// The input is rechunked where needed so that every block holds whole windows; each output
/// block is then computed from one input block.
///
/// # Example: 2 × 2 block means
/// ```
/// use chunkwise::prelude::*;
/// use chunkwise::CoarsenBoundary;
/// let rt = Runtime::builder().threads(2).build()?;
/// let a = ndarray::Array::from_shape_fn((4, 5), |(i, j)| (i * 5 + j) as f64);
/// let x = ChunkedArray::from_ndarray(a, [3, 3])?;
/// let m = x.coarsen(&[2, 2]).boundary(CoarsenBoundary::Trim).mean()?.compute(&rt)?;
/// assert_eq!(m, ndarray::arr2(&[[3.0, 5.0], [13.0, 15.0]]).into_dyn());
/// assert!(x.coarsen(&[2, 2]).mean().is_err()); // 5 is not a multiple of 2
/// # Ok::<(), chunkwise::Error>(())
/// ```
#[derive(Clone, Debug)]
#[must_use = "a Coarsen does nothing until one of its reductions is called"]
pub struct Coarsen<T: Element> {
    x: ChunkedArray<T>,
    factors: Vec<usize>,
    boundary: CoarsenBoundary,
}

impl<T: Element> ChunkedArray<T> {
    /// Windows of `factors[k]` positions along each axis `k` (xarray's `coarsen`); see
    /// [`Coarsen`]. Lazy: the factors are checked when a reduction is built.
    pub fn coarsen(&self, factors: &[usize]) -> Coarsen<T> {
        Coarsen {
            x: self.clone(),
            factors: factors.to_vec(),
            boundary: CoarsenBoundary::Exact,
        }
    }
}

impl<T: Numeric> Coarsen<T> {
    /// What to do with axes whose length is not a multiple of the factor.
    pub fn boundary(mut self, boundary: CoarsenBoundary) -> Self {
        self.boundary = boundary;
        self
    }

    /// Sum over each window (NaN propagates).
    ///
    /// # Errors
    /// [`Error::Axis`] when there is not one factor per axis; [`Error::InvalidArgument`] for a
    /// factor of 0; [`Error::Shape`] for a length that is not a multiple of its factor with
    /// [`CoarsenBoundary::Exact`].
    pub fn sum(&self) -> Result<ChunkedArray<T::Sum>> {
        self.build(CoarsenOp::Sum, false, move |b, f| coarsen_sum(&b, f, false))
    }

    /// Sum over each window of its non-NaN values (0 where there are none).
    ///
    /// # Errors
    /// As [`Coarsen::sum`].
    pub fn nansum(&self) -> Result<ChunkedArray<T::Sum>> {
        self.build(CoarsenOp::Sum, true, move |b, f| coarsen_sum(&b, f, true))
    }

    /// Mean over each window (NaN propagates).
    ///
    /// # Errors
    /// As [`Coarsen::sum`].
    pub fn mean(&self) -> Result<ChunkedArray<T::Mean>> {
        self.build(CoarsenOp::Mean, false, move |b, f| {
            coarsen_mean(&b, f, false)
        })
    }

    /// Mean over each window of its non-NaN values (NaN where there are none): xarray's
    /// `coarsen(...).mean()`.
    ///
    /// # Errors
    /// As [`Coarsen::sum`].
    pub fn nanmean(&self) -> Result<ChunkedArray<T::Mean>> {
        self.build(CoarsenOp::Mean, true, move |b, f| coarsen_mean(&b, f, true))
    }

    /// Minimum over each window (NaN propagates).
    ///
    /// # Errors
    /// As [`Coarsen::sum`].
    pub fn min(&self) -> Result<ChunkedArray<T>> {
        self.build(CoarsenOp::Min, false, move |b, f| {
            coarsen_extreme(&b, f, false, false)
        })
    }

    /// Minimum over each window of its non-NaN values (NaN where there are none).
    ///
    /// # Errors
    /// As [`Coarsen::sum`].
    pub fn nanmin(&self) -> Result<ChunkedArray<T>> {
        self.build(CoarsenOp::Min, true, move |b, f| {
            coarsen_extreme(&b, f, false, true)
        })
    }

    /// Maximum over each window (NaN propagates).
    ///
    /// # Errors
    /// As [`Coarsen::sum`].
    pub fn max(&self) -> Result<ChunkedArray<T>> {
        self.build(CoarsenOp::Max, false, move |b, f| {
            coarsen_extreme(&b, f, true, false)
        })
    }

    /// Maximum over each window of its non-NaN values (NaN where there are none).
    ///
    /// # Errors
    /// As [`Coarsen::sum`].
    pub fn nanmax(&self) -> Result<ChunkedArray<T>> {
        self.build(CoarsenOp::Max, true, move |b, f| {
            coarsen_extreme(&b, f, true, true)
        })
    }

    /// Checks the factors, trims, aligns the chunks to the factors and reduces each block.
    fn build<U: Element>(
        &self,
        op: CoarsenOp,
        skip_nan: bool,
        kernel: fn(ndarray::ArrayViewD<'_, T>, &[usize]) -> ArrayD<U>,
    ) -> Result<ChunkedArray<U>> {
        let name = match (op, skip_nan) {
            (CoarsenOp::Sum, false) => "coarsen sum",
            (CoarsenOp::Sum, true) => "coarsen nansum",
            (CoarsenOp::Mean, false) => "coarsen mean",
            (CoarsenOp::Mean, true) => "coarsen nanmean",
            (CoarsenOp::Min, false) => "coarsen min",
            (CoarsenOp::Min, true) => "coarsen nanmin",
            (CoarsenOp::Max, false) => "coarsen max",
            (CoarsenOp::Max, true) => "coarsen nanmax",
        };
        debug_assert_eq!(&name[8..], op.name(skip_nan));
        let shape = self.x.shape().to_vec();
        let f = &self.factors;
        if f.len() != shape.len() {
            return Err(Error::Axis {
                op: name,
                detail: format!(
                    "{} factors {f:?} for an array of shape {shape:?} ({} axes): give one per axis",
                    f.len(),
                    shape.len()
                ),
            });
        }
        if let Some(k) = f.iter().position(|&v| v == 0) {
            return Err(Error::InvalidArgument {
                op: name,
                detail: format!("factor 0 on axis {k} (factors {f:?}): factors must be >= 1"),
            });
        }
        let mut x = self.x.clone();
        for (k, (&n, &fk)) in shape.iter().zip(f).enumerate() {
            if n % fk == 0 {
                continue;
            }
            match self.boundary {
                CoarsenBoundary::Exact => {
                    return Err(Error::Shape {
                        op: name,
                        detail: format!(
                            "axis {k} has length {n}, not a multiple of its factor {fk} (shape \
                             {shape:?}, factors {f:?}); use CoarsenBoundary::Trim or Pad"
                        ),
                    });
                }
                CoarsenBoundary::Trim => {
                    let keep = n - n % fk;
                    let info: Vec<ndarray::SliceInfoElem> = (0..shape.len())
                        .map(|a| ndarray::SliceInfoElem::Slice {
                            start: 0,
                            end: Some(if a == k { keep } else { x.shape()[a] } as isize),
                            step: 1,
                        })
                        .collect();
                    x = x.slice(info)?;
                }
                CoarsenBoundary::Pad => {}
            }
        }
        // Every block boundary along axis k (but the array's end) at a multiple of f[k].
        let grid = x.chunks();
        let aligned: Vec<AxisChunks> = (0..shape.len())
            .map(|k| {
                let a = grid.axis(k);
                let offsets = a.offsets();
                if offsets.iter().all(|&o| o % f[k] == 0) {
                    a.clone()
                } else {
                    let c = a.max_size();
                    let c = ((c as f64 / f[k] as f64).round() as usize).max(1) * f[k];
                    AxisChunks::regular(a.len(), c)
                }
            })
            .collect();
        let x = x.rechunk(ChunkGrid::new(aligned))?;
        let out_axes: Vec<AxisChunks> = x
            .chunks()
            .axes()
            .iter()
            .zip(f)
            .map(|(a, &fk)| {
                let sizes: Vec<usize> = a.sizes().iter().map(|&s| s.div_ceil(fk)).collect();
                AxisChunks::from_sizes(&sizes)
            })
            .collect();
        let out = ChunkGrid::new(out_axes);
        debug_assert_eq!(out.shape(), coarsened_shape(x.shape(), f));
        let factors = f.clone();
        let f = Arc::new(CoarsenFn::<T, U> {
            name,
            factors,
            kernel,
        });
        Ok(ChunkedArray::from_node(Node::new(
            out,
            U::DTYPE,
            Op::Blocks {
                f,
                inputs: vec![x.node.clone()],
            },
        )))
    }
}

/// The block function of a coarsen reduction: output block `idx` from input block `idx`.
struct CoarsenFn<T, U> {
    name: &'static str,
    factors: Vec<usize>,
    kernel: fn(ndarray::ArrayViewD<'_, T>, &[usize]) -> ArrayD<U>,
}

impl<T: Numeric, U: Element> BlockFn for CoarsenFn<T, U> {
    fn name(&self) -> String {
        format!("{}{:?}", self.name, self.factors)
    }

    fn deps(
        &self,
        _inputs: &[NodeRef],
        _out: &ChunkGrid,
        idx: &[usize],
    ) -> Vec<(usize, Vec<usize>)> {
        vec![(0, idx.to_vec())]
    }

    fn scratch_bytes(&self, _inputs: &[NodeRef], out: &ChunkGrid, idx: &[usize]) -> usize {
        // Accumulators: up to a sum and a count (or an Option<T>) per output element.
        out.block_shape(idx).iter().product::<usize>() * 16
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
        let v = super::blocks::typed_block::<T>("coarsen", &deps[0])?;
        Ok(U::wrap((self.kernel)(v.clone(), &self.factors)))
    }
}
