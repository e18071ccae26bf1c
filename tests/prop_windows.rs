//! Property tests of rolling windows, coarsen and weighted reductions: random shapes,
//! chunkings (regular, whole, irregular), axes, windows, `center`, `min_periods`, factors,
//! boundaries, broadcast weights and NaN, against brute-force references on `ndarray`.
//! Also the bad-input errors and the fused plan of a weighted mean.

use chunkwise::prelude::*;
use ndarray::{ArrayD, Axis, IxDyn};
use proptest::prelude::*;
use std::sync::OnceLock;
mod strategies;
use strategies::*;

type TestResult = std::result::Result<(), TestCaseError>;

fn rt(threads: usize) -> &'static Runtime {
    static RT: [OnceLock<Runtime>; 2] = [OnceLock::new(), OnceLock::new()];
    RT[threads - 1].get_or_init(|| {
        Runtime::builder()
            .threads(threads)
            .memory_limit("64 MiB")
            .build()
            .unwrap()
    })
}

fn close(got: f64, want: f64) -> bool {
    (got.is_nan() && want.is_nan()) || (got - want).abs() <= 1e-9 * want.abs().max(1.0)
}

fn check_close(what: &str, got: &ArrayD<f64>, want: &ArrayD<f64>) -> TestResult {
    prop_assert_eq!(got.shape(), want.shape(), "{}: shape", what);
    for ((i, &g), &w) in got.indexed_iter().zip(want.iter()) {
        prop_assert!(
            close(g, w),
            "{} at {:?}: {} but the reference gives {}",
            what,
            i,
            g,
            w
        );
    }
    Ok(())
}

/// Values: small integers (exact sums) or NaN.
fn values(n: usize) -> impl Strategy<Value = Vec<f64>> {
    prop::collection::vec(
        prop_oneof![1 => Just(f64::NAN), 5 => (-9i32..=9).prop_map(f64::from)],
        n,
    )
}

fn array(shape: &[usize], data: Vec<f64>) -> ArrayD<f64> {
    ArrayD::from_shape_vec(IxDyn(shape), data).unwrap()
}

// ---------------------------------------------------------------------------------------------
// Rolling.
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq)]
enum Roll {
    Sum,
    Mean,
    Var,
    Std,
    Min,
    Max,
}

/// The rolling reduction of one lane, window by window.
fn roll_lane(x: &[f64], window: usize, center: bool, mp: usize, op: Roll) -> Vec<f64> {
    let before = if center { window / 2 } else { window - 1 };
    (0..x.len())
        .map(|i| {
            let a = i.saturating_sub(before);
            let b = (i + window - 1 - before).min(x.len() - 1);
            let v: Vec<f64> = x[a..=b].iter().copied().filter(|v| !v.is_nan()).collect();
            if v.len() < mp {
                return f64::NAN;
            }
            let n = v.len() as f64;
            let mean = v.iter().sum::<f64>() / n;
            let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
            match op {
                Roll::Sum => v.iter().sum(),
                Roll::Mean => mean,
                Roll::Var => var,
                Roll::Std => var.sqrt(),
                Roll::Min => v.iter().copied().fold(f64::INFINITY, f64::min),
                Roll::Max => v.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            }
        })
        .collect()
}

fn roll_ref(
    a: &ArrayD<f64>,
    axis: usize,
    window: usize,
    center: bool,
    mp: usize,
    op: Roll,
) -> ArrayD<f64> {
    let mut out = a.clone();
    for (lane, mut o) in a
        .lanes(Axis(axis))
        .into_iter()
        .zip(out.lanes_mut(Axis(axis)))
    {
        let r = roll_lane(&lane.to_vec(), window, center, mp, op);
        for (d, v) in o.iter_mut().zip(r) {
            *d = v;
        }
    }
    out
}

#[derive(Clone, Debug)]
struct RollCase {
    shape: Vec<usize>,
    chunks: Vec<AxisSpec>,
    data: Vec<f64>,
    axis: usize,
    window: usize,
    center: bool,
    min_periods: Option<usize>,
    threads: usize,
}

