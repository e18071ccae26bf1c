//! W4-shaped rechunk in memory: a (730, 361, 720) f32 array (~760 MB, from_ndarray) chunked
//! (1, 361, 720) — one field per time step — rechunked to (730, 19, 40) — whole time series
//! of small tiles — and computed into memory. The ndarray reference is a plain copy of the
//! array (`to_owned` of a view: the floor for producing a second 760 MB array).
//!
//! Also tries a 256 MiB memory limit (into memory, and streamed block by block) and prints
//! what happens instead of failing: the multi-stage rechunk executor is not there yet.
//!
//! `cargo bench --bench rechunk` (about 1 GB per iteration; needs ~2.5 GB of RAM).

mod common;

use chunkwise::ChunkedArray;
use common::*;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ndarray::Array3;
use std::hint::black_box;
use std::time::{Duration, Instant};

const SHAPE: (usize, usize, usize) = (730, 361, 720);

fn make_data() -> Array3<f32> {
    let (t, y, x) = SHAPE;
    let v: Vec<f32> = (0..(t * y * x) as u64)
        .map(|k| (250.0 + 50.0 * hash01(k)) as f32)
        .collect();
    Array3::from_shape_vec(SHAPE, v).expect("shape")
}

fn rechunk(c: &mut Criterion) {
    let bytes = SHAPE.0 * SHAPE.1 * SHAPE.2 * 4;
    let data = make_data();
    let reference = data.clone();
    let x = ChunkedArray::from_ndarray(data, [1, 361, 720]).expect("chunks");
    let y = x.rechunk([730, 19, 40]).expect("rechunk");
    let big = runtime("16 GiB");

    let got = y.compute(&big).expect("compute");
    assert!(
        got.view() == reference.view().into_dyn(),
        "rechunk changed values"
    );
    drop(got);

    let cw = || y.compute(&big).expect("compute");
    let nd = || reference.view().to_owned();

    if summaries_enabled() {
        let t = median_time(3, cw);
        let r = big.last_report();
        let f = median_time(3, nd);
        println!("== rechunk (730,361,720) f32 (1,361,720) → (730,19,40), into memory ==");
        println!(
            "16 GiB limit: chunkwise {:.3} s ({} tasks, peak tracked {:.1} MiB) | ndarray copy {:.3} s | ratio {:.2}x",
            t.as_secs_f64(),
            r.tasks,
            r.peak_tracked_bytes as f64 / (1 << 20) as f64,
            f.as_secs_f64(),
            t.as_secs_f64() / f.as_secs_f64()
        );
        let small = runtime("256 MiB");
        let s = Instant::now();
        match y.compute(&small) {
            Ok(a) => {
                let r = small.last_report();
                println!(
                    "256 MiB limit, into memory: ok in {:.3} s ({} tasks, peak tracked {:.1} MiB)",
                    s.elapsed().as_secs_f64(),
                    r.tasks,
                    r.peak_tracked_bytes as f64 / (1 << 20) as f64
                );
                drop(a);
            }
            Err(e) => println!("256 MiB limit, into memory: error (noted, not a failure): {e}"),
        }
        let s = Instant::now();
        let mut sum = 0.0f64;
        match y.for_each_block(&small, |_, b| {
            sum += b[[0, 0, 0]] as f64;
            Ok(())
        }) {
            Ok(r) => println!(
                "256 MiB limit, streamed (for_each_block): ok in {:.3} s ({} tasks, peak tracked {:.1} MiB)",
                s.elapsed().as_secs_f64(),
                r.tasks,
                r.peak_tracked_bytes as f64 / (1 << 20) as f64
            ),
            Err(e) => println!("256 MiB limit, streamed: error (noted, not a failure): {e}"),
        }
        black_box(sum);
    }

    let mut grp = c.benchmark_group("rechunk_730x361x720_f32");
    grp.sample_size(10)
        .measurement_time(Duration::from_secs(8))
        .warm_up_time(Duration::from_millis(500))
        .throughput(Throughput::Bytes(bytes as u64));
    grp.bench_function("chunkwise/into_memory_16GiB", |b| {
        b.iter(|| black_box(cw()))
    });
    grp.bench_function("ndarray/copy", |b| b.iter(|| black_box(nd())));
    grp.finish();
}

criterion_group!(benches, rechunk);
criterion_main!(benches);
