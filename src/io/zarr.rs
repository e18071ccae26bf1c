//! Zarr v2 and v3 arrays on a local filesystem, through [`zarrs`].
//!
//! - [`ZarrSource`] opens an array (metadata only) and reads any region of it inside a task.
//! - [`ZarrWriter`] creates an array and receives chunk-aligned blocks from the executor.
//! - [`ZarrInfo`] describes a stored array: format, shape, element type, chunks, codecs, fill
//!   value, dimension names and attributes.
//!
//! Every codec zarrs ships with chunkwise's feature set is readable: blosc, zstd, gzip, zlib,
//! crc32c, transpose, sharding. Element types are those of [`DType`]; anything else (complex,
//! float16, strings, ...) is refused at open time with [`Error::Store`] of kind
//! [`StoreErrorKind::UnsupportedDType`].
//!
//! # Failure semantics of writes
//! [`ZarrWriter::create`] takes an exclusive lock on the output (see [`super::guard`]: a
//! second writer of the same array fails at once, naming the first one's PID and host) and
//! creates a staging directory beside the array (`.NAME.chunkwise-tmp-HOST-PID-N`, same
//! parent) holding a marker file named [`INCOMPLETE_MARKER`] and no Zarr metadata. Chunks are
//! written there as blocks arrive. [`BlockWriter::commit`] writes the metadata (`zarr.json`,
//! or `.zarray` + `.zattrs`), removes the marker, and only then swaps the staging directory
//! into place (atomically exchanging it with the old array, which is removed after). So:
//! - with `overwrite`, the old array stays whole and readable until the new one is complete;
//!   a kill, a full disk or an error (even one found before anything runs) leaves it as it
//!   was;
//! - a writer that fails or is dropped removes its staging directory; one that is killed
//!   leaves it (hidden, without metadata, so no Zarr reader sees an array), and the next
//!   writer of that array removes it once its process no longer runs;
//! - an array an older chunkwise left with the marker is still refused by
//!   [`ZarrSource::open`] as "written incompletely".
//!
//! A [`ZarrSource`] remembers the identity of the array's directory and metadata file when
//! opened; a read that finds them changed (the array was replaced) or the marker present
//! fails with a clear error instead of mixing old and new chunks.
//!
//! # Example: write an array and read a region back
//! ```
//! use chunkwise::io::zarr::{ZarrSource, ZarrWriteOptions, ZarrWriter};
//! use chunkwise::io::{BlockSource, BlockWriter};
//! use chunkwise::{AnyArray, DType, Region};
//! use ndarray::ArrayD;
//!
//! let store = std::env::temp_dir().join(format!("chunkwise-doc-{}.zarr", std::process::id()));
//! let w = ZarrWriter::create(&store, "x", &[4, 6], &[2, 3], DType::I32, ZarrWriteOptions::default())?;
//! let data = ArrayD::from_shape_vec(vec![4, 6], (0..24).collect::<Vec<i32>>()).unwrap();
//! w.write(&Region(vec![0..4, 0..6]), &AnyArray::I32(data).view())?;
//! w.commit()?;
//!
//! let src = ZarrSource::open(&store, "x")?;
//! assert_eq!(src.info().chunk_shape, vec![2, 3]);
//! let block = src.read(&Region(vec![1..3, 2..5]))?;
//! assert_eq!(block.shape(), &[2, 3]);
//! # std::fs::remove_dir_all(&store).unwrap();
//! # Ok::<(), chunkwise::Error>(())
//! ```

use super::{BlockSource, BlockWriter};
use crate::chunks::Region;
use crate::element::{AnyArray, AnyView, DType, Element};
use crate::error::{Error, Result, StoreErrorKind};
use ndarray::{ArrayD, ArrayViewD, IxDyn};
use serde_json::{Map, Value, json};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use zarrs::array::{
    Array, ArrayBytesFixedDisjointView, ArrayCreateError, ArrayMetadata, ArrayMetadataOptions,
    ArrayShardedExt, ArraySubset, CodecOptions, ElementOwned, data_type as zdt,
};
use zarrs::filesystem::FilesystemStore;
use zarrs::storage::{ReadableStorageTraits, ReadableWritableStorageTraits};

mod diagnose;

/// The file [`ZarrWriter::create`] leaves in an array's directory until
/// [`BlockWriter::commit`] succeeds.
pub const INCOMPLETE_MARKER: &str = ".chunkwise-incomplete";

/// The Zarr format version of an array.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ZarrFormat {
    /// Zarr v2 (`.zarray`, `.zattrs`).
    V2,
    /// Zarr v3 (`zarr.json`).
    #[default]
    V3,
}

impl ZarrFormat {
    /// The format number, 2 or 3.
    pub fn number(self) -> u8 {
        match self {
            ZarrFormat::V2 => 2,
            ZarrFormat::V3 => 3,
        }
    }
}

/// A description of a stored Zarr array, read from its metadata.
#[derive(Clone, Debug, PartialEq)]
pub struct ZarrInfo {
    /// The format version.
    pub format: ZarrFormat,
    /// The array shape.
    pub shape: Vec<usize>,
    /// The element type.
    pub dtype: DType,
    /// The chunk shape of the store's chunk grid: for a sharded array, the shard shape (one
    /// file per shard).
    pub chunk_shape: Vec<usize>,
    /// For a sharded array, the shape of the inner chunks (the unit of decoding); `None`
    /// otherwise.
    pub inner_chunk_shape: Option<Vec<usize>>,
    /// The codecs, one JSON string each, in the metadata's order. For v3, each codec's
    /// `{"name": .., "configuration": ..}`; for v2, the filters then the compressor, each as
    /// `filter: {..}` / `compressor: {..}` (empty for an uncompressed array).
    pub codecs: Vec<String>,
    /// The fill value, as the metadata writes it (e.g. `0`, `"NaN"`, `false`).
    pub fill_value: Value,
    /// Dimension names: v3 `dimension_names`, else the `_ARRAY_DIMENSIONS` attribute (v2 and
    /// xarray), when it has one name per axis.
    pub dimension_names: Option<Vec<Option<String>>>,
    /// The user attributes (v2: the `.zattrs` contents).
    pub attributes: Map<String, Value>,
}

/// A Zarr array in a filesystem store, read lazily region by region.
///
/// Opening reads only the metadata. [`BlockSource::read`] reads any region (aligned to the
/// chunks or not); missing chunks read as the fill value. A chunk that cannot be read (its
/// file truncated or corrupt, a directory, or unreadable) fails the read with
/// [`Error::BadChunk`], naming the chunk's grid index and its file. Reads are independent and may run
/// on every worker at once; each decodes its chunks one at a time (zarrs' own codec
/// concurrency is set to 1, since the executor parallelises across tasks).
pub struct ZarrSource {
    array: Array<dyn ReadableStorageTraits>,
    /// For a filesystem store: its root and the array's identity when opened; `None` for an
    /// object store (`s3://`, `gs://`, `http(s)://`).
    local: Option<LocalArray>,
    path: String,
    shape: Vec<usize>,
    info: ZarrInfo,
    /// The read granularity: inner chunks of a sharded array, else the chunks.
    read_chunk: Vec<usize>,
    codec_options: CodecOptions,
}

/// What a filesystem-backed [`ZarrSource`] knows about its files.
struct LocalArray {
    /// The store's root directory (chunk keys are relative to it).
    store_root: PathBuf,
    /// What the array looked like when opened; reads fail when it changes.
    opened: Fingerprint,
}

/// The identity of an array's directory and metadata file: a write that replaces the array
/// (a swap into place, or another tool rewriting it) changes it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Fingerprint {
    dir: PathBuf,
    /// `(device, inode)` of the directory.
    dir_id: (u64, u64),
    /// `(inode, length, modification time in ns)` of the metadata file.
    meta_id: (u64, u64, i128),
}

impl Fingerprint {
    fn take(dir: &Path) -> Option<Fingerprint> {
        let d = std::fs::metadata(dir).ok()?;
        let meta = ["zarr.json", ".zarray"]
            .iter()
            .find_map(|f| std::fs::metadata(dir.join(f)).ok())?;
        Some(Fingerprint {
            dir: dir.to_path_buf(),
            dir_id: file_id(&d),
            meta_id: {
                let ino = file_id(&meta).1;
                let mtime = meta
                    .modified()
                    .ok()
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map_or(0, |d| d.as_nanos() as i128);
                (ino, meta.len(), mtime)
            },
        })
    }

