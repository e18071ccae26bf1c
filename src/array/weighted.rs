//! Weighted reductions with xarray's `weighted` rules: [`Weighted`], from
//! [`ChunkedArray::weighted`].
//!
//! Built from lazy operations that already exist: the weighted sum is `sum(x * w)` with NaN
//! values of `x` counted as 0, the sum of weights is `sum(w where x is not NaN)`, and the mean
//! is their quotient (NaN where the weights sum to 0). Each sum is one fused elementwise
//! kernel feeding a tree reduction; the two reductions of a mean read `x` and `w` together.

use super::ChunkedArray;
use crate::chunks::{ChunkGrid, Region, broadcast_shapes};
use crate::element::{AnyArray, AnyView, DType, ElementSealed, Float, Numeric};
use crate::error::{Error, Result};
use crate::graph::blockfn::BlockFn;
use crate::graph::{Node, NodeRef, Op};
use std::marker::PhantomData;
use std::sync::Arc;

/// Weighted reductions of an array (xarray's `DataArray.weighted(weights)`):
/// [`ChunkedArray::weighted`] makes it.
///
/// The weights broadcast to the data's shape (NumPy rules: e.g. area weights `cos(lat)` of
/// shape `(lat, 1)` against data `(time, lat, lon)`). As in xarray:
/// - the weighted **sum** is `Σ x·w` over the non-NaN values of `x` (0 where all are NaN);
/// - the **sum of weights** is `Σ w` over the positions where `x` is not NaN (NaN where 0);
/// - the weighted **mean** is their quotient, NaN where the sum of weights is 0;
/// - weights may not be NaN: a NaN weight fails the computation with
///   [`Error::InvalidArgument`] (xarray checks eagerly; here the check runs with the first
///   block of weights that holds one, since weights are lazy too).
///
/// # Example: an area-weighted mean over latitude and longitude
/// ```
/// use chunkwise::prelude::*;
/// let rt = Runtime::builder().threads(2).build()?;
/// let data = ndarray::Array::from_shape_fn((2, 3, 4), |(t, i, _)| (t + i) as f64);
/// let x = ChunkedArray::from_ndarray(data, [1, 3, 2])?;
/// let lat = ndarray::arr2(&[[0.0f64], [45.0], [60.0]]).mapv(|d| d.to_radians().cos());
/// let w = ChunkedArray::from_ndarray(lat, [3, 1])?;          // shape (3, 1)
/// let m = x.weighted(&w).mean_axes(&[1, 2])?.compute(&rt)?;  // shape (2,)
/// let c = [1.0, 45f64.to_radians().cos(), 0.5];
/// let want = (c[1] + 2.0 * c[2]) / (c[0] + c[1] + c[2]);
/// assert!((m[[0]] - want).abs() < 1e-12 && (m[[1]] - (want + 1.0)).abs() < 1e-12);
/// # Ok::<(), chunkwise::Error>(())
/// ```
#[derive(Clone, Debug)]
#[must_use = "a Weighted does nothing until one of its reductions is called"]
pub struct Weighted<T: Float> {
    x: ChunkedArray<T>,
    w: ChunkedArray<T>,
}

impl<T: Float> ChunkedArray<T> {
    /// Weighted reductions with `weights` broadcast to this array's shape; see [`Weighted`].
    /// Lazy: the shapes are checked when a reduction is built.
    pub fn weighted(&self, weights: &ChunkedArray<T>) -> Weighted<T> {
        Weighted {
            x: self.clone(),
            w: weights.clone(),
        }
    }
}

impl<T: Float + Numeric<Sum = T>> Weighted<T> {
    /// The weights, checked: they broadcast to the data's shape (else an error naming both
    /// shapes) and a NaN among them fails the run.
    fn weights(&self, op: &'static str) -> Result<ChunkedArray<T>> {
        let (xs, ws) = (self.x.shape(), self.w.shape());
        let fits = broadcast_shapes(op, xs, ws)
            .map(|s| s == xs)
            .unwrap_or(false);
        if !fits {
            return Err(Error::Shape {
                op,
                detail: format!(
                    "weights of shape {ws:?} do not broadcast to the data's shape {xs:?}"
                ),
            });
        }
        let f = Arc::new(NoNanWeights::<T>(PhantomData));
        Ok(ChunkedArray::from_node(Node::new(
            self.w.chunks().clone(),
            T::DTYPE,
            Op::Blocks {
                f,
                inputs: vec![self.w.node.clone()],
            },
        )))
    }

