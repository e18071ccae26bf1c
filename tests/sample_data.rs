//! The committed sample dataset (`data/`, written by `data/make_sample.py`) read through
//! chunkwise equals the statistics the generator recorded — as Zarr v3 and, with the `hdf5`
//! feature, as NetCDF4 — and the README's main job (the monthly climatology and monthly
//! anomaly standard deviation of `examples/climatology.rs`) equals xarray's answers.
use chunkwise::OpKind;
use chunkwise::prelude::*;
use serde_json::Value;

fn expected() -> Value {
    serde_json::from_str(&std::fs::read_to_string("data/sample_expected.json").unwrap()).unwrap()
}

fn check(t2m: &ChunkedArray<f32>, what: &str) {
    let e = expected();
    let rt = Runtime::builder()
        .threads(2)
        .memory_limit("32 MiB")
        .build()
        .unwrap();
    let shape: Vec<usize> = e["shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    assert_eq!(t2m.shape(), shape.as_slice(), "{what}");
    let x = t2m.astype::<f64>();
    let stats = compute_all(
        &rt,
        &[&x.mean(), &x.std(), &x.min().unwrap(), &x.max().unwrap()],
    )
    .unwrap();
    let close = |got: f64, key: &str, tol: f64| {
        let want = e[key].as_f64().unwrap();
        assert!(
            (got - want).abs() <= tol * want.abs().max(1.0),
            "{what} {key}: {got} vs {want}"
        );
    };
    close(stats[0][[]], "global_mean", 1e-9);
    close(stats[1][[]], "global_std", 1e-9);
    close(stats[2][[]], "global_min", 0.0);
    close(stats[3][[]], "global_max", 0.0);
    let clim = t2m.mean_axis(0).unwrap().compute(&rt).unwrap();
    for p in e["time_mean_at"].as_array().unwrap() {
        let (i, j) = (
            p["lat_index"].as_u64().unwrap() as usize,
            p["lon_index"].as_u64().unwrap() as usize,
        );
        let want = p["mean"].as_f64().unwrap();
        assert!(
            (clim[[i, j]] as f64 - want).abs() < 1e-4 * want,
            "{what} time mean at ({i}, {j})"
        );
    }
    assert!(rt.last_report().peak_tracked_bytes <= rt.memory_limit());
}

#[cfg(feature = "zarr")]
#[test]
fn sample_zarr_matches_recorded_statistics() {
    check(
        &ChunkedArray::<f32>::open_zarr("data/sample.zarr", "t2m").unwrap(),
        "zarr",
    );
}

#[cfg(feature = "hdf5")]
#[test]
fn sample_netcdf_matches_recorded_statistics() {
    check(
        &ChunkedArray::<f32>::open_hdf5("data/sample.nc", "t2m").unwrap(),
        "netcdf",
    );
}

/// The main job of `examples/climatology.rs`, as it computes it: month labels from the store's
/// CF time coordinate, `groupby(0, months).mean()` and `std` over time of the anomaly, against
/// xarray's `groupby("time.month")` on the same store (recorded by `data/make_sample.py`).
#[cfg(feature = "zarr")]
#[test]
fn monthly_climatology_and_anomaly_std_match_xarray() {
    use chunkwise::io::zarr::ZarrSource;
    use chunkwise::time::TimeCoder;
    let e = &expected()["monthly"];
    let rt = Runtime::builder()
        .threads(2)
        .memory_limit("32 MiB")
        .build()
        .unwrap();
    let coord = ZarrSource::open("data/sample.zarr", "time").unwrap();
    let attr = |k: &str| coord.attributes()[k].as_str().unwrap().to_string();
    let coder = TimeCoder::new(&attr("units"), Some(&attr("calendar"))).unwrap();
    let steps = ChunkedArray::<f64>::open_zarr("data/sample.zarr", "time")
        .unwrap()
        .compute(&rt)
        .unwrap();
    let months: Vec<i64> = coder
        .decode(steps.as_slice().unwrap())
        .unwrap()
        .iter()
        .map(|t| i64::from(t.month))
        .collect();
    let t2m = ChunkedArray::<f32>::open_zarr("data/sample.zarr", "t2m").unwrap();
    let gb = t2m.groupby(0, months).unwrap();
    let want_months: Vec<i64> = e["months"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_i64().unwrap())
        .collect();
    assert_eq!(gb.groups(), want_months.as_slice());
    let clim = gb.mean().unwrap();
    let sd = gb.anomaly(&clim).unwrap().std_axis(0).unwrap();
    let (clim_mem, sd_mem) = (clim.compute(&rt).unwrap(), sd.compute(&rt).unwrap());
    assert!(rt.last_report().peak_tracked_bytes <= rt.memory_limit());
    assert_eq!(clim_mem.shape(), &[12, 73, 144]);
    assert_eq!(sd_mem.shape(), &[73, 144]);
    // float32 results against float64 references: within one float32 rounding.
    let near = |got: f32, want: f64, what: &str| {
        assert!(
            (f64::from(got) - want).abs() <= 2e-7 * want.abs().max(1.0),
            "{what}: {got} vs {want}"
        );
    };
    for p in e["at"].as_array().unwrap() {
        let (i, j) = (
            p["lat_index"].as_u64().unwrap() as usize,
            p["lon_index"].as_u64().unwrap() as usize,
        );
        for (m, want) in p["clim"].as_array().unwrap().iter().enumerate() {
            near(
                clim_mem[[m, i, j]],
                want.as_f64().unwrap(),
                &format!("climatology of month {} at ({i}, {j})", m + 1),
            );
        }
        near(
            sd_mem[[i, j]],
            p["anomaly_std"].as_f64().unwrap(),
            &format!("anomaly std at ({i}, {j})"),
        );
    }
    let x = clim.astype::<f64>();
    let spatial = x.mean_axes(&[1, 2], false).unwrap().compute(&rt).unwrap();
    for (m, want) in e["clim_spatial_mean"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        let want = want.as_f64().unwrap();
        assert!(
            (spatial[m] - want).abs() <= 1e-6 * want,
            "spatial mean of month {}: {} vs {want}",
            m + 1,
            spatial[m]
        );
    }
    let sd_mean = sd.astype::<f64>().mean().compute_scalar(&rt).unwrap();
    let want = e["anomaly_std_spatial_mean"].as_f64().unwrap();
    assert!((sd_mean - want).abs() <= 1e-5 * want, "{sd_mean} vs {want}");
    assert!(rt.last_report().peak_tracked_bytes <= rt.memory_limit());
}

#[cfg(feature = "zarr")]
#[test]
fn requesting_another_dtype_names_both() {
    let err = ChunkedArray::<i32>::open_zarr("data/sample.zarr", "t2m").unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::DTypeMismatch { .. }), "{err:?}");
    assert!(msg.contains("int32") && msg.contains("float32"), "{msg}");
}

/// Rechunking a store reads target-shaped regions directly only when that decodes little
/// more than the target (here: whole time chunks merged); pencils from pancakes instead read
/// whole store chunks and reassemble them. Values are the same either way.
#[cfg(feature = "zarr")]
#[test]
fn store_rechunks_read_directly_only_when_cheap() {
    let rt = Runtime::builder()
        .threads(2)
        .memory_limit("64 MiB")
        .build()
        .unwrap();
    let x = ChunkedArray::<f32>::open_zarr("data/sample.zarr", "t2m").unwrap();
    let want = x.compute(&rt).unwrap();
    let merged = x.rechunk([20, 73, 144]).unwrap();
    let plan = merged.plan_summary(&rt);
    assert_eq!(plan.optimized_of(OpKind::Rechunk).count(), 0, "{plan}");
    assert_eq!(merged.compute(&rt).unwrap(), want);
    let pencils = x.rechunk([60, 8, 8]).unwrap();
    let plan = pencils.plan_summary(&rt);
    assert_eq!(plan.optimized_of(OpKind::Rechunk).count(), 1, "{plan}");
    assert_eq!(pencils.compute(&rt).unwrap(), want);
}
