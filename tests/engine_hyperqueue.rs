//! The `hyperqueue` engine through HyperQueue's Python client (the PyPI wheel, a
//! `LocalCluster` per run): the launcher alone with batches that are shell commands writing
//! files, and the driver end to end with the program of `engine_common/program.rs` (this
//! binary is its own worker program). The python is
//! `$CHUNKWISE_HQ_PYTHON` (`.ci/hq_venv.sh` makes one in `target/ci-hqenv`); without one that
//! can `import hyperqueue` the tests are skipped with a note, unless `CHUNKWISE_REQUIRE_HQ=1`
//! (set by `.ci/run`), which makes them fail.

mod engine_common;

use chunkwise::engine::{HyperQueueLauncher, HyperQueueOptions};
use engine_common::probe::hq_python;

/// The launcher, when a python with the wheel is here (see [`hq_python`]).
fn launcher(test: &str) -> Option<HyperQueueLauncher> {
    hq_python(test).map(|python| {
        HyperQueueLauncher::new(HyperQueueOptions {
            python,
            local_cores: Some(2),
            ..HyperQueueOptions::default()
        })
    })
}

#[cfg(feature = "zarr")]
#[test]
fn worker_program() {
    engine_common::program::worker_main();
}

/// The anomaly std and the pancake→pencil rechunk through the driver, each computation one
/// HyperQueue job on a `LocalCluster`: equal to the local engine's bit for bit.
#[cfg(feature = "zarr")]
#[test]
fn the_program_on_hyperqueue_equals_local_bit_for_bit() {
    let test = "the_program_on_hyperqueue_equals_local_bit_for_bit";
    if hq_python(test).is_none() {
        return;
    }
    let (_dir, _work, run) = engine_common::program::equals_local_in_a_tempdir("hyperqueue");
    assert!(
        run.stderr().contains("engine hyperqueue"),
        "{}",
        run.stderr()
    );
}

#[test]
fn two_stages_run_in_order_each_batch_with_its_env_and_log() {
    if let Some(l) = launcher("two_stages_in_order") {
        engine_common::two_stages_in_order(&l);
    }
}

#[test]
fn a_failed_batch_gets_its_exit_code_the_next_stage_is_not_run_and_a_retry_of_it_alone_succeeds() {
    if let Some(l) = launcher("failure_then_retry") {
        engine_common::failure_then_retry_of_the_failed_batch(&l);
    }
}

#[test]
fn an_empty_stage_is_skipped_and_the_next_waits_for_the_one_before() {
    if let Some(l) = launcher("an_empty_stage_in_the_middle") {
        engine_common::an_empty_stage_in_the_middle(&l);
    }
}

#[test]
fn a_python_without_the_wheel_is_an_engine_error_with_its_last_lines() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // A "python" that runs the driver but has no hyperqueue module.
    let fake = dir.join("python");
    std::fs::write(
        &fake,
        "#!/bin/sh\necho \"ModuleNotFoundError: No module named 'hyperqueue'\" >&2\nexit 1\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let launcher = HyperQueueLauncher::new(HyperQueueOptions {
        python: fake,
        ..HyperQueueOptions::default()
    });
    let stages = [engine_common::stage(
        dir,
        0,
        vec![engine_common::sh_batch(dir, 0, 0, engine_common::WRITE)],
    )];
    use chunkwise::engine::Launcher;
    let err = launcher.run_stages(&stages).unwrap_err();
    assert!(
        matches!(
            err,
            chunkwise::Error::Engine {
                engine: "hyperqueue",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("No module named 'hyperqueue'"),
        "{err}"
    );
}
