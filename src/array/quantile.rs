//! Quantiles and medians over axes: `quantile*`, `nanquantile*`, `median*`, `nanmedian*`.
//!
//! Exact, as NumPy's `np.quantile(x, q, axis, method="linear")`: the reduced axes are rechunked
//! into one block (pencils: every lane whole, the kept axes cut so a pencil holds at most
//! 8 MiB), then one task per pencil partially sorts each lane (`select_nth_unstable`
//! at the few order statistics the quantiles need) and interpolates. Several quantiles are one
//! pass: their axis leads the result, as NumPy's.
//!
//! A single `q` far from 0.5 (each lane needing at most a quarter of its values) over reduced
//! axes cut into several blocks streams instead: a reduction keeping each lane's few largest
//! (or smallest) values ([`TopReducer`]), folded over the blocks as they are, no rechunk.

use super::ChunkedArray;
use crate::chunks::{AxisChunks, ChunkGrid, Region};
use crate::element::{AnyArray, AnyView, DType, Element, Numeric};
use crate::error::{Error, Result};
use crate::graph::blockfn::BlockFn;
use crate::graph::node::ReduceSpec;
use crate::graph::{Node, NodeRef, Op};
use crate::ops::quantile::{
    LaneSpec, LaneStat, TopReducer, scratch_bytes, stream_side, summarise_lanes, summarise_with,
};
use crate::ops::reduce::Reducer;
use ndarray::{ArrayD, Axis, IxDyn};
use std::marker::PhantomData;
use std::sync::Arc;

/// The most bytes of a pencil (a block holding whole lanes) the kept axes are cut to, unless
/// the input's own blocks are smaller: small enough that a task on one (the pencil, its
/// result and the lane buffers) fits small memory limits, large enough that a task's overhead
/// is nothing next to its sorting.
pub(crate) const PENCIL_BYTES: usize = 8 << 20;

/// Checks reduction axes: in range, no repeats; returns them sorted.
pub(super) fn check_axes(op: &'static str, axes: &[usize], shape: &[usize]) -> Result<Vec<usize>> {
    let mut v = axes.to_vec();
    if let Some(&a) = v.iter().find(|&&a| a >= shape.len()) {
        return Err(Error::Axis {
            op,
            detail: format!(
                "axis {a} is out of range for an array of shape {shape:?} ({} axes)",
                shape.len()
            ),
        });
    }
    v.sort_unstable();
    if let Some(w) = v.windows(2).find(|w| w[0] == w[1]) {
        return Err(Error::Axis {
            op,
            detail: format!("axis {} is repeated in {axes:?}", w[0]),
        });
    }
    Ok(v)
}

/// Checks every `q` is in `[0, 1]` (NaN is not).
fn check_q(op: &'static str, qs: &[f64]) -> Result<()> {
    match qs.iter().position(|q| !(0.0..=1.0).contains(q)) {
        None => Ok(()),
        Some(i) => Err(Error::InvalidArgument {
            op,
            detail: format!(
                "quantiles must be in the range [0, 1]; q[{i}] is {} (a percentile p is q = p / 100)",
                qs[i]
            ),
        }),
    }
}

/// The pencil grid of `grid` over the sorted `axes`: each of them one block, the kept axes
/// chunked no larger than the input's largest block and cut (outermost first) until a pencil
/// holds at most `target` bytes, or a single lane.
pub(crate) fn pencil_grid(
    grid: &ChunkGrid,
    axes: &[usize],
    itemsize: usize,
    target: usize,
) -> ChunkGrid {
    let shape = grid.shape();
    let lane: usize = axes.iter().map(|&a| shape[a]).product::<usize>().max(1);
    let mut chunk: Vec<usize> = (0..shape.len())
        .map(|a| {
            if axes.contains(&a) {
                shape[a].max(1)
            } else {
                grid.axis(a).max_size().max(1)
            }
        })
        .collect();
    let bytes = |c: &[usize]| -> usize {
        (0..c.len())
            .filter(|a| !axes.contains(a))
            .map(|a| c[a])
            .product::<usize>()
            .saturating_mul(lane)
            .saturating_mul(itemsize)
    };
    for a in (0..shape.len()).filter(|a| !axes.contains(a)) {
        if bytes(&chunk) <= target {
            break;
        }
        let others = bytes(&chunk) / chunk[a];
        chunk[a] = chunk[a].min((target / others.max(1)).max(1));
    }
    // Keep the input's chunks where they already fit (no rechunk along those axes).
    let axes_chunks = (0..shape.len())
        .map(|a| {
            let own = grid.axis(a);
            if !axes.contains(&a) && own.max_size() <= chunk[a] {
                own.clone()
            } else {
                AxisChunks::regular(shape[a], chunk[a])
            }
        })
        .collect();
    ChunkGrid::new(axes_chunks)
}

