//! The `processes` engine end to end (issue 11): this test binary is its own worker program
//! (see `engine_common/program.rs`: the anomaly standard deviation and a stored
//! pancake→pencil rechunk of a store 4 times the memory limit), run on the processes engine
//! and on the local one; plus retries, resume and plan-hash mismatches.
#![cfg(feature = "zarr")]

mod engine_common;

use chunkwise::prelude::ChunkedArray;
use engine_common::program::{equals_local_in_a_tempdir, make_input, run_program, worker_main};

#[test]
fn worker_program() {
    worker_main();
}

#[test]
fn processes_equal_local_bit_for_bit_and_workers_stay_within_the_limit() {
    let (_dir, work, _) = equals_local_in_a_tempdir("processes");
    // The workers never wrote the user's output: only the driver's copy is there.
    assert!(work.join("discard").exists());
}

#[test]
fn a_batch_that_fails_once_is_retried_and_gives_the_same_result() {
    let dir = tempfile::tempdir().unwrap();
    let input = make_input(dir.path(), 11);
    let work_path = dir.path().join("work");
    let work = work_path.to_str().unwrap();
    let local = run_program(&input, &dir.path().join("local"), "local", work, &[]);
    // Stage 1 of each computation, batch 1: fails the first time.
    let procs = run_program(
        &input,
        &dir.path().join("procs"),
        "processes",
        work,
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
    let work_path = dir.path().join("work");
    let work = work_path.to_str().unwrap();
    let out = dir.path().join("procs");
    // Computation 0 completes; computation 1 (the stored rechunk) fails in its stage 1,
    // batch 0, every time: the driver "dies" part way through computation 1.
    let failed = run_program(
        &input,
        &out,
        "processes",
        work,
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
        std::fs::read_dir(work_path.join(format!("compute-{c}/done")))
            .map(|d| d.count())
            .unwrap_or(0)
    };
    let (done0, done1) = (done(0), done(1));
    assert!(done1 > 0, "the batches that could run are done");
    // The rerun without the fault finishes, running only the batches not done before.
    let rerun = run_program(&input, &out, "processes", work, &[]);
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
    let local = run_program(&input, &dir.path().join("local"), "local", work, &[]);
    local.ok();
    assert_eq!(rerun.std_bits(), local.std_bits());
    assert_eq!(rerun.pencil(), local.pencil());
}

#[test]
fn another_plan_in_the_work_dir_or_a_worker_of_another_plan_is_a_plan_mismatch() {
    let dir = tempfile::tempdir().unwrap();
    let input = make_input(dir.path(), 17);
    let work_path = dir.path().join("work");
    let work = work_path.to_str().unwrap();
    let first = run_program(&input, &dir.path().join("a"), "processes", work, &[]);
    first.ok();
    let hash = first.reports()[0][0].clone();
    // The same program on another input, in the same work directory.
    let other_dir = dir.path().join("other");
    std::fs::create_dir_all(&other_dir).unwrap();
    let other = make_input(&other_dir, 18);
    let second = run_program(&other, &dir.path().join("b"), "processes", work, &[]);
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
        work,
        &[
            ("CHUNKWISE_WORKER", "0123456789abcdef0123456789abcdef:0:0:0"),
            ("CHUNKWISE_WORK_DIR", work),
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

#[cfg(not(feature = "object-store"))]
#[test]
fn an_s3_work_dir_without_the_object_store_feature_is_an_error_naming_it() {
    use chunkwise::Runtime;
    use chunkwise::engine::Engine;
    let err = Runtime::builder()
        .engine(Engine::Processes { workers: 2 })
        .work_dir("s3://bucket/run1")
        .build()
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("object-store") && text.contains("s3://bucket/run1"),
        "{text}"
    );
}
