//! Reading and writing stores: Zarr (feature `zarr`, on by default) and HDF5 (feature `hdf5`).
// Without either back-end only `OpenOptions` is left.
#![cfg_attr(not(any(feature = "zarr", feature = "hdf5")), allow(unused_imports))]

use super::ChunkedArray;
use crate::chunks::{ChunkGrid, ChunkSpec};
use crate::element::{Element, Float};
use crate::error::{Error, Result};
#[cfg(feature = "zarr")]
use crate::exec::{RunReport, Runtime};
use crate::io::BlockSource;
use crate::io::cf::{CfDecode, CfSource};
use std::sync::Arc;

/// How to open an array from a store.
#[derive(Clone, Debug)]
pub struct OpenOptions {
    /// The chunk grid; `None` uses the store's own chunks.
    pub chunks: Option<ChunkSpec>,
    /// Apply CF decoding (`scale_factor`, `add_offset`, `_FillValue`/`missing_value` → NaN)
    /// when the variable has those attributes and a float type is requested (default true).
    pub decode_cf: bool,
    /// The memory limit the array will be computed under (default
    /// [`DEFAULT_MEMORY_LIMIT`](crate::exec::DEFAULT_MEMORY_LIMIT)). A variable stored without
    /// chunks (a contiguous HDF5/NetCDF4 dataset) is split into `auto` blocks of about a
    /// sixteenth of it, at most [`DEFAULT_AUTO_BYTES`](crate::chunks::DEFAULT_AUTO_BYTES), so
    /// that reductions and anomalies over it fit the limit.
    pub memory_limit: Option<usize>,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions {
            chunks: None,
            decode_cf: true,
            memory_limit: None,
        }
    }
}

impl OpenOptions {
    /// Options for computing under `rt`: [`OpenOptions::memory_limit`] is `rt`'s limit.
    ///
    /// # Example
    /// ```
    /// use chunkwise::prelude::*;
    /// let rt = Runtime::builder().memory_limit("64 MiB").build()?;
    /// let opts = OpenOptions::for_runtime(&rt);
    /// assert_eq!(opts.memory_limit, Some(64 << 20));
    /// assert_eq!(opts.auto_block_bytes(), 4 << 20);
    /// # Ok::<(), chunkwise::Error>(())
    /// ```
    pub fn for_runtime(rt: &crate::Runtime) -> OpenOptions {
        OpenOptions {
            memory_limit: Some(rt.memory_limit()),
            ..OpenOptions::default()
        }
    }

    /// The target bytes of an `auto` block for a variable stored without chunks: a sixteenth
    /// of the memory limit, at most [`DEFAULT_AUTO_BYTES`](crate::chunks::DEFAULT_AUTO_BYTES)
    /// and at least 64 KiB.
    pub fn auto_block_bytes(&self) -> usize {
        let limit = self
            .memory_limit
            .unwrap_or(crate::exec::DEFAULT_MEMORY_LIMIT);
        (limit / 16).clamp(64 << 10, crate::chunks::DEFAULT_AUTO_BYTES)
    }
}

#[cfg(any(feature = "zarr", feature = "hdf5"))]
impl<T: Element> ChunkedArray<T> {
    /// Wraps a store's source: CF-decoded when asked and possible, else the raw values, which
    /// must be of type `T`.
    pub(crate) fn from_store_source(
        src: Arc<dyn BlockSource>,
        attributes: &serde_json::Map<String, serde_json::Value>,
        what: &str,
        opts: &OpenOptions,
    ) -> Result<Self> {
        let cf = if opts.decode_cf && T::DTYPE.is_float() {
            CfDecode::from_attributes(attributes)
                .map_err(|e| match e {
                    Error::BadAttribute {
                        attribute,
                        value,
                        detail,
                    } => Error::BadAttribute {
                        attribute,
                        value,
                        detail: format!("{detail} (in {what}; CF decoding needs it)"),
                    },
                    other => other,
                })?
                .filter(|c| !c.is_identity() || src.dtype() != T::DTYPE)
        } else {
            None
        };
        let src: Arc<dyn BlockSource> = match cf {
            Some(cf) if src.dtype() != T::DTYPE || !cf.is_identity() => {
                Arc::new(CfSource::new(src, cf, T::DTYPE)?)
            }
            _ => {
                if src.dtype() != T::DTYPE {
                    return Err(Error::DTypeMismatch {
                        op: "open",
                        what: what.to_string(),
                        requested: T::DTYPE,
                        actual: src.dtype(),
                    });
                }
                src
            }
        };
        let spec = match &opts.chunks {
            Some(c) => c.clone(),
            None => match src.natural_chunks() {
                Some(n) => ChunkSpec::Grid(ChunkGrid::regular(src.shape(), &n)),
                None => ChunkSpec::Auto(opts.auto_block_bytes()),
            },
        };
        Self::from_source(src, spec)
    }
}

