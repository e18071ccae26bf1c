//! The driver: one computation on an engine other than the local one. It cuts the plan into
//! stages, prepares (or resumes) the work directory, hands the pending batches to the
//! launcher, retries failed ones, and finally copies the results from the work directory into
//! the caller's outputs. In a worker process the same call runs one batch and exits.

use super::EngineReport;
use super::launch::{BatchCommand, BatchOutcome, StageSubmission};
use super::stages::StagePlan;
use super::workdir::{DoneMarker, WorkDir};
use super::worker::{self, WORK_DIR_VAR, WORKER_VAR, WorkerTask};
use crate::chunks::Region;
use crate::error::{Error, Result};
use crate::exec::task::Value;
use crate::exec::{OutputSink, RunReport, Runtime};
use crate::graph::NodeRef;
use crate::io::BlockSource;
use crate::io::zarr::{ZarrSource, ZarrWriter};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::Instant;

/// How many lines of a failed worker's log an error shows.
const LOG_TAIL_LINES: usize = 20;

/// Memory a worker process needs beyond the runtime's limit (its code, buffers, the plan).
pub(crate) const WORKER_OVERHEAD: usize = 256 << 20;

/// Runs one computation (`roots`, written to `sinks`) on the runtime's engine.
///
/// # Errors
/// [`Error::Engine`], [`Error::BatchFailed`], [`Error::PlanMismatch`], and the errors of
/// cutting the plan and of reading the results back.
pub(crate) fn run(
    rt: &Runtime,
    roots: &[(NodeRef, bool)],
    sinks: &[&dyn OutputSink],
) -> Result<RunReport> {
    let settings = &rt.engine;
    let engine = settings.engine.name();
    let compute = rt.computes.fetch_add(1, Ordering::SeqCst);
    let task = worker::current()?;
    let root_dir = match (&task, &settings.work_dir) {
        (Some(t), _) => t.work_dir.clone(),
        (None, Some(d)) if crate::io::store_url::path_url(d).is_some() => d.clone(),
        (None, Some(d)) => absolute(d, "resolve the work directory")?,
        (None, None) => {
            return Err(Error::Engine {
                engine,
                detail: "no work directory".into(),
            });
        }
    };
    let log_dir = match &settings.log_dir {
        Some(d) => Some(absolute(d, "resolve the log directory")?),
        None => None,
    };
    let wd = WorkDir::open(&root_dir, compute, log_dir.as_deref())?;
    let nodes: Vec<NodeRef> = roots.iter().map(|(n, _)| n.clone()).collect();
    let plan = StagePlan::cut(
        engine,
        &nodes,
        compute,
        rt.memory_limit,
        settings.batch_bytes,
        &wd.store(),
    )?;
    match task {
        None => drive(rt, &plan, &wd, roots, sinks),
        Some(t) if t.compute == compute => run_worker(rt, &plan, &wd, &t),
        Some(t) if t.compute > compute => {
            // An earlier computation of the program: the driver ran it; read its results.
            if !wd.check_plan(&plan)? {
                return Err(Error::Engine {
                    engine: "worker",
                    detail: format!(
                        "computation {compute} has no plan in {}: the driver did not run it",
                        wd.shown()
                    ),
                });
            }
            deliver(rt, &plan, &wd, roots, sinks)?;
            Ok(RunReport {
                threads: rt.threads,
                memory_limit: rt.memory_limit,
                ..Default::default()
            })
        }
        Some(t) => Err(Error::Engine {
            engine: "worker",
            detail: format!(
                "the worker of computation {} reached computation {compute}: the program \
                 does not run the same computations every time",
                t.compute
            ),
        }),
    }
}

fn absolute(d: &Path, op: &'static str) -> Result<PathBuf> {
    std::path::absolute(d).map_err(|source| Error::Io {
        op,
        path: d.to_path_buf(),
        source,
    })
}

/// Runs the worker's batch and exits the process: 0 when its done-marker is written, 2 on a
/// plan mismatch, 1 on any other error (printed to stderr, which is the batch's log).
fn run_worker(rt: &Runtime, plan: &StagePlan, wd: &WorkDir, t: &WorkerTask) -> ! {
    let code = match run_batch(rt, plan, wd, t) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!(
                "chunkwise worker (stage {}, batch {}): error: {e}",
                t.stage, t.batch
            );
            if matches!(e, Error::PlanMismatch { .. }) {
                2
            } else {
                1
            }
        }
    };
    std::process::exit(code)
}

