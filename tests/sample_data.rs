//! The committed sample dataset (`data/`, written by `data/make_sample.py`) read through
//! chunkwise equals the statistics the generator recorded — as Zarr v3 and, with the `hdf5`
//! feature, as NetCDF4.
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