#[cfg(any(feature = "zarr", feature = "hdf5"))]
impl<T: Float> ChunkedArray<T> {
    /// Wraps a store's source of any element type as `T`: CF-decoded when asked and the
    /// variable has CF attributes (as [`ChunkedArray::from_store_source`]), else the stored
    /// values converted to `T` as they are read.
    fn from_store_source_as(
        src: Arc<dyn BlockSource>,
        attributes: &serde_json::Map<String, serde_json::Value>,
        what: &str,
        opts: &OpenOptions,
    ) -> Result<Self> {
        // With CF attributes, `from_store_source` decodes from any stored type; a malformed
        // attribute is reported by it, naming the array.
        let has_cf = opts.decode_cf && !matches!(CfDecode::from_attributes(attributes), Ok(None));
        let src: Arc<dyn BlockSource> = if src.dtype() != T::DTYPE && !has_cf {
            let identity = CfDecode {
                scale_factor: None,
                add_offset: None,
                fill_values: Vec::new(),
                unsigned: None,
            };
            Arc::new(CfSource::new(src, identity, T::DTYPE)?)
        } else {
            src
        };
        Self::from_store_source(src, attributes, what, opts)
    }
}

#[cfg(feature = "zarr")]
#[cfg_attr(docsrs, doc(cfg(feature = "zarr")))]
impl<T: Element> ChunkedArray<T> {
    /// Opens array `array` of the Zarr (v2 or v3) store at `store`, lazily: only metadata is
    /// read now. Chunked like the store; CF-decoded to `T` when `T` is a float type and the
    /// array has CF attributes (see [`OpenOptions`]).
    ///
    /// # Errors
    /// [`Error::Store`] for a missing store, a group where an array was expected, corrupt
    /// metadata or an unsupported codec (see [`crate::io::zarr::ZarrSource::open`] for the kinds);
    /// [`Error::DTypeMismatch`] naming both types when the stored type is not `T`.
    ///
    /// # Example
    /// ```
    /// use chunkwise::prelude::*;
    /// let t2m = ChunkedArray::<f32>::open_zarr("data/sample.zarr", "t2m")?;
    /// assert_eq!(t2m.ndim(), 3);
    /// # Ok::<(), chunkwise::Error>(())
    /// ```
    pub fn open_zarr(store: impl AsRef<std::path::Path>, array: &str) -> Result<Self> {
        Self::open_zarr_with(store, array, &OpenOptions::default())
    }

    /// [`ChunkedArray::open_zarr`] with options.
    ///
    /// # Errors
    /// As [`ChunkedArray::open_zarr`]; invalid chunks.
    pub fn open_zarr_with(
        store: impl AsRef<std::path::Path>,
        array: &str,
        opts: &OpenOptions,
    ) -> Result<Self> {
        let store = store.as_ref();
        let src = crate::io::zarr::ZarrSource::open(store, array)?;
        let attrs = src.cf_attributes();
        let what = format!("{}:{}", store.display(), array);
        Self::from_store_source(Arc::new(src), &attrs, &what, opts)
    }
}

