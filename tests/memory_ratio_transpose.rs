//! Memory contract at large blocks: transpose-then-store and transpose-then-rechunk of a Zarr
//! store of 64³ f32 chunks (1 MiB) at a limit of 16 chunks. Tracked peak ≤ limit; heap ≤ limit
//! + 1 MiB (see README, memory contract); the stored result is the transpose.
#![cfg(feature = "zarr")]
mod common;
use chunkwise::prelude::*;
use common::*;

#[global_allocator]
static ALLOC: Counting = Counting;

#[test]
fn transpose_then_store_and_rechunk_of_64_cubed_chunks_at_a_sixteenth_of_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("cube.zarr");
    let (a, b, c) = (128usize, 128usize, 256usize);
    let limit = 16 * MIB;
    {
        let x = ChunkedArray::<f32>::from_shape_fn(&[a, b, c], [64, 64, 64], |i| {
            (i[0] * 1_000_000 + i[1] * 1000 + i[2]) as f32
        })
        .unwrap();
        x.to_zarr(&runtime(64 * MIB), &src, "x").unwrap();
    }
    let x = ChunkedArray::<f32>::open_zarr(&src, "x").unwrap();
    let t = x.permuted_axes(&[2, 1, 0]).unwrap();
    let rt = runtime(limit);

    let out = dir.path().join("t.zarr");
    let baseline = reset_peak();
    let report = t.to_zarr(&rt, &out, "y").unwrap();
    assert_within("transpose then store", &report, limit, baseline, MIB);

    let r = t.rechunk(vec![256usize, 16, 16]).unwrap();
    let baseline = reset_peak();
    let mut checked = 0usize;
    let report = r
        .for_each_block(&rt, |region, block| {
            // Spot-check each block's first element against the formula.
            let o: Vec<usize> = region.ranges().iter().map(|q| q.start).collect();
            let v = block.first().copied().unwrap_or_default();
            assert_eq!(v, (o[2] * 1_000_000 + o[1] * 1000 + o[0]) as f32);
            checked += 1;
            Ok(())
        })
        .unwrap();
    assert_within("transpose then rechunk", &report, limit, baseline, MIB);
    assert_eq!(checked, r.nblocks());

    let y = ChunkedArray::<f32>::open_zarr(&out, "y").unwrap();
    assert_eq!(y.shape(), &[c, b, a]);
    let got = y
        .slice(ndarray::s![5..6, 7..8, 9..10])
        .unwrap()
        .compute(&rt)
        .unwrap();
    assert_eq!(
        got.iter().next().copied(),
        Some((9 * 1_000_000 + 7 * 1000 + 5) as f32)
    );
}