fn run_batch(rt: &Runtime, plan: &StagePlan, wd: &WorkDir, t: &WorkerTask) -> Result<()> {
    if t.hash != plan.hash {
        return Err(Error::PlanMismatch {
            work_dir: wd.shown(),
            expected: t.hash.clone(),
            found: plan.hash.clone(),
        });
    }
    let stage = plan
        .stages
        .get(t.stage)
        .filter(|s| t.batch < s.batches.len())
        .ok_or_else(|| Error::Engine {
            engine: "worker",
            detail: format!(
                "the plan has no batch {} in stage {} ({} stages)",
                t.batch,
                t.stage,
                plan.stages.len()
            ),
        })?;
    if let Some(once) = worker::fault_for(t.compute, t.stage, t.batch) {
        let marker = wd.fault_marker(t.stage, t.batch);
        if !once || !marker.exists() {
            if let Some(p) = marker.parent() {
                let _ = std::fs::create_dir_all(p);
            }
            let _ = std::fs::write(&marker, "failed once\n");
            eprintln!(
                "chunkwise worker (stage {}, batch {}): failing on purpose ({})",
                t.stage,
                t.batch,
                worker::FAULT_VAR
            );
            std::process::exit(worker::FAULT_EXIT);
        }
    }
    let start = Instant::now();
    let node = stage.batch_node(t.batch);
    let region = &stage.batches[t.batch];
    let writer = ZarrWriter::open_chunks(
        &wd.store(),
        &stage.array,
        &stage.node.shape,
        &stage.chunk_shape(),
        stage.node.dtype,
    )?;
    let sink = OffsetSink {
        grid: node.grid.clone(),
        origin: region.0.iter().map(|r| r.start).collect(),
        writer: &writer,
    };
    let report = crate::array::execute::run_optimized(
        rt,
        vec![node.clone()],
        &[(node, false)],
        &[&sink],
        false,
    )?;
    wd.write_done(
        &plan.hash,
        t.stage,
        t.batch,
        &DoneMarker {
            tasks: report.tasks,
            peak_tracked_bytes: report.peak_tracked_bytes,
            bytes_produced: report.bytes_produced,
            wall_s: start.elapsed().as_secs_f64(),
        },
    )?;
    eprintln!(
        "chunkwise worker (stage {} {}, batch {} {region}): done: {report}",
        t.stage, stage.name, t.batch
    );
    Ok(())
}

/// Writes a batch's blocks (numbered in the batch's grid) at their place in the stage array.
struct OffsetSink<'w> {
    grid: crate::chunks::ChunkGrid,
    origin: Vec<usize>,
    writer: &'w ZarrWriter,
}

impl OutputSink for OffsetSink<'_> {
    fn slot(&self, _k: usize) -> Option<crate::element::AnyViewMut<'_>> {
        None
    }
    fn accept(&self, k: usize, value: &Value) -> Result<()> {
        let r = self.grid.block_region(&self.grid.unravel(k));
        let region = Region(
            r.0.iter()
                .zip(&self.origin)
                .map(|(r, &o)| r.start + o..r.end + o)
                .collect(),
        );
        crate::io::BlockWriter::write(self.writer, &region, &value.block().view())
    }
}

/// A pending batch's bookkeeping in one run of the driver.
#[derive(Default, Clone)]
struct Attempts {
    tries: usize,
    last_failure: Option<String>,
}

