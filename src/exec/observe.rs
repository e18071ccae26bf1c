//! A cheap observer of runs for the live dashboard (feature `dashboard`): the scheduler tells
//! it when tasks start and end, which values it holds and how much memory is tracked; the
//! dashboard's server reads snapshots of it as JSON.
//!
//! The scheduler calls it while it already holds its own state lock, and each call takes one
//! short, uncontended lock of the observed run (the server holds it only to copy a snapshot).
//! Every buffer is bounded: the task stream and the memory samples are ring buffers, and only
//! the last [`MAX_RUNS`] runs are kept. A runtime without a dashboard has no observer, and the
//! scheduler then does nothing more than test an `Option`.

use super::task::Plan;
use serde_json::{Value as Json, json};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Task records kept for the task stream (the most recent).
pub(crate) const MAX_TASKS: usize = 20_000;
/// Memory and throughput samples kept (one per [`SAMPLE_EVERY`] while tasks run).
pub(crate) const MAX_SAMPLES: usize = 4_000;
/// Runs kept (the most recent).
pub(crate) const MAX_RUNS: usize = 16;
/// The width of one memory / throughput sample.
pub(crate) const SAMPLE_EVERY: Duration = Duration::from_millis(50);
/// Task records sent in one snapshot (the most recent).
const SNAPSHOT_TASKS: usize = 4_000;

/// One finished task, for the task stream.
#[derive(Clone, Copy)]
struct TaskRec {
    run: u32,
    op: u32,
    /// The task's number among its operation's tasks.
    block: u32,
    worker: u32,
    /// Microseconds since the observer started.
    start_us: u64,
    end_us: u64,
    bytes: u64,
}

/// One sample: the most memory tracked in its interval and the bytes read and written in it.
#[derive(Clone, Copy)]
struct Sample {
    /// Interval number (of [`SAMPLE_EVERY`]) since the observer started.
    slot: u64,
    tracked: u64,
    read: u64,
    written: u64,
}

/// An operation of a run: tasks sharing one label.
struct Op {
    label: Arc<str>,
    tasks: u32,
    done: u32,
    running: u32,
    held: u32,
}

/// What the observer keeps of one run.
struct RunObs {
    id: u32,
    threads: usize,
    limit: usize,
    start_us: u64,
    end_us: Option<u64>,
    error: Option<String>,
    tasks: u32,
    done: u32,
    peak: usize,
    ops: Vec<Op>,
    /// `(from op, to op)`: values of `from` feed tasks of `to`.
    edges: Vec<(u32, u32)>,
}

struct Inner {
    runs: VecDeque<RunObs>,
    next_run: u32,
    stream: VecDeque<TaskRec>,
    samples: VecDeque<Sample>,
    read_total: u64,
    written_total: u64,
}

/// The observer a runtime with a dashboard shares with its server.
pub(crate) struct Observer {
    origin: Instant,
    inner: Mutex<Inner>,
}

/// The observation of one run in progress: per task, its operation and its number there.
pub(crate) struct RunHandle {
    obs: Arc<Observer>,
    id: u32,
    op_of: Vec<u32>,
    block_of: Vec<u32>,
    /// Whether the task has no dependencies (its bytes count as read).
    source: Vec<bool>,
    /// Whether the task writes a block of a requested output (its bytes count as written).
    output: Vec<bool>,
}

impl Observer {
    pub(crate) fn new() -> Observer {
        Observer {
            origin: Instant::now(),
            inner: Mutex::new(Inner {
                runs: VecDeque::new(),
                next_run: 0,
                stream: VecDeque::new(),
                samples: VecDeque::new(),
                read_total: 0,
                written_total: 0,
            }),
        }
    }

