use super::memsize::parse_memory_size;
use super::report::RunReport;
use crate::engine::Engine;
use crate::error::{Error, Result};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// The most worker threads a runtime may have.
pub const MAX_THREADS: usize = 1024;

/// The default memory limit: 2 GiB.
pub const DEFAULT_MEMORY_LIMIT: usize = 2 << 30;

/// Where computations run: an owned rayon thread pool and a memory limit. No global state:
/// every `compute` takes a `&Runtime`.
///
/// # Example
/// ```
/// use chunkwise::Runtime;
/// let rt = Runtime::builder().threads(2).memory_limit("256 MiB").build().unwrap();
/// assert_eq!(rt.memory_limit(), 256 << 20);
/// ```
pub struct Runtime {
    pub(crate) pool: rayon::ThreadPool,
    pub(crate) threads: usize,
    pub(crate) memory_limit: usize,
    pub(crate) record_events: bool,
    pub(crate) progress: Option<ProgressFn>,
    pub(crate) scratch_dir: Option<std::path::PathBuf>,
    pub(crate) last: Mutex<Option<RunReport>>,
    /// Where computations run, and the settings of engines other than the local one.
    pub(crate) engine: EngineSettings,
    /// Computations started on this runtime so far (workers find theirs by this number).
    #[cfg_attr(not(feature = "zarr"), allow(dead_code))]
    pub(crate) computes: std::sync::atomic::AtomicUsize,
    /// Bytes of persisted arrays held in memory, counted against the limit of every run.
    pub(crate) resident: Arc<AtomicUsize>,
    /// The live dashboard's server, when one was asked for.
    #[cfg(feature = "dashboard")]
    pub(crate) dashboard: Option<super::dashboard::Dashboard>,
}

/// A progress callback: `(tasks finished, tasks in the plan)`, called from worker threads
/// after every task.
pub type ProgressFn = std::sync::Arc<dyn Fn(usize, usize) + Send + Sync>;

/// Builds a [`Runtime`].
#[derive(Clone, Default)]
#[must_use = "a RuntimeBuilder does nothing until `build` is called"]
pub struct RuntimeBuilder {
    threads: Option<usize>,
    memory_limit: Option<Result<usize, String>>,
    record_events: bool,
    progress: Option<ProgressFn>,
    scratch_dir: Option<std::path::PathBuf>,
    dashboard: Option<String>,
    engine: Engine,
    work_dir: Option<std::path::PathBuf>,
    log_dir: Option<std::path::PathBuf>,
    tries: Option<usize>,
    batch_bytes: Option<Result<usize, String>>,
}

/// The default number of tries of a batch on an engine other than the local one.
pub const DEFAULT_TRIES: usize = 3;

/// The default work of one batch (bytes read and written) on an engine other than the local
/// one: 256 MiB, seconds of work.
pub const DEFAULT_BATCH_BYTES: usize = 256 << 20;

/// The engine and its settings, as built.
#[derive(Clone, Debug, Default)]
#[cfg_attr(not(feature = "zarr"), allow(dead_code))]
pub(crate) struct EngineSettings {
    pub engine: Engine,
    pub work_dir: Option<std::path::PathBuf>,
    pub log_dir: Option<std::path::PathBuf>,
    pub tries: usize,
    pub batch_bytes: usize,
}

/// A memory size: bytes (`usize`) or a string such as `"512 MiB"`.
pub trait IntoMemorySize {
    /// The size in bytes, or the unparsed text.
    ///
    /// # Errors
    /// The text itself when it is not a memory size.
    fn into_bytes(self) -> Result<usize, String>;
}
impl IntoMemorySize for usize {
    fn into_bytes(self) -> Result<usize, String> {
        Ok(self)
    }
}
impl IntoMemorySize for &str {
    fn into_bytes(self) -> Result<usize, String> {
        parse_memory_size(self).map_err(|_| self.to_string())
    }
}
impl IntoMemorySize for String {
    fn into_bytes(self) -> Result<usize, String> {
        self.as_str().into_bytes()
    }
}

impl RuntimeBuilder {
    /// Worker threads (default: the number of CPUs; at most [`MAX_THREADS`]).
    pub fn threads(mut self, n: usize) -> Self {
        self.threads = Some(n);
        self
    }

    /// The memory limit: bytes or a string such as `"512 MiB"` (default
    /// [`DEFAULT_MEMORY_LIMIT`], 2 GiB). It bounds the blocks held and the working memory of
    /// running tasks; the result of `compute` (which the caller asked to hold) and in-memory
    /// inputs (which the caller owns) are not counted.
    pub fn memory_limit(mut self, limit: impl IntoMemorySize) -> Self {
        self.memory_limit = Some(limit.into_bytes());
        self
    }

