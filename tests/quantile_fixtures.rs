//! NumPy's own answers (`tests/fixtures/quantile/make_fixtures.py` wrote `cases.json`):
//! quantile, nanquantile, median, nanmedian exactly (same f64/f32 values); histogram, digitize and bincount
//! exactly (the weighted bincount within 1e-12: its sums run in another order).

use chunkwise::ndarray::{ArrayD, IxDyn};
use chunkwise::prelude::*;
use serde_json::Value;

fn rt() -> Runtime {
    Runtime::builder()
        .threads(2)
        .memory_limit("64 MiB")
        .build()
        .unwrap()
}

fn cases() -> Vec<Value> {
    let p = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/quantile/cases.json"
    );
    let v: Value = serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
    v["cases"].as_array().unwrap().clone()
}

fn shape(a: &Value) -> Vec<usize> {
    a["shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect()
}

fn bits(a: &Value) -> impl Iterator<Item = &Value> {
    a["data"].as_array().unwrap().iter()
}

fn f64s(a: &Value) -> ArrayD<f64> {
    let d: Vec<f64> = match a["dtype"].as_str().unwrap() {
        "float64" => bits(a)
            .map(|v| f64::from_bits(v.as_u64().unwrap()))
            .collect(),
        "float32" => bits(a)
            .map(|v| f32::from_bits(v.as_u64().unwrap() as u32) as f64)
            .collect(),
        _ => bits(a).map(|v| v.as_i64().unwrap() as f64).collect(),
    };
    ArrayD::from_shape_vec(IxDyn(&shape(a)), d).unwrap()
}

fn ints<T: TryFrom<i64>>(a: &Value) -> ArrayD<T>
where
    T::Error: std::fmt::Debug,
{
    let d: Vec<T> = bits(a)
        .map(|v| T::try_from(v.as_i64().unwrap()).unwrap())
        .collect();
    ArrayD::from_shape_vec(IxDyn(&shape(a)), d).unwrap()
}

fn axes(c: &Value) -> Option<Vec<usize>> {
    c["axes"]
        .as_array()
        .map(|a| a.iter().map(|v| v.as_u64().unwrap() as usize).collect())
}

/// Same values exactly, NaN equal to NaN (and -0 to 0: which of tied zeros is picked is
/// arbitrary in NumPy's partition too).
fn same_bits(name: &str, got: &ArrayD<f64>, want: &ArrayD<f64>) {
    assert_eq!(got.shape(), want.shape(), "{name}: shape");
    for (i, (g, w)) in got.iter().zip(want.iter()).enumerate() {
        assert!(
            g == w || (g.is_nan() && w.is_nan()),
            "{name}: element {i}: got {g:?}, NumPy {w:?}"
        );
    }
}

/// The quantile-family result of `c` on `x`, as f64 (f32 results widen exactly).
fn order_stat<T: Numeric>(c: &Value, x: ArrayD<T>) -> ArrayD<f64>
where
    f64: chunkwise::CastFrom<T::Mean>,
{
    // Chunks of 2 along every axis: lanes span several blocks.
    let chunks: Vec<usize> = x.shape().iter().map(|_| 2).collect();
    let x = ChunkedArray::from_ndarray(x, chunks).unwrap();
    let qs: Vec<f64> = c["q"]
        .as_array()
        .map(|a| a.iter().map(|v| v.as_f64().unwrap()).collect())
        .unwrap_or_default();
    let all: Vec<usize> = (0..x.ndim()).collect();
    let ax = axes(c).unwrap_or(all);
    let r = match c["op"].as_str().unwrap() {
        "quantile" => x.quantile_axes(&qs, &ax),
        "nanquantile" => x.nanquantile_axes(&qs, &ax),
        "median" => x.median_axes(&ax),
        "nanmedian" => x.nanmedian_axes(&ax),
        op => panic!("{op}"),
    };
    r.unwrap().astype::<f64>().compute(&rt()).unwrap()
}

#[test]
fn quantiles_and_medians_equal_numpy_exactly() {
    let mut n = 0;
    for c in cases() {
        let op = c["op"].as_str().unwrap();
        if !["quantile", "nanquantile", "median", "nanmedian"].contains(&op) {
            continue;
        }
        let name = c["name"].as_str().unwrap();
        let x = &c["x"];
        let got = match x["dtype"].as_str().unwrap() {
            "float64" => order_stat(&c, f64s(x)),
            "float32" => order_stat(&c, f64s(x).mapv(|v| v as f32)),
            "int32" => order_stat(&c, ints::<i32>(x)),
            "uint8" => order_stat(&c, ints::<u8>(x)),
            "int64" => order_stat(&c, ints::<i64>(x)),
            d => panic!("{d}"),
        };
        same_bits(name, &got, &f64s(&c["want"]));
        n += 1;
    }
    assert!(n >= 60, "only {n} cases");
}

fn histogram<T: Numeric>(c: &Value, x: ArrayD<T>) -> (ArrayD<i64>, Vec<f64>) {
    let chunks: Vec<usize> = x.shape().iter().map(|_| 3).collect();
    let x = ChunkedArray::from_ndarray(x, chunks).unwrap();
    let bins = match &c["bins"] {
        Value::Array(e) => HistogramBins::Edges(e.iter().map(|v| v.as_f64().unwrap()).collect()),
        v => HistogramBins::Count(v.as_u64().unwrap() as usize),
    };
    let range = c["range"]
        .as_array()
        .map(|r| (r[0].as_f64().unwrap(), r[1].as_f64().unwrap()));
    let (counts, edges) = match axes(c) {
        None => x.histogram(bins, range).unwrap(),
        Some(ax) => x.histogram_axes(bins, range, &ax).unwrap(),
    };
    (counts.compute(&rt()).unwrap(), edges)
}

#[test]
fn histograms_equal_numpy() {
    let mut n = 0;
    for c in cases().iter().filter(|c| c["op"] == "histogram") {
        let name = c["name"].as_str().unwrap();
        let x = &c["x"];
        let (counts, edges) = match x["dtype"].as_str().unwrap() {
            "float64" => histogram(c, f64s(x)),
            "float32" => histogram(c, f64s(x).mapv(|v| v as f32)),
            "int16" => histogram(c, ints::<i16>(x)),
            d => panic!("{d}"),
        };
        assert_eq!(counts, ints::<i64>(&c["want"]), "{name}: counts");
        let want_edges: Vec<f64> = f64s(&c["edges"]).iter().copied().collect();
        assert_eq!(edges, want_edges, "{name}: edges");
        n += 1;
    }
    assert!(n >= 20, "only {n} cases");
}

#[test]
fn digitize_and_bincount_equal_numpy() {
    let rt = rt();
    let mut n = 0;
    for c in cases() {
        let name = c["name"].as_str().unwrap();
        match c["op"].as_str().unwrap() {
            "digitize" => {
                let x = ChunkedArray::from_ndarray(f64s(&c["x"]), [4, 3]).unwrap();
                let bins: Vec<f64> = c["bins"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_f64().unwrap())
                    .collect();
                let got = x
                    .digitize(&bins, c["right"].as_bool().unwrap())
                    .unwrap()
                    .compute(&rt)
                    .unwrap();
                assert_eq!(got, ints::<i64>(&c["want"]), "{name}");
            }
            "bincount" => {
                let x = ChunkedArray::from_ndarray(ints::<i32>(&c["x"]), [5]).unwrap();
                let len = c["minlength"].as_u64().unwrap() as usize;
                if c["weights"].is_null() {
                    let got = x.bincount(len).unwrap().compute(&rt).unwrap();
                    assert_eq!(got, ints::<i64>(&c["want"]), "{name}");
                } else {
                    let w = ChunkedArray::from_ndarray(f64s(&c["weights"]), [7]).unwrap();
                    let got = x.bincount_weighted(&w, len).unwrap().compute(&rt).unwrap();
                    let want = f64s(&c["want"]);
                    for (g, w) in got.iter().zip(want.iter()) {
                        assert!(
                            (g - w).abs() <= 1e-12 * w.abs().max(1.0),
                            "{name}: {g} vs {w}"
                        );
                    }
                }
            }
            _ => continue,
        }
        n += 1;
    }
    assert!(n >= 8, "only {n} cases");
}
