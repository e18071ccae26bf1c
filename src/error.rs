//! The crate's error type: one structured enum that carries the operation, shapes and chunk
//! sizes involved, so callers can match on causes and messages say what to change.

use crate::element::DType;
use std::path::PathBuf;

/// Errors from building, planning, running or storing a chunked computation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A chunk size of zero on an axis of nonzero length.
    #[error("{op}: chunk size 0 on axis {axis} of shape {shape:?}; chunk sizes must be >= 1")]
    ZeroChunk {
        /// The operation that received the chunks.
        op: &'static str,
        /// The axis.
        axis: usize,
        /// The array shape.
        shape: Vec<usize>,
    },
    /// The chunk specification has a different number of axes than the array.
    #[error("{op}: chunk spec has {chunk_rank} axes but the array shape {shape:?} has {rank}")]
    ChunkRankMismatch {
        /// The operation.
        op: &'static str,
        /// Axes in the chunk spec.
        chunk_rank: usize,
        /// Axes in the array.
        rank: usize,
        /// The array shape.
        shape: Vec<usize>,
    },
    /// Explicit chunk sizes that do not add up to the axis length.
    #[error("{op}: chunks {chunks:?} on axis {axis} sum to {sum}, but the axis has length {len}")]
    ChunkSumMismatch {
        /// The operation.
        op: &'static str,
        /// The axis.
        axis: usize,
        /// The given chunk sizes.
        chunks: Vec<usize>,
        /// Their sum.
        sum: usize,
        /// The axis length.
        len: usize,
    },
    /// Two shapes that NumPy broadcasting cannot combine.
    #[error(
        "{op}: shapes {lhs:?} and {rhs:?} cannot be broadcast together (axis {axis}: {a} vs {b})"
    )]
    Broadcast {
        /// The operation.
        op: &'static str,
        /// Left operand shape.
        lhs: Vec<usize>,
        /// Right operand shape.
        rhs: Vec<usize>,
        /// The first incompatible axis (of the broadcast result).
        axis: usize,
        /// Length on the left.
        a: usize,
        /// Length on the right.
        b: usize,
    },
    /// A shape mismatch other than broadcasting (data length, concatenation, ...).
    #[error("{op}: {detail}")]
    Shape {
        /// The operation.
        op: &'static str,
        /// What did not match, with the shapes.
        detail: String,
    },
    /// An axis index out of range or repeated.
    #[error("{op}: {detail}")]
    Axis {
        /// The operation.
        op: &'static str,
        /// What was wrong, naming the axis and the rank.
        detail: String,
    },
    /// A metadata attribute whose value cannot mean what its name says (a CF `scale_factor`
    /// that is not a number, an `_Unsigned` that is neither `"true"` nor `"false"`, ...).
    #[error("attribute {attribute} = {value}: {detail}")]
    BadAttribute {
        /// The attribute's name.
        attribute: String,
        /// Its value, as JSON.
        value: String,
        /// What was wrong.
        detail: String,
    },
    /// An invalid argument value (a parameter outside its domain).
    #[error("{op}: {detail}")]
    InvalidArgument {
        /// The operation.
        op: &'static str,
        /// What was wrong.
        detail: String,
    },
    /// One task of the plan cannot fit the memory limit, detected before anything runs.
    #[error(
        "{op}: a task on block shape {block_shape:?} needs {needed} bytes ({needed_mib} MiB) but \
         the memory limit is {limit} bytes; use smaller chunks or a memory limit of at least \
         {needed_mib} MiB",
        needed_mib = needed.div_ceil(1 << 20)
    )]
    TaskTooLarge {
        /// The operation of the task.
        op: String,
        /// The shape of the block it produces.
        block_shape: Vec<usize>,
        /// Projected bytes (inputs + output + scratch).
        needed: usize,
        /// The memory limit.
        limit: usize,
    },
    /// The plan as a whole cannot run within the memory limit, detected before anything runs:
    /// a one-thread run in priority order would hold `needed` bytes at its peak.
    #[error(
        "the plan needs {needed} bytes ({needed_mib} MiB) at its peak, while running {op} with \
         {held} bytes held by {holder}, but the memory limit is {limit} bytes; a memory limit of \
         {needed_mib} MiB would work, or use smaller chunks",
        needed_mib = needed.div_ceil(1 << 20)
    )]
    PlanTooLarge {
        /// The operation running at the peak.
        op: String,
        /// The operation whose blocks and partials hold the most bytes then.
        holder: String,
        /// Bytes `holder` holds then.
        held: usize,
        /// The projected peak: the smallest limit this plan runs in.
        needed: usize,
        /// The memory limit.
        limit: usize,
    },
    /// The plan has so many tasks that their bookkeeping alone would outgrow the memory limit
    /// (found while lowering, which stops there).
    #[error(
        "the plan has more than {tasks} tasks, whose bookkeeping alone ({bytes} bytes) exceeds \
         the memory limit of {limit} bytes; use larger chunks (fewer blocks) or a larger memory \
         limit"
    )]
    PlanTooManyTasks {
        /// Tasks lowered when it stopped.
        tasks: usize,
        /// Their bytes, at least.
        bytes: usize,
        /// The memory limit.
        limit: usize,
    },
    /// At run time the blocks held for later consumers left no room for any runnable task.
    #[error(
        "memory limit of {limit} bytes exhausted: {held} bytes are held by {blocks} blocks waiting \
         for later consumers and the next task ({op}) needs {needed} more; use a larger memory \
         limit, smaller chunks, or compute the parts separately"
    )]
    MemoryExhausted {
        /// The memory limit.
        limit: usize,
        /// Bytes held by finished blocks.
        held: usize,
        /// How many blocks are held.
        blocks: usize,
        /// The operation of the next task.
        op: String,
        /// Bytes it needs.
        needed: usize,
    },
    /// The requested element type differs from the stored or computed one.
    #[error("{op}: requested element type {requested} but {what} has {actual}")]
    DTypeMismatch {
        /// The operation.
        op: &'static str,
        /// What holds the data (an array path, a node).
        what: String,
        /// The type asked for.
        requested: DType,
        /// The type found.
        actual: DType,
    },
    /// A stored array has an element type chunkwise cannot hold (complex, float16, strings, ...):
    /// only the types of [`DType`] are supported.
    #[error(
        "{path}: unsupported element type {dtype}; chunkwise reads bool, int8..int64, \
         uint8..uint64, float32 and float64"
    )]
    UnsupportedDType {
        /// The store and array path.
        path: String,
        /// The stored type, as the store names it.
        dtype: String,
    },
    /// A memory size that could not be parsed (`"512 MiB"`, `"2GB"`, ...).
    #[error(
        "cannot parse memory size {0:?}: expected a number with an optional unit (B, KB, MB, GB, KiB, MiB, GiB)"
    )]
    ParseMemory(String),
    /// A user closure (from `from_fn`, `map_blocks`, a sink, ...) returned an error or a block of
    /// the wrong shape.
    #[error("{op}: {detail}")]
    UserFunction {
        /// The operation.
        op: &'static str,
        /// What went wrong.
        detail: String,
    },
    /// Building the thread pool failed.
    #[error("cannot build the thread pool: {0}")]
    ThreadPool(String),
    /// An I/O error on a path.
    #[error("{op} {path}: {source}")]
    Io {
        /// The operation.
        op: &'static str,
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// An error from a storage back-end (Zarr, HDF5), naming the store and array.
    #[error("{op} {path}: {detail}")]
    Storage {
        /// The operation.
        op: &'static str,
        /// The store and array path.
        path: String,
        /// What went wrong.
        detail: String,
    },
    /// A store, file or array that cannot be opened or created as asked: missing, of another
    /// format, of an unsupported element type, left incomplete by an interrupted write, or
    /// already existing. Match on [`StoreErrorKind`] for the cause.
    #[error("{op} {path}: {kind}")]
    Store {
        /// The operation.
        op: &'static str,
        /// The file (and the array path inside it).
        path: String,
        /// What was wrong.
        kind: StoreErrorKind,
    },
    /// The result of `compute` cannot be allocated in memory (checked before anything runs).
    #[error(
        "compute: the result of shape {shape:?} needs {bytes} bytes, which cannot be allocated; \
         stream it with `for_each_block` or write it to a store (`to_zarr`) instead"
    )]
    ResultTooLarge {
        /// The shape of the result.
        shape: Vec<usize>,
        /// The bytes it needs (beyond `usize` when the shape overflows).
        bytes: u128,
    },
    /// A stored chunk that cannot be read or decoded: its file is truncated, corrupt, a
    /// directory, or unreadable. Names the chunk's grid index and its file.
    #[error("{op} {path}: chunk {chunk:?} (file {file}): {detail}")]
    BadChunk {
        /// The operation.
        op: &'static str,
        /// The store and array path.
        path: String,
        /// The chunk's index in the chunk grid (for a sharded array, the shard's).
        chunk: Vec<u64>,
        /// The file that holds the chunk.
        file: PathBuf,
        /// What was wrong with it.
        detail: String,
    },
    /// A panic inside a task, caught so the run fails cleanly. It indicates a bug in chunkwise
    /// or in a user closure.
    #[error("a task of {op} panicked: {message}")]
    TaskPanicked {
        /// The operation of the task.
        op: String,
        /// The panic message.
        message: String,
    },
}

