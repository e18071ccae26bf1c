//! Property tests of reductions: random shapes (0–4 axes, size-0 and size-1 axes), random
//! chunkings, axis sets, `keepdims` and `split_every`, against hand-written references.

use chunkwise::prelude::*;
use ndarray::{ArrayD, IxDyn};
use proptest::prelude::*;
use std::sync::OnceLock;
mod strategies;
use strategies::*;

type CA<T> = ChunkedArray<T>;
type TestResult = std::result::Result<(), TestCaseError>;

fn rt(threads: usize) -> &'static Runtime {
    static RT: [OnceLock<Runtime>; 4] = [
        OnceLock::new(),
        OnceLock::new(),
        OnceLock::new(),
        OnceLock::new(),
    ];
    RT[threads - 1].get_or_init(|| {
        Runtime::builder()
            .threads(threads)
            .memory_limit("64 MiB")
            .build()
            .unwrap()
    })
}

// ---------------------------------------------------------------------------------------------
// Shapes, chunkings, axes.
// ---------------------------------------------------------------------------------------------

/// Reduction axes: all, one, or any subset (sorted).
fn axes_for(nd: usize) -> BoxedStrategy<Vec<usize>> {
    let all = Just((0..nd).collect::<Vec<_>>());
    if nd == 0 {
        return all.boxed();
    }
    prop_oneof![
        1 => all,
        2 => (0..nd).prop_map(|a| vec![a]),
        2 => prop::collection::vec(any::<bool>(), nd)
            .prop_map(|m| m.iter().enumerate().filter(|(_, b)| **b).map(|(i, _)| i).collect()),
    ]
    .boxed()
}

#[derive(Clone, Debug)]
struct Case<T> {
    shape: Vec<usize>,
    chunks: Vec<AxisSpec>,
    data: Vec<T>,
    axes: Vec<usize>,
    keepdims: bool,
    split_every: usize,
}

impl<T: Element> Case<T> {
    fn ndarray(&self) -> ArrayD<T> {
        ArrayD::from_shape_vec(IxDyn(&self.shape), self.data.clone()).unwrap()
    }
    fn chunked(&self) -> CA<T> {
        CA::from_ndarray(self.ndarray(), ChunkSpec::PerAxis(self.chunks.clone())).unwrap()
    }
    fn opts(&self) -> ReduceOpts {
        ReduceOpts::default()
            .keepdims(self.keepdims)
            .split_every(self.split_every)
    }
    /// Number of elements reduced into each output element.
    fn n_reduced(&self) -> usize {
        self.axes.iter().map(|&a| self.shape[a]).product()
    }
}

fn case<T: Element + std::fmt::Debug>(
    elems: impl Fn(usize) -> BoxedStrategy<Vec<T>> + Clone + 'static,
) -> impl Strategy<Value = Case<T>> {
    case_with(base_shape().boxed(), elems)
}

/// Up to 3 axes, the last long enough that a lane spans several kernel tiles (1024).
fn long_lane_shape() -> BoxedStrategy<Vec<usize>> {
    (prop::collection::vec(1usize..=3, 0..=2), 1000usize..=2600)
        .prop_map(|(mut s, last)| {
            s.push(last);
            s
        })
        .boxed()
}

fn case_with<T: Element + std::fmt::Debug>(
    shapes: BoxedStrategy<Vec<usize>>,
    elems: impl Fn(usize) -> BoxedStrategy<Vec<T>> + Clone + 'static,
) -> impl Strategy<Value = Case<T>> {
    shapes.prop_flat_map(move |shape| {
        let n: usize = shape.iter().product();
        (
            chunks_for(&shape),
            elems(n),
            axes_for(shape.len()),
            any::<bool>(),
            2usize..=5,
            Just(shape),
        )
            .prop_map(|(chunks, data, axes, keepdims, split_every, shape)| Case {
                shape,
                chunks,
                data,
                axes,
                keepdims,
                split_every,
            })
    })
}

