//! Rolling, coarsen and weighted reductions against results written by xarray
//! (`tests/fixtures/windows/make_fixtures.py` wrote `windows.json`): rolling with
//! `center` true/false and several `min_periods`, coarsen with `trim` and `pad`, and
//! area-weighted means with NaN in the data and zero weights.

use chunkwise::prelude::*;
use ndarray::{ArrayD, Dimension, IxDyn};
use serde_json::Value;

fn fixtures() -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/windows/windows.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn rt() -> Runtime {
    Runtime::builder()
        .threads(2)
        .memory_limit("64 MiB")
        .build()
        .unwrap()
}

/// A fixture array (null = NaN).
fn decode(v: &Value) -> ArrayD<f64> {
    let shape: Vec<usize> = v["shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_u64().unwrap() as usize)
        .collect();
    let data: Vec<f64> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap_or(f64::NAN))
        .collect();
    ArrayD::from_shape_vec(IxDyn(&shape), data).unwrap()
}

fn assert_close(what: &str, got: &ArrayD<f64>, want: &ArrayD<f64>) {
    assert_eq!(got.shape(), want.shape(), "{what}: shape");
    for ((i, &g), &w) in got.indexed_iter().zip(want.iter()) {
        let ok = (g.is_nan() && w.is_nan()) || (g - w).abs() <= 1e-9 * w.abs().max(1.0);
        assert!(
            ok,
            "{what} at {:?}: chunkwise {g} but xarray {w}",
            i.slice()
        );
    }
}

#[test]
fn rolling_matches_xarray() {
    let f = fixtures();
    let x = decode(&f["rolling_input"]);
    let rt = rt();
    let cases = f["rolling"].as_array().unwrap();
    assert!(cases.len() >= 20);
    for chunks in [[1, 3], [4, 2], [17, 3]] {
        let a = ChunkedArray::from_ndarray(x.clone(), chunks).unwrap();
        for c in cases {
            let window = c["window"].as_u64().unwrap() as usize;
            let mut r = a.rolling(0, window).center(c["center"].as_bool().unwrap());
            if let Some(m) = c["min_periods"].as_u64() {
                r = r.min_periods(m as usize);
            }
            for (name, got) in [
                ("mean", r.mean()),
                ("sum", r.sum()),
                ("min", r.min()),
                ("max", r.max()),
                ("std", r.std()),
                ("var", r.var()),
            ] {
                let what = format!(
                    "rolling(time={window}, center={}, min_periods={}).{name}() on chunks {chunks:?}",
                    c["center"], c["min_periods"]
                );
                assert_close(
                    &what,
                    &got.unwrap().compute(&rt).unwrap(),
                    &decode(&c[name]),
                );
            }
        }
    }
}

#[test]
fn rolling_along_the_last_axis_matches_xarray() {
    let f = fixtures();
    let c = &f["rolling_lon"];
    let a = ChunkedArray::from_ndarray(decode(&c["input"]), [1, 4]).unwrap();
    let r = a.rolling(1, 5).center(true).min_periods(3);
    let rt = rt();
    assert_close(
        "lon mean",
        &r.mean().unwrap().compute(&rt).unwrap(),
        &decode(&c["mean"]),
    );
    assert_close(
        "lon max",
        &r.max().unwrap().compute(&rt).unwrap(),
        &decode(&c["max"]),
    );
    assert_close(
        "lon std",
        &r.std().unwrap().compute(&rt).unwrap(),
        &decode(&c["std"]),
    );
}

/// xarray's `coarsen(...).mean()` skips NaN (its default `skipna` for floats): chunkwise's
/// `nanmean` and friends.
#[test]
fn coarsen_matches_xarray() {
    let f = fixtures();
    let x = decode(&f["coarsen_input"]);
    let rt = rt();
    for chunks in [[4, 7, 10], [1, 3, 4], [2, 2, 3]] {
        let a = ChunkedArray::from_ndarray(x.clone(), chunks).unwrap();
        for c in f["coarsen"].as_array().unwrap() {
            let boundary = match c["boundary"].as_str().unwrap() {
                "trim" => CoarsenBoundary::Trim,
                _ => CoarsenBoundary::Pad,
            };
            let co = a.coarsen(&[1, 2, 3]).boundary(boundary);
            for (name, got) in [
                ("mean", co.nanmean()),
                ("sum", co.nansum()),
                ("min", co.nanmin()),
                ("max", co.nanmax()),
            ] {
                let what = format!("coarsen {boundary:?} nan{name} on chunks {chunks:?}");
                assert_close(
                    &what,
                    &got.unwrap().compute(&rt).unwrap(),
                    &decode(&c[name]),
                );
            }
        }
    }
}

#[test]
fn weighted_matches_xarray() {
    let f = fixtures();
    let c = &f["weighted"];
    let rt = rt();
    for chunks in [[3, 5, 4], [1, 2, 3]] {
        let x = ChunkedArray::from_ndarray(decode(&c["input"]), chunks).unwrap();
        let w = ChunkedArray::from_ndarray(decode(&c["weights"]), [2, 1]).unwrap();
        let wt = x.weighted(&w);
        let cases = [
            ("mean_lat_lon", wt.mean_axes(&[1, 2])),
            ("sum_lat_lon", wt.sum_axes(&[1, 2])),
            ("mean_lat", wt.mean_axes(&[1])),
            ("sum_of_weights_lat", wt.sum_of_weights_axes(&[1])),
            ("mean_all", wt.mean()),
        ];
        for (name, got) in cases {
            let what = format!("weighted {name} on chunks {chunks:?}");
            assert_close(
                &what,
                &got.unwrap().compute(&rt).unwrap(),
                &decode(&c[name]),
            );
        }
    }
}
