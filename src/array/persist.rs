//! `persist`: compute an array once and keep its blocks, in memory within the runtime's
//! limit, or spilled to a scratch Zarr array when they do not fit.

use super::ChunkedArray;
use crate::chunks::Region;
use crate::element::{AnyArray, DType, Element};
use crate::error::{Error, Result};
use crate::exec::report::human_bytes;
use crate::exec::{ResidentBytes, Runtime};
use crate::graph::{Node, Op};
use crate::io::BlockSource;
use std::sync::Arc;

/// The prefix of the scratch directories of spilled persisted arrays.
#[cfg(feature = "zarr")]
pub(crate) const PERSIST_PREFIX: &str = "chunkwise-persist-";

/// The share of the memory limit that persisted arrays of one runtime may hold in memory
/// together: half (the other half is left for the computations that read them).
const PERSIST_SHARE_DIVISOR: usize = 2;

/// The blocks of a persisted array: the source of the graph node a persisted handle wraps.
/// Dropping it (with the last graph node that holds it) releases the memory or removes the
/// spilled store.
#[derive(Debug)]
pub(crate) enum PersistedSource {
    /// The whole array in memory; its bytes are counted in the runtime's resident bytes.
    Memory { data: AnyArray, held: ResidentBytes },
    /// A scratch Zarr array, removed with its directory on drop (after the source that reads
    /// it: fields drop in order).
    #[cfg(feature = "zarr")]
    Spilled {
        store: Box<crate::io::zarr::ZarrSource>,
        bytes: usize,
        dir: super::execute::staging::TempDir,
    },
}

impl BlockSource for PersistedSource {
    fn dtype(&self) -> DType {
        match self {
            PersistedSource::Memory { data, .. } => data.dtype(),
            #[cfg(feature = "zarr")]
            PersistedSource::Spilled { store, .. } => store.dtype(),
        }
    }
    fn shape(&self) -> &[usize] {
        match self {
            PersistedSource::Memory { data, .. } => data.shape(),
            #[cfg(feature = "zarr")]
            PersistedSource::Spilled { store, .. } => store.shape(),
        }
    }
    fn natural_chunks(&self) -> Option<Vec<usize>> {
        match self {
            PersistedSource::Memory { .. } => None,
            #[cfg(feature = "zarr")]
            PersistedSource::Spilled { store, .. } => store.natural_chunks(),
        }
    }
    fn read(&self, region: &Region) -> Result<AnyArray> {
        match self {
            PersistedSource::Memory { data, .. } => {
                Ok(data.view().slice_region(region.ranges()).to_owned())
            }
            #[cfg(feature = "zarr")]
            PersistedSource::Spilled { store, .. } => store.read(region),
        }
    }
    fn read_scratch_bytes(&self, region: &Region) -> usize {
        let _ = region;
        match self {
            PersistedSource::Memory { .. } => 0,
            #[cfg(feature = "zarr")]
            PersistedSource::Spilled { store, .. } => store.read_scratch_bytes(region),
        }
    }
    fn as_memory(&self) -> Option<&AnyArray> {
        match self {
            PersistedSource::Memory { data, .. } => Some(data),
            #[cfg(feature = "zarr")]
            PersistedSource::Spilled { .. } => None,
        }
    }
    fn describe(&self) -> String {
        match self {
            PersistedSource::Memory { data, held } => format!(
                "persisted in memory {:?} {} ({})",
                data.shape(),
                data.dtype(),
                human_bytes(held.bytes())
            ),
            #[cfg(feature = "zarr")]
            PersistedSource::Spilled { store, bytes, dir } => format!(
                "persisted, spilled to zarr {} {:?} {} ({})",
                dir.0.display(),
                store.shape(),
                store.dtype(),
                human_bytes(*bytes)
            ),
        }
    }
    fn location(&self) -> Option<crate::io::guard::StoredLocation> {
        match self {
            PersistedSource::Memory { .. } => None,
            #[cfg(feature = "zarr")]
            PersistedSource::Spilled { store, .. } => store.location(),
        }
    }
}

