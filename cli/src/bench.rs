//! `chunkwise bench`: standard in-memory workloads run three ways — chunkwise (on the
//! command's runtime), `ndarray` on one thread, and `ndarray` with rayon (a pool of the same
//! thread count) — with times, ratios and chunkwise's peak tracked bytes and task counts.
//!
//! Each contender runs once to warm up and then ten times (W1's three contenders alternating,
//! round by round); the median counts, and the fastest and slowest runs are reported beside
//! it (these machines are noisy: a best-of-three hides how much). Each result is checked
//! against ndarray's; a mismatch is reported on stderr.

use crate::Ctx;
use crate::commands::human_bytes;
use anyhow::{Context, Result};
use chunkwise::ChunkedArray;
use ndarray::parallel::prelude::*;
use ndarray::{Array1, Array2, Axis, Zip, s};
use serde_json::json;
use std::time::Instant;

/// One workload's timings.
struct Row {
    workload: String,
    chunkwise: Timing,
    ndarray: Timing,
    ndarray_par: Timing,
    peak_bytes: usize,
    tasks: usize,
}

/// Timed runs of each contender, after one warm-up run.
const REPS: usize = 10;

/// The median, fastest and slowest of [`REPS`] runs, in seconds.
#[derive(Clone, Copy)]
struct Timing {
    median: f64,
    min: f64,
    max: f64,
}

/// The result of the last run of `f` and the timing of [`REPS`] runs after a warm-up.
fn time<R>(mut f: impl FnMut() -> R) -> (R, Timing) {
    let mut last = std::hint::black_box(f());
    let mut t: Vec<f64> = Vec::with_capacity(REPS);
    for _ in 0..REPS {
        let s = Instant::now();
        last = std::hint::black_box(f());
        t.push(s.elapsed().as_secs_f64());
    }
    (last, timing(&mut t))
}

/// The timing of `t` (sorted in place).
fn timing(t: &mut [f64]) -> Timing {
    t.sort_by(f64::total_cmp);
    let n = t.len();
    Timing {
        median: (t[(n - 1) / 2] + t[n / 2]) / 2.0,
        min: t[0],
        max: t[n - 1],
    }
}

/// [`time`] for three contenders run side by side: after a warm-up of each, [`REPS`] rounds
/// of one run of each in turn, so a slow spell of the machine falls on all three alike.
fn time3<A, B, C>(
    mut a: impl FnMut() -> A,
    mut b: impl FnMut() -> B,
    mut c: impl FnMut() -> C,
) -> ((A, Timing), (B, Timing), (C, Timing)) {
    let (mut ra, mut rb, mut rc) = (
        std::hint::black_box(a()),
        std::hint::black_box(b()),
        std::hint::black_box(c()),
    );
    let mut t = [Vec::new(), Vec::new(), Vec::new()];
    for _ in 0..REPS {
        let s = Instant::now();
        ra = std::hint::black_box(a());
        t[0].push(s.elapsed().as_secs_f64());
        let s = Instant::now();
        rb = std::hint::black_box(b());
        t[1].push(s.elapsed().as_secs_f64());
        let s = Instant::now();
        rc = std::hint::black_box(c());
        t[2].push(s.elapsed().as_secs_f64());
    }
    let [ta, tb, tc] = &mut t;
    ((ra, timing(ta)), (rb, timing(tb)), (rc, timing(tc)))
}

/// Deterministic pseudo-random values in [-1, 1).
fn input(n: usize) -> Array2<f64> {
    let mut a = Array2::<f64>::zeros((n, n));
    Zip::indexed(&mut a).par_for_each(|(i, j), v| {
        let mut h = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (j as u64);
        h ^= h >> 33;
        h = h.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
        h ^= h >> 33;
        *v = (h >> 11) as f64 / (1u64 << 52) as f64 - 1.0;
    });
    a
}

/// Hides the input from the optimizer, so repeated runs are not folded into one.
fn bb<T>(x: &T) -> &T {
    std::hint::black_box(x)
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

fn check(name: &str, ok: bool) {
    if !ok {
        eprintln!("warning: bench {name}: chunkwise and ndarray results differ");
    }
}

fn all_close(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(&x, &y)| close(x, y))
}