/// Why a store or an array in it cannot be used (see [`Error::Store`]).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreErrorKind {
    /// The file or store does not exist.
    #[error("no such file or store")]
    NotFound,
    /// The file exists but is not of the expected format.
    #[error("not a {format} file")]
    NotRecognized {
        /// The expected format (`"HDF5"`, ...).
        format: &'static str,
    },
    /// Nothing exists at the array path inside the store.
    #[error("no array (dataset) at this path")]
    ArrayNotFound,
    /// The path names something other than an array.
    #[error("this path is a {found}, not an array (dataset)")]
    NotAnArray {
        /// What is there (`"group"`, `"named datatype"`, ...).
        found: String,
    },
    /// The stored element type has no chunkwise equivalent.
    #[error("unsupported element type {dtype}; chunkwise reads bool, integers and floats")]
    UnsupportedDType {
        /// The stored type, as the format describes it.
        dtype: String,
    },
    /// The array was left incomplete by a write that never committed.
    #[error("the array is incomplete: a write to it was interrupted before it committed")]
    Incomplete,
    /// The file is of a format chunkwise recognises but cannot read (yet), such as NetCDF3.
    #[error("{format} file, which chunkwise cannot read yet; {hint}")]
    UnsupportedFormat {
        /// The format found, with its article (`"a NetCDF3 classic (CDF-1)"`, ...).
        format: &'static str,
        /// What to do instead.
        hint: &'static str,
    },
    /// The data passes through an HDF5 filter (a compressor) that this libhdf5 does not have:
    /// its plugin is not installed or not on `HDF5_PLUGIN_PATH`.
    #[error(
        "the data is encoded with the HDF5 filter {filter}, which this libhdf5 does not have; \
         install its plugin (for example from the hdf5plugin package) and point \
         HDF5_PLUGIN_PATH at the plugin directory"
    )]
    FilterUnavailable {
        /// The filter's name and id (`"LZF (id 32000)"`).
        filter: String,
    },
    /// The array already exists and overwriting was not asked for.
    #[error("an array already exists at this path; pass overwrite to replace it")]
    AlreadyExists,
}

/// `Result` with chunkwise's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
