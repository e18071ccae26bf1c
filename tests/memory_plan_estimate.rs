//! The plan's own heap (its tasks, their kernels' vectors, the scheduler's state) is counted
//! against the limit beyond its first MiB, so its estimate must not fall short of what the
//! plan really holds: measured here, at the end of a run's first task, for plans of
//! elementwise, grouped, chained-reduction, rechunk, window and take tasks. Grouped
//! reductions' kernels hold kilobytes of inputs each; an estimate that missed them let the
//! anomaly of a monthly climatology go 1.4 MiB past its limit on the heap.
mod common;
use chunkwise::prelude::*;
use common::*;
use std::sync::atomic::{AtomicUsize, Ordering};

#[global_allocator]
static ALLOC: Counting = Counting;

static AT_FIRST: AtomicUsize = AtomicUsize::new(0);

/// Runs `a` block by block on one thread and checks the plan's estimate against the heap
/// held, beyond the heap before the run, when the first task (a read of one block of
/// `block_bytes`) finished.
fn plan_heap<T: Element>(what: &str, a: &ChunkedArray<T>, limit: usize, block_bytes: usize) {
    let rt = Runtime::builder()
        .threads(1)
        .memory_limit(limit)
        .on_progress(|done, _| {
            if done == 1 {
                AT_FIRST.store(current(), Ordering::Relaxed);
            }
        })
        .build()
        .unwrap();
    let summary = a.plan_summary(&rt);
    assert!(summary.fits(), "{what}: {summary}");
    // A first run starts the pool's thread and its thread-local buffers (a few KiB, at a
    // moment that races with the baseline): only the second run is measured.
    a.for_each_block(&rt, |_, _| Ok(())).unwrap();
    let baseline = reset_peak();
    a.for_each_block(&rt, |_, _| Ok(())).unwrap();
    let held = AT_FIRST
        .load(Ordering::Relaxed)
        .saturating_sub(baseline + block_bytes);
    let estimate = summary.plan_bytes;
    eprintln!(
        "{what}: {} tasks, plan holds {held} bytes ({} per task), estimated {estimate}",
        summary.tasks,
        held / summary.tasks
    );
    assert!(
        estimate >= held,
        "{what}: estimate {estimate} < held {held}"
    );
    assert!(
        estimate <= held + held / 2 + 16 * 1024,
        "{what}: estimate {estimate} far above held {held}"
    );
}

const T: usize = 720;
const S: usize = 32;

fn field() -> ChunkedArray<f32> {
    ChunkedArray::<f32>::random_normal(&[T, S, S], [1, S, S], 5, 0.0, 1.0).unwrap()
}

#[test]
fn plan_estimates_cover_the_heap_plans_hold() {
    let block = S * S * 4;
    let x = field();
    let y = ChunkedArray::<f32>::random_uniform(&[T, S, S], [1, S, S], 6, 0.0, 1.0).unwrap();
    plan_heap("elementwise", &((&x * 2.0 + &y).unwrap()), 64 * MIB, block);

    let months: Vec<i64> = (0..T).map(|d| ((d % 360) / 30 + 1) as i64).collect();
    let gb = x.groupby(0, months).unwrap();
    let clim = gb.mean().unwrap();
    plan_heap("groupby mean", &clim, 64 * MIB, block);
    let sd = gb.anomaly(&clim).unwrap().std_axis(0).unwrap();
    // At a small limit the reduction folds in chains (the frugal plans).
    plan_heap("anomaly std, frugal", &sd, 2 * MIB, block);
    plan_heap("anomaly std", &sd, 64 * MIB, block);

    plan_heap("rechunk", &x.rechunk([T, 8, 8]).unwrap(), 64 * MIB, block);
    plan_heap(
        "rolling mean",
        &x.rolling(0, 5).mean().unwrap(),
        64 * MIB,
        block,
    );
    let idx: Vec<usize> = (0..T).map(|i| (i * 7919) % T).collect();
    plan_heap("take", &x.take(0, &idx).unwrap(), 64 * MIB, block);
}
