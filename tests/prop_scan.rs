//! Scans (`cumsum`, `cumprod`, `nancumsum`) against ndarray's `accumulate_axis_inplace`, over
//! random shapes, chunkings and axes; and thread-count independence.
use chunkwise::prelude::*;
use ndarray::{ArrayD, Axis, IxDyn};
use proptest::prelude::*;

fn case() -> impl Strategy<Value = (Vec<usize>, Vec<usize>, usize, u64)> {
    prop::collection::vec(0usize..7, 1..4).prop_flat_map(|shape| {
        let nd = shape.len();
        let chunks = shape.iter().map(|&l| 1..=l.max(1)).collect::<Vec<_>>();
        (Just(shape), chunks, 0..nd, any::<u64>())
    })
}

fn reference<F: Fn(f64, f64) -> f64>(a: &ArrayD<f64>, axis: usize, f: F) -> ArrayD<f64> {
    let mut r = a.clone();
    r.accumulate_axis_inplace(Axis(axis), |&p, c| *c = f(p, *c));
    r
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]
    #[test]
    fn scans_match_ndarray((shape, chunks, axis, seed) in case()) {
        let rt = Runtime::builder().threads(2).build().unwrap();
        let n: usize = shape.iter().product();
        let mut s = seed;
        let data: Vec<f64> = (0..n).map(|_| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let v = ((s >> 33) % 7) as f64 - 3.0;
            if (s >> 20) % 11 == 0 { f64::NAN } else { v }
        }).collect();
        let a = ArrayD::from_shape_vec(IxDyn(&shape), data).unwrap();
        let x = ChunkedArray::from_ndarray(a.clone(), chunks.clone()).unwrap();
        let same = |got: &ArrayD<f64>, want: &ArrayD<f64>| got.iter().zip(want.iter()).all(|(g, w)| (g.is_nan() && w.is_nan()) || g == w);
        let got = x.cumsum(axis).unwrap().compute(&rt).unwrap();
        prop_assert!(same(&got, &reference(&a, axis, |p, c| p + c)), "cumsum {got:?}");
        let got = x.cumprod(axis).unwrap().compute(&rt).unwrap();
        prop_assert!(same(&got, &reference(&a, axis, |p, c| p * c)), "cumprod {got:?}");
        let clean = a.mapv(|v| if v.is_nan() { 0.0 } else { v });
        let got = x.nancumsum(axis).unwrap().compute(&rt).unwrap();
        prop_assert!(same(&got, &reference(&clean, axis, |p, c| p + c)), "nancumsum {got:?}");
        // Fused input, integer types widen to i64.
        let xi = ChunkedArray::from_ndarray(clean.mapv(|v| v as i32), chunks).unwrap();
        let got = (&xi * 2).cumsum(axis).unwrap().compute(&rt).unwrap();
        let want = reference(&clean, axis, |p, c| p + c).mapv(|v| (v * 2.0) as i64);
        prop_assert_eq!(got, want);
    }
}

#[test]
fn scan_results_do_not_depend_on_threads() {
    let x = ChunkedArray::<f64>::random_normal(&[300, 40], [7, 9], 5, 0.0, 1.0).unwrap();
    let one = x
        .cumsum(0)
        .unwrap()
        .compute(&Runtime::builder().threads(1).build().unwrap())
        .unwrap();
    let four = x
        .cumsum(0)
        .unwrap()
        .compute(&Runtime::builder().threads(4).build().unwrap())
        .unwrap();
    assert_eq!(one, four);
}

#[test]
fn scan_axis_out_of_range_is_an_error() {
    let x = ChunkedArray::<f64>::zeros(&[3, 4], [2, 2]).unwrap();
    assert!(matches!(x.cumsum(2), Err(Error::Axis { .. })));
}
