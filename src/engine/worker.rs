//! A worker process's view of itself: the batch its environment names, and the test hook
//! that makes a batch fail.
//!
//! The driver starts each worker with `CHUNKWISE_WORKER=HASH:COMPUTE:STAGE:BATCH` and
//! `CHUNKWISE_WORK_DIR=DIR`. The program then runs as usual until its computation number
//! `COMPUTE`, where the runtime runs only that batch and exits the process.
//!
//! Fault injection (for tests of retries and resume, not an API): with
//! `CHUNKWISE_FAULT=STAGE:BATCH:once` the worker of that batch exits with status 3 the first
//! time it runs in a work directory (a marker file there remembers it), with
//! `STAGE:BATCH:always` every time; a fourth field `:COMPUTE` limits it to that computation
//! (default: every computation).

use crate::error::{Error, Result};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The variable naming a worker's batch.
pub(crate) const WORKER_VAR: &str = "CHUNKWISE_WORKER";
/// The variable naming a worker's work directory.
pub(crate) const WORK_DIR_VAR: &str = "CHUNKWISE_WORK_DIR";
/// The fault-injection hook.
pub(crate) const FAULT_VAR: &str = "CHUNKWISE_FAULT";

/// The exit status of a worker that failed on purpose (`CHUNKWISE_FAULT`).
pub(crate) const FAULT_EXIT: i32 = 3;

/// The batch a worker process runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct WorkerTask {
    pub hash: String,
    pub compute: usize,
    pub stage: usize,
    pub batch: usize,
    pub work_dir: PathBuf,
}

impl WorkerTask {
    /// The value of [`WORKER_VAR`] for this task.
    pub(crate) fn env_value(&self) -> String {
        format!(
            "{}:{}:{}:{}",
            self.hash, self.compute, self.stage, self.batch
        )
    }
}

/// The task this process runs as a worker, `None` in a driver (or any program not started by
/// one).
///
/// # Errors
/// [`Error::Engine`] when the variables are set but malformed.
pub(crate) fn current() -> Result<Option<WorkerTask>> {
    let Some(v) = std::env::var_os(WORKER_VAR) else {
        return Ok(None);
    };
    let bad = |why: &str| Error::Engine {
        engine: "worker",
        detail: format!(
            "{WORKER_VAR}={} is not HASH:COMPUTE:STAGE:BATCH ({why})",
            v.to_string_lossy()
        ),
    };
    let s = v.to_str().ok_or_else(|| bad("not UTF-8"))?;
    let parts: Vec<&str> = s.split(':').collect();
    let [hash, compute, stage, batch] = parts[..] else {
        return Err(bad("not four fields"));
    };
    let num = |f: &str| f.parse::<usize>().map_err(|_| bad("not a number"));
    let work_dir = std::env::var_os(WORK_DIR_VAR)
        .map(PathBuf::from)
        .ok_or_else(|| bad(&format!("{WORK_DIR_VAR} is not set")))?;
    Ok(Some(WorkerTask {
        hash: hash.to_string(),
        compute: num(compute)?,
        stage: num(stage)?,
        batch: num(batch)?,
        work_dir,
    }))
}

/// In a worker, a fresh directory of the work directory where an output the program creates
/// goes instead of the user's path; `None` outside workers.
///
/// # Errors
/// As [`current`].
pub(crate) fn redirected_output() -> Result<Option<PathBuf>> {
    static N: AtomicUsize = AtomicUsize::new(0);
    Ok(current()?.map(|w| {
        // On an object store, the discarded outputs stay on this machine.
        let base = if crate::io::store_url::path_url(&w.work_dir).is_some() {
            std::env::temp_dir().join("chunkwise-discard")
        } else {
            w.work_dir.join("discard")
        };
        base.join(format!(
            "{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ))
    }))
}

/// What `CHUNKWISE_FAULT` asks of batch `batch` of stage `stage` of computation `compute`:
/// `Some(true)` fail only the first time, `Some(false)` fail every time, `None` run normally.
pub(crate) fn fault_for(compute: usize, stage: usize, batch: usize) -> Option<bool> {
    let v = std::env::var(FAULT_VAR).ok()?;
    let parts: Vec<&str> = v.split(':').collect();
    let (s, b, mode, c) = match parts[..] {
        [s, b, mode] => (s, b, mode, None),
        [s, b, mode, c] => (s, b, mode, Some(c.parse::<usize>().ok()?)),
        _ => return None,
    };
    if s.parse::<usize>().ok()? != stage
        || b.parse::<usize>().ok()? != batch
        || c.is_some_and(|c| c != compute)
    {
        return None;
    }
    match mode {
        "once" => Some(true),
        "always" => Some(false),
        _ => None,
    }
}
