//! [`Hdf5Writer`]: blocks written into a new HDF5 dataset.

use super::netcdf::{self, Hdf5Dimension};
use super::{INCOMPLETE_ATTR, display_path, storage, store_error};
use crate::chunks::Region;
use crate::element::{AnyView, DType, Element};
use crate::error::{Error, Result, StoreErrorKind};
use crate::io::BlockWriter;
use ::hdf5::{Hyperslab, Selection, SliceOrIndex};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

/// Bytes of the library's per-dataset chunk cache (its default), counted as write scratch.
const CHUNK_CACHE_BYTES: usize = 1 << 20;

/// How [`Hdf5Writer::create`] lays out the new dataset.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct Hdf5WriteOptions {
    /// Gzip (deflate) level 0–9, `None` for no compression.
    pub gzip_level: Option<u8>,
    /// Byte-shuffle before compressing (only with `gzip_level`); usually compresses numbers
    /// better.
    pub shuffle: bool,
    /// Replace a dataset that already exists at the path instead of failing.
    pub overwrite: bool,
    /// The dataset's attributes, as JSON (what [`super::Hdf5Source::attributes`] and Zarr
    /// attributes hold): see [`super::netcdf::write_attributes`] for the types they get
    /// (`_FillValue` and the other fill-like ones take the dataset's element type, as
    /// netCDF4 requires). `_ARRAY_DIMENSIONS` and the dimension-scale attributes are not
    /// copied.
    pub attributes: serde_json::Map<String, serde_json::Value>,
    /// NetCDF4 dimensions, one per axis, written as dimension scales beside the dataset
    /// (see [`Hdf5Dimension`]); `None` writes none (netCDF readers then call the axes
    /// `phony_dim_0`, ...).
    pub dimensions: Option<Vec<Hdf5Dimension>>,
}

impl Hdf5WriteOptions {
    /// Gzip at `level` (0–9, clamped), with the byte shuffle before it.
    #[must_use]
    pub fn gzip(mut self, level: u8) -> Self {
        self.gzip_level = Some(level.min(9));
        self.shuffle = true;
        self
    }

    /// Whether to byte-shuffle before compressing.
    #[must_use]
    pub fn shuffle(mut self, shuffle: bool) -> Self {
        self.shuffle = shuffle;
        self
    }

    /// Whether to replace an existing dataset.
    #[must_use]
    pub fn overwrite(mut self, overwrite: bool) -> Self {
        self.overwrite = overwrite;
        self
    }

    /// The dataset's attributes (see [`Hdf5WriteOptions::attributes`]).
    #[must_use]
    pub fn attributes(mut self, attributes: serde_json::Map<String, serde_json::Value>) -> Self {
        self.attributes = attributes;
        self
    }

    /// The dataset's NetCDF4 dimensions, one per axis (see
    /// [`Hdf5WriteOptions::dimensions`]).
    #[must_use]
    pub fn dimensions(mut self, dimensions: Vec<Hdf5Dimension>) -> Self {
        self.dimensions = Some(dimensions);
        self
    }
}

/// Writes the blocks of an array into a new chunked HDF5 dataset.
///
/// Commit semantics: [`Hdf5Writer::create`] takes an exclusive lock on the file (see
/// [`crate::io::guard`]) and creates the dataset under a staging name beside the final one
/// (`.NAME.chunkwise-tmp-HOST-PID-N` in the same group), with the scalar attribute
/// `chunkwise_incomplete = 1` (see [`INCOMPLETE_ATTR`]); an existing dataset at the path is
/// left as it is. [`BlockWriter::commit`] flushes, deletes the attribute, moves the old
/// dataset aside, gives the new one its name, and only then unlinks the old one. A run that
/// fails unlinks its staging dataset on drop; one that is killed leaves it under its staging
/// name (removed by the next write of that dataset), and the old dataset keeps its name. (A
/// kill in the middle of an HDF5 metadata write can still damage the file: the library has
/// no journal.)
///
/// Blocks may cover any region: the library serializes writes, and a block that covers part of
/// a chunk is merged into it by the library. Blocks aligned to the chunks avoid reading chunks
/// back.
///
/// The file is opened for writing (created if missing) until the writer is dropped; open a
/// [`super::Hdf5Source`] on it after that.
pub struct Hdf5Writer {
    file: ::hdf5::File,
    dataset: ::hdf5::Dataset,
    /// The group that holds the dataset, its final name and the staging name it is written
    /// under until commit.
    parent: ::hdf5::Group,
    name: String,
    staging: String,
    /// Held from create to commit (or drop).
    lock: std::sync::Mutex<Option<crate::io::guard::OutputLock>>,
    location: crate::io::guard::StoredLocation,
    shown: String,
    dtype: DType,
    shape: Vec<usize>,
    chunk_bytes: usize,
    filtered: bool,
    /// NetCDF4 dimensions, attached at commit.
    dimensions: Option<Vec<Hdf5Dimension>>,
    committed: AtomicBool,
}

