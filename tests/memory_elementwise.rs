//! Memory contract, elementwise: `((x*2+1)^2)` over a generated input 10× the memory limit,
//! streamed block by block to a sink, stays within the limit — tracked and on the heap.
mod common;
use chunkwise::prelude::*;
use common::*;

#[global_allocator]
static ALLOC: Counting = Counting;

#[test]
fn streamed_elementwise_stays_within_limit() {
    let limit = 16 * MIB;
    let rt = runtime(limit);
    // 160 MiB of f64 in 2 MiB blocks, generated on the fly.
    let x = ChunkedArray::<f64>::random_uniform(&[2048, 10240], [256, 1024], 7, -1.0, 1.0).unwrap();
    let y = (&x * 2.0 + 1.0).powi(2);
    assert_eq!(x.len() * 8, 10 * limit);
    let mut total = 0.0;
    let mut blocks = 0;
    let baseline = reset_peak();
    let report = y
        .for_each_block(&rt, |_, b| {
            total += b.sum();
            blocks += 1;
            Ok(())
        })
        .unwrap();
    assert_within("elementwise", &report, limit, baseline, 4 * MIB);
    assert_eq!(blocks, x.nblocks());
    // E[(2u+1)^2] for u ~ U(-1, 1) is 7/3.
    let mean = total / x.len() as f64;
    assert!((mean - 7.0 / 3.0).abs() < 0.01, "{mean}");
}
