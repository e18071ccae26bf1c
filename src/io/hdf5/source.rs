//! [`Hdf5Source`]: one HDF5 dataset read block by block.

use super::meta::{self, Hdf5Info};
use super::raw::RawPlan;
use super::{display_path, storage, store_error};
use crate::chunks::Region;
use crate::element::{AnyArray, DType, Element};
use crate::error::{Error, Result, StoreErrorKind};
use crate::io::{BlockSource, IoLane};
use ::hdf5::{Hyperslab, Selection, SliceOrIndex};
use serde_json::{Map, Value};
use std::fmt;
use std::path::Path;

/// Bytes of the library's per-dataset chunk cache (its default), counted as read scratch.
const CHUNK_CACHE_BYTES: usize = 1 << 20;

/// One dataset of an HDF5 (or NetCDF4) file, read lazily: [`Hdf5Source::open`] reads metadata
/// only, and each [`BlockSource::read`] reads one region.
///
/// Reads of regions aligned to the dataset's chunks, on datasets filtered only by shuffle and
/// deflate (gzip) and stored in the native little-endian type, fetch the stored chunks under the
/// library's global lock and decode them outside it; such sources report [`IoLane::Parallel`].
/// Every other read is a hyperslab read by the library, which holds the lock throughout, and such
/// sources report [`IoLane::Serial`].
///
/// # Example
/// ```no_run
/// use chunkwise::io::hdf5::Hdf5Source;
/// use chunkwise::io::BlockSource;
/// use chunkwise::Region;
///
/// let src = Hdf5Source::open("era5.nc", "/t2m")?;
/// println!("{:?} {} chunks {:?}", src.shape(), src.dtype(), src.natural_chunks());
/// let block = src.read(&Region(vec![0..1, 0..10, 0..10]))?;
/// # Ok::<(), chunkwise::Error>(())
/// ```
pub struct Hdf5Source {
    dataset: ::hdf5::Dataset,
    shown: String,
    info: Hdf5Info,
    raw: Option<RawPlan>,
    raw_enabled: bool,
    /// The stored fill value, for chunks a raw read finds unallocated.
    fill: Option<::hdf5::types::OwnedDynValue>,
    /// Filters of the pipeline this libhdf5 lacks (see [`meta::unavailable_filters`]): a read
    /// that fails is blamed on them by name.
    unavailable_filters: Vec<String>,
}

impl fmt::Debug for Hdf5Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hdf5Source")
            .field("path", &self.shown)
            .field("shape", &self.info.shape)
            .field("dtype", &self.info.dtype)
            .field("chunks", &self.info.chunks)
            .field("raw_chunk_reads", &self.uses_raw_chunk_reads())
            .finish()
    }
}

