//! How a stage's batches reach an engine: the one interface between the driver (which cuts
//! plans into stages and batches, keeps the work directory, retries and resumes) and the
//! engines that start worker processes (`processes`, `slurm`, `hyperqueue`).
//!
//! A launcher knows nothing of plans: it is handed, for each stage in order, the command lines
//! of its batches, and runs them, stage after stage (a stage starts only when every batch of
//! the stage before it succeeded). It reports what each batch did. The driver never trusts an
//! outcome alone: a batch counts as done only when its done-marker exists in the work
//! directory, so an engine that loses track of a batch costs a retry, never a wrong result.

use crate::error::Result;
use std::ffi::OsString;
use std::path::PathBuf;

/// One batch's worker process: the program, its arguments and the environment it needs on top
/// of the one it inherits (this names the plan hash, stage and batch). Its standard output and
/// error both go to `log`, a file that the launcher creates (or appends to, on a retry).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchCommand {
    /// The batch's index within its stage.
    pub batch: usize,
    /// The executable (the driver's own, `std::env::current_exe()`).
    pub program: PathBuf,
    /// The arguments (the driver's own, `std::env::args_os().skip(1)`).
    pub args: Vec<OsString>,
    /// Variables set for the worker, on top of the inherited environment.
    pub env: Vec<(String, String)>,
    /// Where the worker's stdout and stderr go.
    pub log: PathBuf,
}

/// A stage: batches that depend only on earlier stages and may run in any order, at once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StageSubmission {
    /// The stage's index in the plan (for names and messages: `stage 2`).
    pub stage: usize,
    /// A short name, e.g. `"rechunk pass 1"` or `"final write"`.
    pub name: String,
    /// The batches to run: the stage's pending ones (a resumed run leaves out those done).
    pub batches: Vec<BatchCommand>,
    /// The memory one worker may use, in bytes (the runtime's limit plus the process's own
    /// overhead): Slurm's `--mem`, HyperQueue's memory resource.
    pub mem_bytes: usize,
    /// The threads one worker runs (Slurm's `--cpus-per-task`).
    pub threads: usize,
    /// A directory the launcher may use for its own files (job scripts, engine logs).
    pub scratch: PathBuf,
}

/// What a launcher saw of one batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BatchOutcome {
    /// The worker exited with status 0.
    Succeeded,
    /// The worker failed: its exit code when known, and why in the engine's words (e.g.
    /// `"exit code 3"`, `"killed by signal 9"`, Slurm's `State=FAILED Reason=...`).
    Failed {
        /// The exit code, when the engine reports one.
        code: Option<i32>,
        /// The engine's description of the failure.
        reason: String,
    },
    /// Never started, because an earlier stage failed (Slurm: cancelled by an `afterok`
    /// dependency that can no longer be met).
    NotRun,
}

/// What the launcher saw of one stage: one outcome per submitted batch, in submission order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StageOutcome {
    /// The stage's index (as submitted).
    pub stage: usize,
    /// `(batch, outcome)` for every submitted batch.
    pub batches: Vec<(usize, BatchOutcome)>,
}

/// Starts workers on an engine.
pub trait Launcher: Send + Sync {
    /// The engine's name, as the CLI spells it (`"processes"`, `"slurm"`, `"hyperqueue"`).
    fn name(&self) -> &'static str;

    /// Runs `stages` in order (each only after every batch of the one before succeeded) and
    /// returns once nothing more will run: every batch succeeded, or one failed and the stages
    /// after it were not run. An engine may submit everything at once with dependencies
    /// (Slurm `--dependency=afterok`, HyperQueue task deps) or stage by stage.
    ///
    /// # Errors
    /// Only when the engine itself cannot be used (its command is missing, a submission is
    /// refused): a failing batch is an outcome, not an error.
    fn run_stages(&self, stages: &[StageSubmission]) -> Result<Vec<StageOutcome>>;
}