fn drive(
    rt: &Runtime,
    plan: &StagePlan,
    wd: &WorkDir,
    roots: &[(NodeRef, bool)],
    sinks: &[&dyn OutputSink],
) -> Result<RunReport> {
    let settings = &rt.engine;
    let launcher = settings.engine.launcher().ok_or_else(|| Error::Engine {
        engine: "local",
        detail: "the local engine has no launcher".into(),
    })?;
    let start = Instant::now();
    wd.prepare(plan)?;
    let program = std::env::current_exe().map_err(|source| Error::Io {
        op: "find this program (to start its workers)",
        path: PathBuf::from("/proc/self/exe"),
        source,
    })?;
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    let mut attempts: Vec<Vec<Attempts>> = plan
        .stages
        .iter()
        .map(|s| vec![Attempts::default(); s.batches.len()])
        .collect();
    let pending = |s: usize| -> Vec<usize> {
        (0..plan.stages[s].batches.len())
            .filter(|&b| wd.read_done(&plan.hash, s, b).is_none())
            .collect()
    };
    let skipped = plan.batch_count()
        - (0..plan.stages.len())
            .map(|s| pending(s).len())
            .sum::<usize>();
    let (mut ran, mut retried) = (0, 0);
    loop {
        let todo: Vec<(usize, Vec<usize>)> = (0..plan.stages.len())
            .map(|s| (s, pending(s)))
            .filter(|(_, b)| !b.is_empty())
            .collect();
        if todo.is_empty() {
            break;
        }
        for (s, bs) in &todo {
            for &b in bs {
                let a = &attempts[*s][b];
                if a.tries >= settings.tries {
                    return Err(Error::BatchFailed {
                        stage: *s,
                        name: plan.stages[*s].name.clone(),
                        batch: b,
                        tries: a.tries,
                        reason: a
                            .last_failure
                            .clone()
                            .unwrap_or_else(|| "no done-marker".into()),
                        log_tail: wd.log_tail(*s, b, LOG_TAIL_LINES),
                    });
                }
            }
        }
        let submissions: Vec<StageSubmission> = todo
            .iter()
            .map(|(s, bs)| StageSubmission {
                stage: *s,
                name: plan.stages[*s].name.clone(),
                batches: bs
                    .iter()
                    .map(|&b| command(plan, wd, &program, &args, *s, b))
                    .collect(),
                mem_bytes: rt.memory_limit.saturating_add(WORKER_OVERHEAD),
                threads: rt.threads,
                scratch: wd.scratch(),
            })
            .collect();
        let outcomes = launcher.run_stages(&submissions)?;
        let mut any_ran = false;
        for o in outcomes {
            for (b, outcome) in o.batches {
                let Some(a) = attempts.get_mut(o.stage).and_then(|s| s.get_mut(b)) else {
                    continue;
                };
                let failure = match outcome {
                    BatchOutcome::NotRun => continue,
                    BatchOutcome::Succeeded if wd.read_done(&plan.hash, o.stage, b).is_some() => {
                        None
                    }
                    BatchOutcome::Succeeded => Some("exited with 0 but left no done-marker".into()),
                    BatchOutcome::Failed { reason, .. } => Some(reason),
                };
                any_ran = true;
                a.tries += 1;
                ran += 1;
                if a.tries > 1 {
                    retried += 1;
                }
                if failure.is_some() {
                    a.last_failure = failure;
                }
            }
        }
        if !any_ran {
            return Err(Error::Engine {
                engine: launcher.name(),
                detail: format!(
                    "ran none of the {} pending batches",
                    todo.iter().map(|(_, b)| b.len()).sum::<usize>()
                ),
            });
        }
    }
    deliver(rt, plan, wd, roots, sinks)?;
    let mut report = RunReport {
        threads: rt.threads,
        memory_limit: rt.memory_limit,
        ..Default::default()
    };
    for (s, st) in plan.stages.iter().enumerate() {
        for b in 0..st.batches.len() {
            if let Some(m) = wd.read_done(&plan.hash, s, b) {
                report.tasks += m.tasks;
                report.bytes_produced += m.bytes_produced;
                report.peak_tracked_bytes = report.peak_tracked_bytes.max(m.peak_tracked_bytes);
            }
        }
    }
    report.wall_time = start.elapsed();
    report.engine = Some(EngineReport {
        engine: launcher.name().to_string(),
        plan_hash: plan.hash.clone(),
        stages: plan.stages.len(),
        batches: plan.batch_count(),
        batches_run: ran,
        batches_skipped: skipped,
        batches_retried: retried,
    });
    Ok(report)
}

/// The command line of batch `b` of stage `s`: this program, its arguments, and the batch
/// named in the environment.
fn command(
    plan: &StagePlan,
    wd: &WorkDir,
    program: &Path,
    args: &[std::ffi::OsString],
    s: usize,
    b: usize,
) -> BatchCommand {
    let task = WorkerTask {
        hash: plan.hash.clone(),
        compute: plan.compute,
        stage: s,
        batch: b,
        work_dir: PathBuf::new(),
    };
    BatchCommand {
        batch: b,
        program: program.to_path_buf(),
        args: args.to_vec(),
        env: vec![
            (WORKER_VAR.to_string(), task.env_value()),
            (WORK_DIR_VAR.to_string(), wd.root().display().to_string()),
        ],
        log: wd.log_file(s, b),
    }
}

/// Copies the computation's results from the work directory into `sinks`, block by block.
fn deliver(
    rt: &Runtime,
    plan: &StagePlan,
    wd: &WorkDir,
    roots: &[(NodeRef, bool)],
    sinks: &[&dyn OutputSink],
) -> Result<()> {
    use rayon::prelude::*;
    for ((&s, (root, _)), sink) in plan.finals.iter().zip(roots).zip(sinks) {
        let src = ZarrSource::open(wd.store(), &plan.stages[s].array)?;
        let grid = &root.grid;
        rt.pool.install(|| {
            (0..grid.nblocks()).into_par_iter().try_for_each(|k| {
                let region = grid.block_region(&grid.unravel(k));
                let block = src.read(&region)?;
                sink.accept(k, &Value::Block(block))
            })
        })?;
    }
    Ok(())
}
