//! Histograms and binning: `histogram`, `histogram_axes`, `bincount`, `bincount_weighted`,
//! `digitize`.
//!
//! A histogram is a block function that counts each block into a partial (the block's reduced
//! axes collapsed to one position per block, a trailing bins axis added) followed by the
//! existing tree `sum` over the reduced axes: fixed tree shape, deterministic, within the
//! memory limit. `digitize` is a fused elementwise map.

use super::ChunkedArray;
use crate::chunks::{AxisChunks, ChunkGrid, Region};
use crate::element::{AnyArray, AnyView, DType, Element, Numeric};
use crate::error::{Error, Result};
use crate::graph::blockfn::BlockFn;
use crate::graph::{Node, NodeRef, Op};
use crate::ops::quantile::{Edges, bincount_slot, digitize_one, monotonic, uniform_edges};
use ndarray::{ArrayD, ArrayViewD, IxDyn};
use std::marker::PhantomData;
use std::sync::Arc;

/// The bins of a [`ChunkedArray::histogram`]: a number of equal bins over the given range, or
/// explicit edges (NumPy's `bins` argument, an `int` or a sequence).
///
/// ```
/// use chunkwise::HistogramBins;
/// assert_eq!(HistogramBins::from(10), HistogramBins::Count(10));
/// assert_eq!(HistogramBins::from(vec![0.0, 1.0, 5.0]), HistogramBins::Edges(vec![0.0, 1.0, 5.0]));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub enum HistogramBins {
    /// This many equal bins over the histogram's range (which must be given).
    Count(usize),
    /// The bin edges, non-decreasing and finite: `n + 1` edges make `n` bins.
    Edges(Vec<f64>),
}

impl From<usize> for HistogramBins {
    fn from(n: usize) -> Self {
        HistogramBins::Count(n)
    }
}

impl From<Vec<f64>> for HistogramBins {
    fn from(e: Vec<f64>) -> Self {
        HistogramBins::Edges(e)
    }
}

impl From<&[f64]> for HistogramBins {
    fn from(e: &[f64]) -> Self {
        HistogramBins::Edges(e.to_vec())
    }
}

impl<const N: usize> From<[f64; N]> for HistogramBins {
    fn from(e: [f64; N]) -> Self {
        HistogramBins::Edges(e.to_vec())
    }
}

/// The edges of `bins` over `range` for data of type `T`, checked.
fn edges_of<T: Numeric>(
    op: &'static str,
    bins: HistogramBins,
    range: Option<(f64, f64)>,
) -> Result<Edges> {
    let bad = |detail: String| Error::InvalidArgument { op, detail };
    match bins {
        HistogramBins::Count(n) => {
            if n == 0 {
                return Err(bad("the number of bins must be at least 1".into()));
            }
            let Some((lo, hi)) = range else {
                return Err(bad(format!(
                    "{n} bins need a range: the edges of a lazy histogram are fixed when the \
                     graph is built, so give range = (min, max) (compute x.min() and x.max() \
                     first if needed) or explicit edges"
                )));
            };
            if !(lo.is_finite() && hi.is_finite()) {
                return Err(bad(format!(
                    "the range ({lo}, {hi}) is not finite; both ends must be finite numbers"
                )));
            }
            if lo > hi {
                return Err(bad(format!(
                    "max must be larger than min in the range ({lo}, {hi})"
                )));
            }
            Ok(Edges(uniform_edges(lo, hi, n, T::DTYPE == DType::F32)))
        }
        HistogramBins::Edges(e) => {
            if e.len() < 2 {
                return Err(bad(format!(
                    "explicit bins need at least two edges (one bin); got {}",
                    e.len()
                )));
            }
            if let Some(i) = e.iter().position(|v| !v.is_finite()) {
                return Err(bad(format!(
                    "bin edge {i} is {}; edges must be finite",
                    e[i]
                )));
            }
            if let Some(i) = e.windows(2).position(|w| w[0] > w[1]) {
                return Err(bad(format!(
                    "bins must increase monotonically: edge {i} is {} but edge {} is {}",
                    e[i],
                    i + 1,
                    e[i + 1]
                )));
            }
            Ok(Edges(e))
        }
    }
}

/// The block function of a histogram's partials: each input block counted into a block of
/// the partial array (reduced axes one position per input block, a trailing bins axis).
struct HistPartialFn<T> {
    edges: Arc<Edges>,
    axes: Vec<usize>,
    _t: PhantomData<fn(T)>,
}