/// Floats with ties and, in half the cases, NaNs (a tenth or seven tenths of the values).
fn f64_elems(n: usize) -> BoxedStrategy<Vec<f64>> {
    f64_elems_with_nan(n, [1, 7])
}

fn i32_elems(n: usize) -> BoxedStrategy<Vec<i32>> {
    prop::collection::vec(prop_oneof![3 => -3i32..4, 1 => -1000i32..1000], n).boxed()
}

fn u8_elems(n: usize) -> BoxedStrategy<Vec<u8>> {
    prop::collection::vec(prop_oneof![3 => 0u8..3, 1 => any::<u8>()], n).boxed()
}

fn f32_elems(n: usize) -> BoxedStrategy<Vec<f32>> {
    prop::collection::vec(-10.0f32..10.0, n).boxed()
}

// ---------------------------------------------------------------------------------------------
// Reference: the elements of each output position, in C order over the reduced axes.
// ---------------------------------------------------------------------------------------------

fn out_shape(shape: &[usize], axes: &[usize], keepdims: bool) -> Vec<usize> {
    shape
        .iter()
        .enumerate()
        .filter_map(|(i, &l)| {
            if axes.contains(&i) {
                keepdims.then_some(1)
            } else {
                Some(l)
            }
        })
        .collect()
}

fn groups<T: Copy>(a: &ArrayD<T>, axes: &[usize]) -> Vec<Vec<T>> {
    let full: Vec<usize> = a
        .shape()
        .iter()
        .enumerate()
        .map(|(i, &l)| if axes.contains(&i) { 1 } else { l })
        .collect();
    let mut strides = vec![1usize; full.len()];
    for ax in (0..full.len().saturating_sub(1)).rev() {
        strides[ax] = strides[ax + 1] * full[ax + 1];
    }
    let mut g: Vec<Vec<T>> = vec![Vec::new(); full.iter().product()];
    for (idx, &v) in a.indexed_iter() {
        let lin: usize = (0..full.len())
            .filter(|ax| !axes.contains(ax))
            .map(|ax| idx[ax] * strides[ax])
            .sum();
        g[lin].push(v);
    }
    g
}

fn reference<T: Element, O>(c: &Case<T>, f: impl Fn(&[T]) -> O) -> ArrayD<O> {
    let g = groups(&c.ndarray(), &c.axes);
    ArrayD::from_shape_vec(
        IxDyn(&out_shape(&c.shape, &c.axes, c.keepdims)),
        g.iter().map(|v| f(v)).collect(),
    )
    .unwrap()
}

fn compute<T: Element>(
    name: &str,
    x: Result<CA<T>>,
) -> std::result::Result<ArrayD<T>, TestCaseError> {
    let x = x.map_err(|e| TestCaseError::fail(format!("{name}: building: {e}")))?;
    x.compute(rt(2))
        .map_err(|e| TestCaseError::fail(format!("{name}: compute: {e}")))
}

/// `want` holds (value, scale): values agree to 1e-10 of the scale (NaN matches NaN).
fn check_f64(name: &str, got: &ArrayD<f64>, want: &ArrayD<(f64, f64)>) -> TestResult {
    prop_assert_eq!(got.shape(), want.shape(), "{}", name);
    for ((i, &g), &(w, scale)) in got.indexed_iter().zip(want.iter()) {
        let ok = (g.is_nan() && w.is_nan()) || g == w || (g - w).abs() <= 1e-10 * scale;
        prop_assert!(
            ok,
            "{}: at {:?} got {}, want {} (scale {})",
            name,
            i,
            g,
            w,
            scale
        );
    }
    Ok(())
}

fn check_exact<T: PartialEq + std::fmt::Debug>(
    name: &str,
    got: &ArrayD<T>,
    want: &ArrayD<T>,
) -> TestResult {
    prop_assert_eq!(got.shape(), want.shape(), "{}", name);
    for ((i, g), w) in got.indexed_iter().zip(want.iter()) {
        prop_assert!(g == w, "{}: at {:?} got {:?}, want {:?}", name, i, g, w);
    }
    Ok(())
}

