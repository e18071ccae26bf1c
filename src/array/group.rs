//! Grouped reductions along one axis (xarray's `groupby(...).mean()`, with flox's
//! strategies), resampling to contiguous bins, and the grouped binary operations that
//! broadcast a group result back to positions (`take` along an axis).

use super::ChunkedArray;
use super::reduce::{Reduction, Rule, Setup, check_axes};
use crate::chunks::{AxisChunks, ChunkGrid};
use crate::element::{Element, Numeric};
use crate::error::{Error, Result};
use crate::exec::Runtime;
use crate::graph::group::{GroupSpec, TakeFn};
use crate::graph::{Node, Op};
use crate::ops::group::{Cohort, NO_GROUP, plan_cohorts};
use crate::ops::reduce::{EdgeState, StateReducer};
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

pub use crate::ops::group::GroupMethod;

/// The group labels of a [`ChunkedArray::groupby`]: one `i64` per position along the axis.
///
/// Built from a slice, a `Vec` or a 1-d `ndarray` of `i64`; a lazy array of labels is
/// computed first with [`Labels::compute`] (labels are small).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Labels(Vec<i64>);

impl Labels {
    /// The labels of a lazy 1-d array, computed on `rt`.
    ///
    /// # Errors
    /// [`Error::Shape`] when `labels` is not 1-d; any error of computing it.
    pub fn compute(labels: &ChunkedArray<i64>, rt: &Runtime) -> Result<Labels> {
        if labels.ndim() != 1 {
            return Err(Error::Shape {
                op: "groupby",
                detail: format!(
                    "labels must be 1-d (one per position along the axis), got shape {:?}",
                    labels.shape()
                ),
            });
        }
        Ok(Labels(labels.compute(rt)?.iter().copied().collect()))
    }

    /// The labels, one per position.
    pub fn as_slice(&self) -> &[i64] {
        &self.0
    }
}

impl From<Vec<i64>> for Labels {
    fn from(v: Vec<i64>) -> Self {
        Labels(v)
    }
}

impl From<&[i64]> for Labels {
    fn from(v: &[i64]) -> Self {
        Labels(v.to_vec())
    }
}

impl From<&Vec<i64>> for Labels {
    fn from(v: &Vec<i64>) -> Self {
        Labels(v.clone())
    }
}

impl<const N: usize> From<&[i64; N]> for Labels {
    fn from(v: &[i64; N]) -> Self {
        Labels(v.to_vec())
    }
}

impl From<ndarray::Array1<i64>> for Labels {
    fn from(v: ndarray::Array1<i64>) -> Self {
        Labels(v.to_vec())
    }
}

impl From<&ndarray::Array1<i64>> for Labels {
    fn from(v: &ndarray::Array1<i64>) -> Self {
        Labels(v.to_vec())
    }
}

/// Options of a [`GroupBy`]: the strategy and the combine tree's width.
///
/// ```
/// use chunkwise::{GroupMethod, GroupOpts};
/// let o = GroupOpts::default().method(GroupMethod::MapReduce).split_every(8);
/// assert_eq!((o.method, o.split_every), (Some(GroupMethod::MapReduce), 8));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct GroupOpts {
    /// The strategy; `None` (the default) chooses it from the chunks and the labels.
    pub method: Option<GroupMethod>,
    /// How many partials each combine task merges (default 4, at least 2).
    pub split_every: usize,
}

impl Default for GroupOpts {
    fn default() -> Self {
        GroupOpts {
            method: None,
            split_every: 4,
        }
    }
}

impl GroupOpts {
    /// With the strategy forced to `method`.
    pub fn method(mut self, method: GroupMethod) -> Self {
        self.method = Some(method);
        self
    }

    /// With `n` partials merged per combine task (values below 2 count as 2).
    pub fn split_every(mut self, n: usize) -> Self {
        self.split_every = n;
        self
    }
}

/// The bins of [`ChunkedArray::resample`]: contiguous runs of positions along the axis.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Bins {
    /// Bins of `n` positions (the last may be shorter): daily → weekly is `Size(7)`.
    Size(usize),
    /// Bin `k` holds positions `edges[k]..edges[k + 1]`: strictly increasing edges within
    /// `0..=len`; positions before the first edge or from the last one on belong to no bin.
    Edges(Vec<usize>),
}

