//! Tasks: the unit of scheduling. A task runs a kernel on the values of its dependencies and
//! produces one value (a block or a reduction partial), or writes straight into an output.

use crate::element::{AnyArray, AnyView, AnyViewMut};
use crate::error::Result;
use std::any::Any;
use std::sync::Arc;

/// Index of a task in its plan; also its priority (lower runs first).
pub(crate) type TaskId = u32;

/// What a task produces.
pub(crate) enum Value {
    /// A block.
    Block(AnyArray),
    /// A reduction partial of the given size in bytes.
    Partial(Box<dyn Any + Send + Sync>, usize),
}

impl Value {
    pub(crate) fn bytes(&self) -> usize {
        match self {
            Value::Block(a) => a.nbytes(),
            Value::Partial(_, b) => *b,
        }
    }

    /// The block.
    ///
    /// # Panics
    /// If the value is a partial (an internal bug).
    pub(crate) fn block(&self) -> &AnyArray {
        match self {
            Value::Block(a) => a,
            Value::Partial(..) => panic!("internal: partial used as a block"),
        }
    }

    pub(crate) fn partial<P: 'static>(&self) -> &P {
        match self {
            Value::Partial(p, _) => p.downcast_ref().expect("internal: partial of another type"),
            Value::Block(_) => panic!("internal: block used as a partial"),
        }
    }
}

/// What a kernel sees when it runs.
pub(crate) struct TaskCtx<'a, 'o> {
    /// The values of the task's dependencies, in order.
    pub deps: &'a [&'a Value],
    /// For output tasks of an in-memory result: the output region to write directly.
    pub out: Option<AnyViewMut<'o>>,
    /// For a task that [takes its last dependency](Task::takes_last_dep): that dependency's
    /// value, owned (it is not in `deps`), to fold into in place.
    pub owned: Option<Value>,
}

impl TaskCtx<'_, '_> {
    pub(crate) fn dep_view(&self, k: usize) -> AnyView<'_> {
        self.deps[k].block().view()
    }
}

/// The computation of a task.
pub(crate) trait Kernel: Send + Sync {
    /// Runs the task. Returns `None` when it wrote its result into `ctx.out`.
    fn run(&self, ctx: &mut TaskCtx<'_, '_>) -> Result<Option<Value>>;
    /// Heap bytes the kernel owns beyond its own allocation (its vectors of leaves, inputs,
    /// regions and shapes, see [`super::heap::HeapBytes`]), for [`Plan::own_bytes`]; shared
    /// parts (programs, sources, reducers) are not counted. Every kernel with vectors reports
    /// them: the plans of grouped and chained reductions hold kilobytes per task.
    fn heap_bytes(&self) -> usize {
        0
    }
}

/// One task of a plan.
pub(crate) struct Task {
    pub deps: Vec<TaskId>,
    pub kernel: Arc<dyn Kernel>,
    /// Upper bound of the bytes of the value it produces (0 when it writes into the output).
    pub out_bytes: usize,
    /// Upper bound of its working memory while it runs.
    pub scratch_bytes: usize,
    /// Operation label (for errors, reports and plans).
    pub label: Arc<str>,
    /// Block shape it produces (for errors).
    pub block_shape: Vec<usize>,
    /// Bytes of the block it produces (also when written straight into an output).
    pub block_bytes: usize,
    /// `(output number, block number)` when this task's value is a block of a requested output.
    pub output: Option<(usize, usize)>,
    /// Reads of a serialized I/O lane (HDF5).
    pub serial_io: bool,
    /// Whether the kernel can write its block straight into an output slot.
    pub in_place: bool,
    /// The kernel takes its last dependency's value by value ([`TaskCtx::owned`]): the task
    /// is that value's only consumer (a reduction partial folded into in a chain).
    pub takes_last_dep: bool,
    /// The value it produces is its last dependency's value grown in place (with
    /// `takes_last_dep`): only the growth `out_bytes - that value's bytes` is new memory.
    pub reuses_last_dep: bool,
}

/// A lowered plan: tasks in priority order (dependencies always come first).
pub(crate) struct Plan {
    pub tasks: Vec<Task>,
    /// Bytes of the plan itself while it runs (its tasks and the scheduler's state for
    /// them) beyond [`PLAN_ALLOWANCE`], counted against the limit like any block: see
    /// [`Plan::new`].
    pub own_bytes: usize,
    /// The estimated heap of the plan while it runs, the allowance included.
    pub heap_bytes: usize,
}

/// Scheduler state per task while a plan runs: dependency and consumer counts, the value
/// slot, the ready set's entry, the started flag and the one-thread run's need.
pub(crate) const SCHEDULER_BYTES_PER_TASK: usize = 64;

/// Heap per task while a plan is lowered: the task (and the growth of the task list), its
/// kernel, and the lowering's memo entry. Measured at about 460 bytes for a plan of
/// elementwise tasks (tests/memory_many_blocks.rs); lowering stops once its tasks would take
/// more than the memory limit at this rate.
pub(crate) const LOWERING_BYTES_PER_TASK: usize = 512;

