//! W1: `((x*2+1)^2)` over an 8192² f64 array in memory (chunks 1024²), into memory and fused
//! with `.sum()`, against ndarray on one thread and ndarray+rayon on the same two threads;
//! and the per-task overhead of a 10,000-block trivial map (`ones + 1` then `.sum()`).
//!
//! `cargo bench --bench elementwise`. Besides criterion's output, each group prints a
//! side-by-side summary (medians of a few runs, in this same process) with ratios.

mod common;

use chunkwise::ChunkedArray;
use common::*;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ndarray::{Array2, Zip};
use rayon::prelude::*;
use std::hint::black_box;
use std::time::Duration;

const N: usize = 8192;
const CHUNK: usize = 1024;

#[inline(always)]
fn f(v: f64) -> f64 {
    (v * 2.0 + 1.0).powi(2)
}

fn w1(c: &mut Criterion) {
    let data = random_square(N);
    let x = ChunkedArray::from_ndarray(data.clone(), [CHUNK, CHUNK]).expect("chunks");
    let y = (&x * 2.0 + 1.0).powi(2);
    let total = y.sum();
    let rt = runtime("4 GiB");
    let pool = pool();

    // Agreement check, outside the timings.
    let want: f64 = data.fold(0.0, |a, &v| a + f(v));
    let got = total.compute_scalar(&rt).expect("compute");
    assert!((got - want).abs() <= 1e-9 * want.abs(), "{got} vs {want}");

    let cw_mem = || y.compute(&rt).expect("compute");
    let cw_sum = || total.compute_scalar(&rt).expect("compute");
    let nd_mem = || data.mapv(f);
    let nd_sum = || data.fold(0.0, |a, &v| a + f(v));
    let ry_mem = || pool.install(|| Zip::from(&data).par_map_collect(|&v| f(v)));
    let ry_sum = || pool.install(|| data.par_iter().map(|&v| f(v)).sum::<f64>());

    if summaries_enabled() {
        let reps = 7;
        let (a, b, c2) = (
            median_time(reps, cw_mem),
            median_time(reps, nd_mem),
            median_time(reps, ry_mem),
        );
        let report_mem = rt.last_report();
        let (d, e, g) = (
            median_time(reps, cw_sum),
            median_time(reps, nd_sum),
            median_time(reps, ry_sum),
        );
        let report_sum = rt.last_report();
        println!("== W1 summary (median of {reps}, same process) ==");
        println!(
            "into memory: chunkwise {:.1} ms | ndarray 1t {:.1} ms | ndarray+rayon 2t {:.1} ms | ratio vs rayon {:.2}x, vs 1t {:.2}x  [tasks {}, peak tracked {} B]",
            ms(a),
            ms(b),
            ms(c2),
            ms(a) / ms(c2),
            ms(a) / ms(b),
            report_mem.tasks,
            report_mem.peak_tracked_bytes
        );
        println!(
            "fused sum:   chunkwise {:.1} ms | ndarray 1t {:.1} ms | ndarray+rayon 2t {:.1} ms | ratio vs rayon {:.2}x, vs 1t {:.2}x  [tasks {}, peak tracked {} B]",
            ms(d),
            ms(e),
            ms(g),
            ms(d) / ms(g),
            ms(d) / ms(e),
            report_sum.tasks,
            report_sum.peak_tracked_bytes
        );
    }

    let mut grp = c.benchmark_group("W1");
    grp.sample_size(10)
        .measurement_time(Duration::from_secs(4))
        .warm_up_time(Duration::from_secs(1))
        .throughput(Throughput::Bytes((N * N * 8) as u64));
    grp.bench_function("chunkwise/into_memory", |b| b.iter(|| black_box(cw_mem())));
    grp.bench_function("ndarray_1t/into_memory", |b| b.iter(|| black_box(nd_mem())));
    grp.bench_function("ndarray_rayon_2t/into_memory", |b| {
        b.iter(|| black_box(ry_mem()))
    });
    grp.bench_function("chunkwise/fused_sum", |b| b.iter(|| black_box(cw_sum())));
    grp.bench_function("ndarray_1t/sum", |b| b.iter(|| black_box(nd_sum())));
    grp.bench_function("ndarray_rayon_2t/sum", |b| b.iter(|| black_box(ry_sum())));
    grp.finish();
}

