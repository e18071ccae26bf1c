//! The `processes` engine end to end (issue 11): this test binary is its own worker program.
//! `worker_program` below is a program (it does nothing unless `ENGINE_TEST_PROGRAM` is set);
//! the other tests run this binary again as `--exact worker_program`, as a driver on the
//! processes engine or on the local one, and the driver re-executes it (same arguments) as
//! its workers, exactly as a user's program is re-executed.
//!
//! The program: the anomaly standard deviation `std(x - mean(x, 0), 0)` and a pancake→pencil
//! rechunk, stored, of a generated 8 MiB Zarr store with a 2 MiB memory limit.
#![cfg(feature = "zarr")]
use chunkwise::engine::Engine;
use chunkwise::io::zarr::{ZarrCompression, ZarrWriteOptions, ZarrWriter};
use chunkwise::prelude::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const PROGRAM_VAR: &str = "ENGINE_TEST_PROGRAM";
const LIMIT: usize = 2 << 20;
const SHAPE: [usize; 3] = [256, 64, 64];

/// The user's program: its settings come from the environment (its "command line").
fn program() -> chunkwise::Result<()> {
    let var = |k: &str| std::env::var(k).unwrap_or_default();
    let input = PathBuf::from(var("ENGINE_TEST_INPUT"));
    let out = PathBuf::from(var("ENGINE_TEST_OUT"));
    let mut b = Runtime::builder().threads(1).memory_limit(LIMIT);
    if var("ENGINE_TEST_ENGINE") == "processes" {
        b = b
            .engine(Engine::Processes { workers: 2 })
            .work_dir(var("ENGINE_TEST_WORK"))
            .batch_bytes(4 << 20)
            .tries(2);
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

#[test]
fn worker_program() {
    if std::env::var_os(PROGRAM_VAR).is_none() {
        return;
    }
    if let Err(e) = program() {
        eprintln!("program failed: {e}");
        std::process::exit(1);
    }
}

/// A generated input of 8 MiB (4 times the limit) in pancakes of (4, 32, 32).
fn make_input(dir: &Path, seed: u64) -> PathBuf {
    let store = dir.join("in.zarr");
    let rt = Runtime::builder().threads(2).build().unwrap();
    ChunkedArray::<f64>::random_normal(&SHAPE, [4, 32, 32], seed, 280.0, 5.0)
        .unwrap()
        .to_zarr(&rt, &store, "x")
        .unwrap();
    store
}

struct Run {
    out: PathBuf,
    output: Output,
}

impl Run {
    fn ok(&self) -> &Self {
        assert!(
            self.output.status.success(),
            "the program failed: {}\n{}",
            String::from_utf8_lossy(&self.output.stdout),
            String::from_utf8_lossy(&self.output.stderr)
        );
        self
    }
    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }
    /// The two computations' report lines, split into fields.
    fn reports(&self) -> Vec<Vec<String>> {
        std::fs::read_to_string(self.out.join("report.txt"))
            .unwrap()
            .lines()
            .map(|l| l.split(' ').map(String::from).collect())
            .collect()
    }
    fn std_bits(&self) -> String {
        std::fs::read_to_string(self.out.join("std.txt")).unwrap()
    }
    fn pencil(&self) -> ndarray::ArrayD<f64> {
        let rt = Runtime::builder().threads(2).build().unwrap();
        ChunkedArray::<f64>::open_zarr(&self.out, "pencil")
            .unwrap()
            .compute(&rt)
            .unwrap()
    }
}

/// Runs the program (this binary as `worker_program`) as a driver.
fn run_program(input: &Path, out: &Path, engine: &str, work: &Path, env: &[(&str, &str)]) -> Run {
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

#[test]
fn processes_equal_local_bit_for_bit_and_workers_stay_within_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let input = make_input(dir.path(), 7);
    let work = dir.path().join("work");
    let local = run_program(&input, &dir.path().join("local"), "local", &work, &[]);
    let procs = run_program(&input, &dir.path().join("procs"), "processes", &work, &[]);
    procs.ok();
    local.ok();
    assert_eq!(procs.std_bits(), local.std_bits());
    assert_eq!(procs.pencil(), local.pencil());
    let reports = procs.reports();
    for r in &reports {
        let (stages, batches, run, skipped) = (&r[1], &r[2], &r[3], &r[4]);
        assert!(stages.parse::<usize>().unwrap() >= 2, "{r:?}");
        assert!(batches.parse::<usize>().unwrap() > stages.parse::<usize>().unwrap());
        assert_eq!(run, batches, "{r:?}");
        assert_eq!(skipped, "0");
        let peak: usize = r[6].parse().unwrap();
        assert!(
            peak > 0 && peak <= LIMIT,
            "worker peak {peak} over the limit: {r:?}"
        );
    }
    // The workers never wrote the user's output: only the driver's copy is there.
    assert!(work.join("discard").exists());
}

#[test]
fn a_batch_that_fails_once_is_retried_and_gives_the_same_result() {
    let dir = tempfile::tempdir().unwrap();
    let input = make_input(dir.path(), 11);
    let work = dir.path().join("work");
    let local = run_program(&input, &dir.path().join("local"), "local", &work, &[]);
    // Stage 1 of each computation, batch 1: fails the first time.
    let procs = run_program(
        &input,
        &dir.path().join("procs"),
        "processes",
        &work,
        &[("CHUNKWISE_FAULT", "1:1:once")],
    );
    procs.ok();
    local.ok();
    assert_eq!(procs.std_bits(), local.std_bits());
    assert_eq!(procs.pencil(), local.pencil());
    for r in procs.reports() {
        assert_eq!(r[5], "1", "one retry per computation: {r:?}");
        assert_eq!(
            r[3].parse::<usize>().unwrap(),
            r[2].parse::<usize>().unwrap() + 1
        );
    }
}

#[test]
fn a_batch_that_always_fails_names_itself_and_leaves_no_output_then_a_rerun_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let input = make_input(dir.path(), 13);
    let work = dir.path().join("work");
    let out = dir.path().join("procs");
    // Computation 0 completes; computation 1 (the stored rechunk) fails in its stage 1,
    // batch 0, every time: the driver "dies" part way through computation 1.
    let failed = run_program(
        &input,
        &out,
        "processes",
        &work,
        &[("CHUNKWISE_FAULT", "1:0:always:1")],
    );
    assert!(!failed.output.status.success());
    let err = failed.stderr();
    assert!(
        err.contains("stage 1 (result 0), batch 0: failed 2 time(s): exit code 3"),
        "{err}"
    );
    assert!(
        err.contains("failing on purpose"),
        "the log tail is shown: {err}"
    );
    assert!(!out.join("report.txt").exists());
    // No output that looks complete: no array metadata at the output's path.
    assert!(!out.join("pencil/zarr.json").exists());
    assert!(ChunkedArray::<f64>::open_zarr(&out, "pencil").is_err());
    let done = |c: usize| {
        std::fs::read_dir(work.join(format!("compute-{c}/done")))
            .map(|d| d.count())
            .unwrap_or(0)
    };
    let (done0, done1) = (done(0), done(1));
    assert!(done1 > 0, "the batches that could run are done");
    // The rerun without the fault finishes, running only the batches not done before.
    let rerun = run_program(&input, &out, "processes", &work, &[]);
    rerun.ok();
    let reports = rerun.reports();
    for (r, done_before) in reports.iter().zip([done0, done1]) {
        let (batches, ran, skipped): (usize, usize, usize) = (
            r[2].parse().unwrap(),
            r[3].parse().unwrap(),
            r[4].parse().unwrap(),
        );
        assert_eq!(skipped, done_before, "{r:?}");
        assert_eq!(ran + skipped, batches, "{r:?}");
    }
    assert_eq!(
        reports[0][3], "0",
        "computation 0 was complete: {:?}",
        reports[0]
    );
    assert_ne!(
        reports[1][3], "0",
        "computation 1 was not: {:?}",
        reports[1]
    );
    let local = run_program(&input, &dir.path().join("local"), "local", &work, &[]);
    local.ok();
    assert_eq!(rerun.std_bits(), local.std_bits());
    assert_eq!(rerun.pencil(), local.pencil());
}

