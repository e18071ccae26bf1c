//! [`DataArray`]: a [`ChunkedArray`] with dimension names, coordinates and attributes.

use super::coord::Coordinate;
use crate::array::ChunkedArray;
use crate::element::{Element, Numeric};
use crate::error::{Error, Result};
use crate::time::{CfDateTime, Season};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// A lazy chunked array with named dimensions, dimension coordinates and attributes, as
/// xarray's `DataArray`.
///
/// Every operation that takes an axis takes a dimension name here (`mean("time")`,
/// `std_dims(&["lat", "lon"])`); results keep the coordinates of the dimensions that survive.
/// Binary operations (`&a - &b`) broadcast and align by dimension name, whatever the axis
/// order of the operands: the result has the dimensions of the left operand, then those of
/// the right one it lacks. Operands whose coordinates differ on a shared dimension are an
/// error ([`Error::CoordinateMismatch`]) unless aligned first with [`DataArray::align`].
///
/// The data stay lazy: nothing is read or computed until [`DataArray::data`] is computed or
/// the array is written.
///
/// ```
/// use chunkwise::dataset::{Coordinate, DataArray};
/// use chunkwise::prelude::*;
///
/// let rt = Runtime::builder().threads(1).build()?;
/// let x = ChunkedArray::<f64>::from_shape_fn(&[4, 3], [2, 3], |ix| (ix[0] * 3 + ix[1]) as f64)?;
/// let da = DataArray::new(x, &["time", "lat"])?
///     .with_coord("lat", Coordinate::numbers(vec![60.0, 45.0, 30.0]))?;
/// let clim = da.mean("time")?;                       // dims (lat)
/// assert_eq!(clim.dims(), &["lat"]);
/// let anom = (&da - &clim)?;                         // broadcast by name
/// assert_eq!(anom.dims(), &["time", "lat"]);
/// let m = anom.sum_dims(&["time", "lat"])?.data().compute_scalar(&rt)?;
/// assert!(m.abs() < 1e-12);
/// # Ok::<(), chunkwise::Error>(())
/// ```
#[derive(Clone)]
pub struct DataArray<T: Element> {
    pub(crate) name: Option<String>,
    pub(crate) data: ChunkedArray<T>,
    pub(crate) dims: Vec<String>,
    pub(crate) coords: BTreeMap<String, Coordinate>,
    pub(crate) attrs: Map<String, Value>,
}

impl<T: Element> std::fmt::Debug for DataArray<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataArray")
            .field("name", &self.name)
            .field("dtype", &T::DTYPE)
            .field("dims", &self.dims)
            .field("shape", &self.data.shape())
            .field("coords", &self.coords.keys().collect::<Vec<_>>())
            .field("attrs", &self.attrs)
            .finish()
    }
}

impl<T: Element> DataArray<T> {
    /// `data` with dimension names `dims`, one per axis, without coordinates or attributes.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when there are not as many names as axes, or a name is
    /// repeated.
    pub fn new(data: ChunkedArray<T>, dims: &[&str]) -> Result<DataArray<T>> {
        Self::from_parts(
            None,
            data,
            dims.iter().map(|d| d.to_string()).collect(),
            BTreeMap::new(),
            Map::new(),
        )
    }

    pub(crate) fn from_parts(
        name: Option<String>,
        data: ChunkedArray<T>,
        dims: Vec<String>,
        coords: BTreeMap<String, Coordinate>,
        attrs: Map<String, Value>,
    ) -> Result<DataArray<T>> {
        if dims.len() != data.ndim() {
            return Err(Error::InvalidArgument {
                op: "DataArray::new",
                detail: format!(
                    "{} dimension names {dims:?} for an array of shape {:?}",
                    dims.len(),
                    data.shape()
                ),
            });
        }
        for (i, d) in dims.iter().enumerate() {
            if dims[..i].contains(d) {
                return Err(Error::InvalidArgument {
                    op: "DataArray::new",
                    detail: format!("dimension name {d:?} is repeated in {dims:?}"),
                });
            }
        }
        let da = DataArray {
            name,
            data,
            dims,
            coords: BTreeMap::new(),
            attrs,
        };
        coords
            .into_iter()
            .try_fold(da, |da, (dim, c)| da.with_coord(&dim, c))
    }