    fn now_us(&self) -> u64 {
        self.origin.elapsed().as_micros() as u64
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts observing a run of `plan`: its operations (one per task label, in order of
    /// first appearance) and the edges between them form the plan's graph.
    pub(crate) fn begin(self: &Arc<Self>, plan: &Plan, threads: usize, limit: usize) -> RunHandle {
        let n = plan.tasks.len();
        let mut ops: Vec<Op> = Vec::new();
        let mut index: std::collections::HashMap<&str, u32> = std::collections::HashMap::new();
        let (mut op_of, mut block_of) = (Vec::with_capacity(n), Vec::with_capacity(n));
        for t in &plan.tasks {
            let k = *index.entry(&t.label).or_insert_with(|| {
                ops.push(Op {
                    label: t.label.clone(),
                    tasks: 0,
                    done: 0,
                    running: 0,
                    held: 0,
                });
                (ops.len() - 1) as u32
            });
            block_of.push(ops[k as usize].tasks);
            ops[k as usize].tasks += 1;
            op_of.push(k);
        }
        let mut edges = std::collections::BTreeSet::new();
        for (i, t) in plan.tasks.iter().enumerate() {
            for &d in &t.deps {
                let (a, b) = (op_of[d as usize], op_of[i]);
                if a != b {
                    edges.insert((a, b));
                }
            }
        }
        let source = plan.tasks.iter().map(|t| t.deps.is_empty()).collect();
        let output = plan.tasks.iter().map(|t| t.output.is_some()).collect();
        let start_us = self.now_us();
        let mut g = self.lock();
        let id = g.next_run;
        g.next_run += 1;
        if g.runs.len() == MAX_RUNS {
            g.runs.pop_front();
        }
        g.runs.push_back(RunObs {
            id,
            threads,
            limit,
            start_us,
            end_us: None,
            error: None,
            tasks: n as u32,
            done: 0,
            peak: plan.own_bytes,
            ops,
            edges: edges.into_iter().collect(),
        });
        drop(g);
        RunHandle {
            obs: self.clone(),
            id,
            op_of,
            block_of,
            source,
            output,
        }
    }

    /// A JSON snapshot: the runs (with progress per operation and the plan's graph), the most
    /// recent task records and the memory / throughput samples.
    pub(crate) fn snapshot(&self) -> Json {
        let now = self.now_us();
        let g = self.lock();
        let runs: Vec<Json> = g
            .runs
            .iter()
            .map(|r| {
                json!({
                    "id": r.id,
                    "threads": r.threads,
                    "limit": r.limit,
                    "start_us": r.start_us,
                    "end_us": r.end_us,
                    "error": r.error,
                    "tasks": r.tasks,
                    "done": r.done,
                    "peak": r.peak,
                    "ops": r.ops.iter().map(|o| json!({
                        "label": &*o.label,
                        "tasks": o.tasks,
                        "done": o.done,
                        "running": o.running,
                        "waiting": o.tasks - o.done - o.running,
                        "held": o.held,
                    })).collect::<Vec<_>>(),
                    "edges": r.edges,
                })
            })
            .collect();
        // Copy the buffers and let the scheduler go on before making their JSON.
        let skip = g.stream.len().saturating_sub(SNAPSHOT_TASKS);
        let tasks: Vec<TaskRec> = g.stream.iter().skip(skip).copied().collect();
        let samples: Vec<Sample> = g.samples.iter().copied().collect();
        let (read_total, written_total) = (g.read_total, g.written_total);
        drop(g);
        // Columns, not objects: [run, op, block, worker, start_us, end_us, bytes].
        let stream: Vec<[u64; 7]> = tasks
            .iter()
            .map(|t| {
                [
                    t.run as u64,
                    t.op as u64,
                    t.block as u64,
                    t.worker as u64,
                    t.start_us,
                    t.end_us,
                    t.bytes,
                ]
            })
            .collect();
        let samples: Vec<[u64; 4]> = samples
            .iter()
            .map(|s| {
                [
                    s.slot * SAMPLE_EVERY.as_micros() as u64,
                    s.tracked,
                    s.read,
                    s.written,
                ]
            })
            .collect();
        json!({
            "now_us": now,
            "sample_us": SAMPLE_EVERY.as_micros() as u64,
            "runs": runs,
            "stream": stream,
            "samples": samples,
            "read_total": read_total,
            "written_total": written_total,
        })
    }
}

impl Inner {
    fn run(&mut self, id: u32) -> Option<&mut RunObs> {
        self.runs.iter_mut().rev().find(|r| r.id == id)
    }

    /// Adds to the sample of the current interval, starting a new one when it has passed.
    fn sample(&mut self, now_us: u64, tracked: usize, read: u64, written: u64) {
        let slot = now_us / SAMPLE_EVERY.as_micros() as u64;
        match self.samples.back_mut() {
            Some(s) if s.slot == slot => {
                s.tracked = s.tracked.max(tracked as u64);
                s.read += read;
                s.written += written;
            }
            _ => {
                if self.samples.len() == MAX_SAMPLES {
                    self.samples.pop_front();
                }
                self.samples.push_back(Sample {
                    slot,
                    tracked: tracked as u64,
                    read,
                    written,
                });
            }
        }
        self.read_total += read;
        self.written_total += written;
    }
}

impl RunHandle {
    /// Microseconds since the observer started, for [`RunHandle::finished`].
    pub(crate) fn now_us(&self) -> u64 {
        self.obs.now_us()
    }

    /// Task `t` was admitted; `tracked` bytes are now tracked.
    pub(crate) fn started(&self, t: usize, tracked: usize) {
        let now = self.obs.now_us();
        let mut g = self.obs.lock();
        if let Some(r) = g.run(self.id) {
            r.ops[self.op_of[t] as usize].running += 1;
            r.peak = r.peak.max(tracked);
        }
        g.sample(now, tracked, 0, 0);
    }

    /// Task `t` ran on `worker` from `start_us` until now and produced `bytes`; `ok` is
    /// false when it failed. `tracked` bytes are tracked after it.
    pub(crate) fn finished(
        &self,
        t: usize,
        worker: usize,
        start_us: u64,
        bytes: usize,
        ok: bool,
        tracked: usize,
    ) {
        let now = self.obs.now_us();
        let op = self.op_of[t];
        let mut g = self.obs.lock();
        if let Some(r) = g.run(self.id) {
            let o = &mut r.ops[op as usize];
            o.running -= 1;
            if ok {
                o.done += 1;
                r.done += 1;
            }
            r.peak = r.peak.max(tracked);
        }
        if g.stream.len() == MAX_TASKS {
            g.stream.pop_front();
        }
        g.stream.push_back(TaskRec {
            run: self.id,
            op,
            block: self.block_of[t],
            worker: worker as u32,
            start_us,
            end_us: now,
            bytes: bytes as u64,
        });
        let read = if self.source[t] { bytes as u64 } else { 0 };
        let written = if self.output[t] { bytes as u64 } else { 0 };
        g.sample(now, tracked, read, written);
    }

    /// The value of task `t` is held (`+1`) or was released (`-1`).
    pub(crate) fn held(&self, t: usize, delta: i32) {
        let mut g = self.obs.lock();
        if let Some(r) = g.run(self.id) {
            let o = &mut r.ops[self.op_of[t] as usize];
            o.held = o.held.saturating_add_signed(delta);
        }
    }

    /// The run ended, with `error` when it failed.
    pub(crate) fn end(&self, error: Option<&crate::error::Error>) {
        let now = self.obs.now_us();
        let mut g = self.obs.lock();
        if let Some(r) = g.run(self.id) {
            r.end_us = Some(now);
            r.error = error.map(|e| e.to_string());
            for o in &mut r.ops {
                o.running = 0;
                o.held = 0;
            }
        }
    }
}