/// Bytes of an array of `shape` and `T`, or the error `persist` gives when it overflows.
fn array_bytes<T: Element>(shape: &[usize]) -> Result<usize> {
    shape
        .iter()
        .try_fold(T::DTYPE.size(), |acc, &s| acc.checked_mul(s))
        .ok_or_else(|| Error::ResultTooLarge {
            shape: shape.to_vec(),
            bytes: shape.iter().fold(T::DTYPE.size() as u128, |acc, &s| {
                acc.saturating_mul(s as u128)
            }),
        })
}

/// Whether a compute failed because its plan did not fit the memory it was given (then a
/// spilled persist, which leaves the run the whole limit, may still work).
#[cfg(feature = "zarr")]
fn did_not_fit(e: &Error) -> bool {
    matches!(
        e,
        Error::TaskTooLarge { .. }
            | Error::PlanTooLarge { .. }
            | Error::PlanTooManyTasks { .. }
            | Error::MemoryExhausted { .. }
            | Error::ResultTooLarge { .. }
    )
}

impl<T: Element> ChunkedArray<T> {
    /// Computes the array once and keeps its blocks, returning an array whose graph reads
    /// them: later computations over the result (or expressions of it) read the kept blocks
    /// instead of computing `self` again (no new reads of its inputs). It has the same shape,
    /// chunks and values (NaN included) as `self`.
    ///
    /// **Where the blocks go.** When the array fits in the part of the memory limit that
    /// persisted arrays may hold (half of [`Runtime::memory_limit`], less what other persisted
    /// arrays of `rt` already hold, [`Runtime::persisted_bytes`]), it is kept in memory and
    /// its bytes count against the limit of every later run on `rt` for as long as it lives:
    /// those runs plan and admit their tasks within the rest, so their peak tracked bytes plus
    /// the persisted bytes stay within the limit ([`RunReport::persisted_bytes`](crate::RunReport::persisted_bytes)).
    /// The persist run itself also runs within the limit less the bytes it keeps.
    /// Otherwise (or when the computation does not fit next to the kept bytes) the blocks are
    /// streamed into an uncompressed scratch Zarr array in its own `chunkwise-persist-HOST-PID-N`
    /// directory under the runtime's scratch directory ([`crate::RuntimeBuilder::scratch_dir`]),
    /// and later reads come from there. [`ChunkedArray::explain`] names the node
    /// `persisted in memory` or `persisted, spilled to zarr PATH`.
    ///
    /// **Lifetime.** The blocks live as long as any handle or graph refers to them: the
    /// returned array, its clones, and every array built from it. When the last is dropped,
    /// the memory is released (the runtime's persisted bytes drop) and the spilled store is
    /// removed. Persisted bytes count against `rt` only: computing the array on another
    /// runtime does not count them there.
    ///
    /// An array that is already in memory with no operation on it (from
    /// [`ChunkedArray::from_ndarray`], or persisted in memory) is returned as it is: there is
    /// nothing to keep. Persisting a source such as an opened store caches its reads.
    ///
    /// # Errors
    /// Whatever computing `self` fails with. Without the `zarr` feature,
    /// [`Error::InvalidArgument`] naming the array's bytes and the room persist may use when it
    /// does not fit in memory; with it, any error creating, writing or opening the scratch
    /// array (naming its path).
    ///
    /// # Example
    /// ```
    /// use chunkwise::prelude::*;
    /// let rt = Runtime::builder().threads(2).memory_limit("16 MiB").build()?;
    /// let x = ChunkedArray::<f64>::random_normal(&[400, 300], [100, 100], 7, 0.0, 1.0)?;
    /// let anom = (&x - &x.mean_axis(0)?)?.persist(&rt)?;   // computed once, kept in memory
    /// assert_eq!(rt.persisted_bytes(), 400 * 300 * 8);
    /// let sd = anom.std_axis(0)?.compute(&rt)?;               // reads the kept blocks
    /// let hi = anom.gt(2.0)?.count_nonzero().compute_scalar(&rt)?;
    /// let report = rt.last_report();
    /// assert_eq!(report.persisted_bytes, 400 * 300 * 8);
    /// assert!(report.peak_tracked_bytes + report.persisted_bytes <= report.memory_limit);
    /// assert!(anom.explain().contains("persisted in memory"));
    /// assert!(sd.iter().all(|s| (s - 1.0).abs() < 0.2) && hi > 0);
    /// drop(anom);                                              // frees the blocks
    /// assert_eq!(rt.persisted_bytes(), 0);
    /// # Ok::<(), chunkwise::Error>(())
    /// ```
    pub fn persist(&self, rt: &Runtime) -> Result<ChunkedArray<T>> {
        if let Op::Source(src) = &self.node.op
            && src.as_memory().is_some()
        {
            return Ok(self.clone());
        }
        let bytes = array_bytes::<T>(self.shape())?;
        let share = rt.memory_limit() / PERSIST_SHARE_DIVISOR;
        let room = share.saturating_sub(rt.persisted_bytes());
        if bytes <= room {
            // Reserved before the run: it plans within the limit less the kept bytes.
            let held = rt.hold_resident(bytes);
            match self.compute(rt) {
                Ok(a) => {
                    let src = PersistedSource::Memory {
                        data: T::wrap(a),
                        held,
                    };
                    return Ok(self.with_persisted_source(src));
                }
                #[cfg(feature = "zarr")]
                Err(e) if did_not_fit(&e) => drop(held),
                Err(e) => return Err(e),
            }
        }
        self.spill(rt, bytes, room)
    }