    /// Fails when the array at the path is no longer the one opened (replaced, being
    /// rewritten in place, or marked incomplete by a writer).
    fn check(&self, path: &str) -> Result<()> {
        let now = Fingerprint::take(&self.dir);
        let incomplete = self.dir.join(INCOMPLETE_MARKER).exists();
        if incomplete || now.as_ref() != Some(self) {
            return Err(Error::store(
                "read zarr",
                path,
                StoreErrorKind::ReplacedWhileReading {
                    detail: if incomplete {
                        "another writer started rewriting it: its incomplete marker appeared; \
                         read it again once the write has finished"
                    } else {
                        "it was overwritten or removed since it was opened; open it again and \
                         recompute"
                    },
                },
            ));
        }
        Ok(())
    }
}

#[cfg(unix)]
fn file_id(m: &std::fs::Metadata) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    (m.dev(), m.ino())
}

#[cfg(not(unix))]
fn file_id(_m: &std::fs::Metadata) -> (u64, u64) {
    (0, 0)
}

impl fmt::Debug for ZarrSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ZarrSource")
            .field("path", &self.path)
            .field("shape", &self.shape)
            .field("dtype", &self.info.dtype)
            .field("chunks", &self.info.chunk_shape)
            .finish()
    }
}

/// `store/array` as one displayable path.
fn display_path(store: &Path, array_path: &str) -> String {
    let rel = array_path.trim_matches('/');
    if rel.is_empty() {
        store.display().to_string()
    } else {
        store.join(rel).display().to_string()
    }
}

/// The zarrs node path (`/a/b`) of an array path given as `a/b`, `/a/b` or `` (root).
fn node_path(array_path: &str) -> String {
    format!("/{}", array_path.trim_matches('/'))
}

/// A zarrs failure while doing `action`, the zarrs error kept as the source.
fn backend<E: std::error::Error + Send + Sync + 'static>(
    op: &'static str,
    path: &str,
    action: impl Into<String>,
) -> impl FnOnce(E) -> Error {
    move |e| Error::backend(op, path, action, e)
}

fn invalid_metadata(op: &'static str, path: &str, detail: impl Into<String>) -> Error {
    Error::store(
        op,
        path,
        StoreErrorKind::InvalidMetadata {
            detail: detail.into(),
        },
    )
}

fn not_an_array(op: &'static str, path: impl Into<String>, found: &str) -> Error {
    Error::store(
        op,
        path,
        StoreErrorKind::NotAnArray {
            found: found.to_string(),
        },
    )
}

/// The kind of Zarr node a directory holds, judged from its metadata files.
enum NodeKind {
    ArrayV2,
    ArrayV3,
    Group,
    /// A chunkwise write that never committed.
    Incomplete,
    /// No Zarr metadata (or no directory).
    Nothing,
}

/// Whether `file` (a metadata file in the node directory `dir`) is a file. Missing is `false`;
/// a file that cannot be looked at (an unreadable directory) is an [`Error::Store`] naming `dir`
/// ([`StoreErrorKind::PermissionDenied`]), not "no array here".
fn is_file(dir: &Path, file: &str, path: &str, op: &'static str) -> Result<bool> {
    match std::fs::metadata(dir.join(file)) {
        Ok(m) => Ok(m.is_file()),
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
            ) =>
        {
            Ok(false)
        }
        Err(source) => Err(Error::store_io(
            op,
            path,
            "read the node directory",
            dir,
            source,
        )),
    }
}

fn node_kind(dir: &Path, path: &str, op: &'static str) -> Result<NodeKind> {
    if is_file(dir, INCOMPLETE_MARKER, path, op)? {
        return Ok(NodeKind::Incomplete);
    }
    let v3 = dir.join("zarr.json");
    if is_file(dir, "zarr.json", path, op)? {
        let bytes =
            std::fs::read(&v3).map_err(|source| Error::store_io(op, path, "read", &v3, source))?;
        let meta: Value = serde_json::from_slice(&bytes).map_err(|e| {
            Error::store_caused(
                op,
                path,
                StoreErrorKind::InvalidMetadata {
                    detail: format!("the metadata file {} is not valid JSON", v3.display()),
                },
                e,
            )
        })?;
        return match meta.get("node_type").and_then(Value::as_str) {
            Some("array") => Ok(NodeKind::ArrayV3),
            Some("group") => Ok(NodeKind::Group),
            other => Err(invalid_metadata(
                op,
                path,
                format!(
                    "{}: node_type is {other:?}, expected \"array\" or \"group\"",
                    v3.display()
                ),
            )),
        };
    }
    if is_file(dir, ".zarray", path, op)? {
        return Ok(NodeKind::ArrayV2);
    }
    if is_file(dir, ".zgroup", path, op)? {
        return Ok(NodeKind::Group);
    }
    Ok(NodeKind::Nothing)
}

/// The kind of Zarr node at an object-store location, judged from its metadata objects.
#[cfg(feature = "object-store")]
fn remote_node_kind(here: &super::remote::Remote, op: &'static str) -> Result<NodeKind> {
    if here.get(op, INCOMPLETE_MARKER)?.is_some() {
        return Ok(NodeKind::Incomplete);
    }
    if let Some(bytes) = here.get(op, "zarr.json")? {
        let meta: Value = serde_json::from_slice(&bytes).map_err(|e| {
            Error::store_caused(
                op,
                here.url(),
                StoreErrorKind::InvalidMetadata {
                    detail: "zarr.json is not valid JSON".into(),
                },
                e,
            )
        })?;
        return match meta.get("node_type").and_then(Value::as_str) {
            Some("array") => Ok(NodeKind::ArrayV3),
            Some("group") => Ok(NodeKind::Group),
            other => Err(invalid_metadata(
                op,
                here.url(),
                format!("zarr.json: node_type is {other:?}, expected \"array\" or \"group\""),
            )),
        };
    }
    if here.get(op, ".zarray")?.is_some() {
        return Ok(NodeKind::ArrayV2);
    }
    if here.get(op, ".zgroup")?.is_some() {
        return Ok(NodeKind::Group);
    }
    Ok(NodeKind::Nothing)
}

/// The names of the entries of a group directory that are Zarr nodes, for error messages.
fn group_children(dir: &Path) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| {
            let p = e.path();
            p.join("zarr.json").is_file()
                || p.join(".zarray").is_file()
                || p.join(".zgroup").is_file()
        })
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    out.sort();
    out
}

fn dtype_of(dt: &zarrs::array::DataType) -> Option<DType> {
    Some(if dt.is::<zdt::BoolDataType>() {
        DType::Bool
    } else if dt.is::<zdt::Int8DataType>() {
        DType::I8
    } else if dt.is::<zdt::Int16DataType>() {
        DType::I16
    } else if dt.is::<zdt::Int32DataType>() {
        DType::I32
    } else if dt.is::<zdt::Int64DataType>() {
        DType::I64
    } else if dt.is::<zdt::UInt8DataType>() {
        DType::U8
    } else if dt.is::<zdt::UInt16DataType>() {
        DType::U16
    } else if dt.is::<zdt::UInt32DataType>() {
        DType::U32
    } else if dt.is::<zdt::UInt64DataType>() {
        DType::U64
    } else if dt.is::<zdt::Float32DataType>() {
        DType::F32
    } else if dt.is::<zdt::Float64DataType>() {
        DType::F64
    } else {
        return None;
    })
}

fn to_usize(v: u64, what: &str, path: &str) -> Result<usize> {
    usize::try_from(v).map_err(|_| {
        invalid_metadata(
            "open zarr",
            path,
            format!("{what} {v} does not fit this platform's usize"),
        )
    })
}

fn shape_usize(v: &[u64], what: &str, path: &str) -> Result<Vec<usize>> {
    v.iter().map(|&x| to_usize(x, what, path)).collect()
}

