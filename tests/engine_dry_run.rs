//! Plans at cluster scale (issue 11, item 6): an ERA5-sized store (t2m, 750,000 chunks of
//! (1, 721, 1440) f32, 3.1 TB) made of metadata only, planned for Slurm without reading a
//! chunk: the first stage has a task per chunk, no batch exceeds the batch size by more than
//! one block's work, and cutting the plan takes seconds.
#![cfg(feature = "zarr")]
use chunkwise::engine::{DryRun, Engine, dry_run};
use chunkwise::io::BlockWriter;
use chunkwise::io::zarr::{ZarrWriteOptions, ZarrWriter};
use chunkwise::prelude::*;
use std::path::Path;
use std::time::{Duration, Instant};

const SHAPE: [usize; 3] = [750_000, 721, 1440];
const CHUNKS: [usize; 3] = [1, 721, 1440];

/// The store's metadata, and no chunk (a reader would find only fill values, and a plan that
/// read one would be slow: there are 750,000).
fn era5_metadata(dir: &Path) -> std::path::PathBuf {
    let store = dir.join("era5.zarr");
    let w = ZarrWriter::create(
        &store,
        "t2m",
        &SHAPE,
        &CHUNKS,
        DType::F32,
        ZarrWriteOptions::default(),
    )
    .unwrap();
    w.commit().unwrap();
    store
}

fn check(plan: &DryRun, what: &str) {
    assert_eq!(plan.stages[0].tasks, 750_000, "{what}: {plan}");
    for s in &plan.stages {
        assert!(
            s.largest_batch_bytes <= plan.batch_bytes + s.block_bytes,
            "{what}: a batch of {} in {}: {plan}",
            s.largest_batch_bytes,
            s.name
        );
        assert!(s.batches >= 1 && s.batches <= s.blocks, "{what}: {plan}");
    }
    // No batch reduces the whole time axis: its result reads partials, not chunks.
    let last = plan.stages.last().unwrap();
    assert!(last.tasks < 10_000, "{what}: {plan}");
    assert!(plan.stages.len() >= 3, "{what}: {plan}");
}

#[test]
fn an_era5_sized_plan_is_cut_for_slurm_from_metadata_in_seconds() {
    let dir = tempfile::tempdir().unwrap();
    let store = era5_metadata(dir.path());
    let work = dir.path().join("work");
    let rt = Runtime::builder()
        .memory_limit("4 GiB")
        .engine(Engine::from_name("slurm", 1).unwrap())
        .work_dir(&work)
        .build()
        .unwrap();
    let start = Instant::now();
    let x = ChunkedArray::<f32>::open_zarr(&store, "t2m").unwrap();
    let mean = dry_run(&rt, &[&x.mean_axis(0).unwrap()]).unwrap();
    let anomaly = (&x - &x.mean_axis(0).unwrap()).unwrap();
    let std = dry_run(&rt, &[&anomaly.std_axis(0).unwrap()]).unwrap();
    let took = start.elapsed();
    println!("mean over time:\n{mean}\n\nanomaly std:\n{std}\n\nboth planned in {took:?}");
    assert!(took < Duration::from_secs(20), "planning took {took:?}");
    check(&mean, "mean");
    check(&std, "anomaly std");
    // The anomaly's std reads the chunks once for the mean and once for the std (with the
    // mean's one block in every batch of the second).
    let reads_x: Vec<usize> = std
        .stages
        .iter()
        .map(|s| s.tasks)
        .filter(|&t| t >= 750_000)
        .collect();
    assert_eq!(reads_x.len(), 2, "{std}");
    assert_eq!(
        reads_x[1],
        750_000
            + std
                .stages
                .iter()
                .find(|s| s.tasks == reads_x[1])
                .unwrap()
                .batches
    );
    assert!(std.stages.len() > mean.stages.len());
    // Slurm arrays are capped at MaxArraySize (1001): stages of more batches are split.
    let s0 = &mean.stages[0];
    assert_eq!(s0.slurm_arrays(1001), s0.batches.div_ceil(1001));
    assert!(s0.batches > 1001, "{mean}");
    // Nothing was written: the work directory does not exist, and the store holds no chunk.
    assert!(!work.exists());
    let chunks = walk(&store.join("t2m"));
    assert!(
        chunks.iter().all(|p| p.ends_with("zarr.json")),
        "{chunks:?}"
    );
}

fn walk(d: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(d).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p.display().to_string());
        }
    }
    out
}
