//! `--axis` by dimension name, `--sel` by coordinate label and `--isel` by position (issue 9),
//! on the xarray-written fixtures of `tests/fixtures/dataset` (t2m: time 60 days of 2001 in
//! the noleap calendar for v3 / standard for v2, lat 60..20 descending, lon 0..30).

use serde_json::Value;
use std::path::Path;

mod common;
use common::{ROOT, chunkwise, report_data, source_reads};

const V3: &str = "tests/fixtures/dataset/v3.zarr:/t2m";
const V2: &str = "tests/fixtures/dataset/v2.zarr:/t2m";

fn ok(args: &[&str]) -> String {
    let o = chunkwise(args);
    assert_eq!(o.code, 0, "{args:?}: {}", o.stderr);
    o.stdout
}

/// Exit 2 with `needles` in the message.
fn usage_error(args: &[&str], needles: &[&str]) {
    let o = chunkwise(args);
    assert_eq!(o.code, 2, "{args:?}: {}", o.stderr);
    for n in needles {
        assert!(o.stderr.contains(n), "{args:?}: {n:?} not in {}", o.stderr);
    }
}

fn read(out: &str) -> ndarray::ArrayD<f64> {
    let (store, array) = out.rsplit_once(':').unwrap();
    let rt = chunkwise::Runtime::builder().threads(1).build().unwrap();
    chunkwise::ChunkedArray::<f64>::open_zarr_as(Path::new(store), array)
        .unwrap()
        .compute(&rt)
        .unwrap()
}

fn info(out: &str) -> Value {
    serde_json::from_str(&ok(&["info", "--json", out])).unwrap()
}

fn expected(name: &str) -> Value {
    let p = Path::new(ROOT).join("tests/fixtures/dataset").join(name);
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap_or(f64::NAN))
        .collect()
}

fn close(a: &[f64], b: &[f64]) {
    assert_eq!(a.len(), b.len(), "{a:?} vs {b:?}");
    for (x, y) in a.iter().zip(b) {
        assert!((x - y).abs() <= 1e-4 * y.abs().max(1.0), "{a:?} vs {b:?}");
    }
}

/// The time mean of xarray's `t2m.sel(lat=slice(55, 25), lon=slice(5, 25),
/// time=slice("2001-02", "2001-02"))` (28 x 3 x 2 values in the fixture's JSON).
fn february_box_mean(file: &str) -> Vec<f64> {
    let v = floats(&expected(file)["t2m_sel"]);
    let n = v.len() / 6;
    (0..6)
        .map(|j| (0..n).map(|t| v[t * 6 + j]).sum::<f64>() / n as f64)
        .collect()
}

#[test]
fn reduce_by_dimension_name_over_a_label_selection_is_xarrays() {
    let d = tempfile::tempdir().unwrap();
    for (input, file) in [(V3, "v3.expected.json"), (V2, "v2.expected.json")] {
        let out = format!("{}:/m", d.path().join(format!("{file}.zarr")).display());
        ok(&[
            "reduce",
            "mean",
            "--axis",
            "time",
            "--sel",
            "lat=55:25,lon=5:25,time=2001-02:2001-02",
            input,
            &out,
        ]);
        let got = read(&out);
        assert_eq!(got.shape(), &[3, 2]);
        close(
            &got.iter().copied().collect::<Vec<_>>(),
            &february_box_mean(file),
        );
        let i = info(&out);
        assert_eq!(i["dimension_names"], serde_json::json!(["lat", "lon"]));
        let history = i["attributes"]["chunkwise_history"].as_str().unwrap();
        assert!(history.contains("--sel lat=55:25"), "{history}");
    }
    // The array named by its directory: the coordinates are those of the group above it.
    let out = format!("{}:/m", d.path().join("dir.zarr").display());
    ok(&[
        "reduce",
        "mean",
        "--axis",
        "time",
        "--sel",
        "lat=55:25,lon=5:25,time=2001-02:2001-02",
        "tests/fixtures/dataset/v3.zarr/t2m",
        &out,
    ]);
    close(
        &read(&out).iter().copied().collect::<Vec<_>>(),
        &february_box_mean("v3.expected.json"),
    );
    // A store whose root is the array has no coordinates beside it.
    let root = d.path().join("root.zarr");
    let root_s = root.to_str().unwrap();
    ok(&["rechunk", "--chunks", "60,5,4", V3, root_s]);
    usage_error(
        &[
            "reduce", "mean", "--axis", "time", "--sel", "lat=50", root_s, &out,
        ],
        &["root of its store", "--isel"],
    );
    ok(&[
        "reduce",
        "mean",
        "--axis",
        "time",
        "--isel",
        "lat=1",
        root_s,
        &format!("{}:/r", d.path().join("r.zarr").display()),
    ]);
}

