//! Memory contract, rolling: a 10-step running mean along time of a generated input 10× the
//! limit, in one-step chunks (merged along time to hold the halo), then summed over time.
mod common;
use chunkwise::prelude::*;
use common::*;

#[global_allocator]
static ALLOC: Counting = Counting;

#[test]
fn rolling_mean_stays_within_limit() {
    let limit = 16 * MIB;
    let rt = runtime(limit);
    let x = ChunkedArray::<f64>::from_shape_fn(&[320, 128, 512], [1, 64, 512], |i| {
        (i[0] * 3 + i[2]) as f64
    })
    .unwrap();
    assert_eq!(x.len() * 8, 10 * limit);
    let w = 8;
    let m = x.rolling(0, w).mean().unwrap();
    assert!(m.chunks().axis(0).max_size() >= w - 1, "{}", m.chunks());
    let total = m.nansum_axis(0).unwrap();
    let baseline = reset_peak();
    let got = total.compute(&rt).unwrap();
    assert_within(
        "rolling(0, 8).mean().nansum_axis(0)",
        &rt.last_report(),
        limit,
        baseline,
        4 * MIB + got.len() * 8,
    );
    // Position t >= w - 1 holds the mean of 3 * (t - w + 1 ..= t) + k.
    for &(j, k) in &[(0usize, 0usize), (100, 300), (127, 511)] {
        let want: f64 = (w - 1..320)
            .map(|t| 3.0 * (t as f64 - (w as f64 - 1.0) / 2.0) + k as f64)
            .sum();
        let g = got[[j, k]];
        assert!((g - want).abs() < 1e-9 * want, "{g} vs {want}");
    }
}
