//! The `slurm` engine: each stage is one `sbatch --array` (several when it has more batches
//! than the cluster's `MaxArraySize`), whose element `i` runs the stage's batch `i` through a
//! generated job script. Stages are chained with `--dependency=afterok:` on every array of the
//! stage before, and `--kill-on-invalid-dep=yes` cancels them when a batch fails. The launcher
//! submits everything at once, polls `squeue -h -j JOBS` until nothing is listed, then reads
//! each element's `JobState` and `ExitCode` from `scontrol -o show job JOB` (Slurm keeps
//! finished jobs for `MinJobAge`, 300 s by default; there is no `sacct` without slurmdbd).

mod script;
mod state;

use crate::engine::launch::{BatchOutcome, Launcher, StageOutcome, StageSubmission};
use crate::engine::tool::{ToolFailure, command_line, run_tool, run_tool_within, tool_path};
use crate::error::{Error, Result};
use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Slurm's default `MaxArraySize`, used when `scontrol show config` cannot say.
pub const DEFAULT_MAX_ARRAY_SIZE: usize = 1001;

/// How long the launcher waits for `scontrol show config`, its first question to Slurm, before
/// it says that Slurm does not answer.
pub const PROBE_DEADLINE: Duration = Duration::from_secs(5);

/// How the `slurm` engine submits: the options of `sbatch` beyond those it derives from each
/// stage (`--array`, `--mem`, `--cpus-per-task`, `--dependency`).
#[derive(Clone, Debug)]
pub struct SlurmOptions {
    /// `--partition`; `None` leaves the cluster's default.
    pub partition: Option<String>,
    /// More `sbatch` arguments, passed as they are (e.g. `--account=x`, `--time=01:00:00`).
    pub extra_sbatch_args: Vec<String>,
    /// How long to wait between two `squeue` polls.
    pub poll_interval: Duration,
    /// The most elements in one array; `None` reads `MaxArraySize` from
    /// `scontrol show config` (and falls back to [`DEFAULT_MAX_ARRAY_SIZE`]).
    pub max_array_size: Option<usize>,
    /// The directory holding `sbatch`, `squeue`, `scontrol` and `scancel`; `None` finds them
    /// on `PATH`.
    pub commands_dir: Option<PathBuf>,
}

impl Default for SlurmOptions {
    fn default() -> Self {
        SlurmOptions {
            partition: None,
            extra_sbatch_args: Vec::new(),
            poll_interval: Duration::from_millis(200),
            max_array_size: None,
            commands_dir: None,
        }
    }
}

/// Runs stages as Slurm job arrays (see the [module docs](self)).
///
/// # Example
/// ```no_run
/// use chunkwise::engine::slurm::{SlurmLauncher, SlurmOptions};
/// use chunkwise::engine::Launcher;
///
/// let launcher = SlurmLauncher::new(SlurmOptions {
///     partition: Some("debug".into()),
///     ..SlurmOptions::default()
/// });
/// assert_eq!(launcher.name(), "slurm");
/// // launcher.run_stages(&stages)? submits one array per stage and waits for them.
/// ```
#[derive(Clone, Debug)]
pub struct SlurmLauncher {
    options: SlurmOptions,
}

/// One submitted array: its job id and, for each of its array indices, the batch it runs.
struct SubmittedArray {
    job: String,
    batches: BTreeMap<usize, usize>,
}

impl SlurmLauncher {
    /// A launcher that submits with `options`.
    pub fn new(options: SlurmOptions) -> Self {
        SlurmLauncher { options }
    }

    /// The options it submits with.
    pub fn options(&self) -> &SlurmOptions {
        &self.options
    }

    fn tool(&self, name: &str) -> PathBuf {
        tool_path(self.options.commands_dir.as_deref(), name)
    }

    /// The cap on elements per array: the option, else the cluster's `MaxArraySize`. This is
    /// also the probe of whether Slurm answers at all: a controller that does not answer
    /// within [`PROBE_DEADLINE`] is an error at once (Slurm's commands would each retry it for
    /// about 30 s).
    fn max_array_size(&self) -> Result<usize> {
        if let Some(cap) = self.options.max_array_size {
            return Ok(cap.max(1));
        }
        let args: Vec<OsString> = vec!["show".into(), "config".into()];
        match run_tool_within("slurm", &self.tool("scontrol"), &args, Some(PROBE_DEADLINE)) {
            Ok(out) => Ok(state::parse_max_array_size(&out.stdout)
                .filter(|&cap| cap > 0)
                .unwrap_or(DEFAULT_MAX_ARRAY_SIZE)),
            Err(ToolFailure::TimedOut(error)) => Err(*error),
            // No scontrol, or one that refuses: sbatch will say what is wrong.
            Err(_) => Ok(DEFAULT_MAX_ARRAY_SIZE),
        }
    }