    /// Record one [`super::TaskEvent`] per task in the run report (for timelines).
    pub fn record_events(mut self, on: bool) -> Self {
        self.record_events = on;
        self
    }

    /// Calls `f(finished, total)` after every task of every run (for progress bars). Keep it
    /// cheap: it runs on the workers.
    pub fn on_progress(mut self, f: impl Fn(usize, usize) + Send + Sync + 'static) -> Self {
        self.progress = Some(std::sync::Arc::new(f));
        self
    }

    /// The directory under which staged rechunks keep their intermediate arrays, and persisted
    /// arrays that do not fit in memory are spilled (default: the system temp directory,
    /// `std::env::temp_dir()`). Choose one with room for the largest array being rechunked or
    /// persisted (HPC nodes often have a small `/tmp`). It is created if missing; each run
    /// makes its own `chunkwise-rechunk-HOST-PID-N` directory in it exclusively and removes it
    /// on success, error and panic; each spilled persisted array its own
    /// `chunkwise-persist-HOST-PID-N`, removed when the array is dropped. Those of processes
    /// that were killed are removed by the next run that needs scratch space there.
    pub fn scratch_dir(mut self, dir: impl Into<std::path::PathBuf>) -> Self {
        self.scratch_dir = Some(dir.into());
        self
    }

    /// Serves a live dashboard of this runtime's runs at `addr` (`HOST:PORT`; a bare port
    /// listens on loopback, `127.0.0.1`; port 0 picks a free one, see
    /// [`Runtime::dashboard_url`]). Open it in a browser while computations run: the task
    /// stream per worker, progress per operation, tracked memory against the limit, read and
    /// write throughput, and the plan as a graph. It serves read-only data (GET of its own
    /// two paths) until the runtime is dropped. Bind it to loopback unless you mean to show
    /// it to the network. Needs the `dashboard` feature.
    ///
    /// ```
    /// use chunkwise::prelude::*;
    /// let rt = Runtime::builder().threads(2).dashboard("127.0.0.1:0").build()?;
    /// let s = ChunkedArray::<f64>::ones(&[100, 100], [10, 10])?.sum().compute(&rt)?;
    /// assert_eq!(s.sum(), 10_000.0);
    /// println!("dashboard at {}", rt.dashboard_url().unwrap());
    /// # Ok::<(), chunkwise::Error>(())
    /// ```
    #[cfg(feature = "dashboard")]
    #[cfg_attr(docsrs, doc(cfg(feature = "dashboard")))]
    pub fn dashboard(mut self, addr: impl Into<String>) -> Self {
        self.dashboard = Some(addr.into());
        self
    }

    /// Where computations run (default [`Engine::Local`], this process's thread pool). Any
    /// other engine needs a [`RuntimeBuilder::work_dir`]; see [`crate::engine`] for what a
    /// program must do to run on worker processes. Needs the `zarr` feature (intermediates are
    /// Zarr arrays).
    ///
    #[cfg_attr(feature = "zarr", doc = "```")]
    #[cfg_attr(not(feature = "zarr"), doc = "```ignore")]
    /// use chunkwise::{Runtime, engine::Engine};
    /// let dir = tempfile::tempdir().unwrap();
    /// let rt = Runtime::builder()
    ///     .engine(Engine::Processes { workers: 2 })
    ///     .work_dir(dir.path())
    ///     .build()?;
    /// assert_eq!(rt.engine().name(), "processes");
    /// // Without a work directory, the engine cannot run.
    /// assert!(Runtime::builder().engine(Engine::Processes { workers: 2 }).build().is_err());
    /// # Ok::<(), chunkwise::Error>(())
    /// ```
    pub fn engine(mut self, engine: Engine) -> Self {
        self.engine = engine;
        self
    }

    /// The work directory of an engine other than the local one: the plan, the intermediate
    /// and final arrays of each computation, the workers' logs and done-markers. It must be
    /// reachable by every worker (shared storage on a cluster). Running the same program
    /// again with the same work directory resumes it: batches already done are skipped.
    /// Remove it when the results are no longer needed.
    pub fn work_dir(mut self, dir: impl Into<std::path::PathBuf>) -> Self {
        self.work_dir = Some(dir.into());
        self
    }

    /// The local directory of the workers' logs and the launcher's files (job scripts) of an
    /// engine other than the local one: `DIR/compute-N/logs/sK-bJ.log`. The default is the
    /// work directory itself when it is a directory, and `$TMPDIR/chunkwise-logs/HASH` (`HASH`
    /// from the URL) when it is on an object store (`s3://bucket/prefix`, feature
    /// `object-store`). On a cluster of several nodes it must be on storage they share, as the
    /// workers' output is written there. A failed batch's error shows its log's last lines.
    pub fn log_dir(mut self, dir: impl Into<std::path::PathBuf>) -> Self {
        self.log_dir = Some(dir.into());
        self
    }