impl ZarrSource {
    /// Opens the array at `array_path` (`"t2m"`, `"group/sub/arr"`, or `""` for a store whose
    /// root is the array) in the filesystem store at `store_path`, reading its metadata only.
    /// Both Zarr v2 and v3 are recognised.
    ///
    /// # Errors
    /// [`Error::Store`] naming the path, of kind
    /// - [`StoreErrorKind::NotFound`] if `store_path` does not exist,
    ///   [`StoreErrorKind::NotRecognized`] if it is not a directory;
    /// - [`StoreErrorKind::PermissionDenied`] (naming the directory) if the store, a directory
    ///   above it or the array's directory cannot be read;
    /// - [`StoreErrorKind::ArrayNotFound`] if there is no array there,
    ///   [`StoreErrorKind::NotAnArray`] if the path is a group (the message lists the nodes it
    ///   holds), [`StoreErrorKind::Incomplete`] if the array was written incompletely (a
    ///   [`ZarrWriter`] that never committed);
    /// - [`StoreErrorKind::InvalidMetadata`] if the metadata is not valid JSON or describes an
    ///   array too large to plan, [`StoreErrorKind::UnsupportedDType`] if the element type is
    ///   not one of [`DType`], [`StoreErrorKind::FilterUnavailable`] for a codec zarrs does not
    ///   have, and [`StoreErrorKind::Backend`] (zarrs' error as the source) if zarrs refuses
    ///   the metadata otherwise.
    pub fn open(store_path: impl AsRef<Path>, array_path: &str) -> Result<ZarrSource> {
        const OP: &str = "open zarr";
        let store_path = store_path.as_ref();
        if let Some(url) = super::store_url::path_url(store_path) {
            return Self::open_url(url, array_path);
        }
        let path = display_path(store_path, array_path);
        match std::fs::metadata(store_path) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(Error::store(
                    OP,
                    path,
                    StoreErrorKind::NotRecognized { format: "Zarr" },
                ));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::store(OP, path, StoreErrorKind::NotFound));
            }
            // Permission denied on the store or a parent says so, not "no such directory".
            Err(source) => {
                return Err(Error::store_io(
                    OP,
                    path,
                    "look at the store",
                    store_path,
                    source,
                ));
            }
        }
        let dir = store_path.join(array_path.trim_matches('/'));
        match node_kind(&dir, &path, OP)? {
            NodeKind::ArrayV2 | NodeKind::ArrayV3 => {}
            NodeKind::Group => {
                let children = group_children(&dir);
                return Err(Error::store(
                    OP,
                    path,
                    StoreErrorKind::NotAnArray {
                        found: format!(
                            "Zarr group (it holds {})",
                            if children.is_empty() {
                                "no nodes".to_string()
                            } else {
                                children.join(", ")
                            }
                        ),
                    },
                ));
            }
            NodeKind::Incomplete => {
                return Err(Error::store(OP, path, StoreErrorKind::Incomplete));
            }
            NodeKind::Nothing => {
                return Err(Error::store(OP, path, StoreErrorKind::ArrayNotFound));
            }
        }

        let opened = Fingerprint::take(&dir).ok_or_else(|| {
            Error::store(
                OP,
                &path,
                StoreErrorKind::ReplacedWhileReading {
                    detail: "its metadata disappeared while it was being opened; open it again",
                },
            )
        })?;
        let store = FilesystemStore::new(store_path).map_err(backend(
            OP,
            &path,
            "open the filesystem store",
        ))?;
        let storage: Arc<dyn ReadableStorageTraits> = Arc::new(store);
        let array = Array::open(storage, &node_path(array_path))
            .map_err(|e| create_error(OP, &path, "open the array", e))?;
        Self::from_array(
            array,
            path,
            Some(LocalArray {
                store_root: store_path.to_path_buf(),
                opened,
            }),
        )
    }

    /// The array at `array_path` in the object store at `url` (feature `object-store`).
    #[cfg(feature = "object-store")]
    fn open_url(url: &str, array_path: &str) -> Result<ZarrSource> {
        const OP: &str = "open zarr";
        let store = super::remote::Remote::open(OP, url)?;
        let here = store.child(array_path);
        let path = here.url().to_string();
        match remote_node_kind(&here, OP)? {
            NodeKind::ArrayV2 | NodeKind::ArrayV3 => {}
            NodeKind::Group => {
                return Err(not_an_array(OP, path, "Zarr group"));
            }
            NodeKind::Incomplete => {
                return Err(Error::store(OP, path, StoreErrorKind::Incomplete));
            }
            NodeKind::Nothing => {
                // A missing bucket or refused credentials say so, not "no array".
                let _ = here.any_object(OP)?;
                return Err(Error::store(OP, path, StoreErrorKind::ArrayNotFound));
            }
        }
        let array = Array::open(store.readable()?, &node_path(array_path))
            .map_err(|e| create_error(OP, &path, "open the array", e))?;
        Self::from_array(array, path, None)
    }

    #[cfg(not(feature = "object-store"))]
    fn open_url(url: &str, _array_path: &str) -> Result<ZarrSource> {
        Err(super::store_url::unsupported("open zarr", url))
    }

    /// The source for an opened array: its description read from the metadata.
    fn from_array(
        array: Array<dyn ReadableStorageTraits>,
        path: String,
        local: Option<LocalArray>,
    ) -> Result<ZarrSource> {
        const OP: &str = "open zarr";
        let dtype = dtype_of(array.data_type()).ok_or_else(|| {
            Error::store(
                OP,
                &path,
                StoreErrorKind::UnsupportedDType {
                    dtype: array.data_type().to_string(),
                },
            )
        })?;
        let shape = shape_usize(array.shape(), "axis length", &path)?;
        let meta = serde_json::to_value(array.metadata()).map_err(|e| {
            Error::internal(
                OP,
                format!("{path}: zarrs metadata does not serialise: {e}"),
            )
        })?;
        let format = match array.metadata() {
            ArrayMetadata::V2(_) => ZarrFormat::V2,
            ArrayMetadata::V3(_) => ZarrFormat::V3,
        };
        let zeros = vec![0u64; shape.len()];
        let chunk_shape: Vec<usize> = match chunk_shape_from_metadata(&meta, format) {
            Some(c) => shape_usize(&c, "chunk size", &path)?,
            None => {
                let c = array.chunk_shape(&zeros).map_err(backend(
                    OP,
                    &path,
                    "find the chunk shape",
                ))?;
                c.iter()
                    .map(|n| to_usize(n.get(), "chunk size", &path))
                    .collect::<Result<_>>()?
            }
        };
        let inner_chunk_shape = if array.is_sharded() {
            array
                .effective_subchunk_shape()
                .map(|c| {
                    c.iter()
                        .map(|n| to_usize(n.get(), "inner chunk size", &path))
                        .collect::<Result<Vec<_>>>()
                })
                .transpose()?
        } else {
            None
        };
        let attributes = array.attributes().clone();
        let dimension_names = array
            .dimension_names()
            .clone()
            .or_else(|| array_dimensions_attribute(&attributes, shape.len()));
        let info = ZarrInfo {
            format,
            shape: shape.clone(),
            dtype,
            chunk_shape: chunk_shape.clone(),
            inner_chunk_shape: inner_chunk_shape.clone(),
            codecs: codecs_from_metadata(&meta, format),
            fill_value: meta.get("fill_value").cloned().unwrap_or(Value::Null),
            dimension_names,
            attributes,
        };
        let read_chunk = inner_chunk_shape.unwrap_or(chunk_shape);
        super::check_stored_size(OP, &path, &shape, Some(&read_chunk), dtype)?;
        Ok(ZarrSource {
            array,
            local,
            path,
            shape,
            info,
            read_chunk,
            codec_options: CodecOptions::default()
                .with_concurrent_target(1)
                .with_chunk_concurrent_minimum(1),
        })
    }

    /// The array's description: format, shape, element type, chunks, codecs, fill value,
    /// dimension names, attributes.
    pub fn info(&self) -> &ZarrInfo {
        &self.info
    }

    /// The user attributes (v2: `.zattrs`; v3: `attributes` in `zarr.json`).
    pub fn attributes(&self) -> &Map<String, Value> {
        &self.info.attributes
    }

    /// The attributes CF decoding reads, as xarray sees them: the user attributes, plus for
    /// Zarr v2 the array's `fill_value` as `_FillValue` (xarray writes a v2 variable's
    /// `_FillValue` there, not among the attributes, and reads it back from there). A `null`
    /// fill value adds nothing, nor does the fill value of a `bool` array. In Zarr v3 the
    /// `fill_value` is only what missing chunks read as, and xarray keeps `_FillValue` among the
    /// attributes (base64-encoded for floats, which [`crate::io::cf::CfDecode`] understands).
    pub fn cf_attributes(&self) -> Map<String, Value> {
        let mut out = self.info.attributes.clone();
        if self.info.format == ZarrFormat::V2
            && self.info.dtype != DType::Bool
            && !self.info.fill_value.is_null()
        {
            out.insert("_FillValue".into(), self.info.fill_value.clone());
        }
        out
    }

    /// The store and array path, as used in error messages.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Reads a region of a plain numeric type, decoding straight into the block's buffer:
    /// zarrs' own `Vec<T>` read zero-fills a buffer and copies the decoded chunk into it, a
    /// memset and a memcpy of every block (a fifth of the CPU of a blosc-lz4 mean).
    fn read_pod<T: Element + ElementOwned + bytemuck::Pod>(
        &self,
        region: &Region,
        subset: &ArraySubset,
    ) -> Result<AnyArray> {
        let size = std::mem::size_of::<T>();
        if self.array.data_type().fixed_size() != Some(size) {
            return self.read_typed::<T>(region, subset);
        }
        let n = region.len();
        let shape: Vec<u64> = region.shape().iter().map(|&l| l as u64).collect();
        let mut v: Vec<T> = Vec::with_capacity(n);
        {
            // SAFETY: the spare capacity holds `n` elements of `T`, `n * size` bytes, owned by
            // `v` and borrowed only here; a `T` is plain old data, so any bytes are a value.
            let bytes =
                unsafe { std::slice::from_raw_parts_mut(v.as_mut_ptr().cast::<u8>(), n * size) };
            let cells = unsafe_cell_slice::UnsafeCellSlice::new(bytes);
            // SAFETY: the view covers the whole buffer and is the only one over it.
            let mut view = unsafe {
                ArrayBytesFixedDisjointView::new(
                    cells,
                    size,
                    &shape,
                    ArraySubset::new_with_shape(shape.clone()),
                )
            }
            .map_err(|e| Error::internal("read zarr", format!("{}: {e}", self.path)))?;
            self.array
                .retrieve_array_subset_into_opt(subset, (&mut view).into(), &self.codec_options)
                .map_err(|e| self.read_error(region, subset, e))?;
        }
        // SAFETY: zarrs wrote every element of the view (decoded chunks, and the fill value
        // where a chunk is missing) or returned an error above; `n` is within the capacity.
        unsafe { v.set_len(n) };
        self.block_of(region, v)
    }

    /// The error of a failed read of `region`: which chunk and file, and why, when one chunk
    /// is to blame.
    fn read_error(
        &self,
        region: &Region,
        subset: &ArraySubset,
        e: zarrs::array::ArrayError,
    ) -> Error {
        self.local
            .as_ref()
            .and_then(|local| {
                diagnose::bad_chunk(
                    &self.array,
                    &local.store_root,
                    &self.path,
                    subset,
                    &self.codec_options,
                )
            })
            .unwrap_or_else(|| {
                Error::backend("read zarr", &self.path, format!("read region {region}"), e)
            })
    }

    fn read_typed<T: Element + ElementOwned>(
        &self,
        region: &Region,
        subset: &ArraySubset,
    ) -> Result<AnyArray> {
        let v: Vec<T> = self
            .array
            .retrieve_array_subset_opt(subset, &self.codec_options)
            .map_err(|e| self.read_error(region, subset, e))?;
        self.block_of(region, v)
    }

    /// The block of `region` from its decoded elements.
    fn block_of<T: Element>(&self, region: &Region, v: Vec<T>) -> Result<AnyArray> {
        let a = ArrayD::from_shape_vec(IxDyn(&region.shape()), v).map_err(|e| {
            Error::internal(
                "read zarr",
                format!(
                    "{}: region {region} decoded to the wrong length: {e}",
                    self.path
                ),
            )
        })?;
        Ok(T::wrap(a))
    }

    fn check_region(&self, op: &'static str, region: &Region) -> Result<()> {
        check_region(op, &self.path, &self.shape, region)
    }
}