/// The block function of a quantile node: one output block per pencil.
struct QuantileFn<T> {
    name: String,
    spec: LaneSpec,
    /// Reduced axes of the input, sorted.
    axes: Vec<usize>,
    /// Whether the result has a leading quantile axis.
    q_axis: bool,
    _t: PhantomData<fn(T)>,
}

impl<T: Numeric> QuantileFn<T> {
    /// The input block index of output block `idx`.
    fn input_index(&self, input: &NodeRef, idx: &[usize]) -> Vec<usize> {
        let mut kept = idx[usize::from(self.q_axis)..].iter();
        (0..input.shape.len())
            .map(|a| match self.axes.contains(&a) {
                true => 0,
                false => *kept.next().expect("one output index per kept axis"),
            })
            .collect()
    }
}

impl<T: Numeric> BlockFn for QuantileFn<T> {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn deps(
        &self,
        inputs: &[NodeRef],
        _out: &ChunkGrid,
        idx: &[usize],
    ) -> Vec<(usize, Vec<usize>)> {
        vec![(0, self.input_index(&inputs[0], idx))]
    }

    fn scratch_bytes(&self, inputs: &[NodeRef], _out: &ChunkGrid, idx: &[usize]) -> usize {
        let input = &inputs[0];
        let shape = input.grid.block_shape(&self.input_index(input, idx));
        let n: usize = self.axes.iter().map(|&a| shape[a]).product();
        let all: usize = shape.iter().product();
        let m = all / n.max(1);
        // The lane buffer only: lanes are gathered from the block as it is (no copy).
        scratch_bytes(n, std::mem::size_of::<T>(), m)
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
        let block = super::blocks::typed_block::<T>("quantile", &deps[0])?;
        let ndim = block.ndim();
        let order: Vec<usize> = self
            .axes
            .iter()
            .copied()
            .chain((0..ndim).filter(|a| !self.axes.contains(a)))
            .collect();
        let lanes = block.view().permuted_axes(IxDyn(&order));
        let n: usize = self.axes.iter().map(|&a| block.shape()[a]).product();
        let m: usize = (0..ndim)
            .filter(|a| !self.axes.contains(a))
            .map(|a| block.shape()[a])
            .product();
        let nstat = self.spec.stat.count();
        let mut out = vec![<T::Mean as num_traits::Zero>::zero(); nstat * m];
        if n == 0 {
            out.fill(<T::Mean as num_traits::Float>::nan());
        } else if let Some(data) = lanes.as_slice() {
            summarise_lanes(data, n, m, &self.spec, &mut out);
        } else {
            // A strided view (of an in-memory array, or with the reduced axes not leading):
            // each lane read through the view, a tile at a time.
            let r = self.axes.len();
            let kept: Vec<usize> = lanes.shape()[r..].to_vec();
            let mut pos = vec![0usize; kept.len()];
            summarise_with(n, m, &self.spec, &mut out, |j0, w, buf: &mut [T]| {
                for l in 0..w {
                    let mut j = j0 + l;
                    for (p, &len) in pos.iter_mut().zip(&kept).rev() {
                        *p = j % len;
                        j /= len;
                    }
                    let mut lane = lanes.view();
                    for (k, &p) in pos.iter().enumerate().rev() {
                        lane.collapse_axis(Axis(r + k), p);
                    }
                    for (dst, &v) in buf[l * n..(l + 1) * n].iter_mut().zip(lane.iter()) {
                        *dst = v;
                    }
                }
            });
        }
        let arr = ArrayD::from_shape_vec(IxDyn(shape), out)
            .map_err(|e| Error::internal("quantile", e.to_string()))?;
        Ok(AnyArray::from(arr))
    }
}

/// Which statistic a quantile entry computes.
#[derive(Clone, Copy)]
enum Kind<'a> {
    Quantiles { qs: &'a [f64], q_axis: bool },
    Median,
}

