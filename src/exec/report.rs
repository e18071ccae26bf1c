use std::fmt;
use std::time::Duration;

/// One task's run, for timelines (`--report`): which worker ran it and when.
#[derive(Clone, Debug)]
pub struct TaskEvent {
    /// Operation label.
    pub label: String,
    /// Worker thread index (0-based).
    pub worker: usize,
    /// Start, since the run began.
    pub start: Duration,
    /// End, since the run began.
    pub end: Duration,
    /// Tracked bytes right after the task finished.
    pub tracked_after: usize,
}

/// What a run did: tasks, memory, bytes and time.
#[derive(Clone, Debug, Default)]
pub struct RunReport {
    /// Tasks executed.
    pub tasks: usize,
    /// Worker threads.
    pub threads: usize,
    /// The memory limit in bytes.
    pub memory_limit: usize,
    /// Peak tracked bytes: blocks held plus reservations of running tasks.
    pub peak_tracked_bytes: usize,
    /// Bytes of persisted arrays held in memory when the run started (see
    /// [`Runtime::persisted_bytes`](crate::Runtime::persisted_bytes)): they count against the
    /// limit, so `peak_tracked_bytes + persisted_bytes <= memory_limit`.
    pub persisted_bytes: usize,
    /// Bytes of all values produced (blocks and partials) plus bytes written to outputs.
    pub bytes_produced: usize,
    /// Wall time of the run.
    pub wall_time: Duration,
    /// Per-task events, when recording was enabled on the runtime.
    pub events: Vec<TaskEvent>,
    /// On an engine other than the local one: its stages and batches (`None` on the local
    /// engine). Tasks, bytes and the peak are then those of the workers (the peak: the
    /// largest of one worker's).
    pub engine: Option<crate::engine::EngineReport>,
}

fn human(bytes: usize) -> String {
    let b = bytes as f64;
    if b >= (1u64 << 30) as f64 {
        format!("{:.2} GiB", b / (1u64 << 30) as f64)
    } else if b >= (1 << 20) as f64 {
        format!("{:.1} MiB", b / (1 << 20) as f64)
    } else if b >= 1024.0 {
        format!("{:.1} KiB", b / 1024.0)
    } else {
        format!("{bytes} B")
    }
}

pub(crate) fn human_bytes(bytes: usize) -> String {
    human(bytes)
}

impl fmt::Display for RunReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} tasks on {} threads in {:.3} s; peak tracked {} of {} limit ({:.0}%); produced {}",
            self.tasks,
            self.threads,
            self.wall_time.as_secs_f64(),
            human(self.peak_tracked_bytes),
            human(self.memory_limit),
            100.0 * self.peak_tracked_bytes as f64 / self.memory_limit.max(1) as f64,
            human(self.bytes_produced),
        )?;
        if let Some(e) = &self.engine {
            write!(f, "; {e}")?;
        }
        if self.persisted_bytes > 0 {
            write!(f, "; persisted in memory {}", human(self.persisted_bytes))?;
        }
        Ok(())
    }
}
