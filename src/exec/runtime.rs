use super::memsize::parse_memory_size;
use super::report::RunReport;
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

    /// Builds the runtime and its thread pool.
    ///
    /// # Errors
    /// [`Error::ParseMemory`] for an unparsable limit, [`Error::InvalidArgument`] for zero
    /// threads or more than [`MAX_THREADS`], or a zero limit, [`Error::ThreadPool`] if the pool cannot start,
    /// [`Error::Dashboard`] if the dashboard cannot listen at its address (a port in use).
    pub fn build(self) -> Result<Runtime> {
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
            resident: Arc::new(AtomicUsize::new(0)),
            #[cfg(feature = "dashboard")]
            dashboard,
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
            .finish()
    }
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("threads", &self.threads)
            .field("memory_limit", &self.memory_limit)
            .finish()
    }
}
