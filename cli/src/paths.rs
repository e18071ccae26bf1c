//! Array locations on the command line: `dir.zarr`, `store.zarr:/group/array`,
//! `file.nc:/group/var`, and Zarr stores at URLs (`s3://bucket/x.zarr:/t2m`, `gs://...`,
//! `https://host/x.zarr`; the feature `object-store`); opening them typed once their element
//! type is known; and metadata.

use crate::UsageError;
use anyhow::{Context, Result, bail};
use chunkwise::{ChunkedArray, DType, Element, OpenOptions};
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

/// Extensions taken for HDF5 / NetCDF4 without looking inside the file.
const HDF5_EXTENSIONS: &[&str] = &["h5", "hdf5", "hdf", "nc", "nc4", "he5"];

/// Where an array lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Location {
    /// A Zarr array: the store directory and the array path inside it (`""`: the store's root
    /// is the array).
    Zarr { store: PathBuf, array: String },
    /// An HDF5 / NetCDF4 dataset.
    Hdf5 { file: PathBuf, dataset: String },
}

impl Location {
    /// `store:/array` (or just the directory for a root array).
    pub(crate) fn display(&self) -> String {
        match self {
            Location::Zarr { store, array } if array.trim_matches('/').is_empty() => {
                store.display().to_string()
            }
            Location::Zarr { store, array } => {
                format!("{}:/{}", store.display(), array.trim_start_matches('/'))
            }
            Location::Hdf5 { file, dataset } => {
                format!("{}:/{}", file.display(), dataset.trim_start_matches('/'))
            }
        }
    }

    pub(crate) fn is_hdf5(&self) -> bool {
        matches!(self, Location::Hdf5 { .. })
    }

    /// The array or dataset `name` beside this one (in the same Zarr group or HDF5 group);
    /// `None` for a Zarr store whose root is the array (it has nothing beside it).
    pub(crate) fn sibling(&self, name: &str) -> Option<Location> {
        let beside = |inner: &str| match inner.trim_matches('/').rsplit_once('/') {
            Some((group, _)) => format!("{group}/{name}"),
            None => name.to_string(),
        };
        match self {
            Location::Zarr { array, .. } if array.trim_matches('/').is_empty() => None,
            Location::Zarr { store, array } => Some(Location::Zarr {
                store: store.clone(),
                array: beside(array),
            }),
            Location::Hdf5 { file, dataset } => Some(Location::Hdf5 {
                file: file.clone(),
                dataset: beside(dataset),
            }),
        }
    }

    /// Where the array lives, canonically (symlinks, `./` and `..` resolved; an array
    /// directory named as `dir.zarr/t2m` and as `dir.zarr:/t2m` is one location).
    pub(crate) fn stored(&self) -> chunkwise::io::guard::StoredLocation {
        use chunkwise::io::guard::StoredLocation;
        match self {
            Location::Zarr { store, array } if is_url_path(store) => {
                StoredLocation::remote(&format!(
                    "{}/{}",
                    store.display().to_string().trim_end_matches('/'),
                    array.trim_matches('/')
                ))
            }
            Location::Zarr { store, array } => {
                let rel = array.trim_matches('/');
                let dir = if rel.is_empty() {
                    store.clone()
                } else {
                    store.join(rel)
                };
                StoredLocation::new(&dir, "", self.display())
            }
            Location::Hdf5 { file, dataset } => StoredLocation::new(file, dataset, self.display()),
        }
    }
}

/// Whether a store path is a URL (`s3://...`).
pub(crate) fn is_url_path(p: &Path) -> bool {
    p.to_str().is_some_and(chunkwise::io::store_url::is_url)
}

/// Splits a URL `SCHEME://HOST/PATH:inner`: the `:` is looked for after the host (whose
/// `:PORT` stays).
fn split_url(s: &str, scheme: &str) -> (PathBuf, Option<String>) {
    let start = scheme.len() + 3;
    let rest = &s[start..];
    let host_end = rest.find('/').unwrap_or(rest.len());
    match rest[host_end..].rfind(':') {
        Some(i) => {
            let cut = start + host_end + i;
            (PathBuf::from(&s[..cut]), Some(s[cut + 1..].to_string()))
        }
        None => (PathBuf::from(s), None),
    }
}

/// Splits `file:inner` when the whole string is not an existing path.
fn split(s: &str) -> (PathBuf, Option<String>) {
    if let Some(scheme) = chunkwise::io::store_url::url_scheme(s) {
        return split_url(s, scheme);
    }
    if Path::new(s).exists() {
        return (PathBuf::from(s), None);
    }
    match s.rsplit_once(':') {
        Some((file, inner)) if !file.is_empty() => (PathBuf::from(file), Some(inner.to_string())),
        _ => (PathBuf::from(s), None),
    }
}

