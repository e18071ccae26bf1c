//! Dataset metadata: [`Hdf5Info`], attributes as JSON, NetCDF4 dimension names.

use crate::element::DType;
use ::hdf5::types::{FloatSize, TypeDescriptor as TD, VarLenArray};
use serde_json::{Map, Number, Value};
use std::path::PathBuf;

/// What an HDF5 dataset is, read at open: see [`super::Hdf5Source::info`].
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Hdf5Info {
    /// The file.
    pub file: PathBuf,
    /// The dataset's path inside the file, without the leading `/`.
    pub path: String,
    /// The array shape.
    pub shape: Vec<usize>,
    /// The element type.
    pub dtype: DType,
    /// The chunk shape, `None` for contiguous (or compact) datasets.
    pub chunks: Option<Vec<usize>>,
    /// The filter pipeline in encoding order (`"shuffle"`, `"deflate(4)"`, `"fletcher32"`, ...).
    pub filters: Vec<String>,
    /// The value unwritten chunks read as; `None` when the file leaves it undefined.
    pub fill_value: Option<Value>,
    /// The dataset's attributes (see [`super::Hdf5Source::attributes`] for the mapping).
    pub attributes: Map<String, Value>,
    /// The NetCDF4 / HDF5 dimension-scale names of the axes, when every axis has one.
    pub dimension_names: Option<Vec<String>>,
}

/// Attributes that implement NetCDF4 dimensions and HDF5 dimension scales rather than carry
/// user metadata; left out of [`attributes`] (as xarray does).
const RESERVED: &[&str] = &[
    "DIMENSION_LIST",
    "REFERENCE_LIST",
    "CLASS",
    "NAME",
    "_Netcdf4Dimid",
    "_Netcdf4Coordinates",
    "_nc3_strict",
    "_NCProperties",
    super::INCOMPLETE_ATTR,
];

/// The name of a filter for [`Hdf5Info::filters`].
pub(super) fn filter_name(f: &::hdf5::filters::Filter) -> String {
    use ::hdf5::filters::Filter;
    match f {
        Filter::Deflate(level) => format!("deflate({level})"),
        Filter::Shuffle => "shuffle".into(),
        Filter::Fletcher32 => "fletcher32".into(),
        Filter::SZip(..) => "szip".into(),
        Filter::NBit => "nbit".into(),
        Filter::ScaleOffset(_) => "scaleoffset".into(),
        Filter::User(id, _) => match known_filter(*id) {
            Some(name) => format!("{} (filter {id})", name.to_ascii_lowercase()),
            None => format!("filter {id}"),
        },
    }
}

/// The name of a registered third-party HDF5 filter (from the HDF Group's filter registry).
fn known_filter(id: i32) -> Option<&'static str> {
    Some(match id {
        307 => "bzip2",
        32000 => "LZF",
        32001 => "Blosc",
        32002 => "MAFISC",
        32003 => "Snappy",
        32004 => "LZ4",
        32008 => "bitshuffle",
        32013 => "ZFP",
        32015 => "Zstandard",
        32017 => "SZ",
        32024 => "SZ3",
        32026 => "Blosc2",
        _ => return None,
    })
}

/// The filters of the pipeline that this libhdf5 cannot run (no plugin found), each as
/// `"LZF (id 32000)"`.
pub(super) fn unavailable_filters(filters: &[::hdf5::filters::Filter]) -> Vec<String> {
    use ::hdf5::filters::Filter;
    filters
        .iter()
        .filter(|f| !Filter::get_info(f.id()).is_available)
        .map(|f| {
            let id = f.id();
            match (f, known_filter(id)) {
                (Filter::SZip(..), _) => format!("szip (id {id})"),
                (_, Some(name)) => format!("{name} (id {id})"),
                _ => format!("id {id} (unregistered)"),
            }
        })
        .collect()
}