/// A grouping of an array along one axis, made by [`ChunkedArray::groupby`] or
/// [`ChunkedArray::resample`]: its reductions give the groups along that axis in sorted
/// label order ([`GroupBy::groups`]), the other axes unchanged.
///
/// The strategy ([`GroupMethod`], shown in [`ChunkedArray::explain`]) is chosen from the
/// chunks along the axis and the labels, as flox does: *blockwise* when every group lies in
/// one block (and the blocks' groups follow each other in sorted order), else *cohorts* (runs
/// of groups that occupy the same blocks reduced together, each output block reading only its
/// own blocks) unless those would read the blocks more than 1.5 times over, else *map-reduce*
/// (every block emits partials for all the groups). Force one with [`GroupOpts::method`].
/// Results are bit-identical for any thread count.
///
/// Results follow xarray/flox: only the groups present in the labels are in the output;
/// result types are those of the array's reductions (`mean` of integers is `f64`, `sum` of
/// `i32` is `i64`, ...); `argmin`/`argmax` give positions along the original axis (as flox);
/// `var`/`std` of a group with no more than `ddof` values is NaN.
#[derive(Clone)]
pub struct GroupBy<T: Element> {
    x: ChunkedArray<T>,
    axis: usize,
    groups: Vec<i64>,
    codes: Arc<[u32]>,
    method: GroupMethod,
    cohorts: Arc<[Cohort]>,
    opts: GroupOpts,
}

impl<T: Element> fmt::Debug for GroupBy<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "GroupBy({:?}, axis {}, {} groups, {})",
            self.x,
            self.axis,
            self.groups.len(),
            self.method
        )
    }
}

fn check_axis(op: &'static str, axis: usize, shape: &[usize]) -> Result<()> {
    check_axes(op, &[axis], shape).map(|_| ())
}

impl<T: Element> ChunkedArray<T> {
    /// Groups the positions along `axis` by `labels` (one `i64` per position): xarray's
    /// `groupby`, with flox's strategies (see [`GroupBy`]).
    ///
    /// # Errors
    /// [`Error::Axis`] for an axis out of range; [`Error::Shape`] when the number of labels is
    /// not the axis length; [`Error::InvalidArgument`] for an empty axis.
    ///
    /// # Example
    /// Monthly climatology and anomalies of daily data:
    /// ```
    /// use chunkwise::prelude::*;
    /// let rt = Runtime::builder().threads(2).build()?;
    /// // 6 "days" of a 2 × 2 field, one day per chunk; months 1, 1, 2, 2, 1, 2.
    /// let data = ndarray::Array::from_shape_fn((6, 2, 2), |(t, _, _)| t as f64).into_dyn();
    /// let x = ChunkedArray::from_ndarray(data, [1, 2, 2])?;
    /// let gb = x.groupby(0, &[1, 1, 2, 2, 1, 2])?;
    /// assert_eq!(gb.groups(), &[1, 2]);
    /// let clim = gb.mean()?;                            // (2, 2, 2): month 1, month 2
    /// assert_eq!(clim.compute(&rt)?[[0, 0, 0]], (0.0 + 1.0 + 4.0) / 3.0);
    /// assert!(clim.explain().contains("cohorts"));
    /// let anom = gb.anomaly(&clim)?;                    // x - clim[month]
    /// assert!(anom.sum().compute_scalar(&rt)?.abs() < 1e-12);
    /// # Ok::<(), chunkwise::Error>(())
    /// ```
    pub fn groupby(&self, axis: usize, labels: impl Into<Labels>) -> Result<GroupBy<T>> {
        self.groupby_with(axis, labels, GroupOpts::default())
    }

    /// [`ChunkedArray::groupby`] with options (a forced strategy, the tree's width).
    ///
    /// # Errors
    /// As [`ChunkedArray::groupby`]; [`Error::InvalidArgument`] when `opts.method` is
    /// `Blockwise` but a group spans several blocks along the axis.
    pub fn groupby_with(
        &self,
        axis: usize,
        labels: impl Into<Labels>,
        opts: GroupOpts,
    ) -> Result<GroupBy<T>> {
        let labels = labels.into();
        check_axis("groupby", axis, self.shape())?;
        let len = self.shape()[axis];
        if labels.0.len() != len {
            return Err(Error::Shape {
                op: "groupby",
                detail: format!(
                    "{} labels for axis {axis} of length {len} (shape {:?}): give one label per position",
                    labels.0.len(),
                    self.shape()
                ),
            });
        }
        let mut groups = labels.0.clone();
        groups.sort_unstable();
        groups.dedup();
        let codes: Vec<u32> = labels
            .0
            .iter()
            .map(|l| groups.binary_search(l).expect("a label's group") as u32)
            .collect();
        self.grouped(axis, groups, codes, opts)
    }

