//! Grouped reductions against xarray + flox (`tests/fixtures/groupby/make_fixtures.py` writes
//! `groupby.json`: inputs with NaN, labels, chunks and xarray's results), the strategy chosen
//! and shown in `explain`, and the errors of bad input, raised before anything runs.

use chunkwise::prelude::*;
use chunkwise::{Bins, GroupMethod, GroupOpts, OpKind};
use ndarray::{ArrayD, IxDyn};
use serde_json::Value;

fn rt() -> Runtime {
    Runtime::builder()
        .threads(2)
        .memory_limit("64 MiB")
        .build()
        .unwrap()
}

fn fixtures() -> Value {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/groupby/groupby.json");
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_f64().unwrap_or(f64::NAN))
        .collect()
}

fn ints(v: &Value) -> Vec<i64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_i64().unwrap())
        .collect()
}

fn usizes(v: &Value) -> Vec<usize> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_u64().unwrap() as usize)
        .collect()
}

fn assert_close(what: &str, got: &[f64], want: &[f64]) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (k, (g, w)) in got.iter().zip(want).enumerate() {
        let ok = (g.is_nan() && w.is_nan()) || (g - w).abs() <= 1e-9 * w.abs().max(1.0);
        assert!(
            ok,
            "{what}[{k}]: chunkwise {g}, xarray {w}\n{got:?}\n{want:?}"
        );
    }
}

fn values<T: Copy + Into<f64>>(a: &ArrayD<T>) -> Vec<f64> {
    a.iter().map(|&v| v.into()).collect()
}

#[test]
fn grouped_reductions_match_xarray_and_flox() {
    let fx = fixtures();
    let rt = rt();
    for case in fx["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let shape = usizes(&case["shape"]);
        let axis = case["axis"].as_u64().unwrap() as usize;
        let chunk = case["chunk"].as_u64().unwrap() as usize;
        let labels = ints(&case["labels"]);
        let method = match case["method"].as_str().unwrap() {
            "blockwise" => GroupMethod::Blockwise,
            "cohorts" => GroupMethod::Cohorts,
            _ => GroupMethod::MapReduce,
        };
        let data = ArrayD::from_shape_vec(IxDyn(&shape), floats(&case["x"])).unwrap();
        let mut chunks = shape.clone();
        chunks[axis] = chunk;
        let x = ChunkedArray::from_ndarray(data, chunks.as_slice()).unwrap();
        // Every strategy gives xarray's numbers; flox's is the one chosen here too, except
        // where one group spans every block (map-reduce there is one cohort of cohorts).
        let auto = x.groupby(axis, labels.as_slice()).unwrap();
        assert_eq!(auto.groups(), ints(&case["groups"]).as_slice(), "{name}");
        if name != "one group" && name != "as many groups as positions" {
            assert_eq!(auto.strategy(), method, "{name}");
        }
        let mut gbs = vec![auto];
        for m in [GroupMethod::Cohorts, GroupMethod::MapReduce] {
            let opts = GroupOpts::default().method(m);
            gbs.push(x.groupby_with(axis, labels.as_slice(), opts).unwrap());
        }
        let res = &case["results"];
        for gb in &gbs {
            let what = |op: &str| format!("{name} ({}): {op}", gb.strategy());
            for (op, r) in [
                ("sum", gb.sum()),
                ("nansum", gb.nansum()),
                ("prod", gb.prod()),
                ("mean", gb.mean()),
                ("nanmean", gb.nanmean()),
                ("min", gb.min()),
                ("max", gb.max()),
                ("nanmin", gb.nanmin()),
                ("nanmax", gb.nanmax()),
                ("var", gb.var()),
                ("nanvar", gb.nanvar()),
                ("std", gb.std()),
                ("nanstd", gb.nanstd()),
                ("first", gb.first()),
                ("last", gb.last()),
                ("nanfirst", gb.nanfirst()),
                ("nanlast", gb.nanlast()),
            ] {
                let got = r.unwrap().compute(&rt).unwrap();
                assert_close(&what(op), &values(&got), &floats(&res[op]));
            }
            for (op, r) in [
                ("count", gb.count()),
                ("argmin", gb.argmin()),
                ("argmax", gb.argmax()),
            ] {
                let got = r.unwrap().compute(&rt).unwrap();
                let got: Vec<f64> = got.iter().map(|&v| v as f64).collect();
                assert_close(&what(op), &got, &floats(&res[op]));
            }
            let clim = gb.mean().unwrap();
            let anom = gb.anomaly(&clim).unwrap();
            assert_close(
                &what("anomaly"),
                &values(&anom.compute(&rt).unwrap()),
                &floats(&res["anomaly"]),
            );
            assert_close(
                &what("anomaly std"),
                &values(&anom.std_axis(axis).unwrap().compute(&rt).unwrap()),
                &floats(&res["anomaly_std"]),
            );
        }
    }
}

