//! `Dataset::open` against stores and files written by xarray (tests/fixtures/dataset, made by
//! `make_fixtures.py` there): every decoded value, coordinate, time and accessor equals
//! xarray's own decoded view (`*.expected.json`, written by the same script). Then the round
//! trip: chunkwise writes the dataset back to Zarr v2 and v3 and xarray, run as
//! `$CHUNKWISE_PYTHON` (default `python3`), compares it with the original
//! (`check_roundtrip.py`).

use chunkwise::dataset::{CoordValues, Dataset, DatasetWriteOptions, Label};
use chunkwise::io::zarr::ZarrFormat;
use chunkwise::prelude::*;
use serde_json::Value;
use std::path::{Path, PathBuf};

const LIMIT: usize = 32 << 20;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/dataset")
        .join(name)
}

fn expected(name: &str) -> Value {
    let text = std::fs::read_to_string(fixture(name)).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn rt() -> Runtime {
    Runtime::builder()
        .threads(2)
        .memory_limit(LIMIT)
        .build()
        .unwrap()
}

fn numbers(v: &Value) -> Vec<Option<f64>> {
    v.as_array().unwrap().iter().map(|x| x.as_f64()).collect()
}

fn compute(rt: &Runtime, da: &chunkwise::DataArray<f64>) -> Vec<Option<f64>> {
    let a = da.data().compute(rt).unwrap();
    let r = rt.last_report();
    assert!(
        r.peak_tracked_bytes <= LIMIT,
        "peak {} > {LIMIT}",
        r.peak_tracked_bytes
    );
    a.iter().map(|x| (!x.is_nan()).then_some(*x)).collect()
}

/// Equal, or within `rel` of each other (for float32 data and reductions in another order).
fn assert_close(what: &str, got: &[Option<f64>], want: &[Option<f64>], rel: f64) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        match (g, w) {
            (Some(g), Some(w)) => assert!(
                g == w || (g - w).abs() <= rel * w.abs().max(1.0),
                "{what}[{i}]: chunkwise {g}, xarray {w}"
            ),
            (None, None) => {}
            _ => panic!("{what}[{i}]: chunkwise {g:?}, xarray {w:?}"),
        }
    }
}

