//! The `slurm` engine against a real single-node Slurm (`.ci/slurm_up.sh`): the launcher alone
//! with batches that are shell commands writing files, and the driver end to end with the
//! program of `engine_common/program.rs` (this binary is its own worker program). Skipped,
//! with a note, when no Slurm answers here (within 2 s); with `CHUNKWISE_REQUIRE_SLURM=1` (set
//! by `.ci/run`) a missing Slurm fails instead. The tests that need no Slurm (fake `sbatch`
//! programs) always run.

mod engine_common;

use chunkwise::Error;
use chunkwise::engine::{BatchOutcome, Launcher, SlurmLauncher, SlurmOptions};
use engine_common::probe::slurm_is_up;
use engine_common::{WRITE, log_path, needs, sh_batch, stage};
use std::time::Duration;

#[cfg(feature = "zarr")]
#[test]
fn worker_program() {
    engine_common::program::worker_main();
}

/// The anomaly std and the pancake→pencil rechunk through the driver, each stage an array
/// job: equal to the local engine's bit for bit.
#[cfg(feature = "zarr")]
#[test]
fn the_program_on_slurm_equals_local_bit_for_bit() {
    if !slurm_is_up("the_program_on_slurm_equals_local_bit_for_bit") {
        return;
    }
    let (_dir, work, run) = engine_common::program::equals_local_in_a_tempdir("slurm");
    // Slurm ran the batches: its own output files (empty, the workers log to the batch logs)
    // and job scripts are in the engine's scratch directory.
    let scripts = std::fs::read_dir(work.join("compute-1/engine"))
        .unwrap()
        .filter(|e| {
            let name = e.as_ref().unwrap().file_name();
            name.to_string_lossy().starts_with("slurm-stage")
        })
        .count();
    assert!(scripts >= 2, "one job script per stage: {scripts}");
    assert!(run.stderr().contains("engine slurm"), "{}", run.stderr());
}

fn launcher() -> SlurmLauncher {
    SlurmLauncher::new(SlurmOptions {
        poll_interval: Duration::from_millis(100),
        ..SlurmOptions::default()
    })
}

#[test]
fn two_stages_run_in_order_each_batch_with_its_env_and_log() {
    if slurm_is_up("two_stages_run_in_order_each_batch_with_its_env_and_log") {
        engine_common::two_stages_in_order(&launcher());
    }
}

#[test]
fn a_failed_batch_gets_its_exit_code_the_next_stage_is_not_run_and_a_retry_of_it_alone_succeeds() {
    if slurm_is_up("failure_then_retry") {
        engine_common::failure_then_retry_of_the_failed_batch(&launcher());
    }
}

#[test]
fn an_empty_stage_is_skipped_and_the_next_waits_for_the_one_before() {
    if slurm_is_up("an_empty_stage_in_the_middle") {
        engine_common::an_empty_stage_in_the_middle(&launcher());
    }
}

#[test]
fn a_stage_larger_than_the_array_cap_is_split_into_several_arrays() {
    if !slurm_is_up("array_cap") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let launcher = SlurmLauncher::new(SlurmOptions {
        max_array_size: Some(2),
        poll_interval: Duration::from_millis(100),
        ..SlurmOptions::default()
    });
    let s0 = (0..5).map(|b| sh_batch(dir, 0, b, WRITE)).collect();
    let s1 = vec![sh_batch(dir, 1, 0, &needs(0, 5, WRITE))];
    let result = launcher
        .run_stages(&[stage(dir, 0, s0), stage(dir, 1, s1)])
        .unwrap();
    let expect: Vec<_> = (0..5).map(|b| (b, BatchOutcome::Succeeded)).collect();
    assert_eq!(result[0].batches, expect);
    assert_eq!(
        result[1].batches,
        vec![(0, BatchOutcome::Succeeded)],
        "{result:?}"
    );
    let scripts = std::fs::read_dir(dir.join("scratch/0")).unwrap();
    let scripts = scripts.filter(|e| e.as_ref().unwrap().path().extension() == Some("sh".as_ref()));
    assert_eq!(scripts.count(), 3, "5 batches in arrays of at most 2");
}

