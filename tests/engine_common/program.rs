//! The end-to-end program of the engine suites (issue 11), shared by `engine.rs` (processes),
//! `engine_slurm.rs` and `engine_hyperqueue.rs`. Each of those test binaries is its own worker
//! program: it has a test `worker_program` that calls [`worker_main`] (which does nothing
//! unless `ENGINE_TEST_PROGRAM` is set); the tests run the binary again as
//! `--exact worker_program`, as a driver on an engine or on the local one, and the driver
//! re-executes it (same arguments) as its workers, exactly as a user's program is re-executed.
//!
//! The program: the anomaly standard deviation `std(x - mean(x, 0), 0)` into memory and a
//! pancake→pencil rechunk, stored, of a generated 8 MiB Zarr store with a 2 MiB memory limit.

use chunkwise::engine::{
    Engine, HyperQueueLauncher, HyperQueueOptions, SlurmLauncher, SlurmOptions,
};
use chunkwise::io::zarr::{ZarrCompression, ZarrWriteOptions, ZarrWriter};
use chunkwise::prelude::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::Duration;

/// Set in the environment of the binary run as the program.
pub(crate) const PROGRAM_VAR: &str = "ENGINE_TEST_PROGRAM";
/// The program's memory limit (the input is 4 times as large).
pub(crate) const LIMIT: usize = 2 << 20;
const SHAPE: [usize; 3] = [256, 64, 64];

/// The engine named by `ENGINE_TEST_ENGINE` (`local`, `processes`, `slurm`, `hyperqueue`).
fn engine(name: &str) -> Engine {
    match name {
        "processes" => Engine::Processes { workers: 2 },
        "slurm" => Engine::Custom(Arc::new(SlurmLauncher::new(SlurmOptions {
            poll_interval: Duration::from_millis(100),
            ..SlurmOptions::default()
        }))),
        "hyperqueue" => Engine::Custom(Arc::new(HyperQueueLauncher::new(HyperQueueOptions {
            local_cores: Some(2),
            ..HyperQueueOptions::default()
        }))),
        _ => Engine::Local,
    }
}

/// The user's program: its settings come from the environment (its "command line").
fn program() -> chunkwise::Result<()> {
    let var = |k: &str| std::env::var(k).unwrap_or_default();
    let input = PathBuf::from(var("ENGINE_TEST_INPUT"));
    let out = PathBuf::from(var("ENGINE_TEST_OUT"));
    let mut b = Runtime::builder().threads(1).memory_limit(LIMIT);
    let engine = engine(&var("ENGINE_TEST_ENGINE"));
    if !engine.is_local() {
        b = b
            .engine(engine)
            .work_dir(var("ENGINE_TEST_WORK"))
            .batch_bytes(4 << 20)
            .tries(2);
        if !var("ENGINE_TEST_LOG_DIR").is_empty() {
            b = b.log_dir(var("ENGINE_TEST_LOG_DIR"));
        }
    }
    let rt = b.build()?;
    let x = ChunkedArray::<f64>::open_zarr(&input, "x")?;
    // Computation 0: the anomaly's standard deviation, into memory.
    let anomaly_std = (&x - &x.mean_axis(0)?)?.std_axis(0)?.compute(&rt)?;
    let report0 = rt.last_report();
    eprintln!("computation 0 done: {report0}");
    let bits: Vec<String> = anomaly_std
        .iter()
        .map(|v| format!("{:016x}", v.to_bits()))
        .collect();
    std::fs::write(out.join("std.txt"), bits.join("\n")).unwrap();
    // Computation 1: pancake → pencil, stored (every worker's program creates this writer too).
    let pencil = x.rechunk([256, 8, 8])?;
    let w = ZarrWriter::create(
        &out,
        "pencil",
        &SHAPE,
        &[256, 8, 8],
        DType::F64,
        ZarrWriteOptions {
            compression: ZarrCompression::None,
            overwrite: true,
            ..Default::default()
        },
    )?;
    let report1 = pencil.store(&rt, &w)?;
    let line = |r: &RunReport| match &r.engine {
        Some(e) => format!(
            "{} {} {} {} {} {} {}",
            e.plan_hash,
            e.stages,
            e.batches,
            e.batches_run,
            e.batches_skipped,
            e.batches_retried,
            r.peak_tracked_bytes
        ),
        None => format!("local {}", r.peak_tracked_bytes),
    };
    std::fs::write(
        out.join("report.txt"),
        format!("{}\n{}\n", line(&report0), line(&report1)),
    )
    .unwrap();
    Ok(())
}