impl<T: Numeric> ChunkedArray<T> {
    /// The one path of the quantile family.
    fn order_stat(
        &self,
        op: &'static str,
        kind: Kind<'_>,
        axes: Option<&[usize]>,
        skip_nan: bool,
    ) -> Result<ChunkedArray<T::Mean>> {
        let shape = self.shape().to_vec();
        let all: Vec<usize> = (0..shape.len()).collect();
        let axes = check_axes(op, axes.unwrap_or(&all), &shape)?;
        let n: usize = axes.iter().map(|&a| shape[a]).product();
        let (stat, q_axis, qdesc) = match kind {
            Kind::Quantiles { qs, q_axis } => {
                check_q(op, qs)?;
                if n == 0 {
                    return Err(Error::InvalidArgument {
                        op,
                        detail: format!(
                            "cannot take a quantile of zero elements (axes {axes:?} of shape \
                             {shape:?})"
                        ),
                    });
                }
                (
                    LaneStat::Quantiles(qs.to_vec()),
                    q_axis,
                    format!("q={qs:?}"),
                )
            }
            Kind::Median => (LaneStat::Median, false, String::new()),
        };
        if let LaneStat::Quantiles(qs) = &stat
            && let [q] = qs[..]
            && !q_axis
            && let Some(r) = self.stream_quantile(op, q, &axes, skip_nan)
        {
            return Ok(r);
        }
        let nstat = stat.count();
        let pencils = pencil_grid(self.chunks(), &axes, T::DTYPE.size(), PENCIL_BYTES);
        let input = self.rechunk(pencils)?;
        let name = format!(
            "{op}[{qdesc}{}axes={axes:?}, each lane of {n} values whole in one block]",
            if qdesc.is_empty() { "" } else { " " }
        );
        let mut out_axes: Vec<AxisChunks> = Vec::new();
        if q_axis {
            out_axes.push(AxisChunks::regular(nstat, nstat.max(1)));
        }
        out_axes.extend(
            (0..shape.len())
                .filter(|a| !axes.contains(a))
                .map(|a| input.chunks().axis(a).clone()),
        );
        let f: Arc<dyn BlockFn> = Arc::new(QuantileFn::<T> {
            name,
            spec: LaneSpec { stat, skip_nan },
            axes,
            q_axis,
            _t: PhantomData,
        });
        Ok(ChunkedArray::from_node(Node::new(
            ChunkGrid::new(out_axes),
            <T::Mean as Element>::DTYPE,
            Op::Blocks {
                f,
                inputs: vec![input.node.clone()],
            },
        )))
    }
}

impl<T: Numeric> ChunkedArray<T> {
    /// Quantile `q` over the sorted `axes` as a streaming reduction ([`TopReducer`]), when
    /// it pays: the reduced axes span several blocks (else the pencils need no rechunk) and
    /// `q` is far enough from 0.5 that each lane keeps at most a quarter of its values. `None`
    /// otherwise.
    fn stream_quantile(
        &self,
        op: &'static str,
        q: f64,
        axes: &[usize],
        skip_nan: bool,
    ) -> Option<ChunkedArray<T::Mean>> {
        let shape = self.shape();
        let grid = self.chunks();
        let n: usize = axes.iter().map(|&a| shape[a]).product();
        if n == 0 || axes.iter().all(|&a| grid.axis(a).nblocks() <= 1) {
            return None;
        }
        let (high, m) = stream_side(n, q);
        if 4 * m > n {
            return None;
        }
        let reducer: Arc<dyn Reducer> = Arc::new(TopReducer::<T> {
            name: format!(
                "{op}[q={q} axes={axes:?}, streaming: the {m} {} of each lane's {n} values kept]",
                if high { "largest" } else { "smallest" }
            ),
            q,
            skip_nan,
            high,
            m,
            _t: PhantomData,
        });
        let spec = ReduceSpec {
            input: self.node.clone(),
            axes: axes.to_vec(),
            keepdims: false,
            split_every: 4,
            reducer,
        };
        Some(ChunkedArray::from_node(Node::new(
            spec.out_grid(),
            <T::Mean as Element>::DTYPE,
            Op::Reduce(spec),
        )))
    }
}