pub(crate) fn bench(ctx: &Ctx, as_json: bool, quick: bool) -> Result<()> {
    let rt = &ctx.rt;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(rt.threads())
        .build()
        .context("cannot start the rayon pool for ndarray")?;
    let n: usize = if quick { 2048 } else { 8192 };
    let c = n / 8;
    let x = input(n);
    let mut rows = Vec::new();
    let mut push = |workload: String, cw: Timing, nd: Timing, par: Timing| {
        let r = rt.last_report();
        rows.push(Row {
            workload,
            chunkwise: cw,
            ndarray: nd,
            ndarray_par: par,
            peak_bytes: r.peak_tracked_bytes,
            tasks: r.tasks,
        });
    };

    // 1. Fused elementwise + sum.
    {
        let cx = ChunkedArray::from_ndarray(x.clone(), [c, c])?;
        let expr = (&cx * 2.0 + 1.0).powi(2).sum();
        ctx.write_dot(|| expr.to_dot())?;
        let f = |v: &f64| (v * 2.0 + 1.0).powi(2);
        // Alternating: W1's ratio to ndarray+rayon is the one with a target (≤ 1.1×).
        let ((cw, t_cw), (nd, t_nd), (par, t_par)) = time3(
            || expr.compute_scalar(rt),
            || bb(&x).iter().map(f).sum::<f64>(),
            || pool.install(|| bb(&x).par_iter().map(f).sum::<f64>()),
        );
        let cw = cw?;
        check("fused", close(cw, nd) && close(cw, par));
        push(format!("((x*2+1)^2).sum() {n}x{n} f64"), t_cw, t_nd, t_par);
    }

    // 2. mean_axis(0).
    {
        let cx = ChunkedArray::from_ndarray(x.clone(), [c, c])?;
        let (cw, t_cw) = time(|| cx.mean_axis(0).and_then(|m| m.compute(rt)));
        let cw = cw?;
        let (nd, t_nd) = time(|| bb(&x).mean_axis(Axis(0)).unwrap_or_default());
        let (par, t_par) = time(|| {
            pool.install(|| {
                let parts = rt.threads().max(1) * 4;
                let step = n.div_ceil(parts);
                (0..parts)
                    .into_par_iter()
                    .map(|k| {
                        let lo = (k * step).min(n);
                        let hi = ((k + 1) * step).min(n);
                        bb(&x).slice(s![lo..hi, ..]).sum_axis(Axis(0))
                    })
                    .reduce(|| Array1::zeros(n), |a, b| a + b)
                    / n as f64
            })
        });
        let cw: Vec<f64> = cw.iter().copied().collect();
        check(
            "mean_axis(0)",
            all_close(&cw, nd.as_slice().unwrap_or(&[]))
                && all_close(&cw, par.as_slice().unwrap_or(&[])),
        );
        push(format!("mean_axis(0) {n}x{n} f64"), t_cw, t_nd, t_par);
    }

    // 3. std_axis(1).
    {
        let cx = ChunkedArray::from_ndarray(x.clone(), [c, c])?;
        let (cw, t_cw) = time(|| cx.std_axis(1).and_then(|m| m.compute(rt)));
        let cw = cw?;
        let (nd, t_nd) = time(|| bb(&x).std_axis(Axis(1), 0.0));
        let (par, t_par) = time(|| {
            pool.install(|| {
                bb(&x)
                    .axis_iter(Axis(0))
                    .into_par_iter()
                    .map(|row| row.std(0.0))
                    .collect::<Vec<f64>>()
            })
        });
        let cw: Vec<f64> = cw.iter().copied().collect();
        let nd: Vec<f64> = nd.iter().copied().collect();
        // Different summation orders: compare loosely.
        let loose = |a: &[f64], b: &[f64]| {
            a.len() == b.len() && a.iter().zip(b).all(|(p, q)| (p - q).abs() < 1e-9)
        };
        check("std_axis(1)", loose(&cw, &nd) && loose(&cw, &par));
        push(format!("std_axis(1) {n}x{n} f64"), t_cw, t_nd, t_par);
    }

    // 4. Many small tasks: a sum over 10,000 blocks of ones.
    {
        let (m, b) = if quick { (2000, 20) } else { (10_000, 100) };
        let ones = ChunkedArray::<f64>::ones(&[m, m], [b, b])?;
        let expr = ones.sum();
        let (cw, t_cw) = time(|| expr.compute_scalar(rt));
        let cw = cw?;
        let (nd, t_nd) = time(|| Array2::<f64>::ones((m, m)).sum());
        let (par, t_par) =
            time(|| pool.install(|| Array2::<f64>::ones((m, m)).par_iter().sum::<f64>()));
        check("ones sum", close(cw, nd) && close(cw, par));
        push(
            format!("ones({m}x{m}).sum(), 10,000 blocks"),
            t_cw,
            t_nd,
            t_par,
        );
    }

    // 5. Rechunk column strips to row strips (ndarray: a copy into a new array).
    {
        let strip = n / 64;
        let cx = ChunkedArray::from_ndarray(x.clone(), [n, strip])?;
        let (cw, t_cw) = time(|| cx.rechunk([strip, n]).and_then(|r| r.compute(rt)));
        let cw = cw?;
        let (nd, t_nd) = time(|| {
            let mut out = Array2::<f64>::zeros((n, n));
            out.assign(&x);
            out
        });
        let (par, t_par) = time(|| {
            pool.install(|| {
                let mut out = Array2::<f64>::zeros((n, n));
                Zip::from(&mut out).and(&x).par_for_each(|o, &v| *o = v);
                out
            })
        });
        check(
            "rechunk",
            cw.as_slice() == nd.into_dyn().as_slice() && cw.as_slice() == par.into_dyn().as_slice(),
        );
        push(
            format!("rechunk ({n}, {strip}) -> ({strip}, {n}) f64"),
            t_cw,
            t_nd,
            t_par,
        );
    }

    if as_json {
        let list: Vec<serde_json::Value> = rows
            .iter()
            .map(|r| {
                json!({
                    "workload": r.workload,
                    "runs": REPS,
                    "chunkwise_s": r.chunkwise.median,
                    "chunkwise_min_s": r.chunkwise.min,
                    "chunkwise_max_s": r.chunkwise.max,
                    "ndarray_s": r.ndarray.median,
                    "ndarray_min_s": r.ndarray.min,
                    "ndarray_max_s": r.ndarray.max,
                    "ndarray_par_s": r.ndarray_par.median,
                    "ndarray_par_min_s": r.ndarray_par.min,
                    "ndarray_par_max_s": r.ndarray_par.max,
                    "peak_bytes": r.peak_bytes,
                    "tasks": r.tasks,
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(());
    }
    println!(
        "chunkwise on {} threads, memory limit {}; ndarray+rayon on {} threads",
        rt.threads(),
        human_bytes(rt.memory_limit()),
        rt.threads()
    );
    println!(
        "{:<40} {:>19} {:>19} {:>19} {:>6} {:>6} {:>9} {:>6}",
        "workload (median [min-max] of 10)",
        "chunkwise",
        "ndarray",
        "nd+rayon",
        "nd/cw",
        "par/cw",
        "peak",
        "tasks"
    );
    let cell = |t: Timing| format!("{:.3} [{:.3}-{:.3}]", t.median, t.min, t.max);
    for r in &rows {
        println!(
            "{:<40} {:>19} {:>19} {:>19} {:>5.2}x {:>5.2}x {:>9} {:>6}",
            r.workload,
            cell(r.chunkwise),
            cell(r.ndarray),
            cell(r.ndarray_par),
            r.ndarray.median / r.chunkwise.median.max(1e-12),
            r.ndarray_par.median / r.chunkwise.median.max(1e-12),
            human_bytes(r.peak_bytes),
            r.tasks
        );
    }
    println!(
        "(seconds; nd/cw, par/cw: ndarray's median over chunkwise's; above 1 means chunkwise \
         was faster)"
    );
    Ok(())
}