fn has_hdf5_extension(p: &Path) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| HDF5_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// Whether `p` is a file with the HDF5 signature (at offset 0, or 512, 1024, ... after a user
/// block).
fn has_hdf5_signature(p: &Path) -> bool {
    use std::io::{Read, Seek, SeekFrom};
    const SIGNATURE: [u8; 8] = [0x89, b'H', b'D', b'F', b'\r', b'\n', 0x1a, b'\n'];
    let Ok(mut f) = std::fs::File::open(p) else {
        return false;
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let mut offset = 0u64;
    let mut buf = [0u8; 8];
    while offset + 8 <= len {
        if f.seek(SeekFrom::Start(offset)).is_err() || f.read_exact(&mut buf).is_err() {
            return false;
        }
        if buf == SIGNATURE {
            return true;
        }
        offset = if offset == 0 { 512 } else { offset * 2 };
    }
    false
}

fn is_hdf5(p: &Path) -> bool {
    has_hdf5_extension(p) || (p.is_file() && has_hdf5_signature(p))
}

/// An input array. The file part must exist.
pub(crate) fn parse_input(s: &str) -> Result<Location> {
    if s.is_empty() {
        return Err(UsageError("an empty path was given".into()).into());
    }
    let (file, inner) = split(s);
    if is_url_path(&file) {
        return Ok(Location::Zarr {
            store: file,
            array: inner.unwrap_or_default(),
        });
    }
    match std::fs::metadata(&file) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            bail!("{}: no such file or directory", file.display());
        }
        // Permission denied (on the path or a directory above it) says so.
        Err(e) => bail!("{}: cannot be read: {e}", file.display()),
    }
    if is_hdf5(&file) {
        let Some(dataset) = inner.filter(|d| !d.trim_matches('/').is_empty()) else {
            return Err(UsageError(format!(
                "{s}: name the dataset inside the HDF5/NetCDF4 file, as {}:/group/var",
                file.display()
            ))
            .into());
        };
        return Ok(Location::Hdf5 { file, dataset });
    }
    if !file.is_dir() {
        bail!(
            "{}: neither a Zarr store (a directory) nor an HDF5/NetCDF4 file",
            file.display()
        );
    }
    Ok(Location::Zarr {
        store: file,
        array: inner.unwrap_or_default(),
    })
}

/// An output array (need not exist). HDF5 outputs need a dataset name.
pub(crate) fn parse_output(s: &str) -> Result<Location> {
    if s.is_empty() {
        return Err(UsageError("an empty output path was given".into()).into());
    }
    let (file, inner) = split(s);
    if is_url_path(&file) {
        return url_output(s, file, inner);
    }
    if has_hdf5_extension(&file) || (file.is_file() && has_hdf5_signature(&file)) {
        let Some(dataset) = inner.filter(|d| !d.trim_matches('/').is_empty()) else {
            return Err(UsageError(format!(
                "{s}: name the dataset to write inside the HDF5 file, as {}:/var",
                file.display()
            ))
            .into());
        };
        return Ok(Location::Hdf5 { file, dataset });
    }
    Ok(Location::Zarr {
        store: file,
        array: inner.unwrap_or_default(),
    })
}

/// An output at a URL: `s3://b/x.zarr:/t2m` as given; `s3://b/out.zarr` (no array named) is
/// the array `out.zarr` of the store `s3://b` (an object store has no rename, so a store's
/// root is never written as an array).
fn url_output(s: &str, store: PathBuf, inner: Option<String>) -> Result<Location> {
    if let Some(array) = inner.filter(|a| !a.trim_matches('/').is_empty()) {
        return Ok(Location::Zarr { store, array });
    }
    let text = store.display().to_string();
    let text = text.trim_end_matches('/');
    let scheme_end = text.find("://").map_or(0, |i| i + 3);
    match text[scheme_end..].rsplit_once('/') {
        Some((parent, name)) if !parent.is_empty() && !name.is_empty() => Ok(Location::Zarr {
            store: PathBuf::from(format!("{}{parent}", &text[..scheme_end])),
            array: name.to_string(),
        }),
        _ => Err(UsageError(format!(
            "{s}: name the array to write inside the bucket, as {text}/NAME.zarr or \
             {text}:/ARRAY"
        ))
        .into()),
    }
}