#[cfg(feature = "zarr")]
#[cfg_attr(docsrs, doc(cfg(feature = "zarr")))]
impl<T: Float> ChunkedArray<T> {
    /// Opens array `array` of the Zarr store at `store` as `T` (`f64` or `f32`) whatever its
    /// stored numeric type, lazily: integers, `f32`, `f64` (and `bool`, as 0 and 1) are
    /// converted to `T` as blocks are read; a variable with CF attributes (packed integers,
    /// fill values) is CF-decoded to `T` as by [`ChunkedArray::open_zarr`]. For programs that
    /// do not know the stored type in advance.
    ///
    /// Integers above 2^53 (2^24 for `f32`) round to the nearest float, as NumPy's `astype`.
    ///
    /// # Errors
    /// As [`ChunkedArray::open_zarr`], except that a stored type other than `T` is not one.
    ///
    /// # Example
    /// ```
    /// use chunkwise::prelude::*;
    /// let rt = Runtime::builder().threads(1).build()?;
    /// // Stored as f32; read as f64 without naming the stored type.
    /// let t2m = ChunkedArray::<f64>::open_zarr_as("data/sample.zarr", "t2m")?;
    /// let stored = ChunkedArray::<f32>::open_zarr("data/sample.zarr", "t2m")?;
    /// let (a, b) = (t2m.compute(&rt)?, stored.compute(&rt)?);
    /// assert!(a.iter().zip(b.iter()).all(|(x, y)| *x == f64::from(*y)));
    /// # Ok::<(), chunkwise::Error>(())
    /// ```
    pub fn open_zarr_as(store: impl AsRef<std::path::Path>, array: &str) -> Result<Self> {
        Self::open_zarr_as_with(store, array, &OpenOptions::default())
    }

    /// [`ChunkedArray::open_zarr_as`] with options (`decode_cf: false` converts the stored
    /// values without CF decoding).
    ///
    /// # Errors
    /// As [`ChunkedArray::open_zarr_as`]; invalid chunks.
    pub fn open_zarr_as_with(
        store: impl AsRef<std::path::Path>,
        array: &str,
        opts: &OpenOptions,
    ) -> Result<Self> {
        let store = store.as_ref();
        let src = crate::io::zarr::ZarrSource::open(store, array)?;
        let attrs = src.cf_attributes();
        let what = format!("{}:{}", store.display(), array);
        Self::from_store_source_as(Arc::new(src), &attrs, &what, opts)
    }
}

#[cfg(feature = "zarr")]
#[cfg_attr(docsrs, doc(cfg(feature = "zarr")))]
impl<T: Element> ChunkedArray<T> {
    /// Writes the array to `array` in the Zarr store `store` (v3, zstd, the array's chunks),
    /// streaming one task per chunk within the runtime's memory limit. See
    /// [`ChunkedArray::to_zarr_with`].
    ///
    /// # Errors
    /// As [`ChunkedArray::to_zarr_with`].
    pub fn to_zarr(
        &self,
        rt: &Runtime,
        store: impl AsRef<std::path::Path>,
        array: &str,
    ) -> Result<RunReport> {
        self.to_zarr_with(
            rt,
            store,
            array,
            crate::io::zarr::ZarrWriteOptions::default(),
            None,
        )
    }

    /// Writes the array to Zarr with `options` (format, compression, overwrite, dimension
    /// names, attributes) and `chunks` (default: the array's first chunk size on each axis).
    /// The array is rechunked first when its blocks do not match the chunks, so no two tasks
    /// write one chunk. A failed run leaves an array marked incomplete, never one that looks
    /// complete.
    ///
    /// # Errors
    /// An existing array without `overwrite`; any task or write error.
    pub fn to_zarr_with(
        &self,
        rt: &Runtime,
        store: impl AsRef<std::path::Path>,
        array: &str,
        options: crate::io::zarr::ZarrWriteOptions,
        chunks: Option<&[usize]>,
    ) -> Result<RunReport> {
        let chunk_shape: Vec<usize> = match chunks {
            Some(c) => c.to_vec(),
            None => self
                .chunks()
                .chunk_shape()
                .iter()
                .map(|&c| c.max(1))
                .collect(),
        };
        let target = ChunkSpec::from(chunk_shape.clone()).resolve(
            self.shape(),
            T::DTYPE.size(),
            None,
            "to_zarr",
        )?;
        let arr = if &target == self.chunks() {
            self.clone()
        } else {
            self.rechunk(target)?
        };
        let writer = crate::io::zarr::ZarrWriter::create(
            store,
            array,
            self.shape(),
            &chunk_shape,
            T::DTYPE,
            options,
        )?;
        arr.store(rt, &writer)
    }
}

