//! Memory contract on real storage: climatology (mean over time) and the anomaly's standard
//! deviation, `std(x - mean(x, 0), 0)`, over a generated Zarr store of 1 GiB with a 256 MiB
//! limit. Tracked peak ≤ limit; heap peak ≤ limit + 64 MiB (zarrs' decode buffers included).
#![cfg(feature = "zarr")]
mod common;
use chunkwise::io::zarr::{ZarrCompression, ZarrWriteOptions};
use chunkwise::prelude::*;
use common::*;

#[global_allocator]
static ALLOC: Counting = Counting;

#[test]
fn climatology_and_anomaly_over_a_1gib_store_stay_within_256mib() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("t2m.zarr");
    let (t, y, x) = (1024usize, 512usize, 512usize);
    {
        // A smooth field (seasonal cycle + gradient) plus noise: compresses like real data.
        let rt = runtime(256 * MIB);
        let base = ChunkedArray::<f32>::from_shape_fn(&[t, y, x], [1, y, x], move |i| {
            let season = (i[0] as f32 * std::f32::consts::TAU / 365.0).sin() * 10.0;
            280.0 + season - 30.0 * (i[1] as f32 / y as f32) + (i[2] % 16) as f32 * 0.1
        })
        .unwrap();
        let noise = ChunkedArray::<f32>::random_normal(&[t, y, x], [1, y, x], 3, 0.0, 2.0).unwrap();
        let field = (&base + &noise).unwrap();
        let opts = ZarrWriteOptions {
            compression: ZarrCompression::Zstd { level: 1 },
            ..Default::default()
        };
        field.to_zarr_with(&rt, &store, "t2m", opts, None).unwrap();
    }
    let limit = 256 * MIB;
    let rt = runtime(limit);
    let x2 = ChunkedArray::<f32>::open_zarr(&store, "t2m").unwrap();
    assert!(x2.len() * 4 >= 1 << 30);

    let clim = x2.mean_axis(0).unwrap();
    let baseline = reset_peak();
    let m = clim.compute(&rt).unwrap();
    assert_within(
        "climatology",
        &rt.last_report(),
        limit,
        baseline,
        64 * MIB + m.len() * 4,
    );
    // Mean over a whole number of years is about 280 - 30 * lat fraction (+ the lon ripple).
    assert!((m[[0, 0]] - 280.0).abs() < 1.0, "{}", m[[0, 0]]);

    let sd = (&x2 - &clim).unwrap().std_axis(0).unwrap();
    let baseline = reset_peak();
    let s = sd.compute(&rt).unwrap();
    assert_within(
        "anomaly std",
        &rt.last_report(),
        limit,
        baseline,
        64 * MIB + s.len() * 4,
    );
    // Noise std 2 plus the seasonal cycle's (10 / sqrt 2 ≈ 7.07): sqrt(4 + 50) ≈ 7.35.
    let v = s[[10, 10]];
    assert!((v - 7.35).abs() < 0.5, "{v}");
}
