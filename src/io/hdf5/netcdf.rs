//! NetCDF4 conventions for written datasets, so netCDF-C, xarray and chunkwise read back what
//! was meant: attributes with netCDF4 types (the fill-like ones typed as the variable, as
//! netCDF4 requires of `_FillValue`), and dimensions as HDF5 dimension scales
//! (`DIMENSION_LIST` / `REFERENCE_LIST`, through libhdf5's high-level `H5DS` functions):
//! a coordinate variable when one is given, else netCDF4's "dimension without a variable".

use super::storage;
use crate::element::{AnyArray, DType};
use crate::error::{Error, Result};
use serde_json::{Map, Value};

/// The `NAME` netCDF4 gives a dimension scale that is only a dimension (netCDF-C's
/// `DIM_WITHOUT_VARIABLE`; it appends the length in 10 columns).
pub const DIM_WITHOUT_VARIABLE: &str = "This is a netCDF dimension but not a netCDF variable.";

/// Attributes that implement netCDF4 dimensions or internals, or chunkwise's own bookkeeping:
/// never copied from an input (the writer makes its own).
const NOT_COPIED: &[&str] = &[
    "DIMENSION_LIST",
    "REFERENCE_LIST",
    "CLASS",
    "NAME",
    "_Netcdf4Dimid",
    "_Netcdf4Coordinates",
    "_nc3_strict",
    "_NCProperties",
    "_ARRAY_DIMENSIONS",
    super::INCOMPLETE_ATTR,
];

/// Attributes CF and netCDF4 want of the variable's own type.
const TYPED_AS_VARIABLE: &[&str] = &[
    "_FillValue",
    "missing_value",
    "valid_min",
    "valid_max",
    "valid_range",
];

/// One NetCDF4 dimension of a dataset written by [`super::Hdf5Writer`].
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Hdf5Dimension {
    /// The dimension's name (a dataset of that name holds its scale, beside the dataset).
    pub name: String,
    /// The coordinate variable's values (1-D, of the axis length) and attributes; `None`
    /// writes a dimension without a variable.
    pub coordinate: Option<(AnyArray, Map<String, Value>)>,
}

impl Hdf5Dimension {
    /// A dimension without a coordinate variable.
    pub fn new(name: impl Into<String>) -> Hdf5Dimension {
        Hdf5Dimension {
            name: name.into(),
            coordinate: None,
        }
    }

    /// The dimension with a coordinate variable of `values` and `attributes`.
    #[must_use]
    pub fn with_coordinate(mut self, values: AnyArray, attributes: Map<String, Value>) -> Self {
        self.coordinate = Some((values, attributes));
        self
    }
}

fn bad(name: &str, value: &Value, detail: impl Into<String>) -> Error {
    Error::BadAttribute {
        attribute: name.to_owned(),
        value: value.to_string(),
        detail: detail.into(),
    }
}

/// Writes `attributes` on `loc` (a dataset of element type `dtype`): strings as UTF-8
/// strings, integers as 64-bit integers, other numbers as `f64`, booleans as `i8`, arrays of
/// numbers or strings as 1-D attributes; `_FillValue`, `missing_value` and `valid_*` as
/// `dtype` (`"NaN"`, `"Infinity"` and Zarr v3's base64 floats understood). Objects are
/// written as their JSON text; `null` and empty arrays are skipped.
///
/// # Errors
/// [`Error::BadAttribute`] for a fill-like value that `dtype` cannot hold (a fraction for an
/// integer variable, out of range, not a number); [`Error::Store`] ([`crate::error::StoreErrorKind::Backend`]) for library failures.
pub fn write_attributes(
    loc: &::hdf5::Location,
    attributes: &Map<String, Value>,
    dtype: DType,
    shown: &str,
) -> Result<()> {
    const OP: &str = "write hdf5 attribute";
    for (name, value) in attributes {
        if NOT_COPIED.contains(&name.as_str()) || value.is_null() {
            continue;
        }
        let err = |e: ::hdf5::Error| storage(OP, shown, &format!("write the attribute {name}"), e);
        if TYPED_AS_VARIABLE.contains(&name.as_str()) && dtype != DType::Bool {
            let numbers = fill_numbers(name, value)?;
            crate::dispatch_numeric!(dtype, {
                let typed: Vec<T> = numbers
                    .iter()
                    .map(|&x| cast::<T>(x).ok_or_else(|| {
                        bad(name, value, format!("does not fit the variable's type {dtype}"))
                    }))
                    .collect::<Result<_>>()?;
                put(loc, name, &typed).map_err(err)?;
            }, bool => unreachable!("bool is excluded above"));
            continue;
        }
        match value {
            Value::Array(items) if items.is_empty() => {}
            Value::Array(items) if items.iter().all(Value::is_string) => {
                let strings = items
                    .iter()
                    .map(|s| unicode(s.as_str().unwrap_or_default()))
                    .collect::<std::result::Result<Vec<_>, String>>()
                    .map_err(|e| bad(name, value, e))?;
                put(loc, name, &strings).map_err(err)?;
            }
            Value::Array(items) if items.iter().all(|v| v.is_i64() || v.is_u64()) => {
                if let Some(ints) = items.iter().map(Value::as_i64).collect::<Option<Vec<_>>>() {
                    put(loc, name, &ints).map_err(err)?;
                } else {
                    let uints: Vec<u64> = items.iter().filter_map(Value::as_u64).collect();
                    put(loc, name, &uints).map_err(err)?;
                }
            }
            Value::Array(items) if items.iter().all(|v| float_of(v).is_some()) => {
                let floats: Vec<f64> = items.iter().filter_map(float_of).collect();
                put(loc, name, &floats).map_err(err)?;
            }
            Value::String(s) => {
                let s = unicode(s).map_err(|e| bad(name, value, e))?;
                put(loc, name, &[s]).map_err(err)?;
            }
            Value::Bool(b) => put(loc, name, &[i8::from(*b)]).map_err(err)?,
            Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    put(loc, name, &[i]).map_err(err)?;
                } else if let Some(u) = n.as_u64() {
                    put(loc, name, &[u]).map_err(err)?;
                } else {
                    put(loc, name, &[n.as_f64().unwrap_or(f64::NAN)]).map_err(err)?;
                }
            }
            // Mixed arrays and objects: their JSON text.
            other => {
                let s = unicode(&other.to_string()).map_err(|e| bad(name, value, e))?;
                put(loc, name, &[s]).map_err(err)?;
            }
        }
    }
    Ok(())
}