/// Float equality that matches NaN with NaN (for min/max, exact).
fn check_same_f64(name: &str, got: &ArrayD<f64>, want: &ArrayD<f64>) -> TestResult {
    prop_assert_eq!(got.shape(), want.shape(), "{}", name);
    for ((i, &g), &w) in got.indexed_iter().zip(want.iter()) {
        prop_assert!(
            (g.is_nan() && w.is_nan()) || g == w,
            "{}: at {:?} got {}, want {}",
            name,
            i,
            g,
            w
        );
    }
    Ok(())
}

fn expect_invalid<T: Element>(name: &str, r: Result<CA<T>>) -> TestResult {
    prop_assert!(
        matches!(r, Err(Error::InvalidArgument { .. })),
        "{}: expected InvalidArgument, got {:?}",
        name,
        r.map(|x| x.shape().to_vec())
    );
    Ok(())
}

fn ref_sum(v: &[f64]) -> (f64, f64) {
    (v.iter().sum(), v.iter().map(|x| x.abs()).sum())
}

fn ref_mean(v: &[f64]) -> (f64, f64) {
    let (s, a) = ref_sum(v);
    let n = v.len() as f64;
    (s / n, a / n)
}

/// Two-pass variance with `ddof`, and its scale; NaN when `n - ddof <= 0`.
fn ref_var(v: &[f64], ddof: f64) -> (f64, f64) {
    let n = v.len() as f64;
    if n - ddof <= 0.0 {
        return (f64::NAN, 0.0);
    }
    let m = v.iter().sum::<f64>() / n;
    let ss: f64 = v.iter().map(|x| (x - m) * (x - m)).sum();
    let sq: f64 = v.iter().map(|x| x * x).sum();
    (ss / (n - ddof), sq / (n - ddof))
}

fn non_nan(v: &[f64]) -> Vec<f64> {
    v.iter().copied().filter(|x| !x.is_nan()).collect()
}

fn ref_extreme(v: &[f64], max: bool, skip_nan: bool) -> f64 {
    let mut best: Option<f64> = None;
    for &x in v {
        if x.is_nan() {
            if skip_nan {
                continue;
            }
            return f64::NAN;
        }
        best = Some(match best {
            None => x,
            Some(b) if (max && x > b) || (!max && x < b) => x,
            Some(b) => b,
        });
    }
    best.unwrap_or(f64::NAN)
}

/// Index of the first extreme; with `skip_nan` false, the first NaN wins (NumPy). `None`
/// when no non-NaN element exists under `skip_nan`.
fn ref_arg(v: &[f64], max: bool, skip_nan: bool) -> Option<i64> {
    let mut best: Option<(usize, f64)> = None;
    for (i, &x) in v.iter().enumerate() {
        if x.is_nan() {
            if skip_nan {
                continue;
            }
            return Some(i as i64);
        }
        match best {
            Some((_, b)) if !((max && x > b) || (!max && x < b)) => {}
            _ => best = Some((i, x)),
        }
    }
    best.map(|(i, _)| i as i64)
}

fn truthy(x: f64) -> bool {
    x != 0.0
}

// ---------------------------------------------------------------------------------------------
// f64: every reduction.
// ---------------------------------------------------------------------------------------------

