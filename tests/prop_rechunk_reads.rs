//! More memory must never cost time (issue 14 F): what a rechunk decodes from its source does
//! not grow with the memory limit. A single pass runs group by group and reads every source
//! block once; when a group does not fit, the rechunk is staged (its first pass again reads
//! every source block once) instead of re-reading blocks inside one pass. Either pass may
//! instead read target-shaped regions straight from the store where that decodes at most
//! twice the region (the optimizer's cheap-regrid rule), so at every limit the source is
//! decoded at most twice over, and never more than twice what a smaller limit decoded.
#![cfg(feature = "zarr")]
use chunkwise::io::BlockSource;
use chunkwise::prelude::*;
use chunkwise::{AnyArray, Region};
use ndarray::Dimension;
use proptest::prelude::*;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A store-like source (natural chunks, rematerializable) that counts the elements it decodes.
#[derive(Debug)]
struct Counting {
    shape: Vec<usize>,
    chunks: Vec<usize>,
    reads: AtomicUsize,
}

fn value(i: &[usize]) -> f64 {
    i.iter().fold(0.0, |acc, &k| acc * 1000.0 + k as f64)
}

impl BlockSource for Counting {
    fn dtype(&self) -> DType {
        DType::F64
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn natural_chunks(&self) -> Option<Vec<usize>> {
        Some(self.chunks.clone())
    }
    fn read(&self, region: &Region) -> chunkwise::Result<AnyArray> {
        let r = region.ranges().to_vec();
        // What a store decodes: the whole chunks the region touches.
        let decoded: usize = r
            .iter()
            .zip(self.chunks.iter().zip(&self.shape))
            .map(|(x, (&c, &len))| (x.end.div_ceil(c) * c).min(len) - x.start / c * c)
            .product();
        self.reads.fetch_add(decoded, Ordering::Relaxed);
        let shape: Vec<usize> = r.iter().map(|x| x.len()).collect();
        let a = ndarray::ArrayD::from_shape_fn(ndarray::IxDyn(&shape), |i| {
            let g: Vec<usize> = i.slice().iter().zip(&r).map(|(k, x)| k + x.start).collect();
            value(&g)
        });
        Ok(AnyArray::F64(a))
    }
    fn describe(&self) -> String {
        "counting source".into()
    }
}

/// Elements decoded and the result of rechunking to `target` at `limit`, or the error.
fn run(
    shape: &[usize],
    chunks: &[usize],
    target: &[usize],
    limit: usize,
) -> chunkwise::Result<(usize, ndarray::ArrayD<f64>)> {
    let src = Arc::new(Counting {
        shape: shape.to_vec(),
        chunks: chunks.to_vec(),
        reads: AtomicUsize::new(0),
    });
    let x = ChunkedArray::<f64>::from_source(src.clone(), chunks.to_vec())?;
    let rt = Runtime::builder().threads(2).memory_limit(limit).build()?;
    let y = x.rechunk(target.to_vec())?;
    let mut out = ndarray::ArrayD::<f64>::zeros(ndarray::IxDyn(shape));
    let report = y.for_each_block(&rt, |region, block| {
        let r: Vec<ndarray::SliceInfoElem> = region
            .ranges()
            .iter()
            .map(|x| ndarray::Slice::from(x.clone()).into())
            .collect();
        out.slice_mut(r.as_slice()).assign(&block);
        Ok(())
    })?;
    assert!(report.peak_tracked_bytes <= limit, "{report}");
    Ok((src.reads.load(Ordering::Relaxed), out))
}

fn case() -> impl Strategy<Value = (Vec<usize>, Vec<usize>, Vec<usize>)> {
    prop::collection::vec(2usize..=24, 2..=3).prop_flat_map(|shape| {
        let c: Vec<_> = shape.iter().map(|&l| 1..=l).collect();
        let t: Vec<_> = shape.iter().map(|&l| 1..=l).collect();
        (Just(shape), c, t)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn reads_do_not_grow_with_the_limit((shape, chunks, target) in case()) {
        let want = ndarray::ArrayD::from_shape_fn(ndarray::IxDyn(&shape), |i| value(i.slice()));
        let biggest = chunks.iter().product::<usize>().max(target.iter().product()) * 8;
        let mut prev: Option<usize> = None;
        // From the smallest limit a staged plan can meet up to one that holds everything.
        let all = shape.iter().product::<usize>() * 8;
        let mut limit = 4 * biggest;
        while limit <= 16 * all.max(biggest) {
            match run(&shape, &chunks, &target, limit) {
                Ok((reads, got)) => {
                    prop_assert_eq!(&got, &want);
                    let elems = all / 8;
                    prop_assert!(reads <= 2 * elems, "limit {}: decoded {} of {} elements", limit, reads, elems);
                    if let Some(p) = prev {
                        prop_assert!(reads <= 2 * p, "limit {}: decoded {}, {} at a smaller limit", limit, reads, p);
                    }
                    prev = Some(prev.map_or(reads, |p: usize| p.min(reads)));
                }
                Err(e) => prop_assert!(prev.is_none(), "limit {limit} failed after a smaller one ran: {e}"),
            }
            limit *= 2;
        }
    }
}

/// Issue 14 F scaled down: pancakes (31, 181, 360)-like to pencils at a limit that holds the
/// whole array read each source chunk once, as the staged plan at a quarter of the limit does.
#[test]
fn pancakes_to_pencils_read_each_chunk_once_at_any_limit() {
    let (shape, chunks, target) = (vec![96, 18, 36], vec![3, 18, 36], vec![96, 2, 2]);
    let bytes = 96 * 18 * 36 * 8;
    let mut reads = Vec::new();
    for limit in [bytes / 2, bytes, 2 * bytes, 4 * bytes, 8 * bytes] {
        let (r, _) = run(&shape, &chunks, &target, limit).unwrap();
        reads.push(r);
    }
    assert!(reads.iter().all(|&r| r == 96 * 18 * 36), "{reads:?}");
}