/// The `_FillValue` of `attributes` as a value of `dtype`, for the dataset's fill-value
/// property; `None` without one (or for `bool`).
///
/// # Errors
/// [`Error::BadAttribute`] when `dtype` cannot hold it.
pub fn typed_fill_value(
    attributes: &Map<String, Value>,
    dtype: DType,
) -> Result<Option<::hdf5::types::OwnedDynValue>> {
    let Some(value) = attributes.get("_FillValue").filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let numbers = fill_numbers("_FillValue", value)?;
    let Some(&first) = numbers.first() else {
        return Ok(None);
    };
    Ok(crate::dispatch_numeric!(dtype, {
        let v: T = cast::<T>(first).ok_or_else(|| {
            bad("_FillValue", value, format!("does not fit the variable's type {dtype}"))
        })?;
        Some(::hdf5::types::OwnedDynValue::from(v))
    }, bool => None))
}

fn unicode(s: &str) -> std::result::Result<::hdf5::types::VarLenUnicode, String> {
    s.parse::<::hdf5::types::VarLenUnicode>()
        .map_err(|e| format!("cannot be stored as an HDF5 string: {e}"))
}

/// A number of a JSON array: numbers and the special-float strings.
fn float_of(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(_) => crate::io::cf::base64_f64_or_number(v),
        _ => None,
    }
}

/// A number of a fill-like attribute, kept exact for integers.
#[derive(Clone, Copy, Debug)]
enum Num {
    Int(i128),
    Float(f64),
}

fn fill_numbers(name: &str, value: &Value) -> Result<Vec<Num>> {
    let one = |v: &Value| -> Option<Num> {
        if let Some(i) = v.as_i64() {
            return Some(Num::Int(i128::from(i)));
        }
        if let Some(u) = v.as_u64() {
            return Some(Num::Int(i128::from(u)));
        }
        crate::io::cf::base64_f64_or_number(v).map(Num::Float)
    };
    let items: Vec<&Value> = match value {
        Value::Array(items) => items.iter().collect(),
        v => vec![v],
    };
    items
        .into_iter()
        .map(|v| one(v).ok_or_else(|| bad(name, value, "is not a number")))
        .collect()
}

/// `x` as `T`: integers exactly (or `None`), floats rounded to `T` for float types and only
/// when integral for integer types.
fn cast<T: crate::element::Numeric>(x: Num) -> Option<T> {
    match x {
        Num::Int(i) => <T as num_traits::NumCast>::from(i),
        Num::Float(f) if T::DTYPE.is_float() => <T as num_traits::NumCast>::from(f),
        Num::Float(f) if f.fract() == 0.0 => <T as num_traits::NumCast>::from(f),
        Num::Float(_) => None,
    }
}