#[test]
fn resample_matches_numpy() {
    let fx = fixtures();
    let r = &fx["resample"];
    let data = ArrayD::from_shape_vec(IxDyn(&usizes(&r["shape"])), floats(&r["x"])).unwrap();
    let x = ChunkedArray::from_ndarray(data, [4, 2]).unwrap();
    let gb = x.resample(0, Bins::Size(3)).unwrap();
    assert_eq!(gb.groups(), ints(&r["groups"]).as_slice());
    let rt = rt();
    for (op, got) in [
        ("sum", gb.sum()),
        ("mean", gb.mean()),
        ("max", gb.max()),
        ("std", gb.std()),
    ] {
        let got = got.unwrap().compute(&rt).unwrap();
        assert_close(op, &values(&got), &floats(&r["results"][op]));
    }
}

#[test]
fn strategy_follows_chunks_and_labels_and_shows_in_explain() {
    let x = ChunkedArray::<f64>::zeros(&[24, 3], [1, 3]).unwrap();
    let months: Vec<i64> = (0..24).map(|d| (d % 12) / 2).collect();
    // Daily steps in 1-step chunks: each month's output block reads its own steps.
    let gb = x.groupby(0, months.as_slice()).unwrap();
    assert_eq!(gb.strategy(), GroupMethod::Cohorts);
    let m = gb.mean().unwrap();
    assert!(m.explain().contains("cohorts"), "{}", m.explain());
    let s = m.plan_summary(&rt());
    let node = s.optimized_of(OpKind::GroupReduce).next().unwrap();
    assert!(
        node.op
            .contains("cohorts: 6 groups in 6 output blocks, 24 block reads of 24"),
        "{}",
        node.op
    );
    // Groups inside blocks: blockwise, one task per output block.
    let y = ChunkedArray::<f64>::zeros(&[24, 3], [8, 3]).unwrap();
    let years: Vec<i64> = (0..24).map(|d| d / 8).collect();
    let gb = y.groupby(0, years.as_slice()).unwrap();
    assert_eq!(gb.strategy(), GroupMethod::Blockwise);
    assert!(gb.sum().unwrap().explain().contains("blockwise"));
    // Labels spread over every block: map-reduce.
    let spread: Vec<i64> = (0..24).map(|d| d % 3).collect();
    let gb = y.groupby(0, spread.as_slice()).unwrap();
    assert_eq!(gb.strategy(), GroupMethod::MapReduce);
    assert!(gb.max().unwrap().explain().contains("map-reduce"));
    // Forced.
    let gb = gb.with_method(GroupMethod::Cohorts).unwrap();
    assert_eq!(gb.strategy(), GroupMethod::Cohorts);
    let err = y
        .groupby_with(
            0,
            spread.as_slice(),
            GroupOpts::default().method(GroupMethod::Blockwise),
        )
        .unwrap_err();
    assert!(err.to_string().contains("spans blocks"), "{err}");
}

#[test]
fn bad_input_is_refused_before_anything_runs() {
    let x = ChunkedArray::<f64>::zeros(&[6, 4], [2, 2]).unwrap();
    let e = x.groupby(0, &[1, 2, 3]).unwrap_err();
    assert!(matches!(e, Error::Shape { .. }), "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains("3 labels") && msg.contains("axis 0 of length 6"),
        "{msg}"
    );
    let e = x.groupby(2, &[1, 2]).unwrap_err();
    assert!(
        matches!(e, Error::Axis { .. }) && e.to_string().contains("axis 2"),
        "{e}"
    );
    let e = x.resample(0, Bins::Size(0)).unwrap_err();
    assert!(e.to_string().contains("bin size 0"), "{e}");
    let e = x.resample(0, Bins::Edges(vec![0, 3, 2])).unwrap_err();
    assert!(e.to_string().contains("strictly increasing"), "{e}");
    let e = x.resample(1, Bins::Edges(vec![0, 5])).unwrap_err();
    assert!(e.to_string().contains("beyond axis 1 of length 4"), "{e}");
    let e = x.resample(0, Bins::Edges(vec![2])).unwrap_err();
    assert!(e.to_string().contains("at least two"), "{e}");
    let gb = x.groupby(0, &[1, 1, 2, 2, 3, 3]).unwrap();
    let wrong = ChunkedArray::<f64>::zeros(&[2, 4], [2, 2]).unwrap();
    let e = gb.expand(&wrong).unwrap_err();
    assert!(e.to_string().contains("must hold the 3 groups"), "{e}");
    assert!(gb.var_ddof(-1.0).is_err());
    let e = x.take(0, &[6]).unwrap_err();
    assert!(
        e.to_string()
            .contains("index 6 is out of range for axis 0 of length 6"),
        "{e}"
    );
    let empty = ChunkedArray::<f64>::zeros(&[0, 2], [1, 2]).unwrap();
    assert!(empty.groupby(0, &[] as &[i64]).is_err());
    // Positions in no bin cannot be given a group value.
    let r = x.resample(0, Bins::Edges(vec![1, 3])).unwrap();
    let e = r.expand(&r.mean().unwrap()).unwrap_err();
    assert!(e.to_string().contains("position 0"), "{e}");
}
