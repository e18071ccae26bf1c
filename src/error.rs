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
    /// The live dashboard (feature `dashboard`) cannot serve at the address asked for: not
    /// an address, or a port already in use.
    #[error("dashboard at {addr}: {detail}")]
    Dashboard {
        /// The address as given.
        addr: String,
        /// What went wrong.
        detail: String,
    },
    /// An engine cannot be used: its command is missing, it refused a submission, or its
    /// state cannot be read (issue 11). A batch that fails is [`Error::BatchFailed`].
    #[error("engine {engine}: {detail}")]
    Engine {
        /// The engine, as the CLI spells it (`"slurm"`).
        engine: &'static str,
        /// What went wrong.
        detail: String,
    },
    /// A batch of a stage still failed after its last try (issue 11).
    #[error(
        "stage {stage} ({name}), batch {batch}: failed {tries} time(s): {reason}; the worker's last lines:\n{log_tail}"
    )]
    BatchFailed {
        /// The stage's index.
        stage: usize,
        /// The stage's name.
        name: String,
        /// The batch's index within the stage.
        batch: usize,
        /// How many times it was tried.
        tries: usize,
        /// The last failure, in the engine's words.
        reason: String,
        /// The last lines the worker wrote to its log.
        log_tail: String,
    },
    /// A worker (or a rerun) built a different plan from the one its work directory holds:
    /// another program, other arguments or other input (issue 11).
    #[error(
        "plan hash mismatch in {work_dir}: it holds plan {expected}, this program built {found}"
    )]
    PlanMismatch {
        /// The work directory.
        work_dir: String,
        /// The hash the driver recorded.
        expected: String,
        /// The hash this process built.
        found: String,
    },
    /// An I/O error on a path that is not a store: the rechunk scratch directory, a file the
    /// command-line tool writes. Failures on a Zarr store or an HDF5 file, I/O ones included,
    /// are [`Error::Store`].
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
    /// A store, file or array that cannot be opened, read, created or written as asked, from
    /// either backend (Zarr or HDF5): the same failure gives the same [`StoreErrorKind`] —
    /// missing, of another format, of an unsupported element type, left incomplete by an
    /// interrupted write, already existing, unreadable, or a failure of the backend itself.
    ///
    /// The message names the operation, the path and what was wrong; the underlying error
    /// (from zarrs, libhdf5, the file system, a JSON parser), when there is one, is kept as
    /// [`std::error::Error::source`], not repeated in the message: print the whole chain
    /// with [`Error::report`] (or anyhow's `{:#}`).
    #[error("{op} {path}: {kind}")]
    Store {
        /// The operation.
        op: &'static str,
        /// The store and array path as given (`store.zarr/group/array`, `file.nc:/var`).
        path: String,
        /// What was wrong.
        kind: StoreErrorKind,
        /// The backend's error, when one caused this.
        #[source]
        source: Option<BoxError>,
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
        path: Box<str>,
        /// The chunk's index in the chunk grid (for a sharded array, the shard's).
        chunk: Vec<u64>,
        /// The file that holds the chunk.
        file: PathBuf,
        /// What was wrong with it. (This and `path` are `Box<str>`, not `String`, to keep
        /// [`Error`] within 120 bytes.)
        detail: Box<str>,
        /// The error reading or decoding it raised (an I/O or codec error), when there is one.
        #[source]
        source: Option<BoxError>,
    },
    /// A bug in chunkwise itself: a state its own code should never reach (a block of the
    /// wrong type between two of its kernels, a plan the scheduler cannot finish, ...). Not
    /// caused by the input; the message asks for a report. A panic whose message starts with
    /// `internal:` inside a task is turned into this instead of [`Error::TaskPanicked`].
    #[error(
        "internal error in chunkwise ({op}): {message}. This is a bug in chunkwise, not a \
         problem with your data or code; please report it, with what you ran"
    )]
    Internal {
        /// The operation (or task) it happened in.
        op: String,
        /// What went wrong.
        message: String,
    },
    /// A panic inside a task, caught so the run fails cleanly: most often in a user closure
    /// (`map_blocks`, `for_each_block`, a progress callback). Panics of chunkwise's own
    /// consistency checks (messages starting with `internal:`) are [`Error::Internal`].
    #[error("a task of {op} panicked: {message}")]
    TaskPanicked {
        /// The operation of the task.
        op: String,
        /// The panic message.
        message: String,
    },

    // ---- CF time (src/time): units, calendars, dates, time values ----
    /// CF time units that cannot be used: not `"<unit> since <date>"`, an unknown unit, a
    /// unit the calendar lacks (`months` outside `360_day`), or a reference date that is not
    /// a date of the calendar.
    #[error("time units {units:?}: {detail}")]
    TimeUnits {
        /// The units string, as given.
        units: String,
        /// What is wrong with it.
        detail: String,
    },
    /// A `calendar` attribute that names none of the CF calendars chunkwise supports.
    #[error(
        "unsupported calendar {calendar:?}; chunkwise supports standard (gregorian), \
         proleptic_gregorian, noleap (365_day), all_leap (366_day), 360_day and julian"
    )]
    UnsupportedCalendar {
        /// The calendar name, as given.
        calendar: String,
    },
    /// A date or time string that does not parse, or a date that does not exist in its
    /// calendar (2001-02-29 in `noleap`, 1582-10-10 in `standard`).
    #[error("invalid date {date:?}: {detail}")]
    InvalidDate {
        /// The date, as given or as printed.
        date: String,
        /// What is wrong with it.
        detail: String,
    },
    /// A time value that cannot be decoded or encoded with its units: NaN, out of range,
    /// not a date of the calendar, or not a whole number of units where integers were asked.
    #[error("{op} with units {units:?} (calendar {calendar}): {detail}")]
    TimeValue {
        /// `"decode"`, `"encode"`, `"encode_i64"`.
        op: &'static str,
        /// The units.
        units: String,
        /// The calendar's CF name.
        calendar: &'static str,
        /// Which value (its index) and what is wrong.
        detail: String,
    },
    /// A dimension name that the variable, array or dataset does not have.
    #[error("{op}: {what} has no dimension {dim:?} (its dimensions: {available:?})")]
    UnknownDimension {
        /// The operation (`"mean"`, `"sel"`, ...).
        op: &'static str,
        /// The array or variable asked (`"variable t2m"`).
        what: String,
        /// The dimension name asked for.
        dim: String,
        /// The dimensions it has.
        available: Vec<String>,
    },
    /// A variable name that the dataset does not hold.
    #[error("{op}: {what} has no variable {name:?} (its variables: {available:?})")]
    UnknownVariable {
        /// The operation.
        op: &'static str,
        /// The dataset (its path, or `"dataset"`).
        what: String,
        /// The variable asked for.
        name: String,
        /// The variables it has.
        available: Vec<String>,
    },
    /// Two lengths of one dimension that disagree: two variables, a coordinate and its
    /// variable, or the operands of a binary operation.
    #[error("{op}: dimension {dim:?} has length {len_a} in {what_a} but {len_b} in {what_b}")]
    DimensionLengthMismatch {
        /// The operation.
        op: &'static str,
        /// The dimension.
        dim: String,
        /// The first place it was seen.
        what_a: String,
        /// Its length there.
        len_a: usize,
        /// The place that disagrees.
        what_b: String,
        /// Its length there.
        len_b: usize,
    },
    /// The operands of a binary operation have different coordinate values on a shared
    /// dimension; align them explicitly (`DataArray::align`) to use the common labels.
    #[error(
        "{op}: the coordinates of dimension {dim:?} differ between the operands ({detail}); \
         align them first (DataArray::align) to use the labels they share"
    )]
    CoordinateMismatch {
        /// The operation.
        op: &'static str,
        /// The dimension.
        dim: String,
        /// The first position where they differ, with both values.
        detail: String,
    },
    /// A label selection (`sel`) that matches nothing in the coordinate.
    #[error("{op}: no {dim:?} coordinate matches {value} ({detail})")]
    SelectionNotFound {
        /// The operation.
        op: &'static str,
        /// The dimension selected on.
        dim: String,
        /// The value or range asked, as written.
        value: String,
        /// The coordinate's range, and why nothing matched.
        detail: String,
    },
}