    /// A handle on a source node of `src` with this array's grid.
    fn with_persisted_source(&self, src: PersistedSource) -> ChunkedArray<T> {
        ChunkedArray::from_node(Node::new(
            self.node.grid.clone(),
            T::DTYPE,
            Op::Source(Arc::new(src)),
        ))
    }

    /// Streams the array into a scratch Zarr array and wraps it.
    #[cfg(feature = "zarr")]
    fn spill(&self, rt: &Runtime, bytes: usize, _room: usize) -> Result<ChunkedArray<T>> {
        use super::execute::staging::{TempDir, scratch_dir};
        use crate::io::zarr::{ZarrCompression, ZarrSource, ZarrWriteOptions, ZarrWriter};
        const NAME: &str = "persisted";
        let dir = TempDir(scratch_dir(
            rt,
            PERSIST_PREFIX,
            "create persist scratch directory",
        )?);
        // Zarr chunks are regular: an irregular grid is written in chunks of its largest
        // blocks (the persisted array keeps the original grid; reads cross stored chunks).
        let grid = self.chunks();
        let stored = if grid.is_regular() {
            self.clone()
        } else {
            let largest: Vec<usize> = grid
                .axes()
                .iter()
                .map(|a| a.sizes().into_iter().max().unwrap_or(1))
                .collect();
            self.rechunk(largest)?
        };
        let chunk_shape: Vec<usize> = stored
            .chunks()
            .chunk_shape()
            .iter()
            .map(|&c| c.max(1))
            .collect();
        let writer = ZarrWriter::create(
            &dir.0,
            NAME,
            self.shape(),
            &chunk_shape,
            T::DTYPE,
            ZarrWriteOptions {
                compression: ZarrCompression::None,
                overwrite: true,
                ..Default::default()
            },
        )?;
        stored.store(rt, &writer)?;
        drop(writer);
        let store = Box::new(ZarrSource::open(&dir.0, NAME)?);
        Ok(self.with_persisted_source(PersistedSource::Spilled { store, bytes, dir }))
    }

    /// Without Zarr there is nowhere to spill: a clear error.
    #[cfg(not(feature = "zarr"))]
    fn spill(&self, rt: &Runtime, bytes: usize, room: usize) -> Result<ChunkedArray<T>> {
        Err(Error::InvalidArgument {
            op: "persist",
            detail: format!(
                "the array of shape {:?} ({}) needs {bytes} bytes, more than the {room} bytes \
                 persisted arrays may still hold in memory (half the memory limit of {} bytes, \
                 less the {} bytes already persisted); spilling it to scratch needs the `zarr` \
                 feature. Use a larger memory limit, persist a smaller array, or drop other \
                 persisted arrays",
                self.shape(),
                T::DTYPE,
                rt.memory_limit(),
                rt.persisted_bytes()
            ),
        })
    }
}