/// One attribute: a scalar for one value, else 1-D.
fn put<T: ::hdf5::H5Type>(loc: &::hdf5::Location, name: &str, values: &[T]) -> ::hdf5::Result<()> {
    if let [v] = values {
        loc.new_attr::<T>().create(name)?.write_scalar(v)
    } else {
        loc.new_attr::<T>()
            .shape(values.len())
            .create(name)?
            .write_raw(values)
    }
}

/// libhdf5's high-level dimension-scale functions (`libhdf5_hl`, shipped with libhdf5).
mod ds {
    use hdf5_sys::h5::{herr_t, htri_t};
    use hdf5_sys::h5i::hid_t;
    use std::ffi::{c_char, c_uint};

    #[link(name = "hdf5_hl")]
    unsafe extern "C" {
        pub(super) fn H5DSset_scale(dsid: hid_t, dimname: *const c_char) -> herr_t;
        pub(super) fn H5DSattach_scale(did: hid_t, dsid: hid_t, idx: c_uint) -> herr_t;
        pub(super) fn H5DSdetach_scale(did: hid_t, dsid: hid_t, idx: c_uint) -> herr_t;
        pub(super) fn H5DSis_attached(did: hid_t, dsid: hid_t, idx: c_uint) -> htri_t;
        pub(super) fn H5DSis_scale(did: hid_t) -> htri_t;
    }
}

/// Makes `dataset` a dimension scale whose `NAME` is `name`.
fn set_scale(dataset: &::hdf5::Dataset, name: &str) -> std::result::Result<(), String> {
    let cname = std::ffi::CString::new(name).map_err(|e| e.to_string())?;
    let id = dataset.id();
    // SAFETY: `id` is a live dataset handle held by `dataset`; `cname` is a NUL-terminated
    // string that outlives the call, which copies it. The library's global lock is held.
    let status = ::hdf5::sync::sync(|| unsafe { ds::H5DSset_scale(id, cname.as_ptr()) });
    if status < 0 {
        return Err(format!("H5DSset_scale failed for {}", dataset.name()));
    }
    Ok(())
}

fn is_scale(dataset: &::hdf5::Dataset) -> bool {
    let id = dataset.id();
    // SAFETY: `id` is a live dataset handle held by `dataset`; the lock is held.
    ::hdf5::sync::sync(|| unsafe { ds::H5DSis_scale(id) }) > 0
}

/// Attaches `scale` to axis `axis` of `dataset` (writing both `DIMENSION_LIST` and
/// `REFERENCE_LIST`).
fn attach(
    dataset: &::hdf5::Dataset,
    scale: &::hdf5::Dataset,
    axis: usize,
) -> std::result::Result<(), String> {
    let idx = u32::try_from(axis).map_err(|_| format!("axis {axis} out of range"))?;
    let (did, dsid) = (dataset.id(), scale.id());
    // SAFETY: both are live dataset handles held by their `Dataset`s, of the same file;
    // `idx` is an axis of `dataset` (the caller iterates over its rank). The lock is held.
    let status = ::hdf5::sync::sync(|| unsafe { ds::H5DSattach_scale(did, dsid, idx) });
    if status < 0 {
        return Err(format!(
            "H5DSattach_scale failed for {} axis {axis}",
            scale.name()
        ));
    }
    Ok(())
}

/// Detaches `scale` from axis `axis` of `dataset` if it is attached there (best effort, for a
/// dataset about to be replaced).
pub fn detach_if_attached(dataset: &::hdf5::Dataset, scale: &::hdf5::Dataset, axis: usize) {
    let Ok(idx) = u32::try_from(axis) else { return };
    let (did, dsid) = (dataset.id(), scale.id());
    // SAFETY: as in `attach`; H5DSis_attached and H5DSdetach_scale only read and update the
    // two datasets' attributes.
    ::hdf5::sync::sync(|| unsafe {
        if ds::H5DSis_attached(did, dsid, idx) > 0 {
            ds::H5DSdetach_scale(did, dsid, idx);
        }
    });
}

