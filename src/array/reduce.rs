//! Reductions: `sum`, `prod`, `mean`, `var`, `std`, `min`, `max`, arg-reductions, `any`,
//! `all`, `count_nonzero`, `count` and the NaN-skipping variants, over all axes, one axis or
//! several; and the cumulative scans.
//!
//! Every method is a thin named entry into one private path, `ChunkedArray::reduce`: a
//! `Reduction` names the operation, its `Rule` for edge cases and how to build its block
//! reducer, and `Over` says which axes it runs over. Each family of methods is one `impl`
//! block whose documentation (with an example) rustdoc shows above its methods.
//!
//! Result types follow NumPy: `sum`/`prod` of integers give `i64` (signed) or `u64`
//! (unsigned) and wrap on overflow; of floats the same float type, accumulated in `f64`.
//! `mean`/`var`/`std` of integers give `f64`, of floats the same float type (accumulated in
//! `f64`). `min`/`max` keep the type; arg-reductions give `i64` indices (along the axis, or
//! into the flattened array); `any`/`all` give `bool`; `count_nonzero` gives `i64`.
//!
//! Results are bit-identical for any thread count: the tree that combines block partials has
//! a fixed shape (`split_every` children per node, default 4).

use super::ChunkedArray;
use crate::element::{Element, Numeric};
use crate::error::{Error, Result};
use crate::graph::node::ReduceSpec;
use crate::graph::{Node, Op};
use crate::ops::mean::MeanReducer;
use crate::ops::reduce::{
    ArgReducer, CountState, ExtremeState, LogicState, MeanState, MomentOut, MomentState, ProdState,
    Reducer, StateReducer, SumState,
};
use crate::ops::scan::{ScanKind, ScanOp, TypedScan};
use std::marker::PhantomData;
use std::sync::Arc;

/// Options of a reduction over several axes (the `*_axes` methods).
///
/// Build it from the default, or from a `bool` (`keepdims`), which every `opts` parameter
/// also accepts:
///
/// ```
/// use chunkwise::ReduceOpts;
/// let o = ReduceOpts::default().keepdims(true).ddof(1.0);
/// assert_eq!((o.keepdims, o.ddof, o.split_every), (true, 1.0, 4));
/// assert_eq!(ReduceOpts::from(true), ReduceOpts::default().keepdims(true));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct ReduceOpts {
    /// Keep reduced axes as length-1 axes (NumPy's `keepdims`; default `false`).
    pub keepdims: bool,
    /// How many partials each combine task merges (default 4, at least 2).
    pub split_every: usize,
    /// Delta degrees of freedom of `var`/`std`/`nanvar`/`nanstd`: the divisor is `n - ddof`
    /// (NumPy's `ddof`; default 0, the population variance; 1 gives the sample variance).
    /// The other reductions refuse a nonzero `ddof` rather than ignore it.
    pub ddof: f64,
}

impl Default for ReduceOpts {
    fn default() -> Self {
        ReduceOpts {
            keepdims: false,
            split_every: 4,
            ddof: 0.0,
        }
    }
}

impl ReduceOpts {
    /// With reduced axes kept as length-1 axes (`true`) or dropped.
    pub fn keepdims(mut self, keepdims: bool) -> Self {
        self.keepdims = keepdims;
        self
    }

    /// With `n` partials merged per combine task (values below 2 count as 2).
    pub fn split_every(mut self, n: usize) -> Self {
        self.split_every = n;
        self
    }

    /// With `ddof` delta degrees of freedom (for `var`, `std`, `nanvar`, `nanstd` only).
    pub fn ddof(mut self, ddof: f64) -> Self {
        self.ddof = ddof;
        self
    }
}

impl From<bool> for ReduceOpts {
    /// `keepdims`.
    fn from(keepdims: bool) -> Self {
        ReduceOpts::default().keepdims(keepdims)
    }
}

/// Which axes a reduction runs over.
#[derive(Clone, Copy)]
enum Over<'a> {
    /// Every axis, default options (a 0-d result).
    All,
    /// One axis, default options.
    Axis(usize),
    /// Several axes with options.
    Axes(&'a [usize], ReduceOpts),
}

/// How a reduction treats an empty input and `ddof`.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum Rule {
    /// Any number of elements: none gives the identity (sum, mean, any, ...).
    Identity,
    /// At least one element (min, max).
    NoIdentity,
    /// At least one element, with NumPy's message for an empty array (argmin, ...).
    Arg,
    /// Variance-like: takes `ddof`. The NaN-skipping forms (`skip_nan`) give NaN where
    /// `ddof` is not below the count, the others refuse such a `ddof`.
    Moment { skip_nan: bool },
}

/// What a block reducer is built from.
pub(super) struct Setup<'a> {
    pub(super) name: &'static str,
    /// The axis of a one-axis reduction (arg-reductions index along it), else `None`.
    pub(super) axis: Option<usize>,
    pub(super) shape: &'a [usize],
    pub(super) ddof: f64,
}