impl<T: Numeric> BlockFn for HistPartialFn<T> {
    fn name(&self) -> String {
        format!(
            "histogram_partial[{} bins, axes={:?}]",
            self.edges.nbins(),
            self.axes
        )
    }

    fn deps(
        &self,
        _inputs: &[NodeRef],
        _out: &ChunkGrid,
        idx: &[usize],
    ) -> Vec<(usize, Vec<usize>)> {
        vec![(0, idx[..idx.len() - 1].to_vec())]
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
        let block = typed::<T>(&deps[0])?;
        let nb = self.edges.nbins();
        let mut out = ArrayD::<i64>::zeros(IxDyn(shape));
        let ndim = block.ndim();
        // Visit the block with the reduced axes innermost: each kept position's counts are one
        // contiguous run of `nb` in the output.
        let order: Vec<usize> = (0..ndim)
            .filter(|a| !self.axes.contains(a))
            .chain(self.axes.iter().copied())
            .collect();
        let v = block.view().permuted_axes(IxDyn(&order));
        let n: usize = self.axes.iter().map(|&a| block.shape()[a]).product();
        let counts = out
            .as_slice_mut()
            .ok_or_else(|| Error::internal("histogram", "a fresh block not in standard layout"))?;
        for (k, x) in v.iter().enumerate() {
            if let (Some(b), Some(pos)) = (self.edges.bin(x.to_f64_()), k.checked_div(n)) {
                counts[pos * nb + b] += 1;
            }
        }
        Ok(AnyArray::from(out))
    }
}

/// The block function of a bincount's partials: one row of `len` per input block.
struct BincountFn<T, W> {
    len: usize,
    _t: PhantomData<fn(T, W)>,
}

impl<T: Numeric, W: Numeric> BlockFn for BincountFn<T, W> {
    fn name(&self) -> String {
        format!("bincount_partial[minlength={}]", self.len)
    }

    fn deps(
        &self,
        inputs: &[NodeRef],
        _out: &ChunkGrid,
        idx: &[usize],
    ) -> Vec<(usize, Vec<usize>)> {
        (0..inputs.len()).map(|i| (i, vec![idx[0]])).collect()
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
        let x = typed::<T>(&deps[0])?;
        if deps.len() == 1 {
            let mut out = ArrayD::<i64>::zeros(IxDyn(shape));
            let row = out.as_slice_mut().expect("a fresh block");
            for &v in x.iter() {
                row[bincount_slot(v, self.len)?] += 1;
            }
            Ok(AnyArray::from(out))
        } else {
            let w = typed::<W>(&deps[1])?;
            let mut out = ArrayD::<f64>::zeros(IxDyn(shape));
            let row = out.as_slice_mut().expect("a fresh block");
            for (&v, &w) in x.iter().zip(w.iter()) {
                row[bincount_slot(v, self.len)?] += w.to_f64_();
            }
            Ok(AnyArray::from(out))
        }
    }
}

fn typed<'a, 'b, T: Element>(v: &'b AnyView<'a>) -> Result<&'b ArrayViewD<'a, T>> {
    super::blocks::typed_block("histogram", v)
}