fn check_against_xarray(ds: &Dataset, exp: &Value, calendar: &str) {
    let rt = rt();
    // Dimensions and global attributes.
    for (d, n) in exp["dims"].as_object().unwrap() {
        assert_eq!(ds.dim_len(d), Some(n.as_u64().unwrap() as usize), "dim {d}");
    }
    assert_eq!(ds.dims().len(), exp["dims"].as_object().unwrap().len());
    for (k, v) in exp["attrs"].as_object().unwrap() {
        assert_eq!(ds.attrs().get(k), Some(v), "global attribute {k}");
    }
    // Coordinates: values, attributes, decoded times and their accessors.
    let coords = exp["coords"].as_object().unwrap();
    assert_eq!(ds.coords().len(), coords.len());
    for (name, c) in coords {
        let got = &ds.coords()[name];
        assert_eq!(
            &Value::Object(got.attrs.clone()),
            &c["attrs"],
            "attrs of {name}"
        );
        match &got.values {
            CoordValues::Numbers(v) => {
                let v: Vec<Option<f64>> = v.iter().map(|x| Some(*x)).collect();
                assert_eq!(v, numbers(&c["values"]), "coordinate {name}");
            }
            CoordValues::Times {
                times,
                calendar: cal,
                ..
            } => {
                assert_eq!(cal.cf_name(), c["calendar"].as_str().unwrap());
                assert_eq!(cal.cf_name(), calendar);
                let s: Vec<String> = times.iter().map(|t| t.to_string()).collect();
                let want: Vec<String> = c["times"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_str().unwrap().to_string())
                    .collect();
                assert_eq!(s, want, "times of {name}");
            }
            CoordValues::Labels(_) => panic!("{name}: no names in these fixtures"),
        }
    }
    // Every variable, decoded, with its dims and decoded attributes.
    let vars = exp["vars"].as_object().unwrap();
    assert_eq!(
        ds.names(),
        vars.keys().map(String::as_str).collect::<Vec<_>>()
    );
    for (name, v) in vars {
        let da = ds.var::<f64>(name).unwrap();
        let dims: Vec<&str> = v["dims"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_str().unwrap())
            .collect();
        assert_eq!(da.dims(), dims, "dims of {name}");
        assert_eq!(
            &Value::Object(da.attrs().clone()),
            &v["attrs"],
            "attrs of {name}"
        );
        // xarray decodes in f64 here (float64 scale_factor), and f32 data widen exactly.
        assert_close(name, &compute(&rt, &da), &numbers(&v["values"]), 0.0);
    }
    // Time accessors, through a DataArray.
    let t2m = ds.var::<f64>("t2m").unwrap();
    let time = &coords["time"];
    for f in ["year", "month", "day", "dayofyear", "hour"] {
        let want: Vec<i64> = time[f]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_i64().unwrap())
            .collect();
        assert_eq!(t2m.time_field("time", f).unwrap(), want, "time.{f}");
    }
    let seasons: Vec<String> = t2m
        .times("time")
        .unwrap()
        .iter()
        .map(|t| t.season().to_string())
        .collect();
    let want: Vec<String> = time["season"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap().to_string())
        .collect();
    assert_eq!(seasons, want);
    // Reductions by name and a label selection, against xarray's.
    assert_close(
        "t2m.mean(time)",
        &compute(&rt, &t2m.mean("time").unwrap()),
        &numbers(&exp["t2m_mean_time"]),
        1e-6, // xarray's mean of float32 data is float32
    );
    assert_close(
        "t2m.std([lat, lon])",
        &compute(&rt, &t2m.std_dims(&["lat", "lon"]).unwrap()),
        &numbers(&exp["t2m_std_lat_lon"]),
        1e-5,
    );
    let sel = t2m
        .sel(&[
            ("lat", Label::range(55.0, 25.0)),
            ("lon", Label::range(5.0, 25.0)),
            ("time", Label::time_range("2001-02", "2001-02")),
        ])
        .unwrap();
    assert_close(
        "t2m.sel",
        &compute(&rt, &sel),
        &numbers(&exp["t2m_sel"]),
        0.0,
    );
    check_groups(&rt, &t2m, exp);
}