/// The body of each suite's `worker_program` test: runs the program when this process was
/// started as it, else returns at once.
pub(crate) fn worker_main() {
    if std::env::var_os(PROGRAM_VAR).is_none() {
        return;
    }
    if let Err(e) = program() {
        eprintln!("program failed: {e}");
        std::process::exit(1);
    }
}

/// A generated input of 8 MiB (4 times the limit) in pancakes of (4, 32, 32).
pub(crate) fn make_input(dir: &Path, seed: u64) -> PathBuf {
    let store = dir.join("in.zarr");
    let rt = Runtime::builder().threads(2).build().unwrap();
    ChunkedArray::<f64>::random_normal(&SHAPE, [4, 32, 32], seed, 280.0, 5.0)
        .unwrap()
        .to_zarr(&rt, &store, "x")
        .unwrap();
    store
}

/// One run of the program: where it wrote, and what it printed.
pub(crate) struct Run {
    pub(crate) out: PathBuf,
    pub(crate) output: Output,
}

impl Run {
    pub(crate) fn ok(&self) -> &Self {
        assert!(
            self.output.status.success(),
            "the program failed: {}\n{}",
            String::from_utf8_lossy(&self.output.stdout),
            String::from_utf8_lossy(&self.output.stderr)
        );
        self
    }
    pub(crate) fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }
    /// The two computations' report lines, split into fields: plan hash, stages, batches,
    /// batches run, skipped, retried, peak tracked bytes (`local PEAK` on the local engine).
    pub(crate) fn reports(&self) -> Vec<Vec<String>> {
        std::fs::read_to_string(self.out.join("report.txt"))
            .unwrap()
            .lines()
            .map(|l| l.split(' ').map(String::from).collect())
            .collect()
    }
    pub(crate) fn std_bits(&self) -> String {
        std::fs::read_to_string(self.out.join("std.txt")).unwrap()
    }
    pub(crate) fn pencil(&self) -> ndarray::ArrayD<f64> {
        let rt = Runtime::builder().threads(2).build().unwrap();
        ChunkedArray::<f64>::open_zarr(&self.out, "pencil")
            .unwrap()
            .compute(&rt)
            .unwrap()
    }
}

/// Runs the program (this binary as `worker_program`) as a driver on `engine`, with the work
/// directory `work` (a path or an `s3://` URL) and `env` on top of the environment.
pub(crate) fn run_program(
    input: &Path,
    out: &Path,
    engine: &str,
    work: &str,
    env: &[(&str, &str)],
) -> Run {
    std::fs::create_dir_all(out).unwrap();
    let output = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "worker_program",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(PROGRAM_VAR, "1")
        .env("ENGINE_TEST_INPUT", input)
        .env("ENGINE_TEST_OUT", out)
        .env("ENGINE_TEST_ENGINE", engine)
        .env("ENGINE_TEST_WORK", work)
        .env_remove("CHUNKWISE_FAULT")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    Run {
        out: out.to_path_buf(),
        output,
    }
}

/// Runs the program on `engine` (with `env`) and on the local engine: the results are equal
/// bit for bit, every batch of every stage ran once, and no worker went over the memory
/// limit. Returns the engine's run.
pub(crate) fn equals_local_bit_for_bit(
    engine: &str,
    dir: &Path,
    work: &str,
    env: &[(&str, &str)],
) -> Run {
    let input = make_input(dir, 7);
    let local = run_program(&input, &dir.join("local"), "local", work, &[]);
    let run = run_program(&input, &dir.join(engine), engine, work, env);
    run.ok();
    local.ok();
    assert_eq!(run.std_bits(), local.std_bits(), "{engine}: std differs");
    assert_eq!(run.pencil(), local.pencil(), "{engine}: pencil differs");
    for r in &run.reports() {
        let (stages, batches, ran, skipped) = (&r[1], &r[2], &r[3], &r[4]);
        assert!(stages.parse::<usize>().unwrap() >= 2, "{r:?}");
        assert!(batches.parse::<usize>().unwrap() > stages.parse::<usize>().unwrap());
        assert_eq!(ran, batches, "{r:?}");
        assert_eq!(skipped, "0");
        let peak: usize = r[6].parse().unwrap();
        assert!(
            peak > 0 && peak <= LIMIT,
            "{engine}: worker peak {peak} over the limit: {r:?}"
        );
    }
    run
}

/// [`equals_local_bit_for_bit`] of `engine` in a fresh temporary directory, with the work
/// directory `work` inside it (returned with the run; the directory lives as long as the
/// first value).
pub(crate) fn equals_local_in_a_tempdir(engine: &str) -> (tempfile::TempDir, PathBuf, Run) {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("work");
    let run = equals_local_bit_for_bit(engine, dir.path(), work.to_str().unwrap(), &[]);
    (dir, work, run)
}