/// # Histograms and binning: `histogram`, `histogram_axes`, `bincount`, `digitize`
///
/// NumPy's semantics: bin `i` counts `edges[i] <= x < edges[i + 1]`, the last bin is closed
/// (`x == edges[n]` counts), values outside the edges and NaN are ignored. `HistogramBins::Count(n)`
/// makes NumPy's `np.linspace(lo, hi, n + 1)` edges over the range (in `f32` for `f32` data,
/// as NumPy; a range with `lo == hi` widens to `lo - 0.5 .. hi + 0.5`); unlike NumPy a count
/// needs an explicit range (as dask's `histogram`: the edges of a lazy histogram are fixed
/// before anything is computed), and with explicit edges the range is ignored.
///
/// Counts are `i64`. [`histogram`](Self::histogram) counts over all axes (shape `(n,)`);
/// [`histogram_axes`](Self::histogram_axes) over some, with a trailing bins axis (shape
/// `(kept axes..., n)`). Both return the edges beside the lazy counts.
///
/// ```
/// use chunkwise::prelude::*;
/// let rt = Runtime::builder().threads(2).build()?;
/// let x = ndarray::array![[0.5, 1.0, 3.0], [2.0, f64::NAN, 9.0]].into_dyn();
/// let x = ChunkedArray::from_ndarray(x, [1, 2])?;
/// // np.histogram(x, bins=3, range=(0, 3)): NaN and 9 are outside; 3.0 is in the last bin.
/// let (counts, edges) = x.histogram(3, Some((0.0, 3.0)))?;
/// assert_eq!(edges, vec![0.0, 1.0, 2.0, 3.0]);
/// assert_eq!(counts.compute(&rt)?, ndarray::array![1i64, 1, 2].into_dyn());
/// let (per_row, _) = x.histogram_axes([0.0, 2.0, 10.0], None, &[1])?;  // shape (2, 2)
/// assert_eq!(per_row.compute(&rt)?, ndarray::array![[2i64, 1], [0, 2]].into_dyn());
/// // np.digitize and np.bincount
/// let d = x.digitize(&[0.0, 1.0, 2.0], false)?.compute(&rt)?;
/// assert_eq!(d, ndarray::array![[1i64, 2, 3], [3, 3, 3]].into_dyn());
/// let i = ChunkedArray::from_ndarray(ndarray::array![0u8, 2, 2, 5].into_dyn(), [2])?;
/// assert_eq!(i.bincount(6)?.compute(&rt)?, ndarray::array![1i64, 0, 2, 0, 0, 1].into_dyn());
/// assert!(x.digitize(&[0.0, 2.0, 1.0], false).is_err());       // not monotonic
/// # Ok::<(), chunkwise::Error>(())
/// ```
impl<T: Numeric> ChunkedArray<T> {
    /// The histogram over all axes (`np.histogram(x, bins, range)`): lazy `i64` counts of
    /// shape `(n,)` and the `n + 1` edges.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for zero bins, a count without a range, a range that is not
    /// finite or has `min > max`, fewer than two edges, edges that are not finite or do not
    /// increase monotonically.
    pub fn histogram(
        &self,
        bins: impl Into<HistogramBins>,
        range: Option<(f64, f64)>,
    ) -> Result<(ChunkedArray<i64>, Vec<f64>)> {
        let all: Vec<usize> = (0..self.ndim()).collect();
        self.histogram_impl("histogram", bins.into(), range, &all)
    }

    /// The histograms over `axes`, one per position of the kept axes: lazy `i64` counts of
    /// shape `(kept axes..., n)` (a trailing bins axis) and the `n + 1` edges.
    ///
    /// # Errors
    /// As [`histogram`](Self::histogram), and [`Error::Axis`] for an axis out of range or
    /// repeated.
    pub fn histogram_axes(
        &self,
        bins: impl Into<HistogramBins>,
        range: Option<(f64, f64)>,
        axes: &[usize],
    ) -> Result<(ChunkedArray<i64>, Vec<f64>)> {
        self.histogram_impl("histogram_axes", bins.into(), range, axes)
    }

    fn histogram_impl(
        &self,
        op: &'static str,
        bins: HistogramBins,
        range: Option<(f64, f64)>,
        axes: &[usize],
    ) -> Result<(ChunkedArray<i64>, Vec<f64>)> {
        let axes = super::quantile::check_axes(op, axes, self.shape())?;
        let edges = edges_of::<T>(op, bins, range)?;
        let nb = edges.nbins();
        let grid = self.chunks();
        let mut out_axes: Vec<AxisChunks> = (0..self.ndim())
            .map(|a| match axes.contains(&a) {
                true => AxisChunks::regular(grid.axis(a).nblocks(), 1),
                false => grid.axis(a).clone(),
            })
            .collect();
        out_axes.push(AxisChunks::regular(nb, nb));
        let e = edges.0.clone();
        let f: Arc<dyn BlockFn> = Arc::new(HistPartialFn::<T> {
            edges: Arc::new(edges),
            axes: axes.clone(),
            _t: PhantomData,
        });
        let partials = ChunkedArray::<i64>::from_node(Node::new(
            ChunkGrid::new(out_axes),
            DType::I64,
            Op::Blocks {
                f,
                inputs: vec![self.node.clone()],
            },
        ));
        Ok((partials.sum_axes(&axes, false)?, e))
    }

