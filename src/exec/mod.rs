//! Execution: an explicit [`Runtime`] (owned rayon pool + memory limit), the task plan, the
//! scheduler that keeps tracked memory under the limit, and run reports.
//!
//! The memory contract (DESIGN §3):
//! 1. *Plan-time check*: every task's projected bytes (inputs + output + scratch) must fit the
//!    limit, and so must a one-thread run in priority order, or the run fails before anything
//!    executes ([`crate::Error::TaskTooLarge`], [`crate::Error::PlanTooLarge`]). A plan that
//!    does not fit is lowered again frugally (reductions folded in chains, store blocks read
//!    again) before giving up.
//! 2. *Static order*: tasks are numbered in depth-first post-order from the outputs, so the
//!    work that finishes a block (and frees its inputs) always comes before new input.
//! 3. *Admission before the pool*: a task is handed to a worker only once its reservation fits
//!    under the limit; workers never wait for memory. Tasks are admitted strictly in priority
//!    order, so later tasks never eat the room the next one needs.
//! 4. *Release by refcount*: a block is dropped when its last consumer finishes.
//! 5. *Resident bytes*: persisted arrays held in memory count against the limit of every
//!    later run on their runtime ([`Runtime::persisted_bytes`]): each run plans and admits
//!    within the limit less those bytes, so resident + run peak stays within the limit.
//! 6. *No stalls*: a task starts ahead of a lower one only if the one-thread run's needs of
//!    the tasks in between still fit after it, so a plan that passes the check never stalls.

mod allocator;
#[cfg(feature = "dashboard")]
mod dashboard;
pub(crate) mod heap;
mod memsize;
#[cfg(feature = "dashboard")]
mod observe;
pub(crate) mod report;
pub(crate) mod runtime;
mod scheduler;
pub(crate) mod task;

pub use allocator::keep_freed_blocks;
pub use memsize::parse_memory_size;
pub use report::{RunReport, TaskEvent};
pub(crate) use runtime::ResidentBytes;
pub use runtime::{
    DEFAULT_BATCH_BYTES, DEFAULT_MEMORY_LIMIT, DEFAULT_TRIES, IntoMemorySize, MAX_THREADS,
    ProgressFn, Runtime, RuntimeBuilder,
};
pub(crate) use scheduler::{OutputSink, check_plan, run_plan};