    /// The array with coordinate `coord` on dimension `dim` (replacing one it had).
    ///
    /// # Errors
    /// [`Error::UnknownDimension`] when the array has no dimension `dim`;
    /// [`Error::DimensionLengthMismatch`] when the coordinate's length is not the dimension's.
    pub fn with_coord(mut self, dim: &str, coord: Coordinate) -> Result<DataArray<T>> {
        let axis = self.axis_of("with_coord", dim)?;
        let len = self.data.shape()[axis];
        if coord.len() != len {
            return Err(Error::DimensionLengthMismatch {
                op: "with_coord",
                dim: dim.to_string(),
                what_a: self.what(),
                len_a: len,
                what_b: format!("its coordinate {dim:?}"),
                len_b: coord.len(),
            });
        }
        self.coords.insert(dim.to_string(), coord);
        Ok(self)
    }

    /// The array with attributes `attrs`.
    pub fn with_attrs(mut self, attrs: Map<String, Value>) -> DataArray<T> {
        self.attrs = attrs;
        self
    }

    /// The array named `name` (the variable name it is written under).
    pub fn with_name(mut self, name: &str) -> DataArray<T> {
        self.name = Some(name.to_string());
        self
    }

    /// The variable name, when it has one.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The lazy data.
    pub fn data(&self) -> &ChunkedArray<T> {
        &self.data
    }

    /// The dimension names, one per axis.
    pub fn dims(&self) -> &[String] {
        &self.dims
    }

    /// The shape.
    pub fn shape(&self) -> &[usize] {
        self.data.shape()
    }

    /// The coordinates, by dimension name (dimensions without one are absent).
    pub fn coords(&self) -> &BTreeMap<String, Coordinate> {
        &self.coords
    }

    /// The coordinate of dimension `dim`, when it has one.
    pub fn coord(&self, dim: &str) -> Option<&Coordinate> {
        self.coords.get(dim)
    }

    /// The attributes.
    pub fn attrs(&self) -> &Map<String, Value> {
        &self.attrs
    }

    /// The axis of dimension `dim`.
    ///
    /// # Errors
    /// [`Error::UnknownDimension`] naming the dimension and the ones the array has.
    pub fn axis(&self, dim: &str) -> Result<usize> {
        self.axis_of("axis", dim)
    }

    /// The decoded times of time coordinate `dim`.
    ///
    /// # Errors
    /// [`Error::UnknownDimension`]; [`Error::InvalidArgument`] when `dim` has no coordinate
    /// or a numeric one.
    pub fn times(&self, dim: &str) -> Result<&[CfDateTime]> {
        Ok(self.time_coord("times", dim)?.0)
    }

    /// A time accessor of time coordinate `dim`, one value per time, as xarray's
    /// `da.time.dt.<field>`: `"year"`, `"month"`, `"day"`, `"hour"`, `"minute"`, `"second"`,
    /// `"dayofyear"`, `"season"` (DJF = 0, MAM = 1, JJA = 2, SON = 3) or `"days_in_month"`.
    ///
    /// # Errors
    /// As [`DataArray::times`]; [`Error::InvalidArgument`] for another field.
    pub fn time_field(&self, dim: &str, field: &str) -> Result<Vec<i64>> {
        let (times, cal) = self.time_coord("time_field", dim)?;
        let f: fn(&CfDateTime, crate::time::Calendar) -> i64 = match field {
            "year" => |t, _| i64::from(t.year),
            "month" => |t, _| i64::from(t.month),
            "day" => |t, _| i64::from(t.day),
            "hour" => |t, _| i64::from(t.hour),
            "minute" => |t, _| i64::from(t.minute),
            "second" => |t, _| i64::from(t.second),
            "dayofyear" => |t, c| i64::from(t.dayofyear(c)),
            "days_in_month" => |t, c| i64::from(t.days_in_month(c)),
            "season" => |t, _| match t.season() {
                Season::DJF => 0,
                Season::MAM => 1,
                Season::JJA => 2,
                Season::SON => 3,
            },
            other => {
                return Err(Error::InvalidArgument {
                    op: "time_field",
                    detail: format!(
                        "unknown time field {other:?}; one of year, month, day, hour, minute, \
                         second, dayofyear, days_in_month, season"
                    ),
                });
            }
        };
        Ok(times.iter().map(|t| f(t, cal)).collect())
    }

    fn time_coord(
        &self,
        op: &'static str,
        dim: &str,
    ) -> Result<(&[CfDateTime], crate::time::Calendar)> {
        self.axis_of(op, dim)?;
        self.coords
            .get(dim)
            .and_then(Coordinate::as_times)
            .ok_or_else(|| Error::InvalidArgument {
                op,
                detail: format!(
                    "dimension {dim:?} of {} has {} coordinate",
                    self.what(),
                    if self.coords.contains_key(dim) {
                        "a numeric, not a time"
                    } else {
                        "no"
                    }
                ),
            })
    }

