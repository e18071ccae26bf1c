//! HDF5 and NetCDF4 datasets as block sources and sinks, through the `hdf5` crate
//! (`hdf5-metno`, linking the system libhdf5). Enabled by the cargo feature `hdf5`.
//!
//! - [`Hdf5Source`] opens one dataset (metadata only) and reads any region of it inside tasks.
//!   Chunk-aligned regions of datasets filtered only by shuffle and deflate (gzip) are read as
//!   raw chunks under the library's global lock and decoded outside it, so several workers can
//!   decode at once; every other read is a hyperslab read by the library.
//! - [`Hdf5Info`] describes a dataset: shape, type, chunks, filters, fill value, attributes as
//!   JSON (for CF decoding by the array layer) and NetCDF4 dimension names.
//! - [`Hdf5Writer`] creates a dataset and writes blocks into it, with its attributes and
//!   NetCDF4 dimensions (dimension scales, see [`netcdf`]) when asked, so xarray reads the
//!   file as NetCDF4 with the right dimension names. Until
//!   [`crate::io::BlockWriter::commit`] the dataset carries the attribute
//!   `chunkwise_incomplete = 1`, and [`Hdf5Source::open`] refuses such datasets, so an
//!   interrupted write never looks complete.
//!
//! The library serializes every call behind one process-wide lock; the module never holds it
//! while decoding.

use crate::element::DType;
use crate::error::{BoxError, Error, StoreErrorKind};
use std::path::Path;

mod meta;
pub mod netcdf;
mod raw;
mod source;
mod writer;

pub use meta::Hdf5Info;
pub use netcdf::Hdf5Dimension;
pub use source::Hdf5Source;
pub use writer::{Hdf5WriteOptions, Hdf5Writer};

/// The attribute that marks a dataset whose write has not committed.
pub const INCOMPLETE_ATTR: &str = "chunkwise_incomplete";

/// `file:/path/in/file`, the name errors and plans use for a dataset.
fn display_path(file: &Path, dataset: &str) -> String {
    format!("{}:/{}", file.display(), dataset)
}

/// A library failure while doing `action` (`"open the dataset"`), as
/// [`StoreErrorKind::Backend`] with the library's error as the source.
fn storage(op: &'static str, path: &str, action: &str, err: impl Into<BoxError>) -> Error {
    Error::backend(op, path, action, err)
}

fn store_error(op: &'static str, path: String, kind: StoreErrorKind) -> Error {
    Error::store(op, path, kind)
}

/// Normalizes `/a/b/c`, `a/b/c` and `a//b/` to `a/b/c`.
fn normalize_dataset_path(path: &str) -> String {
    path.split('/')
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("/")
}

/// The HDF5 file signature, found at offset 0 or at a power of two from 512 on (after a user
/// block).
const SIGNATURE: [u8; 8] = [0x89, b'H', b'D', b'F', b'\r', b'\n', 0x1a, b'\n'];

/// Whether the file carries the HDF5 signature where the format allows it.
fn has_hdf5_signature(file: &Path) -> std::io::Result<bool> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::File::open(file)?;
    let len = f.metadata()?.len();
    let mut offset = 0u64;
    let mut buf = [0u8; 8];
    while offset.saturating_add(8) <= len {
        f.seek(SeekFrom::Start(offset))?;
        f.read_exact(&mut buf)?;
        if buf == SIGNATURE {
            return Ok(true);
        }
        offset = if offset == 0 { 512 } else { offset * 2 };
    }
    Ok(false)
}

/// The NetCDF3 variant a file's magic number (`CDF` and a version byte) names, if any.
fn netcdf3_format(file: &Path) -> Option<&'static str> {
    use std::io::Read;
    let mut magic = [0u8; 4];
    std::fs::File::open(file)
        .ok()?
        .read_exact(&mut magic)
        .ok()?;
    match &magic {
        b"CDF\x01" => Some("a NetCDF3 classic (CDF-1)"),
        b"CDF\x02" => Some("a NetCDF3 64-bit offset (CDF-2)"),
        b"CDF\x05" => Some("a NetCDF3 64-bit data (CDF-5)"),
        _ => None,
    }
}

/// Opens an HDF5 file read-only, telling a missing file and a file of another format apart
/// from other failures.
fn open_file(op: &'static str, file: &Path, dataset: &str) -> crate::Result<::hdf5::File> {
    let shown = display_path(file, dataset);
    match std::fs::metadata(file) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(store_error(op, shown, StoreErrorKind::NotFound));
        }
        Err(e) => {
            return Err(Error::store_io(op, shown, "look at", file, e));
        }
        Ok(m) if m.is_dir() => {
            return Err(store_error(
                op,
                shown,
                StoreErrorKind::NotRecognized { format: "HDF5" },
            ));
        }
        Ok(_) => {}
    }
    match has_hdf5_signature(file) {
        Ok(false) => {
            let kind = match netcdf3_format(file) {
                Some(format) => StoreErrorKind::UnsupportedFormat {
                    format,
                    hint: "chunkwise reads NetCDF4 (HDF5-based) files: convert it with \
                           `nccopy -k netCDF-4 IN.nc OUT.nc`, or with xarray's \
                           `to_netcdf(..., format=\"NETCDF4\")`",
                },
                None => StoreErrorKind::NotRecognized { format: "HDF5" },
            };
            return Err(store_error(op, shown, kind));
        }
        Err(e) => {
            return Err(Error::store_io(op, shown, "read", file, e));
        }
        Ok(true) => {}
    }
    ::hdf5::File::open(file).map_err(|e| storage(op, &shown, "open the file", e))
}

