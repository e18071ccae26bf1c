//! The `hyperqueue` engine: the whole list of stages as ONE HyperQueue job, every task of
//! stage `k + 1` depending on every task of stage `k` (HyperQueue cancels the dependants of a
//! failed task). It goes through HyperQueue's Python client, the PyPI wheel `hyperqueue`
//! (0.27), which embeds the server and worker: a small driver script, written to the first
//! stage's scratch directory, either starts a `LocalCluster` there (one worker with this
//! machine's cores: a self-contained run) or connects to a running server's directory (inside
//! a Slurm/PBS allocation with workers started by `hq worker start` or autoalloc). The `hq`
//! command-line tool is not used: it is not on PyPI, so it could not be tested here.
//!
//! Each task runs its batch through `/bin/sh`, which appends the worker's output to the batch's
//! log and records its exit status in the stage's scratch directory; the outcomes come from
//! those statuses and the errors HyperQueue reports for the job's failed tasks.

use crate::engine::launch::{BatchOutcome, Launcher, StageOutcome, StageSubmission};
use crate::error::{Error, Result};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The environment variable naming the python that has the `hyperqueue` wheel.
pub const HQ_PYTHON_ENV: &str = "CHUNKWISE_HQ_PYTHON";

const DRIVER: &str = include_str!("hyperqueue/driver.py");

/// Runs the task, appends its output to the log `$1`, writes its exit status to `$2`.
const WRAPPER: &str = "log=$1; status=$2; shift 2; \"$@\" >>\"$log\" 2>&1; rc=$?; \
                       echo \"$rc\" >\"$status.tmp\" && mv \"$status.tmp\" \"$status\"; exit \"$rc\"";

/// Where the `hyperqueue` engine finds HyperQueue.
#[derive(Clone, Debug)]
pub struct HyperQueueOptions {
    /// The python with the `hyperqueue` wheel installed. The default is
    /// `$CHUNKWISE_HQ_PYTHON`, else `python3`.
    pub python: PathBuf,
    /// A running server's directory (`hq server start --server-dir DIR`); `None` starts a
    /// `LocalCluster` for the run, in the scratch directory, and stops it afterwards.
    pub server_dir: Option<PathBuf>,
    /// The cores of the `LocalCluster`'s one worker; `None`: all of this machine's. Tasks ask
    /// for at most this many.
    pub local_cores: Option<usize>,
}

impl Default for HyperQueueOptions {
    fn default() -> Self {
        HyperQueueOptions {
            python: std::env::var_os(HQ_PYTHON_ENV)
                .filter(|p| !p.is_empty())
                .map_or_else(|| PathBuf::from("python3"), PathBuf::from),
            server_dir: None,
            local_cores: None,
        }
    }
}

/// Runs stages as one HyperQueue job with task dependencies (see the [module docs](self)).
///
/// # Example
/// ```no_run
/// use chunkwise::engine::hyperqueue::{HyperQueueLauncher, HyperQueueOptions};
/// use chunkwise::engine::Launcher;
///
/// let launcher = HyperQueueLauncher::new(HyperQueueOptions {
///     python: "/opt/hq-venv/bin/python".into(),
///     ..HyperQueueOptions::default()
/// });
/// assert_eq!(launcher.name(), "hyperqueue");
/// ```
#[derive(Clone, Debug)]
pub struct HyperQueueLauncher {
    options: HyperQueueOptions,
}

fn engine_error(detail: String) -> Error {
    Error::Engine {
        engine: "hyperqueue",
        detail,
    }
}

fn io_error(op: &'static str, path: &Path, source: std::io::Error) -> Error {
    Error::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

fn utf8<'a>(what: &str, stage: usize, batch: usize, text: &'a std::ffi::OsStr) -> Result<&'a str> {
    text.to_str().ok_or_else(|| {
        engine_error(format!(
            "stage {stage}, batch {batch}: {what} {text:?} is not UTF-8 (HyperQueue's client takes strings)"
        ))
    })
}

/// The file where a batch's exit status is written.
fn status_path(stage: &StageSubmission, batch: usize) -> PathBuf {
    stage
        .scratch
        .join("hq-status")
        .join(format!("stage{}-batch{batch}", stage.stage))
}

/// The last lines of `text`, for messages.
fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

impl HyperQueueLauncher {
    /// A launcher that finds HyperQueue as `options` say.
    pub fn new(options: HyperQueueOptions) -> Self {
        HyperQueueLauncher { options }
    }