#[test]
fn names_and_numbers_name_the_same_axes() {
    let d = tempfile::tempdir().unwrap();
    let by_name = format!("{}:/a", d.path().join("n.zarr").display());
    let by_number = format!("{}:/a", d.path().join("k.zarr").display());
    ok(&["reduce", "max", "--axis", "lat,lon", V3, &by_name]);
    ok(&["reduce", "max", "--axis", "1,2", V3, &by_number]);
    let a = read(&by_name);
    assert_eq!(a.shape(), &[60]);
    assert_eq!(a, read(&by_number));
    // A time range and a position range are the same selection here (days 31..59 of 2001).
    let s = format!("{}:/a", d.path().join("s.zarr").display());
    let i = format!("{}:/a", d.path().join("i.zarr").display());
    ok(&[
        "reduce",
        "sum",
        "--axis",
        "time",
        "--sel",
        "time=2001-02",
        V3,
        &s,
    ]);
    ok(&[
        "reduce",
        "sum",
        "--axis",
        "0",
        "--isel",
        "time=31:59",
        V3,
        &i,
    ]);
    assert_eq!(read(&s), read(&i));
}

#[test]
fn single_values_drop_their_dimension_and_numbered_axes_count_what_is_left() {
    let d = tempfile::tempdir().unwrap();
    let out = format!("{}:/a", d.path().join("a.zarr").display());
    // lat=40 exactly (position 2) and lon position 1: what is left is (time).
    ok(&[
        "rolling", "mean", "--axis", "0", "--window", "3", "--sel", "lat=40", "--isel", "lon=1",
        V3, &out,
    ]);
    let got = read(&out);
    assert_eq!(got.shape(), &[60]);
    assert_eq!(info(&out)["dimension_names"], serde_json::json!(["time"]));
    let t2m = floats(&expected("v3.expected.json")["vars"]["t2m"]["values"]);
    let at = |t: usize| t2m[t * 20 + 2 * 4 + 1];
    assert!(got[[0]].is_nan() && got[[1]].is_nan());
    close(&[got[[2]]], &[(at(0) + at(1) + at(2)) / 3.0]);
    // Steps and negative ends, as Python's.
    let r = format!("{}:/r", d.path().join("r.zarr").display());
    ok(&[
        "resample",
        "max",
        "--axis",
        "time",
        "--size",
        "2",
        "--isel",
        "time=-10::3,lat=0",
        V3,
        &r,
    ]);
    let got = read(&r);
    assert_eq!(got.shape(), &[2, 4]);
    let want = (0..4).map(|j| {
        let v = |t: usize| t2m[t * 20 + j];
        v(50).max(v(53))
    });
    close(
        &got.index_axis(ndarray::Axis(0), 0)
            .iter()
            .copied()
            .collect::<Vec<_>>(),
        &want.collect::<Vec<_>>(),
    );
}

#[test]
fn a_grouped_reduction_groups_the_selected_times() {
    let d = tempfile::tempdir().unwrap();
    let out = format!("{}:/g", d.path().join("g.zarr").display());
    // Days 20..45: the end of January and the start of February.
    let o = ok(&[
        "reduce",
        "mean",
        "--axis",
        "time",
        "--group-by",
        "month",
        "--isel",
        "time=20:45",
        V3,
        &out,
    ]);
    assert!(o.contains("2 groups"), "{o}");
    let got = read(&out);
    assert_eq!(got.shape(), &[2, 5, 4]);
    let t2m = floats(&expected("v3.expected.json")["vars"]["t2m"]["values"]);
    let jan = (20..31).map(|t| t2m[t * 20]).sum::<f64>() / 11.0;
    let feb = (31..45).map(|t| t2m[t * 20]).sum::<f64>() / 14.0;
    close(&[got[[0, 0, 0]], got[[1, 0, 0]]], &[jan, feb]);
    assert_eq!(
        info(&out)["attributes"]["chunkwise_groups"],
        serde_json::json!([1, 2])
    );
}