    /// The bin of each element (`np.digitize(x, bins, right)`), lazy and elementwise: for
    /// increasing `bins`, `i` with `bins[i-1] <= x < bins[i]` (`bins[i-1] < x <= bins[i]` with
    /// `right`), 0 below and `bins.len()` above; for decreasing `bins` mirrored
    /// (`bins[i-1] > x >= bins[i]`). NaN gives `bins.len()` for increasing bins and 0 for
    /// decreasing ones, as NumPy.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for bins that are neither non-decreasing nor non-increasing,
    /// or hold NaN.
    pub fn digitize(&self, bins: &[f64], right: bool) -> Result<ChunkedArray<i64>> {
        let op = "digitize";
        if let Some(i) = bins.iter().position(|b| b.is_nan()) {
            return Err(Error::InvalidArgument {
                op,
                detail: format!("bin {i} is NaN; bins must be numbers"),
            });
        }
        let Some(decreasing) = monotonic(bins) else {
            return Err(Error::InvalidArgument {
                op,
                detail: format!(
                    "bins must be monotonically increasing or decreasing; got {bins:?}"
                ),
            });
        };
        let b: Arc<[f64]> = bins.into();
        Ok(self.mapv(move |x: T| digitize_one(x.to_f64_(), &b, right, decreasing)))
    }

    /// Counts of each value `0..minlength` of a 1-d array of non-negative integers
    /// (`np.bincount(x, minlength=minlength)`): lazy `i64` of shape `(minlength,)`.
    ///
    /// Unlike NumPy, the length is `minlength` exactly (it is fixed before the data are read):
    /// a value of `minlength` or more is an error when computed, as is a negative value.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a float array, an array that is not 1-d, or
    /// `minlength == 0`; when computed, for a negative value or one not below `minlength`.
    pub fn bincount(&self, minlength: usize) -> Result<ChunkedArray<i64>> {
        self.check_bincount(minlength)?;
        self.bincount_impl::<T, i64>(None, minlength)
    }

    /// The sums of `weights` per value `0..minlength` of a 1-d array of non-negative integers
    /// (`np.bincount(x, weights, minlength)`): lazy `f64` of shape `(minlength,)`.
    ///
    /// # Errors
    /// As [`bincount`](Self::bincount), and [`Error::Shape`] when `weights` has another shape.
    pub fn bincount_weighted<W: Numeric>(
        &self,
        weights: &ChunkedArray<W>,
        minlength: usize,
    ) -> Result<ChunkedArray<f64>> {
        self.check_bincount(minlength)?;
        if weights.shape() != self.shape() {
            return Err(Error::Shape {
                op: "bincount",
                detail: format!(
                    "the weights have shape {:?} but the values have shape {:?}",
                    weights.shape(),
                    self.shape()
                ),
            });
        }
        let w = weights.rechunk(self.chunks().clone())?;
        self.bincount_impl::<W, f64>(Some(&w.node), minlength)
    }

    fn check_bincount(&self, minlength: usize) -> Result<()> {
        let op = "bincount";
        let bad = |detail: String| Err(Error::InvalidArgument { op, detail });
        if T::IS_FLOAT {
            return bad(format!(
                "the values must be integers, not {} (cast them with astype)",
                T::DTYPE
            ));
        }
        if self.ndim() != 1 {
            return bad(format!(
                "the values must be a 1-d array; got shape {:?}",
                self.shape()
            ));
        }
        if minlength == 0 {
            return bad(
                "minlength must be at least 1: it is the length of the result, fixed before the \
                 data are read"
                    .into(),
            );
        }
        Ok(())
    }

    fn bincount_impl<W: Numeric, O: Element>(
        &self,
        weights: Option<&NodeRef>,
        minlength: usize,
    ) -> Result<ChunkedArray<O>> {
        let nblocks = self.chunks().axis(0).nblocks();
        let grid = ChunkGrid::new(vec![
            AxisChunks::regular(nblocks, 1),
            AxisChunks::regular(minlength, minlength),
        ]);
        let mut inputs = vec![self.node.clone()];
        inputs.extend(weights.cloned());
        let f: Arc<dyn BlockFn> = Arc::new(BincountFn::<T, W> {
            len: minlength,
            _t: PhantomData,
        });
        let partials = Node::new(grid, O::DTYPE, Op::Blocks { f, inputs });
        if O::DTYPE == DType::I64 {
            let p = ChunkedArray::<i64>::from_node(partials);
            Ok(ChunkedArray::from_node(p.sum_axis(0)?.node))
        } else {
            let p = ChunkedArray::<f64>::from_node(partials);
            Ok(ChunkedArray::from_node(p.sum_axis(0)?.node))
        }
    }
}