    /// `"variable t2m"` or `"the array"`, for messages.
    pub(crate) fn what(&self) -> String {
        match &self.name {
            Some(n) => format!("variable {n}"),
            None => format!("the array of dims {:?}", self.dims),
        }
    }

    pub(crate) fn axis_of(&self, op: &'static str, dim: &str) -> Result<usize> {
        self.dims
            .iter()
            .position(|d| d == dim)
            .ok_or_else(|| Error::UnknownDimension {
                op,
                what: self.what(),
                dim: dim.to_string(),
                available: self.dims.clone(),
            })
    }

    pub(crate) fn axes_of(&self, op: &'static str, dims: &[&str]) -> Result<Vec<usize>> {
        dims.iter().map(|d| self.axis_of(op, d)).collect()
    }

    /// The same dimensions, coordinates and name around new data of the same shape
    /// (attributes dropped, as xarray does by default).
    ///
    /// # Errors
    /// [`Error::Shape`] when `data` has another shape.
    pub fn with_data<U: Element>(&self, data: ChunkedArray<U>) -> Result<DataArray<U>> {
        if data.shape() != self.data.shape() {
            return Err(Error::Shape {
                op: "with_data",
                detail: format!(
                    "new data of shape {:?} for {} of shape {:?}",
                    data.shape(),
                    self.what(),
                    self.data.shape()
                ),
            });
        }
        Ok(DataArray {
            name: self.name.clone(),
            data,
            dims: self.dims.clone(),
            coords: self.coords.clone(),
            attrs: Map::new(),
        })
    }

    /// `f` applied to the data, keeping dimensions, coordinates and name (as
    /// [`DataArray::with_data`]); `f` must keep the shape.
    ///
    /// # Errors
    /// `f`'s error; [`Error::Shape`] when the shape changed.
    pub fn map_data<U: Element>(
        &self,
        f: impl FnOnce(&ChunkedArray<T>) -> Result<ChunkedArray<U>>,
    ) -> Result<DataArray<U>> {
        self.with_data(f(&self.data)?)
    }

    /// The dimensions permuted to `dims` (a permutation of the array's), as xarray's
    /// `transpose`.
    ///
    /// # Errors
    /// [`Error::UnknownDimension`]; [`Error::InvalidArgument`] when `dims` is not a
    /// permutation of the array's dimensions.
    pub fn transpose(&self, dims: &[&str]) -> Result<DataArray<T>> {
        let axes = self.axes_of("transpose", dims)?;
        if axes.len() != self.dims.len() {
            return Err(Error::InvalidArgument {
                op: "transpose",
                detail: format!("{dims:?} is not a permutation of {:?}", self.dims),
            });
        }
        Ok(DataArray {
            name: self.name.clone(),
            data: self.data.permuted_axes(&axes)?,
            dims: dims.iter().map(|d| d.to_string()).collect(),
            coords: self.coords.clone(),
            attrs: self.attrs.clone(),
        })
    }

    /// A reduction of `dims` by `f` (given the axes); the result keeps the other dimensions'
    /// coordinates and drops the attributes (xarray's `keep_attrs=False`).
    pub(crate) fn reduce_with<O: Element>(
        &self,
        op: &'static str,
        dims: &[&str],
        f: impl FnOnce(&ChunkedArray<T>, &[usize]) -> Result<ChunkedArray<O>>,
    ) -> Result<DataArray<O>> {
        let axes = self.axes_of(op, dims)?;
        let data = f(&self.data, &axes)?;
        let kept: Vec<String> = self
            .dims
            .iter()
            .enumerate()
            .filter(|(i, _)| !axes.contains(i))
            .map(|(_, d)| d.clone())
            .collect();
        let coords = self
            .coords
            .iter()
            .filter(|(d, _)| kept.contains(d))
            .map(|(d, c)| (d.clone(), c.clone()))
            .collect();
        Ok(DataArray {
            name: self.name.clone(),
            data,
            dims: kept,
            coords,
            attrs: Map::new(),
        })
    }

