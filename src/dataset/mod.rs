//! Labelled arrays: [`Dataset`] (the variables of a Zarr group or a NetCDF4 file) and
//! [`DataArray`] (a [`ChunkedArray`](crate::ChunkedArray) with dimension names, coordinates
//! and attributes), as xarray's.
//!
//! ```
//! use chunkwise::dataset::{Coordinate, DataArray, Label};
//! use chunkwise::prelude::*;
//! use chunkwise::time::{Calendar, TimeCoder};
//!
//! let rt = Runtime::builder().threads(1).build()?;
//! let coder = TimeCoder::new("days since 2001-01-01", Some("noleap"))?;
//! let times = coder.decode(&(0..365).map(f64::from).collect::<Vec<_>>())?;
//! let x = ChunkedArray::<f64>::from_shape_fn(&[365, 3], [31, 3], |ix| ix[0] as f64)?;
//! let da = DataArray::new(x, &["time", "lat"])?
//!     .with_coord("time", Coordinate::times(times, Calendar::NoLeap))?
//!     .with_coord("lat", Coordinate::numbers(vec![60.0, 45.0, 30.0]))?;
//!
//! let spring = da.sel(&[("time", Label::time_range("2001-03", "2001-05"))])?;
//! assert_eq!(spring.shape(), &[31 + 30 + 31, 3]);
//! let m = spring.mean("time")?.sel(&[("lat", Label::from(45.0))])?;
//! assert_eq!(m.data().compute_scalar(&rt)?, (59.0 + 150.0) / 2.0);
//! # Ok::<(), chunkwise::Error>(())
//! ```
//!
//! ## Where it follows xarray, and where not
//! - Only dimension coordinates (1-D variables named like their dimension) are
//!   coordinates; other variables, 2-D latitudes included, are data variables.
//! - `isel` / `sel` with a single index or value drop the dimension and its coordinate
//!   (xarray keeps a scalar coordinate).
//! - A `sel` range that matches nothing is an error ([`Error::SelectionNotFound`]), where
//!   xarray returns an empty array.
//! - Binary operations refuse different coordinates on a shared dimension
//!   ([`Error::CoordinateMismatch`]) where xarray silently takes the inner join; call
//!   [`DataArray::align`] for that.
//! - Reductions and arithmetic drop attributes (xarray's default `keep_attrs=False`).
//!
//! [`Error::SelectionNotFound`]: crate::Error::SelectionNotFound
//! [`Error::CoordinateMismatch`]: crate::Error::CoordinateMismatch

// Without Zarr, nothing opens or writes stores: their helpers go unused.
#![cfg_attr(not(feature = "zarr"), allow(dead_code, unused_imports))]

mod coord;
mod dataarray;
mod group;
#[cfg(feature = "zarr")]
mod group_store;
#[cfg(feature = "hdf5")]
mod netcdf;
mod open;
mod select;
#[cfg(feature = "zarr")]
mod write;

pub use coord::{CoordValues, Coordinate};
pub use dataarray::DataArray;
pub use group::DataGroupBy;
pub use open::{Dataset, Variable};
pub use select::Label;
#[cfg(feature = "zarr")]
pub use write::{DatasetWriteOptions, dataset_of};