    /// Submits one stage's arrays, each after `after` (the job ids of the stage before).
    fn submit_stage(
        &self,
        stage: &StageSubmission,
        cap: usize,
        after: &[String],
    ) -> Result<Vec<SubmittedArray>> {
        let mut seen = BTreeSet::new();
        for batch in &stage.batches {
            if !seen.insert(batch.batch) {
                return Err(Error::InvalidArgument {
                    op: "slurm launcher",
                    detail: format!("stage {} lists batch {} twice", stage.stage, batch.batch),
                });
            }
            if let Some(dir) = batch.log.parent() {
                create_dir(dir)?;
            }
        }
        create_dir(&stage.scratch)?;
        // Batch b is element b % cap of the stage's array b / cap: element = batch for all
        // stages that fit one array, so squeue and the logs agree with the driver's numbers.
        let mut groups: BTreeMap<usize, Vec<(usize, &_)>> = BTreeMap::new();
        for batch in &stage.batches {
            groups
                .entry(batch.batch / cap)
                .or_default()
                .push((batch.batch % cap, batch));
        }
        let mut arrays = Vec::new();
        for (group, elements) in groups {
            let title = format!("stage {} ({}), array {group}", stage.stage, stage.name);
            let script = script::job_script(&title, &elements)?;
            let path = stage
                .scratch
                .join(format!("slurm-stage{}-array{group}.sh", stage.stage));
            std::fs::write(&path, script).map_err(|source| Error::Io {
                op: "writing a Slurm job script",
                path: path.clone(),
                source,
            })?;
            let list: Vec<String> = elements.iter().map(|(i, _)| i.to_string()).collect();
            let args = self.sbatch_args(stage, &list.join(","), after, &path);
            let sbatch = self.tool("sbatch");
            let out = run_tool("slurm", &sbatch, &args).map_err(ToolFailure::into_error)?;
            let job = state::parse_job_id(&command_line(&sbatch, &args), &out.stdout)?;
            let batches = elements.iter().map(|&(i, b)| (i, b.batch)).collect();
            arrays.push(SubmittedArray { job, batches });
        }
        Ok(arrays)
    }

    fn sbatch_args(
        &self,
        stage: &StageSubmission,
        list: &str,
        after: &[String],
        script: &Path,
    ) -> Vec<OsString> {
        let mut args: Vec<OsString> = vec![
            "--parsable".into(),
            format!("--array={list}").into(),
            format!("--job-name=chunkwise-stage{}", stage.stage).into(),
            format!("--cpus-per-task={}", stage.threads.max(1)).into(),
            // The worker is the driver's program again: it needs the driver's environment
            // (whatever SBATCH_EXPORT says) and working directory (relative paths).
            "--export=ALL".into(),
        ];
        if let Ok(cwd) = std::env::current_dir() {
            let mut chdir = OsString::from("--chdir=");
            chdir.push(cwd);
            args.push(chdir);
        }
        if stage.mem_bytes > 0 {
            args.push(format!("--mem={}M", stage.mem_bytes.div_ceil(1 << 20)).into());
        }
        let mut output = stage.scratch.clone().into_os_string();
        output.push("/slurm-%A_%a.out");
        args.push("--output".into());
        args.push(output);
        if !after.is_empty() {
            args.push(format!("--dependency=afterok:{}", after.join(":")).into());
            args.push("--kill-on-invalid-dep=yes".into());
        }
        if let Some(partition) = &self.options.partition {
            args.push(format!("--partition={partition}").into());
        }
        args.extend(self.options.extra_sbatch_args.iter().map(OsString::from));
        args.push(script.as_os_str().to_owned());
        args
    }