    /// Groups the positions along `axis` into contiguous bins: xarray's `resample` on
    /// positions (daily → monthly with [`Bins::Edges`] at the months' first days). The
    /// [`GroupBy`]'s groups are the bins' first positions.
    ///
    /// # Errors
    /// [`Error::Axis`] for an axis out of range; [`Error::InvalidArgument`] for a bin size
    /// of 0, fewer than two edges, edges not strictly increasing or beyond the axis length,
    /// or an empty axis.
    ///
    /// # Example
    /// ```
    /// use chunkwise::prelude::*;
    /// use chunkwise::Bins;
    /// let rt = Runtime::builder().threads(1).build()?;
    /// let x = ChunkedArray::from_ndarray(ndarray::array![1.0, 2.0, 3.0, 4.0, 5.0].into_dyn(), [2])?;
    /// let weekly = x.resample(0, Bins::Size(2))?.max()?;
    /// assert_eq!(weekly.compute(&rt)?, ndarray::array![2.0, 4.0, 5.0].into_dyn());
    /// let r = x.resample(0, Bins::Edges(vec![1, 4]))?;   // positions 1, 2, 3
    /// assert_eq!(r.groups(), &[1]);
    /// assert_eq!(r.sum()?.compute(&rt)?, ndarray::array![9.0].into_dyn());
    /// # Ok::<(), chunkwise::Error>(())
    /// ```
    pub fn resample(&self, axis: usize, bins: Bins) -> Result<GroupBy<T>> {
        self.resample_with(axis, bins, GroupOpts::default())
    }

    /// [`ChunkedArray::resample`] with options.
    ///
    /// # Errors
    /// As [`ChunkedArray::resample`] and [`ChunkedArray::groupby_with`].
    pub fn resample_with(&self, axis: usize, bins: Bins, opts: GroupOpts) -> Result<GroupBy<T>> {
        check_axis("resample", axis, self.shape())?;
        let len = self.shape()[axis];
        let bad = |detail: String| Error::InvalidArgument {
            op: "resample",
            detail,
        };
        let (groups, codes): (Vec<i64>, Vec<u32>) = match &bins {
            Bins::Size(0) => return Err(bad(format!("bin size 0 along axis {axis}"))),
            Bins::Size(n) => (
                (0..len.div_ceil(*n)).map(|k| (k * n) as i64).collect(),
                (0..len).map(|p| (p / n) as u32).collect(),
            ),
            Bins::Edges(e) => {
                if e.len() < 2 {
                    return Err(bad(format!(
                        "{} bin edges along axis {axis}: at least two are needed (one bin)",
                        e.len()
                    )));
                }
                if let Some(k) = e.windows(2).position(|w| w[0] >= w[1]) {
                    return Err(bad(format!(
                        "bin edges must be strictly increasing: edge {k} is {} and edge {} is {}",
                        e[k],
                        k + 1,
                        e[k + 1]
                    )));
                }
                let last = e[e.len() - 1];
                if last > len {
                    return Err(bad(format!(
                        "bin edge {last} is beyond axis {axis} of length {len} (shape {:?})",
                        self.shape()
                    )));
                }
                let mut codes = vec![NO_GROUP; len];
                for (k, w) in e.windows(2).enumerate() {
                    codes[w[0]..w[1]].fill(k as u32);
                }
                (e[..e.len() - 1].iter().map(|&s| s as i64).collect(), codes)
            }
        };
        self.grouped(axis, groups, codes, opts)
    }

    fn grouped(
        &self,
        axis: usize,
        groups: Vec<i64>,
        codes: Vec<u32>,
        opts: GroupOpts,
    ) -> Result<GroupBy<T>> {
        if groups.is_empty() {
            return Err(Error::InvalidArgument {
                op: "groupby",
                detail: format!(
                    "axis {axis} of shape {:?} is empty: there is no group to reduce",
                    self.shape()
                ),
            });
        }
        let (method, cohorts) =
            plan_cohorts(&codes, groups.len(), self.chunks().axis(axis), opts.method)?;
        Ok(GroupBy {
            x: self.clone(),
            axis,
            groups,
            codes: codes.into(),
            method,
            cohorts: cohorts.into(),
            opts,
        })
    }