/// # Quantiles and medians: `quantile`, `nanquantile`, `median`, `nanmedian`
///
/// Exact, NumPy's default `method="linear"` (`np.quantile(x, q, axis)`): for `n` values
/// sorted, quantile `q` sits at virtual index `(n - 1) q` and interpolates linearly between
/// its neighbours, with NumPy's arithmetic, so results equal NumPy's. A lane (the values
/// reduced for one output element) with a NaN gives NaN; the `nan*` forms leave NaN out, and
/// an all-NaN lane gives NaN. `median` is NumPy's: the middle value, or the mean of the two
/// middle ones.
///
/// Integers give `f64`, floats the same float type (computed in it: for `f32` as NumPy does
/// with a Python-float `q`). The `*_axes` forms take several quantiles in one pass, their axis
/// leading the result (NumPy's layout for a list of `q`).
///
/// The reduced axes are rechunked into one block, so each task holds whole lanes: pencils of
/// at most 8 MiB or one lane; a single lane must fit the memory limit, and
/// the plan check says so before anything runs when it does not. The one-`q` forms
/// (`quantile`, `quantile_axis` and their `nan` forms) with `q` far from 0.5 (the lanes'
/// `m` largest or smallest values needed, `4 m <= n`) stream instead when the reduced axes span
/// several blocks: each lane's `m` best values so far are kept (about `2 m` values per lane in
/// memory) and the blocks are folded in as they are read, with no rechunk; `explain()` shows
/// `streaming`.
///
/// ```
/// use chunkwise::prelude::*;
/// let rt = Runtime::builder().threads(2).build()?;
/// let x = ndarray::array![[1.0, 9.0], [4.0, f64::NAN], [2.0, 5.0], [3.0, 7.0]].into_dyn();
/// let x = ChunkedArray::from_ndarray(x, [1, 2])?;              // four blocks along axis 0
/// // np.quantile(x, 0.9, axis=0) and np.nanquantile(x, [0.25, 0.5], axis=0)
/// let p90 = x.quantile_axis(0.9, 0)?.compute(&rt)?;
/// assert!((p90[[0]] - 3.7).abs() < 1e-12 && p90[[1]].is_nan());
/// let q = x.nanquantile_axes(&[0.25, 0.5], &[0])?.compute(&rt)?;  // shape (2, 2)
/// assert_eq!(q, ndarray::array![[1.75, 6.0], [2.5, 7.0]].into_dyn());
/// assert_eq!(x.nanmedian_axis(1)?.compute(&rt)?, ndarray::array![5.0, 4.0, 3.5, 5.0].into_dyn());
/// let i = ChunkedArray::from_ndarray(ndarray::array![3i32, 1, 4, 2].into_dyn(), [2])?;
/// assert_eq!(i.median()?.compute_scalar(&rt)?, 2.5f64);          // integers give f64
/// assert!(x.quantile(1.5).is_err());                            // q outside [0, 1]
/// # Ok::<(), chunkwise::Error>(())
/// ```
impl<T: Numeric> ChunkedArray<T> {
    /// Quantile `q` (in `[0, 1]`) over all axes: a 0-d array.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for `q` outside `[0, 1]` or NaN, or an empty array.
    pub fn quantile(&self, q: f64) -> Result<ChunkedArray<T::Mean>> {
        let kind = Kind::Quantiles {
            qs: &[q],
            q_axis: false,
        };
        self.order_stat("quantile", kind, None, false)
    }

    /// Quantile `q` (in `[0, 1]`) along `axis` (`np.quantile(x, q, axis)`).
    ///
    /// # Errors
    /// [`Error::Axis`] for an axis out of range; [`Error::InvalidArgument`] for `q` outside
    /// `[0, 1]` or NaN, or an empty axis.
    pub fn quantile_axis(&self, q: f64, axis: usize) -> Result<ChunkedArray<T::Mean>> {
        let kind = Kind::Quantiles {
            qs: &[q],
            q_axis: false,
        };
        self.order_stat("quantile", kind, Some(&[axis]), false)
    }

    /// Quantiles `qs` over `axes` in one pass: shape `(qs.len(), kept axes...)`
    /// (`np.quantile(x, qs, axis=tuple(axes))`).
    ///
    /// # Errors
    /// [`Error::Axis`] for an axis out of range or repeated; [`Error::InvalidArgument`] for a
    /// `q` outside `[0, 1]` or NaN, or no element to reduce.
    pub fn quantile_axes(&self, qs: &[f64], axes: &[usize]) -> Result<ChunkedArray<T::Mean>> {
        let kind = Kind::Quantiles { qs, q_axis: true };
        self.order_stat("quantile", kind, Some(axes), false)
    }