#[cfg(feature = "hdf5")]
#[cfg_attr(docsrs, doc(cfg(feature = "hdf5")))]
impl<T: Element> ChunkedArray<T> {
    /// Opens dataset `dataset` (`/group/var` or `var`) of the HDF5 or NetCDF4 file `file`,
    /// lazily (needs the cargo feature `hdf5`, which links the system libhdf5). Chunked like the dataset (or `auto` for contiguous ones); CF-decoded to `T`
    /// when `T` is a float type and the variable has CF attributes.
    ///
    /// # Errors
    /// [`Error::Store`] for a missing file, a non-HDF5 file, a missing dataset or a group (the
    /// same [`crate::error::StoreErrorKind`] as for Zarr); [`Error::DTypeMismatch`] naming
    /// both types.
    pub fn open_hdf5(file: impl AsRef<std::path::Path>, dataset: &str) -> Result<Self> {
        Self::open_hdf5_with(file, dataset, &OpenOptions::default())
    }

    /// [`ChunkedArray::open_hdf5`] with options.
    ///
    /// # Errors
    /// As [`ChunkedArray::open_hdf5`]; invalid chunks.
    pub fn open_hdf5_with(
        file: impl AsRef<std::path::Path>,
        dataset: &str,
        opts: &OpenOptions,
    ) -> Result<Self> {
        let file = file.as_ref();
        let src = crate::io::hdf5::Hdf5Source::open(file, dataset)?;
        let attrs = src.attributes().clone();
        let what = format!("{}:{}", file.display(), dataset);
        Self::from_store_source(Arc::new(src), &attrs, &what, opts)
    }
}

#[cfg(feature = "hdf5")]
#[cfg_attr(docsrs, doc(cfg(feature = "hdf5")))]
impl<T: Float> ChunkedArray<T> {
    /// Opens dataset `dataset` of the HDF5 or NetCDF4 file `file` as `T` (`f64` or `f32`)
    /// whatever its stored numeric type, lazily, as [`ChunkedArray::open_zarr_as`] does for
    /// Zarr: stored values converted to `T` as blocks are read, CF-decoded when the variable
    /// has CF attributes (needs the cargo feature `hdf5`).
    ///
    /// # Errors
    /// As [`ChunkedArray::open_hdf5`], except that a stored type other than `T` is not one.
    ///
    /// # Example
    /// ```
    /// use chunkwise::prelude::*;
    /// let rt = Runtime::builder().threads(1).build()?;
    /// // Stored as int16; read as f64.
    /// let i2 = ChunkedArray::<f64>::open_hdf5_as("tests/data/hdf5/fixtures.h5", "/ints/i2")?;
    /// let stored = ChunkedArray::<i16>::open_hdf5("tests/data/hdf5/fixtures.h5", "/ints/i2")?;
    /// let (a, b) = (i2.compute(&rt)?, stored.compute(&rt)?);
    /// assert!(a.iter().zip(b.iter()).all(|(x, y)| *x == f64::from(*y)));
    /// # Ok::<(), chunkwise::Error>(())
    /// ```
    pub fn open_hdf5_as(file: impl AsRef<std::path::Path>, dataset: &str) -> Result<Self> {
        Self::open_hdf5_as_with(file, dataset, &OpenOptions::default())
    }

    /// [`ChunkedArray::open_hdf5_as`] with options.
    ///
    /// # Errors
    /// As [`ChunkedArray::open_hdf5_as`]; invalid chunks.
    pub fn open_hdf5_as_with(
        file: impl AsRef<std::path::Path>,
        dataset: &str,
        opts: &OpenOptions,
    ) -> Result<Self> {
        let file = file.as_ref();
        let src = crate::io::hdf5::Hdf5Source::open(file, dataset)?;
        let attrs = src.attributes().clone();
        let what = format!("{}:{}", file.display(), dataset);
        Self::from_store_source_as(Arc::new(src), &attrs, &what, opts)
    }
}