fn check_f64_case(c: &Case<f64>) -> TestResult {
    let x = c.chunked();
    let (ax, o) = (&c.axes[..], c.opts());
    let n = c.n_reduced();

    let sum = compute("sum", x.sum_axes(ax, o))?;
    check_f64("sum", &sum, &reference(c, ref_sum))?;
    let nansum = compute("nansum", x.nansum_axes(ax, o))?;
    check_f64("nansum", &nansum, &reference(c, |v| ref_sum(&non_nan(v))))?;
    let mean = compute("mean", x.mean_axes(ax, o))?;
    check_f64("mean", &mean, &reference(c, ref_mean))?;
    let nanmean = compute("nanmean", x.nanmean_axes(ax, o))?;
    check_f64(
        "nanmean",
        &nanmean,
        &reference(c, |v| ref_mean(&non_nan(v))),
    )?;

    // var/std of data with NaN: see `var_std_propagate_nan`.
    if !c.data.iter().any(|v| v.is_nan()) {
        check_var_std(c)?;
    }
    for ddof in [0.0, 1.0] {
        let nanvar = compute("nanvar", x.nanvar_axes(ax, o.ddof(ddof)))?;
        check_f64(
            "nanvar",
            &nanvar,
            &reference(c, |v| ref_var(&non_nan(v), ddof)),
        )?;
        let nanstd = compute("nanstd", x.nanstd_axes(ax, o.ddof(ddof)))?;
        check_f64(
            "nanstd²",
            &nanstd.mapv(|s| s * s),
            &reference(c, |v| ref_var(&non_nan(v), ddof)),
        )?;
    }

    if n == 0 {
        expect_invalid("min", x.min_axes(ax, o))?;
        expect_invalid("max", x.max_axes(ax, o))?;
        expect_invalid("nanmin", x.nanmin_axes(ax, o))?;
        expect_invalid("nanmax", x.nanmax_axes(ax, o))?;
    } else {
        for (name, max, skip) in [
            ("min", false, false),
            ("max", true, false),
            ("nanmin", false, true),
            ("nanmax", true, true),
        ] {
            let r = match name {
                "min" => x.min_axes(ax, o),
                "max" => x.max_axes(ax, o),
                "nanmin" => x.nanmin_axes(ax, o),
                _ => x.nanmax_axes(ax, o),
            };
            let got = compute(name, r)?;
            check_same_f64(name, &got, &reference(c, |v| ref_extreme(v, max, skip)))?;
        }
    }

    let cnt = compute("count_nonzero", x.count_nonzero_axes(ax, o))?;
    check_exact(
        "count_nonzero",
        &cnt,
        &reference(c, |v| v.iter().filter(|&&x| truthy(x)).count() as i64),
    )?;
    let any = compute("any", x.any_axes(ax, o))?;
    check_exact("any", &any, &reference(c, |v| v.iter().any(|&x| truthy(x))))?;
    let all = compute("all", x.all_axes(ax, o))?;
    check_exact("all", &all, &reference(c, |v| v.iter().all(|&x| truthy(x))))?;

    // Fused input: prod of values near 1 and sum of squares.
    let y = (&x * 0.01 + 1.0).abs();
    let prod = compute("prod(fused)", y.prod_axes(ax, o))?;
    check_f64(
        "prod(fused)",
        &prod,
        &reference(c, |v| {
            let p: f64 = v.iter().map(|x| (x * 0.01 + 1.0).abs()).product();
            (p, p.abs())
        }),
    )?;
    let sq = compute("sum(x*x)", (&x * &x).and_then(|s| s.sum_axes(ax, o)))?;
    check_f64(
        "sum(x*x)",
        &sq,
        &reference(c, |v| {
            let s: f64 = v.iter().map(|x| x * x).sum();
            (s, s.abs())
        }),
    )?;

    // Fused input with broadcasting: x - row, where row spans the last axis with its own
    // chunks (one block), so the reduction input is rechunked and fused.
    if let Some(&last) = c.shape.last() {
        let row: Vec<f64> = (0..last).map(|i| i as f64 * 0.5 - 1.0).collect();
        let r = CA::from_ndarray(ndarray::Array1::from(row.clone()), [last.max(1)]).unwrap();
        let z = (&x - &r).unwrap();
        let shifted = Case {
            data: c
                .ndarray()
                .indexed_iter()
                .map(|(i, &v)| v - row[i[c.shape.len() - 1]])
                .collect(),
            ..c.clone()
        };
        let s = compute("sum(x - row)", z.sum_axes(ax, o))?;
        check_f64("sum(x - row)", &s, &reference(&shifted, ref_sum))?;
        let m = compute("nanmean(x - row)", z.nanmean_axes(ax, o))?;
        check_f64(
            "nanmean(x - row)",
            &m,
            &reference(&shifted, |v| ref_mean(&non_nan(v))),
        )?;
        if n > 0 {
            let m = compute("nanmax(x - row)", z.nanmax_axes(ax, o))?;
            check_same_f64(
                "nanmax(x - row)",
                &m,
                &reference(&shifted, |v| ref_extreme(v, true, true)),
            )?;
        }
    }

    // The short forms agree with the general one.
    if c.axes.len() == c.shape.len() {
        let s = compute("sum()", Ok(x.sum()))?;
        let s_all = compute("sum_axes(all)", x.sum_axes(ax, false))?;
        prop_assert_eq!(s.shape(), &[] as &[usize]);
        check_same_f64("sum() vs sum_axes", &s, &s_all)?;
        if c.shape.iter().product::<usize>() > 0 {
            let m = compute("max()", x.max())?;
            check_same_f64(
                "max()",
                &m,
                &ArrayD::from_elem(IxDyn(&[]), ref_extreme(&c.data, true, false)),
            )?;
        }
    }
    if let [a] = c.axes[..] {
        let s = compute("mean_axis", x.mean_axis(a))?;
        let s2 = compute("mean_axes", x.mean_axes(&[a], false))?;
        check_same_f64("mean_axis vs mean_axes", &s, &s2)?;
        let v = compute("var_axis", x.nanvar_axis(a))?;
        let v2 = compute("var_axes", x.nanvar_axes(&[a], false))?;
        check_same_f64("nanvar_axis vs nanvar_axes", &v, &v2)?;
    }
    Ok(())
}