/// 10,000 blocks of 100² (`ones((10000, 10000)) + 1`, then `.sum()`): the scheduling cost
/// per task, with the kernel time estimated from ndarray doing one block's work.
fn task_overhead(c: &mut Criterion) {
    const SIDE: usize = 10_000;
    const B: usize = 100;
    let rt = runtime("4 GiB");
    let x = ChunkedArray::<f64>::ones(&[SIDE, SIDE], [B, B]).expect("chunks");
    let total = (&x + 1.0).sum();
    let plain = x.sum();
    let run = || total.compute_scalar(&rt).expect("compute");
    let run_plain = || plain.compute_scalar(&rt).expect("compute");
    // The map itself, streamed: one task per block, each block handed to a trivial sink.
    let mapped = &x + 1.0;
    let run_map = || {
        let mut seen = 0usize;
        mapped
            .for_each_block(&rt, |_, b| {
                seen += b.len();
                Ok(())
            })
            .expect("stream");
        seen
    };
    // One block of the map in ndarray: fill a 100² block with ones and add 1.
    let one_map_block = || Array2::<f64>::from_elem((B, B), 1.0) + 1.0;
    assert_eq!(run(), 2.0 * (SIDE * SIDE) as f64);
    // One block's work in ndarray: fill a 100² block with ones, add 1, sum.
    let one_block = || {
        let b = Array2::<f64>::from_elem((B, B), 1.0);
        (b + 1.0).sum()
    };
    let blocks = (SIDE / B) * (SIDE / B);

    if summaries_enabled() {
        let total_t = median_time(7, run);
        let tasks = rt.last_report().tasks;
        let plain_t = median_time(7, run_plain);
        let plain_tasks = rt.last_report().tasks;
        let block_t = median_time(2001, one_block);
        let kernel = block_t.as_secs_f64() * blocks as f64 / THREADS as f64;
        let per_task = |t: Duration, n: usize| (t.as_secs_f64() - kernel) / n as f64 * 1e6;
        println!("== per-task overhead (10,000 blocks of 100², 2 threads) ==");
        println!(
            "(ones+1).sum(): {:.1} ms for {tasks} tasks; ndarray one block {:.2} µs → kernel estimate {:.1} ms (×{blocks}/{THREADS}); overhead {:.2} µs/task",
            ms(total_t),
            block_t.as_secs_f64() * 1e6,
            kernel * 1e3,
            per_task(total_t, tasks)
        );
        println!(
            "ones.sum() (W5): {:.1} ms for {plain_tasks} tasks; overhead vs the same kernel estimate {:.2} µs/task",
            ms(plain_t),
            per_task(plain_t, plain_tasks)
        );
        let map_t = median_time(7, run_map);
        let map_tasks = rt.last_report().tasks;
        let map_block_t = median_time(2001, one_map_block);
        let map_kernel = map_block_t.as_secs_f64() * blocks as f64 / THREADS as f64;
        println!(
            "(ones+1) streamed block by block: {:.1} ms for {map_tasks} tasks; ndarray one block {:.2} µs → kernel estimate {:.1} ms; overhead {:.2} µs/task",
            ms(map_t),
            map_block_t.as_secs_f64() * 1e6,
            map_kernel * 1e3,
            (map_t.as_secs_f64() - map_kernel) / map_tasks as f64 * 1e6
        );
    }

    let mut grp = c.benchmark_group("task_overhead");
    grp.sample_size(10)
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1));
    grp.bench_function("chunkwise/ones_plus_1_sum_10000_blocks", |b| {
        b.iter(|| black_box(run()))
    });
    grp.bench_function("ndarray_1t/one_100x100_block", |b| {
        b.iter(|| black_box(one_block()))
    });
    grp.finish();
}

criterion_group!(benches, w1, task_overhead);
criterion_main!(benches);
