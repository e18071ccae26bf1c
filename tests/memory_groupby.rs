//! Memory contract of grouped reductions (issue 12, G1 and G2 scaled down): over a Zarr store
//! of daily steps in 1-step chunks (two 360-day years), ten times the memory limit, the monthly
//! climatology `groupby(month).mean()` and the anomaly's standard deviation
//! `std(x - clim[month], axis 0)` in one graph. Tracked peak ≤ limit, heap ≤ limit + 1 MiB;
//! values equal an in-memory f64 reference.
#![cfg(feature = "zarr")]
mod common;
use chunkwise::prelude::*;
use common::*;
use ndarray::{Array3, ArrayD, Axis};

#[global_allocator]
static ALLOC: Counting = Counting;

const T: usize = 720;
const Y: usize = 128;
const X: usize = 128;

/// Month labels (1..=12) of two 360-day years of daily steps.
fn months() -> Vec<i64> {
    (0..T).map(|d| ((d % 360) / 30 + 1) as i64).collect()
}

fn write_store(dir: &std::path::Path) -> std::path::PathBuf {
    let store = dir.join("t2m.zarr");
    // A seasonal cycle plus noise, as temperatures in kelvin.
    let seasonal = ChunkedArray::<f32>::from_shape_fn(&[T, Y, X], [1, Y, X], |i| {
        280.0 + 10.0 * ((i[0] % 360) as f32 / 360.0 * std::f32::consts::TAU).sin()
    })
    .unwrap();
    let noise = ChunkedArray::<f32>::random_normal(&[T, Y, X], [1, Y, X], 11, 0.0, 2.0).unwrap();
    (&seasonal + &noise)
        .unwrap()
        .to_zarr(&runtime(64 * MIB), &store, "t2m")
        .unwrap();
    store
}

/// Monthly climatology (12, Y, X) and the anomaly's std over time (Y, X), in f64.
fn reference(a: &ArrayD<f32>) -> (Array3<f64>, ndarray::Array2<f64>) {
    let a = a
        .mapv(f64::from)
        .into_dimensionality::<ndarray::Ix3>()
        .unwrap();
    let m = months();
    let mut clim = Array3::<f64>::zeros((12, Y, X));
    let mut n = [0f64; 12];
    for (t, &l) in m.iter().enumerate() {
        let g = (l - 1) as usize;
        let mut c = clim.index_axis_mut(Axis(0), g);
        c += &a.index_axis(Axis(0), t);
        n[g] += 1.0;
    }
    for (g, n) in n.iter().enumerate() {
        let mut c = clim.index_axis_mut(Axis(0), g);
        c /= *n;
    }
    let mut anom = a.clone();
    for (t, &l) in m.iter().enumerate() {
        let mut r = anom.index_axis_mut(Axis(0), t);
        r -= &clim.index_axis(Axis(0), (l - 1) as usize);
    }
    let sd = anom.std_axis(Axis(0), 0.0);
    (clim, sd)
}

#[test]
fn monthly_climatology_and_anomaly_std_of_a_store_ten_times_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let store = write_store(dir.path());
    let chunk = Y * X * 4;
    let limit = T * chunk / 10;
    let x = ChunkedArray::<f32>::open_zarr(&store, "t2m").unwrap();
    let gb = x.groupby(0, months()).unwrap();
    assert_eq!(gb.strategy(), GroupMethod::Cohorts);
    assert_eq!(gb.groups(), (1..=12).collect::<Vec<i64>>().as_slice());

    // G1: the climatology.
    let clim = gb.mean().unwrap();
    assert!(clim.explain().contains("cohorts"), "{}", clim.explain());
    let rt = runtime(limit);
    let baseline = reset_peak();
    let got_clim = clim.compute(&rt).unwrap();
    let report = rt.last_report();
    eprintln!("{report}");
    assert_within(
        "monthly climatology",
        &report,
        limit,
        baseline,
        MIB + got_clim.len() * 4,
    );

    // G2: the anomaly's std, one graph (the store is read for the climatology and again for
    // the anomaly).
    let sd = gb.anomaly(&clim).unwrap().std_axis(0).unwrap();
    let rt = runtime(limit);
    let baseline = reset_peak();
    let got_sd = sd.compute(&rt).unwrap();
    let report = rt.last_report();
    eprintln!("{report}");
    assert_within(
        "anomaly std",
        &report,
        limit,
        baseline,
        // The plan's first MiB (its allowance: the rest of its 1.6 MiB is tracked), the
        // result, and four chunks for what lives outside the tasks' reservations (zarrs'
        // per-read metadata and codec state, the workers' views). An estimate of the plan
        // that missed the kernels' vectors of inputs left 0.4 MiB of it untracked and the
        // heap above this bound (tests/memory_plan_estimate.rs checks the estimate).
        MIB + got_sd.len() * 4 + 4 * chunk,
    );

    let all = x.compute(&runtime(64 * MIB)).unwrap();
    let (want_clim, want_sd) = reference(&all);
    for (g, w) in got_clim.iter().zip(want_clim.iter()) {
        assert!((*g as f64 - w).abs() <= 1e-5 * w.abs(), "clim {g} vs {w}");
    }
    for (g, w) in got_sd.iter().zip(want_sd.iter()) {
        assert!((*g as f64 - w).abs() <= 1e-4 * w.abs(), "std {g} vs {w}");
    }
}
