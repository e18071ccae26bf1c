//! Reductions over an 8192² f64 array in memory (chunks 1024²): `sum`, `mean_axis(0)` and
//! `std_axis(1)` (W6) against ndarray on one thread and ndarray+rayon on two threads; and W5,
//! `ones((10000, 10000))` in 100² chunks `.sum()` (10,000 blocks, target ≤ 100 ms).
//!
//! The rayon baselines (inside a 2-thread pool):
//! - `sum`: `x.par_iter().sum()`;
//! - `mean_axis(0)`: row bands of 1024 rows in parallel (`axis_chunks_iter(Axis(0), 1024)
//!   .into_par_iter()`), each band `sum_axis(Axis(0))`, bands added, divided by the row count;
//! - `std_axis(1)`: one task per row (`Zip::from(x.rows()).par_map_collect`), either ndarray's
//!   own `row.std(0.)` (the single-thread algorithm, parallelised) or a two-pass row kernel
//!   (mean, then Σ(x−mean)²; what NumPy does) — the faster of the two is the bar.
//!
//! `cargo bench --bench reduce`.

mod common;

use chunkwise::ChunkedArray;
use common::*;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ndarray::{Array1, Array2, ArrayView1, Axis, Zip};
use rayon::prelude::*;
use std::hint::black_box;
use std::time::Duration;

const N: usize = 8192;
const CHUNK: usize = 1024;

/// Two-pass population-or-sample standard deviation of one row.
fn std_two_pass(row: ArrayView1<'_, f64>, ddof: f64) -> f64 {
    let xs = row.as_slice().expect("contiguous row");
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let ss: f64 = xs.iter().map(|&v| (v - mean) * (v - mean)).sum();
    (ss / (n - ddof)).sqrt()
}

fn par_mean_axis0(data: &Array2<f64>) -> Array1<f64> {
    let sum = data
        .axis_chunks_iter(Axis(0), CHUNK)
        .into_par_iter()
        .map(|band| band.sum_axis(Axis(0)))
        .reduce_with(|a, b| a + b)
        .expect("rows");
    sum / data.nrows() as f64
}

fn close(a: &[f64], b: &[f64]) -> bool {
    a.iter()
        .zip(b)
        .all(|(x, y)| (x - y).abs() <= 1e-9 * (1.0 + y.abs()))
}