    /// `self` and `other` broadcast to common dimensions (those of `self`, then those of
    /// `other` it lacks) and combined by `f`.
    pub(crate) fn binary<U: Element, O: Element>(
        &self,
        op: &'static str,
        other: &DataArray<U>,
        f: impl FnOnce(&ChunkedArray<T>, &ChunkedArray<U>) -> Result<ChunkedArray<O>>,
    ) -> Result<DataArray<O>> {
        let mut dims = self.dims.clone();
        for d in &other.dims {
            if !dims.contains(d) {
                dims.push(d.clone());
            }
        }
        let mut coords = self.coords.clone();
        for (k, d) in other.dims.iter().enumerate() {
            if let Some(i) = self.dims.iter().position(|x| x == d) {
                let (la, lb) = (self.shape()[i], other.shape()[k]);
                if la != lb {
                    return Err(Error::DimensionLengthMismatch {
                        op,
                        dim: d.clone(),
                        what_a: self.what(),
                        len_a: la,
                        what_b: other.what(),
                        len_b: lb,
                    });
                }
            }
            match (self.coords.get(d), other.coords.get(d)) {
                (Some(a), Some(b)) => {
                    if let Some(detail) = a.first_difference(b) {
                        return Err(Error::CoordinateMismatch {
                            op,
                            dim: d.clone(),
                            detail,
                        });
                    }
                }
                (None, Some(b)) => {
                    coords.insert(d.clone(), b.clone());
                }
                _ => {}
            }
        }
        let a = expand_to(&self.data, &self.dims, &dims, false)?;
        let b = expand_to(&other.data, &other.dims, &dims, false)?;
        let data = f(&a, &b)?;
        let name = match (&self.name, &other.name) {
            (Some(x), Some(y)) if x == y => Some(x.clone()),
            (Some(x), None) | (None, Some(x)) => Some(x.clone()),
            _ => None,
        };
        Ok(DataArray {
            name,
            data,
            dims,
            coords,
            attrs: Map::new(),
        })
    }

    /// `a` and `b` restricted to the labels they share on every dimension both have a
    /// coordinate for (an inner join, as `xr.align(a, b, join="inner")`), in the order of
    /// `a`'s labels. The data are lazily gathered (`take`) only where labels are dropped or
    /// reordered.
    ///
    /// # Errors
    /// [`Error::CoordinateMismatch`] when a shared dimension has no label in common, or one
    /// coordinate is of times and the other of numbers.
    ///
    /// ```
    /// use chunkwise::dataset::{Coordinate, DataArray};
    /// use chunkwise::prelude::*;
    /// let rt = Runtime::builder().threads(1).build()?;
    /// let a = DataArray::new(ChunkedArray::<f64>::arange(0.0, 4.0, 1.0, 2)?, &["x"])?
    ///     .with_coord("x", Coordinate::numbers(vec![0.0, 1.0, 2.0, 3.0]))?;
    /// let b = DataArray::new(ChunkedArray::<f64>::arange(10.0, 13.0, 1.0, 2)?, &["x"])?
    ///     .with_coord("x", Coordinate::numbers(vec![1.0, 2.0, 3.0]))?;
    /// assert!((&a + &b).is_err());                     // CoordinateMismatch
    /// let (a, b) = DataArray::align(&a, &b)?;
    /// let s = (&a + &b)?;
    /// assert_eq!(s.data().compute(&rt)?.into_raw_vec_and_offset().0, vec![11.0, 13.0, 15.0]);
    /// # Ok::<(), chunkwise::Error>(())
    /// ```
    pub fn align<U: Element>(
        a: &DataArray<T>,
        b: &DataArray<U>,
    ) -> Result<(DataArray<T>, DataArray<U>)> {
        let (mut a, mut b) = (a.clone(), b.clone());
        let shared: Vec<String> = a
            .dims
            .iter()
            .filter(|d| b.dims.contains(d))
            .cloned()
            .collect();
        for d in shared {
            let (Some(ca), Some(cb)) = (a.coords.get(&d).cloned(), b.coords.get(&d).cloned())
            else {
                continue;
            };
            if ca.first_difference(&cb).is_none() {
                continue;
            }
            if std::mem::discriminant(&ca.values) != std::mem::discriminant(&cb.values) {
                return Err(Error::CoordinateMismatch {
                    op: "align",
                    dim: d,
                    detail: "the labels are of different kinds (numbers, times, names)".into(),
                });
            }
            let mut ia = Vec::new();
            let mut ib = Vec::new();
            for i in 0..ca.len() {
                if let Some(j) = (0..cb.len()).find(|&j| ca.same_label(i, &cb, j)) {
                    ia.push(i);
                    ib.push(j);
                }
            }
            if ia.is_empty() {
                return Err(Error::CoordinateMismatch {
                    op: "align",
                    dim: d,
                    detail: "no label in common".into(),
                });
            }
            a = a.take_positions(&d, &ia)?;
            b = b.take_positions(&d, &ib)?;
        }
        Ok((a, b))
    }

