//! Reductions: `sum`, `prod`, `mean`, `var`, `std`, `min`, `max`, arg-reductions, `any`,
//! `all`, `count_nonzero` and the NaN-skipping variants, over all axes, one axis or several.
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
use crate::ops::reduce::{
    ArgReducer, CountState, ExtremeState, LogicState, MeanState, MomentOut, MomentState, ProdState,
    Reducer, StateReducer, SumState,
};
use std::marker::PhantomData;
use std::sync::Arc;

/// Options of a reduction over several axes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReduceOpts {
    /// Keep reduced axes as length-1 axes (NumPy's `keepdims`).
    pub keepdims: bool,
    /// How many partials each combine task merges (default 4, at least 2).
    pub split_every: usize,
}

impl Default for ReduceOpts {
    fn default() -> Self {
        ReduceOpts {
            keepdims: false,
            split_every: 4,
        }
    }
}

impl From<bool> for ReduceOpts {
    /// `keepdims`.
    fn from(keepdims: bool) -> Self {
        ReduceOpts {
            keepdims,
            ..Default::default()
        }
    }
}

/// Validates reduction axes: in range, no repeats; returns them sorted.
fn check_axes(op: &'static str, axes: &[usize], shape: &[usize]) -> Result<Vec<usize>> {
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

impl<T: Element> ChunkedArray<T> {
    /// The reduction node over `axes` (already validated).
    fn reduce_node<O: Element>(
        &self,
        axes: Vec<usize>,
        opts: ReduceOpts,
        reducer: Arc<dyn Reducer>,
    ) -> ChunkedArray<O> {
        let spec = ReduceSpec {
            input: self.node.clone(),
            axes,
            keepdims: opts.keepdims,
            split_every: opts.split_every.max(2),
            reducer,
        };
        ChunkedArray::from_node(Node::new(spec.out_grid(), O::DTYPE, Op::Reduce(spec)))
    }

    fn reduce_checked<O: Element>(
        &self,
        op: &'static str,
        axes: Option<&[usize]>,
        opts: ReduceOpts,
        nonempty: bool,
        reducer: Arc<dyn Reducer>,
    ) -> Result<ChunkedArray<O>> {
        let axes = match axes {
            Some(a) => check_axes(op, a, self.shape())?,
            None => (0..self.ndim()).collect(),
        };
        if nonempty {
            let n: usize = axes.iter().map(|&a| self.shape()[a]).product();
            if n == 0 {
                return Err(Error::InvalidArgument {
                    op,
                    detail: format!(
                        "zero-size reduction over axes {axes:?} of shape {:?}: {op} has no identity",
                        self.shape()
                    ),
                });
            }
        }
        Ok(self.reduce_node(axes, opts, reducer))
    }

    fn reduced_len(&self, axes: Option<&[usize]>) -> usize {
        match axes {
            Some(a) => a
                .iter()
                .filter(|&&x| x < self.ndim())
                .map(|&x| self.shape()[x])
                .product(),
            None => self.len(),
        }
    }
}

macro_rules! reduction_family {
    (@all_fallible $bound:ident, $out:ty, $mk:expr;
     $($(#[$doc:meta])* $all:ident, $axis:ident, $axes:ident, $name:literal);* $(;)?) => {
        impl<T: $bound> ChunkedArray<T> {
            $(
                $(#[$doc])*
                ///
                /// Over all axes (a 0-d result).
                ///
                /// # Errors
                /// [`Error::InvalidArgument`] for an array with no element (as NumPy: the
                /// reduction has no identity).
                pub fn $all(&self) -> Result<ChunkedArray<$out>> {
                    self.reduce_checked($name, None, ReduceOpts::default(), true, $mk($name))
                }

                $(#[$doc])*
                ///
                /// Over one axis.
                ///
                /// # Errors
                /// [`Error::Axis`] for an axis out of range; [`Error::InvalidArgument`] for an
                /// empty axis.
                pub fn $axis(&self, axis: usize) -> Result<ChunkedArray<$out>> {
                    self.reduce_checked($name, Some(&[axis]), ReduceOpts::default(), true, $mk($name))
                }

                $(#[$doc])*
                ///
                /// Over several axes; `opts` is `keepdims` (a `bool`) or a [`ReduceOpts`].
                ///
                /// # Errors
                /// [`Error::Axis`] for an axis out of range or repeated;
                /// [`Error::InvalidArgument`] when the reduced axes hold no element.
                pub fn $axes(&self, axes: &[usize], opts: impl Into<ReduceOpts>) -> Result<ChunkedArray<$out>> {
                    self.reduce_checked($name, Some(axes), opts.into(), true, $mk($name))
                }
            )*
        }
    };
    ($bound:ident, $out:ty, $nonempty:expr, $mk:expr;
     $($(#[$doc:meta])* $all:ident, $axis:ident, $axes:ident, $name:literal);* $(;)?) => {
        impl<T: $bound> ChunkedArray<T> {
            $(
                $(#[$doc])*
                ///
                /// Over all axes (a 0-d result).
                pub fn $all(&self) -> ChunkedArray<$out> {
                    self.reduce_checked($name, None, ReduceOpts::default(), false, $mk($name))
                        .unwrap_or_else(|_| unreachable!("no axis to check"))
                }

                $(#[$doc])*
                ///
                /// Over one axis.
                ///
                /// # Errors
                /// [`Error::Axis`] for an axis out of range.
                pub fn $axis(&self, axis: usize) -> Result<ChunkedArray<$out>> {
                    self.reduce_checked($name, Some(&[axis]), ReduceOpts::default(), $nonempty, $mk($name))
                }

                $(#[$doc])*
                ///
                /// Over several axes; `opts` is `keepdims` (a `bool`) or a [`ReduceOpts`].
                ///
                /// # Errors
                /// [`Error::Axis`] for an axis out of range or repeated.
                pub fn $axes(&self, axes: &[usize], opts: impl Into<ReduceOpts>) -> Result<ChunkedArray<$out>> {
                    self.reduce_checked($name, Some(axes), opts.into(), $nonempty, $mk($name))
                }
            )*
        }
    };
}

reduction_family!(Numeric, T::Sum, false, |n| StateReducer::<T, _>::arc(n, SumState::<T, false>(<T::Acc as num_traits::Zero>::zero()));
    /// Sum of the elements (NaN propagates).
    sum, sum_axis, sum_axes, "sum");
reduction_family!(Numeric, T::Sum, false, |n| StateReducer::<T, _>::arc(n, SumState::<T, true>(<T::Acc as num_traits::Zero>::zero()));
    /// Sum of the elements, treating NaN as zero.
    nansum, nansum_axis, nansum_axes, "nansum");
reduction_family!(Numeric, T::Sum, false, |n| StateReducer::<T, _>::arc(n, ProdState::<T>(<T::Acc as num_traits::One>::one()));
    /// Product of the elements.
    prod, prod_axis, prod_axes, "prod");
reduction_family!(Numeric, T::Mean, false, |n| StateReducer::<T, _>::arc(n, MeanState::<T, false>::new());
    /// Arithmetic mean (NaN for an empty reduction).
    mean, mean_axis, mean_axes, "mean");
reduction_family!(Numeric, T::Mean, false, |n| StateReducer::<T, _>::arc(n, MeanState::<T, true>::new());
    /// Mean of the non-NaN elements (NaN for an all-NaN slice).
    nanmean, nanmean_axis, nanmean_axes, "nanmean");
reduction_family!(@all_fallible Numeric, T, |n| StateReducer::<T, _>::arc(n, ExtremeState::<T, false, false>::new());
    /// Minimum (NaN propagates). An empty reduction is an error.
    min, min_axis, min_axes, "min");
reduction_family!(@all_fallible Numeric, T, |n| StateReducer::<T, _>::arc(n, ExtremeState::<T, true, false>::new());
    /// Maximum (NaN propagates). An empty reduction is an error.
    max, max_axis, max_axes, "max");
reduction_family!(@all_fallible Numeric, T, |n| StateReducer::<T, _>::arc(n, ExtremeState::<T, false, true>::new());
    /// Minimum ignoring NaN (NaN for an all-NaN slice). An empty reduction is an error.
    nanmin, nanmin_axis, nanmin_axes, "nanmin");
reduction_family!(@all_fallible Numeric, T, |n| StateReducer::<T, _>::arc(n, ExtremeState::<T, true, true>::new());
    /// Maximum ignoring NaN (NaN for an all-NaN slice). An empty reduction is an error.
    nanmax, nanmax_axis, nanmax_axes, "nanmax");
reduction_family!(Element, i64, false, |n| StateReducer::<T, _>::arc(n, CountState(0));
    /// Number of nonzero (`true`) elements.
    count_nonzero, count_nonzero_axis, count_nonzero_axes, "count_nonzero");
reduction_family!(Element, bool, false, |n| StateReducer::<T, _>::arc(n, LogicState::<false>(false));
    /// Whether any element is nonzero (`true`).
    any, any_axis, any_axes, "any");
reduction_family!(Element, bool, false, |n| StateReducer::<T, _>::arc(n, LogicState::<true>(true));
    /// Whether every element is nonzero (`true`).
    all, all_axis, all_axes, "all");

macro_rules! moment_family {
    ($($(#[$doc:meta])* $all:ident, $axis:ident, $axes:ident, $name:literal, $skip:literal, $out:ident);* $(;)?) => {
        impl<T: Numeric> ChunkedArray<T> {
            $(
                $(#[$doc])*
                ///
                /// Over all axes (a 0-d result), with `ddof` delta degrees of freedom.
                ///
                /// # Errors
                /// [`Error::InvalidArgument`] when `ddof` is negative or, for the non-NaN
                /// variant, not smaller than the number of elements.
                pub fn $all(&self, ddof: f64) -> Result<ChunkedArray<T::Mean>> {
                    self.$axes(&(0..self.ndim()).collect::<Vec<_>>(), ddof, false)
                }

                $(#[$doc])*
                ///
                /// Over one axis, with `ddof` delta degrees of freedom.
                ///
                /// # Errors
                /// [`Error::Axis`] for an axis out of range; [`Error::InvalidArgument`] for a bad
                /// `ddof`.
                pub fn $axis(&self, axis: usize, ddof: f64) -> Result<ChunkedArray<T::Mean>> {
                    self.$axes(&[axis], ddof, false)
                }

                $(#[$doc])*
                ///
                /// Over several axes; `opts` is `keepdims` (a `bool`) or a [`ReduceOpts`].
                ///
                /// # Errors
                /// [`Error::Axis`] for an axis out of range or repeated; [`Error::InvalidArgument`]
                /// for a bad `ddof`.
                pub fn $axes(&self, axes: &[usize], ddof: f64, opts: impl Into<ReduceOpts>) -> Result<ChunkedArray<T::Mean>> {
                    let n = self.reduced_len(Some(axes)) as f64;
                    if ddof.is_nan() || ddof < 0.0 || (!$skip && ddof >= n && n > 0.0) {
                        return Err(Error::InvalidArgument {
                            op: $name,
                            detail: format!("ddof {ddof} must be >= 0 and smaller than the {n} elements reduced"),
                        });
                    }
                    let r = StateReducer::<T, _>::arc_with($name, MomentState::<T, $skip>::new(), MomentOut::$out { ddof });
                    self.reduce_checked($name, Some(axes), opts.into(), false, r)
                }
            )*
        }
    };
}

moment_family!(
    /// Variance, `Σ(x - mean)² / (n - ddof)`.
    var, var_axis, var_axes, "var", false, Var;
    /// Standard deviation, `sqrt(var)`.
    std, std_axis, std_axes, "std", false, Std;
    /// Variance of the non-NaN elements (NaN where fewer than `ddof + 1` remain).
    nanvar, nanvar_axis, nanvar_axes, "nanvar", true, Var;
    /// Standard deviation of the non-NaN elements.
    nanstd, nanstd_axis, nanstd_axes, "nanstd", true, Std;
);

macro_rules! arg_family {
    ($($(#[$doc:meta])* $all:ident, $axis:ident, $name:literal, $max:literal, $skip:literal);* $(;)?) => {
        impl<T: Numeric> ChunkedArray<T> {
            $(
                $(#[$doc])*
                ///
                /// Index into the flattened array (a 0-d result).
                ///
                /// # Errors
                /// [`Error::InvalidArgument`] for an empty array.
                pub fn $all(&self) -> Result<ChunkedArray<i64>> {
                    let r: Arc<dyn Reducer> = Arc::new(ArgReducer::<T, $max, $skip> {
                        name: $name, axis: None, full_shape: self.shape().to_vec(), _t: PhantomData,
                    });
                    if self.is_empty() {
                        return Err(Error::InvalidArgument { op: $name, detail: format!("attempt to get {} of an empty array of shape {:?}", $name, self.shape()) });
                    }
                    self.reduce_checked($name, None, ReduceOpts::default(), true, r)
                }

                $(#[$doc])*
                ///
                /// Index along `axis`.
                ///
                /// # Errors
                /// [`Error::Axis`] for an axis out of range; [`Error::InvalidArgument`] for an
                /// empty axis.
                pub fn $axis(&self, axis: usize) -> Result<ChunkedArray<i64>> {
                    let r: Arc<dyn Reducer> = Arc::new(ArgReducer::<T, $max, $skip> {
                        name: $name, axis: Some(axis), full_shape: self.shape().to_vec(), _t: PhantomData,
                    });
                    self.reduce_checked($name, Some(&[axis]), ReduceOpts::default(), true, r)
                }
            )*
        }
    };
}

arg_family!(
    /// Index of the first minimum; the first NaN if there is one (as NumPy).
    argmin, argmin_axis, "argmin", false, false;
    /// Index of the first maximum; the first NaN if there is one (as NumPy).
    argmax, argmax_axis, "argmax", true, false;
    /// Index of the first minimum ignoring NaN; an all-NaN slice is an error at compute time.
    nanargmin, nanargmin_axis, "nanargmin", false, true;
    /// Index of the first maximum ignoring NaN; an all-NaN slice is an error at compute time.
    nanargmax, nanargmax_axis, "nanargmax", true, true;
);

macro_rules! scan_family {
    ($($(#[$doc:meta])* $name:ident, $kind:ident);* $(;)?) => {
        impl<T: Numeric> ChunkedArray<T> {
            $(
                $(#[$doc])*
                ///
                /// The result type is that of [`ChunkedArray::sum`] (`i64`/`u64` for integers).
                /// Blocks along `axis` are chained: each continues from the previous one's last
                /// slice, so every input block is read once.
                ///
                /// # Errors
                /// [`Error::Axis`] for an axis out of range.
                pub fn $name(&self, axis: usize) -> Result<ChunkedArray<T::Sum>> {
                    check_axes(stringify!($name), &[axis], self.shape())?;
                    let op: Arc<dyn crate::ops::scan::ScanOp> =
                        Arc::new(crate::ops::scan::TypedScan::<T> { kind: crate::ops::scan::ScanKind::$kind, _t: PhantomData });
                    Ok(ChunkedArray::from_node(Node::new(
                        self.chunks().clone(),
                        <T::Sum as Element>::DTYPE,
                        Op::Scan { input: self.node.clone(), axis, op },
                    )))
                }
            )*
        }
    };
}

scan_family!(
    /// Cumulative sum along `axis` (NaN propagates).
    cumsum, Sum;
    /// Cumulative product along `axis`.
    cumprod, Prod;
    /// Cumulative sum along `axis`, treating NaN as zero.
    nancumsum, NanSum;
);

/// xarray's `count`: the number of values that are not NaN.
impl<T: Numeric> ChunkedArray<T> {
    /// Number of values that are not NaN over all axes (xarray's `count`); for integer arrays
    /// every element counts. A 0-d `i64` result.
    ///
    /// ```
    /// use chunkwise::prelude::*;
    /// let rt = Runtime::builder().threads(1).build()?;
    /// let x = ndarray::array![[1.0, f64::NAN], [3.0, 4.0]].into_dyn();
    /// let n = ChunkedArray::from_ndarray(x, [1, 2])?.count().compute_scalar(&rt)?;
    /// assert_eq!(n, 3);
    /// # Ok::<(), chunkwise::Error>(())
    /// ```
    pub fn count(&self) -> ChunkedArray<i64> {
        self.is_nan().not().count_nonzero()
    }

    /// Number of values that are not NaN along one axis (xarray's `count(dim)`).
    ///
    /// # Errors
    /// [`Error::Axis`] for an axis out of range.
    pub fn count_axis(&self, axis: usize) -> Result<ChunkedArray<i64>> {
        self.is_nan().not().count_nonzero_axis(axis)
    }

    /// Number of values that are not NaN over several axes; `opts` is `keepdims` (a `bool`) or
    /// a [`ReduceOpts`].
    ///
    /// # Errors
    /// [`Error::Axis`] for an axis out of range or repeated.
    pub fn count_axes(
        &self,
        axes: &[usize],
        opts: impl Into<ReduceOpts>,
    ) -> Result<ChunkedArray<i64>> {
        self.is_nan().not().count_nonzero_axes(axes, opts)
    }
}
