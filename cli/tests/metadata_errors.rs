//! Metadata that cannot describe a plannable array (shapes whose element count overflows,
//! chunk counts past [`chunkwise::io::MAX_STORED_CHUNKS`]) fails at open, at once, naming the
//! numbers — in the library and through the CLI; CLI `reduce` of an xarray-written Zarr keeps
//! the right dimension names and xarray's dtype; a chunk spec of `-2` is an error.

use chunkwise::{ChunkedArray, Error};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn write_v3(dir: &Path, shape: &[u64], chunks: &[u64]) {
    std::fs::create_dir_all(dir).unwrap();
    let meta = json!({
        "zarr_format": 3, "node_type": "array", "shape": shape, "data_type": "uint8",
        "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": chunks}},
        "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
        "fill_value": 0, "codecs": [{"name": "bytes", "configuration": {}}],
    });
    std::fs::write(dir.join("zarr.json"), meta.to_string()).unwrap();
}

fn write_v2(dir: &Path, shape: &[u64], chunks: &[u64]) {
    std::fs::create_dir_all(dir).unwrap();
    let meta = json!({
        "zarr_format": 2, "shape": shape, "chunks": chunks, "dtype": "<f8",
        "compressor": null, "fill_value": 0.0, "order": "C", "filters": null,
    });
    std::fs::write(dir.join(".zarray"), meta.to_string()).unwrap();
}

fn cli(args: &[&str]) -> (i32, String, Duration) {
    let t = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_chunkwise"))
        .args(args)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "{args:?} panicked: {stderr}");
    (out.status.code().unwrap_or(-1), stderr, t.elapsed())
}

/// Each case: a store, and words its error must contain.
fn cases(root: &Path) -> Vec<(PathBuf, &'static str)> {
    let overflow = root.join("overflow.zarr");
    write_v3(
        &overflow,
        &[1 << 40, 1 << 40, 1 << 40],
        &[1 << 20, 1 << 20, 1 << 20],
    );
    let many = root.join("many.zarr");
    write_v3(&many, &[1 << 40, 1 << 20], &[1, 1 << 20]);
    let bytes = root.join("bytes.zarr");
    write_v2(&bytes, &[1 << 62], &[1 << 40]);
    vec![
        (overflow, "more elements than fit in 64 bits"),
        (many, "MAX_STORED_CHUNKS"),
        (bytes, "more bytes than this platform"),
    ]
}

#[test]
fn huge_shapes_fail_at_open_naming_the_numbers() {
    let tmp = tempfile::tempdir().unwrap();
    for (store, needle) in cases(tmp.path()) {
        let e = chunkwise::io::zarr::ZarrSource::open(&store, "").unwrap_err();
        assert!(
            matches!(
                e,
                Error::Store {
                    kind: chunkwise::error::StoreErrorKind::InvalidMetadata { .. },
                    ..
                }
            ),
            "{e}"
        );
        assert!(e.to_string().contains(needle), "{}: {e}", store.display());
        assert!(e.to_string().contains("shape ["), "{e}");
        assert!(ChunkedArray::<f64>::open_zarr(&store, "").is_err());
    }
}

#[test]
fn huge_shapes_fail_at_once_through_the_cli() {
    let tmp = tempfile::tempdir().unwrap();
    for (store, needle) in cases(tmp.path()) {
        let s = store.to_string_lossy().into_owned();
        let out = tmp.path().join("out.zarr").to_string_lossy().into_owned();
        for args in [
            vec!["info", s.as_str()],
            vec!["stats", s.as_str()],
            vec!["reduce", "sum", "--axis", "0", s.as_str(), out.as_str()],
            vec!["rechunk", "--chunks", "1,1", s.as_str(), out.as_str()],
            vec!["convert", s.as_str(), out.as_str()],
        ] {
            let (code, stderr, took) = cli(&args);
            assert_eq!(code, 1, "{args:?}: {stderr}");
            assert!(stderr.contains(needle), "{args:?}: {stderr}");
            assert!(took < Duration::from_secs(20), "{args:?} took {took:?}");
        }
    }
}

#[test]
fn chunk_spec_minus_two_is_an_error() {
    let x = ChunkedArray::<f64>::zeros(&[4, 4], [2, 2]).unwrap();
    let e = x.rechunk([2i64, -2]).unwrap_err();
    assert!(e.to_string().contains("-2"), "{e}");
}

fn xarray_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/data/xarray")
}