    /// Where it finds HyperQueue.
    pub fn options(&self) -> &HyperQueueOptions {
        &self.options
    }

    /// The driver's input: the tasks, each wrapped to log and record its status.
    fn spec(&self, stages: &[StageSubmission], dir: &Path) -> Result<Value> {
        let mut spec_stages = Vec::new();
        for stage in stages {
            std::fs::create_dir_all(stage.scratch.join("hq-status")).map_err(|e| {
                io_error(
                    "creating the hyperqueue status directory",
                    &stage.scratch,
                    e,
                )
            })?;
            let mut tasks = Vec::new();
            for batch in &stage.batches {
                let status = status_path(stage, batch.batch);
                match std::fs::remove_file(&status) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                        return Err(io_error("removing an old hyperqueue status", &status, e));
                    }
                    _ => {}
                }
                if let Some(parent) = batch.log.parent() {
                    std::fs::create_dir_all(parent)
                        .map_err(|e| io_error("creating a log directory", parent, e))?;
                }
                let (s, b) = (stage.stage, batch.batch);
                let mut args = vec![
                    "/bin/sh".to_string(),
                    "-c".to_string(),
                    WRAPPER.to_string(),
                    "sh".to_string(),
                    utf8("log path", s, b, batch.log.as_os_str())?.to_string(),
                    utf8("status path", s, b, status.as_os_str())?.to_string(),
                    utf8("program", s, b, batch.program.as_os_str())?.to_string(),
                ];
                for arg in &batch.args {
                    args.push(utf8("argument", s, b, arg)?.to_string());
                }
                let env: serde_json::Map<String, Value> = batch
                    .env
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
                    .collect();
                tasks.push(
                    json!({"batch": b, "args": args, "env": env, "cpus": stage.threads.max(1)}),
                );
            }
            spec_stages.push(json!({"stage": stage.stage, "tasks": tasks}));
        }
        let cwd = std::env::current_dir()
            .map_err(|e| io_error("reading the current directory", Path::new("."), e))?;
        Ok(json!({
            "name": format!("chunkwise ({} stages)", stages.len()),
            "cwd": cwd.to_string_lossy(),
            "server_dir": self.options.server_dir.as_ref().map(|d| d.to_string_lossy().into_owned()),
            "local_dir": dir.join("hq-server").to_string_lossy(),
            "local_cores": self.options.local_cores,
            "stages": spec_stages,
        }))
    }

    /// Runs the driver; returns its result document.
    fn drive(&self, dir: &Path, spec: &Value) -> Result<Value> {
        let driver = dir.join("hq-driver.py");
        let spec_path = dir.join("hq-spec.json");
        let result_path = dir.join("hq-result.json");
        let log_path = dir.join("hq-driver.log");
        std::fs::write(&driver, DRIVER)
            .map_err(|e| io_error("writing the hyperqueue driver", &driver, e))?;
        std::fs::write(&spec_path, spec.to_string())
            .map_err(|e| io_error("writing the hyperqueue job", &spec_path, e))?;
        let _ = std::fs::remove_file(&result_path);
        let log = std::fs::File::create(&log_path)
            .map_err(|e| io_error("creating the hyperqueue driver log", &log_path, e))?;
        let log2 = log
            .try_clone()
            .map_err(|e| io_error("creating the hyperqueue driver log", &log_path, e))?;
        let python = &self.options.python;
        let line = format!(
            "{} {} {} {}",
            python.display(),
            driver.display(),
            spec_path.display(),
            result_path.display()
        );
        let status = Command::new(python)
            .arg(&driver)
            .arg(&spec_path)
            .arg(&result_path)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .status()
            .map_err(|e| {
                engine_error(format!(
                    "cannot run `{line}`: {e} (set {HQ_PYTHON_ENV} to a python with the `hyperqueue` wheel installed)"
                ))
            })?;
        let printed = std::fs::read_to_string(&log_path).unwrap_or_default();
        if !status.success() {
            return Err(engine_error(format!(
                "`{line}` failed ({status}); its last lines:\n{}",
                tail(&printed, 15)
            )));
        }
        let text = std::fs::read_to_string(&result_path).map_err(|e| {
            engine_error(format!(
                "`{line}` wrote no result ({e}); its last lines:\n{}",
                tail(&printed, 15)
            ))
        })?;
        serde_json::from_str(&text).map_err(|e| {
            engine_error(format!(
                "cannot read the result of `{line}` ({e}): it wrote {text:?}"
            ))
        })
    }
}

