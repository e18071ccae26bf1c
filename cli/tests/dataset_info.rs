//! `chunkwise info` on a whole Zarr group or NetCDF4 file (issue 9): dimensions, coordinates
//! with their range and decoded time span, variables, attributes.

use serde_json::Value;

mod common;

fn run(args: &[&str]) -> (i32, String, String) {
    let o = common::chunkwise(args);
    (o.code, o.stdout, o.stderr)
}

#[test]
fn info_on_a_zarr_group_shows_dims_coords_and_time_span() {
    let (code, out, err) = run(&["info", "tests/fixtures/dataset/v3.zarr"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("Dimensions:  (lat: 5, lon: 4, time: 60)"),
        "{out}"
    );
    assert!(
        out.contains("(time) 2001-01-01T00:00:00 .. 2001-03-01T00:00:00  calendar noleap"),
        "{out}"
    );
    assert!(out.contains("(lat) 60 .. 20"), "{out}");
    assert!(out.contains("(time, lat, lon) int16  [mm]"), "{out}");
    assert!(out.contains("title: chunkwise dataset fixture"), "{out}");

    let (code, out, err) = run(&["info", "--json", "tests/fixtures/dataset/v2.zarr"]);
    assert_eq!(code, 0, "{err}");
    let j: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(j["dimensions"]["time"], 60);
    assert_eq!(j["coordinates"]["time"]["calendar"], "standard");
    assert_eq!(
        j["variables"]["t2m"]["dims"],
        serde_json::json!(["time", "lat", "lon"])
    );
    assert_eq!(j["variables"]["tp"]["attributes"]["scale_factor"], 0.01);
}

#[test]
fn info_on_an_array_path_is_unchanged() {
    let (code, out, err) = run(&["info", "--json", "tests/fixtures/dataset/v3.zarr:/t2m"]);
    assert_eq!(code, 0, "{err}");
    let j: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(j["shape"], serde_json::json!([60, 5, 4]));
}

#[cfg(feature = "hdf5")]
#[test]
fn info_on_a_netcdf4_file_lists_its_variables() {
    let (code, out, err) = run(&["info", "tests/fixtures/dataset/noleap.nc"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("Dimensions:  (time: 40, lat: 5, lon: 4)") || out.contains("time: 40"),
        "{out}"
    );
    assert!(out.contains("calendar noleap"), "{out}");
    assert!(out.contains("(time, lat, lon) int16  [mm]"), "{out}");
}