impl Hdf5Source {
    /// Opens `dataset_path` (`/group/sub/var` or `var`) in `file`, reading metadata only.
    ///
    /// # Errors
    /// [`Error::Store`] with [`StoreErrorKind::NotFound`] (no such file),
    /// [`StoreErrorKind::NotRecognized`] (not an HDF5 file), [`StoreErrorKind::ArrayNotFound`]
    /// (nothing at the path), [`StoreErrorKind::NotAnArray`] (a group),
    /// [`StoreErrorKind::UnsupportedDType`] (strings, compounds, enums, ..., naming the type) or
    /// [`StoreErrorKind::Incomplete`] (a dataset whose write by [`super::Hdf5Writer`] never
    /// committed), [`StoreErrorKind::UnsupportedFormat`] (a NetCDF3 file),
    /// [`StoreErrorKind::PermissionDenied`] when the file cannot be read,
    /// [`StoreErrorKind::InvalidMetadata`] for a NULL dataspace or a shape too large to plan,
    /// and [`StoreErrorKind::Backend`] (the library's error as the source) for other library
    /// failures.
    ///
    /// A dataset encoded with a filter this libhdf5 lacks (LZF, Blosc, Zstandard, ... without
    /// their plugins) opens, and [`Hdf5Info::filters`] lists it; its reads fail with
    /// [`StoreErrorKind::FilterUnavailable`] naming the filter (chunks an optional filter was
    /// skipped on still read).
    pub fn open(file: impl AsRef<Path>, dataset_path: &str) -> Result<Hdf5Source> {
        const OP: &str = "open hdf5 dataset";
        let file = file.as_ref();
        let path = super::normalize_dataset_path(dataset_path);
        let shown = display_path(file, &path);
        let h5 = super::open_file(OP, file, &path)?;
        super::check_is_dataset(OP, &h5, &path, &shown)?;
        let dataset = h5
            .dataset(&path)
            .map_err(|e| storage(OP, &shown, "open the dataset", e))?;
        if dataset
            .attr_names()
            .map_err(|e| storage(OP, &shown, "list the attributes", e))?
            .iter()
            .any(|n| n == super::INCOMPLETE_ATTR)
        {
            return Err(store_error(OP, shown, StoreErrorKind::Incomplete));
        }
        // A NULL dataspace (h5py's `Empty`) holds no data at all; the library reports its
        // shape as `()`, which would read one element of uninitialized memory.
        if dataset
            .space()
            .map_err(|e| storage(OP, &shown, "read the dataspace", e))?
            .is_null()
        {
            return Err(store_error(
                OP,
                shown,
                StoreErrorKind::InvalidMetadata {
                    detail: "the dataset has a NULL dataspace (h5py's Empty): it holds no \
                             data, not even one element"
                        .into(),
                },
            ));
        }
        let datatype = dataset
            .dtype()
            .map_err(|e| storage(OP, &shown, "read the datatype", e))?;
        let dtype = super::dtype_of(OP, &shown, &datatype)?;
        let shape = dataset.shape();
        let chunks = if dataset.is_chunked() {
            dataset.chunk()
        } else {
            None
        };
        crate::io::check_stored_size(OP, &shown, &shape, chunks.as_deref(), dtype)?;
        let raw = crate::dispatch_dtype!(dtype, {
            if dtype == DType::Bool {
                None
            } else {
                RawPlan::new::<T>(&dataset, chunks.as_deref())
            }
        });
        let pipeline = dataset.filters();
        let unavailable_filters = meta::unavailable_filters(&pipeline);
        let info = Hdf5Info {
            file: file.to_path_buf(),
            path: path.clone(),
            shape: shape.clone(),
            dtype,
            chunks,
            filters: pipeline.iter().map(meta::filter_name).collect(),
            fill_value: meta::fill_value_json(&dataset, dtype),
            attributes: meta::attributes(&dataset),
            dimension_names: meta::dimension_names(&dataset, shape.len()),
        };
        let fill = dataset.fill_value().ok().flatten();
        Ok(Hdf5Source {
            dataset,
            shown,
            info,
            raw,
            raw_enabled: true,
            fill,
            unavailable_filters,
        })
    }

    /// Turns raw chunk reads on (the default, where the dataset allows them) or off, so every
    /// read goes through the library's hyperslab path. For comparisons and debugging.
    #[must_use]
    pub fn with_raw_chunk_reads(mut self, enabled: bool) -> Hdf5Source {
        self.raw_enabled = enabled;
        self
    }

    /// Whether chunk-aligned reads bypass the library's filter pipeline (see the type's docs).
    pub fn uses_raw_chunk_reads(&self) -> bool {
        self.raw_enabled && self.raw.is_some()
    }

    /// The dataset's metadata, read at open.
    pub fn info(&self) -> &Hdf5Info {
        &self.info
    }

    /// The dataset's attributes as JSON, for CF decoding (`scale_factor`, `add_offset`,
    /// `_FillValue`, `missing_value`, `units`, ...) by the array layer.
    ///
    /// Numbers become JSON numbers (non-finite floats the strings `"NaN"`, `"Infinity"`,
    /// `"-Infinity"`), strings become strings (fixed-length ones cut at the first NUL and
    /// trailing spaces), and an attribute of one element, scalar or one-element array, becomes a
    /// scalar, as netCDF4 reads it; longer ones become arrays. Attributes of other types and those
    /// implementing dimensions (`DIMENSION_LIST`, `_Netcdf4Dimid`, ...) are left out.
    pub fn attributes(&self) -> &Map<String, Value> {
        &self.info.attributes
    }

    /// The NetCDF4 dimension names of the axes, when the file has them (see
    /// [`Hdf5Info::dimension_names`]).
    pub fn dimension_names(&self) -> Option<&[String]> {
        self.info.dimension_names.as_deref()
    }