    /// NumPy's `take` along `axis`: output position `j` along the axis is input position
    /// `indices[j]` (lazy; each output block reads only the blocks holding its positions).
    /// The output is chunked along the axis as the input's largest chunk.
    ///
    /// # Errors
    /// [`Error::Axis`] for an axis out of range; [`Error::InvalidArgument`] for an index
    /// beyond the axis (NumPy's negative indices are not taken).
    ///
    /// # Example
    /// ```
    /// use chunkwise::prelude::*;
    /// let rt = Runtime::builder().threads(1).build()?;
    /// let x = ChunkedArray::from_ndarray(ndarray::array![[1, 2], [3, 4], [5, 6]].into_dyn(), [2, 1])?;
    /// let y = x.take(0, &[2, 0, 2])?;
    /// assert_eq!(y.compute(&rt)?, ndarray::array![[5, 6], [1, 2], [5, 6]].into_dyn());
    /// # Ok::<(), chunkwise::Error>(())
    /// ```
    pub fn take(&self, axis: usize, indices: &[usize]) -> Result<ChunkedArray<T>> {
        check_axis("take", axis, self.shape())?;
        let chunk = self.chunks().axis(axis).max_size().max(1);
        self.take_chunked(axis, indices, AxisChunks::regular(indices.len(), chunk))
    }

    fn take_chunked(
        &self,
        axis: usize,
        indices: &[usize],
        chunks: AxisChunks,
    ) -> Result<ChunkedArray<T>> {
        let len = self.shape()[axis];
        if let Some(&i) = indices.iter().find(|&&i| i >= len) {
            return Err(Error::InvalidArgument {
                op: "take",
                detail: format!(
                    "index {i} is out of range for axis {axis} of length {len} (shape {:?})",
                    self.shape()
                ),
            });
        }
        let mut axes = self.chunks().axes().to_vec();
        axes[axis] = chunks;
        let f = Arc::new(TakeFn::<T> {
            axis,
            indices: indices.into(),
            _t: PhantomData,
        });
        Ok(ChunkedArray::from_node(Node::new(
            ChunkGrid::new(axes),
            T::DTYPE,
            Op::Blocks {
                f,
                inputs: vec![self.node.clone()],
            },
        )))
    }
}

impl<T: Element> GroupBy<T> {
    /// The groups, in sorted label order (for [`ChunkedArray::resample`], the bins' first
    /// positions): the order of the results along the axis.
    pub fn groups(&self) -> &[i64] {
        &self.groups
    }

    /// The number of groups.
    pub fn ngroups(&self) -> usize {
        self.groups.len()
    }

    /// The grouped axis.
    pub fn axis(&self) -> usize {
        self.axis
    }

    /// The strategy the reductions use (chosen or forced).
    pub fn strategy(&self) -> GroupMethod {
        self.method
    }

    /// This grouping with the strategy forced to `method`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for `Blockwise` when a group spans several blocks.
    pub fn with_method(&self, method: GroupMethod) -> Result<GroupBy<T>> {
        let (method, cohorts) = plan_cohorts(
            &self.codes,
            self.groups.len(),
            self.x.chunks().axis(self.axis),
            Some(method),
        )?;
        Ok(GroupBy {
            method,
            cohorts: cohorts.into(),
            opts: self.opts.method(method),
            ..self.clone()
        })
    }

    /// The one path of every grouped reduction, over `input` (the array or a function of it
    /// with the same chunks).
    fn reduce<U: Element, O: Element>(
        &self,
        input: &ChunkedArray<U>,
        r: Reduction<O>,
        ddof: f64,
    ) -> Result<ChunkedArray<O>> {
        let bad_ddof = match r.rule {
            Rule::Moment { .. } => ddof.is_nan() || ddof < 0.0,
            _ => ddof != 0.0,
        };
        if bad_ddof {
            return Err(Error::InvalidArgument {
                op: r.name,
                detail: format!("ddof {ddof} must be >= 0"),
            });
        }
        let reducer = (r.reducer)(&Setup {
            name: r.name,
            axis: Some(self.axis),
            shape: input.shape(),
            ddof,
        });
        let spec = GroupSpec {
            input: input.node.clone(),
            axis: self.axis,
            codes: self.codes.clone(),
            cohorts: self.cohorts.clone(),
            method: self.method,
            ngroups: self.groups.len(),
            split_every: self.opts.split_every.max(2),
            reducer,
        };
        Ok(ChunkedArray::from_node(Node::new(
            spec.out_grid(),
            O::DTYPE,
            Op::GroupReduce(spec),
        )))
    }

