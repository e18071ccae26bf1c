//! Memory contract: three reductions sharing their inputs, computed together —
//! `(u*u).sum()`, `(v*v).sum()`, `(u*v).sum()` — with inputs 10× the limit. Sharing the
//! blocks across the three trees would hold all of `u`; the plan reads them again instead.
mod common;
use chunkwise::prelude::*;
use common::*;

#[global_allocator]
static ALLOC: Counting = Counting;

#[test]
fn three_reductions_over_shared_inputs_stay_within_limit() {
    let limit = 16 * MIB;
    let rt = runtime(limit);
    let shape = [1280, 8192];
    let u = ChunkedArray::<f64>::random_uniform(&shape, [256, 1024], 1, 0.0, 1.0).unwrap();
    let v = ChunkedArray::<f64>::random_uniform(&shape, [256, 1024], 2, 0.0, 1.0).unwrap();
    assert_eq!(u.len() * 8 * 2, 10 * limit);
    let uu = (&u * &u).unwrap().sum();
    let vv = (&v * &v).unwrap().sum();
    let uv = (&u * &v).unwrap().sum();
    let baseline = reset_peak();
    let out = compute_all(&rt, &[&uu, &vv, &uv]).unwrap();
    assert_within(
        "three reductions",
        &rt.last_report(),
        limit,
        baseline,
        4 * MIB,
    );
    let n = u.len() as f64;
    let (a, b, c) = (out[0][[]] / n, out[1][[]] / n, out[2][[]] / n);
    assert!(
        (a - 1.0 / 3.0).abs() < 1e-3 && (b - 1.0 / 3.0).abs() < 1e-3 && (c - 0.25).abs() < 1e-3,
        "{a} {b} {c}"
    );
}
