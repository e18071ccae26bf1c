//! Integration tests of the `chunkwise` binary on the committed fixtures: `stats --json`
//! against the recorded answers, round trips through `rechunk` and `convert`, `reduce`,
//! grouped `reduce` (`--group-by`, `--labels`, `--period`), `resample` and `rolling`,
//! `bench --quick`, the HTML report (in headless Chromium when `/usr/bin/chromium` exists),
//! and exit codes and messages of bad paths, options and types.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

mod common;
use common::{Out, ROOT, chunkwise, report_data, source_reads};

/// Runs and expects success.
fn ok(args: &[&str]) -> Out {
    let o = chunkwise(args);
    assert_eq!(
        o.code, 0,
        "chunkwise {args:?} failed:\nstdout: {}\nstderr: {}",
        o.stdout, o.stderr
    );
    o
}

/// Runs and expects failure with `code` and a message on stderr containing `needle`.
fn fails(args: &[&str], code: i32, needle: &str) -> Out {
    let o = chunkwise(args);
    assert_eq!(
        o.code, code,
        "chunkwise {args:?}: expected exit {code}\nstdout: {}\nstderr: {}",
        o.stdout, o.stderr
    );
    assert!(
        o.stderr.to_lowercase().contains(&needle.to_lowercase()),
        "chunkwise {args:?}: stderr lacks {needle:?}:\n{}",
        o.stderr
    );
    assert!(o.stdout.is_empty() || code == 0, "no output on failure");
    o
}

fn json(o: &Out) -> Value {
    serde_json::from_str(&o.stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", o.stdout))
}

fn stats(path: &str) -> Value {
    json(&ok(&["stats", "--json", "--threads", "2", path]))
}

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

fn p(dir: &Path, name: &str) -> String {
    dir.join(name).to_string_lossy().into_owned()
}

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * a.abs().max(b.abs()).max(1e-300)
}

/// Expected stats of flat data (NaN skipped; bool as 0/1): count, sum, min, max, mean, std.
fn expected_stats(data: &[Value]) -> [Option<f64>; 6] {
    let v: Vec<f64> = data
        .iter()
        .filter_map(|x| match x {
            Value::Bool(b) => Some(f64::from(u8::from(*b))),
            Value::Number(n) => n.as_f64(),
            _ => None,
        })
        .filter(|x| !x.is_nan())
        .collect();
    let n = v.len() as f64;
    if v.is_empty() {
        return [Some(0.0), Some(0.0), None, None, None, None];
    }
    let sum: f64 = v.iter().sum();
    let mean = sum / n;
    let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
    let min = v.iter().copied().fold(f64::INFINITY, f64::min);
    let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    [
        Some(n),
        Some(sum),
        Some(min),
        Some(max),
        Some(mean),
        Some(var.sqrt()),
    ]
}

const STAT_KEYS: [&str; 6] = ["count", "sum", "min", "max", "mean", "std"];

fn assert_stats(what: &str, got: &Value, want: &[Option<f64>; 6]) {
    let keys: Vec<&str> = got
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    let mut sorted = keys.clone();
    sorted.sort_unstable();
    assert_eq!(
        sorted,
        [
            "chunks", "count", "dtype", "max", "mean", "min", "shape", "std", "sum"
        ],
        "{what}: keys"
    );
    for (k, w) in STAT_KEYS.iter().zip(want) {
        let g = got[*k].as_f64();
        match (g, w) {
            (None, None) => {}
            (Some(g), Some(w)) => {
                // Sums cancel (values of both signs): compare them on the scale of the values.
                let tol = if *k == "sum" || *k == "mean" {
                    1e-9
                } else {
                    1e-7
                };
                let scale = if *k == "sum" {
                    want[0].unwrap_or(1.0)
                        * want[3]
                            .unwrap_or(1.0)
                            .abs()
                            .max(want[2].unwrap_or(1.0).abs())
                } else {
                    g.abs().max(w.abs())
                };
                assert!(
                    (g - w).abs() <= tol * scale.max(1e-12),
                    "{what}: {k} = {g}, expected {w}"
                );
            }
            _ => panic!("{what}: {k} = {:?}, expected {w:?}", got[*k]),
        }
    }
}

/// The same statistics of the same values, maybe chunked differently (so summed in another
/// order): exact shape, dtype, count, min and max; sum, mean and std to 1e-12.
fn same_stats(what: &str, a: &Value, b: &Value) {
    for k in ["shape", "dtype", "count", "min", "max"] {
        assert_eq!(a[k], b[k], "{what}: {k}");
    }
    for k in ["sum", "mean", "std"] {
        let (x, y) = (a[k].as_f64().unwrap(), b[k].as_f64().unwrap());
        assert!(close(x, y, 1e-12), "{what}: {k} {x} vs {y}");
    }
}

#[test]
fn sample_stats_match_recorded_answers() {
    let exp: Value = serde_json::from_str(
        &std::fs::read_to_string(Path::new(ROOT).join("data/sample_expected.json")).unwrap(),
    )
    .unwrap();
    let got = stats("data/sample.zarr:/t2m");
    assert_eq!(got["shape"], exp["shape"]);
    assert_eq!(got["dtype"], "float32");
    assert_eq!(got["chunks"], exp["chunks"]);
    assert_eq!(got["count"].as_f64(), Some(60.0 * 73.0 * 144.0));
    let g = |k: &str| got[k].as_f64().unwrap();
    let e = |k: &str| exp[k].as_f64().unwrap();
    assert!(
        close(g("mean"), e("global_mean"), 1e-12),
        "mean {}",
        g("mean")
    );
    assert!(close(g("std"), e("global_std"), 1e-9), "std {}", g("std"));
    assert_eq!(g("min"), e("global_min"));
    assert_eq!(g("max"), e("global_max"));
    assert!(close(g("sum"), e("global_mean") * g("count"), 1e-12));
    // The same through the store-relative spelling.
    let again = stats("data/sample.zarr/t2m");
    assert_eq!(again, got);
}

#[test]
fn stats_reads_each_block_once() {
    let d = tmp();
    let report = p(d.path(), "r.html");
    let o = ok(&[
        "stats",
        "data/sample.zarr:/t2m",
        "--threads",
        "2",
        "--report",
        &report,
    ]);
    assert!(o.stdout.contains("mean:"), "{}", o.stdout);
    let line = o.stdout.lines().find(|l| l.starts_with("run:")).unwrap();
    assert!(line.contains("6 blocks"), "{line}");
    // The report's task events: one source read per block for all six statistics.
    let data = report_data(Path::new(&report));
    let reads = source_reads(&data);
    assert_eq!(reads, 6, "{data}");
    assert_eq!(
        data["events"].as_array().unwrap().len(),
        data["tasks"].as_u64().unwrap() as usize
    );
}