    /// Σ x·w over `axes`, skipping NaN values of the data.
    fn wsum(
        &self,
        op: &'static str,
        axes: &[usize],
        w: &ChunkedArray<T>,
    ) -> Result<ChunkedArray<T>> {
        let xw = self
            .x
            .zip_with(w, |a: T, b: T| if a.is_nan() { T::zero() } else { a * b })?;
        with_op(op, xw.sum_axes(axes, false))
    }

    /// Σ w over `axes` where the data is not NaN.
    fn wcount(
        &self,
        op: &'static str,
        axes: &[usize],
        w: &ChunkedArray<T>,
    ) -> Result<ChunkedArray<T>> {
        let m = self
            .x
            .zip_with(w, |a: T, b: T| if a.is_nan() { T::zero() } else { b })?;
        with_op(op, m.sum_axes(axes, false))
    }

    /// The weighted sum over `axes`: `Σ x·w` over the non-NaN values (0 where there are none).
    ///
    /// # Errors
    /// [`Error::Shape`] when the weights do not broadcast to the data's shape;
    /// [`Error::Axis`] for an axis out of range or repeated. At run time,
    /// [`Error::InvalidArgument`] for a NaN weight.
    pub fn sum_axes(&self, axes: &[usize]) -> Result<ChunkedArray<T>> {
        let w = self.weights("weighted sum")?;
        self.wsum("weighted sum", axes, &w)
    }

    /// The weighted mean over `axes`: `Σ x·w / Σ w` over the non-NaN values of `x`; NaN where
    /// the weights of those values sum to 0 (or there are none).
    ///
    /// # Errors
    /// As [`Weighted::sum_axes`].
    pub fn mean_axes(&self, axes: &[usize]) -> Result<ChunkedArray<T>> {
        let op = "weighted mean";
        let w = self.weights(op)?;
        let num = self.wsum(op, axes, &w)?;
        let den = self.wcount(op, axes, &w)?;
        num.zip_with(
            &den,
            |n: T, d: T| if d == T::zero() { T::nan() } else { n / d },
        )
    }

    /// The sum of the weights over `axes`, counting only positions where the data is not NaN
    /// (xarray's `sum_of_weights`: NaN where that sum is 0).
    ///
    /// # Errors
    /// As [`Weighted::sum_axes`].
    pub fn sum_of_weights_axes(&self, axes: &[usize]) -> Result<ChunkedArray<T>> {
        let w = self.weights("sum of weights")?;
        let s = self.wcount("sum of weights", axes, &w)?;
        Ok(s.mapv(|d: T| if d == T::zero() { T::nan() } else { d }))
    }

    /// The weighted sum over all axes (a 0-d array).
    ///
    /// # Errors
    /// As [`Weighted::sum_axes`].
    pub fn sum(&self) -> Result<ChunkedArray<T>> {
        self.sum_axes(&self.all_axes())
    }

    /// The weighted mean over all axes (a 0-d array).
    ///
    /// # Errors
    /// As [`Weighted::sum_axes`].
    pub fn mean(&self) -> Result<ChunkedArray<T>> {
        self.mean_axes(&self.all_axes())
    }

    fn all_axes(&self) -> Vec<usize> {
        (0..self.x.ndim()).collect()
    }
}

/// Names the weighted operation in an axis error of the underlying `sum_axes`.
fn with_op<A>(op: &'static str, r: Result<A>) -> Result<A> {
    r.map_err(|e| match e {
        Error::Axis { detail, .. } => Error::Axis { op, detail },
        e => e,
    })
}

/// Passes weight blocks through, failing on a NaN weight (xarray refuses missing weights).
struct NoNanWeights<T>(PhantomData<fn() -> T>);

impl<T: Float> BlockFn for NoNanWeights<T> {
    fn name(&self) -> String {
        "check weights (no NaN)".to_string()
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
        region: &Region,
        deps: &[AnyView<'_>],
        _dep_regions: &[Region],
        _shape: &[usize],
        _dtype: DType,
    ) -> Result<AnyArray> {
        let v = super::blocks::typed_block::<T>("weighted", &deps[0])?;
        if let Some((pos, _)) = v.indexed_iter().find(|(_, x)| x.is_nan()) {
            let at: Vec<usize> = ndarray::Dimension::slice(&pos)
                .iter()
                .zip(&region.0)
                .map(|(&i, r)| r.start + i)
                .collect();
            return Err(Error::InvalidArgument {
                op: "weighted",
                detail: format!(
                    "the weights hold NaN (first at index {at:?}, in block {idx:?}); weights may \
                     not be missing, as in xarray: replace them, e.g. with fill_nan(0.0)"
                ),
            });
        }
        Ok(<T as ElementSealed>::wrap(
            v.as_standard_layout().into_owned(),
        ))
    }
}
