//! Property tests of reductions over a fused elementwise input with a broadcast operand
//! (`(x * w).sum_axes(..)` with `w` of shape `(lat, 1)` and the like): random shapes, chunkings
//! of both operands, broadcast shapes of the operand, axis sets and NaN, against in-memory
//! `ndarray` and against the unfused path (the product materialized first, then reduced).

use chunkwise::prelude::*;
use ndarray::{ArrayD, IxDyn};
use proptest::prelude::*;
use std::sync::OnceLock;
mod strategies;
use strategies::*;

type CA<T> = ChunkedArray<T>;
type TestResult = std::result::Result<(), TestCaseError>;

fn rt() -> &'static Runtime {
    static RT: OnceLock<Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        Runtime::builder()
            .threads(2)
            .memory_limit("64 MiB")
            .build()
            .unwrap()
    })
}

#[derive(Clone, Debug)]
struct Case<T> {
    shape: Vec<usize>,
    chunks: Vec<AxisSpec>,
    x: Vec<T>,
    /// The operand's shape: `shape` with some axes 1 and some leading axes dropped.
    w_shape: Vec<usize>,
    w_chunks: Vec<AxisSpec>,
    w: Vec<T>,
    axes: Vec<usize>,
}

impl<T: Element> Case<T> {
    fn x_nd(&self) -> ArrayD<T> {
        ArrayD::from_shape_vec(IxDyn(&self.shape), self.x.clone()).unwrap()
    }
    fn w_nd(&self) -> ArrayD<T> {
        ArrayD::from_shape_vec(IxDyn(&self.w_shape), self.w.clone()).unwrap()
    }
    fn x_ca(&self) -> CA<T> {
        CA::from_ndarray(self.x_nd(), ChunkSpec::PerAxis(self.chunks.clone())).unwrap()
    }
    fn w_ca(&self) -> CA<T> {
        CA::from_ndarray(self.w_nd(), ChunkSpec::PerAxis(self.w_chunks.clone())).unwrap()
    }
}

fn axes_for(nd: usize) -> BoxedStrategy<Vec<usize>> {
    prop::collection::vec(any::<bool>(), nd)
        .prop_map(|m| {
            m.iter()
                .enumerate()
                .filter(|(_, b)| **b)
                .map(|(i, _)| i)
                .collect()
        })
        .boxed()
}

/// Shapes whose last axis is often long (lanes over several kernel tiles of 1024).
fn shape() -> BoxedStrategy<Vec<usize>> {
    prop_oneof![
        3 => base_shape().boxed(),
        1 => (prop::collection::vec(1usize..=3, 1..=3), 700usize..=2200).prop_map(|(mut s, l)| {
            s.push(l);
            s
        }),
    ]
    .boxed()
}

fn case<T: Element + std::fmt::Debug>(
    elems: impl Fn(usize) -> BoxedStrategy<Vec<T>> + Clone + 'static,
    w_elems: impl Fn(usize) -> BoxedStrategy<Vec<T>> + Clone + 'static,
) -> impl Strategy<Value = Case<T>> {
    shape().prop_flat_map(move |shape| {
        let nd = shape.len();
        let n: usize = shape.iter().product();
        let w_elems = w_elems.clone();
        (
            chunks_for(&shape),
            elems(n),
            prop::collection::vec(any::<bool>(), nd),
            0..=nd,
            axes_for(nd),
            Just(shape),
        )
            .prop_flat_map(move |(chunks, x, keep, drop, axes, shape)| {
                let w_shape: Vec<usize> = shape
                    .iter()
                    .zip(&keep)
                    .skip(drop)
                    .map(|(&l, &k)| if k { l } else { 1 })
                    .collect();
                let wn: usize = w_shape.iter().product();
                (
                    chunks_for(&w_shape),
                    w_elems(wn),
                    Just((shape, chunks, x, w_shape, axes)),
                )
                    .prop_map(
                        |(w_chunks, w, (shape, chunks, x, w_shape, axes))| Case {
                            shape,
                            chunks,
                            x,
                            w_shape,
                            w_chunks,
                            w,
                            axes,
                        },
                    )
            })
    })
}

fn f64_x(n: usize) -> BoxedStrategy<Vec<f64>> {
    f64_elems_with_nan(n, [1, 7])
}

fn f64_w(n: usize) -> BoxedStrategy<Vec<f64>> {
    prop::collection::vec(-2.0f64..2.0, n).boxed()
}

fn f32_x(n: usize) -> BoxedStrategy<Vec<f32>> {
    prop::collection::vec(prop_oneof![9 => 200.0f32..320.0, 1 => Just(f32::NAN)], n).boxed()
}

fn f32_w(n: usize) -> BoxedStrategy<Vec<f32>> {
    prop::collection::vec(0.0f32..1.0, n).boxed()
}