    /// Broadcasts a group result back to positions: `r` has the groups along the axis (as a
    /// reduction of this grouping gives them); the result has position `j` of the axis taken
    /// from `r`'s group of position `j`, chunked along the axis as the grouped array (so
    /// `(&x - &gb.expand(&clim)?)?` lines up block for block). xarray's `clim.sel(month=...)`
    /// for `x.groupby("time.month") - clim`.
    ///
    /// # Errors
    /// [`Error::Shape`] when `r` lacks the axis or its length there is not the number of
    /// groups; [`Error::InvalidArgument`] for a resampling with positions in no bin.
    pub fn expand<U: Element>(&self, r: &ChunkedArray<U>) -> Result<ChunkedArray<U>> {
        let g = self.groups.len();
        if r.ndim() <= self.axis || r.shape()[self.axis] != g {
            return Err(Error::Shape {
                op: "expand",
                detail: format!(
                    "the group result has shape {:?}, but axis {} must hold the {g} groups",
                    r.shape(),
                    self.axis
                ),
            });
        }
        if let Some(p) = self.codes.iter().position(|&c| c == NO_GROUP) {
            return Err(Error::InvalidArgument {
                op: "expand",
                detail: format!(
                    "position {p} along axis {} is in no bin: there is no group value to give it",
                    self.axis
                ),
            });
        }
        let indices: Vec<usize> = self.codes.iter().map(|&c| c as usize).collect();
        r.take_chunked(self.axis, &indices, self.x.chunks().axis(self.axis).clone())
    }

    /// Whether any element of each group is nonzero (`true`).
    ///
    /// # Errors
    /// None in practice (the grouping was checked when made).
    pub fn any(&self) -> Result<ChunkedArray<bool>> {
        self.reduce(&self.x, ChunkedArray::<T>::any_op(), 0.0)
    }

    /// Whether every element of each group is nonzero (`true`).
    ///
    /// # Errors
    /// None in practice (the grouping was checked when made).
    pub fn all(&self) -> Result<ChunkedArray<bool>> {
        self.reduce(&self.x, ChunkedArray::<T>::all_op(), 0.0)
    }

    /// Number of nonzero (`true`) elements of each group.
    ///
    /// # Errors
    /// None in practice (the grouping was checked when made).
    pub fn count_nonzero(&self) -> Result<ChunkedArray<i64>> {
        self.reduce(&self.x, ChunkedArray::<T>::count_nonzero_op(), 0.0)
    }
}