#[test]
fn bad_dimensions_values_and_syntax_are_usage_errors() {
    let d = tempfile::tempdir().unwrap();
    let out = format!("{}:/x", d.path().join("x.zarr").display());
    let o = out.as_str();
    // Unknown dimension names, with the known ones.
    usage_error(
        &["reduce", "mean", "--axis", "tim", V3, o],
        &["\"tim\"", "(time, lat, lon)"],
    );
    usage_error(
        &[
            "reduce",
            "mean",
            "--axis",
            "time",
            "--sel",
            "depth=0:10",
            V3,
            o,
        ],
        &["--sel", "\"depth\"", "(time, lat, lon)"],
    );
    usage_error(
        &["rolling", "mean", "--axis", "level", "--window", "2", V3, o],
        &["\"level\""],
    );
    // Values outside the coordinate, or ranges in its reverse order.
    usage_error(
        &[
            "reduce",
            "mean",
            "--axis",
            "time",
            "--sel",
            "lat=90:70",
            V3,
            o,
        ],
        &["lat", "60", "20"],
    );
    usage_error(
        &[
            "reduce",
            "mean",
            "--axis",
            "time",
            "--sel",
            "lat=30:60",
            V3,
            o,
        ],
        &["lat", "reverse"],
    );
    usage_error(
        &[
            "reduce",
            "mean",
            "--axis",
            "lat",
            "--sel",
            "time=2002-01",
            V3,
            o,
        ],
        &["time", "2001-01-01"],
    );
    usage_error(
        &["reduce", "mean", "--axis", "time", "--sel", "lat=45", V3, o],
        &["lat", "45"],
    );
    usage_error(
        &["reduce", "mean", "--axis", "time", "--isel", "lat=7", V3, o],
        &["lat=7"],
    );
    usage_error(
        &[
            "reduce",
            "mean",
            "--axis",
            "time",
            "--isel",
            "time=10:10",
            V3,
            o,
        ],
        &["no position"],
    );
    // Bad syntax.
    usage_error(
        &["reduce", "mean", "--axis", "time", "--sel", "lat", V3, o],
        &["DIM="],
    );
    usage_error(
        &[
            "reduce",
            "mean",
            "--axis",
            "time",
            "--sel",
            "lat=north:30",
            V3,
            o,
        ],
        &["\"north\"", "numbers"],
    );
    usage_error(
        &[
            "reduce", "mean", "--axis", "time", "--isel", "time=a:3", V3, o,
        ],
        &["\"a\""],
    );
    usage_error(
        &[
            "reduce",
            "mean",
            "--axis",
            "time",
            "--isel",
            "time=0:9:-1",
            V3,
            o,
        ],
        &["step"],
    );
    usage_error(
        &[
            "reduce",
            "mean",
            "--axis",
            "time",
            "--sel",
            "lat=60:30",
            "--isel",
            "lat=0",
            V3,
            o,
        ],
        &["both"],
    );
    usage_error(&["reduce", "mean", "--axis", "-1", V3, o], &["axis"]);
    // Selecting the only axis away leaves nothing to reduce along it.
    usage_error(
        &[
            "reduce", "mean", "--axis", "time", "--isel", "time=3", V3, o,
        ],
        &["\"time\"", "(lat, lon)", "after --sel/--isel"],
    );
    assert!(!d.path().join("x.zarr").join("x").exists());
}

#[test]
fn a_selection_reads_only_the_chunks_it_covers() {
    let d = tempfile::tempdir().unwrap();
    let report = d.path().join("r.html");
    let r = report.to_str().unwrap();
    // t2m is stored in 4 chunks of 16 days; January 20..31 lies in the second only.
    let all = format!("{}:/a", d.path().join("all.zarr").display());
    ok(&["reduce", "mean", "--axis", "time", "--report", r, V3, &all]);
    assert_eq!(source_reads(&report_data(&report)), 4);
    let some = format!("{}:/a", d.path().join("some.zarr").display());
    ok(&[
        "reduce",
        "mean",
        "--axis",
        "time",
        "--report",
        r,
        "--sel",
        "time=2001-01-20:2001-01-31,lat=50",
        V3,
        &some,
    ]);
    assert_eq!(source_reads(&report_data(&report)), 1);
    assert_eq!(read(&some).shape(), &[4]);
}

#[test]
fn stats_of_a_selection() {
    let j: Value = serde_json::from_str(&ok(&[
        "stats",
        "--json",
        "--sel",
        "time=2001-02,lat=50",
        V3,
    ]))
    .unwrap();
    assert_eq!(j["shape"], serde_json::json!([28, 4]));
    assert_eq!(j["count"], 28 * 4);
    let t2m = floats(&expected("v3.expected.json")["vars"]["t2m"]["values"]);
    let want = (31..59)
        .flat_map(|t| (0..4).map(move |j| (t, j)))
        .map(|(t, j)| t2m[t * 20 + 4 + j])
        .fold(f64::NEG_INFINITY, f64::max);
    close(&[j["max"].as_f64().unwrap()], &[want]);
}
