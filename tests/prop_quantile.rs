//! Property tests of quantiles, medians and histograms: random shapes (0–4 axes, size-0 and
//! size-1 axes), chunkings, memory layouts, axis sets, q vectors, NaN rates and dtypes, against
//! a sort-based reference written here (a full sort of each lane, then NumPy's formula).

use chunkwise::prelude::*;
use ndarray::{ArrayD, IxDyn};
use proptest::prelude::*;
use std::sync::OnceLock;
mod strategies;
use strategies::*;

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

#[derive(Clone, Debug)]
struct Case<T> {
    shape: Vec<usize>,
    chunks: Vec<AxisSpec>,
    layout: Layout,
    data: Vec<T>,
    axes: Vec<usize>,
    qs: Vec<f64>,
}

impl<T: Element> Case<T> {
    fn ndarray(&self) -> ArrayD<T> {
        ArrayD::from_shape_vec(IxDyn(&self.shape), self.data.clone()).unwrap()
    }
    fn chunked(&self) -> ChunkedArray<T> {
        let a = with_layout(&self.ndarray(), &self.layout);
        ChunkedArray::from_ndarray(a, ChunkSpec::PerAxis(self.chunks.clone())).unwrap()
    }
    fn n(&self) -> usize {
        self.axes.iter().map(|&a| self.shape[a]).product()
    }
    fn kept_shape(&self) -> Vec<usize> {
        (0..self.shape.len())
            .filter(|a| !self.axes.contains(a))
            .map(|a| self.shape[a])
            .collect()
    }
}

fn qs() -> BoxedStrategy<Vec<f64>> {
    let q = prop_oneof![1 => Just(0.0), 1 => Just(1.0), 1 => Just(0.5), 4 => 0.0f64..=1.0];
    prop::collection::vec(q, 0..=4).boxed()
}

fn case<T: Element + std::fmt::Debug>(
    elems: impl Fn(usize) -> BoxedStrategy<Vec<T>> + Clone + 'static,
) -> impl Strategy<Value = Case<T>> {
    base_shape().prop_flat_map(move |shape| {
        let n: usize = shape.iter().product();
        (
            chunks_for(&shape),
            layout(),
            elems(n),
            axes_for(shape.len()),
            qs(),
            Just(shape),
        )
            .prop_map(|(chunks, layout, data, axes, qs, shape)| Case {
                shape,
                chunks,
                layout,
                data,
                axes,
                qs,
            })
    })
}

/// Floats with ties and, in half the cases, NaN (a fifth or nine tenths of the values: lanes
/// with a few and lanes almost all NaN).
fn f64_elems(n: usize) -> BoxedStrategy<Vec<f64>> {
    f64_elems_with_nan(n, [2, 9])
}

fn f32_elems(n: usize) -> BoxedStrategy<Vec<f32>> {
    f64_elems(n)
        .prop_map(|v| v.into_iter().map(|x| x as f32).collect())
        .boxed()
}

fn i32_elems(n: usize) -> BoxedStrategy<Vec<i32>> {
    prop::collection::vec(prop_oneof![3 => -3i32..4, 1 => any::<i32>()], n).boxed()
}

/// The lanes of `a` over `axes`, in C order of the kept axes, each in C order.
fn lanes<T: Copy>(a: &ArrayD<T>, axes: &[usize]) -> Vec<Vec<T>> {
    let kept: Vec<usize> = (0..a.ndim()).filter(|x| !axes.contains(x)).collect();
    let m: usize = kept.iter().map(|&k| a.shape()[k]).product();
    let mut out = vec![Vec::new(); m];
    for (idx, &v) in a.indexed_iter() {
        let mut lin = 0;
        for &k in &kept {
            lin = lin * a.shape()[k] + idx[k];
        }
        out[lin].push(v);
    }
    out
}