    /// Waits until `squeue` lists none of `jobs`.
    fn wait(&self, jobs: &[String]) -> Result<()> {
        let squeue = self.tool("squeue");
        let args: Vec<OsString> = vec![
            "-h".into(),
            "-o".into(),
            "%i".into(),
            "-j".into(),
            jobs.join(",").into(),
        ];
        let mut failures = 0;
        loop {
            match run_tool("slurm", &squeue, &args) {
                Ok(out) if out.stdout.trim().is_empty() => return Ok(()),
                Ok(_) => failures = 0,
                // Jobs finished longer ago than MinJobAge are unknown: nothing left to wait on.
                Err(ToolFailure::Refused { printed, .. }) if printed.contains("Invalid job id") => {
                    return Ok(());
                }
                Err(ToolFailure::NotStarted(e)) => return Err(*e),
                // slurmctld may be briefly busy; give up only when it stays so.
                Err(failure) => {
                    failures += 1;
                    if failures >= 25 {
                        return Err(failure.into_error());
                    }
                }
            }
            std::thread::sleep(self.options.poll_interval);
        }
    }

    /// Each element's outcome, by batch, from `scontrol -o show job`.
    fn read_outcomes(&self, array: &SubmittedArray) -> Result<BTreeMap<usize, BatchOutcome>> {
        let scontrol = self.tool("scontrol");
        let args: Vec<OsString> = vec![
            "-o".into(),
            "show".into(),
            "job".into(),
            (&array.job).into(),
        ];
        let records = match run_tool("slurm", &scontrol, &args) {
            Ok(out) => state::parse_job_records(&command_line(&scontrol, &args), &out.stdout)?,
            Err(ToolFailure::Refused { printed, .. }) if printed.contains("Invalid job id") => {
                Vec::new()
            }
            Err(failure) => return Err(failure.into_error()),
        };
        let mut outcomes = BTreeMap::new();
        for record in &records {
            let outcome = state::outcome_of(record);
            for index in &record.indices {
                if let Some(&batch) = array.batches.get(index) {
                    outcomes.insert(batch, outcome.clone());
                }
            }
        }
        for (index, batch) in &array.batches {
            outcomes.entry(*batch).or_insert_with(|| BatchOutcome::Failed {
                code: None,
                reason: format!(
                    "Slurm has no record of job {}_{index} (finished jobs are forgotten after MinJobAge)",
                    array.job
                ),
            });
        }
        Ok(outcomes)
    }

    /// Cancels `jobs` after a later submission failed, so nothing runs half a plan.
    fn cancel(&self, jobs: &[String]) {
        if !jobs.is_empty() {
            let args: Vec<OsString> = jobs.iter().map(OsString::from).collect();
            let _ = run_tool("slurm", &self.tool("scancel"), &args);
        }
    }
}

fn create_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|source| Error::Io {
        op: "creating a directory for the slurm engine",
        path: dir.to_path_buf(),
        source,
    })
}

impl Launcher for SlurmLauncher {
    fn name(&self) -> &'static str {
        "slurm"
    }

    fn run_stages(&self, stages: &[StageSubmission]) -> Result<Vec<StageOutcome>> {
        if stages.iter().all(|s| s.batches.is_empty()) {
            return Ok(stages
                .iter()
                .map(|s| StageOutcome {
                    stage: s.stage,
                    batches: Vec::new(),
                })
                .collect());
        }
        let cap = self.max_array_size()?;
        let mut submitted: Vec<Vec<SubmittedArray>> = Vec::new();
        let mut after: Vec<String> = Vec::new();
        for stage in stages {
            match self.submit_stage(stage, cap, &after) {
                Ok(arrays) => {
                    if !arrays.is_empty() {
                        after = arrays.iter().map(|a| a.job.clone()).collect();
                    }
                    submitted.push(arrays);
                }
                Err(e) => {
                    let jobs: Vec<String> =
                        submitted.iter().flatten().map(|a| a.job.clone()).collect();
                    self.cancel(&jobs);
                    return Err(e);
                }
            }
        }
        let jobs: Vec<String> = submitted.iter().flatten().map(|a| a.job.clone()).collect();
        self.wait(&jobs)?;
        let mut outcomes = Vec::with_capacity(stages.len());
        for (stage, arrays) in stages.iter().zip(&submitted) {
            let mut by_batch = BTreeMap::new();
            for array in arrays {
                by_batch.extend(self.read_outcomes(array)?);
            }
            let batches = stage
                .batches
                .iter()
                .map(|b| {
                    (
                        b.batch,
                        by_batch.remove(&b.batch).unwrap_or(BatchOutcome::NotRun),
                    )
                })
                .collect();
            outcomes.push(StageOutcome {
                stage: stage.stage,
                batches,
            });
        }
        Ok(outcomes)
    }
}
