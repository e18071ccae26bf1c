//! Running a plan beyond the local thread pool: on worker processes started by an engine
//! (issue 11). The driver cuts the optimized plan into stages of independent batches that read
//! and write Zarr in a work directory; each batch runs in a worker, which is the same program
//! re-executed with the batch named in its environment.

pub mod hyperqueue;
pub mod launch;
pub mod select;
pub mod slurm;
mod tool;

pub use hyperqueue::{HyperQueueLauncher, HyperQueueOptions};
pub use launch::{BatchCommand, BatchOutcome, Launcher, StageOutcome, StageSubmission};
pub use select::{LauncherOptions, launcher_by_name};
pub use slurm::{SlurmLauncher, SlurmOptions};