/// Plan bytes not counted against the limit: a fixed overhead (about 2,500 tasks), so small
/// plans at tiny limits plan as they would without the plan counted, and the choice between a
/// direct and a staged rechunk does not turn on a few hundred bytes of tasks.
pub(crate) const PLAN_ALLOWANCE: usize = 1 << 20;

impl Plan {
    /// A plan of `tasks`, with [`Plan::own_bytes`] estimated from them: each task, its
    /// dependency list (and the scheduler's consumer list, as long), its block shape, its
    /// kernel's allocation and the scheduler's per-task state, beyond [`PLAN_ALLOWANCE`].
    pub(crate) fn new(tasks: Vec<Task>) -> Plan {
        let own_bytes = tasks
            .iter()
            .map(|t| {
                std::mem::size_of::<Task>()
                    + t.deps.capacity() * 2 * std::mem::size_of::<TaskId>()
                    + t.block_shape.capacity() * std::mem::size_of::<usize>()
                    // The kernel's `Arc` allocation: its two counts and the kernel.
                    + 2 * std::mem::size_of::<usize>()
                    + std::mem::size_of_val(&*t.kernel)
                    + t.kernel.heap_bytes()
                    + SCHEDULER_BYTES_PER_TASK
            })
            .sum::<usize>()
            + tasks.capacity().saturating_sub(tasks.len()) * std::mem::size_of::<Task>();
        Plan {
            tasks,
            own_bytes: own_bytes.saturating_sub(PLAN_ALLOWANCE),
            heap_bytes: own_bytes,
        }
    }

    /// Bytes reserved while task `t` runs, beyond what is already held: its output (only the
    /// growth, when it reuses its last dependency's value) and its scratch.
    pub(crate) fn reserve(&self, t: usize) -> usize {
        let task = &self.tasks[t];
        let out = match task.deps.last() {
            Some(&d) if task.reuses_last_dep => task
                .out_bytes
                .saturating_sub(self.tasks[d as usize].out_bytes),
            _ => task.out_bytes,
        };
        out + task.scratch_bytes
    }

    /// Projected bytes of task `t`: its inputs, its output and its scratch.
    pub(crate) fn task_bytes(&self, t: usize) -> usize {
        let task = &self.tasks[t];
        task.deps
            .iter()
            .map(|&d| self.tasks[d as usize].out_bytes)
            .sum::<usize>()
            + self.reserve(t)
    }

    /// Simulates a one-thread run in priority order and returns the peak of held + running
    /// bytes: the memory a sequential run needs.
    pub(crate) fn projected_peak(&self) -> usize {
        self.simulate(|_, _| {}).peak
    }

    /// Simulates a one-thread run in priority order, calling `need(t, bytes)` with the bytes
    /// held while task `t` runs (everything held before it plus its reservation).
    pub(crate) fn simulate(&self, mut need: impl FnMut(usize, usize)) -> Simulation {
        let n = self.tasks.len();
        let mut remaining = vec![0u32; n];
        for t in &self.tasks {
            for &d in &t.deps {
                remaining[d as usize] += 1;
            }
        }
        let (mut held, mut peak, mut peak_task) = (self.own_bytes, 0usize, None);
        for (i, t) in self.tasks.iter().enumerate() {
            let now = held + self.reserve(i);
            need(i, now);
            if peak_task.is_none() || now > peak {
                peak = now;
                peak_task = Some(i);
            }
            for &d in &t.deps {
                remaining[d as usize] -= 1;
                if remaining[d as usize] == 0 {
                    held -= self.tasks[d as usize].out_bytes;
                }
            }
            if remaining[i] > 0 {
                held += t.out_bytes;
            }
        }
        Simulation { peak, peak_task }
    }

    /// What holds the memory while task `t` runs in a one-thread run: bytes by operation
    /// label, largest first (the running task's reservation included).
    pub(crate) fn holders_at(&self, t: usize) -> Vec<(Arc<str>, usize)> {
        let n = self.tasks.len();
        let mut consumers_after = vec![false; n];
        for task in &self.tasks[t..] {
            for &d in &task.deps {
                consumers_after[d as usize] = true;
            }
        }
        let mut by: Vec<(Arc<str>, usize)> = Vec::new();
        let mut add = |label: &Arc<str>, b: usize| {
            if b == 0 {
                return;
            }
            match by.iter_mut().find(|(l, _)| l == label) {
                Some(e) => e.1 += b,
                None => by.push((label.clone(), b)),
            }
        };
        for (i, task) in self.tasks.iter().enumerate().take(t) {
            // Held while `t` runs: produced before it and still needed by `t` or later.
            if consumers_after[i] {
                add(&task.label, task.out_bytes);
            }
        }
        add(&self.tasks[t].label, self.reserve(t));
        add(
            &Arc::from(format!("the plan itself ({} tasks)", n).as_str()),
            self.own_bytes,
        );
        by.sort_by_key(|b| std::cmp::Reverse(b.1));
        by
    }
}

/// The result of [`Plan::simulate`].
pub(crate) struct Simulation {
    /// Peak bytes of a one-thread run.
    pub peak: usize,
    /// The task running at the peak (`None` for an empty plan).
    pub peak_task: Option<usize>,
}