    /// The positions `indices` of dimension `dim` (in that order), data and coordinate.
    pub(crate) fn take_positions(&self, dim: &str, indices: &[usize]) -> Result<DataArray<T>> {
        let axis = self.axis_of("take", dim)?;
        let identity =
            indices.len() == self.shape()[axis] && indices.iter().enumerate().all(|(k, &i)| k == i);
        if identity {
            return Ok(self.clone());
        }
        let mut out = self.clone();
        out.data = self.data.take(axis, indices)?;
        if let Some(c) = self.coords.get(dim) {
            out.coords.insert(dim.to_string(), c.take(indices));
        }
        Ok(out)
    }
}

/// `x` (dims `have`) permuted and given length-1 axes so that its dims are `want` (which
/// holds all of `have`).
pub(crate) fn expand_to<T: Element>(
    x: &ChunkedArray<T>,
    have: &[String],
    want: &[String],
    full: bool,
) -> Result<ChunkedArray<T>> {
    let order: Vec<usize> = want
        .iter()
        .filter_map(|d| have.iter().position(|h| h == d))
        .collect();
    let mut y = if order.iter().enumerate().all(|(k, &i)| k == i) {
        x.clone()
    } else {
        x.permuted_axes(&order)?
    };
    // Leading dims it lacks need no axis unless `full`: broadcasting adds them (and no
    // per-block slice).
    let lead = if full {
        0
    } else {
        want.iter().take_while(|d| !have.contains(d)).count()
    };
    for (pos, d) in want[lead..].iter().enumerate() {
        if !have.contains(d) {
            y = y.insert_axis(pos)?;
        }
    }
    Ok(y)
}

macro_rules! reductions {
    ($bound:ident => $out:ty; $($(#[$doc:meta])* $one:ident, $many:ident, $axes:ident;)*) => {
        impl<T: $bound> DataArray<T> {
            $(
                $(#[$doc])*
                ///
                /// # Errors
                /// [`Error::UnknownDimension`] naming the dimension and the array's.
                pub fn $one(&self, dim: &str) -> Result<DataArray<$out>> {
                    self.$many(&[dim])
                }

                $(#[$doc])*
                /// Over several dimensions at once.
                ///
                /// # Errors
                /// [`Error::UnknownDimension`] naming the dimension and the array's.
                pub fn $many(&self, dims: &[&str]) -> Result<DataArray<$out>> {
                    self.reduce_with(stringify!($one), dims, |x, axes| x.$axes(axes, false))
                }
            )*
        }
    };
}

reductions!(Numeric => T::Sum;
    /// The sum over dimension `dim` (xarray's `da.sum("time")`; integers sum to 64 bits).
    sum, sum_dims, sum_axes;
    /// The sum ignoring NaN.
    nansum, nansum_dims, nansum_axes;
);
reductions!(Numeric => T::Mean;
    /// The mean over dimension `dim` (xarray's `da.mean("time", skipna=False)`).
    mean, mean_dims, mean_axes;
    /// The mean ignoring NaN (xarray's default `skipna` for floats).
    nanmean, nanmean_dims, nanmean_axes;
    /// The variance (ddof = 0).
    var, var_dims, var_axes;
    /// The standard deviation (ddof = 0).
    std, std_dims, std_axes;
    /// The variance ignoring NaN (ddof = 0).
    nanvar, nanvar_dims, nanvar_axes;
    /// The standard deviation ignoring NaN (ddof = 0).
    nanstd, nanstd_dims, nanstd_axes;
);
reductions!(Numeric => T;
    /// The minimum.
    min, min_dims, min_axes;
    /// The maximum.
    max, max_dims, max_axes;
    /// The minimum ignoring NaN.
    nanmin, nanmin_dims, nanmin_axes;
    /// The maximum ignoring NaN.
    nanmax, nanmax_dims, nanmax_axes;
);

macro_rules! binops {
    ($($trait:ident, $method:ident;)*) => {$(
        impl<T: Numeric> std::ops::$trait<&DataArray<T>> for &DataArray<T> {
            type Output = Result<DataArray<T>>;
            /// Broadcast and aligned by dimension name (see [`DataArray`]).
            fn $method(self, rhs: &DataArray<T>) -> Result<DataArray<T>> {
                self.binary(stringify!($method), rhs, |a, b| std::ops::$trait::$method(a, b))
            }
        }
        impl<T: Numeric> std::ops::$trait<T> for &DataArray<T> {
            type Output = DataArray<T>;
            /// With a scalar; dimensions and coordinates kept, attributes dropped.
            fn $method(self, s: T) -> DataArray<T> {
                DataArray {
                    name: self.name.clone(),
                    data: std::ops::$trait::$method(&self.data, s),
                    dims: self.dims.clone(),
                    coords: self.coords.clone(),
                    attrs: Map::new(),
                }
            }
        }
    )*};
}

binops!(Add, add; Sub, sub; Mul, mul; Div, div;);
