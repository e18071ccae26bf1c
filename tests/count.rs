//! `count` (xarray's: values that are not NaN) against a direct count in ndarray.

use chunkwise::prelude::*;
use ndarray::{ArrayD, Axis, IxDyn};

fn rt() -> Runtime {
    Runtime::builder().threads(2).build().unwrap()
}

fn data() -> ArrayD<f64> {
    ArrayD::from_shape_fn(IxDyn(&[7, 5, 3]), |i| {
        if (i[0] * 7 + i[1] * 3 + i[2]) % 4 == 0 {
            f64::NAN
        } else {
            (i[0] + i[1] + i[2]) as f64
        }
    })
}

#[test]
fn count_skips_nan_over_all_axes_and_along_each() {
    let rt = rt();
    let x = data();
    let want_all = x.iter().filter(|v| !v.is_nan()).count() as i64;
    let c = ChunkedArray::from_ndarray(x.clone(), [3, 2, 2]).unwrap();
    assert_eq!(c.count().compute_scalar(&rt).unwrap(), want_all);
    for axis in 0..3 {
        let want = x.map_axis(Axis(axis), |lane| {
            lane.iter().filter(|v| !v.is_nan()).count() as i64
        });
        assert_eq!(
            c.count_axis(axis).unwrap().compute(&rt).unwrap(),
            want,
            "axis {axis}"
        );
    }
    let both = c.count_axes(&[0, 2], true).unwrap().compute(&rt).unwrap();
    assert_eq!(both.shape(), &[1, 5, 1]);
    assert_eq!(both.sum(), want_all);
    assert!(c.count_axis(3).is_err());
}

#[test]
fn count_of_integers_counts_every_element() {
    let rt = rt();
    let x = ArrayD::from_shape_fn(IxDyn(&[4, 6]), |i| (i[0] * 6 + i[1]) as i32 - 3);
    let c = ChunkedArray::from_ndarray(x, [3, 4]).unwrap();
    assert_eq!(c.count().compute_scalar(&rt).unwrap(), 24);
}
