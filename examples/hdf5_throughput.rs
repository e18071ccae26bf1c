//! Throughput of reading a gzip+shuffle chunked f32 HDF5 dataset chunk by chunk: the library's
//! hyperslab reads (filters decoded under the global lock) against raw chunk reads
//! (`H5Dread_chunk` under the lock, deflate + unshuffle outside it), on 1 and N threads.
//!
//! ```text
//! cargo run --release --features hdf5 --example hdf5_throughput -- [FILE] [THREADS]
//! ```
//! Creates `FILE` (default `/tmp/chunkwise_hdf5_bench.h5`, 160 MB of f32 in 1 MB chunks) with
//! [`Hdf5Writer`] when missing.

use chunkwise::io::hdf5::{Hdf5Source, Hdf5WriteOptions, Hdf5Writer};
use chunkwise::io::{BlockSource, BlockWriter};
use chunkwise::{AnyArray, DType, Region};
use ndarray::{ArrayD, IxDyn};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

const SHAPE: [usize; 2] = [4000, 10000];
const CHUNKS: [usize; 2] = [250, 1000];

fn make(path: &str) {
    let w = Hdf5Writer::create(
        path,
        "data",
        &SHAPE,
        &CHUNKS,
        DType::F32,
        &Hdf5WriteOptions::default().gzip(4),
    )
    .unwrap();
    let mut state: u64 = 12345;
    for i0 in (0..SHAPE[0]).step_by(CHUNKS[0]) {
        let block = ArrayD::from_shape_fn(IxDyn(&[CHUNKS[0], SHAPE[1]]), |ix| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let noise = ((state >> 33) % 1000) as f32 * 0.001;
            let (i, j) = ((i0 + ix[0]) as f32, ix[1] as f32);
            280.0 + 50.0 * (i * 0.01).sin() * (j * 0.013).cos() + noise
        });
        w.write(
            &Region(vec![i0..i0 + CHUNKS[0], 0..SHAPE[1]]),
            &AnyArray::F32(block).view(),
        )
        .unwrap();
    }
    w.commit().unwrap();
}

fn regions() -> Vec<Region> {
    let mut out = Vec::new();
    for i in (0..SHAPE[0]).step_by(CHUNKS[0]) {
        for j in (0..SHAPE[1]).step_by(CHUNKS[1]) {
            out.push(Region(vec![i..i + CHUNKS[0], j..j + CHUNKS[1]]));
        }
    }
    out
}

/// Reads every chunk on `threads` threads; returns MB/s of decoded data and a checksum.
fn run(src: &Hdf5Source, threads: usize) -> (f64, f64) {
    let regions = regions();
    let next = AtomicUsize::new(0);
    let t = Instant::now();
    let sums: Vec<f64> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut sum = 0.0f64;
                    loop {
                        let k = next.fetch_add(1, Ordering::Relaxed);
                        let Some(r) = regions.get(k) else { break };
                        match src.read(r).unwrap() {
                            AnyArray::F32(a) => sum += f64::from(a[[0, 0]]),
                            _ => unreachable!(),
                        }
                    }
                    sum
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let secs = t.elapsed().as_secs_f64();
    let bytes = (SHAPE[0] * SHAPE[1] * 4) as f64;
    (bytes / secs / 1e6, sums.iter().sum())
}

/// The part of a raw read that holds the library lock: chunk lookup and copy of the stored
/// bytes, for every chunk on one thread. Returns MB/s of decoded-equivalent data.
fn fetch_only(path: &str) -> f64 {
    use hdf5_sys::h5::{haddr_t, hsize_t};
    use hdf5_sys::h5d::{H5Dget_chunk_info_by_coord, H5Dread_chunk1};
    let file = hdf5::File::open(path).unwrap();
    let ds = file.dataset("data").unwrap();
    let id = ds.id();
    let t = Instant::now();
    let mut stored = 0usize;
    for r in regions() {
        let offset: Vec<hsize_t> = r.0.iter().map(|x| x.start as hsize_t).collect();
        stored += hdf5::sync::sync(|| {
            let (mut mask, mut addr, mut size) = (0u32, 0 as haddr_t, 0 as hsize_t);
            // SAFETY: live dataset handle, 2-d offset, valid out-pointers; lock held.
            let rc = unsafe {
                H5Dget_chunk_info_by_coord(id, offset.as_ptr(), &mut mask, &mut addr, &mut size)
            };
            assert!(rc >= 0);
            let mut buf = vec![0u8; size as usize];
            // SAFETY: `buf` has the stored size just reported under the same lock.
            let rc = unsafe {
                H5Dread_chunk1(id, 0, offset.as_ptr(), &mut mask, buf.as_mut_ptr().cast())
            };
            assert!(rc >= 0);
            buf.len()
        });
    }
    let secs = t.elapsed().as_secs_f64();
    assert!(stored > 0);
    (SHAPE[0] * SHAPE[1] * 4) as f64 / secs / 1e6
}

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .unwrap_or_else(|| "/tmp/chunkwise_hdf5_bench.h5".into());
    let threads: usize = args.next().map_or_else(
        || std::thread::available_parallelism().map_or(2, |n| n.get()),
        |s| s.parse().unwrap(),
    );
    if !std::path::Path::new(&path).exists() {
        let t = Instant::now();
        make(&path);
        println!("wrote {path} in {:.1} s", t.elapsed().as_secs_f64());
    }
    let size = std::fs::metadata(&path).unwrap().len();
    println!(
        "{path}: {:?} f32 = {} MB decoded, {} MB on disk, chunks {:?} (1 MB), shuffle+deflate(4)",
        SHAPE,
        SHAPE[0] * SHAPE[1] * 4 / 1_000_000,
        size / 1_000_000,
        CHUNKS
    );
    let fetch = (0..3).map(|_| fetch_only(&path)).fold(0.0f64, f64::max);
    println!("raw fetch only (lock held), 1 thread: {fetch:7.0} MB/s");
    for n in [1, threads] {
        for raw in [false, true] {
            let src = Hdf5Source::open(&path, "data")
                .unwrap()
                .with_raw_chunk_reads(raw);
            let mut best = 0.0f64;
            let mut check = 0.0;
            for _ in 0..3 {
                let (mbs, sum) = run(&src, n);
                best = best.max(mbs);
                check = sum;
            }
            println!(
                "{:>10} reads, {n} thread(s): {best:7.0} MB/s  (checksum {check:.3})",
                if raw { "raw-chunk" } else { "hyperslab" }
            );
        }
    }
}