/// A float as JSON: non-finite values as the strings `"NaN"`, `"Infinity"`, `"-Infinity"` (the
/// Zarr convention), since JSON numbers cannot hold them.
pub(super) fn float_json(v: f64) -> Value {
    match Number::from_f64(v) {
        Some(n) => Value::Number(n),
        None if v.is_nan() => Value::String("NaN".into()),
        None if v > 0.0 => Value::String("Infinity".into()),
        None => Value::String("-Infinity".into()),
    }
}

/// Reads every attribute of `loc` that maps to JSON. Attributes of other types (references,
/// compounds, enums) and the reserved dimension-scale ones are left out; an attribute that fails
/// to read is left out too, since metadata must not keep a dataset from opening.
pub(super) fn attributes(loc: &::hdf5::Location) -> Map<String, Value> {
    let mut out = Map::new();
    let Ok(names) = loc.attr_names() else {
        return out;
    };
    for name in names {
        if RESERVED.contains(&name.as_str()) {
            continue;
        }
        let Ok(attr) = loc.attr(&name) else { continue };
        if let Some(v) = attribute_value(&attr) {
            out.insert(name, v);
        }
    }
    out
}

/// One attribute as JSON: a scalar or a one-element array as a scalar (as netCDF4 does), a
/// longer one as an array (flattened in C order).
fn attribute_value(attr: &::hdf5::Attribute) -> Option<Value> {
    let desc = attr.dtype().ok()?.to_descriptor().ok()?;
    let values: Vec<Value> = match &desc {
        TD::Integer(_) => attr
            .read_raw::<i64>()
            .ok()?
            .into_iter()
            .map(Value::from)
            .collect(),
        TD::Unsigned(_) => attr
            .read_raw::<u64>()
            .ok()?
            .into_iter()
            .map(Value::from)
            .collect(),
        TD::Float(FloatSize::U4) => attr
            .read_raw::<f32>()
            .ok()?
            .into_iter()
            .map(|v| float_json(f64::from(v)))
            .collect(),
        TD::Float(_) => attr
            .read_raw::<f64>()
            .ok()?
            .into_iter()
            .map(float_json)
            .collect(),
        TD::Boolean => attr
            .read_raw::<bool>()
            .ok()?
            .into_iter()
            .map(Value::from)
            .collect(),
        TD::VarLenUnicode => attr
            .read_raw::<::hdf5::types::VarLenUnicode>()
            .ok()?
            .into_iter()
            .map(|s| Value::from(s.as_str()))
            .collect(),
        TD::VarLenAscii => attr
            .read_raw::<::hdf5::types::VarLenAscii>()
            .ok()?
            .into_iter()
            .map(|s| Value::from(s.as_str()))
            .collect(),
        TD::FixedAscii(n) | TD::FixedUnicode(n) => fixed_strings(attr, *n)?
            .into_iter()
            .map(Value::from)
            .collect(),
        _ => return None,
    };
    let scalar_like = attr.shape().iter().product::<usize>() == 1 && attr.shape().len() <= 1;
    if scalar_like && values.len() == 1 {
        values.into_iter().next()
    } else {
        Some(Value::Array(values))
    }
}

/// Reads a fixed-length string attribute with its own stored type: each element is `n` bytes,
/// cut at the first NUL and with trailing spaces removed (NetCDF `NC_CHAR` and space-padded
/// strings).
fn fixed_strings(attr: &::hdf5::Attribute, n: usize) -> Option<Vec<String>> {
    let dtype = attr.dtype().ok()?;
    if dtype.size() != n || n == 0 {
        return None;
    }
    let count = attr.shape().iter().product::<usize>().max(1);
    let mut buf = vec![0u8; n.checked_mul(count)?];
    let (attr_id, type_id) = (attr.id(), dtype.id());
    let status = ::hdf5::sync::sync(|| {
        // SAFETY: `attr_id` and `type_id` are live handles (held by `attr` and `dtype`); the
        // memory type is the attribute's own fixed-length string type of `n` bytes, so the
        // library writes exactly `count * n` bytes, the size of `buf`. The lock is held.
        unsafe { hdf5_sys::h5a::H5Aread(attr_id, type_id, buf.as_mut_ptr().cast()) }
    });
    if status < 0 {
        return None;
    }
    Some(
        buf.chunks(n)
            .map(|s| {
                let end = s.iter().position(|&b| b == 0).unwrap_or(s.len());
                String::from_utf8_lossy(&s[..end])
                    .trim_end_matches(' ')
                    .to_owned()
            })
            .collect(),
    )
}

