//! Memory contract, coarsen: 4 × 4 × 4 block means of a generated input 10× the limit, in
//! one-step chunks along time (rechunked to whole windows).
mod common;
use chunkwise::prelude::*;
use common::*;

#[global_allocator]
static ALLOC: Counting = Counting;

#[test]
fn coarsen_mean_stays_within_limit() {
    let limit = 16 * MIB;
    let rt = runtime(limit);
    let x = ChunkedArray::<f64>::from_shape_fn(&[320, 128, 512], [1, 64, 512], |i| {
        (i[0] * 3 + i[1] + 2 * i[2]) as f64
    })
    .unwrap();
    assert_eq!(x.len() * 8, 10 * limit);
    let m = x.coarsen(&[4, 4, 4]).mean().unwrap();
    assert_eq!(m.shape(), &[80, 32, 128]);
    let baseline = reset_peak();
    let got = m.compute(&rt).unwrap();
    assert_within(
        "coarsen([4, 4, 4]).mean()",
        &rt.last_report(),
        limit,
        baseline,
        4 * MIB + got.len() * 8,
    );
    for &(t, j, k) in &[(0usize, 0usize, 0usize), (40, 17, 99), (79, 31, 127)] {
        // The window's mean index is 4 * o + 1.5 on each axis.
        let c = |o: usize| 4.0 * o as f64 + 1.5;
        let want = 3.0 * c(t) + c(j) + 2.0 * c(k);
        assert!((got[[t, j, k]] - want).abs() < 1e-9 * want.max(1.0));
    }
}
