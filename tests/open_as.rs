//! Opening stored arrays as a float type whatever their stored type (`open_zarr_as`,
//! `open_hdf5_as`), compared with the values the fixture scripts recorded.

use chunkwise::ndarray::ArrayD;
use chunkwise::prelude::*;
use serde_json::Value;
use std::path::{Path, PathBuf};

fn rt() -> Runtime {
    Runtime::builder().threads(2).build().unwrap()
}

fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(rel)
}

fn json(rel: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(data(rel)).unwrap()).unwrap()
}

/// Recorded values as `f64`, `null` as NaN.
fn values(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap_or(f64::NAN))
        .collect()
}

/// The recorded entry of `path` in the Zarr fixtures' store `store`.
fn zarr_entry(store: &str, path: &str) -> Value {
    json("zarr/expected.json")["arrays"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["store"] == store && a["path"] == path)
        .unwrap_or_else(|| panic!("{store}/{path} is recorded"))
        .clone()
}

fn assert_same(got: &ArrayD<f64>, shape: &[usize], want: &[f64], what: &str) {
    assert_eq!(got.shape(), shape, "{what}");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g.is_nan() && w.is_nan()) || g == w,
            "{what}[{i}]: {g} read, {w} recorded"
        );
    }
}

#[cfg(feature = "zarr")]
#[test]
fn zarr_int16_and_float32_read_as_f64() {
    let rt = rt();
    // int16 (v3 blosc, v2 zstd), float32 with no CF attributes (v3: none; v2: its fill value
    // is a CF _FillValue), uint32, int64 with missing chunks (the Zarr fill value).
    for (store, path, stored) in [
        ("v3.zarr", "i2_blosc", DType::I16),
        ("v2.zarr", "i2_zstd", DType::I16),
        ("v3.zarr", "f4_nan_missing", DType::F32),
        ("v2.zarr", "f4_blosc", DType::F32),
        ("v3.zarr", "u4_transpose_crc", DType::U32),
        ("v3.zarr", "i8_sharded", DType::I64),
    ] {
        let e = zarr_entry(store, path);
        let what = format!("{store}/{path}");
        let root = data("zarr").join(store);
        let shape: Vec<usize> = serde_json::from_value(e["shape"].clone()).unwrap();
        let raw = values(&e["data"]);
        let v3 = store == "v3.zarr";
        if v3 {
            // No CF attributes and not f64: the typed open refuses it, naming both types.
            match ChunkedArray::<f64>::open_zarr(&root, path) {
                Err(Error::DTypeMismatch {
                    requested, actual, ..
                }) => assert_eq!((requested, actual), (DType::F64, stored), "{what}"),
                other => panic!("{what}: {:?}", other.map(|a| a.dtype())),
            }
        }
        let x = ChunkedArray::<f64>::open_zarr_as(&root, path).unwrap();
        assert_eq!(x.shape(), shape, "{what}");
        // Zarr v2's fill value is a CF _FillValue (as xarray reads it): those values are NaN.
        let fill = e["fill_value"].as_f64().filter(|_| !v3);
        let want: Vec<f64> = raw
            .iter()
            .map(|&v| if Some(v) == fill { f64::NAN } else { v })
            .collect();
        assert_same(&x.compute(&rt).unwrap(), &shape, &want, &what);
        // The store's chunks are kept.
        let chunks: Vec<usize> = serde_json::from_value(e["chunks"].clone()).unwrap();
        assert_eq!(x.chunks().chunk_shape(), chunks, "{what}");
        // Without CF decoding: the stored values, converted.
        let opts = OpenOptions {
            decode_cf: false,
            ..Default::default()
        };
        let y = ChunkedArray::<f64>::open_zarr_as_with(&root, path, &opts).unwrap();
        assert_same(&y.compute(&rt).unwrap(), &shape, &raw, &what);
    }
}

