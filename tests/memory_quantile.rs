//! Memory contract of quantiles (issue 12, G4 scaled down): the 10th, 50th and 90th
//! percentiles over time at every grid point of a Zarr store of thin time chunks, several
//! times the memory limit, as `quantile_axes` and `nanquantile_axes` along axis 0 (the store's
//! pancakes rechunked to pencils holding whole time lanes). Tracked peak ≤ limit, heap ≤
//! limit + slack; values equal NumPy's linear method computed here on the whole array.
#![cfg(feature = "zarr")]
mod common;
use chunkwise::prelude::*;
use common::*;
use ndarray::{ArrayD, Axis};

#[global_allocator]
static ALLOC: Counting = Counting;

const T: usize = 512;
const Y: usize = 256;
const X: usize = 64;
/// Store chunks: 8 time steps of a 16 × 64 tile (32 KiB).
const CHUNKS: [usize; 3] = [8, 16, 64];
/// Rows `y < NAN_ROWS` hold a NaN about every 50 values; the others none.
const NAN_ROWS: usize = 64;
const QS: [f64; 3] = [0.1, 0.5, 0.9];

/// A seasonal cycle plus a scrambled spread of values, some NaN.
fn value(t: usize, y: usize, x: usize) -> f32 {
    let h = (t * 7919 + y * 104_729 + x * 1_299_709) % 1009;
    if y < NAN_ROWS && h % 50 == 7 {
        return f32::NAN;
    }
    let season = 10.0 * ((t % 360) as f32 / 360.0 * std::f32::consts::TAU).sin();
    280.0 + season + h as f32 / 100.0 + y as f32 / 8.0
}

fn write_store(dir: &std::path::Path) -> std::path::PathBuf {
    let store = dir.join("t2m.zarr");
    ChunkedArray::<f32>::from_shape_fn(&[T, Y, X], CHUNKS, |i| value(i[0], i[1], i[2]))
        .unwrap()
        .to_zarr(&runtime(64 * MIB), &store, "t2m")
        .unwrap();
    store
}

/// NumPy's `quantile(lane, q)` (method "linear"), in f64; `skip_nan` as `nanquantile`.
fn lane_quantile(lane: &[f32], q: f64, skip_nan: bool) -> f64 {
    if !skip_nan && lane.iter().any(|v| v.is_nan()) {
        return f64::NAN;
    }
    let mut v: Vec<f64> = lane
        .iter()
        .filter(|v| !v.is_nan())
        .map(|&v| f64::from(v))
        .collect();
    v.sort_by(f64::total_cmp);
    let h = (v.len() - 1) as f64 * q;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(v.len() - 1);
    v[lo] + (h - lo as f64) * (v[hi] - v[lo])
}

/// Checks `got` (QS, Y, X) against the lanes of `all` (T, Y, X).
fn check(what: &str, got: &ArrayD<f32>, all: &ArrayD<f32>, skip_nan: bool) {
    assert_eq!(got.shape(), &[QS.len(), Y, X], "{what}");
    let mut nan_lanes = 0;
    for y in 0..Y {
        for x in 0..X {
            let lane: Vec<f32> = all
                .index_axis(Axis(2), x)
                .index_axis(Axis(1), y)
                .iter()
                .copied()
                .collect();
            for (k, &q) in QS.iter().enumerate() {
                let (g, w) = (f64::from(got[[k, y, x]]), lane_quantile(&lane, q, skip_nan));
                if w.is_nan() {
                    assert!(g.is_nan(), "{what} q {q} at ({y}, {x}): {g}, not NaN");
                    nan_lanes += 1;
                } else {
                    assert!(
                        (g - w).abs() <= 1e-6 * w.abs(),
                        "{what} q {q} at ({y}, {x}): {g} vs {w}"
                    );
                }
            }
        }
    }
    // The NaN rows make `quantile` NaN there, and `nanquantile` never.
    assert_eq!(nan_lanes > 0, !skip_nan, "{what}: {nan_lanes} NaN results");
}

#[test]
fn quantiles_over_time_of_a_store_several_times_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let store = write_store(dir.path());
    let limit = 6 * MIB;
    let nbytes = T * Y * X * 4;
    assert!(nbytes >= 5 * limit, "{nbytes} bytes");
    let x = ChunkedArray::<f32>::open_zarr(&store, "t2m").unwrap();
    assert_eq!(x.chunks().chunk_shape(), CHUNKS.to_vec());
    let all = x.compute(&runtime(64 * MIB)).unwrap();

    for (what, skip_nan) in [("quantile", false), ("nanquantile", true)] {
        let q = if skip_nan {
            x.nanquantile_axes(&QS, &[0])
        } else {
            x.quantile_axes(&QS, &[0])
        }
        .unwrap();
        let rt = runtime(limit);
        let baseline = reset_peak();
        let got = q.compute(&rt).unwrap();
        let report = rt.last_report();
        eprintln!("{what}: {report}");
        assert_within(
            what,
            &report,
            limit,
            baseline,
            // The result, and zarrs' untracked compressed and decoded chunk buffers on each
            // of the two threads.
            MIB + got.len() * 4 + 4 * CHUNKS.iter().product::<usize>() * 4,
        );
        check(what, &got, &all, skip_nan);
    }

    // One quantile along the axis: the same values as the first of QS.
    let rt = runtime(limit);
    let p10 = x.nanquantile_axis(0.1, 0).unwrap().compute(&rt).unwrap();
    assert!(rt.last_report().peak_tracked_bytes <= limit);
    let many = x.nanquantile_axes(&QS, &[0]).unwrap().compute(&rt).unwrap();
    assert_eq!(p10, many.index_axis(Axis(0), 0).to_owned());
}