    /// How many times a batch is tried before the run fails (default [`DEFAULT_TRIES`]).
    pub fn tries(mut self, n: usize) -> Self {
        self.tries = Some(n);
        self
    }

    /// The work of one batch on an engine other than the local one, in bytes read and
    /// written (default [`DEFAULT_BATCH_BYTES`]): stages are split into batches of about this
    /// much (whole blocks, at least one).
    pub fn batch_bytes(mut self, bytes: impl IntoMemorySize) -> Self {
        self.batch_bytes = Some(bytes.into_bytes());
        self
    }

    /// Builds the runtime and its thread pool.
    ///
    /// # Errors
    /// [`Error::ParseMemory`] for an unparsable limit, [`Error::InvalidArgument`] for zero
    /// threads or more than [`MAX_THREADS`], or a zero limit, [`Error::ThreadPool`] if the pool cannot start,
    /// [`Error::Dashboard`] if the dashboard cannot listen at its address (a port in use),
    /// [`Error::Engine`] for an engine other than the local one without a work directory (or
    /// in a build without the `zarr` feature), [`Error::InvalidArgument`] for zero tries or a
    /// zero batch size.
    pub fn build(self) -> Result<Runtime> {
        let engine = self.engine_settings()?;
        let memory_limit = match self.memory_limit {
            None => DEFAULT_MEMORY_LIMIT,
            Some(Ok(b)) => b,
            Some(Err(s)) => return Err(Error::ParseMemory(s)),
        };
        if memory_limit == 0 {
            return Err(Error::InvalidArgument {
                op: "Runtime",
                detail: "memory limit must be > 0".into(),
            });
        }
        let threads = self.threads.unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get().min(MAX_THREADS))
                .unwrap_or(1)
        });
        if threads == 0 || threads > MAX_THREADS {
            return Err(Error::InvalidArgument {
                op: "Runtime",
                detail: format!("threads must be between 1 and {MAX_THREADS}, not {threads}"),
            });
        }
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("chunkwise-{i}"))
            .build()
            .map_err(|e| Error::ThreadPool(e.to_string()))?;
        #[cfg(feature = "dashboard")]
        let dashboard = match &self.dashboard {
            Some(addr) => Some(super::dashboard::Dashboard::start(addr)?),
            None => None,
        };
        Ok(Runtime {
            pool,
            threads,
            memory_limit,
            record_events: self.record_events,
            progress: self.progress,
            scratch_dir: self.scratch_dir,
            last: Mutex::new(None),
            engine,
            computes: std::sync::atomic::AtomicUsize::new(0),
            resident: Arc::new(AtomicUsize::new(0)),
            #[cfg(feature = "dashboard")]
            dashboard,
        })
    }
}

impl RuntimeBuilder {
    fn engine_settings(&self) -> Result<EngineSettings> {
        let batch_bytes = match &self.batch_bytes {
            None => DEFAULT_BATCH_BYTES,
            Some(Ok(b)) => *b,
            Some(Err(s)) => return Err(Error::ParseMemory(s.clone())),
        };
        let tries = self.tries.unwrap_or(DEFAULT_TRIES);
        if tries == 0 || batch_bytes == 0 {
            return Err(Error::InvalidArgument {
                op: "Runtime",
                detail: format!(
                    "tries and batch size must be > 0, not {tries} tries of {batch_bytes} bytes"
                ),
            });
        }
        if !self.engine.is_local() {
            if !cfg!(feature = "zarr") {
                return Err(Error::Engine {
                    engine: self.engine.name(),
                    detail: "needs the `zarr` feature (its intermediates are Zarr arrays)".into(),
                });
            }
            if self.work_dir.is_none() {
                return Err(Error::Engine {
                    engine: self.engine.name(),
                    detail: "needs a work directory that every worker can reach: set one with \
                             RuntimeBuilder::work_dir (the CLI's --work-dir DIR)"
                        .into(),
                });
            }
            if let Some(dir) = &self.work_dir {
                crate::engine::check_work_dir(dir)?;
            }
        }
        Ok(EngineSettings {
            engine: self.engine.clone(),
            work_dir: self.work_dir.clone(),
            log_dir: self.log_dir.clone(),
            tries,
            batch_bytes,
        })
    }
}

impl Runtime {
    /// A builder with defaults.
    pub fn builder() -> RuntimeBuilder {
        RuntimeBuilder::default()
    }