/// The fill value of a dataset of element type `dtype`, as JSON.
pub(super) fn fill_value_json(dataset: &::hdf5::Dataset, dtype: DType) -> Option<Value> {
    let fill = dataset.fill_value().ok()??;
    crate::dispatch_dtype!(dtype, {
        let v: T = fill.cast::<T>().ok()?;
        Some(scalar_json(v))
    })
}

/// One element as JSON.
pub(super) fn scalar_json<T: crate::element::Element>(v: T) -> Value {
    // Every element type converts through one of these without loss.
    let any: &dyn std::any::Any = &v;
    if let Some(b) = any.downcast_ref::<bool>() {
        return Value::from(*b);
    }
    if let Some(x) = any.downcast_ref::<f32>() {
        return float_json(f64::from(*x));
    }
    if let Some(x) = any.downcast_ref::<f64>() {
        return float_json(*x);
    }
    macro_rules! ints {
        ($($t:ty),*) => {$(
            if let Some(x) = any.downcast_ref::<$t>() {
                return Value::from(*x);
            }
        )*};
    }
    ints!(i8, i16, i32, i64, u8, u16, u32, u64);
    Value::Null
}

/// The names of the dataset's dimension scales (NetCDF4 dimensions), one per axis, when every
/// axis has exactly one: the last path component of the scale each `DIMENSION_LIST` entry
/// points to.
///
/// A one-dimensional dimension scale without a `DIMENSION_LIST` (a NetCDF4 coordinate variable
/// such as `lat(lat)`) is named by itself.
pub(super) fn dimension_names(dataset: &::hdf5::Dataset, rank: usize) -> Option<Vec<String>> {
    let basename =
        |ds: &::hdf5::Dataset| ds.name().rsplit('/').next().unwrap_or_default().to_owned();
    let Ok(attr) = dataset.attr("DIMENSION_LIST") else {
        let class = dataset.attr("CLASS").ok().and_then(|a| attribute_value(&a));
        return (rank == 1 && class == Some(Value::from("DIMENSION_SCALE")))
            .then(|| vec![basename(dataset)]);
    };
    let desc = attr.dtype().ok()?.to_descriptor().ok()?;
    match &desc {
        TD::VarLenArray(inner) if matches!(**inner, TD::Reference(_)) => {}
        _ => return None,
    }
    let lists = attr
        .read_raw::<VarLenArray<::hdf5::ObjectReference1>>()
        .ok()?;
    if lists.len() != rank {
        return None;
    }
    let mut names = Vec::with_capacity(rank);
    for list in &lists {
        let [reference] = list.as_slice() else {
            return None;
        };
        match dataset.dereference(reference).ok()? {
            ::hdf5::ReferencedObject::Dataset(ds) => names.push(basename(&ds)),
            _ => return None,
        }
    }
    Some(names)
}

/// The text of a NetCDF4 dimension scale's `NAME` attribute when the dimension has no
/// coordinate variable (netCDF-C writes it; the dataset is then no variable).
const BARE_DIMENSION: &str = "This is a netCDF dimension but not a netCDF variable";

/// Whether `dataset` is a bare NetCDF4 dimension (a scale without a coordinate variable).
pub(super) fn is_bare_dimension(dataset: &::hdf5::Dataset) -> bool {
    dataset
        .attr("NAME")
        .ok()
        .and_then(|a| attribute_value(&a))
        .and_then(|v| v.as_str().map(|s| s.starts_with(BARE_DIMENSION)))
        .unwrap_or(false)
}