/// The values of each output position (C order over the reduced axes) of `a` reduced over
/// `axes` (kept with length 1), in C order of the output.
fn groups<T: Copy>(a: &ArrayD<T>, axes: &[usize]) -> (Vec<usize>, Vec<Vec<T>>) {
    let out: Vec<usize> = a
        .shape()
        .iter()
        .enumerate()
        .filter(|(i, _)| !axes.contains(i))
        .map(|(_, &l)| l)
        .collect();
    let kept: Vec<usize> = (0..a.ndim()).filter(|i| !axes.contains(i)).collect();
    let mut g: Vec<Vec<T>> = vec![Vec::new(); out.iter().product()];
    for (idx, &v) in a.indexed_iter() {
        let lin = kept
            .iter()
            .fold(0, |acc, &ax| acc * a.shape()[ax] + idx[ax]);
        g[lin].push(v);
    }
    (out, g)
}

/// Values agree to `rel` of `scale` (NaN matches NaN).
fn close(name: &str, got: &ArrayD<f64>, want: &[(f64, f64)], rel: f64) -> TestResult {
    prop_assert_eq!(got.len(), want.len(), "{}: length", name);
    for ((i, &g), &(w, scale)) in got.indexed_iter().zip(want) {
        let ok = (g.is_nan() && w.is_nan()) || g == w || (g - w).abs() <= rel * scale;
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

fn compute<T: Element>(
    name: &str,
    x: Result<CA<T>>,
) -> std::result::Result<ArrayD<T>, TestCaseError> {
    let x = x.map_err(|e| TestCaseError::fail(format!("{name}: building: {e}")))?;
    x.compute(rt())
        .map_err(|e| TestCaseError::fail(format!("{name}: compute: {e}")))
}

fn non_nan(v: &[f64]) -> Vec<f64> {
    v.iter().copied().filter(|x| !x.is_nan()).collect()
}

fn ref_sum(v: &[f64]) -> (f64, f64) {
    (
        v.iter().sum(),
        v.iter().map(|x| x.abs()).sum::<f64>().max(1.0),
    )
}

fn ref_mean(v: &[f64]) -> (f64, f64) {
    let (s, scale) = ref_sum(v);
    let n = v.len() as f64;
    (
        if v.is_empty() { f64::NAN } else { s / n },
        scale / n.max(1.0),
    )
}

fn ref_var(v: &[f64]) -> (f64, f64) {
    if v.is_empty() {
        return (f64::NAN, 1.0);
    }
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / n;
    let scale = v.iter().map(|x| x * x).sum::<f64>() / n;
    (var, scale.max(1.0))
}

fn ref_max(v: &[f64]) -> (f64, f64) {
    let nn = non_nan(v);
    let m = if nn.is_empty() {
        f64::NAN
    } else {
        nn.iter().copied().fold(f64::NEG_INFINITY, f64::max)
    };
    (m, 0.0)
}

fn check_f64(c: &Case<f64>) -> TestResult {
    let (x, w) = (c.x_ca(), c.w_ca());
    let ax = &c.axes[..];
    // In memory: NumPy's broadcasting product, then each output's values.
    let z_nd = &c.x_nd() * &c.w_nd();
    let (_, g) = groups(&z_nd, ax);
    let z = (&x * &w).unwrap();
    // The unfused path: the same product materialized, in x's chunks, then reduced.
    let z_mat = CA::from_ndarray(z_nd.clone(), ChunkSpec::PerAxis(c.chunks.clone())).unwrap();
    type Build = fn(&CA<f64>, &[usize]) -> Result<CA<f64>>;
    type Reference = fn(&[f64]) -> (f64, f64);
    let mut cases: Vec<(&str, Build, Reference)> = vec![
        ("sum", |a, ax| a.sum_axes(ax, false), ref_sum),
        (
            "nansum",
            |a, ax| a.nansum_axes(ax, false),
            |v| ref_sum(&non_nan(v)),
        ),
        ("mean", |a, ax| a.mean_axes(ax, false), ref_mean),
        (
            "nanmean",
            |a, ax| a.nanmean_axes(ax, false),
            |v| ref_mean(&non_nan(v)),
        ),
        (
            "nanvar",
            |a, ax| a.nanvar_axes(ax, false),
            |v| ref_var(&non_nan(v)),
        ),
    ];
    // A max over no element is an error (NumPy's too): only over nonempty groups.
    if ax.iter().all(|&a| c.shape[a] > 0) {
        cases.push(("nanmax", |a, ax| a.nanmax_axes(ax, false), ref_max));
    }
    for (name, build, reference) in cases {
        let want: Vec<(f64, f64)> = g.iter().map(|v| reference(v)).collect();
        let fused = compute(name, build(&z, ax))?;
        close(&format!("{name}(x * w) vs ndarray"), &fused, &want, 1e-10)?;
        let unfused = compute(name, build(&z_mat, ax))?;
        let scaled: Vec<(f64, f64)> = unfused
            .iter()
            .zip(&want)
            .map(|(&u, &(_, s))| (u, s))
            .collect();
        close(
            &format!("{name}(x * w) fused vs unfused"),
            &fused,
            &scaled,
            1e-10,
        )?;
    }
    // A longer chain with a scalar and the operand used twice.
    let y = (&(&(&x * &w).unwrap() + 1.0) * &w).unwrap();
    let y_nd = (&(&c.x_nd() * &c.w_nd()) + 1.0) * &c.w_nd();
    let (_, gy) = groups(&y_nd, ax);
    let want: Vec<(f64, f64)> = gy.iter().map(|v| ref_sum(&non_nan(v))).collect();
    let got = compute("nansum((x*w+1)*w)", y.nansum_axes(ax, false))?;
    close("nansum((x*w+1)*w)", &got, &want, 1e-10)
}

/// W9's form: f32 data, an f32 weight, a sum over some axes accumulated in f64.
fn check_f32(c: &Case<f32>) -> TestResult {
    let (x, w) = (c.x_ca(), c.w_ca());
    let ax = &c.axes[..];
    let z_nd = &c.x_nd() * &c.w_nd();
    let (_, g) = groups(&z_nd.mapv(f64::from), ax);
    let z = (&x * &w).unwrap();
    let got = compute("sum f32", z.nansum_axes(ax, false))?.mapv(f64::from);
    let want: Vec<(f64, f64)> = g.iter().map(|v| ref_sum(&non_nan(v))).collect();
    // The f64 sum is rounded to f32 once at the end.
    close("nansum(x * w) f32", &got, &want, 1e-6)?;
    let got = compute("mean f32", z.mean_axes(ax, false))?.mapv(f64::from);
    let want: Vec<(f64, f64)> = g.iter().map(|v| ref_mean(v)).collect();
    close("mean(x * w) f32", &got, &want, 1e-6)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn fused_broadcast_reductions_f64(c in case(f64_x, f64_w)) { check_f64(&c)?; }

    #[test]
    fn fused_broadcast_reductions_f32(c in case(f32_x, f32_w)) { check_f32(&c)?; }
}

/// W9 in small: a weighted sum per step of a 4-D array over its two trailing axes, the weight
/// `(lat, 1)`, chunks of whole steps; each output equals the in-memory product's sum.
#[test]
fn weighted_sum_over_trailing_axes_of_4d() {
    let (nt, nl, ny, nx) = (5, 3, 37, 1500);
    let x = ndarray::Array4::<f32>::from_shape_fn((nt, nl, ny, nx), |(t, l, i, j)| {
        250.0 + (t * 7 + l * 3 + i) as f32 * 0.25 + (j % 17) as f32 * 0.125
    });
    let w = ndarray::Array2::<f32>::from_shape_fn((ny, 1), |(i, _)| (i as f32 * 0.05).cos());
    let want = (&x * &w)
        .mapv(f64::from)
        .sum_axis(ndarray::Axis(3))
        .sum_axis(ndarray::Axis(2));
    let xc = CA::from_ndarray(x.into_dyn(), [1, nl, ny, nx]).unwrap();
    let wc = CA::from_ndarray(w.into_dyn(), ChunkSpec::auto()).unwrap();
    let got = (&xc * &wc)
        .unwrap()
        .sum_axes(&[2, 3], false)
        .unwrap()
        .compute(rt())
        .unwrap();
    assert_eq!(got.shape(), &[nt, nl]);
    for (g, w) in got.iter().zip(want.iter()) {
        assert!(
            (f64::from(*g) - w).abs() <= 1e-6 * w.abs(),
            "got {g}, want {w}"
        );
    }
}

/// A mean over the leading axis to one output block at limits tight enough for the frugal
/// plans (chains, and two chains combined): every limit and thread count gives the same bits,
/// equal to ndarray's mean within rounding.
#[test]
fn frugal_mean_over_time_same_bits_for_any_threads_and_limit() {
    let (nt, ny, nx) = (48, 120, 250);
    let x = ndarray::Array3::<f64>::from_shape_fn((nt, ny, nx), |(t, i, j)| {
        ((t * 31 + i * 7 + j) % 97) as f64 * 0.37 - 11.0
    });
    let w = ndarray::Array2::<f64>::from_shape_fn((ny, 1), |(i, _)| 1.0 + i as f64 * 0.01);
    let want = (&x * &w).mean_axis(ndarray::Axis(0)).unwrap();
    let xc = CA::from_ndarray(x.into_dyn(), [1, ny, nx]).unwrap();
    let wc = CA::from_ndarray(w.into_dyn(), ChunkSpec::auto()).unwrap();
    let m = (&xc * &wc).unwrap().mean_axis(0).unwrap();
    // (2 and 3 MiB plan two chains of 48 single-block groups; 6 MiB two chains of groups of 4.)
    for limit in ["2 MiB", "3 MiB", "6 MiB", "64 MiB"] {
        let run = |threads: usize| {
            let rt = Runtime::builder()
                .threads(threads)
                .memory_limit(limit)
                .build()
                .unwrap();
            m.compute(&rt).unwrap()
        };
        let (one, two) = (run(1), run(2));
        for (g, w) in two.iter().zip(want.iter()) {
            assert!(
                (g - w).abs() <= 1e-12 * w.abs().max(1.0),
                "{limit}: got {g}, want {w}"
            );
        }
        assert!(
            one.iter()
                .zip(two.iter())
                .all(|(a, b)| a.to_bits() == b.to_bits()),
            "{limit}: 1 and 2 threads differ"
        );
    }
}