impl std::fmt::Debug for Hdf5Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hdf5Writer")
            .field("path", &self.shown)
            .field("shape", &self.shape)
            .field("dtype", &self.dtype)
            .finish()
    }
}

impl Hdf5Writer {
    /// Creates the dataset `dataset_path` (`/group/sub/var` or `var`; missing groups are
    /// created) in `file` (created if missing), of `shape`, chunked by `chunk_shape` (clipped to
    /// the shape) and of element type `dtype`, marked incomplete until
    /// [`BlockWriter::commit`].
    ///
    /// # Errors
    /// [`Error::ChunkRankMismatch`] or [`Error::ZeroChunk`] for a chunk shape that does not
    /// fit the shape; [`Error::InvalidArgument`] for an empty dataset path or compression of a
    /// scalar (0-d) dataset; [`Error::Store`] with [`StoreErrorKind::AlreadyExists`] when a
    /// dataset exists at the path and `options.overwrite` is false,
    /// [`StoreErrorKind::NotAnArray`] when a group is there, [`StoreErrorKind::ParentNotAGroup`]
    /// when a parent is a dataset, [`StoreErrorKind::NotRecognized`] when `file` exists but is
    /// not an HDF5 file, [`StoreErrorKind::Locked`] when another writer is writing the file;
    /// [`StoreErrorKind::Backend`] (the library's error as the source) for library failures
    /// (for example the file is open read-only elsewhere in the process).
    pub fn create(
        file: impl AsRef<Path>,
        dataset_path: &str,
        shape: &[usize],
        chunk_shape: &[usize],
        dtype: DType,
        options: &Hdf5WriteOptions,
    ) -> Result<Hdf5Writer> {
        const OP: &str = "create hdf5 dataset";
        let file_path = file.as_ref();
        let path = super::normalize_dataset_path(dataset_path);
        let shown = display_path(file_path, &path);
        if path.is_empty() {
            return Err(Error::InvalidArgument {
                op: OP,
                detail: format!("dataset path {dataset_path:?} names the root group"),
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
        if let Some(axis) = (0..shape.len()).find(|&a| chunk_shape[a] == 0 && shape[a] > 0) {
            return Err(Error::ZeroChunk {
                op: OP,
                axis,
                shape: shape.to_vec(),
            });
        }
        if shape.is_empty() && options.gzip_level.is_some() {
            return Err(Error::InvalidArgument {
                op: OP,
                detail: format!("{shown}: a scalar (0-d) dataset cannot be compressed"),
            });
        }
        // HDF5 requires 1 <= chunk <= dimension for fixed-size datasets.
        let chunks: Vec<usize> = chunk_shape
            .iter()
            .zip(shape)
            .map(|(&c, &n)| c.min(n).max(1))
            .collect();

        let lock = crate::io::guard::OutputLock::acquire(OP, file_path, &shown)?;
        let h5 = open_for_writing(OP, file_path, &path)?;
        check_path(OP, &h5, &path, &shown, options.overwrite)?;
        let (parent_path, name) = match path.rsplit_once('/') {
            Some((p, n)) => (Some(p), n),
            None => (None, path.as_str()),
        };
        let parent: ::hdf5::Group = match parent_path {
            Some(p) => ensure_groups(OP, &h5, p, &shown)?,
            None => (*h5).clone(),
        };
        if let Some(dims) = &options.dimensions {
            netcdf::check_dimensions(OP, &parent, name, shape, dims, &shown)?;
        }
        // The dataset is written beside the old one (if any), which stays until commit.
        let prefix = crate::io::guard::staging_prefix(name);
        for stale in parent.member_names().unwrap_or_default() {
            if let Some(tag) = stale.strip_prefix(&prefix)
                && crate::io::guard::owner_is_dead(tag)
            {
                let _ = parent.unlink(&stale);
            }
        }
        let staging = crate::io::guard::staging_name(name);
        let mut filters = Vec::new();
        if let Some(level) = options.gzip_level {
            if options.shuffle {
                filters.push(::hdf5::filters::Filter::Shuffle);
            }
            filters.push(::hdf5::filters::Filter::Deflate(level.min(9)));
        }
        let fill = netcdf::typed_fill_value(&options.attributes, dtype)?;
        let dataset = crate::dispatch_dtype!(dtype, {
            let mut b = parent.new_dataset::<T>();
            // The library's fill value agrees with the `_FillValue` attribute, as netCDF4's.
            if let Some(f) = &fill {
                b = b.fill_value(f.clone());
            }
            let b = if shape.is_empty() {
                b
            } else {
                b.chunk(chunks.clone()).set_filters(&filters)
            };
            b.shape(shape.to_vec()).create(staging.as_str())
        })
        .map_err(|e| storage(OP, &shown, "create the dataset", e))?;
        dataset
            .new_attr::<u8>()
            .create(INCOMPLETE_ATTR)
            .and_then(|a| a.write_scalar(&1u8))
            .map_err(|e| storage(OP, &shown, "mark the dataset incomplete", e))?;
        netcdf::write_attributes(&dataset, &options.attributes, dtype, &shown)?;
        h5.flush()
            .map_err(|e| storage(OP, &shown, "flush the file", e))?;
        let location = crate::io::guard::StoredLocation::new(file_path, &path, shown.clone());
        Ok(Hdf5Writer {
            file: h5,
            dataset,
            parent,
            name: name.to_owned(),
            staging,
            lock: std::sync::Mutex::new(Some(lock)),
            location,
            shown,
            dtype,
            shape: shape.to_vec(),
            chunk_bytes: chunks.iter().product::<usize>() * dtype.size(),
            filtered: !filters.is_empty(),
            dimensions: options.dimensions.clone(),
            committed: AtomicBool::new(false),
        })
    }

    /// The dataset's path in errors and plans (`file:/group/var`).
    pub fn describe(&self) -> &str {
        &self.shown
    }

    fn write_typed<T: Element + ::hdf5::H5Type>(
        &self,
        region: &Region,
        block: &AnyView<'_>,
    ) -> Result<()> {
        let view = T::view_ref(block).ok_or_else(|| Error::DTypeMismatch {
            op: "hdf5 write",
            what: self.shown.clone(),
            requested: block.dtype(),
            actual: self.dtype,
        })?;
        if view.is_empty() {
            return Ok(());
        }
        let view = view.as_standard_layout();
        let err = |e: ::hdf5::Error| {
            storage(
                "hdf5 write",
                &self.shown,
                &format!("write region {region}"),
                e,
            )
        };
        if self.shape.is_empty() {
            let v = view.iter().next().copied().unwrap_or_default();
            return self.dataset.write_scalar(&v).map_err(err);
        }
        let slices: Vec<SliceOrIndex> = region.0.iter().map(|r| r.clone().into()).collect();
        let selection = Selection::from(Hyperslab::from(slices));
        self.dataset.write_slice(&view, selection).map_err(err)
    }
}

impl BlockWriter for Hdf5Writer {
    fn write(&self, region: &Region, block: &AnyView<'_>) -> Result<()> {
        let in_bounds = region.0.len() == self.shape.len()
            && region
                .0
                .iter()
                .zip(&self.shape)
                .all(|(r, &n)| r.start <= r.end && r.end <= n);
        if !in_bounds || region.shape() != block.shape() {
            return Err(Error::Shape {
                op: "hdf5 write",
                detail: format!(
                    "block of shape {:?} for region {region} of {} (shape {:?})",
                    block.shape(),
                    self.shown,
                    self.shape
                ),
            });
        }
        if block.dtype() != self.dtype {
            return Err(Error::DTypeMismatch {
                op: "hdf5 write",
                what: self.shown.clone(),
                requested: block.dtype(),
                actual: self.dtype,
            });
        }
        crate::dispatch_dtype!(self.dtype, self.write_typed::<T>(region, block))
    }

    fn commit(&self) -> Result<()> {
        const OP: &str = "commit hdf5 dataset";
        if self.committed.load(Ordering::Acquire) {
            return Ok(());
        }
        // Flush the data before the mark goes, so a crash in between leaves it incomplete.
        let flush = |e| storage(OP, &self.shown, "flush the file", e);
        self.file.flush().map_err(flush)?;
        self.dataset
            .delete_attr(INCOMPLETE_ATTR)
            .map_err(|e| storage(OP, &self.shown, "remove the incomplete mark", e))?;
        self.file.flush().map_err(flush)?;
        // Dimension scales, attached to the dataset under its staging name (references
        // follow the object, not the name).
        if let Some(dims) = &self.dimensions {
            netcdf::attach_dimensions(&self.parent, &self.dataset, &self.name, dims, &self.shown)?;
        }
        // The complete dataset takes the name; the old one is moved aside first and unlinked
        // only after.
        let err = |e: ::hdf5::Error| storage(OP, &self.shown, "move the dataset into place", e);
        let old = self.parent.link_exists(&self.name).then(|| {
            format!(
                ".{}.chunkwise-old-{}",
                self.name,
                crate::io::guard::owner_tag()
            )
        });
        if let Some(old) = &old {
            self.parent.relink(&self.name, old).map_err(err)?;
        }
        if let Err(e) = self.parent.relink(&self.staging, &self.name) {
            if let Some(old) = &old {
                let _ = self.parent.relink(old, &self.name);
            }
            return Err(err(e));
        }
        self.committed.store(true, Ordering::Release);
        if let Some(old) = &old {
            if let (Some(dims), Ok(old_ds)) = (&self.dimensions, self.parent.dataset(old)) {
                // The old dataset leaves the scales' back-references as it goes.
                for (axis, dim) in dims.iter().enumerate() {
                    if let Ok(scale) = self.parent.dataset(&dim.name) {
                        netcdf::detach_if_attached(&old_ds, &scale, axis);
                    }
                }
            }
            self.parent.unlink(old).map_err(err)?;
        }
        self.file.flush().map_err(err)?;
        if let Ok(mut lock) = self.lock.lock() {
            lock.take();
        }
        Ok(())
    }

    fn location(&self) -> Option<crate::io::guard::StoredLocation> {
        Some(self.location.clone())
    }

    fn write_scratch_bytes(&self, region: &Region) -> usize {
        let _ = region;
        if self.filtered {
            2 * self.chunk_bytes + CHUNK_CACHE_BYTES
        } else {
            CHUNK_CACHE_BYTES
        }
    }
}

/// Opens `file` read-write, creating it when missing.
fn open_for_writing(op: &'static str, file: &Path, dataset: &str) -> Result<::hdf5::File> {
    let shown = display_path(file, dataset);
    if file.exists() {
        if file.is_dir() || !super::has_hdf5_signature(file).unwrap_or(false) {
            return Err(store_error(
                op,
                shown,
                StoreErrorKind::NotRecognized { format: "HDF5" },
            ));
        }
        ::hdf5::File::open_rw(file).map_err(|e| storage(op, &shown, "open the file for writing", e))
    } else {
        ::hdf5::File::create(file).map_err(|e| storage(op, &shown, "create the file", e))
    }
}

impl Drop for Hdf5Writer {
    /// An uncommitted dataset (a failed run) is unlinked: the old dataset, if any, stays as it
    /// was. (HDF5 does not give the space back to the file system; `h5repack` does.)
    fn drop(&mut self) {
        if !self.committed.load(Ordering::Acquire) {
            let _ = self.parent.unlink(&self.staging);
            let _ = self.file.flush();
        }
    }
}

/// Checks that a dataset at `path` may be replaced (only with `overwrite`; anything else never
/// is). Nothing is removed here: the old dataset stays until the new one is committed.
fn check_path(
    op: &'static str,
    h5: &::hdf5::File,
    path: &str,
    shown: &str,
    overwrite: bool,
) -> Result<()> {
    if !super::path_exists(h5, path) {
        return Ok(());
    }
    match h5.loc_type_by_name(path) {
        Ok(::hdf5::LocationType::Dataset) if overwrite => Ok(()),
        Ok(::hdf5::LocationType::Dataset) => Err(store_error(
            op,
            shown.to_owned(),
            StoreErrorKind::AlreadyExists,
        )),
        Ok(other) => Err(store_error(
            op,
            shown.to_owned(),
            StoreErrorKind::NotAnArray {
                found: match other {
                    ::hdf5::LocationType::Group => "group".into(),
                    o => format!("{o:?}"),
                },
            },
        )),
        Err(e) => Err(storage(op, shown, "look at the existing path", e)),
    }
}

/// Opens the group at `path`, creating missing ones.
fn ensure_groups(
    op: &'static str,
    h5: &::hdf5::File,
    path: &str,
    shown: &str,
) -> Result<::hdf5::Group> {
    let mut group: ::hdf5::Group = (**h5).clone();
    for part in path.split('/') {
        group = if group.link_exists(part) {
            match group.loc_type_by_name(part) {
                Ok(::hdf5::LocationType::Group) => group
                    .group(part)
                    .map_err(|e| storage(op, shown, "open a group", e))?,
                _ => {
                    return Err(store_error(
                        op,
                        shown.to_owned(),
                        StoreErrorKind::ParentNotAGroup {
                            parent: format!("{}/{part}", group.name().trim_end_matches('/')),
                        },
                    ));
                }
            }
        } else {
            group
                .create_group(part)
                .map_err(|e| storage(op, shown, "create a group", e))?
        };
    }
    Ok(group)
}