/// The error for HDF5 paths in a binary built without the `hdf5` feature.
#[cfg(not(feature = "hdf5"))]
pub(crate) fn no_hdf5(loc: &Location) -> anyhow::Error {
    anyhow::anyhow!(
        "{}: this chunkwise binary was built without HDF5 support; rebuild it with \
         `--features hdf5` (needs libhdf5) to read or write HDF5/NetCDF4 files",
        loc.display()
    )
}

/// What `info` shows, and what the other commands need before opening typed.
#[derive(Clone, Debug)]
pub(crate) struct Meta {
    /// `Zarr v3`, `HDF5`, `NetCDF4 (HDF5)`.
    pub format: String,
    pub shape: Vec<usize>,
    pub dtype: DType,
    /// The stored chunk shape (`None`: contiguous HDF5).
    pub chunks: Option<Vec<usize>>,
    /// Zarr sharding: the inner chunks.
    pub inner_chunks: Option<Vec<usize>>,
    /// Codecs (Zarr) or filters (HDF5).
    pub codecs: Vec<String>,
    pub fill_value: Value,
    pub dimension_names: Option<Vec<Option<String>>>,
    pub attributes: Map<String, Value>,
    /// The attributes CF decoding reads (Zarr v2: with the fill value as `_FillValue`).
    pub cf_attributes: Map<String, Value>,
}

/// Reads the metadata of the array at `loc`.
pub(crate) fn probe(loc: &Location) -> Result<Meta> {
    match loc {
        Location::Zarr { store, array } => {
            let src = chunkwise::io::zarr::ZarrSource::open(store, array)
                .map_err(anyhow::Error::new)
                .with_context(|| zarr_hint(store, array))?;
            let i = src.info();
            Ok(Meta {
                format: format!("Zarr v{}", i.format.number()),
                shape: i.shape.clone(),
                dtype: i.dtype,
                chunks: Some(i.chunk_shape.clone()),
                inner_chunks: i.inner_chunk_shape.clone(),
                codecs: i.codecs.clone(),
                fill_value: i.fill_value.clone(),
                dimension_names: i.dimension_names.clone(),
                attributes: i.attributes.clone(),
                cf_attributes: src.cf_attributes(),
            })
        }
        #[cfg(feature = "hdf5")]
        Location::Hdf5 { file, dataset } => {
            let src = chunkwise::io::hdf5::Hdf5Source::open(file, dataset)?;
            let i = src.info();
            let netcdf = file
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "nc" | "nc4"));
            Ok(Meta {
                format: if netcdf { "NetCDF4 (HDF5)" } else { "HDF5" }.to_string(),
                shape: i.shape.clone(),
                dtype: i.dtype,
                chunks: i.chunks.clone(),
                inner_chunks: None,
                codecs: i.filters.clone(),
                fill_value: i.fill_value.clone().unwrap_or(Value::Null),
                dimension_names: i
                    .dimension_names
                    .as_ref()
                    .map(|v| v.iter().cloned().map(Some).collect()),
                attributes: i.attributes.clone(),
                cf_attributes: i.attributes.clone(),
            })
        }
        #[cfg(not(feature = "hdf5"))]
        Location::Hdf5 { .. } => Err(no_hdf5(loc)),
    }
}

/// The coordinate variable of dimension `name` (of length `len`) of the array at `loc`: a 1-D
/// array of that name and length beside it (same Zarr group or HDF5 group), read whole, with
/// its attributes (Zarr v2: its fill value as `_FillValue`). `None` when there is none.
///
/// # Errors
/// Reading an array that is there fails.
#[cfg_attr(not(feature = "hdf5"), allow(dead_code))]
pub(crate) fn coordinate(
    loc: &Location,
    name: &str,
    len: usize,
) -> Result<Option<(chunkwise::AnyArray, Map<String, Value>)>> {
    use chunkwise::Region;
    use chunkwise::io::BlockSource;
    #[allow(clippy::single_range_in_vec_init)] // one axis: the range `0..len`
    let whole = Region(vec![0..len]);
    match loc.sibling(name) {
        None => Ok(None),
        Some(Location::Zarr { store, array }) => {
            let Ok(src) = chunkwise::io::zarr::ZarrSource::open(&store, &array) else {
                return Ok(None);
            };
            if src.shape() != [len] {
                return Ok(None);
            }
            let mut attributes = src.cf_attributes();
            attributes.remove("_ARRAY_DIMENSIONS");
            Ok(Some((src.read(&whole)?, attributes)))
        }
        #[cfg(feature = "hdf5")]
        Some(Location::Hdf5 { file, dataset }) => {
            let Ok(src) = chunkwise::io::hdf5::Hdf5Source::open(&file, &dataset) else {
                return Ok(None);
            };
            if src.shape() != [len] {
                return Ok(None);
            }
            let attributes = src.attributes().clone();
            Ok(Some((src.read(&whole)?, attributes)))
        }
        #[cfg(not(feature = "hdf5"))]
        Some(Location::Hdf5 { .. }) => Ok(None),
    }
}

