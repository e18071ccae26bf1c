//! NumPy's numbers, through the whole pipeline (lazy graph, fused kernels, tree reductions):
//! issue 14 items 1–7 and 16. Expected values are NumPy 2.4's, recorded in the comments.

use chunkwise::prelude::*;
use ndarray::{ArrayD, IxDyn, arr1};

fn rt() -> Runtime {
    Runtime::builder()
        .threads(2)
        .memory_limit("64 MiB")
        .build()
        .unwrap()
}

fn vec_of<T: Element>(x: &ChunkedArray<T>) -> Vec<T> {
    x.compute(&rt()).unwrap().iter().copied().collect()
}

/// Item 1: `np.min(np.zeros((0, 3)))` raises; so must every all-axes extreme of an empty array.
#[test]
fn extremes_of_an_empty_array_are_errors() {
    let f = ChunkedArray::from_ndarray(ArrayD::<f64>::zeros(IxDyn(&[0, 3])), [1, 2]).unwrap();
    let i = ChunkedArray::from_ndarray(ArrayD::<i32>::zeros(IxDyn(&[4, 0])), [2, 1]).unwrap();
    for (name, r) in [
        ("min", f.min().map(|_| ())),
        ("max", f.max().map(|_| ())),
        ("nanmin", f.nanmin().map(|_| ())),
        ("nanmax", f.nanmax().map(|_| ())),
        ("min i32", i.min().map(|_| ())),
        ("max i32", i.max().map(|_| ())),
        ("min_axes all", f.min_axes(&[0, 1], false).map(|_| ())),
    ] {
        assert!(
            matches!(r, Err(Error::InvalidArgument { .. })),
            "{name}: {r:?}"
        );
    }
    // Not empty: still a value, and an all-NaN nanmin is NaN (as NumPy, with a warning).
    let nan = ChunkedArray::from_ndarray(arr1(&[f64::NAN, f64::NAN]), [1]).unwrap();
    assert!(
        nan.nanmin()
            .unwrap()
            .compute_scalar(&rt())
            .unwrap()
            .is_nan()
    );
    let x = ChunkedArray::from_ndarray(arr1(&[3i32, -2, 5]), [2]).unwrap();
    assert_eq!(x.min().unwrap().compute_scalar(&rt()).unwrap(), -2);
}

/// Item 2: `np.array([-7, 7, -1, 7, -7, 5]) // [2, 2, 2, -2, -2, 0]` is
/// `[-4, 3, -1, -4, 3, 0]` and `%` is `[1, 1, 1, -1, -1, 0]`: in every form (array-array,
/// array-scalar, scalar-array, and scalar steps fused with a neighbour).
#[test]
fn integer_division_and_remainder_follow_numpy() {
    let a = ChunkedArray::from_ndarray(arr1(&[-7i32, 7, -1, 7, -7, 5]), [4]).unwrap();
    let b = ChunkedArray::from_ndarray(arr1(&[2i32, 2, 2, -2, -2, 0]), [3]).unwrap();
    assert_eq!(vec_of(&(&a / &b).unwrap()), [-4, 3, -1, -4, 3, 0]);
    assert_eq!(vec_of(&(&a % &b).unwrap()), [1, 1, 1, -1, -1, 0]);
    assert_eq!(vec_of(&(&a / 2)), [-4, 3, -1, 3, -4, 2]);
    assert_eq!(vec_of(&(&a % 2)), [1, 1, 1, 1, 1, 1]);
    assert_eq!(vec_of(&(&a % -2)), [-1, -1, -1, -1, -1, -1]);
    // Two scalar steps fused into one pass give the same as two passes.
    assert_eq!(vec_of(&(&(&a / 2) + 1)), [-3, 4, 0, 4, -3, 3]);
    assert_eq!(vec_of(&(&(&a + 0) / -2)), [3, -4, 0, -4, 3, -3]);
    // `5 // a`, `5 % a`: NumPy [-1, 0, -5, 0, -1, 1] and [-2, 5, 0, 5, -2, 0].
    assert_eq!(vec_of(&(5 / &a)), [-1, 0, -5, 0, -1, 1]);
    assert_eq!(vec_of(&(5 % &a)), [-2, 5, 0, 5, -2, 0]);
    let u = ChunkedArray::from_ndarray(arr1(&[7u8, 0, 255]), [2]).unwrap();
    assert_eq!(vec_of(&(&u / 2)), [3, 0, 127]);
    assert_eq!(vec_of(&(&u % 0)), [0, 0, 0]);
}

/// Item 2, floats: `np.remainder([-7.5, 7.5, 5.0], [2.0, -2.0, 0.0])` is `[0.5, -0.5, nan]`
/// (Rust's `%` gives `[-1.5, 1.5, nan]`).
#[test]
fn float_remainder_is_numpy_remainder() {
    let a = ChunkedArray::from_ndarray(arr1(&[-7.5f64, 7.5, 5.0]), [2]).unwrap();
    let b = ChunkedArray::from_ndarray(arr1(&[2.0f64, -2.0, 0.0]), [2]).unwrap();
    let r = vec_of(&(&a % &b).unwrap());
    assert_eq!(&r[..2], &[0.5, -0.5]);
    assert!(r[2].is_nan());
    assert_eq!(vec_of(&(&a % 2.0)), [0.5, 1.5, 1.0]);
    let f = ChunkedArray::from_ndarray(arr1(&[-7.5f32, 7.5]), [1]).unwrap();
    assert_eq!(vec_of(&(-2.0f32 % &f)), [-2.0, 5.5]);
}