fn check_region(op: &'static str, path: &str, shape: &[usize], region: &Region) -> Result<()> {
    if region.0.len() != shape.len() {
        return Err(Error::Shape {
            op,
            detail: format!(
                "{path}: region {region} has {} axes but the array shape {shape:?} has {}",
                region.0.len(),
                shape.len()
            ),
        });
    }
    for (axis, (r, &n)) in region.0.iter().zip(shape).enumerate() {
        if r.start > r.end || r.end > n {
            return Err(Error::Shape {
                op,
                detail: format!(
                    "{path}: region {region} is out of bounds of shape {shape:?} on axis {axis}"
                ),
            });
        }
    }
    Ok(())
}

/// An [`ArrayCreateError`] from zarrs while doing `action`, as the kind of failure it is: an
/// unknown data type or codec, else a backend failure; zarrs' error is kept as the source.
fn create_error(op: &'static str, path: &str, action: &str, e: ArrayCreateError) -> Error {
    // zarrs says "codec NAME is not supported" (its fields are private).
    let unsupported = |p: &zarrs::plugin::PluginCreateError| match p {
        zarrs::plugin::PluginCreateError::Unsupported(u) => {
            let text = u.to_string();
            let text = text.strip_suffix(" is not supported").unwrap_or(&text);
            Some(text.to_string())
        }
        _ => None,
    };
    let kind = match &e {
        ArrayCreateError::DataTypeCreateError(p) => match unsupported(p) {
            Some(dtype) => StoreErrorKind::UnsupportedDType {
                dtype: dtype
                    .strip_prefix("data type ")
                    .unwrap_or(&dtype)
                    .to_string(),
            },
            None => StoreErrorKind::InvalidMetadata {
                detail: "zarrs refuses the data type".into(),
            },
        },
        ArrayCreateError::CodecsCreateError(p) => match unsupported(p) {
            Some(codec) => StoreErrorKind::FilterUnavailable {
                filter: codec.strip_prefix("codec ").unwrap_or(&codec).to_string(),
                hint: "a Zarr codec that chunkwise's zarrs does not have; chunkwise decodes \
                       blosc, zstd, gzip, zlib, crc32c, transpose and sharding",
            },
            None => StoreErrorKind::InvalidMetadata {
                detail: "zarrs refuses the codec configuration".into(),
            },
        },
        _ => StoreErrorKind::Backend {
            action: action.to_string(),
        },
    };
    Error::store_caused(op, path, kind, e)
}

fn chunk_shape_from_metadata(meta: &Value, format: ZarrFormat) -> Option<Vec<u64>> {
    let chunks = match format {
        ZarrFormat::V2 => meta.get("chunks")?,
        ZarrFormat::V3 => {
            let grid = meta.get("chunk_grid")?;
            if grid.get("name")?.as_str()? != "regular" {
                return None;
            }
            grid.get("configuration")?.get("chunk_shape")?
        }
    };
    chunks.as_array()?.iter().map(Value::as_u64).collect()
}

fn codecs_from_metadata(meta: &Value, format: ZarrFormat) -> Vec<String> {
    let compact = |v: &Value| serde_json::to_string(v).unwrap_or_default();
    match format {
        ZarrFormat::V3 => meta
            .get("codecs")
            .and_then(Value::as_array)
            .map(|cs| cs.iter().map(compact).collect())
            .unwrap_or_default(),
        ZarrFormat::V2 => {
            let mut out: Vec<String> = meta
                .get("filters")
                .and_then(Value::as_array)
                .map(|fs| {
                    fs.iter()
                        .map(|f| format!("filter: {}", compact(f)))
                        .collect()
                })
                .unwrap_or_default();
            if let Some(c) = meta.get("compressor").filter(|c| !c.is_null()) {
                out.push(format!("compressor: {}", compact(c)));
            }
            out
        }
    }
}

/// xarray's `_ARRAY_DIMENSIONS` attribute, when it names every axis.
fn array_dimensions_attribute(
    attributes: &Map<String, Value>,
    ndim: usize,
) -> Option<Vec<Option<String>>> {
    let names = attributes.get("_ARRAY_DIMENSIONS")?.as_array()?;
    if names.len() != ndim {
        return None;
    }
    Some(
        names
            .iter()
            .map(|n| n.as_str().map(str::to_string))
            .collect(),
    )
}

impl BlockSource for ZarrSource {
    fn dtype(&self) -> DType {
        self.info.dtype
    }

    fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The inner chunk shape for a sharded array (the unit zarrs decodes, so any multiple of it
    /// reads without waste), else the chunk shape.
    fn natural_chunks(&self) -> Option<Vec<usize>> {
        Some(self.read_chunk.clone())
    }

    fn read(&self, region: &Region) -> Result<AnyArray> {
        self.check_region("read zarr", region)?;
        if region.is_empty() {
            return Ok(AnyArray::zeros(self.info.dtype, &region.shape()));
        }
        let ranges: Vec<std::ops::Range<u64>> = region
            .0
            .iter()
            .map(|r| r.start as u64..r.end as u64)
            .collect();
        let subset = ArraySubset::new_with_ranges(&ranges);
        // Before and after: a write that replaced the array mid-read is caught either way.
        if let Some(local) = &self.local {
            local.opened.check(&self.path)?;
        }
        let block = match self.info.dtype {
            DType::Bool => self.read_typed::<bool>(region, &subset),
            DType::I8 => self.read_pod::<i8>(region, &subset),
            DType::I16 => self.read_pod::<i16>(region, &subset),
            DType::I32 => self.read_pod::<i32>(region, &subset),
            DType::I64 => self.read_pod::<i64>(region, &subset),
            DType::U8 => self.read_pod::<u8>(region, &subset),
            DType::U16 => self.read_pod::<u16>(region, &subset),
            DType::U32 => self.read_pod::<u32>(region, &subset),
            DType::U64 => self.read_pod::<u64>(region, &subset),
            DType::F32 => self.read_pod::<f32>(region, &subset),
            DType::F64 => self.read_pod::<f64>(region, &subset),
        }?;
        if let Some(local) = &self.local {
            local.opened.check(&self.path)?;
        }
        Ok(block)
    }

    /// zarrs decodes the region into its own byte buffer (region-sized) that is then copied
    /// into the returned block, and decodes one chunk at a time: a chunk only partly inside the
    /// region is decoded whole (chunk-sized) beside its encoded bytes (at most chunk-sized for
    /// the codecs in use, plus a shard index). So: one region plus two chunks, for regions
    /// touching more than one chunk; a region inside one chunk needs the region plus two chunks
    /// as well.
    fn read_scratch_bytes(&self, region: &Region) -> usize {
        let dsize = self.info.dtype.size();
        let chunk_elems: usize = self.read_chunk.iter().product();
        region.len() * dsize + 2 * chunk_elems * dsize
    }

    fn location(&self) -> Option<super::guard::StoredLocation> {
        Some(match &self.local {
            Some(local) => {
                super::guard::StoredLocation::new(&local.opened.dir, "", self.path.clone())
            }
            None => super::guard::StoredLocation::remote(&self.path),
        })
    }

    fn describe(&self) -> String {
        format!(
            "zarr v{} {} {:?} {}",
            self.info.format.number(),
            self.path,
            self.shape,
            self.info.dtype
        )
    }
}

/// The compression of a written array.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ZarrCompression {
    /// Uncompressed chunks.
    None,
    /// Zstandard at the given level (1..=22; 3 is zstd's default).
    Zstd {
        /// The compression level.
        level: i32,
    },
}

impl Default for ZarrCompression {
    fn default() -> Self {
        ZarrCompression::Zstd { level: 3 }
    }
}

/// How [`ZarrWriter::create`] writes an array.
///
/// # Example
/// ```
/// use chunkwise::io::zarr::{ZarrCompression, ZarrFormat, ZarrWriteOptions};
/// let opts = ZarrWriteOptions {
///     format: ZarrFormat::V2,
///     compression: ZarrCompression::None,
///     overwrite: true,
///     dimension_names: Some(vec![Some("time".into()), Some("lat".into())]),
///     ..Default::default()
/// };
/// # let _ = opts;
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ZarrWriteOptions {
    /// Zarr v3 (default) or v2.
    pub format: ZarrFormat,
    /// zstd level 3 (default) or none.
    pub compression: ZarrCompression,
    /// Whether an existing array at the path is replaced (default `false`: it is an error).
    /// Even with `true`, a group or a directory that is not a Zarr array is never removed.
    pub overwrite: bool,
    /// Dimension names, one per axis: v3 `dimension_names`; for v2, the `_ARRAY_DIMENSIONS`
    /// attribute (as xarray writes it).
    pub dimension_names: Option<Vec<Option<String>>>,
    /// User attributes to store.
    pub attributes: Map<String, Value>,
}

/// Writes a new Zarr array in a filesystem store, block by block.
///
/// Blocks handed to [`BlockWriter::write`] must be aligned to the chunk grid: each covers one
/// or several whole chunks (the last chunk of an axis may be short). Blocks are written from
/// any thread; two blocks must not share a chunk. Chunks equal to the fill value everywhere
/// are not stored (they read back as the fill value, which is the type's zero: `0`, `0.0`,
/// `false`).
///
/// See the [module docs](self) for the failure semantics: nothing looks like an array until
/// [`BlockWriter::commit`].
pub struct ZarrWriter {
    array: Array<dyn ReadableWritableStorageTraits>,
    path: String,
    /// The array's final directory.
    dir: PathBuf,
    /// Where the array is written until commit moves it to `dir`; `None` once moved.
    staging: std::sync::Mutex<Option<StagingDir>>,
    /// Held from create to commit (or drop).
    lock: std::sync::Mutex<Option<super::guard::OutputLock>>,
    location: super::guard::StoredLocation,
    shape: Vec<usize>,
    chunk_shape: Vec<usize>,
    dtype: DType,
    committed: AtomicBool,
    codec_options: CodecOptions,
    /// For an object store: the array's location, cleaned up unless committed.
    #[cfg(feature = "object-store")]
    remote: Option<RemoteWrite>,
}

/// An array being written in an object store: there is no rename there, so chunks go to
/// their final keys beside an [`INCOMPLETE_MARKER`] object, and the metadata is written last
/// (at commit). Dropped uncommitted, it removes every object under the array's prefix, the
/// marker last, so a failure never leaves what looks like an array.
#[cfg(feature = "object-store")]
struct RemoteWrite {
    here: super::remote::Remote,
    armed: AtomicBool,
}

#[cfg(feature = "object-store")]
impl Drop for RemoteWrite {
    fn drop(&mut self) {
        if self.armed.load(Ordering::Acquire) {
            let _ = self.here.delete_all("write zarr", Some(INCOMPLETE_MARKER));
            let _ = self.here.delete("write zarr", INCOMPLETE_MARKER);
        }
    }
}

/// The text of the incomplete marker.
const MARKER_TEXT: &str = "This Zarr array is being written by chunkwise, or its writer was \
    killed before committing. When complete it is moved into place; a later write of the same \
    array removes it once its process no longer runs.\n";

impl fmt::Debug for ZarrWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ZarrWriter")
            .field("path", &self.path)
            .field("shape", &self.shape)
            .field("chunks", &self.chunk_shape)
            .field("dtype", &self.dtype)
            .field("committed", &self.committed.load(Ordering::Relaxed))
            .finish()
    }
}

/// A staging directory, removed with its contents on drop unless it was moved into place.
#[derive(Debug)]
struct StagingDir(PathBuf);

impl Drop for StagingDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn v2_dtype(d: DType) -> &'static str {
    match d {
        DType::Bool => "|b1",
        DType::I8 => "|i1",
        DType::I16 => "<i2",
        DType::I32 => "<i4",
        DType::I64 => "<i8",
        DType::U8 => "|u1",
        DType::U16 => "<u2",
        DType::U32 => "<u4",
        DType::U64 => "<u8",
        DType::F32 => "<f4",
        DType::F64 => "<f8",
    }
}

fn zero_fill(d: DType) -> Value {
    match d {
        DType::Bool => json!(false),
        DType::F32 | DType::F64 => json!(0.0),
        _ => json!(0),
    }
}

#[cfg(feature = "object-store")]
fn json_bytes(v: &Value) -> Vec<u8> {
    serde_json::to_string_pretty(v)
        .unwrap_or_default()
        .into_bytes()
}

fn write_json(file: &Path, v: &Value, op: &'static str, path: &str) -> Result<()> {
    let text = serde_json::to_string_pretty(v).unwrap_or_default();
    std::fs::write(file, text)
        .map_err(|source| Error::store_io(op, path, "write metadata to", file, source))
}