/// `var`/`std` with ddof 0 and 1 (NaN propagates).
fn check_var_std(c: &Case<f64>) -> TestResult {
    let x = c.chunked();
    let (ax, o) = (&c.axes[..], c.opts());
    let n = c.n_reduced();
    for ddof in [0.0, 1.0] {
        if ddof >= n as f64 && n > 0 {
            expect_invalid("var", x.var_axes(ax, o.ddof(ddof)))?;
            expect_invalid("std", x.std_axes(ax, o.ddof(ddof)))?;
        } else {
            let var = compute("var", x.var_axes(ax, o.ddof(ddof)))?;
            check_f64("var", &var, &reference(c, |v| ref_var(v, ddof)))?;
            let std = compute("std", x.std_axes(ax, o.ddof(ddof)))?;
            check_f64(
                "std²",
                &std.mapv(|s| s * s),
                &reference(c, |v| ref_var(v, ddof)),
            )?;
        }
    }
    Ok(())
}

/// Arg-reductions along one axis (or flattened, for the all-axes case).
fn check_arg_case(c: &Case<f64>) -> TestResult {
    let x = c.chunked();
    let n = c.n_reduced();
    let flat = c.axes.len() == c.shape.len() && c.axes.len() != 1;
    let single = match c.axes[..] {
        [a] => Some(a),
        _ => None,
    };
    if !flat && single.is_none() {
        return Ok(());
    }
    let rc = Case {
        keepdims: false,
        ..c.clone()
    };
    for (name, max, skip) in [
        ("argmin", false, false),
        ("argmax", true, false),
        ("nanargmin", false, true),
        ("nanargmax", true, true),
    ] {
        let r = match (name, single) {
            ("argmin", Some(a)) => x.argmin_axis(a),
            ("argmax", Some(a)) => x.argmax_axis(a),
            ("nanargmin", Some(a)) => x.nanargmin_axis(a),
            ("nanargmax", Some(a)) => x.nanargmax_axis(a),
            ("argmin", None) => x.argmin(),
            ("argmax", None) => x.argmax(),
            ("nanargmin", None) => x.nanargmin(),
            _ => x.nanargmax(),
        };
        if n == 0 {
            expect_invalid(name, r)?;
            continue;
        }
        let want = reference(&rc, |v| ref_arg(v, max, skip));
        let lazy = r.map_err(|e| TestCaseError::fail(format!("{name}: building: {e}")))?;
        let got = lazy.compute(rt(2));
        if want.iter().any(Option::is_none) {
            prop_assert!(
                matches!(got, Err(Error::InvalidArgument { .. })),
                "{}: all-NaN slice should fail at compute, got {:?}",
                name,
                got
            );
        } else {
            let got = got.map_err(|e| TestCaseError::fail(format!("{name}: compute: {e}")))?;
            check_exact(name, &got, &want.mapv(Option::unwrap))?;
        }
    }
    Ok(())
}