fn reductions(c: &mut Criterion) {
    let data = random_square(N);
    let x = ChunkedArray::from_ndarray(data.clone(), [CHUNK, CHUNK]).expect("chunks");
    let rt = runtime("4 GiB");
    let pool = pool();
    let sum = x.sum();
    let mean0 = x.mean_axis(0).expect("axis");
    let std1 = x.std_axis(1).expect("axis");

    // Agreement checks, outside the timings.
    let s = sum.compute_scalar(&rt).expect("compute");
    assert!((s - data.sum()).abs() < 1e-6 * (N * N) as f64);
    let m = mean0.compute(&rt).expect("compute");
    assert!(close(
        m.as_slice().unwrap(),
        data.mean_axis(Axis(0)).unwrap().as_slice().unwrap()
    ));
    let sd = std1.compute(&rt).expect("compute");
    assert!(close(
        sd.as_slice().unwrap(),
        data.std_axis(Axis(1), 0.0).as_slice().unwrap()
    ));

    let cw_sum = || sum.compute_scalar(&rt).expect("compute");
    let nd_sum = || data.sum();
    let ry_sum = || pool.install(|| data.par_iter().sum::<f64>());
    let cw_mean = || mean0.compute(&rt).expect("compute");
    let nd_mean = || data.mean_axis(Axis(0)).expect("rows");
    let ry_mean = || pool.install(|| par_mean_axis0(&data));
    let cw_std = || std1.compute(&rt).expect("compute");
    let nd_std = || data.std_axis(Axis(1), 0.0);
    let ry_std = || pool.install(|| Zip::from(data.rows()).par_map_collect(|r| r.std(0.0)));
    let ry_std2 =
        || pool.install(|| Zip::from(data.rows()).par_map_collect(|r| std_two_pass(r, 0.0)));
    assert!(close(ry_std2().as_slice().unwrap(), sd.as_slice().unwrap()));

    if summaries_enabled() {
        let reps = 7;
        println!("== reductions over 8192² f64, chunks 1024² (median of {reps}, same process) ==");
        let line = |name: &str, cw: Duration, one: Duration, par: Duration, tasks: usize| {
            println!(
                "{name:<14} chunkwise {:.1} ms | ndarray 1t {:.1} ms | ndarray+rayon 2t {:.1} ms | ratio vs rayon {:.2}x, vs 1t {:.2}x  [tasks {tasks}]",
                ms(cw),
                ms(one),
                ms(par),
                ms(cw) / ms(par),
                ms(cw) / ms(one)
            )
        };
        let t = median_time(reps, cw_sum);
        let tasks = rt.last_report().tasks;
        line(
            "sum",
            t,
            median_time(reps, nd_sum),
            median_time(reps, ry_sum),
            tasks,
        );
        let t = median_time(reps, cw_mean);
        let tasks = rt.last_report().tasks;
        line(
            "mean_axis(0)",
            t,
            median_time(reps, nd_mean),
            median_time(reps, ry_mean),
            tasks,
        );
        let t = median_time(reps, cw_std);
        let tasks = rt.last_report().tasks;
        let (p1, p2) = (median_time(reps, ry_std), median_time(reps, ry_std2));
        line(
            "std_axis(1)",
            t,
            median_time(reps, nd_std),
            p1.min(p2),
            tasks,
        );
        println!(
            "  (std rayon: ndarray row.std {:.1} ms, two-pass rows {:.1} ms)",
            ms(p1),
            ms(p2)
        );
    }

    let mut grp = c.benchmark_group("reduce_8192sq");
    grp.sample_size(10)
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1))
        .throughput(Throughput::Bytes((N * N * 8) as u64));
    grp.bench_function("sum/chunkwise", |b| b.iter(|| black_box(cw_sum())));
    grp.bench_function("sum/ndarray_1t", |b| b.iter(|| black_box(nd_sum())));
    grp.bench_function("sum/ndarray_rayon_2t", |b| b.iter(|| black_box(ry_sum())));
    grp.bench_function("mean_axis0/chunkwise", |b| b.iter(|| black_box(cw_mean())));
    grp.bench_function("mean_axis0/ndarray_1t", |b| b.iter(|| black_box(nd_mean())));
    grp.bench_function("mean_axis0/ndarray_rayon_2t", |b| {
        b.iter(|| black_box(ry_mean()))
    });
    grp.bench_function("std_axis1/chunkwise", |b| b.iter(|| black_box(cw_std())));
    grp.bench_function("std_axis1/ndarray_1t", |b| b.iter(|| black_box(nd_std())));
    grp.bench_function("std_axis1/ndarray_rayon_2t", |b| {
        b.iter(|| black_box(ry_std()))
    });
    grp.bench_function("std_axis1/ndarray_rayon_2t_two_pass", |b| {
        b.iter(|| black_box(ry_std2()))
    });
    grp.finish();
}

/// W5: `ones((10000, 10000))` in 100² chunks, `.sum()` — 10,000 blocks.
fn w5(c: &mut Criterion) {
    let rt = runtime("4 GiB");
    let x = ChunkedArray::<f64>::ones(&[10_000, 10_000], [100, 100]).expect("chunks");
    let total = x.sum();
    let run = || total.compute_scalar(&rt).expect("compute");
    assert_eq!(run(), 1e8);
    if summaries_enabled() {
        let t = median_time(7, run);
        println!(
            "== W5 == ones((10000,10000)) chunks 100² .sum(): {:.1} ms (target ≤ 100 ms), {} tasks",
            ms(t),
            rt.last_report().tasks
        );
    }
    let mut grp = c.benchmark_group("W5");
    grp.sample_size(10)
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1));
    grp.bench_function("chunkwise/ones_10000sq_100sq_chunks_sum", |b| {
        b.iter(|| black_box(run()))
    });
    grp.finish();
}

criterion_group!(benches, reductions, w5);
criterion_main!(benches);
