//! Building an expression costs nothing per block: a chain of operations and a reduction over
//! an array of 1,000,000 blocks allocates a few KiB (the nodes), not a million of anything.
mod common;
use chunkwise::prelude::*;
use common::*;

#[global_allocator]
static ALLOC: Counting = Counting;

#[test]
fn a_million_block_expression_builds_without_per_block_allocations() {
    let baseline = reset_peak();
    let x = ChunkedArray::<f64>::ones(&[1_000_000], [1]).unwrap();
    let y = ChunkedArray::<f64>::random_uniform(&[1000, 1000], [1, 1], 3, 0.0, 1.0).unwrap();
    assert_eq!(x.nblocks(), 1_000_000);
    assert_eq!(y.nblocks(), 1_000_000);
    let z = (&y * 2.0 + 1.0).powi(2);
    let w = (&z - &z.mean_axis(0).unwrap())
        .unwrap()
        .std_axis(1)
        .unwrap();
    let s = (&x + 1.0).sum();
    let grown = peak().saturating_sub(baseline);
    eprintln!("building over 10^6 blocks allocated at most {grown} bytes");
    assert!(grown < 64 * 1024, "{grown} bytes");
    assert_eq!(w.shape(), &[1000]);
    assert_eq!(s.shape(), &[] as &[usize]);
}