#[test]
fn zarr_fixture_stats_match_recorded_answers() {
    let exp: Value = serde_json::from_str(
        &std::fs::read_to_string(Path::new(ROOT).join("tests/data/zarr/expected.json")).unwrap(),
    )
    .unwrap();
    let arrays = exp["arrays"].as_array().unwrap();
    assert!(arrays.len() >= 10);
    for a in arrays {
        let path = format!(
            "tests/data/zarr/{}:/{}",
            a["store"].as_str().unwrap(),
            a["path"].as_str().unwrap()
        );
        let got = stats(&path);
        assert_eq!(got["shape"], a["shape"], "{path}");
        assert_eq!(got["dtype"], a["dtype"], "{path}");
        // As xarray reads Zarr v2: the fill value is `_FillValue`, a mask (bool aside).
        let fill = &a["fill_value"];
        let data: Vec<Value> = if a["zarr_format"] == 2 && !fill.is_null() && a["dtype"] != "bool" {
            a["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| if v == fill { Value::Null } else { v.clone() })
                .collect()
        } else {
            a["data"].as_array().unwrap().clone()
        };
        assert_stats(&path, &got, &expected_stats(&data));
    }
}

#[test]
fn unsupported_types_fail_cleanly() {
    for path in [
        "tests/data/zarr/v3.zarr:/c8_unsupported",
        "tests/data/zarr/v3.zarr:/f2_unsupported",
        "tests/data/zarr/v2.zarr:/c16_unsupported",
    ] {
        for cmd in ["stats", "info"] {
            let o = fails(&[cmd, path], 1, "unsupported");
            assert!(o.stderr.starts_with("error: "), "{}", o.stderr);
        }
    }
}

#[test]
fn info_describes_the_array() {
    let o = ok(&["info", "--json", "tests/data/zarr/v3.zarr:/f4_zstd"]);
    let v = json(&o);
    assert_eq!(v["format"], "Zarr v3");
    assert_eq!(v["shape"], serde_json::json!([37, 23]));
    assert_eq!(v["dtype"], "float32");
    assert_eq!(v["chunks"], serde_json::json!([10, 8]));
    assert_eq!(v["dimension_names"], serde_json::json!(["y", "x"]));
    assert_eq!(v["attributes"]["units"], "K");
    assert!(
        v["codecs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c.as_str().unwrap().contains("zstd")),
        "{v}"
    );
    let text = ok(&["info", "tests/data/zarr/v2.zarr:/f4_blosc"]).stdout;
    for needle in [
        "Zarr v2", "float32", "(37, 23)", "blosc", "lat, lon", "units",
    ] {
        assert!(text.contains(needle), "info lacks {needle}:\n{text}");
    }
    let sharded = json(&ok(&[
        "info",
        "--json",
        "tests/data/zarr/v3.zarr:/i8_sharded",
    ]));
    assert!(sharded["inner_chunks"].is_array(), "{sharded}");
}

#[test]
fn rechunk_round_trip() {
    let d = tmp();
    for (src, chunks) in [
        ("tests/data/zarr/v3.zarr:/f4_nan_missing", "5,3"),
        ("tests/data/zarr/v2.zarr:/i8_blosc", "25,1"),
        ("tests/data/zarr/v3.zarr:/b1", "13,9"),
        ("data/sample.zarr:/t2m", "60,10,144"),
    ] {
        let out = format!("{}:/r", p(d.path(), "out.zarr"));
        ok(&["rechunk", "--overwrite", "--chunks", chunks, src, &out]);
        let info = json(&ok(&["info", "--json", &out]));
        let want: Vec<usize> = chunks.split(',').map(|c| c.parse().unwrap()).collect();
        assert_eq!(info["chunks"], serde_json::json!(want), "{src}");
        same_stats(src, &stats(src), &stats(&out));
    }
    // A directory output becomes a root array, readable without an inner path.
    let root = p(d.path(), "root.zarr");
    ok(&[
        "rechunk",
        "--chunks",
        "4,4",
        "tests/data/zarr/v2.zarr:/grp/sub/arr",
        &root,
    ]);
    assert_eq!(
        stats(&root)["sum"],
        stats("tests/data/zarr/v2.zarr:/grp/sub/arr")["sum"]
    );
    // ... and is not replaced without --overwrite.
    fails(
        &[
            "rechunk",
            "--chunks",
            "2,2",
            "tests/data/zarr/v2.zarr:/grp/sub/arr",
            &root,
        ],
        1,
        "--overwrite",
    );
    ok(&[
        "rechunk",
        "--overwrite",
        "--chunks",
        "2,2",
        "tests/data/zarr/v2.zarr:/grp/sub/arr",
        &root,
    ]);
    assert_eq!(
        json(&ok(&["info", "--json", &root]))["chunks"],
        serde_json::json!([2, 2])
    );
}

#[test]
fn convert_zarr_round_trip_keeps_metadata() {
    let d = tmp();
    let v2 = format!("{}:/t2m", p(d.path(), "v2.zarr"));
    ok(&[
        "convert",
        "--zarr-format",
        "2",
        "data/sample.zarr:/t2m",
        &v2,
    ]);
    let info = json(&ok(&["info", "--json", &v2]));
    assert_eq!(info["format"], "Zarr v2");
    assert_eq!(
        info["dimension_names"],
        serde_json::json!(["time", "lat", "lon"])
    );
    assert_eq!(info["attributes"]["units"], "K");
    let back = format!("{}:/t2m", p(d.path(), "v3.zarr"));
    ok(&["convert", "--compression-level", "0", &v2, &back]);
    assert_eq!(stats(&back), stats("data/sample.zarr:/t2m"));
}

#[test]
fn reduce_writes_zarr() {
    let exp: Value = serde_json::from_str(
        &std::fs::read_to_string(Path::new(ROOT).join("data/sample_expected.json")).unwrap(),
    )
    .unwrap();
    let d = tmp();
    let out = format!("{}:/tmean", p(d.path(), "r.zarr"));
    let o = ok(&[
        "reduce",
        "mean",
        "--axis",
        "0",
        "data/sample.zarr:/t2m",
        &out,
    ]);
    assert!(o.stdout.contains("wrote"), "{}", o.stdout);
    let info = json(&ok(&["info", "--json", &out]));
    assert_eq!(info["shape"], serde_json::json!([73, 144]));
    assert_eq!(info["dimension_names"], serde_json::json!(["lat", "lon"]));
    let s = stats(&out);
    // The mean of the time means is the global mean.
    assert!(close(
        s["mean"].as_f64().unwrap(),
        exp["global_mean"].as_f64().unwrap(),
        1e-6
    ));
    // Spatial means over (lat, lon), keepdims.
    let out2 = p(d.path(), "spatial.zarr");
    ok(&[
        "reduce",
        "nanmean",
        "--axis",
        "1,2",
        "--keepdims",
        "data/sample.zarr:/t2m",
        &out2,
    ]);
    let info = json(&ok(&["info", "--json", &out2]));
    assert_eq!(info["shape"], serde_json::json!([60, 1, 1]));
    // std, var and bool sums run too.
    for op in [
        "std", "var", "nanstd", "nanvar", "min", "max", "nanmin", "nanmax", "sum", "nansum",
    ] {
        let o = format!("{}:/{op}", p(d.path(), "ops.zarr"));
        ok(&[
            "reduce",
            op,
            "--axis",
            "0",
            "tests/data/zarr/v3.zarr:/f4_nan_missing",
            &o,
        ]);
    }
    let o = format!("{}:/count", p(d.path(), "ops.zarr"));
    ok(&[
        "reduce",
        "sum",
        "--axis",
        "0,1",
        "tests/data/zarr/v3.zarr:/b1",
        &o,
    ]);
}

#[test]
fn bad_paths_exit_1() {
    let d = tmp();
    fails(&["stats", "no/such/store.zarr:/x"], 1, "no such file");
    fails(&["info", "no-such-thing"], 1, "no such file");
    // A group, not an array: the message says how to name one.
    let o = fails(&["stats", "data/sample.zarr"], 1, "ARRAY");
    assert!(o.stderr.contains("t2m"), "lists the arrays: {}", o.stderr);
    fails(&["stats", "data/sample.zarr:/nope"], 1, "nope");
    fails(&["info", "Cargo.toml"], 1, "neither a Zarr store");
    // A file where a Zarr output directory should go.
    let f = p(d.path(), "file.zarr");
    std::fs::write(&f, "x").unwrap();
    fails(
        &["convert", "data/sample.zarr:/t2m", &f],
        1,
        "not a Zarr array",
    );
}

/// Broken chunks through `stats`: the message names the array, the chunk's grid index and
/// its file, and says truncated / a directory, never a bare "failed to fill whole buffer".
#[test]
fn broken_chunks_are_named_by_stats() {
    let d = tmp();
    let store = p(d.path(), "s.zarr");
    let arr = format!("{store}:/a");
    ok(&[
        "convert",
        "--chunks",
        "2,3,5",
        "--compression-level",
        "0",
        "tests/data/xarray/packed.zarr3:/t2m",
        &arr,
    ]);
    let chunk = d.path().join("s.zarr/a/c/1/1/0");
    let bytes = std::fs::read(&chunk).unwrap();
    std::fs::write(&chunk, &bytes[..bytes.len() / 3]).unwrap();
    let o = fails(&["stats", &arr], 1, "chunk [1, 1, 0]");
    assert!(
        o.stderr.contains(&chunk.display().to_string()),
        "{}",
        o.stderr
    );
    assert!(o.stderr.contains("truncated"), "{}", o.stderr);
    std::fs::remove_file(&chunk).unwrap();
    std::fs::create_dir(&chunk).unwrap();
    let o = fails(&["stats", &arr], 1, "is a directory");
    assert!(o.stderr.contains("chunk [1, 1, 0]"), "{}", o.stderr);
    assert!(
        o.stderr.contains(&chunk.display().to_string()),
        "{}",
        o.stderr
    );
}

/// Runs the binary as the unprivileged user `nobody` when the tests run as root (root reads
/// regardless of permissions), through `setpriv`; `None`, printing why, when that is
/// impossible. As any other user it runs the binary directly.
fn chunkwise_unprivileged(args: &[&str]) -> Option<Out> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Some(chunkwise(args));
    }
    let setpriv = ["/usr/bin/setpriv", "/bin/setpriv"]
        .into_iter()
        .find(|p| Path::new(p).is_file());
    let Some(setpriv) = setpriv else {
        println!(
            "skipped: running as root (which reads regardless of permissions) without setpriv"
        );
        return None;
    };
    // The checkout may sit below a directory `nobody` cannot enter (e.g. /root): then the
    // binary cannot be run as `nobody` at all, and the check is skipped.
    let probe = Command::new(setpriv)
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(env!("CARGO_BIN_EXE_chunkwise"))
        .arg("--help")
        .current_dir(ROOT)
        .output();
    if !probe.is_ok_and(|o| o.status.success()) {
        println!("skipped: the user nobody cannot run the chunkwise binary from this checkout");
        return None;
    }
    let out = Command::new(setpriv)
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(env!("CARGO_BIN_EXE_chunkwise"))
        .args(args)
        .current_dir(ROOT)
        .output()
        .expect("run the chunkwise binary through setpriv");
    Some(Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}

/// Unreadable stores, array directories and parent directories: "permission denied" and the
/// path, not "no Zarr array here" or "no such file".
#[test]
fn unreadable_paths_say_permission_denied() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path, m: u32| {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
    };
    let d = tmp();
    mode(d.path(), 0o755);
    let store = p(d.path(), "s.zarr");
    ok(&[
        "convert",
        "tests/data/xarray/packed.zarr3:/t2m",
        &format!("{store}:/a"),
    ]);
    std::fs::create_dir(d.path().join("locked")).unwrap();
    std::fs::copy(
        Path::new(ROOT).join("tests/data/xarray/packed.zarr3/zarr.json"),
        d.path().join("locked/zarr.json"),
    )
    .unwrap();
    let mut cases = vec![
        (format!("{store}:/a"), d.path().join("s.zarr/a")),
        (p(d.path(), "locked/x.zarr"), d.path().join("locked")),
    ];
    if cfg!(feature = "hdf5") {
        std::fs::copy(
            Path::new(ROOT).join("tests/data/xarray/packed.nc"),
            d.path().join("locked/p.nc"),
        )
        .unwrap();
        cases.push((p(d.path(), "locked/p.nc:/t2m"), d.path().join("locked")));
    }
    mode(&d.path().join("s.zarr/a"), 0o000);
    mode(&d.path().join("locked"), 0o000);
    for (arg, _) in &cases {
        let Some(o) = chunkwise_unprivileged(&["stats", arg]) else {
            break;
        };
        assert_eq!(o.code, 1, "{arg}: {}", o.stderr);
        let text = o.stderr.to_lowercase();
        assert!(text.contains("permission denied"), "{arg}: {}", o.stderr);
        assert!(!text.contains("no zarr array"), "{arg}: {}", o.stderr);
        assert!(!text.contains("no such file"), "{arg}: {}", o.stderr);
        assert!(
            o.stderr.contains(arg.split(":/").next().unwrap()),
            "{arg}: {}",
            o.stderr
        );
    }
    mode(&d.path().join("s.zarr/a"), 0o755);
    mode(&d.path().join("locked"), 0o755);
}