    fn check_region(&self, region: &Region) -> Result<()> {
        let shape = &self.info.shape;
        let ok = region.0.len() == shape.len()
            && region
                .0
                .iter()
                .zip(shape)
                .all(|(r, &n)| r.start <= r.end && r.end <= n);
        if ok {
            Ok(())
        } else {
            Err(Error::Shape {
                op: "hdf5 read",
                detail: format!(
                    "region {region} is outside {} of shape {shape:?}",
                    self.shown
                ),
            })
        }
    }

    fn read_typed<T>(&self, region: &Region) -> Result<AnyArray>
    where
        T: Element + ::hdf5::H5Type,
    {
        let out_shape = region.shape();
        if out_shape.contains(&0) {
            return Ok(AnyArray::zeros(T::DTYPE, &out_shape));
        }
        if self.info.shape.is_empty() {
            let v: T = self
                .dataset
                .read_scalar()
                .map_err(|e| storage("hdf5 read", &self.shown, "read the scalar", e))?;
            return Ok(T::wrap(ndarray::arr0(v).into_dyn()));
        }
        let slices: Vec<SliceOrIndex> = region.0.iter().map(|r| r.clone().into()).collect();
        let selection = Selection::from(Hyperslab::from(slices));
        let arr: ndarray::ArrayD<T> = self.dataset.read_slice(selection).map_err(|e| {
            storage(
                "hdf5 read",
                &self.shown,
                &format!("read region {region}"),
                e,
            )
        })?;
        Ok(T::wrap(arr))
    }

    fn read_raw<T>(&self, plan: &RawPlan, region: &Region) -> Result<AnyArray>
    where
        T: Element + ::hdf5::H5Type + bytemuck::Pod,
    {
        // The library reads unallocated chunks of a dataset without a defined fill value as 0.
        let fill: T = self
            .fill
            .clone()
            .and_then(|v| v.cast::<T>().ok())
            .unwrap_or_default();
        let shown = format!("{} {region}", self.shown);
        Ok(T::wrap(plan.read::<T>(
            &self.dataset,
            &region.0,
            fill,
            &shown,
        )?))
    }
}

impl BlockSource for Hdf5Source {
    fn dtype(&self) -> DType {
        self.info.dtype
    }

    fn shape(&self) -> &[usize] {
        &self.info.shape
    }

    fn natural_chunks(&self) -> Option<Vec<usize>> {
        self.info.chunks.clone()
    }

    fn read(&self, region: &Region) -> Result<AnyArray> {
        self.check_region(region)?;
        if let Some(plan) = self.raw.as_ref().filter(|_| self.raw_enabled)
            && plan.is_aligned(&region.0, &self.info.shape)
        {
            return crate::dispatch_numeric!(self.info.dtype, self.read_raw::<T>(plan, region),
                    bool => self.read_typed::<bool>(region));
        }
        crate::dispatch_dtype!(self.info.dtype, self.read_typed::<T>(region)).map_err(|e| {
            // The library's own message for a missing plugin is a stack of internal calls.
            if self.unavailable_filters.is_empty() {
                e
            } else {
                Error::store_caused(
                    "hdf5 read",
                    format!("{} {region}", self.shown),
                    StoreErrorKind::FilterUnavailable {
                        filter: self.unavailable_filters.join(", "),
                        hint: "an HDF5 filter this libhdf5 does not have; install its plugin \
                               (for example from the hdf5plugin package) and point \
                               HDF5_PLUGIN_PATH at the plugin directory",
                    },
                    e,
                )
            }
        })
    }

    fn read_scratch_bytes(&self, region: &Region) -> usize {
        let elem = self.info.dtype.size();
        match &self.info.chunks {
            // The stored and the decoded chunk, one chunk at a time.
            Some(chunks) => {
                let chunk_bytes = chunks.iter().product::<usize>() * elem;
                let lib = if self.info.filters.is_empty() {
                    0
                } else {
                    2 * chunk_bytes
                };
                match &self.raw {
                    Some(plan)
                        if self.raw_enabled && plan.is_aligned(&region.0, &self.info.shape) =>
                    {
                        // The output may be a single chunk decoded in place.
                        2 * plan.chunk_bytes()
                    }
                    _ => lib + CHUNK_CACHE_BYTES,
                }
            }
            None => 0,
        }
    }

    fn io_lane(&self) -> IoLane {
        if self.uses_raw_chunk_reads() {
            IoLane::Parallel
        } else {
            IoLane::Serial
        }
    }

    fn describe(&self) -> String {
        format!(
            "hdf5 {} {:?} {}",
            self.shown, self.info.shape, self.info.dtype
        )
    }
}