fn roll_case() -> impl Strategy<Value = RollCase> {
    (prop::collection::vec(dim(), 1..=3), 0usize..3)
        .prop_flat_map(|(mut shape, axis)| {
            let axis = axis % shape.len();
            shape[axis] = shape[axis].max(1) + 2; // the window needs a nonempty axis
            let len = shape[axis];
            let n = shape.iter().product();
            (
                Just(shape.clone()),
                chunks_for(&shape),
                values(n),
                Just(axis),
                1..=len,
                any::<bool>(),
                any::<u8>(),
                1usize..=2,
            )
        })
        .prop_map(
            |(shape, chunks, data, axis, window, center, mp, threads)| RollCase {
                shape,
                chunks,
                data,
                axis,
                window,
                center,
                min_periods: (mp % 3 != 0).then(|| 1 + mp as usize % window),
                threads,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn rolling_matches_the_reference(c in roll_case()) {
        let a = array(&c.shape, c.data.clone());
        let x = ChunkedArray::from_ndarray(a.clone(), ChunkSpec::PerAxis(c.chunks.clone())).unwrap();
        let mut r = x.rolling(c.axis, c.window).center(c.center);
        if let Some(m) = c.min_periods {
            r = r.min_periods(m);
        }
        let mp = c.min_periods.unwrap_or(c.window);
        for (op, got) in [
            (Roll::Sum, r.sum()),
            (Roll::Mean, r.mean()),
            (Roll::Var, r.var()),
            (Roll::Std, r.std()),
            (Roll::Min, r.min()),
            (Roll::Max, r.max()),
        ] {
            let got = got.unwrap().compute(rt(c.threads)).unwrap();
            let want = roll_ref(&a, c.axis, c.window, c.center, mp, op);
            check_close(&format!("{op:?}"), &got, &want)?;
        }
    }

    /// Integer inputs give f64 results (as xarray), with the same windows.
    #[test]
    fn rolling_of_integers(c in roll_case()) {
        let a = array(&c.shape, c.data.clone()).mapv(|v| if v.is_nan() { 7 } else { v as i32 });
        let x = ChunkedArray::from_ndarray(a.clone(), ChunkSpec::PerAxis(c.chunks.clone())).unwrap();
        let r = x.rolling(c.axis, c.window).center(c.center).min_periods(1);
        let af = a.mapv(f64::from);
        for (op, got) in [(Roll::Sum, r.sum()), (Roll::Max, r.max()), (Roll::Min, r.min())] {
            let got: ArrayD<f64> = got.unwrap().compute(rt(c.threads)).unwrap();
            check_close(&format!("i32 {op:?}"), &got, &roll_ref(&af, c.axis, c.window, c.center, 1, op))?;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Coarsen.
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq)]
enum Co {
    Sum,
    Mean,
    Min,
    Max,
}

/// The coarsened array, window by window (`pad`: partial windows at the end; `trim`: none).
fn coarsen_ref(a: &ArrayD<f64>, f: &[usize], pad: bool, op: Co, skip_nan: bool) -> ArrayD<f64> {
    let oshape: Vec<usize> = a
        .shape()
        .iter()
        .zip(f)
        .map(|(&n, &k)| if pad { n.div_ceil(k) } else { n / k })
        .collect();
    ArrayD::from_shape_fn(IxDyn(&oshape), |o| {
        let mut v = Vec::new();
        for (i, &x) in a.indexed_iter() {
            if (0..a.ndim()).all(|k| i[k] / f[k] == o[k]) {
                v.push(x);
            }
        }
        if skip_nan {
            v.retain(|x| !x.is_nan());
        }
        let nan = v.iter().any(|x| x.is_nan());
        match op {
            Co::Sum => v.iter().sum(),
            Co::Mean if v.is_empty() => f64::NAN,
            Co::Mean => v.iter().sum::<f64>() / v.len() as f64,
            _ if nan || v.is_empty() => f64::NAN,
            Co::Min => v.iter().copied().fold(f64::INFINITY, f64::min),
            Co::Max => v.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        }
    })
}

#[derive(Clone, Debug)]
struct CoCase {
    shape: Vec<usize>,
    chunks: Vec<AxisSpec>,
    data: Vec<f64>,
    factors: Vec<usize>,
    pad: bool,
    threads: usize,
}

fn co_case() -> impl Strategy<Value = CoCase> {
    prop::collection::vec(dim().prop_map(|d| d + 1), 1..=3)
        .prop_flat_map(|shape| {
            let n = shape.iter().product();
            let factors: Vec<BoxedStrategy<usize>> =
                shape.iter().map(|&l| (1..=l + 1).boxed()).collect();
            (
                Just(shape.clone()),
                chunks_for(&shape),
                values(n),
                factors,
                any::<bool>(),
                1usize..=2,
            )
        })
        .prop_map(|(shape, chunks, data, factors, pad, threads)| CoCase {
            shape,
            chunks,
            data,
            factors,
            pad,
            threads,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn coarsen_matches_the_reference(c in co_case()) {
        let a = array(&c.shape, c.data.clone());
        let x = ChunkedArray::from_ndarray(a.clone(), ChunkSpec::PerAxis(c.chunks.clone())).unwrap();
        let divisible = c.shape.iter().zip(&c.factors).all(|(n, f)| n % f == 0);
        let b = if c.pad { CoarsenBoundary::Pad } else { CoarsenBoundary::Trim };
        let co = x.coarsen(&c.factors).boundary(b);
        let exact = x.coarsen(&c.factors);
        prop_assert_eq!(exact.sum().is_ok(), divisible);
        let rt = rt(c.threads);
        for (op, skip, got) in [
            (Co::Sum, false, co.sum()),
            (Co::Sum, true, co.nansum()),
            (Co::Mean, false, co.mean()),
            (Co::Mean, true, co.nanmean()),
            (Co::Min, false, co.min()),
            (Co::Min, true, co.nanmin()),
            (Co::Max, false, co.max()),
            (Co::Max, true, co.nanmax()),
        ] {
            let got = got.unwrap().compute(rt).unwrap();
            let want = coarsen_ref(&a, &c.factors, c.pad, op, skip);
            check_close(&format!("{op:?} skip_nan {skip} {b:?}"), &got, &want)?;
        }
    }

    /// Integer sums stay integers (`i64`), as `sum` does.
    #[test]
    fn coarsen_sum_of_integers(c in co_case()) {
        let a = array(&c.shape, c.data.clone()).mapv(|v| if v.is_nan() { 3 } else { v as i16 });
        let x = ChunkedArray::from_ndarray(a.clone(), ChunkSpec::PerAxis(c.chunks.clone())).unwrap();
        let got: ArrayD<i64> = x.coarsen(&c.factors).boundary(CoarsenBoundary::Pad).sum().unwrap()
            .compute(rt(c.threads)).unwrap();
        let want = coarsen_ref(&a.mapv(f64::from), &c.factors, true, Co::Sum, false);
        check_close("i16 sum", &got.mapv(|v| v as f64), &want)?;
    }
}

// ---------------------------------------------------------------------------------------------
// Weighted.
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug)]
struct WCase {
    shape: Vec<usize>,
    chunks: Vec<AxisSpec>,
    data: Vec<f64>,
    wshape: Vec<usize>,
    wchunks: Vec<AxisSpec>,
    weights: Vec<f64>,
    axes: Vec<usize>,
    threads: usize,
}

fn w_case() -> impl Strategy<Value = WCase> {
    (
        prop::collection::vec(dim(), 1..=3),
        prop::collection::vec(any::<bool>(), 3),
        0usize..=1,
        prop::collection::vec(any::<bool>(), 3),
    )
        .prop_flat_map(|(shape, keep, drop, reduce)| {
            let nd = shape.len();
            let drop = drop.min(nd - 1);
            let wshape: Vec<usize> = (drop..nd)
                .map(|k| if keep[k] { shape[k] } else { 1 })
                .collect();
            let axes: Vec<usize> = (0..nd).filter(|&k| reduce[k]).collect();
            let (n, wn): (usize, usize) = (shape.iter().product(), wshape.iter().product());
            (
                Just(shape.clone()),
                chunks_for(&shape),
                values(n),
                Just(wshape.clone()),
                chunks_for(&wshape),
                prop::collection::vec(
                    prop_oneof![1 => Just(0.0), 3 => (0u8..=8).prop_map(f64::from)],
                    wn,
                ),
                Just(axes),
                1usize..=2,
            )
        })
        .prop_map(
            |(shape, chunks, data, wshape, wchunks, weights, axes, threads)| WCase {
                shape,
                chunks,
                data,
                wshape,
                wchunks,
                weights,
                axes,
                threads,
            },
        )
}

/// Σ x·w, Σ w (where x is not NaN) and their quotient over `axes`, by brute force.
fn weighted_ref(a: &ArrayD<f64>, w: &ArrayD<f64>, axes: &[usize]) -> [ArrayD<f64>; 3] {
    let w = w.broadcast(a.shape()).unwrap();
    let oshape: Vec<usize> = (0..a.ndim())
        .filter(|k| !axes.contains(k))
        .map(|k| a.shape()[k])
        .collect();
    let mut s = ArrayD::<f64>::zeros(IxDyn(&oshape));
    let mut sw = ArrayD::<f64>::zeros(IxDyn(&oshape));
    for (i, &x) in a.indexed_iter() {
        if x.is_nan() {
            continue;
        }
        let o: Vec<usize> = (0..a.ndim())
            .filter(|k| !axes.contains(k))
            .map(|k| i[k])
            .collect();
        s[o.as_slice()] += x * w[&i];
        sw[o.as_slice()] += w[&i];
    }
    let mean = ndarray::Zip::from(&s)
        .and(&sw)
        .map_collect(|&s, &d| if d == 0.0 { f64::NAN } else { s / d });
    let sow = sw.mapv(|d| if d == 0.0 { f64::NAN } else { d });
    [s, mean, sow]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn weighted_matches_the_reference(c in w_case()) {
        let a = array(&c.shape, c.data.clone());
        let w = array(&c.wshape, c.weights.clone());
        let x = ChunkedArray::from_ndarray(a.clone(), ChunkSpec::PerAxis(c.chunks.clone())).unwrap();
        let wc = ChunkedArray::from_ndarray(w.clone(), ChunkSpec::PerAxis(c.wchunks.clone())).unwrap();
        let wt = x.weighted(&wc);
        let [s, m, sow] = weighted_ref(&a, &w, &c.axes);
        let rt = rt(c.threads);
        check_close("sum", &wt.sum_axes(&c.axes).unwrap().compute(rt).unwrap(), &s)?;
        check_close("mean", &wt.mean_axes(&c.axes).unwrap().compute(rt).unwrap(), &m)?;
        check_close("sum_of_weights", &wt.sum_of_weights_axes(&c.axes).unwrap().compute(rt).unwrap(), &sow)?;
        let all: Vec<usize> = (0..c.shape.len()).collect();
        let [_, m_all, _] = weighted_ref(&a, &w, &all);
        check_close("mean()", &wt.mean().unwrap().compute(rt).unwrap(), &m_all)?;
    }
}

// ---------------------------------------------------------------------------------------------
// Bad input and plans.
// ---------------------------------------------------------------------------------------------

fn msg<T: std::fmt::Debug>(r: Result<T>) -> String {
    r.expect_err("an error").to_string()
}

#[test]
fn bad_rolling_input_is_a_clear_error_before_running() {
    let x = ChunkedArray::<f64>::zeros(&[10, 4], [3, 4]).unwrap();
    let m = msg(x.rolling(0, 11).mean());
    assert!(m.contains("window 11") && m.contains("length 10"), "{m}");
    let m = msg(x.rolling(1, 0).sum());
    assert!(m.contains("window 0") && m.contains("axis 1"), "{m}");
    let m = msg(x.rolling(2, 1).max());
    assert!(m.contains("axis 2") && m.contains("[10, 4]"), "{m}");
    let m = msg(x.rolling(0, 3).min_periods(4).std());
    assert!(m.contains("min_periods 4"), "{m}");
    let m = msg(x.rolling(0, 3).min_periods(0).var());
    assert!(m.contains("min_periods 0"), "{m}");
    assert!(matches!(
        x.rolling(0, 11).min(),
        Err(Error::InvalidArgument { .. })
    ));
}

#[test]
fn bad_coarsen_input_is_a_clear_error_before_running() {
    let x = ChunkedArray::<f32>::zeros(&[4, 6, 7], [2, 3, 7]).unwrap();
    let m = msg(x.coarsen(&[1, 2, 2]).mean());
    assert!(
        m.contains("axis 2") && m.contains("length 7") && m.contains("factor 2"),
        "{m}"
    );
    assert!(matches!(
        x.coarsen(&[1, 2, 2]).sum(),
        Err(Error::Shape { .. })
    ));
    let m = msg(x.coarsen(&[1, 0, 1]).max());
    assert!(m.contains("factor 0 on axis 1"), "{m}");
    let m = msg(x.coarsen(&[2, 2]).min());
    assert!(m.contains("[2, 2]") && m.contains("3 axes"), "{m}");
    assert!(
        x.coarsen(&[1, 2, 2])
            .boundary(CoarsenBoundary::Trim)
            .mean()
            .is_ok()
    );
}

#[test]
fn weights_that_do_not_broadcast_or_hold_nan_are_errors() {
    let rt = rt(2);
    let x = ChunkedArray::<f64>::ones(&[3, 4], [2, 2]).unwrap();
    let w = ChunkedArray::<f64>::ones(&[3], [3]).unwrap();
    let m = msg(x.weighted(&w).mean_axes(&[0]));
    assert!(m.contains("[3]") && m.contains("[3, 4]"), "{m}");
    // Weights may not widen the data either.
    let w = ChunkedArray::<f64>::ones(&[2, 3, 4], [2, 3, 4]).unwrap();
    assert!(matches!(x.weighted(&w).sum(), Err(Error::Shape { .. })));
    let w = ChunkedArray::<f64>::ones(&[3, 1], [3, 1]).unwrap();
    let m = msg(x.weighted(&w).sum_axes(&[2]));
    assert!(m.contains("axis 2") && m.contains("weighted sum"), "{m}");
    let w = ChunkedArray::from_ndarray(ndarray::arr2(&[[1.0], [f64::NAN], [2.0]]), [2, 1]).unwrap();
    let r = x.weighted(&w).mean_axes(&[0]).unwrap().compute(rt);
    let m = msg(r);
    assert!(
        m.contains("weights hold NaN") && m.contains("[1, 0]"),
        "{m}"
    );
}

/// The weighted mean is one fused elementwise kernel per reduction over x and w, plus the
/// final division: no separate pass for the mask or the product.
#[test]
fn weighted_mean_fuses() {
    let x = ChunkedArray::from_ndarray(ndarray::Array3::<f64>::ones((8, 6, 4)), [2, 6, 4]).unwrap();
    let w = ChunkedArray::from_ndarray(ndarray::Array2::<f64>::ones((6, 1)), [6, 1]).unwrap();
    let m = x.weighted(&w).mean_axes(&[1, 2]).unwrap();
    let s = m.plan_summary(rt(2));
    eprintln!("{s}");
    // Σ x·w and Σ w (masked) are one elementwise kernel each, fused into their reductions'
    // partials; the division is the third. No separate mask or product pass.
    assert!(
        s.optimized_of(chunkwise::OpKind::Elementwise).count() <= 3,
        "{s}"
    );
    assert!(s.fits());
}
