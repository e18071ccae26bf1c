//! `chunkwise plan --engine slurm --dry-run` on a metadata-only ERA5-sized store (issue 11,
//! item 6): it prints the stages without reading a chunk, in seconds.
mod common;
use chunkwise::io::BlockWriter;
use chunkwise::io::zarr::{ZarrWriteOptions, ZarrWriter};
use common::*;
use std::time::{Duration, Instant};

#[test]
fn plan_dry_run_of_an_era5_sized_store_for_slurm() {
    let d = tempfile::tempdir().unwrap();
    let store = d.path().join("era5.zarr");
    let w = ZarrWriter::create(
        &store,
        "t2m",
        &[750_000, 721, 1440],
        &[1, 721, 1440],
        chunkwise::DType::F32,
        ZarrWriteOptions::default(),
    )
    .unwrap();
    w.commit().unwrap();
    let input = format!("{}:/t2m", store.display());
    let work = d.path().join("work").display().to_string();
    for (extra, stages) in [(None, 5), (Some("--anomaly"), 13)] {
        let mut args = vec![
            "--engine",
            "slurm",
            "--work-dir",
            &work,
            "--memory-limit",
            "4GiB",
            "plan",
            "mean",
            "--axis",
            "0",
            "--dry-run",
            &input,
        ];
        if let Some(e) = extra {
            args[7] = "std";
            args.insert(8, e);
        }
        let start = Instant::now();
        let out = chunkwise(&args);
        let took = start.elapsed();
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert!(took < Duration::from_secs(30), "{took:?}");
        let o = &out.stdout;
        assert!(o.contains(&format!("{stages} stages")), "{o}");
        assert!(o.contains("sbatch --mem=4352M"), "{o}");
        let first = o
            .lines()
            .find(|l| l.contains("tasks (blocks read)"))
            .unwrap();
        assert!(first.contains(": 750000 tasks"), "{o}");
        assert!(o.contains("total: "), "{o}");
        assert!(o.contains("sbatch --array: 17 submission(s)"), "{o}");
    }
    // Nothing was written.
    assert!(!d.path().join("work").exists());
    // The local engine has no stages to show.
    let out = chunkwise(&["plan", "mean", "--axis", "0", "--dry-run", &input]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("--engine"), "{}", out.stderr);
}
