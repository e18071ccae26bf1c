//! Memory contract, reductions: the mean over axis 0 of a 3-D input 10× the limit (trees
//! close early: the reduced axis is innermost in the static order).
mod common;
use chunkwise::prelude::*;
use common::*;

#[global_allocator]
static ALLOC: Counting = Counting;

#[test]
fn mean_over_axis0_stays_within_limit() {
    let limit = 16 * MIB;
    let rt = runtime(limit);
    let x = ChunkedArray::<f64>::from_shape_fn(&[160, 256, 512], [8, 128, 256], |i| {
        (i[0] * 3 + i[2]) as f64
    })
    .unwrap();
    assert_eq!(x.len() * 8, 10 * limit);
    let m = x.mean_axis(0).unwrap();
    let baseline = reset_peak();
    let got = m.compute(&rt).unwrap();
    assert_within(
        "mean_axis(0)",
        &rt.last_report(),
        limit,
        baseline,
        4 * MIB + got.len() * 8,
    );
    for &(j, k) in &[(0usize, 0usize), (100, 300), (255, 511)] {
        let want = 159.0 / 2.0 * 3.0 + k as f64;
        assert!(
            (got[[j, k]] - want).abs() < 1e-9,
            "{} vs {want}",
            got[[j, k]]
        );
    }
}