/// Item 3: `random_uniform::<f32>` never returns `high`, even where the f64 draw rounds to it.
#[test]
fn random_uniform_f32_is_half_open() {
    // [1, 1 + 2^-23): one f32 lies in it, and every draw above 1 + 2^-24 used to round up.
    let hi = 1.0f32 + f32::EPSILON;
    let x = ChunkedArray::<f32>::random_uniform(&[4000], [1000], 7, 1.0, hi).unwrap();
    let v = vec_of(&x);
    assert!(
        v.iter().all(|&e| (1.0..hi).contains(&e)),
        "a draw reached high"
    );
    let y = ChunkedArray::<f32>::random_uniform(&[20_000], [5000], 3, -1.0, 1.0).unwrap();
    assert!(vec_of(&y).iter().all(|&e| (-1.0..1.0).contains(&e)));
}

/// Item 4: `np.clip([1, 5, 3], 4, 2)` is `[2, 2, 2]`; a NaN bound gives NaN everywhere; a NaN
/// element stays NaN.
#[test]
fn clip_follows_numpy() {
    let x = ChunkedArray::from_ndarray(arr1(&[1i32, 5, 3]), [2]).unwrap();
    assert_eq!(vec_of(&x.clip(4, 2)), [2, 2, 2]);
    assert_eq!(vec_of(&x.clip(2, 4)), [2, 4, 3]);
    let f = ChunkedArray::from_ndarray(arr1(&[1.0f64, f64::NAN, 3.0]), [2]).unwrap();
    assert!(vec_of(&f.clip(f64::NAN, 2.0)).iter().all(|v| v.is_nan()));
    assert!(vec_of(&f.clip(0.0, f64::NAN)).iter().all(|v| v.is_nan()));
    let c = vec_of(&f.clip(0.0, 2.0));
    assert_eq!((c[0], c[2]), (1.0, 2.0));
    assert!(c[1].is_nan());
}

/// Item 5: `np.var([1e155, -1e155, 3.0])` and `np.std([1e200, 1.0])` are inf (the squares
/// overflow); `np.var([inf, 1.0])` is NaN.
#[test]
fn var_of_overflowing_squares_is_inf() {
    let rt = rt();
    for chunk in [1, 2, 3] {
        let x = ChunkedArray::from_ndarray(arr1(&[1e155f64, -1e155, 3.0]), [chunk]).unwrap();
        assert_eq!(x.var().compute_scalar(&rt).unwrap(), f64::INFINITY);
        assert_eq!(
            x.nanstd_axes(&[0], ReduceOpts::default().ddof(1.0))
                .unwrap()
                .compute_scalar(&rt)
                .unwrap(),
            f64::INFINITY
        );
        let y = ChunkedArray::from_ndarray(arr1(&[1e200f64, 1.0, 2.0]), [chunk]).unwrap();
        assert_eq!(y.std().compute_scalar(&rt).unwrap(), f64::INFINITY);
        let z = ChunkedArray::from_ndarray(arr1(&[1.0f64, f64::INFINITY, 2.0]), [chunk]).unwrap();
        assert!(z.var().compute_scalar(&rt).unwrap().is_nan());
    }
    // Along an axis, through the row kernels: one column overflows, one does not.
    let a = ndarray::arr2(&[[1e160f64, 1.0], [-1e160, 2.0], [5.0, 3.0]]).into_dyn();
    let x = ChunkedArray::from_ndarray(a, [2, 2]).unwrap();
    let v = x.var_axis(0).unwrap().compute(&rt).unwrap();
    assert_eq!(v[[0]], f64::INFINITY);
    assert!((v[[1]] - 2.0 / 3.0).abs() < 1e-15);
}

/// Item 16: `compute_scalar` of a non-0-d array is an error, not its first element.
#[test]
fn compute_scalar_needs_a_0d_array() {
    let rt = rt();
    let x = ChunkedArray::from_ndarray(arr1(&[4.0f64, 5.0]), [1]).unwrap();
    let r = x.compute_scalar(&rt);
    assert!(matches!(r, Err(Error::Shape { .. })), "{r:?}");
    let one = ChunkedArray::from_ndarray(arr1(&[4.0f64]), [1]).unwrap();
    assert!(matches!(one.compute_scalar(&rt), Err(Error::Shape { .. })));
    let kept = x.sum_axes(&[0], true).unwrap();
    assert!(matches!(kept.compute_scalar(&rt), Err(Error::Shape { .. })));
    assert_eq!(x.sum().compute_scalar(&rt).unwrap(), 9.0);
}
