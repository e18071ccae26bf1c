//! Memory contract, reductions: the sum over all axes of an input 10× the limit.
mod common;
use chunkwise::prelude::*;
use common::*;

#[global_allocator]
static ALLOC: Counting = Counting;

#[test]
fn sum_over_all_axes_stays_within_limit() {
    let limit = 16 * MIB;
    let rt = runtime(limit);
    let x = ChunkedArray::<f64>::from_shape_fn(&[40, 256, 2048], [4, 128, 512], |i| {
        (i[0] + i[1] + i[2]) as f64
    })
    .unwrap();
    assert_eq!(x.len() * 8, 10 * limit);
    let s = x.sum();
    let baseline = reset_peak();
    let got = s.compute_scalar(&rt).unwrap();
    assert_within("sum", &rt.last_report(), limit, baseline, 4 * MIB);
    let n = x.len() as f64;
    let want = n * (39.0 / 2.0 + 255.0 / 2.0 + 2047.0 / 2.0);
    assert!((got - want).abs() <= 1e-12 * want, "{got} vs {want}");
}