/// Identical bits for 1, 2 and 4 threads.
fn check_determinism(c: &Case<f64>) -> TestResult {
    let x = c.chunked();
    let (ax, o) = (&c.axes[..], c.opts());
    let arrays = [
        x.sum_axes(ax, o),
        x.nansum_axes(ax, o),
        x.mean_axes(ax, o),
        x.nanvar_axes(ax, o),
        (&x * 0.5 + 1.0).nanstd_axes(ax, o.ddof(1.0)),
        x.prod_axes(ax, o),
    ];
    let arrays: Vec<CA<f64>> = arrays.into_iter().collect::<Result<_>>().unwrap();
    let refs: Vec<&CA<f64>> = arrays.iter().collect();
    let one: Vec<ArrayD<f64>> = refs.iter().map(|a| a.compute(rt(1)).unwrap()).collect();
    for threads in [2, 4] {
        let many = compute_all(rt(threads), &refs).unwrap();
        for (a, b) in one.iter().zip(&many) {
            let ab: Vec<u64> = a.iter().map(|v| v.to_bits()).collect();
            let bb: Vec<u64> = b.iter().map(|v| v.to_bits()).collect();
            prop_assert_eq!(ab, bb, "threads 1 vs {}", threads);
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Integers: exact sums (i64/u64, wrapping) and products, means in f64.
// ---------------------------------------------------------------------------------------------

fn check_i32_case(c: &Case<i32>) -> TestResult {
    let x = c.chunked();
    let (ax, o) = (&c.axes[..], c.opts());
    let sum = compute("sum", x.sum_axes(ax, o))?;
    check_exact(
        "sum",
        &sum,
        &reference(c, |v| v.iter().fold(0i64, |a, &b| a.wrapping_add(b as i64))),
    )?;
    let prod = compute("prod", x.clip(-2, 2).prod_axes(ax, o))?;
    check_exact(
        "prod",
        &prod,
        &reference(c, |v| {
            v.iter()
                .fold(1i64, |a, &b| a.wrapping_mul(b.clamp(-2, 2) as i64))
        }),
    )?;
    let mean = compute("mean", x.mean_axes(ax, o))?;
    check_f64(
        "mean",
        &mean,
        &reference(c, |v| {
            let f: Vec<f64> = v.iter().map(|&x| x as f64).collect();
            ref_mean(&f)
        }),
    )?;
    let n = c.n_reduced();
    for ddof in [0.0, 1.0] {
        if ddof >= n as f64 && n > 0 {
            expect_invalid("var", x.var_axes(ax, o.ddof(ddof)))?;
        } else {
            let var = compute("var", x.var_axes(ax, o.ddof(ddof)))?;
            check_f64(
                "var",
                &var,
                &reference(c, |v| {
                    let f: Vec<f64> = v.iter().map(|&x| x as f64).collect();
                    ref_var(&f, ddof)
                }),
            )?;
        }
    }
    if n == 0 {
        expect_invalid("min", x.min_axes(ax, o))?;
        expect_invalid("max", x.max_axes(ax, o))?;
    } else {
        let min = compute("min", x.min_axes(ax, o))?;
        check_exact("min", &min, &reference(c, |v| *v.iter().min().unwrap()))?;
        let max = compute("max", x.max_axes(ax, o))?;
        check_exact("max", &max, &reference(c, |v| *v.iter().max().unwrap()))?;
        if let [a] = c.axes[..] {
            let rc = Case {
                keepdims: false,
                ..c.clone()
            };
            let am = compute("argmax", x.argmax_axis(a))?;
            let want = reference(&rc, |v| {
                let f: Vec<f64> = v.iter().map(|&x| x as f64).collect();
                ref_arg(&f, true, false).unwrap()
            });
            check_exact("argmax", &am, &want)?;
        }
    }
    let cnt = compute("count_nonzero", x.count_nonzero_axes(ax, o))?;
    check_exact(
        "count_nonzero",
        &cnt,
        &reference(c, |v| v.iter().filter(|&&x| x != 0).count() as i64),
    )?;
    let any = compute("any", x.any_axes(ax, o))?;
    check_exact("any", &any, &reference(c, |v| v.iter().any(|&x| x != 0)))?;
    let all = compute("all", x.all_axes(ax, o))?;
    check_exact("all", &all, &reference(c, |v| v.iter().all(|&x| x != 0)))?;
    Ok(())
}

fn check_u8_case(c: &Case<u8>) -> TestResult {
    let x = c.chunked();
    let (ax, o) = (&c.axes[..], c.opts());
    let sum = compute("sum", x.sum_axes(ax, o))?;
    check_exact(
        "sum",
        &sum,
        &reference(c, |v| v.iter().map(|&b| b as u64).sum::<u64>()),
    )?;
    let prod = compute("prod", x.prod_axes(ax, o))?;
    check_exact(
        "prod",
        &prod,
        &reference(c, |v| v.iter().fold(1u64, |a, &b| a.wrapping_mul(b as u64))),
    )?;
    // Fused: u8 arithmetic wraps before the sum widens.
    let fused = compute("sum(x*3)", (&x * 3u8).sum_axes(ax, o))?;
    check_exact(
        "sum(x*3)",
        &fused,
        &reference(c, |v| {
            v.iter().map(|&b| b.wrapping_mul(3) as u64).sum::<u64>()
        }),
    )?;
    if c.n_reduced() > 0 {
        let max = compute("max", x.max_axes(ax, o))?;
        check_exact("max", &max, &reference(c, |v| *v.iter().max().unwrap()))?;
    }
    let cnt = compute("count_nonzero", x.count_nonzero_axes(ax, o))?;
    check_exact(
        "count_nonzero",
        &cnt,
        &reference(c, |v| v.iter().filter(|&&x| x != 0).count() as i64),
    )?;
    Ok(())
}

fn check_f32_case(c: &Case<f32>) -> TestResult {
    let x = c.chunked();
    let (ax, o) = (&c.axes[..], c.opts());
    let sum = compute("sum", x.sum_axes(ax, o))?;
    // Accumulated in f64, then rounded to f32.
    let want = reference(c, |v| v.iter().map(|&x| x as f64).sum::<f64>());
    prop_assert_eq!(sum.shape(), want.shape());
    let scale = reference(c, |v| v.iter().map(|&x| (x as f64).abs()).sum::<f64>());
    for ((g, w), s) in sum.iter().zip(want.iter()).zip(scale.iter()) {
        prop_assert!(
            ((*g as f64) - w).abs() <= 1e-6 * s.max(1e-30),
            "f32 sum {} vs {}",
            g,
            w
        );
    }
    let mean = compute("mean", x.mean_axes(ax, o))?;
    let want = reference(c, |v| {
        let f: Vec<f64> = v.iter().map(|&x| x as f64).collect();
        ref_mean(&f)
    });
    prop_assert_eq!(mean.shape(), want.shape());
    for (g, &(w, scale)) in mean.iter().zip(want.iter()) {
        let g = *g as f64;
        prop_assert!(
            (g.is_nan() && w.is_nan()) || (g - w).abs() <= 1e-6 * w.abs() + 1e-10 * scale,
            "f32 mean {} vs {}",
            g,
            w
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn reductions_f64(c in case(f64_elems)) { check_f64_case(&c)?; }

    #[test]
    fn arg_reductions_f64(c in case(f64_elems)) { check_arg_case(&c)?; }

    #[test]
    fn reductions_deterministic_across_threads(c in case(f64_elems)) { check_determinism(&c)?; }

    #[test]
    fn reductions_i32(c in case(i32_elems)) { check_i32_case(&c)?; }

    #[test]
    fn reductions_u8(c in case(u8_elems)) { check_u8_case(&c)?; }

    /// Repro: `ChunkedArray::from_ndarray(ndarray::arr1(&[1.0, f64::NAN, 3.0]), [3])?
    /// .var().compute_scalar(&rt)` gives `0.0`; NumPy gives NaN (so do `std`, and any
    /// chunking or axis). Cause: `MomentState::finish` clamps with `m2.max(0.0)`, and
    /// `f64::max` drops the NaN.
    #[test]
    fn var_std_propagate_nan(c in case(f64_elems)) { check_var_std(&c)?; }

    #[test]
    fn reductions_f32(c in case(f32_elems)) { check_f32_case(&c)?; }
}

#[test]
fn argmin_ties_and_nan_follow_numpy() {
    let a = ndarray::arr2(&[[3.0, 1.0, 1.0, 5.0], [2.0, f64::NAN, 0.0, f64::NAN]]);
    let x = CA::from_ndarray(a, [1, 3]).unwrap();
    let r = rt(2);
    assert_eq!(x.argmin().unwrap().compute_scalar(r).unwrap(), 5);
    assert_eq!(x.nanargmin().unwrap().compute_scalar(r).unwrap(), 6);
    assert_eq!(x.nanargmax().unwrap().compute_scalar(r).unwrap(), 3);
    let am = x.argmin_axis(1).unwrap().compute(r).unwrap();
    assert_eq!(am.into_raw_vec_and_offset().0, vec![1, 1]);
    let am = x.nanargmin_axis(1).unwrap().compute(r).unwrap();
    assert_eq!(am.into_raw_vec_and_offset().0, vec![1, 2]);
    let am = x.argmax_axis(0).unwrap().compute(r).unwrap();
    assert_eq!(am.into_raw_vec_and_offset().0, vec![0, 1, 0, 1]);
}

#[test]
fn sum_of_many_f32_is_accumulated_in_f64() {
    let n = 100_000_000usize;
    let x = CA::<f32>::full(&[n], 0.1, [1_000_000]).unwrap();
    let s = x.sum().compute_scalar(rt(2)).unwrap() as f64;
    let want = n as f64 * 0.1f32 as f64;
    assert!(
        (s - want).abs() <= 1e-6 * want,
        "sum {s} vs {want} (relative {})",
        (s - want).abs() / want
    );
}

/// Repro of the bug behind `var_std_propagate_nan`, deterministic.
#[test]
fn var_std_of_nan_is_nan() {
    let x = CA::from_ndarray(ndarray::arr1(&[1.0, f64::NAN, 3.0]), [3]).unwrap();
    let r = rt(1);
    assert!(x.var().compute_scalar(r).unwrap().is_nan());
    let sample = x.std_axes(&[0], ReduceOpts::default().ddof(1.0)).unwrap();
    assert!(sample.compute_scalar(r).unwrap().is_nan());
    let y = CA::from_ndarray(ndarray::arr2(&[[f64::NAN, 1.0], [2.0, 3.0]]), [1, 1]).unwrap();
    let v = y.var_axis(0).unwrap().compute(r).unwrap();
    assert!(v[[0]].is_nan(), "{v:?}");
    assert_eq!(v[[1]], 1.0);
}

proptest! {
    // Long lanes are slower: fewer cases.
    #![proptest_config(ProptestConfig::with_cases(16))]

    #[test]
    fn reductions_long_lanes_f64(c in case_with(long_lane_shape(), f64_elems)) {
        check_f64_case(&c)?;
        check_arg_case(&c)?;
    }
}