macro_rules! grouped {
    ($($(#[$doc:meta])* $name:ident => $op:ident, $out:ty;)*) => {$(
        $(#[$doc])*
        ///
        /// # Errors
        /// None in practice (the grouping was checked when made).
        pub fn $name(&self) -> Result<ChunkedArray<$out>> {
            self.reduce(&self.x, ChunkedArray::<T>::$op(), 0.0)
        }
    )*};
}

/// The grouped reductions of numeric arrays, named as the array's.
impl<T: Numeric> GroupBy<T> {
    grouped! {
        /// Sum of each group (NaN propagates).
        sum => sum_op, T::Sum;
        /// Sum of each group, NaN skipped (all-NaN gives 0).
        nansum => nansum_op, T::Sum;
        /// Product of each group.
        prod => prod_op, T::Sum;
        /// Mean of each group (NaN propagates).
        mean => mean_op, T::Mean;
        /// Mean of each group, NaN skipped (all-NaN gives NaN).
        nanmean => nanmean_op, T::Mean;
        /// Minimum of each group (NaN propagates).
        min => min_op, T;
        /// Maximum of each group (NaN propagates).
        max => max_op, T;
        /// Minimum of each group, NaN skipped (all-NaN gives NaN).
        nanmin => nanmin_op, T;
        /// Maximum of each group, NaN skipped (all-NaN gives NaN).
        nanmax => nanmax_op, T;
        /// Variance of each group (`ddof = 0`; NaN propagates).
        var => var_op, T::Mean;
        /// Standard deviation of each group (`ddof = 0`; NaN propagates).
        std => std_op, T::Mean;
        /// Variance of each group, NaN skipped (`ddof = 0`).
        nanvar => nanvar_op, T::Mean;
        /// Standard deviation of each group, NaN skipped (`ddof = 0`).
        nanstd => nanstd_op, T::Mean;
        /// Position along the original axis of each group's first minimum (its first NaN if
        /// any), as flox.
        argmin => argmin_op, i64;
        /// Position along the original axis of each group's first maximum (its first NaN if
        /// any), as flox.
        argmax => argmax_op, i64;
        /// Position along the original axis of each group's first minimum, NaN skipped (an
        /// all-NaN group fails when computed, as NumPy's `nanargmin`).
        nanargmin => nanargmin_op, i64;
        /// Position along the original axis of each group's first maximum, NaN skipped (an
        /// all-NaN group fails when computed).
        nanargmax => nanargmax_op, i64;
        /// The first value of each group (in position order).
        first => first_op, T;
        /// The last value of each group (in position order).
        last => last_op, T;
        /// The first value of each group that is not NaN (all-NaN gives NaN).
        nanfirst => nanfirst_op, T;
        /// The last value of each group that is not NaN (all-NaN gives NaN).
        nanlast => nanlast_op, T;
    }

    /// Number of values of each group that are not NaN (xarray's `count`).
    ///
    /// # Errors
    /// None in practice (the grouping was checked when made).
    pub fn count(&self) -> Result<ChunkedArray<i64>> {
        let valid = self.x.is_nan().not();
        self.reduce(&valid, ChunkedArray::<bool>::count_nonzero_op(), 0.0)
    }

    /// Variance of each group with `ddof` delta degrees of freedom (divisor `n - ddof`; NaN
    /// where `n <= ddof`).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a negative or NaN `ddof`.
    pub fn var_ddof(&self, ddof: f64) -> Result<ChunkedArray<T::Mean>> {
        self.reduce(&self.x, ChunkedArray::<T>::var_op(), ddof)
    }

    /// Standard deviation of each group with `ddof` delta degrees of freedom.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a negative or NaN `ddof`.
    pub fn std_ddof(&self, ddof: f64) -> Result<ChunkedArray<T::Mean>> {
        self.reduce(&self.x, ChunkedArray::<T>::std_op(), ddof)
    }

    /// Variance of each group, NaN skipped, with `ddof` delta degrees of freedom.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a negative or NaN `ddof`.
    pub fn nanvar_ddof(&self, ddof: f64) -> Result<ChunkedArray<T::Mean>> {
        self.reduce(&self.x, ChunkedArray::<T>::nanvar_op(), ddof)
    }

    /// Standard deviation of each group, NaN skipped, with `ddof` delta degrees of freedom.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a negative or NaN `ddof`.
    pub fn nanstd_ddof(&self, ddof: f64) -> Result<ChunkedArray<T::Mean>> {
        self.reduce(&self.x, ChunkedArray::<T>::nanstd_op(), ddof)
    }

    /// The anomaly against a group result: `x - clim[group]` along the axis (`clim` as a
    /// reduction of this grouping gives it, e.g. [`GroupBy::mean`]), one lazy graph with the
    /// array.
    ///
    /// # Errors
    /// As [`GroupBy::expand`]; [`Error::Broadcast`] when the other axes do not broadcast.
    pub fn anomaly(&self, clim: &ChunkedArray<T>) -> Result<ChunkedArray<T>> {
        &self.x - &self.expand(clim)?
    }
}

/// The reductions only grouping has.
impl<T: Numeric> ChunkedArray<T> {
    fn first_op() -> Reduction<T> {
        Reduction::new("first", Rule::NoIdentity, |s| {
            StateReducer::<T, _>::arc(s.name, EdgeState::<T, false, false>::new())
        })
    }

    fn last_op() -> Reduction<T> {
        Reduction::new("last", Rule::NoIdentity, |s| {
            StateReducer::<T, _>::arc(s.name, EdgeState::<T, true, false>::new())
        })
    }

    fn nanfirst_op() -> Reduction<T> {
        Reduction::new("nanfirst", Rule::NoIdentity, |s| {
            StateReducer::<T, _>::arc(s.name, EdgeState::<T, false, true>::new())
        })
    }

    fn nanlast_op() -> Reduction<T> {
        Reduction::new("nanlast", Rule::NoIdentity, |s| {
            StateReducer::<T, _>::arc(s.name, EdgeState::<T, true, true>::new())
        })
    }
}