#[cfg(feature = "zarr")]
#[test]
fn zarr_open_as_f32_and_without_cf_decoding() {
    let rt = rt();
    let root = data("zarr").join("v3.zarr");
    let e = zarr_entry("v3.zarr", "i2_blosc");
    let x = ChunkedArray::<f32>::open_zarr_as(&root, "i2_blosc").unwrap();
    let got = x.compute(&rt).unwrap().mapv(f64::from);
    assert_same(&got, &[50], &values(&e["data"]), "i2_blosc as f32");
    // An f64 array opened as f64 is the typed open.
    let f8 = ChunkedArray::<f64>::open_zarr_as(&root, "f8_gzip").unwrap();
    let typed = ChunkedArray::<f64>::open_zarr(&root, "f8_gzip").unwrap();
    assert_eq!(f8.compute(&rt).unwrap(), typed.compute(&rt).unwrap());
    // Zarr v2's fill value is a CF _FillValue: decoded, 7 is missing; not decoded, it is 7.
    let root2 = data("zarr").join("v2.zarr");
    let decoded = ChunkedArray::<f64>::open_zarr_as(&root2, "u1_missing")
        .unwrap()
        .compute(&rt)
        .unwrap();
    let opts = OpenOptions {
        decode_cf: false,
        ..Default::default()
    };
    let raw = ChunkedArray::<f64>::open_zarr_as_with(&root2, "u1_missing", &opts)
        .unwrap()
        .compute(&rt)
        .unwrap();
    let want = values(&zarr_entry("v2.zarr", "u1_missing")["data"]);
    assert_same(&raw, &[30, 30], &want, "u1_missing raw");
    let masked: Vec<f64> = want
        .iter()
        .map(|&v| if v == 7.0 { f64::NAN } else { v })
        .collect();
    assert!(want.contains(&7.0));
    assert_same(&decoded, &[30, 30], &masked, "u1_missing decoded");
}

#[cfg(feature = "zarr")]
#[test]
fn zarr_packed_cf_reads_as_the_decoded_values() {
    let rt = rt();
    // tp: int16 packed with scale_factor/add_offset and a _FillValue (xarray's numbers).
    let want = &json("xarray/expected.json")["packed.zarr3"]["tp"]["stats"];
    let tp = ChunkedArray::<f64>::open_zarr_as(data("xarray/packed.zarr3"), "tp").unwrap();
    let typed = ChunkedArray::<f64>::open_zarr(data("xarray/packed.zarr3"), "tp").unwrap();
    let (a, b) = (tp.compute(&rt).unwrap(), typed.compute(&rt).unwrap());
    assert!(
        a.iter()
            .zip(b.iter())
            .all(|(x, y)| x.to_bits() == y.to_bits())
    );
    let count = a.iter().filter(|v| !v.is_nan()).count();
    assert_eq!(count as u64, want["count"].as_u64().unwrap());
    let sum: f64 = a.iter().filter(|v| !v.is_nan()).sum();
    assert!((sum - want["sum"].as_f64().unwrap()).abs() < 1e-12, "{sum}");
}

#[cfg(feature = "zarr")]
#[test]
fn zarr_open_as_names_what_is_missing() {
    let Err(err) = ChunkedArray::<f64>::open_zarr_as(data("zarr/v3.zarr"), "no_such_array") else {
        panic!("a missing array is an error");
    };
    assert!(err.to_string().contains("no_such_array"), "{err}");
}

#[cfg(feature = "hdf5")]
#[test]
fn hdf5_int16_float32_and_packed_read_as_f64() {
    let rt = rt();
    let e = json("hdf5/expected.json");
    let file = data("hdf5/fixtures.h5");
    for (name, stored) in [
        ("ints/i2", DType::I16),
        ("chunked_f4", DType::F32),
        ("fletcher_i4", DType::I32),
    ] {
        let what = format!("fixtures.h5:{name}");
        match ChunkedArray::<f64>::open_hdf5(&file, name) {
            Err(Error::DTypeMismatch { actual, .. }) => assert_eq!(actual, stored, "{what}"),
            other => panic!("{what}: {:?}", other.map(|a| a.dtype())),
        }
        let x = ChunkedArray::<f64>::open_hdf5_as(&file, name).unwrap();
        let shape: Vec<usize> = serde_json::from_value(e[name]["shape"].clone()).unwrap();
        assert_same(
            &x.compute(&rt).unwrap(),
            &shape,
            &values(&e[name]["data"]),
            &what,
        );
    }
    // NetCDF4 int16 packed with scale_factor, add_offset and _FillValue.
    let t = ChunkedArray::<f64>::open_hdf5_as(data("hdf5/packed.nc"), "t").unwrap();
    let got = t.compute(&rt).unwrap();
    let want = values(&e["nc:t_decoded"]["data"]);
    assert_eq!(got.len(), want.len());
    assert!(want.iter().any(|v| v.is_nan()));
    for (g, w) in got.iter().zip(&want) {
        assert!(
            (g.is_nan() && w.is_nan()) || (g - w).abs() < 1e-9,
            "{g} vs {w}"
        );
    }
}