#[test]
fn bad_options_exit_2() {
    fails(
        &["--memory-limit", "lots", "stats", "data/sample.zarr:/t2m"],
        2,
        "memory size",
    );
    fails(
        &["stats", "--threads", "0", "data/sample.zarr:/t2m"],
        2,
        "threads",
    );
    fails(
        &[
            "rechunk",
            "--chunks",
            "4,x",
            "data/sample.zarr:/t2m",
            "/tmp/x.zarr",
        ],
        2,
        "chunks",
    );
    fails(
        &[
            "rechunk",
            "--chunks",
            "4,0,1",
            "data/sample.zarr:/t2m",
            "/tmp/x.zarr",
        ],
        2,
        ">= 1",
    );
    fails(
        &[
            "rechunk",
            "--chunks",
            "4,4",
            "data/sample.zarr:/t2m",
            "/tmp/x.zarr",
        ],
        2,
        "3 axes",
    );
    fails(
        &[
            "reduce",
            "median",
            "--axis",
            "0",
            "data/sample.zarr:/t2m",
            "/tmp/x.zarr",
        ],
        2,
        "median",
    );
    fails(
        &[
            "reduce",
            "mean",
            "--axis",
            "3",
            "data/sample.zarr:/t2m",
            "/tmp/x.zarr",
        ],
        2,
        "out of range",
    );
    fails(
        &["reduce", "mean", "data/sample.zarr:/t2m", "/tmp/x.zarr"],
        2,
        "--axis",
    );
    fails(&["frobnicate"], 2, "frobnicate");
    fails(&["stats"], 2, "PATH");
    fails(
        &["convert", "data/sample.zarr:/t2m", "data/sample.zarr:/t2m"],
        2,
        "is the input",
    );
}

#[test]
fn memory_limit_too_small_is_a_runtime_error() {
    let o = fails(
        &["--memory-limit", "64KiB", "stats", "data/sample.zarr:/t2m"],
        1,
        "memory limit",
    );
    assert!(o.stderr.starts_with("error: "), "{}", o.stderr);
}

#[test]
fn progress_lines_when_forced_without_a_terminal() {
    let o = ok(&["stats", "--progress", "data/sample.zarr:/t2m"]);
    assert!(o.stderr.contains("progress:"), "{}", o.stderr);
    let o = ok(&["stats", "data/sample.zarr:/t2m"]);
    assert!(
        o.stderr.is_empty(),
        "quiet when not a terminal: {}",
        o.stderr
    );
}

#[test]
fn dot_output() {
    let d = tmp();
    let dot = p(d.path(), "plan.dot");
    ok(&["stats", "--dot", &dot, "data/sample.zarr:/t2m"]);
    let s = std::fs::read_to_string(&dot).unwrap();
    assert!(s.starts_with("digraph"), "{s}");
    assert!(s.contains("nanstd") || s.contains("reduce"), "{s}");
}