/// A boxed error kept as the cause ([`std::error::Error::source`]) of an [`Error`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why a store or an array in it cannot be used (see [`Error::Store`]). Both backends give
/// the same kind for the same failure.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreErrorKind {
    /// The file or store does not exist.
    #[error("no such file or store")]
    NotFound,
    /// The path exists but is not of the expected format.
    #[error("{}", not_recognized(.format))]
    NotRecognized {
        /// The expected format (`"HDF5"`, `"Zarr"`).
        format: &'static str,
    },
    /// Nothing exists at the array path inside the store.
    #[error("no array (dataset) at this path")]
    ArrayNotFound,
    /// The path names something other than an array.
    #[error("this path is a {found}, not an array (dataset)")]
    NotAnArray {
        /// What is there (`"group"`, `"Zarr group (it holds a, b)"`, ...).
        found: String,
    },
    /// A parent of the array path is an array, so it cannot hold another array.
    #[error("{parent} is an array (dataset), not a group, so it cannot hold an array")]
    ParentNotAGroup {
        /// The parent (a directory of a Zarr store, a path inside an HDF5 file).
        parent: String,
    },
    /// The stored element type has no chunkwise equivalent: only the types of [`DType`] are
    /// supported.
    #[error(
        "unsupported element type {dtype}; chunkwise reads bool, int8..int64, uint8..uint64, \
         float32 and float64"
    )]
    UnsupportedDType {
        /// The stored type, as the format describes it.
        dtype: String,
    },
    /// The array was left incomplete by a write that failed or never committed.
    #[error(
        "the array is incomplete: a write to it failed or was interrupted before it committed; \
         write it again"
    )]
    Incomplete,
    /// The array already exists and overwriting was not asked for.
    #[error("an array already exists at this path; pass overwrite to replace it")]
    AlreadyExists,
    /// Another writer holds the output's lock.
    #[error(
        "another writer is writing this output ({holder}; lock file {}); wait for it to \
         finish, or write to another path",
        .lock_file.display()
    )]
    Locked {
        /// Who holds it (`pid 123 on host h`), as its lock file says.
        holder: String,
        /// The lock file.
        lock_file: PathBuf,
    },
    /// The array changed on disk while it was being read: the values read would mix old and
    /// new data.
    #[error(
        "the array changed on disk while it was being read ({detail}); the values read would \
         mix old and new data"
    )]
    ReplacedWhileReading {
        /// What changed, and what to do.
        detail: &'static str,
    },
    /// A file or directory of the store cannot be read or written for lack of permission.
    #[error("permission denied on {}", .at.display())]
    PermissionDenied {
        /// The file or directory that was refused (the store, a parent, a metadata file).
        at: PathBuf,
    },
    /// The file is of a format chunkwise recognises but cannot read (yet), such as NetCDF3.
    #[error("{format} file, which chunkwise cannot read yet; {hint}")]
    UnsupportedFormat {
        /// The format found, with its article (`"a NetCDF3 classic (CDF-1)"`, ...).
        format: &'static str,
        /// What to do instead.
        hint: &'static str,
    },
    /// The data passes through a filter or codec (a compressor) that this build cannot
    /// decode: an HDF5 filter whose plugin is not installed, a Zarr codec zarrs lacks.
    #[error("the data is encoded with {filter}, {hint}")]
    FilterUnavailable {
        /// The filter's name (`"LZF (id 32000)"`, a Zarr codec's name).
        filter: String,
        /// What it is, why it is missing and what to do.
        hint: &'static str,
    },
    /// The store's metadata is not valid, or describes an array chunkwise cannot plan (more
    /// elements than 64 bits hold, too many chunks).
    #[error("invalid metadata: {detail}")]
    InvalidMetadata {
        /// What was wrong, with the numbers or the file.
        detail: String,
    },

    /// A URL whose scheme chunkwise does not open.
    #[error(
        "unknown URL scheme {scheme}://; chunkwise opens s3://, gs://, http:// and https:// \
         URLs (cargo feature `object-store`) and filesystem paths"
    )]
    UnknownScheme {
        /// The scheme, as given.
        scheme: String,
    },
    /// A URL given to a build of chunkwise without the cargo feature `object-store`.
    #[error(
        "this build of chunkwise cannot open {scheme}:// URLs; rebuild it with the cargo \
         feature `object-store` (the CLI: `--features object-store`)"
    )]
    FeatureMissing {
        /// The scheme, as given.
        scheme: String,
    },
    /// A write to a store that can only be read (`http://`, `https://`).
    #[error("{scheme}:// stores are read-only; write to s3://, gs:// or a filesystem path instead")]
    ReadOnly {
        /// The scheme, as given.
        scheme: String,
    },
    /// An object store refused a request or could not be reached: a missing bucket, refused
    /// credentials, an endpoint that does not answer.
    #[error("{detail}")]
    ObjectStore {
        /// What went wrong, in words, with what to check.
        detail: String,
    },
    /// Another failure of the backend (zarrs, libhdf5, the file system); the backend's error
    /// is the [`Error::Store`]'s source.
    #[error("cannot {action}")]
    Backend {
        /// What was being done (`"read region [0..4, 0..4]"`, `"create the store directory x"`).
        action: String,
    },
}