#[test]
fn another_plan_in_the_work_dir_or_a_worker_of_another_plan_is_a_plan_mismatch() {
    let dir = tempfile::tempdir().unwrap();
    let input = make_input(dir.path(), 17);
    let work = dir.path().join("work");
    let first = run_program(&input, &dir.path().join("a"), "processes", &work, &[]);
    first.ok();
    let hash = first.reports()[0][0].clone();
    // The same program on another input, in the same work directory.
    let other_dir = dir.path().join("other");
    std::fs::create_dir_all(&other_dir).unwrap();
    let other = make_input(&other_dir, 18);
    let second = run_program(&other, &dir.path().join("b"), "processes", &work, &[]);
    assert!(!second.output.status.success());
    assert!(
        second.stderr().contains("plan hash mismatch"),
        "{}",
        second.stderr()
    );
    assert!(second.stderr().contains(&hash), "{}", second.stderr());
    // A worker started for a plan this program does not build.
    let worker = run_program(
        &input,
        &dir.path().join("c"),
        "processes",
        &work,
        &[
            ("CHUNKWISE_WORKER", "0123456789abcdef0123456789abcdef:0:0:0"),
            ("CHUNKWISE_WORK_DIR", work.to_str().unwrap()),
        ],
    );
    assert_eq!(worker.output.status.code(), Some(2), "{}", worker.stderr());
    assert!(
        worker.stderr().contains("plan hash mismatch"),
        "{}",
        worker.stderr()
    );
    assert!(worker.stderr().contains("0123456789abcdef0123456789abcdef"));
}
