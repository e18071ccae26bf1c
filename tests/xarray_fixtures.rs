//! Files written by xarray itself (`tests/data/xarray/make_fixtures.py`): chunkwise's CF
//! decoding gives xarray's numbers (`expected.json`, computed by xarray from the same files).
//! Packed int16 with the Zarr v2 fill value as `_FillValue`, float fill values other than NaN
//! (base64 in Zarr v3), `_Unsigned = "true"`, malformed CF attributes.

use chunkwise::{ChunkedArray, Float, Runtime};
use serde_json::Value;
use std::path::PathBuf;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/xarray")
}

fn expected() -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir().join("expected.json")).unwrap()).unwrap()
}

fn rt() -> Runtime {
    Runtime::builder()
        .threads(2)
        .memory_limit("64 MiB")
        .build()
        .unwrap()
}

fn close(got: f64, want: f64, rel: f64) -> bool {
    (got - want).abs() <= rel * want.abs().max(1e-12)
}

/// count, sum, min, max, mean of the non-NaN values, against xarray's.
fn check_stats<T: Float>(what: &str, x: &ChunkedArray<T>, want: &Value)
where
    f64: chunkwise::CastFrom<T>,
{
    let x = x.astype::<f64>();
    let rt = rt();
    let count = x.is_nan().not().astype::<f64>().sum().compute(&rt).unwrap();
    let count = count.iter().next().copied().unwrap();
    assert_eq!(count, want["count"].as_f64().unwrap(), "{what}: count");
    for (name, r) in [
        ("sum", x.nansum()),
        ("min", x.nanmin().unwrap()),
        ("max", x.nanmax().unwrap()),
        ("mean", x.nanmean()),
    ] {
        let got = *r.compute(&rt).unwrap().iter().next().unwrap();
        let w = want[name].as_f64().unwrap();
        assert!(
            close(got, w, 1e-9),
            "{what}: {name} {got} but xarray gives {w}"
        );
    }
}

fn zarr_stores() -> [&'static str; 2] {
    ["packed.zarr2", "packed.zarr3"]
}

#[test]
fn zarr_packed_and_masked_variables_match_xarray() {
    let e = expected();
    for store in zarr_stores() {
        for var in ["tp", "sst", "t2m", "flag"] {
            let what = format!("{store}/{var}");
            let x = ChunkedArray::<f64>::open_zarr(dir().join(store), var).unwrap();
            check_stats(&what, &x, &e[store][var]["stats"]);
        }
    }
}

/// xarray decodes float32 variables to float32; their mean over time stays float32 and equals
/// xarray's.
#[test]
fn float32_variables_decode_as_float32_like_xarray() {
    let e = expected();
    for store in zarr_stores() {
        for var in ["sst", "t2m"] {
            assert_eq!(e[store][var]["dtype"], "float32");
            let x = ChunkedArray::<f32>::open_zarr(dir().join(store), var).unwrap();
            let m = x.mean_axis(0).unwrap().compute(&rt()).unwrap();
            let want = e[store][var]["mean_time"].as_array().unwrap();
            assert_eq!(m.len(), want.len());
            for (g, w) in m.iter().zip(want) {
                match w.as_f64() {
                    None => assert!(g.is_nan(), "{store}/{var}: {g} where xarray has NaN"),
                    Some(w) => assert!(close(f64::from(*g), w, 1e-6), "{store}/{var}: {g} vs {w}"),
                }
            }
        }
    }
}

#[test]
fn zarr_v2_fill_value_is_the_cf_fill_value() {
    let src = chunkwise::io::zarr::ZarrSource::open(dir().join("packed.zarr2"), "tp").unwrap();
    assert!(!src.attributes().contains_key("_FillValue"));
    assert_eq!(src.cf_attributes()["_FillValue"], -32767);
    // v3: xarray keeps `_FillValue` among the attributes, base64 for floats.
    let src = chunkwise::io::zarr::ZarrSource::open(dir().join("packed.zarr3"), "sst").unwrap();
    assert_eq!(src.cf_attributes()["_FillValue"], "AAAAAAA4j8A=");
}

#[cfg(feature = "hdf5")]
mod netcdf {
    use super::*;
    use chunkwise::Error;

    #[test]
    fn netcdf_variables_match_xarray() {
        let e = expected();
        for var in ["tp", "sst", "t2m", "flag"] {
            let what = format!("packed.nc/{var}");
            let x = ChunkedArray::<f64>::open_hdf5(dir().join("packed.nc"), var).unwrap();
            check_stats(&what, &x, &e["packed.nc"][var]["stats"]);
        }
    }

    #[test]
    fn malformed_scale_factor_is_an_error_naming_it() {
        // xarray fails on it too (see expected.json); chunkwise must not ignore it.
        assert!(!expected()["bad_attr.nc"]["x"]["xarray_error"].is_null());
        let e = ChunkedArray::<f64>::open_hdf5(dir().join("bad_attr.nc"), "x").unwrap_err();
        assert!(
            matches!(&e, Error::BadAttribute { attribute, .. } if attribute == "scale_factor"),
            "{e}"
        );
        let msg = e.to_string();
        assert!(msg.contains("scale_factor") && msg.contains("abc"), "{msg}");
        // The raw values stay readable without CF decoding.
        let raw = ChunkedArray::<i16>::open_hdf5_with(
            dir().join("bad_attr.nc"),
            "x",
            &chunkwise::OpenOptions {
                decode_cf: false,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(raw.compute(&rt()).unwrap().sum(), 6);
    }
}

#[cfg(feature = "hdf5")]
mod hdf5_null {
    use super::*;

    /// h5py's `Empty` (a NULL dataspace) is no data: an error saying so, never a value read
    /// from uninitialized memory.
    #[test]
    fn null_dataspace_is_a_clear_error() {
        let e = ChunkedArray::<f64>::open_hdf5(dir().join("empty.h5"), "nothing").unwrap_err();
        assert!(e.to_string().contains("NULL dataspace"), "{e}");
        let e =
            chunkwise::io::hdf5::Hdf5Source::open(dir().join("empty.h5"), "nothing").unwrap_err();
        assert!(e.to_string().contains("no data"), "{e}");
    }
}