/// The message of [`StoreErrorKind::NotRecognized`].
fn not_recognized(format: &str) -> String {
    match format {
        "Zarr" => "not a Zarr store (a Zarr store is a directory)".to_string(),
        "HDF5" => "not an HDF5 file".to_string(),
        f => format!("not a {f} file"),
    }
}

impl Error {
    /// A store error without an underlying cause.
    pub(crate) fn store(op: &'static str, path: impl Into<String>, kind: StoreErrorKind) -> Error {
        Error::Store {
            op,
            path: path.into(),
            kind,
            source: None,
        }
    }

    /// A store error caused by `source`.
    pub(crate) fn store_caused(
        op: &'static str,
        path: impl Into<String>,
        kind: StoreErrorKind,
        source: impl Into<BoxError>,
    ) -> Error {
        Error::Store {
            op,
            path: path.into(),
            kind,
            source: Some(source.into()),
        }
    }

    /// A failure of the backend while doing `action`, caused by `source`.
    #[cfg_attr(not(any(feature = "zarr", feature = "hdf5")), allow(dead_code))]
    pub(crate) fn backend(
        op: &'static str,
        path: impl Into<String>,
        action: impl Into<String>,
        source: impl Into<BoxError>,
    ) -> Error {
        Error::store_caused(
            op,
            path,
            StoreErrorKind::Backend {
                action: action.into(),
            },
            source,
        )
    }