/// The context added to Zarr open errors: how to name an array in a store.
fn zarr_hint(store: &Path, array: &str) -> String {
    if array.trim_matches('/').is_empty() {
        format!(
            "cannot open {} as a Zarr array (to name an array inside a store, write {}:/ARRAY)",
            store.display(),
            store.display()
        )
    } else {
        format!(
            "cannot open array {array:?} in Zarr store {}",
            store.display()
        )
    }
}

/// The run's memory limit (`--memory-limit`), for sizing the blocks of inputs stored
/// without chunks.
static MEMORY_LIMIT: std::sync::OnceLock<usize> = std::sync::OnceLock::new();

/// Sets the memory limit [`open`] sizes blocks from (once, at start).
pub(crate) fn set_memory_limit(limit: usize) {
    let _ = MEMORY_LIMIT.set(limit);
}

/// Opens the array at `loc` as `T`; a variable stored without chunks (contiguous HDF5) is
/// split into blocks of a sixteenth of the memory limit (see [`set_memory_limit`]).
pub(crate) fn open<T: Element>(loc: &Location, opts: &OpenOptions) -> Result<ChunkedArray<T>> {
    let with_limit;
    let opts = match (opts.memory_limit, MEMORY_LIMIT.get()) {
        (None, Some(&limit)) => {
            with_limit = OpenOptions {
                memory_limit: Some(limit),
                ..opts.clone()
            };
            &with_limit
        }
        _ => opts,
    };
    match loc {
        Location::Zarr { store, array } => ChunkedArray::<T>::open_zarr_with(store, array, opts)
            .map_err(anyhow::Error::new)
            .with_context(|| zarr_hint(store, array)),
        #[cfg(feature = "hdf5")]
        Location::Hdf5 { file, dataset } => {
            Ok(ChunkedArray::<T>::open_hdf5_with(file, dataset, opts)?)
        }
        #[cfg(not(feature = "hdf5"))]
        Location::Hdf5 { .. } => Err(no_hdf5(loc)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitting() {
        assert_eq!(
            split("no/such.zarr:/grp/a"),
            (PathBuf::from("no/such.zarr"), Some("/grp/a".into()))
        );
        assert_eq!(split("f.nc:t"), (PathBuf::from("f.nc"), Some("t".into())));
        assert_eq!(split("plain"), (PathBuf::from("plain"), None));
        assert!(has_hdf5_extension(Path::new("a/b.NC")));
        assert!(!has_hdf5_extension(Path::new("a/b.zarr")));
        assert_eq!(
            split("s3://b/x.zarr:/t2m"),
            (PathBuf::from("s3://b/x.zarr"), Some("/t2m".into()))
        );
        assert_eq!(
            split("http://127.0.0.1:8000/x.zarr"),
            (PathBuf::from("http://127.0.0.1:8000/x.zarr"), None)
        );
        assert_eq!(
            split("http://127.0.0.1:8000/x.zarr:g/a"),
            (
                PathBuf::from("http://127.0.0.1:8000/x.zarr"),
                Some("g/a".into())
            )
        );
    }

    #[test]
    fn url_outputs() {
        assert_eq!(
            parse_output("s3://b/dir/out.zarr").unwrap(),
            Location::Zarr {
                store: PathBuf::from("s3://b/dir"),
                array: "out.zarr".into()
            }
        );
        assert_eq!(
            parse_output("s3://b/x.zarr:/t2m").unwrap(),
            Location::Zarr {
                store: PathBuf::from("s3://b/x.zarr"),
                array: "/t2m".into()
            }
        );
        assert!(parse_output("s3://b").is_err());
        assert!(matches!(
            parse_input("s3://b/x.zarr").unwrap(),
            Location::Zarr { .. }
        ));
    }

    #[test]
    fn outputs() {
        assert!(matches!(
            parse_output("/tmp/x.h5:/v").unwrap(),
            Location::Hdf5 { .. }
        ));
        assert!(parse_output("/tmp/x.h5").is_err());
        assert_eq!(
            parse_output("/tmp/none-such.zarr").unwrap(),
            Location::Zarr {
                store: PathBuf::from("/tmp/none-such.zarr"),
                array: String::new()
            }
        );
    }
}