impl ZarrWriter {
    /// Creates the array `array_path` in the filesystem store `store_path` (created if
    /// missing), with a regular grid of `chunk_shape` chunks, ready for blocks.
    ///
    /// Missing parent groups (and the store's root group) get group metadata of the same
    /// format. The array's own metadata is written by [`BlockWriter::commit`].
    ///
    /// # Errors
    /// - [`Error::ChunkRankMismatch`] / [`Error::ZeroChunk`] for a bad `chunk_shape`;
    ///   [`Error::InvalidArgument`] for dimension names of the wrong length or an empty
    ///   `array_path` (the store root cannot be replaced);
    /// - [`Error::Store`] naming the path, of kind [`StoreErrorKind::AlreadyExists`] if an
    ///   array exists there and `options.overwrite` is false,
    ///   [`StoreErrorKind::NotAnArray`] if it is a group or a non-Zarr directory,
    ///   [`StoreErrorKind::ParentNotAGroup`] if a parent is an array,
    ///   [`StoreErrorKind::Locked`] if another writer is writing it,
    ///   [`StoreErrorKind::PermissionDenied`] or [`StoreErrorKind::Backend`] (the I/O error as
    ///   the source) if a directory or file cannot be created.
    pub fn create(
        store_path: impl AsRef<Path>,
        array_path: &str,
        shape: &[usize],
        chunk_shape: &[usize],
        dtype: DType,
        options: ZarrWriteOptions,
    ) -> Result<ZarrWriter> {
        const OP: &str = "create zarr";
        // A worker process of an engine runs the user's program again up to its batch: the
        // outputs it creates on the way go to a place of its own in the work directory, never
        // to the user's (which only the driver writes).
        let redirected = crate::engine::worker::redirected_output()?;
        let store_path = redirected.as_deref().unwrap_or(store_path.as_ref());
        let path = display_path(store_path, array_path);
        let rel = array_path.trim_matches('/');
        if rel.is_empty() {
            return Err(Error::InvalidArgument {
                op: OP,
                detail: format!(
                    "{path}: an empty array path would make the store root an array; name the \
                     array inside the store"
                ),
            });
        }
        if chunk_shape.len() != shape.len() {
            return Err(Error::ChunkRankMismatch {
                op: OP,
                chunk_rank: chunk_shape.len(),
                rank: shape.len(),
                shape: shape.to_vec(),
            });
        }
        if let Some(axis) = chunk_shape.iter().position(|&c| c == 0) {
            return Err(Error::ZeroChunk {
                op: OP,
                axis,
                shape: shape.to_vec(),
            });
        }
        if let Some(names) = &options.dimension_names
            && names.len() != shape.len()
        {
            return Err(Error::InvalidArgument {
                op: OP,
                detail: format!(
                    "{path}: {} dimension names for an array of {} axes",
                    names.len(),
                    shape.len()
                ),
            });
        }

        let io = |action: &'static str, p: &Path| {
            let p = p.to_path_buf();
            let path = path.clone();
            move |source| Error::store_io(OP, path, action, &p, source)
        };
        // Names first: nothing is created for a path that could never be written.
        super::guard::validate_array_path(OP, &path, rel)?;
        if let Some(url) = super::store_url::path_url(store_path) {
            return Self::create_url(url, rel, shape, chunk_shape, dtype, options);
        }
        let components: Vec<&str> = rel.split('/').filter(|c| !c.is_empty()).collect();

        // Parent groups, from the root down.
        std::fs::create_dir_all(store_path)
            .map_err(io("create the store directory", store_path))?;
        let mut parent = store_path.to_path_buf();
        for (i, comp) in std::iter::once("")
            .chain(components[..components.len() - 1].iter().copied())
            .enumerate()
        {
            if i > 0 {
                parent.push(comp);
                std::fs::create_dir_all(&parent)
                    .map_err(io("create the group directory", &parent))?;
            }
            match node_kind(&parent, &path, OP)? {
                NodeKind::Group => {}
                NodeKind::Nothing => match options.format {
                    ZarrFormat::V3 => write_json(
                        &parent.join("zarr.json"),
                        &json!({"zarr_format": 3, "node_type": "group", "attributes": {}}),
                        OP,
                        &path,
                    )?,
                    ZarrFormat::V2 => write_json(
                        &parent.join(".zgroup"),
                        &json!({"zarr_format": 2}),
                        OP,
                        &path,
                    )?,
                },
                NodeKind::ArrayV2 | NodeKind::ArrayV3 | NodeKind::Incomplete => {
                    return Err(Error::store(
                        OP,
                        path,
                        StoreErrorKind::ParentNotAGroup {
                            parent: parent.display().to_string(),
                        },
                    ));
                }
            }
        }

        // One writer at a time, for the whole write.
        let dir = store_path.join(rel);
        let lock = super::guard::OutputLock::acquire(OP, &dir, &path)?;
        let name = components[components.len() - 1];
        super::guard::clean_stale(&parent, &super::guard::staging_prefix(name));

        // What is there now stays untouched until the new array is complete.
        match node_kind(&dir, &path, OP)? {
            NodeKind::Nothing => {
                let non_empty = std::fs::read_dir(&dir)
                    .map(|mut d| d.next().is_some())
                    .unwrap_or(false);
                if non_empty {
                    return Err(not_an_array(
                        OP,
                        path,
                        "directory without Zarr metadata (chunkwise never writes into one)",
                    ));
                }
                if dir.exists() && !dir.is_dir() {
                    return Err(not_an_array(OP, path, "file"));
                }
            }
            NodeKind::Group => {
                return Err(not_an_array(
                    OP,
                    path,
                    "Zarr group (overwrite replaces arrays, never groups)",
                ));
            }
            NodeKind::ArrayV2 | NodeKind::ArrayV3 | NodeKind::Incomplete => {
                if !options.overwrite {
                    return Err(Error::store(OP, path, StoreErrorKind::AlreadyExists));
                }
            }
        }

        // The new array is written beside it, in a staging directory of its own.
        let staging = parent.join(super::guard::staging_name(name));
        std::fs::create_dir(&staging).map_err(io("create the staging directory", &staging))?;
        let staged = StagingDir(staging.clone());
        let marker = staging.join(INCOMPLETE_MARKER);
        std::fs::write(&marker, MARKER_TEXT).map_err(io("write the incomplete marker", &marker))?;