/// One reduction with result type `O`: its name, rule and block reducer.
pub(super) struct Reduction<O> {
    pub(super) name: &'static str,
    pub(super) rule: Rule,
    pub(super) reducer: fn(&Setup<'_>) -> Arc<dyn Reducer>,
    _out: PhantomData<fn() -> O>,
}

impl<O> Reduction<O> {
    pub(super) fn new(
        name: &'static str,
        rule: Rule,
        reducer: fn(&Setup<'_>) -> Arc<dyn Reducer>,
    ) -> Self {
        Reduction {
            name,
            rule,
            reducer,
            _out: PhantomData,
        }
    }
}

/// Validates reduction axes: in range, no repeats; returns them sorted.
pub(super) fn check_axes(op: &'static str, axes: &[usize], shape: &[usize]) -> Result<Vec<usize>> {
    let mut v = axes.to_vec();
    for &a in &v {
        if a >= shape.len() {
            return Err(Error::Axis {
                op,
                detail: format!(
                    "axis {a} is out of range for an array of shape {shape:?} ({} axes)",
                    shape.len()
                ),
            });
        }
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

/// Checks `ddof` against the rule of reduction `op` over `n` elements.
fn check_ddof(op: &'static str, rule: Rule, ddof: f64, n: usize) -> Result<()> {
    let bad = match rule {
        Rule::Moment { skip_nan } => {
            let n = n as f64;
            ddof.is_nan() || ddof < 0.0 || (!skip_nan && ddof >= n && n > 0.0)
        }
        _ => ddof != 0.0,
    };
    if !bad {
        return Ok(());
    }
    let detail = match rule {
        Rule::Moment { .. } => {
            format!("ddof {ddof} must be >= 0 and smaller than the {n} elements reduced")
        }
        _ => format!("ddof {ddof} was given, but only var, std, nanvar and nanstd take a ddof"),
    };
    Err(Error::InvalidArgument { op, detail })
}

impl<T: Element> ChunkedArray<T> {
    /// The one path of every reduction: checks `ddof`, the axes and emptiness against the
    /// reduction's rule, then appends the reduction node.
    fn reduce<O: Element>(&self, r: Reduction<O>, over: Over<'_>) -> Result<ChunkedArray<O>> {
        let (op, shape) = (r.name, self.shape());
        let (axes, opts, axis) = match over {
            Over::All => ((0..self.ndim()).collect(), ReduceOpts::default(), None),
            Over::Axis(a) => (vec![a], ReduceOpts::default(), Some(a)),
            Over::Axes(a, o) => (a.to_vec(), o, None),
        };
        let n: usize = axes
            .iter()
            .filter(|&&a| a < shape.len())
            .map(|&a| shape[a])
            .product();
        check_ddof(op, r.rule, opts.ddof, n)?;
        if r.rule == Rule::Arg && matches!(over, Over::All) && n == 0 {
            return Err(Error::InvalidArgument {
                op,
                detail: format!("attempt to get {op} of an empty array of shape {shape:?}"),
            });
        }
        let axes = check_axes(op, &axes, shape)?;
        if matches!(r.rule, Rule::NoIdentity | Rule::Arg) && n == 0 {
            return Err(Error::InvalidArgument {
                op,
                detail: format!(
                    "zero-size reduction over axes {axes:?} of shape {shape:?}: {op} has no identity"
                ),
            });
        }
        let reducer = (r.reducer)(&Setup {
            name: op,
            axis,
            shape,
            ddof: opts.ddof,
        });
        let spec = ReduceSpec {
            input: self.node.clone(),
            axes,
            keepdims: opts.keepdims,
            split_every: opts.split_every.max(2),
            reducer,
        };
        Ok(ChunkedArray::from_node(Node::new(
            spec.out_grid(),
            O::DTYPE,
            Op::Reduce(spec),
        )))
    }

    /// A reduction with an identity over all axes, which has nothing to refuse.
    fn reduce_all<O: Element>(&self, r: Reduction<O>) -> ChunkedArray<O> {
        debug_assert!(r.rule == Rule::Identity || matches!(r.rule, Rule::Moment { .. }));
        self.reduce(r, Over::All)
            .unwrap_or_else(|e| unreachable!("a reduction with an identity over all axes: {e}"))
    }

    pub(super) fn count_nonzero_op() -> Reduction<i64> {
        Reduction::new("count_nonzero", Rule::Identity, |s| {
            StateReducer::<T, _>::arc(s.name, CountState(0))
        })
    }

    pub(super) fn any_op() -> Reduction<bool> {
        Reduction::new("any", Rule::Identity, |s| {
            StateReducer::<T, _>::arc(s.name, LogicState::<false>(false))
        })
    }

    pub(super) fn all_op() -> Reduction<bool> {
        Reduction::new("all", Rule::Identity, |s| {
            StateReducer::<T, _>::arc(s.name, LogicState::<true>(true))
        })
    }
}

/// The reductions of numeric arrays, named once each.
impl<T: Numeric> ChunkedArray<T> {
    pub(super) fn sum_op() -> Reduction<T::Sum> {
        Reduction::new("sum", Rule::Identity, |s| {
            StateReducer::<T, _>::arc(s.name, SumState::<T, false>(num_traits::zero()))
        })
    }

    pub(super) fn nansum_op() -> Reduction<T::Sum> {
        Reduction::new("nansum", Rule::Identity, |s| {
            StateReducer::<T, _>::arc(s.name, SumState::<T, true>(num_traits::zero()))
        })
    }

    pub(super) fn prod_op() -> Reduction<T::Sum> {
        Reduction::new("prod", Rule::Identity, |s| {
            StateReducer::<T, _>::arc(s.name, ProdState::<T>(num_traits::one()))
        })
    }

    pub(super) fn mean_op() -> Reduction<T::Mean> {
        Reduction::new("mean", Rule::Identity, |s| MeanReducer::<T>::arc(s.name))
    }

    pub(super) fn nanmean_op() -> Reduction<T::Mean> {
        Reduction::new("nanmean", Rule::Identity, |s| {
            StateReducer::<T, _>::arc(s.name, MeanState::<T, true>::new())
        })
    }

    pub(super) fn min_op() -> Reduction<T> {
        Reduction::new("min", Rule::NoIdentity, |s| {
            StateReducer::<T, _>::arc(s.name, ExtremeState::<T, false, false>::new())
        })
    }

    pub(super) fn max_op() -> Reduction<T> {
        Reduction::new("max", Rule::NoIdentity, |s| {
            StateReducer::<T, _>::arc(s.name, ExtremeState::<T, true, false>::new())
        })
    }

    pub(super) fn nanmin_op() -> Reduction<T> {
        Reduction::new("nanmin", Rule::NoIdentity, |s| {
            StateReducer::<T, _>::arc(s.name, ExtremeState::<T, false, true>::new())
        })
    }

    pub(super) fn nanmax_op() -> Reduction<T> {
        Reduction::new("nanmax", Rule::NoIdentity, |s| {
            StateReducer::<T, _>::arc(s.name, ExtremeState::<T, true, true>::new())
        })
    }

    pub(super) fn var_op() -> Reduction<T::Mean> {
        Reduction::new("var", Rule::Moment { skip_nan: false }, |s| {
            let out = MomentOut::Var { ddof: s.ddof };
            StateReducer::<T, _>::arc_with(s.name, MomentState::<T, false>::new(), out)
        })
    }

    pub(super) fn std_op() -> Reduction<T::Mean> {
        Reduction::new("std", Rule::Moment { skip_nan: false }, |s| {
            let out = MomentOut::Std { ddof: s.ddof };
            StateReducer::<T, _>::arc_with(s.name, MomentState::<T, false>::new(), out)
        })
    }

    pub(super) fn nanvar_op() -> Reduction<T::Mean> {
        Reduction::new("nanvar", Rule::Moment { skip_nan: true }, |s| {
            let out = MomentOut::Var { ddof: s.ddof };
            StateReducer::<T, _>::arc_with(s.name, MomentState::<T, true>::new(), out)
        })
    }

    pub(super) fn nanstd_op() -> Reduction<T::Mean> {
        Reduction::new("nanstd", Rule::Moment { skip_nan: true }, |s| {
            let out = MomentOut::Std { ddof: s.ddof };
            StateReducer::<T, _>::arc_with(s.name, MomentState::<T, true>::new(), out)
        })
    }

    pub(super) fn argmin_op() -> Reduction<i64> {
        Reduction::new("argmin", Rule::Arg, |s| Self::arg::<false, false>(s))
    }

    pub(super) fn argmax_op() -> Reduction<i64> {
        Reduction::new("argmax", Rule::Arg, |s| Self::arg::<true, false>(s))
    }

    pub(super) fn nanargmin_op() -> Reduction<i64> {
        Reduction::new("nanargmin", Rule::Arg, |s| Self::arg::<false, true>(s))
    }

    pub(super) fn nanargmax_op() -> Reduction<i64> {
        Reduction::new("nanargmax", Rule::Arg, |s| Self::arg::<true, true>(s))
    }

    fn arg<const MAX: bool, const SKIP_NAN: bool>(s: &Setup<'_>) -> Arc<dyn Reducer> {
        Arc::new(ArgReducer::<T, MAX, SKIP_NAN> {
            name: s.name,
            axis: s.axis,
            full_shape: s.shape.to_vec(),
            _t: PhantomData,
        })
    }

    /// The one path of the cumulative scans.
    fn scan(
        &self,
        name: &'static str,
        kind: ScanKind,
        axis: usize,
    ) -> Result<ChunkedArray<T::Sum>> {
        check_axes(name, &[axis], self.shape())?;
        let op: Arc<dyn ScanOp> = Arc::new(TypedScan::<T> {
            kind,
            _t: PhantomData,
        });
        Ok(ChunkedArray::from_node(Node::new(
            self.chunks().clone(),
            <T::Sum as Element>::DTYPE,
            Op::Scan {
                input: self.node.clone(),
                axis,
                op,
            },
        )))
    }
}

/// # Sums and products: `sum`, `nansum`, `prod`
///
/// Integers give `i64` (signed) or `u64` (unsigned), wrapping on overflow; floats give the same
/// float type, accumulated in `f64`. An empty reduction gives 0 (1 for `prod`).
///
/// ```
/// use chunkwise::prelude::*;
/// let rt = Runtime::builder().threads(1).build()?;
/// let x = ChunkedArray::from_ndarray(ndarray::array![[1i32, 2], [3, 4]].into_dyn(), [1, 2])?;
/// assert_eq!(x.sum().compute_scalar(&rt)?, 10i64);          // i32 sums to i64, as NumPy
/// assert_eq!(x.prod_axis(0)?.compute(&rt)?, ndarray::array![3i64, 8].into_dyn());
/// let y = ChunkedArray::from_ndarray(ndarray::array![1.5, f64::NAN].into_dyn(), [1])?;
/// assert!(y.sum().compute_scalar(&rt)?.is_nan());
/// assert_eq!(y.nansum_axes(&[0], true)?.compute(&rt)?, ndarray::array![1.5].into_dyn());
/// # Ok::<(), chunkwise::Error>(())
/// ```
impl<T: Numeric> ChunkedArray<T> {
    /// Sum of the elements (NaN propagates) over all axes: a 0-d array.
    pub fn sum(&self) -> ChunkedArray<T::Sum> {
        self.reduce_all(Self::sum_op())
    }

    /// Sum of the elements (NaN propagates) along `axis`.
    ///
    /// # Errors
    /// [`Error::Axis`] for an axis out of range.
    pub fn sum_axis(&self, axis: usize) -> Result<ChunkedArray<T::Sum>> {
        self.reduce(Self::sum_op(), Over::Axis(axis))
    }

    /// Sum of the elements (NaN propagates) over `axes`; `opts` is `keepdims` (a `bool`) or a
    /// [`ReduceOpts`].
    ///
    /// # Errors
    /// [`Error::Axis`] for an axis out of range or repeated; [`Error::InvalidArgument`] for a
    /// nonzero `opts.ddof`.
    pub fn sum_axes(
        &self,
        axes: &[usize],
        opts: impl Into<ReduceOpts>,
    ) -> Result<ChunkedArray<T::Sum>> {
        self.reduce(Self::sum_op(), Over::Axes(axes, opts.into()))
    }

    /// Sum of the elements, treating NaN as zero over all axes: a 0-d array.
    pub fn nansum(&self) -> ChunkedArray<T::Sum> {
        self.reduce_all(Self::nansum_op())
    }

    /// Sum of the elements, treating NaN as zero along `axis`.
    ///
    /// # Errors
    /// [`Error::Axis`] for an axis out of range.
    pub fn nansum_axis(&self, axis: usize) -> Result<ChunkedArray<T::Sum>> {
        self.reduce(Self::nansum_op(), Over::Axis(axis))
    }

    /// Sum of the elements, treating NaN as zero over `axes`; `opts` is `keepdims` (a `bool`) or a
    /// [`ReduceOpts`].
    ///
    /// # Errors
    /// [`Error::Axis`] for an axis out of range or repeated; [`Error::InvalidArgument`] for a
    /// nonzero `opts.ddof`.
    pub fn nansum_axes(
        &self,
        axes: &[usize],
        opts: impl Into<ReduceOpts>,
    ) -> Result<ChunkedArray<T::Sum>> {
        self.reduce(Self::nansum_op(), Over::Axes(axes, opts.into()))
    }

    /// Product of the elements (NaN propagates) over all axes: a 0-d array.
    pub fn prod(&self) -> ChunkedArray<T::Sum> {
        self.reduce_all(Self::prod_op())
    }

    /// Product of the elements (NaN propagates) along `axis`.
    ///
    /// # Errors
    /// [`Error::Axis`] for an axis out of range.
    pub fn prod_axis(&self, axis: usize) -> Result<ChunkedArray<T::Sum>> {
        self.reduce(Self::prod_op(), Over::Axis(axis))
    }

    /// Product of the elements (NaN propagates) over `axes`; `opts` is `keepdims` (a `bool`) or a
    /// [`ReduceOpts`].
    ///
    /// # Errors
    /// [`Error::Axis`] for an axis out of range or repeated; [`Error::InvalidArgument`] for a
    /// nonzero `opts.ddof`.
    pub fn prod_axes(
        &self,
        axes: &[usize],
        opts: impl Into<ReduceOpts>,
    ) -> Result<ChunkedArray<T::Sum>> {
        self.reduce(Self::prod_op(), Over::Axes(axes, opts.into()))
    }
}

/// # Means: `mean`, `nanmean`
///
/// Integers give `f64`, floats the same float type (accumulated in `f64`). An empty or all-NaN
/// reduction gives NaN, as NumPy (which also warns).
///
/// ```
/// use chunkwise::prelude::*;
/// let rt = Runtime::builder().threads(1).build()?;
/// let x = ChunkedArray::from_ndarray(ndarray::array![[1.0, 2.0], [3.0, f64::NAN]].into_dyn(), [1, 2])?;
/// assert_eq!(x.mean_axis(1)?.compute(&rt)?[[0]], 1.5);
/// assert!(x.mean().compute_scalar(&rt)?.is_nan());
/// assert_eq!(x.nanmean().compute_scalar(&rt)?, 2.0);
/// # Ok::<(), chunkwise::Error>(())
/// ```
impl<T: Numeric> ChunkedArray<T> {
    /// Arithmetic mean (NaN propagates) over all axes: a 0-d array.
    pub fn mean(&self) -> ChunkedArray<T::Mean> {
        self.reduce_all(Self::mean_op())
    }

    /// Arithmetic mean (NaN propagates) along `axis`.
    ///
    /// # Errors
    /// [`Error::Axis`] for an axis out of range.
    pub fn mean_axis(&self, axis: usize) -> Result<ChunkedArray<T::Mean>> {
        self.reduce(Self::mean_op(), Over::Axis(axis))
    }

    /// Arithmetic mean (NaN propagates) over `axes`; `opts` is `keepdims` (a `bool`) or a
    /// [`ReduceOpts`].
    ///
    /// # Errors
    /// [`Error::Axis`] for an axis out of range or repeated; [`Error::InvalidArgument`] for a
    /// nonzero `opts.ddof`.
    pub fn mean_axes(
        &self,
        axes: &[usize],
        opts: impl Into<ReduceOpts>,
    ) -> Result<ChunkedArray<T::Mean>> {
        self.reduce(Self::mean_op(), Over::Axes(axes, opts.into()))
    }

    /// Mean of the non-NaN elements over all axes: a 0-d array.
    pub fn nanmean(&self) -> ChunkedArray<T::Mean> {
        self.reduce_all(Self::nanmean_op())
    }

    /// Mean of the non-NaN elements along `axis`.
    ///
    /// # Errors
    /// [`Error::Axis`] for an axis out of range.
    pub fn nanmean_axis(&self, axis: usize) -> Result<ChunkedArray<T::Mean>> {
        self.reduce(Self::nanmean_op(), Over::Axis(axis))
    }

    /// Mean of the non-NaN elements over `axes`; `opts` is `keepdims` (a `bool`) or a
    /// [`ReduceOpts`].
    ///
    /// # Errors
    /// [`Error::Axis`] for an axis out of range or repeated; [`Error::InvalidArgument`] for a
    /// nonzero `opts.ddof`.
    pub fn nanmean_axes(
        &self,
        axes: &[usize],
        opts: impl Into<ReduceOpts>,
    ) -> Result<ChunkedArray<T::Mean>> {
        self.reduce(Self::nanmean_op(), Over::Axes(axes, opts.into()))
    }
}

/// # Extremes: `min`, `max`, `nanmin`, `nanmax`
///
/// The result keeps the element type. A reduction over no element is an error (it has no identity);
/// the NaN-skipping forms give NaN for an all-NaN slice.
///
/// ```
/// use chunkwise::prelude::*;
/// let rt = Runtime::builder().threads(1).build()?;
/// let x = ChunkedArray::from_ndarray(ndarray::array![[4.0, f64::NAN], [-1.0, 2.0]].into_dyn(), [1, 1])?;
/// assert!(x.max()?.compute_scalar(&rt)?.is_nan());
/// assert_eq!(x.nanmax()?.compute_scalar(&rt)?, 4.0);
/// assert_eq!(x.min_axis(1)?.compute(&rt)?[[1]], -1.0);
/// let empty = ChunkedArray::<f64>::zeros(&[0], [1])?;
/// assert!(matches!(empty.min(), Err(Error::InvalidArgument { .. })));
/// # Ok::<(), chunkwise::Error>(())
/// ```
impl<T: Numeric> ChunkedArray<T> {
    /// Minimum (NaN propagates) over all axes: a 0-d array.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for an array with no element (no identity).
    pub fn min(&self) -> Result<ChunkedArray<T>> {
        self.reduce(Self::min_op(), Over::All)
    }

    /// Minimum (NaN propagates) along `axis`.
    ///
    /// # Errors
    /// [`Error::Axis`] for an axis out of range; [`Error::InvalidArgument`] for an empty axis.
    pub fn min_axis(&self, axis: usize) -> Result<ChunkedArray<T>> {
        self.reduce(Self::min_op(), Over::Axis(axis))
    }

    /// Minimum (NaN propagates) over `axes`; `opts` is `keepdims` (a `bool`) or a [`ReduceOpts`].
    ///
    /// # Errors
    /// [`Error::Axis`] for an axis out of range or repeated; [`Error::InvalidArgument`] for a
    /// nonzero `opts.ddof` or when the reduced axes hold no element.
    pub fn min_axes(&self, axes: &[usize], opts: impl Into<ReduceOpts>) -> Result<ChunkedArray<T>> {
        self.reduce(Self::min_op(), Over::Axes(axes, opts.into()))
    }

    /// Maximum (NaN propagates) over all axes: a 0-d array.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for an array with no element (no identity).
    pub fn max(&self) -> Result<ChunkedArray<T>> {
        self.reduce(Self::max_op(), Over::All)
    }

    /// Maximum (NaN propagates) along `axis`.
    ///
    /// # Errors
    /// [`Error::Axis`] for an axis out of range; [`Error::InvalidArgument`] for an empty axis.
    pub fn max_axis(&self, axis: usize) -> Result<ChunkedArray<T>> {
        self.reduce(Self::max_op(), Over::Axis(axis))
    }

    /// Maximum (NaN propagates) over `axes`; `opts` is `keepdims` (a `bool`) or a [`ReduceOpts`].
    ///
    /// # Errors
    /// [`Error::Axis`] for an axis out of range or repeated; [`Error::InvalidArgument`] for a
    /// nonzero `opts.ddof` or when the reduced axes hold no element.
    pub fn max_axes(&self, axes: &[usize], opts: impl Into<ReduceOpts>) -> Result<ChunkedArray<T>> {
        self.reduce(Self::max_op(), Over::Axes(axes, opts.into()))
    }

    /// Minimum ignoring NaN over all axes: a 0-d array.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for an array with no element (no identity).
    pub fn nanmin(&self) -> Result<ChunkedArray<T>> {
        self.reduce(Self::nanmin_op(), Over::All)
    }

    /// Minimum ignoring NaN along `axis`.
    ///
    /// # Errors
    /// [`Error::Axis`] for an axis out of range; [`Error::InvalidArgument`] for an empty axis.
    pub fn nanmin_axis(&self, axis: usize) -> Result<ChunkedArray<T>> {
        self.reduce(Self::nanmin_op(), Over::Axis(axis))
    }

    /// Minimum ignoring NaN over `axes`; `opts` is `keepdims` (a `bool`) or a [`ReduceOpts`].
    ///
    /// # Errors
    /// [`Error::Axis`] for an axis out of range or repeated; [`Error::InvalidArgument`] for a
    /// nonzero `opts.ddof` or when the reduced axes hold no element.
    pub fn nanmin_axes(
        &self,
        axes: &[usize],
        opts: impl Into<ReduceOpts>,
    ) -> Result<ChunkedArray<T>> {
        self.reduce(Self::nanmin_op(), Over::Axes(axes, opts.into()))
    }

    /// Maximum ignoring NaN over all axes: a 0-d array.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for an array with no element (no identity).
    pub fn nanmax(&self) -> Result<ChunkedArray<T>> {
        self.reduce(Self::nanmax_op(), Over::All)
    }

    /// Maximum ignoring NaN along `axis`.
    ///
    /// # Errors
    /// [`Error::Axis`] for an axis out of range; [`Error::InvalidArgument`] for an empty axis.
    pub fn nanmax_axis(&self, axis: usize) -> Result<ChunkedArray<T>> {
        self.reduce(Self::nanmax_op(), Over::Axis(axis))
    }

    /// Maximum ignoring NaN over `axes`; `opts` is `keepdims` (a `bool`) or a [`ReduceOpts`].
    ///
    /// # Errors
    /// [`Error::Axis`] for an axis out of range or repeated; [`Error::InvalidArgument`] for a
    /// nonzero `opts.ddof` or when the reduced axes hold no element.
    pub fn nanmax_axes(
        &self,
        axes: &[usize],
        opts: impl Into<ReduceOpts>,
    ) -> Result<ChunkedArray<T>> {
        self.reduce(Self::nanmax_op(), Over::Axes(axes, opts.into()))
    }
}

/// # Truth tests: `count_nonzero`, `any`, `all`
///
/// Nonzero means `true` for `bool` and anything but 0 otherwise (NaN counts as nonzero, as in
/// NumPy). `count_nonzero` gives `i64`, `any`/`all` give `bool`; over no element they give 0,
/// `false` and `true`.
///
/// ```
/// use chunkwise::prelude::*;
/// let rt = Runtime::builder().threads(1).build()?;
/// let x = ChunkedArray::from_ndarray(ndarray::array![[0i32, 5], [0, 0]].into_dyn(), [1, 2])?;
/// assert_eq!(x.count_nonzero().compute_scalar(&rt)?, 1);
/// assert_eq!(x.any_axis(1)?.compute(&rt)?, ndarray::array![true, false].into_dyn());
/// assert!(!x.all().compute_scalar(&rt)?);
/// # Ok::<(), chunkwise::Error>(())
/// ```
impl<T: Element> ChunkedArray<T> {
    /// Number of nonzero (`true`) elements over all axes: a 0-d array.
    pub fn count_nonzero(&self) -> ChunkedArray<i64> {
        self.reduce_all(Self::count_nonzero_op())
    }

    /// Number of nonzero (`true`) elements along `axis`.
    ///
    /// # Errors
    /// [`Error::Axis`] for an axis out of range.
    pub fn count_nonzero_axis(&self, axis: usize) -> Result<ChunkedArray<i64>> {
        self.reduce(Self::count_nonzero_op(), Over::Axis(axis))
    }

    /// Number of nonzero (`true`) elements over `axes`; `opts` is `keepdims` (a `bool`) or a
    /// [`ReduceOpts`].
    ///
    /// # Errors
    /// [`Error::Axis`] for an axis out of range or repeated; [`Error::InvalidArgument`] for a
    /// nonzero `opts.ddof`.
    pub fn count_nonzero_axes(
        &self,
        axes: &[usize],
        opts: impl Into<ReduceOpts>,
    ) -> Result<ChunkedArray<i64>> {
        self.reduce(Self::count_nonzero_op(), Over::Axes(axes, opts.into()))
    }

    /// Whether any element is nonzero (`true`) over all axes: a 0-d array.
    pub fn any(&self) -> ChunkedArray<bool> {
        self.reduce_all(Self::any_op())
    }

    /// Whether any element is nonzero (`true`) along `axis`.
    ///
    /// # Errors
    /// [`Error::Axis`] for an axis out of range.
    pub fn any_axis(&self, axis: usize) -> Result<ChunkedArray<bool>> {
        self.reduce(Self::any_op(), Over::Axis(axis))
    }

    /// Whether any element is nonzero (`true`) over `axes`; `opts` is `keepdims` (a `bool`) or a
    /// [`ReduceOpts`].
    ///
    /// # Errors
    /// [`Error::Axis`] for an axis out of range or repeated; [`Error::InvalidArgument`] for a
    /// nonzero `opts.ddof`.
    pub fn any_axes(
        &self,
        axes: &[usize],
        opts: impl Into<ReduceOpts>,
    ) -> Result<ChunkedArray<bool>> {
        self.reduce(Self::any_op(), Over::Axes(axes, opts.into()))
    }

    /// Whether every element is nonzero (`true`) over all axes: a 0-d array.
    pub fn all(&self) -> ChunkedArray<bool> {
        self.reduce_all(Self::all_op())
    }

    /// Whether every element is nonzero (`true`) along `axis`.
    ///
    /// # Errors
    /// [`Error::Axis`] for an axis out of range.
    pub fn all_axis(&self, axis: usize) -> Result<ChunkedArray<bool>> {
        self.reduce(Self::all_op(), Over::Axis(axis))
    }

    /// Whether every element is nonzero (`true`) over `axes`; `opts` is `keepdims` (a `bool`) or a
    /// [`ReduceOpts`].
    ///
    /// # Errors
    /// [`Error::Axis`] for an axis out of range or repeated; [`Error::InvalidArgument`] for a
    /// nonzero `opts.ddof`.
    pub fn all_axes(
        &self,
        axes: &[usize],
        opts: impl Into<ReduceOpts>,
    ) -> Result<ChunkedArray<bool>> {
        self.reduce(Self::all_op(), Over::Axes(axes, opts.into()))
    }
}

/// # Variance and standard deviation: `var`, `std`, `nanvar`, `nanstd`
///
/// `Σ(x - mean)² / (n - ddof)` and its square root. Over all axes and along one axis they use
/// `ddof = 0`, NumPy's default (the population variance, as `mean` needs none); the `*_axes`
/// forms take any `ddof` through [`ReduceOpts::ddof`] (`ddof = 1` for the sample variance,
/// NumPy's `std(ddof=1)`). Integers give `f64`, floats the same float type. An empty
/// reduction gives NaN; the NaN-skipping forms give NaN where fewer than `ddof + 1` values
/// remain.
///
/// ```
/// use chunkwise::prelude::*;
/// let rt = Runtime::builder().threads(1).build()?;
/// let x = ChunkedArray::from_ndarray(ndarray::array![[1.0f64, 3.0], [2.0, 6.0]].into_dyn(), [1, 2])?;
/// assert_eq!(x.var_axis(1)?.compute(&rt)?, ndarray::array![1.0, 4.0].into_dyn());
/// assert_eq!(x.std_axis(0)?.compute(&rt)?, ndarray::array![0.5, 1.5].into_dyn());
/// let sample = x.var_axes(&[0, 1], ReduceOpts::default().ddof(1.0))?;  // np.var(x, ddof=1)
/// assert!((sample.compute_scalar(&rt)? - 14.0 / 3.0).abs() < 1e-12);
/// assert!(x.nanstd().compute_scalar(&rt)? > 0.0);
/// # Ok::<(), chunkwise::Error>(())
/// ```
impl<T: Numeric> ChunkedArray<T> {
    /// Variance over all axes (`ddof = 0`): a 0-d array.
    pub fn var(&self) -> ChunkedArray<T::Mean> {
        self.reduce_all(Self::var_op())
    }

    /// Variance along `axis` (`ddof = 0`).
    ///
    /// # Errors
    /// [`Error::Axis`] for an axis out of range.
    pub fn var_axis(&self, axis: usize) -> Result<ChunkedArray<T::Mean>> {
        self.reduce(Self::var_op(), Over::Axis(axis))
    }

    /// Variance over `axes` with `opts.ddof`; `opts` is `keepdims` (a `bool`) or a
    /// [`ReduceOpts`].
    ///
    /// # Errors
    /// [`Error::Axis`] for an axis out of range or repeated; [`Error::InvalidArgument`] for a
    /// `ddof` that is negative, NaN or not smaller than the number of elements reduced.
    pub fn var_axes(
        &self,
        axes: &[usize],
        opts: impl Into<ReduceOpts>,
    ) -> Result<ChunkedArray<T::Mean>> {
        self.reduce(Self::var_op(), Over::Axes(axes, opts.into()))
    }

    /// Standard deviation over all axes (`ddof = 0`): a 0-d array.
    pub fn std(&self) -> ChunkedArray<T::Mean> {
        self.reduce_all(Self::std_op())
    }

    /// Standard deviation along `axis` (`ddof = 0`).
    ///
    /// # Errors
    /// [`Error::Axis`] for an axis out of range.
    pub fn std_axis(&self, axis: usize) -> Result<ChunkedArray<T::Mean>> {
        self.reduce(Self::std_op(), Over::Axis(axis))
    }

    /// Standard deviation over `axes` with `opts.ddof`; `opts` is `keepdims` (a `bool`) or a
    /// [`ReduceOpts`].
    ///
    /// # Errors
    /// [`Error::Axis`] for an axis out of range or repeated; [`Error::InvalidArgument`] for a
    /// `ddof` that is negative, NaN or not smaller than the number of elements reduced.
    pub fn std_axes(
        &self,
        axes: &[usize],
        opts: impl Into<ReduceOpts>,
    ) -> Result<ChunkedArray<T::Mean>> {
        self.reduce(Self::std_op(), Over::Axes(axes, opts.into()))
    }

    /// Variance of the non-NaN elements over all axes (`ddof = 0`): a 0-d array.
    pub fn nanvar(&self) -> ChunkedArray<T::Mean> {
        self.reduce_all(Self::nanvar_op())
    }

    /// Variance of the non-NaN elements along `axis` (`ddof = 0`).
    ///
    /// # Errors
    /// [`Error::Axis`] for an axis out of range.
    pub fn nanvar_axis(&self, axis: usize) -> Result<ChunkedArray<T::Mean>> {
        self.reduce(Self::nanvar_op(), Over::Axis(axis))
    }

    /// Variance of the non-NaN elements over `axes` with `opts.ddof` (NaN where fewer than
    /// `ddof + 1` remain); `opts` is `keepdims` (a `bool`) or a [`ReduceOpts`].
    ///
    /// # Errors
    /// [`Error::Axis`] for an axis out of range or repeated; [`Error::InvalidArgument`] for a
    /// negative or NaN `ddof`.
    pub fn nanvar_axes(
        &self,
        axes: &[usize],
        opts: impl Into<ReduceOpts>,
    ) -> Result<ChunkedArray<T::Mean>> {
        self.reduce(Self::nanvar_op(), Over::Axes(axes, opts.into()))
    }

    /// Standard deviation of the non-NaN elements over all axes (`ddof = 0`): a 0-d array.
    pub fn nanstd(&self) -> ChunkedArray<T::Mean> {
        self.reduce_all(Self::nanstd_op())
    }

    /// Standard deviation of the non-NaN elements along `axis` (`ddof = 0`).
    ///
    /// # Errors
    /// [`Error::Axis`] for an axis out of range.
    pub fn nanstd_axis(&self, axis: usize) -> Result<ChunkedArray<T::Mean>> {
        self.reduce(Self::nanstd_op(), Over::Axis(axis))
    }

    /// Standard deviation of the non-NaN elements over `axes` with `opts.ddof` (NaN where
    /// fewer than `ddof + 1` remain); `opts` is `keepdims` (a `bool`) or a [`ReduceOpts`].
    ///
    /// # Errors
    /// [`Error::Axis`] for an axis out of range or repeated; [`Error::InvalidArgument`] for a
    /// negative or NaN `ddof`.
    pub fn nanstd_axes(
        &self,
        axes: &[usize],
        opts: impl Into<ReduceOpts>,
    ) -> Result<ChunkedArray<T::Mean>> {
        self.reduce(Self::nanstd_op(), Over::Axes(axes, opts.into()))
    }
}

/// # Positions of extremes: `argmin`, `argmax`, `nanargmin`, `nanargmax`
///
/// `i64` indices of the first extreme: over all axes into the flattened (C-order) array, along
/// one axis along it. The plain forms return the first NaN if there is one (as NumPy); the
/// NaN-skipping forms ignore NaN, and an all-NaN slice is an error when computed. An empty
/// array or axis is an error.
///
/// ```
/// use chunkwise::prelude::*;
/// let rt = Runtime::builder().threads(1).build()?;
/// let x = ChunkedArray::from_ndarray(ndarray::array![[3.0, 9.0], [f64::NAN, 1.0]].into_dyn(), [1, 1])?;
/// assert_eq!(x.argmax()?.compute_scalar(&rt)?, 2);          // the NaN, flattened index
/// assert_eq!(x.nanargmax()?.compute_scalar(&rt)?, 1);
/// assert_eq!(x.argmin_axis(1)?.compute(&rt)?, ndarray::array![0i64, 0].into_dyn());
/// assert_eq!(x.nanargmin_axis(0)?.compute(&rt)?, ndarray::array![0i64, 1].into_dyn());
/// # Ok::<(), chunkwise::Error>(())
/// ```
impl<T: Numeric> ChunkedArray<T> {
    /// Index of the first minimum (the first NaN if any) into the flattened array: a 0-d array.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for an empty array.
    pub fn argmin(&self) -> Result<ChunkedArray<i64>> {
        self.reduce(Self::argmin_op(), Over::All)
    }

    /// Index of the first minimum (the first NaN if any) along `axis`.
    ///
    /// # Errors
    /// [`Error::Axis`] for an axis out of range; [`Error::InvalidArgument`] for an empty axis.
    pub fn argmin_axis(&self, axis: usize) -> Result<ChunkedArray<i64>> {
        self.reduce(Self::argmin_op(), Over::Axis(axis))
    }

    /// Index of the first maximum (the first NaN if any) into the flattened array: a 0-d array.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for an empty array.
    pub fn argmax(&self) -> Result<ChunkedArray<i64>> {
        self.reduce(Self::argmax_op(), Over::All)
    }

    /// Index of the first maximum (the first NaN if any) along `axis`.
    ///
    /// # Errors
    /// [`Error::Axis`] for an axis out of range; [`Error::InvalidArgument`] for an empty axis.
    pub fn argmax_axis(&self, axis: usize) -> Result<ChunkedArray<i64>> {
        self.reduce(Self::argmax_op(), Over::Axis(axis))
    }

    /// Index of the first minimum ignoring NaN into the flattened array: a 0-d array.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for an empty array (an all-NaN one fails when computed).
    pub fn nanargmin(&self) -> Result<ChunkedArray<i64>> {
        self.reduce(Self::nanargmin_op(), Over::All)
    }

    /// Index of the first minimum ignoring NaN along `axis`.
    ///
    /// # Errors
    /// [`Error::Axis`] for an axis out of range; [`Error::InvalidArgument`] for an empty axis.
    pub fn nanargmin_axis(&self, axis: usize) -> Result<ChunkedArray<i64>> {
        self.reduce(Self::nanargmin_op(), Over::Axis(axis))
    }

    /// Index of the first maximum ignoring NaN into the flattened array: a 0-d array.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for an empty array (an all-NaN one fails when computed).
    pub fn nanargmax(&self) -> Result<ChunkedArray<i64>> {
        self.reduce(Self::nanargmax_op(), Over::All)
    }

    /// Index of the first maximum ignoring NaN along `axis`.
    ///
    /// # Errors
    /// [`Error::Axis`] for an axis out of range; [`Error::InvalidArgument`] for an empty axis.
    pub fn nanargmax_axis(&self, axis: usize) -> Result<ChunkedArray<i64>> {
        self.reduce(Self::nanargmax_op(), Over::Axis(axis))
    }
}

/// # Counting valid values: `count` (xarray's)
///
/// The number of values that are not NaN, as `i64`; for integer arrays every element counts.
///
/// ```
/// use chunkwise::prelude::*;
/// let rt = Runtime::builder().threads(1).build()?;
/// let x = ndarray::array![[1.0, f64::NAN], [3.0, 4.0]].into_dyn();
/// let x = ChunkedArray::from_ndarray(x, [1, 2])?;
/// assert_eq!(x.count().compute_scalar(&rt)?, 3);
/// assert_eq!(x.count_axis(1)?.compute(&rt)?, ndarray::array![1i64, 2].into_dyn());
/// # Ok::<(), chunkwise::Error>(())
/// ```
impl<T: Numeric> ChunkedArray<T> {
    /// Number of values that are not NaN over all axes (xarray's `count`): a 0-d array.
    pub fn count(&self) -> ChunkedArray<i64> {
        self.is_nan().not().count_nonzero()
    }

    /// Number of values that are not NaN along `axis` (xarray's `count(dim)`).
    ///
    /// # Errors
    /// [`Error::Axis`] for an axis out of range.
    pub fn count_axis(&self, axis: usize) -> Result<ChunkedArray<i64>> {
        self.is_nan().not().count_nonzero_axis(axis)
    }

    /// Number of values that are not NaN over `axes`; `opts` is `keepdims` (a `bool`) or a
    /// [`ReduceOpts`].
    ///
    /// # Errors
    /// [`Error::Axis`] for an axis out of range or repeated; [`Error::InvalidArgument`] for a
    /// nonzero `opts.ddof`.
    pub fn count_axes(
        &self,
        axes: &[usize],
        opts: impl Into<ReduceOpts>,
    ) -> Result<ChunkedArray<i64>> {
        self.is_nan().not().count_nonzero_axes(axes, opts)
    }
}

/// # Cumulative scans: `cumsum`, `cumprod`, `nancumsum`
///
/// Along one axis, with the result type of [`ChunkedArray::sum`] (`i64`/`u64` for integers,
/// wrapping). Blocks along `axis` are chained: each continues from the previous one's last
/// slice, so every input block is read once.
///
/// ```
/// use chunkwise::prelude::*;
/// let rt = Runtime::builder().threads(1).build()?;
/// let x = ChunkedArray::from_ndarray(ndarray::array![1.0, 2.0, f64::NAN, 4.0].into_dyn(), [2])?;
/// assert_eq!(x.nancumsum(0)?.compute(&rt)?, ndarray::array![1.0, 3.0, 3.0, 7.0].into_dyn());
/// assert!(x.cumsum(0)?.compute(&rt)?[[3]].is_nan());
/// let y = ChunkedArray::from_ndarray(ndarray::array![[1u8, 2], [3, 4]].into_dyn(), [1, 1])?;
/// assert_eq!(y.cumprod(1)?.compute(&rt)?, ndarray::array![[1u64, 2], [3, 12]].into_dyn());
/// # Ok::<(), chunkwise::Error>(())
/// ```
impl<T: Numeric> ChunkedArray<T> {
    /// Cumulative sum along `axis` (NaN propagates).
    ///
    /// # Errors
    /// [`Error::Axis`] for an axis out of range.
    pub fn cumsum(&self, axis: usize) -> Result<ChunkedArray<T::Sum>> {
        self.scan("cumsum", ScanKind::Sum, axis)
    }

    /// Cumulative product along `axis`.
    ///
    /// # Errors
    /// [`Error::Axis`] for an axis out of range.
    pub fn cumprod(&self, axis: usize) -> Result<ChunkedArray<T::Sum>> {
        self.scan("cumprod", ScanKind::Prod, axis)
    }

    /// Cumulative sum along `axis`, treating NaN as zero.
    ///
    /// # Errors
    /// [`Error::Axis`] for an axis out of range.
    pub fn nancumsum(&self, axis: usize) -> Result<ChunkedArray<T::Sum>> {
        self.scan("nancumsum", ScanKind::NanSum, axis)
    }
}
