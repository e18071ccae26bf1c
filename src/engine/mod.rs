//! Running a plan beyond the local thread pool: on worker processes started by an engine
//! (issue 11). The driver cuts the optimized plan into stages of independent batches that read
//! and write Zarr in a work directory; each batch runs in a worker, which is the same program
//! re-executed with the batch named in its environment.
//!
//! Choose an engine with [`RuntimeBuilder::engine`](crate::RuntimeBuilder::engine) and a work
//! directory with [`RuntimeBuilder::work_dir`](crate::RuntimeBuilder::work_dir). The program
//! must build the same computations in the same order every time it runs (it is run again in
//! every worker, with the same arguments): each worker runs the user's `main` up to the
//! computation it belongs to, runs its batch there and exits. Earlier computations are not run
//! again in a worker: their results are read from the work directory.
//!
//! The work directory may be on an object store (`s3://bucket/prefix`, `gs://...`, feature
//! `object-store`): the plans, the stages' arrays and the done-markers are then objects, and
//! the workers' logs go to a local directory
//! ([`RuntimeBuilder::log_dir`](crate::RuntimeBuilder::log_dir), by default
//! `$TMPDIR/chunkwise-logs/HASH`).
//!
//! ```no_run
//! use chunkwise::prelude::*;
//! use chunkwise::engine::Engine;
//! let rt = Runtime::builder()
//!     .memory_limit("1 GiB")
//!     .engine(Engine::Processes { workers: 4 })
//!     .work_dir("/scratch/me/run1")
//!     .build()?;
//! let x = ChunkedArray::<f64>::ones(&[1000, 1000], [100, 100])?;
//! let s = (&x - &x.mean_axis(0)?)?.std_axis(0)?.compute(&rt)?; // runs on 4 processes
//! # let _ = s;
//! # Ok::<(), chunkwise::Error>(())
//! ```

pub mod hyperqueue;
pub mod launch;
pub mod processes;

#[cfg(feature = "zarr")]
pub(crate) mod driver;
#[cfg(feature = "zarr")]
pub mod dry_run;
#[cfg(feature = "zarr")]
mod hash;
pub mod select;
pub mod slurm;
#[cfg(feature = "zarr")]
mod stage_source;
#[cfg(feature = "zarr")]
mod stages;
mod tool;
#[cfg(feature = "zarr")]
pub(crate) mod workdir;
#[cfg_attr(not(feature = "zarr"), allow(dead_code))]
pub(crate) mod worker;

#[cfg(feature = "zarr")]
pub use dry_run::{DryRun, DryRunStage, dry_run};
pub use hyperqueue::{HyperQueueLauncher, HyperQueueOptions};
pub use launch::{BatchCommand, BatchOutcome, Launcher, StageOutcome, StageSubmission};
pub use processes::ProcessesLauncher;

use crate::error::{Error, Result};
use std::sync::Arc;

/// Where a runtime's computations run.
///
/// # Example
/// ```
/// use chunkwise::engine::Engine;
/// assert!(matches!(Engine::from_name("processes", 2), Ok(Engine::Processes { workers: 2 })));
/// assert!(Engine::from_name("mainframe", 2).is_err());
/// ```
#[derive(Clone, Default)]
pub enum Engine {
    /// The runtime's own thread pool, in this process (the default).
    #[default]
    Local,
    /// Worker subprocesses on this machine, at most `workers` at a time.
    Processes {
        /// How many worker processes run at once.
        workers: usize,
    },
    /// Workers started by a launcher of your own (a cluster's scheduler, or a test's).
    Custom(Arc<dyn Launcher>),
}

impl Engine {
    /// The engine named as the CLI spells it: `local`, `processes` (with `workers` worker
    /// processes), `slurm` or `hyperqueue`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for an unknown name or for zero workers. `slurm` and
    /// `hyperqueue` get their launchers with default options ([`LauncherOptions`]).
    pub fn from_name(name: &str, workers: usize) -> Result<Engine> {
        match name {
            "local" => Ok(Engine::Local),
            "processes" if workers == 0 => Err(Error::InvalidArgument {
                op: "engine",
                detail: "the processes engine needs at least one worker".into(),
            }),
            "processes" => Ok(Engine::Processes { workers }),
            "slurm" | "hyperqueue" => Ok(Engine::Custom(
                select::launcher_by_name(name, &select::LauncherOptions::default())?
                    .expect("slurm and hyperqueue have launchers"),
            )),
            other => Err(Error::InvalidArgument {
                op: "engine",
                detail: format!(
                    "unknown engine {other:?}; expected local, processes, slurm or hyperqueue"
                ),
            }),
        }
    }

    /// The engine's name, as the CLI spells it.
    pub fn name(&self) -> &'static str {
        match self {
            Engine::Local => "local",
            Engine::Processes { .. } => "processes",
            Engine::Custom(l) => l.name(),
        }
    }

    /// Whether computations run in this process's thread pool.
    pub fn is_local(&self) -> bool {
        matches!(self, Engine::Local)
    }

    /// The launcher that starts this engine's workers (`None` for [`Engine::Local`]).
    #[cfg_attr(not(feature = "zarr"), allow(dead_code))]
    pub(crate) fn launcher(&self) -> Option<Arc<dyn Launcher>> {
        match self {
            Engine::Local => None,
            Engine::Processes { workers } => Some(Arc::new(ProcessesLauncher::new(*workers))),
            Engine::Custom(l) => Some(l.clone()),
        }
    }
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Engine::Local => f.write_str("Local"),
            Engine::Processes { workers } => f
                .debug_struct("Processes")
                .field("workers", workers)
                .finish(),
            Engine::Custom(l) => write!(f, "Custom({})", l.name()),
        }
    }
}

/// Checks that this build can use the work directory `dir`: a URL needs the feature
/// `object-store`.
///
/// # Errors
/// For a URL without the feature, the store error naming it.
pub(crate) fn check_work_dir(dir: &std::path::Path) -> Result<()> {
    match crate::io::store_url::path_url(dir) {
        Some(url) if !cfg!(feature = "object-store") => {
            Err(crate::io::store_url::unsupported("work directory", url))
        }
        _ => Ok(()),
    }
}

/// What a run on worker processes did, in [`RunReport::engine`](crate::RunReport::engine).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EngineReport {
    /// The engine's name (`"processes"`).
    pub engine: String,
    /// The plan's hash (as recorded in the work directory's `plan.json`).
    pub plan_hash: String,
    /// Stages of the plan.
    pub stages: usize,
    /// Batches of all stages.
    pub batches: usize,
    /// Batches that ran in this run (retries included once each).
    pub batches_run: usize,
    /// Batches skipped because the work directory already held their done-marker (a resumed
    /// run).
    pub batches_skipped: usize,
    /// Runs of batches that had failed before in this run.
    pub batches_retried: usize,
}

impl std::fmt::Display for EngineReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "engine {}: plan {}, {} stages, {} batches: {} run, {} skipped (done before), {} retried",
            self.engine,
            self.plan_hash,
            self.stages,
            self.batches,
            self.batches_run,
            self.batches_skipped,
            self.batches_retried
        )
    }
}
pub use select::{LauncherOptions, launcher_by_name};
pub use slurm::{SlurmLauncher, SlurmOptions};