#[test]
fn mem_and_threads_become_the_elements_allocation() {
    if !slurm_is_up("mem_and_threads") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let report = r#"echo "$SLURM_CPUS_PER_TASK $SLURM_MEM_PER_NODE""#;
    let mut s0 = stage(dir, 0, vec![sh_batch(dir, 0, 0, report)]);
    s0.threads = 2;
    s0.mem_bytes = (100 << 20) + 1; // rounds up to 101 MiB
    let result = launcher().run_stages(&[s0]).unwrap();
    assert_eq!(
        result[0].batches,
        vec![(0, BatchOutcome::Succeeded)],
        "{result:?}"
    );
    let log = std::fs::read_to_string(log_path(dir, 0, 0)).unwrap();
    assert_eq!(log, "2 101\n");
}

/// A directory of fake Slurm commands (shell scripts).
fn fake_slurm(commands: &[(&str, &str)]) -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let bin = tempfile::tempdir().unwrap();
    for (name, body) in commands {
        let path = bin.path().join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    bin
}

fn one_stage(dir: &std::path::Path) -> Vec<chunkwise::engine::StageSubmission> {
    vec![stage(dir, 0, vec![sh_batch(dir, 0, 0, WRITE)])]
}

#[test]
fn a_missing_sbatch_is_an_engine_error_that_says_so() {
    let bin = fake_slurm(&[]);
    let tmp = tempfile::tempdir().unwrap();
    let launcher = SlurmLauncher::new(SlurmOptions {
        commands_dir: Some(bin.path().to_path_buf()),
        ..SlurmOptions::default()
    });
    let err = launcher.run_stages(&one_stage(tmp.path())).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Engine {
                engine: "slurm",
                ..
            }
        ),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains("sbatch") && text.contains("installed and on PATH"),
        "{text}"
    );
}

#[test]
fn sbatch_output_that_is_no_job_id_is_an_engine_error_quoting_it() {
    let bin = fake_slurm(&[("sbatch", "echo 'Submitted batch job 12'")]);
    let tmp = tempfile::tempdir().unwrap();
    let launcher = SlurmLauncher::new(SlurmOptions {
        commands_dir: Some(bin.path().to_path_buf()),
        max_array_size: Some(10),
        ..SlurmOptions::default()
    });
    let err = launcher.run_stages(&one_stage(tmp.path())).unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(
            err,
            Error::Engine {
                engine: "slurm",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        text.contains("--parsable") && text.contains("Submitted batch job 12"),
        "{text}"
    );
}

#[test]
fn a_refused_submission_cancels_the_stages_already_submitted() {
    let tmp = tempfile::tempdir().unwrap();
    let calls = tmp.path().join("calls");
    let sbatch = format!(
        "echo \"$@\" >> {calls:?}\nif [ $(wc -l < {calls:?}) -eq 1 ]; then echo 101; exit 0; fi\n\
         echo 'sbatch: error: Batch job submission failed: Invalid partition name specified' >&2; exit 1"
    );
    let scancel = format!("echo \"scancel $@\" >> {calls:?}");
    let bin = fake_slurm(&[("sbatch", &sbatch), ("scancel", &scancel)]);
    let launcher = SlurmLauncher::new(SlurmOptions {
        commands_dir: Some(bin.path().to_path_buf()),
        max_array_size: Some(10),
        partition: Some("nowhere".into()),
        ..SlurmOptions::default()
    });
    let dir = tmp.path();
    let stages = [
        stage(
            dir,
            0,
            vec![sh_batch(dir, 0, 0, WRITE), sh_batch(dir, 0, 3, WRITE)],
        ),
        stage(dir, 1, vec![sh_batch(dir, 1, 0, WRITE)]),
    ];
    let err = launcher.run_stages(&stages).unwrap_err();
    assert!(err.to_string().contains("Invalid partition name"), "{err}");
    let calls = std::fs::read_to_string(&calls).unwrap();
    let lines: Vec<&str> = calls.lines().collect();
    assert_eq!(lines.len(), 3, "{calls}");
    assert!(
        lines[0].contains("--array=0,3") && lines[0].contains("--partition=nowhere"),
        "{calls}"
    );
    assert!(
        lines[0].contains("--mem=64M") && !lines[0].contains("--dependency"),
        "{calls}"
    );
    assert!(
        lines[1].contains("--dependency=afterok:101")
            && lines[1].contains("--kill-on-invalid-dep=yes"),
        "{calls}"
    );
    assert_eq!(lines[2], "scancel 101");
}
