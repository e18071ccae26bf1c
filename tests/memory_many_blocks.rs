//! Memory contract, the plan itself: an array of 10⁶ blocks at a 64 MiB limit. Its `sum` reads
//! the small blocks in blocks of about 1 MiB (a few tasks, not 10⁶), so the run — plan
//! included — stays within the limit. An elementwise result kept in 10⁶ blocks needs a task
//! per block, whose bookkeeping alone outgrows a small limit: lowering stops and the run is
//! refused with [`Error::PlanTooManyTasks`] before anything runs, the heap staying small.
mod common;
use chunkwise::prelude::*;
use common::*;

#[global_allocator]
static ALLOC: Counting = Counting;

#[test]
fn a_million_blocks_fit_or_are_refused_without_a_big_plan() {
    let limit = 64 * MIB;
    let rt = runtime(limit);
    let x = ChunkedArray::<f64>::from_shape_fn(&[1000, 1000], [1, 1], |i| (i[0] + i[1]) as f64)
        .unwrap();
    assert_eq!(x.nblocks(), 1_000_000);

    let baseline = reset_peak();
    let s = x.sum().compute_scalar(&rt).unwrap();
    let report = rt.last_report();
    assert_within("sum over 10^6 blocks", &report, limit, baseline, 4 * MIB);
    assert!(report.tasks < 10_000, "{report}");
    assert_eq!(s, 999.0 * 1e6);

    // A mean over one axis reads whole rows: the output keeps its 1000 blocks.
    let baseline = reset_peak();
    let m = x.mean_axis(0).unwrap().compute(&rt).unwrap();
    assert_within(
        "mean over 10^6 blocks",
        &rt.last_report(),
        limit,
        baseline,
        4 * MIB,
    );
    assert_eq!(m[[10]], 499.5 + 10.0);

    // 10^6 output blocks at 16 MiB: refused while lowering, before anything runs.
    let small = 16 * MIB;
    let rt = runtime(small);
    let y = &x * 2.0;
    let baseline = reset_peak();
    let started = std::time::Instant::now();
    let e = y.for_each_block(&rt, |_, _| Ok(())).unwrap_err();
    let heap = peak().saturating_sub(baseline);
    assert!(matches!(e, Error::PlanTooManyTasks { .. }), "{e}");
    assert!(e.to_string().contains("larger chunks"), "{e}");
    assert!(
        heap <= small + 4 * MIB,
        "lowering used {heap} bytes of heap: {e}"
    );
    assert!(started.elapsed().as_secs() < 10);
}