/// What the status file and HyperQueue's error say of one batch.
fn outcome(status: Option<String>, error: Option<&str>) -> BatchOutcome {
    let code = status.and_then(|s| s.trim().parse::<i32>().ok());
    match (code, error) {
        (Some(0), None) => BatchOutcome::Succeeded,
        (Some(code), error) if code != 0 => BatchOutcome::Failed {
            code: Some(code),
            reason: match error {
                Some(e) => format!("exit code {code} ({})", e.trim()),
                None => format!("exit code {code}"),
            },
        },
        (_, Some(error)) => BatchOutcome::Failed {
            code: None,
            reason: error.trim().to_string(),
        },
        // No status and no error: HyperQueue cancelled it, its dependencies having failed.
        (_, None) => BatchOutcome::NotRun,
    }
}

impl Launcher for HyperQueueLauncher {
    fn name(&self) -> &'static str {
        "hyperqueue"
    }

    fn run_stages(&self, stages: &[StageSubmission]) -> Result<Vec<StageOutcome>> {
        let empty = || {
            stages
                .iter()
                .map(|s| StageOutcome {
                    stage: s.stage,
                    batches: Vec::new(),
                })
                .collect()
        };
        let Some(first) = stages.iter().find(|s| !s.batches.is_empty()) else {
            return Ok(empty());
        };
        let dir = first.scratch.clone();
        std::fs::create_dir_all(&dir)
            .map_err(|e| io_error("creating the hyperqueue scratch directory", &dir, e))?;
        let spec = self.spec(stages, &dir)?;
        let result = self.drive(&dir, &spec)?;
        let bad = || {
            engine_error(format!(
                "the driver's result in {} has no task list: {result}",
                dir.display()
            ))
        };
        let tasks = result
            .get("tasks")
            .and_then(Value::as_array)
            .ok_or_else(bad)?;
        let mut errors = std::collections::BTreeMap::new();
        for task in tasks {
            let stage = task.get("stage").and_then(Value::as_u64).ok_or_else(bad)?;
            let batch = task.get("batch").and_then(Value::as_u64).ok_or_else(bad)?;
            if let Some(error) = task.get("error").and_then(Value::as_str) {
                errors.insert((stage as usize, batch as usize), error.to_string());
            }
        }
        Ok(stages
            .iter()
            .map(|stage| StageOutcome {
                stage: stage.stage,
                batches: stage
                    .batches
                    .iter()
                    .map(|b| {
                        let status = std::fs::read_to_string(status_path(stage, b.batch)).ok();
                        let error = errors.get(&(stage.stage, b.batch)).map(String::as_str);
                        (b.batch, outcome(status, error))
                    })
                    .collect(),
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_from_status_and_error() {
        assert_eq!(outcome(Some("0\n".into()), None), BatchOutcome::Succeeded);
        assert_eq!(
            outcome(
                Some("3\n".into()),
                Some("Program terminated with exit code 3")
            ),
            BatchOutcome::Failed {
                code: Some(3),
                reason: "exit code 3 (Program terminated with exit code 3)".into()
            }
        );
        assert!(matches!(
            outcome(None, Some("Cannot spawn program")),
            BatchOutcome::Failed { code: None, reason } if reason == "Cannot spawn program"
        ));
        assert_eq!(outcome(None, None), BatchOutcome::NotRun);
    }

    #[test]
    fn a_missing_python_is_an_engine_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let launcher = HyperQueueLauncher::new(HyperQueueOptions {
            python: "/nonexistent/python3".into(),
            ..HyperQueueOptions::default()
        });
        let stage = StageSubmission {
            stage: 0,
            name: "s".into(),
            batches: vec![crate::engine::BatchCommand {
                batch: 0,
                program: "/bin/true".into(),
                args: vec![],
                env: vec![],
                log: dir.path().join("b0.log"),
            }],
            mem_bytes: 0,
            threads: 1,
            scratch: dir.path().join("scratch"),
        };
        let err = launcher.run_stages(&[stage]).unwrap_err();
        assert!(matches!(
            err,
            Error::Engine {
                engine: "hyperqueue",
                ..
            }
        ));
        assert!(err.to_string().contains("/nonexistent/python3"), "{err}");
        assert!(err.to_string().contains(HQ_PYTHON_ENV), "{err}");
    }
}