        let meta = array_metadata(shape, chunk_shape, dtype, &options);
        let metadata: ArrayMetadata = match options.format {
            ZarrFormat::V3 => serde_json::from_value(meta).map(ArrayMetadata::V3),
            ZarrFormat::V2 => serde_json::from_value(meta).map(ArrayMetadata::V2),
        }
        .map_err(|e| Error::internal(OP, format!("{path}: invalid metadata built: {e}")))?;
        let store =
            FilesystemStore::new(&staging).map_err(backend(OP, &path, "open the staging store"))?;
        let storage: Arc<dyn ReadableWritableStorageTraits> = Arc::new(store);
        let array = Array::new_with_metadata(storage, "/", metadata)
            .map_err(|e| create_error(OP, &path, "create the array", e))?;
        let location = super::guard::StoredLocation::new(&dir, "", path.clone());
        Ok(ZarrWriter {
            array,
            path,
            dir,
            staging: std::sync::Mutex::new(Some(staged)),
            lock: std::sync::Mutex::new(Some(lock)),
            location,
            shape: shape.to_vec(),
            chunk_shape: chunk_shape.to_vec(),
            dtype,
            committed: AtomicBool::new(false),
            codec_options: CodecOptions::default()
                .with_concurrent_target(1)
                .with_chunk_concurrent_minimum(1),
            #[cfg(feature = "object-store")]
            remote: None,
        })
    }

    /// Opens the complete array `array_path` of `store_path` (written by
    /// [`ZarrWriter::create`] and committed, metadata only) to write chunks straight into it,
    /// from several processes at once (each its own chunks): the stage arrays of a work
    /// directory (issue 11). Nothing is staged; [`BlockWriter::commit`] does nothing.
    pub(crate) fn open_chunks(
        store_path: &Path,
        array_path: &str,
        shape: &[usize],
        chunk_shape: &[usize],
        dtype: DType,
    ) -> Result<ZarrWriter> {
        const OP: &str = "open zarr for chunks";
        if let Some(url) = super::store_url::path_url(store_path) {
            return Self::open_chunks_url(url, array_path, shape, chunk_shape, dtype);
        }
        let path = display_path(store_path, array_path);
        let store = FilesystemStore::new(store_path).map_err(backend(
            OP,
            &path,
            "open the filesystem store",
        ))?;
        let storage: Arc<dyn ReadableWritableStorageTraits> = Arc::new(store);
        let array = Array::open(storage, &node_path(array_path))
            .map_err(|e| create_error(OP, &path, "open the array", e))?;
        let dir = store_path.join(array_path.trim_matches('/'));
        Ok(ZarrWriter {
            array,
            location: super::guard::StoredLocation::new(&dir, "", path.clone()),
            path,
            dir,
            staging: std::sync::Mutex::new(None),
            lock: std::sync::Mutex::new(None),
            shape: shape.to_vec(),
            chunk_shape: chunk_shape.to_vec(),
            dtype,
            committed: AtomicBool::new(true),
            codec_options: CodecOptions::default()
                .with_concurrent_target(1)
                .with_chunk_concurrent_minimum(1),
            #[cfg(feature = "object-store")]
            remote: None,
        })
    }

    /// [`ZarrWriter::open_chunks`] for a store at a URL (a work directory on an object store):
    /// chunks go straight to their keys.
    #[cfg(feature = "object-store")]
    fn open_chunks_url(
        url: &str,
        array_path: &str,
        shape: &[usize],
        chunk_shape: &[usize],
        dtype: DType,
    ) -> Result<ZarrWriter> {
        const OP: &str = "open zarr for chunks";
        let store = super::remote::Remote::open(OP, url)?;
        store.check_writable(OP)?;
        let here = store.child(array_path);
        let path = here.url().to_string();
        let array = Array::open(here.readable_writable()?, "/")
            .map_err(|e| create_error(OP, &path, "open the array", e))?;
        Ok(Self::at_url(array, path, shape, chunk_shape, dtype, None))
    }

    /// A writer of `array` at the URL `path`: staged through `remote` (committed when it is
    /// done), or, without it, writing chunks straight to their keys (committed already).
    #[cfg(feature = "object-store")]
    fn at_url(
        array: Array<dyn ReadableWritableStorageTraits>,
        path: String,
        shape: &[usize],
        chunk_shape: &[usize],
        dtype: DType,
        remote: Option<RemoteWrite>,
    ) -> ZarrWriter {
        ZarrWriter {
            array,
            location: super::guard::StoredLocation::remote(&path),
            dir: PathBuf::from(&path),
            path,
            staging: std::sync::Mutex::new(None),
            lock: std::sync::Mutex::new(None),
            shape: shape.to_vec(),
            chunk_shape: chunk_shape.to_vec(),
            dtype,
            committed: AtomicBool::new(remote.is_none()),
            codec_options: CodecOptions::default()
                .with_concurrent_target(1)
                .with_chunk_concurrent_minimum(1),
            remote,
        }
    }

    #[cfg(not(feature = "object-store"))]
    fn open_chunks_url(
        url: &str,
        _array_path: &str,
        _shape: &[usize],
        _chunk_shape: &[usize],
        _dtype: DType,
    ) -> Result<ZarrWriter> {
        Err(super::store_url::unsupported("open zarr for chunks", url))
    }

    /// [`ZarrWriter::create`] for a store at a URL (`s3://`, `gs://`; `http(s)://` is
    /// read-only): the same checks on what is there, then chunks are written to their final
    /// keys beside the incomplete marker and the metadata at commit (see [`RemoteWrite`]).
    /// With `overwrite`, an old array is removed first (its metadata first, so it never looks
    /// complete with the new chunks): unlike on a filesystem, a failed overwrite leaves no
    /// array, never a mix.
    #[cfg(feature = "object-store")]
    fn create_url(
        url: &str,
        rel: &str,
        shape: &[usize],
        chunk_shape: &[usize],
        dtype: DType,
        options: ZarrWriteOptions,
    ) -> Result<ZarrWriter> {
        const OP: &str = "create zarr";
        let store = super::remote::Remote::open(OP, url)?;
        store.check_writable(OP)?;
        let here = store.child(rel);
        let path = here.url().to_string();
        let components: Vec<&str> = rel.split('/').filter(|c| !c.is_empty()).collect();
        let mut parent = store.clone();
        for (i, comp) in std::iter::once("")
            .chain(components[..components.len() - 1].iter().copied())
            .enumerate()
        {
            if i > 0 {
                parent = parent.child(comp);
            }
            match remote_node_kind(&parent, OP)? {
                NodeKind::Group => {}
                NodeKind::Nothing => match options.format {
                    ZarrFormat::V3 => parent.put(
                        OP,
                        "zarr.json",
                        json_bytes(
                            &json!({"zarr_format": 3, "node_type": "group", "attributes": {}}),
                        ),
                    )?,
                    ZarrFormat::V2 => {
                        parent.put(OP, ".zgroup", json_bytes(&json!({"zarr_format": 2})))?
                    }
                },
                NodeKind::ArrayV2 | NodeKind::ArrayV3 | NodeKind::Incomplete => {
                    return Err(Error::store(
                        OP,
                        path,
                        StoreErrorKind::ParentNotAGroup {
                            parent: parent.url().to_string(),
                        },
                    ));
                }
            }
        }
        match remote_node_kind(&here, OP)? {
            NodeKind::Nothing => {
                if here.any_object(OP)? {
                    return Err(not_an_array(
                        OP,
                        path,
                        "prefix holding objects without Zarr metadata (chunkwise never writes \
                         into one)",
                    ));
                }
            }
            NodeKind::Group => {
                return Err(not_an_array(
                    OP,
                    path,
                    "Zarr group (overwrite replaces arrays, never groups)",
                ));
            }
            NodeKind::ArrayV2 | NodeKind::ArrayV3 | NodeKind::Incomplete => {
                if !options.overwrite {
                    return Err(Error::store(OP, path, StoreErrorKind::AlreadyExists));
                }
                // The old array stops looking complete before any of it goes.
                here.put(OP, INCOMPLETE_MARKER, MARKER_TEXT.as_bytes().to_vec())?;
                for meta in ["zarr.json", ".zarray", ".zattrs"] {
                    here.delete(OP, meta)?;
                }
                here.delete_all(OP, Some(INCOMPLETE_MARKER))?;
            }
        }
        here.put(OP, INCOMPLETE_MARKER, MARKER_TEXT.as_bytes().to_vec())?;
        let remote = RemoteWrite {
            here: here.clone(),
            armed: AtomicBool::new(true),
        };
        let meta = array_metadata(shape, chunk_shape, dtype, &options);
        let metadata: ArrayMetadata = match options.format {
            ZarrFormat::V3 => serde_json::from_value(meta).map(ArrayMetadata::V3),
            ZarrFormat::V2 => serde_json::from_value(meta).map(ArrayMetadata::V2),
        }
        .map_err(|e| Error::internal(OP, format!("{path}: invalid metadata built: {e}")))?;
        let array = Array::new_with_metadata(here.readable_writable()?, "/", metadata)
            .map_err(|e| create_error(OP, &path, "create the array", e))?;
        Ok(Self::at_url(
            array,
            path,
            shape,
            chunk_shape,
            dtype,
            Some(remote),
        ))
    }

    #[cfg(not(feature = "object-store"))]
    fn create_url(
        url: &str,
        _rel: &str,
        _shape: &[usize],
        _chunk_shape: &[usize],
        _dtype: DType,
        _options: ZarrWriteOptions,
    ) -> Result<ZarrWriter> {
        Err(super::store_url::unsupported("create zarr", url))
    }

    /// Commits an array written to an object store: metadata, then the marker goes.
    #[cfg(feature = "object-store")]
    fn commit_remote(&self, remote: &RemoteWrite) -> Result<()> {
        const OP: &str = "commit zarr";
        let options = ArrayMetadataOptions::default().with_include_zarrs_metadata(false);
        self.array.store_metadata_opt(&options).map_err(backend(
            OP,
            &self.path,
            "write the array metadata",
        ))?;
        remote.here.delete(OP, INCOMPLETE_MARKER)?;
        remote.armed.store(false, Ordering::Release);
        self.committed.store(true, Ordering::Release);
        Ok(())
    }

    /// The store and array path, as used in error messages.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The chunk shape of the array being written.
    pub fn chunk_shape(&self) -> &[usize] {
        &self.chunk_shape
    }

    fn check_aligned(&self, region: &Region) -> Result<()> {
        for (axis, ((r, &c), &n)) in region
            .0
            .iter()
            .zip(&self.chunk_shape)
            .zip(&self.shape)
            .enumerate()
        {
            if r.start % c != 0 || (r.end % c != 0 && r.end != n) {
                return Err(Error::InvalidArgument {
                    op: "write zarr",
                    detail: format!(
                        "{}: block region {region} is not aligned to the chunks {:?} on axis \
                         {axis}; rechunk to the store's chunks before writing",
                        self.path, self.chunk_shape
                    ),
                });
            }
        }
        Ok(())
    }

    fn write_typed<T: Element + zarrs::array::Element>(
        &self,
        region: &Region,
        block: &ArrayViewD<'_, T>,
    ) -> Result<()> {
        let ndim = self.shape.len();
        // Chunk index ranges covered by the block.
        let ranges: Vec<std::ops::Range<usize>> = region
            .0
            .iter()
            .zip(&self.chunk_shape)
            .map(|(r, &c)| r.start / c..r.end.div_ceil(c))
            .collect();
        if ranges.iter().any(|r| r.is_empty()) {
            return Ok(());
        }
        let mut idx: Vec<usize> = ranges.iter().map(|r| r.start).collect();
        loop {
            // The chunk's region, relative to the block.
            let rel: Vec<std::ops::Range<usize>> = (0..ndim)
                .map(|a| {
                    let c = self.chunk_shape[a];
                    let s = idx[a] * c;
                    let e = (s + c).min(self.shape[a]);
                    s - region.0[a].start..e - region.0[a].start
                })
                .collect();
            let mut view = block.view();
            for (a, r) in rel.iter().enumerate() {
                view.slice_axis_inplace(ndarray::Axis(a), ndarray::Slice::from(r.clone()));
            }
            let elements: Vec<T> = if view.shape() == self.chunk_shape.as_slice() {
                view.iter().copied().collect()
            } else {
                // An edge chunk: zarrs stores full chunks, padded with the fill value.
                let mut full = ArrayD::<T>::default(IxDyn(&self.chunk_shape));
                let mut dst = full.view_mut();
                for (a, len) in view.shape().iter().enumerate() {
                    dst.slice_axis_inplace(ndarray::Axis(a), ndarray::Slice::from(0..*len));
                }
                dst.assign(&view);
                full.into_raw_vec_and_offset().0
            };
            let chunk_indices: Vec<u64> = idx.iter().map(|&i| i as u64).collect();
            self.array
                .store_chunk_opt(&chunk_indices, elements, &self.codec_options)
                .map_err(|e| {
                    Error::backend(
                        "write zarr",
                        &self.path,
                        format!("write chunk {chunk_indices:?} of block {region}"),
                        e,
                    )
                })?;
            // Next chunk index, last axis fastest.
            let mut a = ndim;
            loop {
                if a == 0 {
                    return Ok(());
                }
                a -= 1;
                idx[a] += 1;
                if idx[a] < ranges[a].end {
                    break;
                }
                idx[a] = ranges[a].start;
            }
        }
    }
}