/// The reference: sort the lane, then NumPy's linear formula in f64 (or f32 when `f32`).
fn ref_quantile(lane: &[f64], q: f64, skip_nan: bool, f32: bool) -> f64 {
    let mut v: Vec<f64> = lane.to_vec();
    if skip_nan {
        v.retain(|x| !x.is_nan());
    } else if v.iter().any(|x| x.is_nan()) {
        return f64::NAN;
    }
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = v.len();
    let vi = (n - 1) as f64 * q;
    let (lo, hi, t) = if vi >= (n - 1) as f64 {
        (n - 1, n - 1, vi + 1.0)
    } else {
        (
            vi.floor() as usize,
            vi.floor() as usize + 1,
            vi - vi.floor(),
        )
    };
    let (a, b) = (v[lo], v[hi]);
    if f32 {
        let (a, b) = (a as f32, b as f32);
        let d = b - a;
        (if t >= 0.5 {
            b - d * ((1.0 - t) as f32)
        } else {
            a + d * t as f32
        }) as f64
    } else {
        let d = b - a;
        if t >= 0.5 {
            b - d * (1.0 - t)
        } else {
            a + d * t
        }
    }
}

fn ref_median(lane: &[f64], skip_nan: bool, f32: bool) -> f64 {
    let mut v: Vec<f64> = lane.to_vec();
    if skip_nan {
        v.retain(|x| !x.is_nan());
    } else if v.iter().any(|x| x.is_nan()) {
        return f64::NAN;
    }
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else if f32 {
        ((v[n / 2 - 1] as f32 + v[n / 2] as f32) / 2.0) as f64
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn same(what: &str, got: &ArrayD<f64>, want: &[f64], shape: &[usize]) -> TestResult {
    prop_assert_eq!(got.shape(), shape, "{}: shape", what);
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        prop_assert!(
            g == w || (g.is_nan() && w.is_nan()),
            "{}: element {}: got {}, reference {}",
            what,
            i,
            g,
            w
        );
    }
    Ok(())
}

/// Every member of the family on case `c` (values widened to f64 for the reference).
fn check_all<T: Numeric>(c: &Case<T>, widen: fn(T) -> f64, f32: bool) -> TestResult
where
    f64: chunkwise::CastFrom<T::Mean>,
{
    let x = c.chunked();
    let ls: Vec<Vec<f64>> = lanes(&c.ndarray(), &c.axes)
        .into_iter()
        .map(|l| l.into_iter().map(widen).collect())
        .collect();
    let kept = c.kept_shape();
    let mut qshape = vec![c.qs.len()];
    qshape.extend(&kept);
    for skip in [false, true] {
        let got = if skip {
            x.nanquantile_axes(&c.qs, &c.axes)
        } else {
            x.quantile_axes(&c.qs, &c.axes)
        };
        if c.n() == 0 {
            prop_assert!(got.is_err(), "a quantile of zero elements must be refused");
        } else {
            let got = got.unwrap().astype::<f64>().compute(rt()).unwrap();
            let want: Vec<f64> =
                c.qs.iter()
                    .flat_map(|&q| ls.iter().map(move |l| ref_quantile(l, q, skip, f32)))
                    .collect();
            same(
                if skip { "nanquantile" } else { "quantile" },
                &got,
                &want,
                &qshape,
            )?;
        }
        let got = if skip {
            x.nanmedian_axes(&c.axes)
        } else {
            x.median_axes(&c.axes)
        };
        let got = got.unwrap().astype::<f64>().compute(rt()).unwrap();
        let want: Vec<f64> = ls.iter().map(|l| ref_median(l, skip, f32)).collect();
        same(
            if skip { "nanmedian" } else { "median" },
            &got,
            &want,
            &kept,
        )?;
    }
    // The one-q, one-axis form has no q axis.
    if let (Some(&a), Some(&q)) = (c.axes.first(), c.qs.first())
        && c.shape[a] > 0
    {
        let got = x
            .quantile_axis(q, a)
            .unwrap()
            .astype::<f64>()
            .compute(rt())
            .unwrap();
        let want: Vec<f64> = lanes(&c.ndarray(), &[a])
            .iter()
            .map(|l| {
                ref_quantile(
                    &l.iter().map(|&v| widen(v)).collect::<Vec<_>>(),
                    q,
                    false,
                    f32,
                )
            })
            .collect();
        let shape: Vec<usize> = (0..c.shape.len())
            .filter(|&k| k != a)
            .map(|k| c.shape[k])
            .collect();
        same("quantile_axis", &got, &want, &shape)?;
    }
    Ok(())
}

/// Histograms over the case's axes against counting each lane by hand.
fn check_histogram(c: &Case<f64>, nbins: usize) -> TestResult {
    let x = c.chunked();
    let (lo, hi) = (-6.0, 5.0);
    let (counts, edges) = x.histogram_axes(nbins, Some((lo, hi)), &c.axes).unwrap();
    prop_assert_eq!(edges.len(), nbins + 1);
    let got = counts.compute(rt()).unwrap();
    let mut want: Vec<i64> = Vec::new();
    for l in lanes(&c.ndarray(), &c.axes) {
        let mut h = vec![0i64; nbins];
        for v in l {
            if v >= edges[0] && v <= edges[nbins] {
                let b = (0..nbins).rfind(|&b| edges[b] <= v).unwrap();
                h[b.min(nbins - 1)] += 1;
            }
        }
        want.extend(h);
    }
    let mut shape = c.kept_shape();
    shape.push(nbins);
    prop_assert_eq!(got.shape(), shape.as_slice());
    prop_assert_eq!(got.iter().copied().collect::<Vec<_>>(), want);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn f64_quantiles_match_the_sorted_reference(c in case(f64_elems)) {
        check_all(&c, |v| v, false)?;
    }

    #[test]
    fn f32_quantiles_match_the_sorted_reference(c in case(f32_elems)) {
        check_all(&c, |v| v as f64, true)?;
    }

    #[test]
    fn i32_quantiles_match_the_sorted_reference(c in case(i32_elems)) {
        check_all(&c, |v| v as f64, false)?;
    }

    #[test]
    fn histograms_match_counting_by_hand(c in case(f64_elems), nbins in 1usize..6) {
        check_histogram(&c, nbins)?;
    }
}

/// A case that takes the streaming path: lanes of 8–150 values over one or two reduced axes
/// cut into several blocks, `q` within 0.15 of 0 or 1 (so each lane keeps at most a quarter
/// of its values), any layout, and in half the cases the reduction over all axes.
fn stream_case<T: Element + std::fmt::Debug>(
    elems: fn(usize) -> BoxedStrategy<Vec<T>>,
) -> impl Strategy<Value = (Case<T>, f64)> {
    let q = prop_oneof![
        1 => Just(0.0),
        1 => Just(1.0),
        3 => 0.0f64..0.15,
        3 => 0.85f64..=1.0,
    ];
    (
        8usize..150,
        1usize..5,
        1usize..4,
        any::<bool>(),
        any::<bool>(),
        q,
    )
        .prop_flat_map(move |(n0, k1, k2, two_axes, all, q)| {
            let shape = vec![n0, k1, k2];
            let axes = if all {
                vec![0, 1, 2]
            } else if two_axes {
                vec![0, 2]
            } else {
                vec![0]
            };
            let chunks = vec![
                (1..=n0.div_ceil(2)).prop_map(AxisSpec::Size).boxed(),
                axis_spec(k1),
                axis_spec(k2),
            ];
            (chunks, layout(), elems(n0 * k1 * k2)).prop_map(move |(chunks, layout, data)| {
                (
                    Case {
                        shape: shape.clone(),
                        chunks,
                        layout,
                        data,
                        axes: axes.clone(),
                        qs: vec![q],
                    },
                    q,
                )
            })
        })
}

/// `quantile`/`nanquantile` of one `q` on a case: the single-`q` forms (`quantile_axis` for one
/// axis, `quantile` for all), which stream, against the sorted reference, with the plan
/// naming the streaming reduction.
fn check_stream<T: Numeric>(c: &Case<T>, q: f64, widen: fn(T) -> f64, f32: bool) -> TestResult
where
    f64: chunkwise::CastFrom<T::Mean>,
{
    let x = c.chunked();
    let ls: Vec<Vec<f64>> = lanes(&c.ndarray(), &c.axes)
        .into_iter()
        .map(|l| l.into_iter().map(widen).collect())
        .collect();
    for skip in [false, true] {
        let got = match (c.axes.len(), skip) {
            (1, false) => x.quantile_axis(q, 0),
            (1, true) => x.nanquantile_axis(q, 0),
            (3, false) => x.quantile(q),
            (3, true) => x.nanquantile(q),
            // Two axes: the q-axis form, one q (the pencil path), reshaped by the reference.
            (_, false) => x.quantile_axes(&[q], &c.axes),
            (_, true) => x.nanquantile_axes(&[q], &c.axes),
        }
        .unwrap();
        let n = c.n();
        let streams = c.axes.len() != 2 && {
            let vi = (n - 1) as f64 * q;
            let p = if vi >= (n - 1) as f64 {
                n - 1
            } else {
                vi.floor() as usize
            };
            4 * (n - p).min((p + 2).min(n)) <= n
        };
        let plan = got.explain();
        prop_assert_eq!(
            plan.contains("streaming"),
            streams,
            "n {} q {}: streaming expected {}:\n{}",
            n,
            q,
            streams,
            plan
        );
        let got = got.astype::<f64>().compute(rt()).unwrap();
        let want: Vec<f64> = ls.iter().map(|l| ref_quantile(l, q, skip, f32)).collect();
        let mut shape = if c.axes.len() == 2 { vec![1] } else { vec![] };
        shape.extend(c.kept_shape());
        same(
            if skip { "nanquantile" } else { "quantile" },
            &got,
            &want,
            &shape,
        )?;
        prop_assert!(rt().last_report().peak_tracked_bytes <= 64 << 20);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn f64_streaming_quantiles_match_the_sorted_reference(c in stream_case(f64_elems)) {
        check_stream(&c.0, c.1, |v| v, false)?;
    }

    #[test]
    fn f32_streaming_quantiles_match_the_sorted_reference(c in stream_case(f32_elems)) {
        check_stream(&c.0, c.1, |v| v as f64, true)?;
    }

    #[test]
    fn i32_streaming_quantiles_match_the_sorted_reference(c in stream_case(i32_elems)) {
        check_stream(&c.0, c.1, |v| v as f64, false)?;
    }
}

/// Enough lanes (40,000) that the streaming fold splits them over the pool's threads, with
/// NaN in some lanes and q on both sides: every lane as the sorted reference.
#[test]
fn streaming_over_many_lanes_splits_them_and_stays_exact() {
    let (t, ny, nx) = (40, 200, 200);
    let mut s: u64 = 0x9E37_79B9_7F4A_7C15;
    let data: Vec<f32> = (0..t * ny * nx)
        .map(|i| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let r = (s >> 40) as f32 / (1u64 << 24) as f32;
            if i % 977 == 0 {
                f32::NAN
            } else {
                (r * 20.0).round() - 10.0
            }
        })
        .collect();
    let a = ArrayD::from_shape_vec(IxDyn(&[t, ny, nx]), data).unwrap();
    let x = ChunkedArray::from_ndarray(a.clone(), [3, ny, nx]).unwrap();
    let ls: Vec<Vec<f64>> = lanes(&a, &[0])
        .into_iter()
        .map(|l| l.into_iter().map(f64::from).collect())
        .collect();
    for q in [0.95, 0.03] {
        for skip in [false, true] {
            let r = if skip {
                x.nanquantile_axis(q, 0)
            } else {
                x.quantile_axis(q, 0)
            }
            .unwrap();
            assert!(r.explain().contains("streaming"), "{}", r.explain());
            let got = r.astype::<f64>().compute(rt()).unwrap();
            let want: Vec<f64> = ls.iter().map(|l| ref_quantile(l, q, skip, true)).collect();
            same("streaming", &got, &want, &[ny, nx]).unwrap();
            assert!(rt().last_report().peak_tracked_bytes <= 64 << 20);
        }
    }
}
