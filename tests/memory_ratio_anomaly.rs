//! Memory contract at large blocks: the anomaly's standard deviation `std(x - x.mean(0), 0)`
//! over a Zarr store of time-pancake chunks (256 KiB) at a limit of 16 chunks (4 MiB), the
//! issue's 8 MiB chunks at 128 MiB scaled down. A tree reduction holds a partial of 2 MiB per
//! level and cannot fit; the frugal plan folds each output block's partial in a chain and reads
//! the store twice. Tracked peak ≤ limit; heap ≤ limit + 1 MiB (see README, memory contract).
#![cfg(feature = "zarr")]
mod common;
use chunkwise::prelude::*;
use common::*;

#[global_allocator]
static ALLOC: Counting = Counting;

#[test]
fn anomaly_std_of_pancake_chunks_at_a_sixteenth_of_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("t2m.zarr");
    let (t, y, x) = (96usize, 256usize, 256usize);
    let chunk = y * x * 4;
    let limit = 16 * chunk;
    {
        let a = ChunkedArray::<f32>::random_normal(&[t, y, x], [1, y, x], 7, 280.0, 3.0).unwrap();
        a.to_zarr(&runtime(64 * MIB), &store, "t2m").unwrap();
    }
    let x2 = ChunkedArray::<f32>::open_zarr(&store, "t2m").unwrap();
    let clim = x2.mean_axis(0).unwrap();
    let sd = (&x2 - &clim).unwrap().std_axis(0).unwrap();
    let rt = runtime(limit);
    let baseline = reset_peak();
    let got = sd.compute(&rt).unwrap();
    let report = rt.last_report();
    eprintln!("{report}");
    assert_within("anomaly std", &report, limit, baseline, MIB + got.len() * 4);

    // The same numbers as in memory, where nothing constrains the plan.
    let mem =
        ChunkedArray::from_ndarray(x2.compute(&runtime(64 * MIB)).unwrap(), [t, y, x]).unwrap();
    let want = (&mem - &mem.mean_axis(0).unwrap())
        .unwrap()
        .std_axis(0)
        .unwrap()
        .compute(&runtime(64 * MIB))
        .unwrap();
    for (g, w) in got.iter().zip(want.iter()) {
        assert!((g - w).abs() <= 1e-5 * w.abs(), "{g} vs {w}");
    }
}