#[test]
fn bench_quick_json() {
    let o = ok(&["bench", "--quick", "--json", "--threads", "2"]);
    let v = json(&o);
    let rows = v.as_array().unwrap();
    assert_eq!(rows.len(), 5);
    for r in rows {
        let keys: Vec<&String> = r.as_object().unwrap().keys().collect();
        for k in [
            "workload",
            "runs",
            "chunkwise_s",
            "chunkwise_min_s",
            "chunkwise_max_s",
            "ndarray_s",
            "ndarray_min_s",
            "ndarray_max_s",
            "ndarray_par_s",
            "ndarray_par_min_s",
            "ndarray_par_max_s",
            "peak_bytes",
            "tasks",
        ] {
            assert!(r.get(k).is_some(), "missing {k} in {r}");
        }
        assert_eq!(keys.len(), 13, "{r}");
        assert_eq!(r["runs"].as_u64(), Some(10));
        let (lo, med, hi) = (
            r["chunkwise_min_s"].as_f64().unwrap(),
            r["chunkwise_s"].as_f64().unwrap(),
            r["chunkwise_max_s"].as_f64().unwrap(),
        );
        assert!(0.0 < lo && lo <= med && med <= hi, "{r}");
        assert!(r["tasks"].as_u64().unwrap() > 0);
    }
    // Reductions read many small blocks in blocks of about 1 MiB (optimizer rule 7), so the
    // 10,000 blocks run as a few dozen tasks.
    let tasks = rows[3]["tasks"].as_u64().unwrap();
    assert!((2..1_000).contains(&tasks), "{}", rows[3]);
    assert!(!o.stderr.contains("differ"), "{}", o.stderr);
}

#[test]
fn html_report_draws_one_lane_per_worker() {
    let d = tmp();
    let report = p(d.path(), "report.html");
    ok(&[
        "stats",
        "--threads",
        "3",
        "--report",
        &report,
        "data/sample.zarr:/t2m",
    ]);
    let html = std::fs::read_to_string(&report).unwrap();
    assert!(html.contains("id=\"run-data\""));
    assert!(!html.contains("<script src") && !html.contains("<link"));

    let chromium = Path::new("/usr/bin/chromium");
    if !chromium.exists() {
        eprintln!("skipping the headless-Chromium check: /usr/bin/chromium not found");
        return;
    }
    let profile = tmp();
    let url = format!("file://{}", PathBuf::from(&report).display());
    let out = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            &format!("--user-data-dir={}", profile.path().display()),
            "--enable-logging=stderr",
            "--v=0",
            "--dump-dom",
            &url,
        ])
        .output()
        .expect("run chromium");
    let dom = String::from_utf8_lossy(&out.stdout);
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        !dom.contains("data-error="),
        "the page's script failed:\n{dom}\n{log}"
    );
    assert!(
        dom.contains("data-ok=\"1\""),
        "page not drawn:\n{dom}\n{log}"
    );
    assert!(
        dom.contains("data-lanes=\"3\""),
        "one lane per worker:\n{dom}"
    );
    let console_errors: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("CONSOLE") && (l.contains("ERROR") || l.contains("Uncaught")))
        .collect();
    assert!(
        console_errors.is_empty(),
        "console errors: {console_errors:?}"
    );
}

#[cfg(not(feature = "hdf5"))]
#[test]
fn hdf5_paths_need_the_feature() {
    fails(
        &["stats", "tests/data/hdf5/fixtures.h5:/chunked_f4"],
        1,
        "without HDF5 support",
    );
    fails(
        &[
            "convert",
            "data/sample.zarr:/t2m",
            "/tmp/chunkwise-never.h5:/t2m",
        ],
        1,
        "without HDF5 support",
    );
}

#[cfg(feature = "hdf5")]
mod hdf5 {
    use super::*;

    /// The NetCDF sample's `time` variable (a dimension scale beside `t2m`) gives the same
    /// months as the Zarr sample's.
    #[test]
    fn group_by_month_of_netcdf_equals_zarr() {
        let d = tmp();
        let (zarr, _) = grouped(d.path(), "z", "mean", &["--group-by", "month"]);
        let nc = format!("{}:/nc", p(d.path(), "g.zarr"));
        let o = ok(&[
            "reduce",
            "mean",
            "--axis",
            "0",
            "--group-by",
            "month",
            "data/sample.nc:/t2m",
            &nc,
        ]);
        assert!(o.stdout.contains("12 groups along axis 0"), "{}", o.stdout);
        let info = json(&ok(&["info", "--json", &nc]));
        assert_eq!(
            info["attributes"]["chunkwise_groups"],
            serde_json::json!((1..=12).collect::<Vec<_>>())
        );
        assert_eq!(read_f64(&nc), read_f64(&zarr));
    }