/// Checks, before anything is written, that `dims` fit a dataset `name` of `shape` in
/// `parent`: one per axis, valid names, coordinates of the axis length, and any dataset
/// already named like a dimension is 1-D of that length.
///
/// # Errors
/// [`Error::InvalidArgument`] naming the dimension and the lengths.
pub fn check_dimensions(
    op: &'static str,
    parent: &::hdf5::Group,
    name: &str,
    shape: &[usize],
    dims: &[Hdf5Dimension],
    shown: &str,
) -> Result<()> {
    let invalid = |detail: String| Error::InvalidArgument {
        op,
        detail: format!("{shown}: {detail}"),
    };
    if dims.len() != shape.len() {
        return Err(invalid(format!(
            "{} dimensions for a dataset of shape {shape:?}",
            dims.len()
        )));
    }
    for (axis, (dim, &len)) in dims.iter().zip(shape).enumerate() {
        let d = &dim.name;
        if d.is_empty() || d.contains('/') || d.starts_with('.') || d.contains('\0') {
            return Err(invalid(format!(
                "dimension name {d:?} of axis {axis} is not a usable dataset name"
            )));
        }
        if dims[..axis].iter().any(|o| &o.name == d) {
            return Err(invalid(format!(
                "dimension {d:?} names two axes; netCDF dimensions of one variable differ"
            )));
        }
        if let Some((values, _)) = &dim.coordinate
            && values.shape() != [len]
        {
            return Err(invalid(format!(
                "the coordinate variable {d:?} has shape {:?}, but axis {axis} has length {len}",
                values.shape()
            )));
        }
        if d == name {
            if shape.len() != 1 {
                return Err(invalid(format!(
                    "the dataset is named like its dimension {d:?} but has {} axes; a \
                     coordinate variable has one",
                    shape.len()
                )));
            }
            continue;
        }
        if parent.link_exists(d) {
            let existing = parent.dataset(d).map_err(|_| {
                invalid(format!(
                    "dimension {d:?}: the group already holds {d:?}, which is not a dataset"
                ))
            })?;
            if existing.shape() != [len] {
                return Err(invalid(format!(
                    "dimension {d:?} has length {len} on axis {axis}, but the file already \
                     holds {d:?} of shape {:?}; a netCDF dimension has one length",
                    existing.shape()
                )));
            }
        }
    }
    Ok(())
}

/// Gives `dataset` (named `name` in `parent`) its dimensions: for each axis the scale named
/// like the dimension, reused when the group has it (a dataset of that name that is not yet
/// a scale becomes the coordinate variable), else created from the coordinate values or as
/// a dimension without a variable; then attached. A dataset named like its one dimension is
/// made that dimension's coordinate variable.
///
/// # Errors
/// [`Error::Store`] ([`crate::error::StoreErrorKind::Backend`]) for library failures,
/// [`Error::BadAttribute`] for a coordinate's
/// attribute that cannot be written.
pub fn attach_dimensions(
    parent: &::hdf5::Group,
    dataset: &::hdf5::Dataset,
    name: &str,
    dims: &[Hdf5Dimension],
    shown: &str,
) -> Result<()> {
    const OP: &str = "write netcdf4 dimensions";
    let shape = dataset.shape();
    for (axis, dim) in dims.iter().enumerate() {
        let d = dim.name.as_str();
        let err = |e: String| storage(OP, shown, &format!("write the dimension {d}"), e);
        if d == name {
            set_scale(dataset, d).map_err(err)?;
            continue;
        }
        let scale = if parent.link_exists(d) {
            let s = parent.dataset(d).map_err(|e| err(e.to_string()))?;
            if !is_scale(&s) {
                set_scale(&s, d).map_err(err)?;
            }
            s
        } else {
            let len = shape.get(axis).copied().unwrap_or(0);
            create_scale(parent, d, len, dim.coordinate.as_ref(), shown)?
        };
        attach(dataset, &scale, axis).map_err(err)?;
    }
    Ok(())
}

/// A new dimension scale `d` of `len` in `parent`: the coordinate variable when given, else
/// netCDF4's dimension without a variable (a `float32` dataset never written).
fn create_scale(
    parent: &::hdf5::Group,
    d: &str,
    len: usize,
    coordinate: Option<&(AnyArray, Map<String, Value>)>,
    shown: &str,
) -> Result<::hdf5::Dataset> {
    const OP: &str = "write netcdf4 dimensions";
    let err = |e: String| storage(OP, shown, &format!("write the dimension {d}"), e);
    match coordinate {
        Some((values, attributes)) => {
            let dtype = values.dtype();
            let scale = crate::dispatch_dtype!(dtype, {
                let v: &ndarray::ArrayD<T> =
                    <T as crate::element::ElementSealed>::array_ref(values)
                        .ok_or_else(|| err("coordinate of another element type".into()))?;
                let v = v.as_standard_layout();
                parent
                    .new_dataset::<T>()
                    .shape([len])
                    .create(d)
                    .and_then(|s| s.write_raw(v.as_slice().unwrap_or_default()).map(|()| s))
            })
            .map_err(|e| err(e.to_string()))?;
            write_attributes(&scale, attributes, dtype, &format!("{shown} dimension {d}"))?;
            set_scale(&scale, d).map_err(err)?;
            Ok(scale)
        }
        None => {
            let scale = parent
                .new_dataset::<f32>()
                .shape([len])
                .create(d)
                .map_err(|e| err(e.to_string()))?;
            set_scale(&scale, &format!("{DIM_WITHOUT_VARIABLE}{len:>10}")).map_err(err)?;
            Ok(scale)
        }
    }
}