/// Whether `path` (normalized, relative to `group`) exists. Every prefix is checked in turn, so a
/// missing intermediate group gives `false`, not a library error.
fn path_exists(group: &::hdf5::Group, path: &str) -> bool {
    let mut prefix = String::new();
    for part in path.split('/') {
        if !prefix.is_empty() {
            prefix.push('/');
        }
        prefix.push_str(part);
        if !group.link_exists(&prefix) {
            return false;
        }
    }
    true
}

/// What the path inside the file names, as an error when it is not a dataset.
fn check_is_dataset(
    op: &'static str,
    group: &::hdf5::Group,
    dataset: &str,
    shown: &str,
) -> crate::Result<()> {
    if dataset.is_empty() {
        return Err(store_error(
            op,
            shown.to_owned(),
            StoreErrorKind::NotAnArray {
                found: "group (the root group)".into(),
            },
        ));
    }
    if !path_exists(group, dataset) {
        return Err(store_error(
            op,
            shown.to_owned(),
            StoreErrorKind::ArrayNotFound,
        ));
    }
    match group.loc_type_by_name(dataset) {
        Ok(::hdf5::LocationType::Dataset) => Ok(()),
        Ok(::hdf5::LocationType::Group) => Err(store_error(
            op,
            shown.to_owned(),
            StoreErrorKind::NotAnArray {
                found: "group".into(),
            },
        )),
        Ok(other) => Err(store_error(
            op,
            shown.to_owned(),
            StoreErrorKind::NotAnArray {
                found: format!("{other:?}"),
            },
        )),
        // A dangling soft or external link.
        Err(e) => Err(storage(op, shown, "resolve the link", e)),
    }
}

/// The chunkwise type of a stored HDF5 type, or the error naming the stored type.
fn dtype_of(op: &'static str, shown: &str, datatype: &::hdf5::Datatype) -> crate::Result<DType> {
    use ::hdf5::types::{FloatSize, IntSize, TypeDescriptor as TD};
    let desc = datatype.to_descriptor().map_err(|e| {
        store_error(
            op,
            shown.to_owned(),
            StoreErrorKind::UnsupportedDType {
                dtype: format!("{} bytes, {e}", datatype.size()),
            },
        )
    })?;
    let dtype = match &desc {
        TD::Boolean => DType::Bool,
        TD::Integer(IntSize::U1) => DType::I8,
        TD::Integer(IntSize::U2) => DType::I16,
        TD::Integer(IntSize::U4) => DType::I32,
        TD::Integer(IntSize::U8) => DType::I64,
        TD::Unsigned(IntSize::U1) => DType::U8,
        TD::Unsigned(IntSize::U2) => DType::U16,
        TD::Unsigned(IntSize::U4) => DType::U32,
        TD::Unsigned(IntSize::U8) => DType::U64,
        TD::Float(FloatSize::U4) => DType::F32,
        TD::Float(FloatSize::U8) => DType::F64,
        other => {
            return Err(store_error(
                op,
                shown.to_owned(),
                StoreErrorKind::UnsupportedDType {
                    dtype: describe_type(other),
                },
            ));
        }
    };
    Ok(dtype)
}

/// A readable name for an HDF5 type descriptor.
fn describe_type(desc: &::hdf5::types::TypeDescriptor) -> String {
    use ::hdf5::types::TypeDescriptor as TD;
    match desc {
        TD::FixedAscii(n) => format!("fixed-length ASCII string ({n} bytes)"),
        TD::FixedUnicode(n) => format!("fixed-length UTF-8 string ({n} bytes)"),
        TD::VarLenAscii => "variable-length ASCII string".into(),
        TD::VarLenUnicode => "variable-length UTF-8 string".into(),
        TD::Compound(c) => format!(
            "compound {{{}}}",
            c.fields
                .iter()
                .map(|f| format!("{}: {}", f.name, describe_type(&f.ty)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        TD::Enum(_) => format!("enum ({desc})"),
        other => other.to_string(),
    }
}

/// The NetCDF variables of the root group of `file` (its datasets, without the bare
/// dimension scales netCDF4 adds for dimensions that have no coordinate variable), sorted,
/// and the root group's (global) attributes as JSON, as [`Hdf5Source::attributes`] gives a
/// dataset's. For [`crate::dataset`]'s `Dataset::open`.
///
/// # Errors
/// As [`Hdf5Source::open`] for the file: [`StoreErrorKind::NotFound`],
/// [`StoreErrorKind::NotRecognized`] (naming NetCDF3 where it is one), ...
pub fn root_variables(
    file: impl AsRef<Path>,
) -> crate::Result<(Vec<String>, serde_json::Map<String, serde_json::Value>)> {
    const OP: &str = "open dataset";
    let file = file.as_ref();
    let h5 = open_file(OP, file, "")?;
    let shown = display_path(file, "");
    let names = h5
        .member_names()
        .map_err(|e| storage(OP, &shown, "list the root group", e))?;
    let mut vars = Vec::new();
    for name in names {
        if !matches!(
            h5.loc_type_by_name(&name),
            Ok(::hdf5::LocationType::Dataset)
        ) {
            continue;
        }
        let Ok(ds) = h5.dataset(&name) else { continue };
        if !meta::is_bare_dimension(&ds) {
            vars.push(name);
        }
    }
    vars.sort();
    Ok((vars, meta::attributes(&h5)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dataset_paths_normalize() {
        assert_eq!(normalize_dataset_path("/group/sub/var"), "group/sub/var");
        assert_eq!(normalize_dataset_path("var"), "var");
        assert_eq!(normalize_dataset_path("//a//b/"), "a/b");
        assert_eq!(normalize_dataset_path("/"), "");
    }
}
