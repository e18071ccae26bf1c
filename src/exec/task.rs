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
}

/// A lowered plan: tasks in priority order (dependencies always come first).
pub(crate) struct Plan {
    pub tasks: Vec<Task>,
}

impl Plan {
    /// Projected bytes of task `t`: its inputs, its output and its scratch.
    pub(crate) fn task_bytes(&self, t: usize) -> usize {
        let task = &self.tasks[t];
        task.deps
            .iter()
            .map(|&d| self.tasks[d as usize].out_bytes)
            .sum::<usize>()
            + task.out_bytes
            + task.scratch_bytes
    }

    /// Simulates a one-thread run in priority order and returns the peak of held + running
    /// bytes: the memory a sequential run needs.
    pub(crate) fn projected_peak(&self) -> usize {
        let n = self.tasks.len();
        let mut remaining = vec![0u32; n];
        for t in &self.tasks {
            for &d in &t.deps {
                remaining[d as usize] += 1;
            }
        }
        let (mut held, mut peak) = (0usize, 0usize);
        for (i, t) in self.tasks.iter().enumerate() {
            peak = peak.max(held + t.out_bytes + t.scratch_bytes);
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
        peak
    }
}