/// `reduce mean --axis 0` of xarray's float32 `sst`: float32 like xarray (from Zarr v2, v3 and
/// NetCDF alike), the dimension names of the result, no stale `_ARRAY_DIMENSIONS`, and
/// xarray's values.
#[test]
fn reduce_keeps_xarray_dtype_and_drops_reduced_dimension_names() {
    let expected: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(xarray_dir().join("expected.json")).unwrap())
            .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let mut inputs = vec![
        ("packed.zarr2", "packed.zarr2:/sst"),
        ("packed.zarr3", "packed.zarr3:/sst"),
    ];
    if cfg!(feature = "hdf5") {
        inputs.push(("packed.nc", "packed.nc:/sst"));
    }
    for (i, (key, input)) in inputs.into_iter().enumerate() {
        for fmt in ["2", "3"] {
            let out = tmp.path().join(format!("m{i}_{fmt}.zarr"));
            let input = xarray_dir().join(input).to_string_lossy().into_owned();
            let o = out.to_string_lossy().into_owned();
            let (code, stderr, _) = cli(&[
                "reduce",
                "mean",
                "--axis",
                "0",
                "--zarr-format",
                fmt,
                &input,
                &o,
            ]);
            assert_eq!(code, 0, "{input}: {stderr}");
            let (dtype, dims, attrs) = if fmt == "3" {
                let m: serde_json::Value =
                    serde_json::from_str(&std::fs::read_to_string(out.join("zarr.json")).unwrap())
                        .unwrap();
                (
                    m["data_type"].clone(),
                    m["dimension_names"].clone(),
                    m["attributes"].clone(),
                )
            } else {
                let m: serde_json::Value =
                    serde_json::from_str(&std::fs::read_to_string(out.join(".zarray")).unwrap())
                        .unwrap();
                let a: serde_json::Value =
                    serde_json::from_str(&std::fs::read_to_string(out.join(".zattrs")).unwrap())
                        .unwrap();
                (m["dtype"].clone(), a["_ARRAY_DIMENSIONS"].clone(), a)
            };
            assert_eq!(expected[key]["sst"]["mean_time_dtype"], "float32");
            assert!(dtype == "float32" || dtype == "<f4", "{input}: {dtype}");
            assert_eq!(dims, json!(["lat", "lon"]), "{input} v{fmt}");
            if fmt == "3" {
                assert!(attrs.get("_ARRAY_DIMENSIONS").is_none(), "{input}: {attrs}");
            }
            let got = ChunkedArray::<f32>::open_zarr(&out, "")
                .unwrap()
                .compute(&chunkwise::Runtime::builder().threads(1).build().unwrap())
                .unwrap();
            let want = expected[key]["sst"]["mean_time"].as_array().unwrap();
            for (g, w) in got.iter().zip(want) {
                match w.as_f64() {
                    None => assert!(g.is_nan()),
                    Some(w) => assert!((f64::from(*g) - w).abs() <= 1e-4, "{g} vs {w}"),
                }
            }
        }
    }
}

/// `convert` NetCDF → Zarr v3 of a float variable with `_FillValue = NaN` writes the
/// attribute as xarray does (base64 of the float64), so `xr.open_zarr` can decode it; Zarr v2
/// gets it as the array's `fill_value`; and a packed Zarr v2 → v3 keeps its `_FillValue`.
#[test]
fn convert_writes_fill_values_as_xarray_reads_them() {
    let tmp = tempfile::tempdir().unwrap();
    let mut runs = vec![("packed.zarr2:/tp", "3", "tp")];
    if cfg!(feature = "hdf5") {
        runs.push(("packed.nc:/t2m", "3", "t2m"));
        runs.push(("packed.nc:/sst", "2", "sst"));
    }
    for (i, (input, fmt, var)) in runs.into_iter().enumerate() {
        let input = xarray_dir().join(input).to_string_lossy().into_owned();
        let out = tmp.path().join(format!("c{i}.zarr"));
        let o = out.to_string_lossy().into_owned();
        let (code, stderr, _) = cli(&["convert", "--zarr-format", fmt, &input, &o]);
        assert_eq!(code, 0, "{input}: {stderr}");
        if fmt == "3" {
            let m: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(out.join("zarr.json")).unwrap())
                    .unwrap();
            let fv = &m["attributes"]["_FillValue"];
            match var {
                "tp" => assert_eq!(fv, &json!(-32767), "{m}"),
                _ => assert_eq!(fv, &json!("AAAAAAAA+H8="), "{m}"),
            }
        } else {
            let m: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(out.join(".zarray")).unwrap())
                    .unwrap();
            assert_eq!(m["fill_value"], json!(-999.0), "{m}");
            let a: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(out.join(".zattrs")).unwrap())
                    .unwrap();
            assert!(a.get("_FillValue").is_none(), "{a}");
        }
    }
}