/// groupby("time.month"), groupby("time.season"), resample("time", "1MS"): labels and means
/// equal xarray's.
fn check_groups(rt: &Runtime, t2m: &chunkwise::DataArray<f64>, exp: &Value) {
    let month = t2m.groupby("time.month").unwrap().mean().unwrap();
    let e = &exp["t2m_month_mean"];
    let labels: Vec<Option<f64>> = month
        .coord("month")
        .unwrap()
        .as_numbers()
        .unwrap()
        .iter()
        .map(|x| Some(*x))
        .collect();
    assert_eq!(labels, numbers(&e["labels"]));
    assert_eq!(month.dims()[0], "month");
    assert_close(
        "month mean",
        &compute(rt, &month),
        &numbers(&e["values"]),
        1e-6,
    );

    let season = t2m.groupby("time.season").unwrap().mean().unwrap();
    let e = &exp["t2m_season_mean"];
    match &season.coord("season").unwrap().values {
        CoordValues::Labels(names) => {
            let want: Vec<&str> = e["labels"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_str().unwrap())
                .collect();
            assert_eq!(names, &want);
        }
        other => panic!("season labels: {other:?}"),
    }
    assert_close(
        "season mean",
        &compute(rt, &season),
        &numbers(&e["values"]),
        1e-6,
    );

    let ms = t2m.resample("time", "1MS").unwrap().mean().unwrap();
    let e = &exp["t2m_1ms_mean"];
    let starts: Vec<String> = ms
        .times("time")
        .unwrap()
        .iter()
        .map(|t| t.to_string())
        .collect();
    let want: Vec<String> = e["labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap().to_string())
        .collect();
    assert_eq!(starts, want);
    assert_close("1MS mean", &compute(rt, &ms), &numbers(&e["values"]), 1e-6);

    // The anomaly against the monthly climatology averages to zero in every month.
    let anom = t2m.groupby("time.month").unwrap().anomaly(&month).unwrap();
    assert_eq!(anom.dims(), t2m.dims());
    let back = anom.groupby("time.month").unwrap().mean().unwrap();
    assert!(compute(rt, &back).iter().all(|x| x.unwrap().abs() < 1e-9));
}

#[test]
fn zarr_v2_consolidated_matches_xarray() {
    let ds = Dataset::open(fixture("v2.zarr")).unwrap();
    check_against_xarray(&ds, &expected("v2.expected.json"), "standard");
}

#[test]
fn zarr_v3_noleap_matches_xarray() {
    let ds = Dataset::open(fixture("v3.zarr")).unwrap();
    check_against_xarray(&ds, &expected("v3.expected.json"), "noleap");
}

#[cfg(feature = "hdf5")]
#[test]
fn netcdf4_packed_unlimited_noleap_matches_xarray() {
    let ds = Dataset::open(fixture("noleap.nc")).unwrap();
    check_against_xarray(&ds, &expected("noleap.expected.json"), "noleap");
}

/// The Python to run, and whether it must have xarray.
fn python() -> (String, bool) {
    let py = std::env::var("CHUNKWISE_PYTHON").unwrap_or_else(|_| "python3".into());
    let require = std::env::var("CHUNKWISE_REQUIRE_PYTHON").is_ok_and(|v| v == "1");
    (py, require)
}

fn has_xarray(py: &str) -> bool {
    std::process::Command::new(py)
        .args(["-c", "import xarray, zarr, numpy"])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn roundtrip(source: &str, format: ZarrFormat) {
    let (py, require) = python();
    if !has_xarray(&py) {
        assert!(
            !require,
            "CHUNKWISE_REQUIRE_PYTHON=1 but {py} cannot import xarray, zarr and numpy"
        );
        eprintln!(
            "\n*** SKIP dataset round trip through xarray: {py} cannot import xarray, zarr and \
             numpy (set CHUNKWISE_PYTHON to a Python that can; CHUNKWISE_REQUIRE_PYTHON=1 makes \
             this a failure) ***\n"
        );
        return;
    }
    let rt = rt();
    let ds = Dataset::open(fixture(source)).unwrap();
    let dir = std::env::temp_dir().join(format!(
        "chunkwise-ds-roundtrip-{}-{source}-{}",
        std::process::id(),
        format.number()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let out = dir.join("out.zarr");
    ds.to_zarr(
        &rt,
        &out,
        DatasetWriteOptions {
            format,
            ..Default::default()
        },
    )
    .unwrap();
    assert!(rt.last_report().peak_tracked_bytes <= LIMIT);
    // chunkwise reads its own output back the same.
    let back = Dataset::open(&out).unwrap();
    assert!(
        back.coords() == ds.coords(),
        "coordinates differ after the round trip"
    );
    assert_eq!(back.names(), ds.names());
    // And xarray opens it as the original.
    let o = std::process::Command::new(&py)
        .arg(fixture("check_roundtrip.py"))
        .arg(fixture(source))
        .arg(&out)
        .arg(format.number().to_string())
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        o.status.success(),
        "xarray comparison failed:\n{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn roundtrip_v2_fixture_to_zarr_v2_through_xarray() {
    roundtrip("v2.zarr", ZarrFormat::V2);
}

#[test]
fn roundtrip_v3_noleap_fixture_to_zarr_v3_through_xarray() {
    roundtrip("v3.zarr", ZarrFormat::V3);
}

#[test]
fn roundtrip_v3_noleap_fixture_to_zarr_v2_through_xarray() {
    roundtrip("v3.zarr", ZarrFormat::V2);
}
