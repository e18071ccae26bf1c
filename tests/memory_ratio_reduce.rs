//! Memory contract at large blocks: `mean` and `std` over time of a Zarr store of pancake
//! chunks (640 KiB; the 10 MiB chunks scaled down) at limits of 1/8 and 1/6.4 of the
//! chunk: each runs within the limit (heap ≤ limit + 1 MiB, see README), computing output
//! blocks in pieces where one partial would not fit. At a limit nothing fits, the run is
//! refused before anything runs, naming a limit that works — and that limit works.
#![cfg(feature = "zarr")]
mod common;
use chunkwise::prelude::*;
use common::*;

#[global_allocator]
static ALLOC: Counting = Counting;

/// The limit a refusal names: `PlanTooLarge` names one that works; `TaskTooLarge` the least
/// the task needs (planning again there then fits or names the plan's own).
fn needed_of(e: &Error) -> (usize, bool) {
    match e {
        Error::PlanTooLarge { needed, limit, .. } => {
            assert!(
                needed > limit && e.to_string().contains("would work"),
                "{e}"
            );
            (*needed, true)
        }
        Error::TaskTooLarge { needed, limit, .. } => {
            assert!(needed > limit && e.to_string().contains("at least"), "{e}");
            (*needed, false)
        }
        other => panic!("expected a plan-time refusal, got {other}"),
    }
}

/// Runs `f` at `limit`: within it, or refused before any work; on a refusal, at the limit it
/// names, which must work (a `TaskTooLarge`, the least its task needs, may first lead to a
/// larger one). Returns the limit that worked.
fn run_within_or_at_named_limit(
    what: &str,
    f: &dyn Fn(&Runtime) -> Result<usize>,
    limit: usize,
) -> usize {
    let mut limit = limit;
    let mut must_work = false;
    for _ in 0..5 {
        let rt = runtime(limit);
        let baseline = reset_peak();
        let started = std::time::Instant::now();
        match f(&rt) {
            Ok(out) => {
                assert_within(what, &rt.last_report(), limit, baseline, MIB + out);
                return limit;
            }
            Err(e) => {
                assert!(!must_work, "{what}: the named limit {limit} failed: {e}");
                assert!(
                    started.elapsed().as_secs_f64() < 1.0,
                    "{what}: refused after work"
                );
                let (needed, works) = needed_of(&e);
                eprintln!("{what}: refused at {limit}: {e}");
                limit = needed;
                must_work = works;
            }
        }
    }
    panic!("{what}: no working limit named");
}

#[test]
fn reductions_of_pancake_chunks_fit_or_are_refused_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("r.zarr");
    let (t, y, x) = (40usize, 400usize, 400usize);
    let chunk = y * x * 4;
    {
        let a = ChunkedArray::<f32>::from_shape_fn(&[t, y, x], [1, y, x], |i| {
            (i[0] % 7) as f32 + (i[1] + i[2]) as f32 * 1e-3
        })
        .unwrap();
        a.to_zarr(&runtime(64 * MIB), &store, "x").unwrap();
    }
    let a = ChunkedArray::<f32>::open_zarr(&store, "x").unwrap();

    // mean at 8 chunks: one partial (4 chunks) and one read (chunk + decode buffers), and the
    // plan itself (about 40 KiB).
    let limit = 8 * chunk + 64 * 1024;
    let rt = runtime(limit);
    let baseline = reset_peak();
    let m = a.mean_axis(0).unwrap().compute(&rt).unwrap();
    assert_within(
        "mean at 1/8",
        &rt.last_report(),
        limit,
        baseline,
        MIB + m.len() * 4,
    );
    let want = (0..t).map(|k| (k % 7) as f64).sum::<f64>() / t as f64 + 0.003;
    assert!((m[[1, 2]] as f64 - want).abs() < 1e-4, "{}", m[[1, 2]]);

    // mean at 6.4 chunks (64 MiB for 10 MiB chunks): one partial is 4 chunks, a read 4 more;
    // the output blocks are computed in pieces.
    let mean = |rt: &Runtime| a.mean_axis(0)?.compute(rt).map(|m| m.len() * 4);
    let works = run_within_or_at_named_limit("mean at 1/6.4", &mean, chunk * 64 / 10);
    assert_eq!(works, chunk * 64 / 10);

    // std at 8 chunks: its partial alone is 8 chunks (32 bytes an element); in pieces too.
    let std = |rt: &Runtime| a.std_axis(0)?.compute(rt).map(|m| m.len() * 4);
    let works = run_within_or_at_named_limit("std at 1/8", &std, 8 * chunk);
    assert_eq!(works, 8 * chunk);
    let s = a.std_axis(0).unwrap().compute(&runtime(works)).unwrap();
    assert!(s[[3, 3]] > 1.5 && s[[3, 3]] < 2.5, "{}", s[[3, 3]]);

    // At 2 chunks nothing fits (a read alone is a chunk and its decode buffers): refused at
    // once, naming a limit that works.
    let works = run_within_or_at_named_limit("mean at 1/2", &mean, 2 * chunk);
    assert!(works > 2 * chunk);
}