    fn expected() -> Value {
        serde_json::from_str(
            &std::fs::read_to_string(Path::new(ROOT).join("tests/data/hdf5/expected.json"))
                .unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn stats_match_recorded_answers() {
        let exp = expected();
        for (ds, key) in [
            ("fixtures.h5:/chunked_f4", "chunked_f4"),
            ("fixtures.h5:/contiguous_f8", "contiguous_f8"),
            ("fixtures.h5:/fill_f4", "fill_f4"),
            ("fixtures.h5:/group/sub/var", "group/sub/var"),
            ("fixtures.h5:/be_f4", "be_f4"),
            ("fixtures.h5:/fletcher_i4", "fletcher_i4"),
            ("fixtures.h5:ints/i2", "ints/i2"),
            ("fixtures.h5:/ints/i8", "ints/i8"),
            ("fixtures.h5:/ints/u1", "ints/u1"),
            ("packed.nc:t", "nc:t_decoded"),
            ("packed.nc:/lat", "nc:lat"),
        ] {
            let path = format!("tests/data/hdf5/{ds}");
            let got = stats(&path);
            assert_eq!(got["shape"], exp[key]["shape"], "{path}");
            assert_stats(
                &path,
                &got,
                &expected_stats(exp[key]["data"].as_array().unwrap()),
            );
        }
        // Packed NetCDF: the stored type, decoded values (2 fill values skipped).
        let t = stats("tests/data/hdf5/packed.nc:/t");
        assert_eq!(t["dtype"], "int16");
        assert_eq!(t["count"].as_f64(), Some(118.0));
        // Booleans count `true` as 1.
        let m = stats("tests/data/hdf5/fixtures.h5:/mask");
        let trues = exp["mask"]["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|v| v.as_i64() == Some(1))
            .count();
        assert_eq!(m["sum"].as_f64(), Some(trues as f64));
        assert_eq!(m["count"].as_f64(), Some(20.0));
    }

    #[test]
    fn info_of_netcdf() {
        let v = json(&ok(&["info", "--json", "tests/data/hdf5/packed.nc:/t"]));
        assert_eq!(v["format"], "NetCDF4 (HDF5)");
        assert_eq!(v["dtype"], "int16");
        assert_eq!(
            v["dimension_names"],
            serde_json::json!(["time", "lat", "lon"])
        );
        assert_eq!(v["attributes"]["units"], "K");
        let text = ok(&["info", "tests/data/hdf5/fixtures.h5:/chunked_f4"]).stdout;
        assert!(text.contains("HDF5") && text.contains("deflate"), "{text}");
    }

    #[test]
    fn convert_round_trips() {
        let d = tmp();
        // HDF5 -> Zarr -> HDF5, values and chunks kept.
        let z = format!("{}:/v", p(d.path(), "a.zarr"));
        ok(&["convert", "tests/data/hdf5/fixtures.h5:/chunked_f4", &z]);
        assert_eq!(
            json(&ok(&["info", "--json", &z]))["chunks"],
            serde_json::json!([10, 8])
        );
        let h = format!("{}:/grp/v", p(d.path(), "b.h5"));
        ok(&["convert", &z, &h]);
        let a = stats("tests/data/hdf5/fixtures.h5:/chunked_f4");
        assert_eq!(stats(&z), a);
        assert_eq!(stats(&h), a);
        // Packed NetCDF to Zarr keeps the stored int16 and the CF attributes, so the
        // decoded statistics agree.
        let zt = format!("{}:/t", p(d.path(), "t.zarr"));
        ok(&["convert", "tests/data/hdf5/packed.nc:t", &zt]);
        let (x, y) = (stats("tests/data/hdf5/packed.nc:t"), stats(&zt));
        for k in ["count", "min", "max"] {
            assert_eq!(x[k], y[k], "{k}");
        }
        assert!(close(
            x["mean"].as_f64().unwrap(),
            y["mean"].as_f64().unwrap(),
            1e-12
        ));
        // Zarr -> HDF5 with new chunks; then rechunk HDF5 -> Zarr.
        let h2 = format!("{}:/t2m", p(d.path(), "s.nc"));
        ok(&[
            "convert",
            "--chunks",
            "30,73,72",
            "data/sample.zarr:/t2m",
            &h2,
        ]);
        let info = json(&ok(&["info", "--json", &h2]));
        assert_eq!(info["chunks"], serde_json::json!([30, 73, 72]));
        let z2 = p(d.path(), "s2.zarr");
        ok(&["rechunk", "--chunks", "60,10,144", &h2, &z2]);
        same_stats(&z2, &stats(&z2), &stats("data/sample.zarr:/t2m"));
    }

    /// `convert` Zarr -> NetCDF4 keeps each variable's attributes (packed integers stay
    /// meaningful) and its dimension names: the file read back by chunkwise has xarray's
    /// recorded statistics, the dimensions of the input, and its CF attributes.
    #[test]
    fn convert_zarr_to_netcdf_keeps_attributes_and_dimensions() {
        let exp: Value = serde_json::from_str(
            &std::fs::read_to_string(Path::new(ROOT).join("tests/data/xarray/expected.json"))
                .unwrap(),
        )
        .unwrap();
        let d = tmp();
        for store in ["packed.zarr2", "packed.zarr3"] {
            let nc = p(d.path(), &format!("{store}.nc"));
            for var in ["tp", "sst", "t2m", "flag"] {
                let out = format!("{nc}:/{var}");
                ok(&[
                    "convert",
                    &format!("tests/data/xarray/{store}:/{var}"),
                    &out,
                ]);
                let want = &exp[store][var]["stats"];
                let got = stats(&out);
                assert_eq!(got["count"], want["count"], "{out}");
                for k in ["sum", "min", "max", "mean", "std"] {
                    let (g, w) = (got[k].as_f64().unwrap(), want[k].as_f64().unwrap());
                    assert!(close(g, w, 1e-6), "{out} {k}: {g} vs xarray's {w}");
                }
                let info = json(&ok(&["info", "--json", &out]));
                let dims = if var == "flag" {
                    serde_json::json!(["n"])
                } else {
                    serde_json::json!(["time", "lat", "lon"])
                };
                assert_eq!(info["dimension_names"], dims, "{out}");
            }
            let tp = json(&ok(&["info", "--json", &format!("{nc}:/tp")]));
            let a = &tp["attributes"];
            assert_eq!(a["units"], "m");
            assert_eq!(a["long_name"], "total precipitation");
            assert_eq!(a["_FillValue"], -32767);
            assert!(close(
                a["scale_factor"].as_f64().unwrap(),
                0.02 / 65000.0,
                1e-12
            ));
            // The fill value is the dataset's own too, as netCDF4 writes it.
            assert_eq!(tp["fill_value"], -32767);
            assert_eq!(
                json(&ok(&["info", "--json", &format!("{nc}:/flag")]))["attributes"]["_Unsigned"],
                "true"
            );
        }
    }

    /// 1-D arrays of the input named like the dimensions become coordinate variables of the
    /// output (values and attributes); a dimension without one is netCDF4's dimension without
    /// a variable.
    #[test]
    fn convert_to_netcdf_copies_coordinate_variables() {
        use chunkwise::io::BlockWriter;
        use chunkwise::io::zarr::{ZarrWriteOptions, ZarrWriter};
        use chunkwise::{AnyArray, DType, Region};
        let d = tmp();
        let store = d.path().join("c.zarr");
        let write = |name: &str, shape: &[usize], dims: &[&str], data: AnyArray, attrs: Value| {
            let w = ZarrWriter::create(
                &store,
                name,
                shape,
                shape,
                data.dtype(),
                ZarrWriteOptions {
                    dimension_names: Some(dims.iter().map(|s| Some(s.to_string())).collect()),
                    attributes: attrs.as_object().unwrap().clone(),
                    ..Default::default()
                },
            )
            .unwrap();
            let region = Region(shape.iter().map(|&n| 0..n).collect());
            w.write(&region, &data.view()).unwrap();
            w.commit().unwrap();
        };
        let v =
            ndarray::ArrayD::from_shape_fn(ndarray::IxDyn(&[3, 4]), |i| (i[0] * 4 + i[1]) as f64);
        write(
            "v",
            &[3, 4],
            &["time", "lat"],
            AnyArray::F64(v),
            serde_json::json!({"units": "K"}),
        );
        let lat =
            ndarray::ArrayD::from_shape_vec(ndarray::IxDyn(&[4]), vec![10.0f32, 20.0, 30.0, 40.0])
                .unwrap();
        write(
            "lat",
            &[4],
            &["lat"],
            AnyArray::F32(lat),
            serde_json::json!({"units": "degrees_north"}),
        );
        // A 1-D array named like a dimension but of another length is not its coordinate.
        let t = ndarray::ArrayD::from_shape_vec(ndarray::IxDyn(&[2]), vec![1i32, 2]).unwrap();
        write(
            "time",
            &[2],
            &["t"],
            AnyArray::I32(t),
            serde_json::json!({}),
        );
        let nc = p(d.path(), "c.nc");
        ok(&[
            "convert",
            &format!("{}:/v", store.display()),
            &format!("{nc}:/v"),
        ]);
        let info = json(&ok(&["info", "--json", &format!("{nc}:/v")]));
        assert_eq!(info["dimension_names"], serde_json::json!(["time", "lat"]));
        let lat = json(&ok(&["info", "--json", &format!("{nc}:/lat")]));
        assert_eq!(lat["dtype"], DType::F32.numpy_name());
        assert_eq!(lat["attributes"]["units"], "degrees_north");
        assert_eq!(lat["dimension_names"], serde_json::json!(["lat"]));
        let s = stats(&format!("{nc}:/lat"));
        assert_eq!(
            (s["min"].as_f64(), s["max"].as_f64()),
            (Some(10.0), Some(40.0))
        );
        assert_eq!(s["sum"].as_f64(), Some(100.0));
        // `time` is only a dimension: length 3, never written, no attributes.
        let time = json(&ok(&["info", "--json", &format!("{nc}:/time")]));
        assert_eq!(time["shape"], serde_json::json!([3]));
        assert_eq!(time["attributes"], serde_json::json!({}));
    }

    /// An absent filter plugin and a NetCDF3 file, through `stats`: named, with the path.
    #[test]
    fn absent_filters_and_netcdf3_are_named() {
        let o = fails(
            &["stats", "tests/data/xarray/empty.h5:/lzf"],
            1,
            "LZF (id 32000)",
        );
        assert!(o.stderr.contains("empty.h5:/lzf"), "{}", o.stderr);
        let info = ok(&["info", "tests/data/xarray/empty.h5:/lzf"]).stdout;
        assert!(info.contains("lzf (filter 32000)"), "{info}");
        let o = fails(
            &["stats", "tests/data/xarray/classic.nc:/x"],
            1,
            "NetCDF3 classic (CDF-1)",
        );
        assert!(o.stderr.contains("classic.nc"), "{}", o.stderr);
    }

    #[test]
    fn bad_hdf5_paths() {
        fails(&["stats", "tests/data/hdf5/not_hdf5.h5:/x"], 1, "not");
        fails(&["stats", "tests/data/hdf5/fixtures.h5:/nope"], 1, "nope");
        fails(
            &["stats", "tests/data/hdf5/fixtures.h5"],
            2,
            "name the dataset",
        );
        fails(
            &["stats", "tests/data/hdf5/fixtures.h5:/strings"],
            1,
            "unsupported",
        );
        fails(&["stats", "tests/data/hdf5/fixtures.h5:/group"], 1, "group");
    }
}

#[test]
fn an_output_that_is_the_input_is_refused_however_spelled() {
    let d = tmp();
    let store = p(d.path(), "s.zarr");
    let src = format!("{store}:/t2m");
    ok(&["convert", "tests/data/zarr/v3.zarr:/f4_nan_missing", &src]);
    let before = stats(&src);
    std::os::unix::fs::symlink(d.path().join("s.zarr"), d.path().join("l.zarr")).unwrap();
    for out in [
        src.clone(),
        format!("{}/./s.zarr:/t2m", d.path().display()),
        format!("{}:/t2m", p(d.path(), "l.zarr")),
        format!("{store}/t2m"),
    ] {
        let o = fails(
            &["rechunk", "--overwrite", "--chunks", "5,3", &src, &out],
            2,
            "is the input",
        );
        assert!(o.stderr.contains(&out), "{}", o.stderr);
    }
    same_stats(&src, &before, &stats(&src));
}

#[test]
fn an_existing_output_asks_for_the_overwrite_flag() {
    let d = tmp();
    let out = format!("{}:/a", p(d.path(), "o.zarr"));
    ok(&["convert", "tests/data/zarr/v3.zarr:/f4_nan_missing", &out]);
    let o = fails(
        &["convert", "tests/data/zarr/v3.zarr:/f4_nan_missing", &out],
        1,
        "pass --overwrite",
    );
    assert!(!o.stderr.contains("ZarrWriteOptions"), "{}", o.stderr);
}

#[test]
fn scratch_dir_is_accepted_and_left_clean() {
    let d = tmp();
    let scratch = p(d.path(), "scratch");
    let out = format!("{}:/r", p(d.path(), "o.zarr"));
    ok(&[
        "rechunk",
        "--scratch-dir",
        &scratch,
        "--memory-limit",
        "8MiB",
        "--chunks",
        "60,8,8",
        "data/sample.zarr:/t2m",
        &out,
    ]);
    if let Ok(rd) = std::fs::read_dir(&scratch) {
        assert_eq!(rd.count(), 0, "scratch left behind in {scratch}");
    }
}

// ---------------------------------------------------------------------------------------
// Grouped reductions, resample and rolling (issue 12, item 9).

fn sample_expected() -> Value {
    serde_json::from_str(
        &std::fs::read_to_string(Path::new(ROOT).join("data/sample_expected.json")).unwrap(),
    )
    .unwrap()
}

/// Reads a Zarr array (`store:/array`, relative to the workspace root or absolute) whole, as
/// f64.
fn read_f64(out: &str) -> ndarray::ArrayD<f64> {
    let (store, array) = out.rsplit_once(':').unwrap();
    let store = Path::new(ROOT).join(store);
    let rt = chunkwise::Runtime::builder().threads(2).build().unwrap();
    chunkwise::ChunkedArray::<f64>::open_zarr_as(store, array)
        .unwrap()
        .compute(&rt)
        .unwrap()
}

/// `reduce OP --axis 0 GROUPING... data/sample.zarr:/t2m OUT`, returning OUT's `info --json`.
fn grouped(d: &Path, name: &str, op: &str, grouping: &[&str]) -> (String, Value) {
    let out = format!("{}:/{name}", p(d, "g.zarr"));
    let mut args = vec!["reduce", op, "--axis", "0"];
    args.extend_from_slice(grouping);
    args.extend_from_slice(&["data/sample.zarr:/t2m", &out]);
    let o = ok(&args);
    assert!(o.stdout.contains("groups along axis 0"), "{}", o.stdout);
    let info = json(&ok(&["info", "--json", &out]));
    (out, info)
}

#[test]
fn reduce_group_by_month_is_xarrays_monthly_climatology() {
    let e = sample_expected();
    let d = tmp();
    let (out, info) = grouped(d.path(), "clim", "mean", &["--group-by", "month"]);
    assert_eq!(info["shape"], serde_json::json!([12, 73, 144]));
    assert_eq!(info["dtype"], "float32");
    assert_eq!(
        info["dimension_names"],
        serde_json::json!(["month", "lat", "lon"])
    );
    let attrs = &info["attributes"];
    assert_eq!(attrs["chunkwise_groups"], e["monthly"]["months"]);
    assert_eq!(attrs["units"], "K");
    let history = attrs["chunkwise_history"].as_str().unwrap();
    assert!(history.contains("time.month"), "{history}");
    let clim = read_f64(&out);
    for pt in e["monthly"]["at"].as_array().unwrap() {
        let (i, j) = (
            pt["lat_index"].as_u64().unwrap() as usize,
            pt["lon_index"].as_u64().unwrap() as usize,
        );
        for (m, want) in pt["clim"].as_array().unwrap().iter().enumerate() {
            let want = want.as_f64().unwrap();
            assert!(
                close(clim[[m, i, j]], want, 2e-7),
                "month {m} at ({i}, {j})"
            );
        }
    }
    // The same groups from a fixed period and from a labels file, in label order.
    let (by_period, info) = grouped(d.path(), "period", "mean", &["--period", "12"]);
    assert_eq!(
        info["attributes"]["chunkwise_groups"],
        serde_json::json!((0..12).collect::<Vec<_>>())
    );
    assert_eq!(
        info["dimension_names"],
        serde_json::json!(["group", "lat", "lon"])
    );
    assert_eq!(read_f64(&by_period), clim);
    let file = d.path().join("months.txt");
    let mut text = String::from("# month of each step\n");
    for i in 0..60 {
        text.push_str(&format!("{}\n", i % 12 + 1));
        if i == 30 {
            text.push('\n');
        }
    }
    std::fs::write(&file, text).unwrap();
    let (by_file, info) = grouped(
        d.path(),
        "file",
        "mean",
        &["--labels", file.to_str().unwrap()],
    );
    assert_eq!(
        info["attributes"]["chunkwise_groups"],
        e["monthly"]["months"]
    );
    assert_eq!(read_f64(&by_file), clim);
    // And from .npy files NumPy wrote (cli/tests/data/make_labels.py).
    for (name, npy) in [("i8", "months_i8.npy"), ("u1", "months_u1.npy")] {
        let path = format!("cli/tests/data/{npy}");
        let (by_npy, info) = grouped(d.path(), name, "mean", &["--labels", &path]);
        assert_eq!(
            info["attributes"]["chunkwise_groups"],
            e["monthly"]["months"]
        );
        assert_eq!(read_f64(&by_npy), clim, "{npy}");
    }
}

#[test]
fn reduce_group_by_season_year_and_dayofyear() {
    let e = sample_expected();
    let d = tmp();
    let at = &e["monthly"]["at"][1];
    let (i, j) = (
        at["lat_index"].as_u64().unwrap() as usize,
        at["lon_index"].as_u64().unwrap() as usize,
    );
    let month = |m: usize| at["clim"][m - 1].as_f64().unwrap();
    // Seasons in xarray's order; each holds three months of five steps each, so a season's
    // mean is the mean of its months' means.
    let (out, info) = grouped(d.path(), "season", "mean", &["--group-by", "season"]);
    assert_eq!(
        info["attributes"]["chunkwise_groups"],
        serde_json::json!(["DJF", "JJA", "MAM", "SON"])
    );
    assert_eq!(info["shape"], serde_json::json!([4, 73, 144]));
    let s = read_f64(&out);
    for (k, months) in [[12, 1, 2], [6, 7, 8], [3, 4, 5], [9, 10, 11]]
        .iter()
        .enumerate()
    {
        let want = months.iter().map(|&m| month(m)).sum::<f64>() / 3.0;
        assert!(
            close(s[[k, i, j]], want, 1e-6),
            "season {k}: {}",
            s[[k, i, j]]
        );
    }
    // Years: five of twelve steps; their mean is the time mean.
    let (out, info) = grouped(d.path(), "year", "mean", &["--group-by", "year"]);
    assert_eq!(
        info["attributes"]["chunkwise_groups"],
        serde_json::json!([2000, 2001, 2002, 2003, 2004])
    );
    let y = read_f64(&out);
    let time_mean = e["time_mean_at"][1]["mean"].as_f64().unwrap();
    let years_mean = (0..5).map(|k| y[[k, i, j]]).sum::<f64>() / 5.0;
    assert!(
        close(years_mean, time_mean, 1e-6),
        "{years_mean} vs {time_mean}"
    );
    // Day of year in the 360-day calendar: the first of each month is 1, 31, 61, ...
    let (out, info) = grouped(d.path(), "doy", "max", &["--group-by", "dayofyear"]);
    assert_eq!(
        info["attributes"]["chunkwise_groups"],
        serde_json::json!((0..12).map(|m| 30 * m + 1).collect::<Vec<_>>())
    );
    assert_eq!(
        info["dimension_names"],
        serde_json::json!(["dayofyear", "lat", "lon"])
    );
    let by_month = read_f64(&grouped(d.path(), "mmax", "max", &["--group-by", "month"]).0);
    assert_eq!(read_f64(&out), by_month);
    // var/std take --ddof.
    let (out, _) = grouped(
        d.path(),
        "std1",
        "std",
        &["--group-by", "month", "--ddof", "1"],
    );
    let (out0, _) = grouped(d.path(), "std0", "std", &["--group-by", "month"]);
    let (s1, s0) = (read_f64(&out), read_f64(&out0));
    // Five values a group: the ddof=1 std is sqrt(5/4) times the ddof=0 one.
    assert!(close(s1[[0, i, j]], s0[[0, i, j]] * 1.25f64.sqrt(), 1e-6));
}

/// `ARGS INPUT OUT` fails with exit `code` and a message holding `needle` (OUT is never
/// written).
fn refused(args: &[&str], input: &str, code: i32, needle: &str) {
    let mut a = args.to_vec();
    a.extend_from_slice(&[input, "/tmp/never-written.zarr"]);
    fails(&a, code, needle);
}

/// A store with `t2m` (dimensions time, lat) and a `time` array of its own making.
fn store_with_time(d: &Path, time_attrs: serde_json::Map<String, Value>) -> String {
    use chunkwise::io::zarr::ZarrWriteOptions;
    let rt = chunkwise::Runtime::builder().threads(1).build().unwrap();
    let store = p(d, "t.zarr");
    let x = chunkwise::ChunkedArray::<f32>::ones(&[6, 2], [3, 2]).unwrap();
    let dims = |n: &[&str]| Some(n.iter().map(|s| Some(s.to_string())).collect());
    x.to_zarr_with(
        &rt,
        &store,
        "t2m",
        ZarrWriteOptions {
            dimension_names: dims(&["time", "lat"]),
            ..Default::default()
        },
        None,
    )
    .unwrap();
    let t = chunkwise::ChunkedArray::<f64>::arange(0.0, 6.0, 1.0, [6]).unwrap();
    t.to_zarr_with(
        &rt,
        &store,
        "time",
        ZarrWriteOptions {
            dimension_names: dims(&["time"]),
            attributes: time_attrs,
            ..Default::default()
        },
        None,
    )
    .unwrap();
    store
}

#[test]
fn grouped_reduce_refuses_bad_groupings() {
    let d = tmp();
    let t2m = "data/sample.zarr:/t2m";
    let short = d.path().join("labels.txt");
    std::fs::write(&short, "1\n".repeat(59)).unwrap();
    let words = d.path().join("words.txt");
    std::fs::write(&words, "1\n2\nmarch\n").unwrap();
    let missing = p(d.path(), "none.txt");
    // A `time` without units, and one whose units are not CF time units.
    let no_units = format!("{}:/t2m", store_with_time(d.path(), serde_json::Map::new()));
    let d2 = tmp();
    let mut attrs = serde_json::Map::new();
    attrs.insert("units".into(), "metres".into());
    let bad_units = format!("{}:/t2m", store_with_time(d2.path(), attrs));
    let cases: &[(&[&str], &str, i32, &str)] = &[
        (
            &["--labels", short.to_str().unwrap()],
            t2m,
            2,
            "holds 59 labels, but axis 0 of data/sample.zarr:/t2m has 60 positions",
        ),
        (
            &["--labels", words.to_str().unwrap()],
            t2m,
            2,
            "words.txt:3: \"march\" is not an integer label",
        ),
        (
            &["--labels", "cli/tests/data/months_2d.npy"],
            t2m,
            2,
            "must be a 1-D array, not of shape (5, 12)",
        ),
        (
            &["--labels", "cli/tests/data/months_f8.npy"],
            t2m,
            2,
            "little-endian integers, not dtype \"<f8\"",
        ),
        (
            &["--labels", &missing],
            t2m,
            1,
            "cannot read the labels file",
        ),
        (
            &["--period", "12", "--group-by", "month"],
            t2m,
            2,
            "cannot be used with",
        ),
        (
            &["--period", "12", "--keepdims"],
            t2m,
            2,
            "cannot be used with",
        ),
        (&["--period", "0"], t2m, 2, ">= 1"),
        (&["--period", "12", "--axis", "0,1"], t2m, 2, "one --axis"),
        (&["--period", "12", "--axis", "3"], t2m, 2, "out of range"),
        (
            &["--period", "12", "--ddof", "1"],
            t2m,
            2,
            "var and std only",
        ),
        (&["--group-by", "week"], t2m, 2, "week"),
        // Axis 1 of the sample is `lat`, whose coordinate is not one of time.
        (
            &["--group-by", "month", "--axis", "1"],
            t2m,
            1,
            "cannot decode the time coordinate data/sample.zarr:/lat",
        ),
        // An array named by its directory is the root of its own store: nothing is beside it.
        (
            &["--group-by", "month"],
            "data/sample.zarr/t2m",
            2,
            "nothing beside it",
        ),
        (
            &["--group-by", "month"],
            "tests/data/zarr/v3.zarr:/f4_nan_missing",
            2,
            "no time coordinate for axis 0",
        ),
        (
            &["--group-by", "month"],
            &no_units,
            2,
            "t.zarr:/time has no `units` attribute",
        ),
        (
            &["--group-by", "month"],
            &bad_units,
            1,
            "cannot decode the time coordinate",
        ),
    ];
    for (args, input, code, needle) in cases {
        // Axis 0 unless the case names its own (clap refuses a repeated --axis).
        let mut a = vec!["reduce", "mean"];
        if !args.contains(&"--axis") {
            a.extend_from_slice(&["--axis", "0"]);
        }
        a.extend_from_slice(args);
        refused(&a, input, *code, needle);
    }
}

#[test]
fn group_by_reads_the_time_coordinate_of_a_made_store() {
    let d = tmp();
    let mut attrs = serde_json::Map::new();
    attrs.insert("units".into(), "days since 2000-02-27".into());
    attrs.insert("calendar".into(), "noleap".into());
    let store = store_with_time(d.path(), attrs);
    // Days 0..6 from Feb 27 of a noleap year: Feb 27, 28, Mar 1, 2, 3, 4.
    let out = format!("{}:/n", p(d.path(), "o.zarr"));
    ok(&[
        "reduce",
        "sum",
        "--axis",
        "0",
        "--group-by",
        "month",
        &format!("{store}:/t2m"),
        &out,
    ]);
    let info = json(&ok(&["info", "--json", &out]));
    assert_eq!(
        info["attributes"]["chunkwise_groups"],
        serde_json::json!([2, 3])
    );
    assert_eq!(
        read_f64(&out),
        ndarray::array![[2.0, 2.0], [4.0, 4.0]].into_dyn()
    );
}

#[test]
fn resample_bins_positions() {
    let d = tmp();
    let t2m = "data/sample.zarr:/t2m";
    let out = format!("{}:/yearly", p(d.path(), "r.zarr"));
    let o = ok(&["resample", "mean", "--axis", "0", "--size", "12", t2m, &out]);
    assert!(o.stdout.contains("wrote"), "{}", o.stdout);
    let info = json(&ok(&["info", "--json", &out]));
    assert_eq!(info["shape"], serde_json::json!([5, 73, 144]));
    assert_eq!(
        info["dimension_names"],
        serde_json::json!(["time", "lat", "lon"])
    );
    assert_eq!(
        info["attributes"]["chunkwise_groups"],
        serde_json::json!([0, 12, 24, 36, 48])
    );
    // Twelve monthly steps from January: the bins are the years.
    let years = read_f64(&grouped(d.path(), "years", "mean", &["--group-by", "year"]).0);
    assert_eq!(read_f64(&out), years);
    let edges = format!("{}:/halves", p(d.path(), "r.zarr"));
    ok(&[
        "resample", "max", "--axis", "0", "--edges", "0,6,12", t2m, &edges,
    ]);
    let halves = read_f64(&edges);
    assert_eq!(halves.shape(), &[2, 73, 144]);
    let x = read_f64("data/sample.zarr:/t2m");
    let want = x
        .slice(ndarray::s![6..12, 36, 72])
        .fold(f64::NEG_INFINITY, |a, &b| a.max(b));
    assert_eq!(halves[[1, 36, 72]], want);
    let bad = |args: &[&str], needle: &str| {
        refused(&[&["resample", "mean"], args].concat(), t2m, 2, needle)
    };
    bad(
        &["--axis", "0", "--edges", "5,3"],
        "edge 0 is 5 and edge 1 is 3",
    );
    bad(
        &["--axis", "0", "--edges", "0,61"],
        "bin edge 61 is beyond axis 0 of length 60",
    );
    bad(&["--axis", "0", "--edges", "4"], "at least two");
    bad(&["--axis", "0", "--size", "0"], ">= 1");
    bad(&["--axis", "0"], "--size");
    bad(
        &["--axis", "0", "--size", "3", "--edges", "0,3"],
        "cannot be used with",
    );
    bad(&["--axis", "4", "--size", "2"], "--axis 4 is out of range");
    bad(
        &["--axis", "0", "--size", "2", "--ddof", "1"],
        "var and std only",
    );
}

#[test]
fn rolling_writes_the_running_reduction() {
    let d = tmp();
    let t2m = "data/sample.zarr:/t2m";
    let x = read_f64(t2m);
    let out = format!("{}:/run3", p(d.path(), "w.zarr"));
    ok(&["rolling", "mean", "--axis", "0", "--window", "3", t2m, &out]);
    let info = json(&ok(&["info", "--json", &out]));
    assert_eq!(info["shape"], serde_json::json!([60, 73, 144]));
    assert_eq!(info["dtype"], "float32");
    assert_eq!(
        info["dimension_names"],
        serde_json::json!(["time", "lat", "lon"])
    );
    let r = read_f64(&out);
    assert!(r[[0, 10, 10]].is_nan() && r[[1, 10, 10]].is_nan());
    for t in 2..60 {
        let want = (t - 2..=t).map(|k| x[[k, 10, 10]]).sum::<f64>() / 3.0;
        assert!(close(r[[t, 10, 10]], want, 1e-6), "step {t}");
    }
    // Centred, a result wherever one value is in the window.
    let out = format!("{}:/cmax", p(d.path(), "w.zarr"));
    ok(&[
        "rolling",
        "max",
        "--axis",
        "0",
        "--window",
        "4",
        "--center",
        "--min-periods",
        "1",
        t2m,
        &out,
    ]);
    let r = read_f64(&out);
    for t in [0usize, 1, 30, 58, 59] {
        // xarray's centred window of 4: [t - 2, t + 1].
        let want = (t.saturating_sub(2)..(t + 2).min(60))
            .map(|k| x[[k, 5, 7]])
            .fold(f64::NEG_INFINITY, f64::max);
        assert_eq!(r[[t, 5, 7]], want, "step {t}");
    }
    let bad = |args: &[&str], needle: &str| {
        refused(&[&["rolling", "mean"], args].concat(), t2m, 2, needle)
    };
    bad(
        &["--axis", "0", "--window", "61"],
        "window 61 on axis 0 of length 60",
    );
    bad(&["--axis", "0", "--window", "0"], "window 0");
    bad(
        &["--axis", "0", "--window", "3", "--min-periods", "4"],
        "min_periods 4 must be at least 1 and at most the window 3",
    );
    bad(
        &["--axis", "3", "--window", "3"],
        "--axis 3 is out of range",
    );
    bad(&["--window", "3"], "--axis");
}

/// `--dashboard` needs the `dashboard` feature: without it, a usage error that says so.
#[cfg(not(feature = "dashboard"))]
#[test]
fn dashboard_without_the_feature_is_a_usage_error() {
    fails(
        &["stats", "data/sample.zarr/t2m", "--dashboard"],
        2,
        "`dashboard` feature",
    );
}

/// `--dashboard=ADDR --dashboard-exit`: the link is printed, the run's result is unchanged,
/// and the tool exits when the run ends; a port in use is a clear error naming it.
#[cfg(feature = "dashboard")]
#[test]
fn dashboard_prints_its_link_and_exits_with_dashboard_exit() {
    let args = ["stats", "--json", "--threads", "2", "data/sample.zarr/t2m"];
    let plain = json(&ok(&args));
    let mut with = args.to_vec();
    with.extend(["--dashboard=127.0.0.1:0", "--dashboard-exit"]);
    let o = ok(&with);
    assert!(
        o.stderr.contains("dashboard: http://127.0.0.1:"),
        "{}",
        o.stderr
    );
    assert_eq!(json(&o), plain);
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let mut busy = args.to_vec();
    let flag = format!("--dashboard={addr}");
    busy.extend([flag.as_str(), "--dashboard-exit"]);
    fails(&busy, 1, &addr);
}