    /// A runtime with the default threads and memory limit.
    ///
    /// # Errors
    /// See [`RuntimeBuilder::build`].
    pub fn new() -> Result<Runtime> {
        Runtime::builder().build()
    }

    /// Worker threads.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// The memory limit in bytes.
    pub fn memory_limit(&self) -> usize {
        self.memory_limit
    }

    /// Bytes of persisted arrays (see [`ChunkedArray::persist`](crate::ChunkedArray::persist))
    /// that this runtime holds in memory now. They count against the memory limit: a run on
    /// this runtime plans and admits its tasks within [`Runtime::memory_limit`] minus these
    /// bytes. They are released when the last handle on a persisted array is dropped.
    ///
    /// ```
    /// use chunkwise::prelude::*;
    /// let rt = Runtime::builder().threads(1).memory_limit("16 MiB").build()?;
    /// let y = (ChunkedArray::<f64>::ones(&[100, 100], [50, 50])? * 2.0).persist(&rt)?;
    /// assert_eq!(rt.persisted_bytes(), 100 * 100 * 8);
    /// drop(y);
    /// assert_eq!(rt.persisted_bytes(), 0);
    /// # Ok::<(), chunkwise::Error>(())
    /// ```
    pub fn persisted_bytes(&self) -> usize {
        self.resident.load(Ordering::Acquire)
    }

    /// The memory a run may use now: the limit less the persisted bytes held in memory.
    pub(crate) fn available_memory(&self) -> usize {
        self.memory_limit.saturating_sub(self.persisted_bytes())
    }

    /// Counts `bytes` as held in memory until the returned guard is dropped.
    pub(crate) fn hold_resident(&self, bytes: usize) -> ResidentBytes {
        self.resident.fetch_add(bytes, Ordering::AcqRel);
        ResidentBytes {
            counter: self.resident.clone(),
            bytes,
        }
    }

    /// The scratch directory set with [`RuntimeBuilder::scratch_dir`], if any.
    pub fn scratch_dir(&self) -> Option<&std::path::Path> {
        self.scratch_dir.as_deref()
    }

    /// The address the dashboard listens at (see [`RuntimeBuilder::dashboard`]), `None`
    /// without one. Needs the `dashboard` feature.
    #[cfg(feature = "dashboard")]
    #[cfg_attr(docsrs, doc(cfg(feature = "dashboard")))]
    pub fn dashboard_addr(&self) -> Option<std::net::SocketAddr> {
        self.dashboard.as_ref().map(|d| d.addr())
    }

    /// The dashboard's link, `http://HOST:PORT/`, `None` without one. Needs the `dashboard`
    /// feature.
    #[cfg(feature = "dashboard")]
    #[cfg_attr(docsrs, doc(cfg(feature = "dashboard")))]
    pub fn dashboard_url(&self) -> Option<String> {
        self.dashboard_addr().map(|a| format!("http://{a}/"))
    }

    /// Where this runtime's computations run.
    pub fn engine(&self) -> &Engine {
        &self.engine.engine
    }

    /// The work directory set with [`RuntimeBuilder::work_dir`], if any.
    pub fn work_dir(&self) -> Option<&std::path::Path> {
        self.engine.work_dir.as_deref()
    }

    /// The report of the last run on this runtime (empty before the first).
    pub fn last_report(&self) -> RunReport {
        self.last
            .lock()
            .map(|g| g.clone().unwrap_or_default())
            .unwrap_or_default()
    }
}

/// Bytes counted in a runtime's persisted (resident) bytes while this guard lives.
pub(crate) struct ResidentBytes {
    counter: Arc<AtomicUsize>,
    bytes: usize,
}

impl ResidentBytes {
    /// The bytes held.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }
}

impl Drop for ResidentBytes {
    fn drop(&mut self) {
        self.counter.fetch_sub(self.bytes, Ordering::AcqRel);
    }
}

impl std::fmt::Debug for ResidentBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ResidentBytes({})", self.bytes)
    }
}

impl std::fmt::Debug for RuntimeBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuntimeBuilder")
            .field("threads", &self.threads)
            .field("memory_limit", &self.memory_limit)
            .field("record_events", &self.record_events)
            .field("progress", &self.progress.is_some())
            .field("scratch_dir", &self.scratch_dir)
            .field("dashboard", &self.dashboard)
            .field("engine", &self.engine)
            .field("work_dir", &self.work_dir)
            .field("log_dir", &self.log_dir)
            .field("tries", &self.tries)
            .field("batch_bytes", &self.batch_bytes)
            .finish()
    }
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("threads", &self.threads)
            .field("memory_limit", &self.memory_limit)
            .field("engine", &self.engine.engine)
            .finish()
    }
}