/// The metadata JSON of a new array (v2 `.zarray` with attributes, or v3 `zarr.json`).
fn array_metadata(
    shape: &[usize],
    chunk_shape: &[usize],
    dtype: DType,
    options: &ZarrWriteOptions,
) -> Value {
    let mut attributes = options.attributes.clone();
    // `_FillValue` as xarray writes it: in v2 it is the array's fill value (xarray reads it
    // back from there); in v3 it stays an attribute, base64-encoded for floats.
    let cf_fill = attributes.remove("_FillValue");
    match options.format {
        ZarrFormat::V3 => {
            if let Some(f) = cf_fill {
                let encoded = match crate::io::cf::base64_f64_or_number(&f) {
                    Some(x) if dtype.is_float() => json!(crate::io::cf::base64_of_f64(x)),
                    _ => f,
                };
                attributes.insert("_FillValue".into(), encoded);
            }
            let mut codecs = vec![if dtype.size() == 1 {
                json!({"name": "bytes", "configuration": {}})
            } else {
                json!({"name": "bytes", "configuration": {"endian": "little"}})
            }];
            if let ZarrCompression::Zstd { level } = options.compression {
                codecs.push(
                    json!({"name": "zstd", "configuration": {"level": level, "checksum": false}}),
                );
            }
            let mut meta = json!({
                "zarr_format": 3,
                "node_type": "array",
                "shape": shape,
                "data_type": dtype.numpy_name(),
                "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": chunk_shape}},
                "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
                "fill_value": zero_fill(dtype),
                "codecs": codecs,
                "attributes": attributes,
            });
            if let Some(names) = &options.dimension_names {
                meta["dimension_names"] = json!(names);
            }
            meta
        }
        ZarrFormat::V2 => {
            if let Some(names) = &options.dimension_names {
                attributes.insert("_ARRAY_DIMENSIONS".into(), json!(names));
            }
            let compressor = match options.compression {
                ZarrCompression::None => Value::Null,
                ZarrCompression::Zstd { level } => json!({"id": "zstd", "level": level}),
            };
            // xarray reads a v2 fill value as `_FillValue` (a mask): floats default to NaN
            // and other types to null (no mask; missing chunks still read as zero), as
            // zarr-python and xarray write them.
            let fill = match cf_fill {
                Some(f) if dtype != DType::Bool => f,
                _ if dtype.is_float() => json!("NaN"),
                _ => Value::Null,
            };
            json!({
                "zarr_format": 2,
                "shape": shape,
                "chunks": chunk_shape,
                "dtype": v2_dtype(dtype),
                "compressor": compressor,
                "fill_value": fill,
                "order": "C",
                "filters": null,
                "dimension_separator": ".",
                "attributes": attributes,
            })
        }
    }
}

impl BlockWriter for ZarrWriter {
    fn write(&self, region: &Region, block: &AnyView<'_>) -> Result<()> {
        const OP: &str = "write zarr";
        if block.dtype() != self.dtype {
            return Err(Error::DTypeMismatch {
                op: OP,
                what: self.path.clone(),
                requested: block.dtype(),
                actual: self.dtype,
            });
        }
        check_region(OP, &self.path, &self.shape, region)?;
        if block.shape() != region.shape().as_slice() {
            return Err(Error::Shape {
                op: OP,
                detail: format!(
                    "{}: block of shape {:?} for region {region} of shape {:?}",
                    self.path,
                    block.shape(),
                    region.shape()
                ),
            });
        }
        self.check_aligned(region)?;
        match block {
            AnyView::Bool(v) => self.write_typed(region, v),
            AnyView::I8(v) => self.write_typed(region, v),
            AnyView::I16(v) => self.write_typed(region, v),
            AnyView::I32(v) => self.write_typed(region, v),
            AnyView::I64(v) => self.write_typed(region, v),
            AnyView::U8(v) => self.write_typed(region, v),
            AnyView::U16(v) => self.write_typed(region, v),
            AnyView::U32(v) => self.write_typed(region, v),
            AnyView::U64(v) => self.write_typed(region, v),
            AnyView::F32(v) => self.write_typed(region, v),
            AnyView::F64(v) => self.write_typed(region, v),
        }
    }

    /// Writes the array's metadata into the staging directory, removes the
    /// [`INCOMPLETE_MARKER`], then moves the array into place (exchanging it atomically with
    /// the old array, if any, which is removed only then) and releases the output lock.
    /// Committing twice is harmless.
    fn commit(&self) -> Result<()> {
        if self.committed.load(Ordering::Acquire) {
            return Ok(());
        }
        #[cfg(feature = "object-store")]
        if let Some(remote) = &self.remote {
            return self.commit_remote(remote);
        }
        const OP: &str = "commit zarr";
        let options = ArrayMetadataOptions::default().with_include_zarrs_metadata(false);
        self.array.store_metadata_opt(&options).map_err(backend(
            OP,
            &self.path,
            "write the array metadata",
        ))?;
        let mut staging = self
            .staging
            .lock()
            .map_err(|_| Error::internal(OP, format!("{}: a writer thread panicked", self.path)))?;
        let Some(dir) = staging.as_ref() else {
            return Err(Error::internal(
                OP,
                format!("{}: the array was already moved into place", self.path),
            ));
        };
        let marker = dir.0.join(INCOMPLETE_MARKER);
        match std::fs::remove_file(&marker) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(Error::store_io(
                    OP,
                    &self.path,
                    "remove the incomplete marker",
                    &marker,
                    source,
                ));
            }
        }
        // What took the path meanwhile (a group made by another writer) is never replaced.
        match node_kind(&self.dir, &self.path, OP)? {
            NodeKind::Group => {
                return Err(not_an_array(
                    OP,
                    &self.path,
                    "Zarr group, created there during the write (it is not replaced)",
                ));
            }
            NodeKind::Nothing
                if std::fs::read_dir(&self.dir).is_ok_and(|mut d| d.next().is_some()) =>
            {
                return Err(not_an_array(
                    OP,
                    &self.path,
                    "directory without Zarr metadata, which appeared there during the write \
                     (it is not replaced)",
                ));
            }
            _ => {}
        }
        // The complete array replaces the old one in one step; only then is the old removed.
        super::guard::swap_into_place(&dir.0, &self.dir)?;
        if let Some(moved) = staging.take() {
            std::mem::forget(moved);
        }
        drop(staging);
        if let Ok(mut lock) = self.lock.lock() {
            lock.take();
        }
        self.committed.store(true, Ordering::Release);
        Ok(())
    }

    /// Per chunk, one chunk-sized copy of the data (padded for edge chunks) and its encoded
    /// bytes (at most about chunk-sized); chunks are written one after another.
    fn write_scratch_bytes(&self, _region: &Region) -> usize {
        2 * self.chunk_shape.iter().product::<usize>() * self.dtype.size()
    }

    fn location(&self) -> Option<super::guard::StoredLocation> {
        Some(self.location.clone())
    }
}