    /// Quantile `q` of the non-NaN values over all axes (`np.nanquantile`): a 0-d array.
    ///
    /// # Errors
    /// As [`quantile`](Self::quantile).
    pub fn nanquantile(&self, q: f64) -> Result<ChunkedArray<T::Mean>> {
        let kind = Kind::Quantiles {
            qs: &[q],
            q_axis: false,
        };
        self.order_stat("nanquantile", kind, None, true)
    }

    /// Quantile `q` of the non-NaN values along `axis` (`np.nanquantile(x, q, axis)`).
    ///
    /// # Errors
    /// As [`quantile_axis`](Self::quantile_axis).
    pub fn nanquantile_axis(&self, q: f64, axis: usize) -> Result<ChunkedArray<T::Mean>> {
        let kind = Kind::Quantiles {
            qs: &[q],
            q_axis: false,
        };
        self.order_stat("nanquantile", kind, Some(&[axis]), true)
    }

    /// Quantiles `qs` of the non-NaN values over `axes` in one pass: shape
    /// `(qs.len(), kept axes...)`.
    ///
    /// # Errors
    /// As [`quantile_axes`](Self::quantile_axes).
    pub fn nanquantile_axes(&self, qs: &[f64], axes: &[usize]) -> Result<ChunkedArray<T::Mean>> {
        let kind = Kind::Quantiles { qs, q_axis: true };
        self.order_stat("nanquantile", kind, Some(axes), true)
    }

    /// Median over all axes (`np.median`): a 0-d array (NaN for an empty array, as NumPy).
    ///
    /// # Errors
    /// None today; the `Result` keeps the family's shape.
    pub fn median(&self) -> Result<ChunkedArray<T::Mean>> {
        self.order_stat("median", Kind::Median, None, false)
    }

    /// Median along `axis` (`np.median(x, axis)`).
    ///
    /// # Errors
    /// [`Error::Axis`] for an axis out of range.
    pub fn median_axis(&self, axis: usize) -> Result<ChunkedArray<T::Mean>> {
        self.order_stat("median", Kind::Median, Some(&[axis]), false)
    }

    /// Median over `axes` (`np.median(x, axis=tuple(axes))`).
    ///
    /// # Errors
    /// [`Error::Axis`] for an axis out of range or repeated.
    pub fn median_axes(&self, axes: &[usize]) -> Result<ChunkedArray<T::Mean>> {
        self.order_stat("median", Kind::Median, Some(axes), false)
    }

    /// Median of the non-NaN values over all axes (`np.nanmedian`): a 0-d array.
    ///
    /// # Errors
    /// None today; the `Result` keeps the family's shape.
    pub fn nanmedian(&self) -> Result<ChunkedArray<T::Mean>> {
        self.order_stat("nanmedian", Kind::Median, None, true)
    }

    /// Median of the non-NaN values along `axis`.
    ///
    /// # Errors
    /// [`Error::Axis`] for an axis out of range.
    pub fn nanmedian_axis(&self, axis: usize) -> Result<ChunkedArray<T::Mean>> {
        self.order_stat("nanmedian", Kind::Median, Some(&[axis]), true)
    }

    /// Median of the non-NaN values over `axes`.
    ///
    /// # Errors
    /// [`Error::Axis`] for an axis out of range or repeated.
    pub fn nanmedian_axes(&self, axes: &[usize]) -> Result<ChunkedArray<T::Mean>> {
        self.order_stat("nanmedian", Kind::Median, Some(axes), true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pencils_cut_outer_kept_axes_first() {
        // (730, 361, 720) f32 in daily chunks: lanes of 730 × 4 bytes, 8 MiB pencils.
        let g = ChunkGrid::regular(&[730, 361, 720], &[1, 361, 720]);
        let p = pencil_grid(&g, &[0], 4, PENCIL_BYTES);
        assert_eq!(p.chunk_shape(), vec![730, 3, 720]);
        // Already pencils that fit: unchanged.
        let g = ChunkGrid::regular(&[730, 361, 720], &[730, 19, 40]);
        assert_eq!(pencil_grid(&g, &[0], 4, PENCIL_BYTES), g);
        // A lane larger than the target: one lane per pencil.
        let g = ChunkGrid::regular(&[100, 4, 5], &[10, 4, 5]);
        assert_eq!(pencil_grid(&g, &[0], 8, 100).chunk_shape(), vec![100, 1, 1]);
    }
}