    /// An I/O error on `at`, a file or directory of the store `path`, while doing `action`:
    /// [`StoreErrorKind::PermissionDenied`] when that is the cause, else
    /// [`StoreErrorKind::Backend`]; the I/O error is kept as the source either way.
    pub(crate) fn store_io(
        op: &'static str,
        path: impl Into<String>,
        action: impl Into<String>,
        at: &std::path::Path,
        source: std::io::Error,
    ) -> Error {
        let kind = if source.kind() == std::io::ErrorKind::PermissionDenied {
            StoreErrorKind::PermissionDenied {
                at: at.to_path_buf(),
            }
        } else {
            StoreErrorKind::Backend {
                action: format!("{} {}", action.into(), at.display()),
            }
        };
        Error::store_caused(op, path, kind, source)
    }

    /// A bug in chunkwise, found in `op`.
    pub(crate) fn internal(op: impl Into<String>, message: impl Into<String>) -> Error {
        Error::Internal {
            op: op.into(),
            message: message.into(),
        }
    }

    /// The error for a panic caught in a task of `op`: [`Error::Internal`] when the message
    /// starts with `internal:` (chunkwise's own consistency checks panic that way), else
    /// [`Error::TaskPanicked`].
    pub(crate) fn from_panic(op: String, message: String) -> Error {
        match message.strip_prefix("internal:") {
            Some(rest) => Error::Internal {
                op,
                message: rest.trim_start().to_string(),
            },
            None => Error::TaskPanicked { op, message },
        }
    }

    /// The kind of a [`Error::Store`], `None` for other errors.
    pub fn store_kind(&self) -> Option<&StoreErrorKind> {
        match self {
            Error::Store { kind, .. } => Some(kind),
            _ => None,
        }
    }

    /// This error followed by its causes ([`std::error::Error::source`], outermost first),
    /// separated by `": "`, for printing where anyhow's `{:#}` is not at hand.
    ///
    /// # Example
    /// ```
    /// # #[cfg(feature = "zarr")] {
    /// let e = chunkwise::io::zarr::ZarrSource::open("/no/such/store.zarr", "x").unwrap_err();
    /// assert!(e.report().to_string().contains("no such file or store"));
    /// # }
    /// ```
    pub fn report(&self) -> Report<'_> {
        Report(self)
    }
}

/// [`Error::report`]: an error and its chain of causes, on one line.
#[derive(Debug)]
pub struct Report<'a>(&'a Error);

impl std::fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut cause = std::error::Error::source(self.0);
        while let Some(c) = cause {
            write!(f, ": {c}")?;
            cause = c.source();
        }
        Ok(())
    }
}

/// `Result` with chunkwise's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
