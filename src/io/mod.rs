//! Block sources and sinks: where blocks come from and where they go.
//!
//! I/O depends only on geometry ([`crate::chunks`]) and element types ([`crate::element`]):
//! a back-end implements [`BlockSource`] to be read lazily inside tasks, and [`BlockWriter`] to
//! receive finished blocks.

use crate::chunks::Region;
use crate::element::{AnyArray, AnyView, DType};
use crate::error::Result;
use std::fmt;

pub mod cf;
pub mod generate;
pub mod guard;
#[cfg(feature = "hdf5")]
#[cfg_attr(docsrs, doc(cfg(feature = "hdf5")))]
pub mod hdf5;
pub mod memory;
#[cfg(feature = "object-store")]
pub(crate) mod remote;
pub mod store_url;
#[cfg(feature = "zarr")]
#[cfg_attr(docsrs, doc(cfg(feature = "zarr")))]
pub mod zarr;

/// How reads of a source may run concurrently.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IoLane {
    /// Reads may run on every worker at once.
    Parallel,
    /// Reads are serialized (a library with a global lock, such as HDF5): the executor runs at
    /// most one read of this source at a time, so other workers stay free for compute.
    Serial,
}

/// Something that can produce any rectangular region of an array on demand: an in-memory
/// array, a generator, a Zarr array, an HDF5 dataset.
///
/// Reads happen inside executor tasks. Implementations must be cheap to share (`Arc`) and must
/// not hold more memory per read than the region plus [`BlockSource::read_scratch_bytes`].
pub trait BlockSource: Send + Sync + fmt::Debug {
    /// The element type of the blocks [`BlockSource::read`] returns.
    fn dtype(&self) -> DType;
    /// The array shape.
    fn shape(&self) -> &[usize];
    /// The source's own chunk shape (a store's chunks), which `auto` chunking and the default
    /// grid respect. `None` when any region is equally cheap.
    fn natural_chunks(&self) -> Option<Vec<usize>> {
        None
    }
    /// Reads `region` into an owned block of exactly the region's shape, in standard layout.
    ///
    /// # Errors
    /// Any I/O or decoding failure, naming the path and the region.
    fn read(&self, region: &Region) -> Result<AnyArray>;
    /// Bytes a read of `region` needs beyond its output (encoded and decoded chunk buffers).
    fn read_scratch_bytes(&self, region: &Region) -> usize {
        let _ = region;
        0
    }
    /// Whether a second read gives the same values, so the executor may drop a block and read
    /// it again instead of holding it.
    fn is_rematerializable(&self) -> bool {
        true
    }
    /// How reads may run concurrently.
    fn io_lane(&self) -> IoLane {
        IoLane::Parallel
    }
    /// The whole array, when it is already in memory: tasks then read views of it without a
    /// copy or a read task.
    fn as_memory(&self) -> Option<&AnyArray> {
        None
    }
    /// A short description for plans (`explain`, DOT): the kind and path.
    fn describe(&self) -> String;
    /// Where the data is stored, for a source that reads a stored array (Zarr, HDF5, or a
    /// wrapper of one): writers refuse to write over an array the same computation reads.
    fn location(&self) -> Option<guard::StoredLocation> {
        None
    }
}

/// Something that receives the finished blocks of an array, e.g. a Zarr array being written.
///
/// The executor calls [`BlockWriter::write`] once per block, from worker threads, with regions
/// that never overlap; then [`BlockWriter::commit`] once after every block succeeded. A writer
/// that is dropped without a commit must leave nothing that looks complete.
pub trait BlockWriter: Send + Sync {
    /// Writes one block.
    ///
    /// # Errors
    /// Any I/O or encoding failure, naming the path and region.
    fn write(&self, region: &Region, block: &AnyView<'_>) -> Result<()>;
    /// Marks the output complete (metadata written last, or an "incomplete" mark removed).
    ///
    /// # Errors
    /// Any I/O failure.
    fn commit(&self) -> Result<()>;
    /// Bytes a write of `region` needs beyond the block (encode buffers).
    fn write_scratch_bytes(&self, region: &Region) -> usize {
        let _ = region;
        0
    }
    /// The stored array this writer replaces or creates, when it writes one: storing refuses
    /// to run when the computation reads that same array.
    fn location(&self) -> Option<guard::StoredLocation> {
        None
    }
}

/// The most blocks (stored chunks) an array opened from a file may have: 2³² (a plan of more
/// tasks than that cannot run in reasonable time, and its per-axis chunk tables alone could
/// exhaust memory). Checked by [`check_stored_size`] when a store is opened.
pub const MAX_STORED_CHUNKS: u64 = 1 << 32;

/// Checks, at open time, that an array's metadata describes something that can be planned:
/// its element count and byte size fit `u64` and this platform's `usize`, and its chunk count
/// is at most [`MAX_STORED_CHUNKS`]. `chunks` is the stored chunk shape (`None`: contiguous).
///
/// # Errors
/// [`crate::Error::Store`] of kind [`crate::error::StoreErrorKind::InvalidMetadata`] with the
/// shape, chunk shape and the number that overflowed or passed the limit.
pub fn check_stored_size(
    op: &'static str,
    path: &str,
    shape: &[usize],
    chunks: Option<&[usize]>,
    dtype: DType,
) -> Result<()> {
    let err = |detail: String| {
        crate::error::Error::store(
            op,
            path,
            crate::error::StoreErrorKind::InvalidMetadata { detail },
        )
    };
    let mut elems: u64 = 1;
    for &n in shape {
        elems = elems.checked_mul(n as u64).ok_or_else(|| {
            err(format!(
                "shape {shape:?} has more elements than fit in 64 bits; the metadata is corrupt"
            ))
        })?;
    }
    let bytes = elems.checked_mul(dtype.size() as u64);
    if bytes.is_none_or(|b| usize::try_from(b).is_err()) {
        return Err(err(format!(
            "shape {shape:?} of {dtype} is {elems} elements, more bytes than this platform \
             can address; the metadata is corrupt"
        )));
    }
    if let Some(chunks) = chunks {
        if chunks.len() != shape.len() {
            return Err(err(format!(
                "chunk shape {chunks:?} has {} axes but the shape {shape:?} has {}",
                chunks.len(),
                shape.len()
            )));
        }
        let mut count: u64 = 1;
        for (&n, &c) in shape.iter().zip(chunks) {
            let per_axis = if n == 0 {
                0
            } else {
                (n as u64).div_ceil((c as u64).max(1))
            };
            count = count.saturating_mul(per_axis);
        }
        if count > MAX_STORED_CHUNKS {
            return Err(err(format!(
                "shape {shape:?} in chunks of {chunks:?} is {count} chunks, over the limit of \
                 {MAX_STORED_CHUNKS} (MAX_STORED_CHUNKS) chunks a plan may have"
            )));
        }
    }
    Ok(())
}
