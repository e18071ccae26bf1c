//! The `processes` engine: worker subprocesses on this machine, at most `workers` at a time.
//! It takes the same path as a cluster engine (workers that re-execute the program and meet
//! through the work directory), so it tests that path anywhere.

use super::launch::{BatchCommand, BatchOutcome, Launcher, StageOutcome, StageSubmission};
use crate::error::Result;
use std::collections::VecDeque;
use std::sync::Mutex;

/// Runs batches as subprocesses of this process, `workers` at a time, stage after stage.
///
/// # Example
/// ```
/// use chunkwise::engine::{Launcher, ProcessesLauncher};
/// assert_eq!(ProcessesLauncher::new(4).name(), "processes");
/// ```
#[derive(Clone, Debug)]
pub struct ProcessesLauncher {
    workers: usize,
}

impl ProcessesLauncher {
    /// A launcher running at most `workers` subprocesses at once (at least one).
    pub fn new(workers: usize) -> ProcessesLauncher {
        ProcessesLauncher {
            workers: workers.max(1),
        }
    }
}

/// Runs one batch's worker to its end, its output appended to its log.
fn run_batch(cmd: &BatchCommand) -> BatchOutcome {
    let failed = |reason: String| BatchOutcome::Failed { code: None, reason };
    let log = match std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&cmd.log)
    {
        Ok(f) => f,
        Err(e) => return failed(format!("cannot open the log {}: {e}", cmd.log.display())),
    };
    let err = match log.try_clone() {
        Ok(f) => f,
        Err(e) => return failed(format!("cannot open the log {}: {e}", cmd.log.display())),
    };
    let status = std::process::Command::new(&cmd.program)
        .args(&cmd.args)
        .envs(cmd.env.iter().map(|(k, v)| (k, v)))
        .stdin(std::process::Stdio::null())
        .stdout(log)
        .stderr(err)
        .status();
    match status {
        Ok(s) if s.success() => BatchOutcome::Succeeded,
        Ok(s) => {
            #[cfg(unix)]
            if let Some(sig) = std::os::unix::process::ExitStatusExt::signal(&s) {
                return failed(format!("killed by signal {sig}"));
            }
            BatchOutcome::Failed {
                code: s.code(),
                reason: format!("exit code {}", s.code().unwrap_or(-1)),
            }
        }
        Err(e) => failed(format!("cannot start {}: {e}", cmd.program.display())),
    }
}

impl ProcessesLauncher {
    fn run_stage(&self, stage: &StageSubmission) -> StageOutcome {
        let queue: Mutex<VecDeque<usize>> = Mutex::new((0..stage.batches.len()).collect());
        let results: Mutex<Vec<Option<BatchOutcome>>> = Mutex::new(vec![None; stage.batches.len()]);
        std::thread::scope(|s| {
            for _ in 0..self.workers.min(stage.batches.len()) {
                s.spawn(|| {
                    loop {
                        let next = queue.lock().unwrap_or_else(|p| p.into_inner()).pop_front();
                        let Some(i) = next else { break };
                        let outcome = run_batch(&stage.batches[i]);
                        results.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(outcome);
                    }
                });
            }
        });
        let results = results.into_inner().unwrap_or_else(|p| p.into_inner());
        StageOutcome {
            stage: stage.stage,
            batches: stage
                .batches
                .iter()
                .zip(results)
                .map(|(b, o)| (b.batch, o.unwrap_or(BatchOutcome::NotRun)))
                .collect(),
        }
    }
}

impl Launcher for ProcessesLauncher {
    fn name(&self) -> &'static str {
        "processes"
    }

    fn run_stages(&self, stages: &[StageSubmission]) -> Result<Vec<StageOutcome>> {
        let mut out = Vec::with_capacity(stages.len());
        let mut failed = false;
        for stage in stages {
            if failed {
                out.push(StageOutcome {
                    stage: stage.stage,
                    batches: stage
                        .batches
                        .iter()
                        .map(|b| (b.batch, BatchOutcome::NotRun))
                        .collect(),
                });
                continue;
            }
            let o = self.run_stage(stage);
            failed = o
                .batches
                .iter()
                .any(|(_, b)| !matches!(b, BatchOutcome::Succeeded));
            out.push(o);
        }
        Ok(out)
    }
}
