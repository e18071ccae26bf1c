//! Scenarios shared by the engine suites (`engine_slurm.rs`, `engine_hyperqueue.rs`, and
//! `engine.rs` for the end-to-end program of `program.rs`):
//! batches that are `/bin/sh -c '...'` writing files, so a launcher can be tested before the
//! stage driver exists. Batch `b` of stage `s` writes `out-<s>-<b>` in the run's directory;
//! a stage's batches check that every file of the stage before exists.
#![allow(dead_code)]

pub(crate) mod probe;
#[cfg(feature = "zarr")]
pub(crate) mod program;

use chunkwise::engine::{BatchCommand, BatchOutcome, Launcher, StageOutcome, StageSubmission};
use std::path::{Path, PathBuf};

/// Logs one line, then writes this batch's output file.
pub(crate) const WRITE: &str =
    r#"echo "ran stage $CW_STAGE batch $CW_BATCH"; : > "$1/out-$CW_STAGE-$CW_BATCH""#;

/// A script that fails (exit 5) unless every `out-<stage>-<i>` for `i < count` exists, then
/// does `then`.
pub(crate) fn needs(stage: usize, count: usize, then: &str) -> String {
    format!(
        r#"for i in $(seq 0 {last}); do test -f "$1/out-{stage}-$i" || {{ echo "missing out-{stage}-$i"; exit 5; }}; done; {then}"#,
        last = count - 1
    )
}

/// Batch `batch` of `stage`: `/bin/sh -c script sh DIR`, with `CW_STAGE`/`CW_BATCH` set.
pub(crate) fn sh_batch(dir: &Path, stage: usize, batch: usize, script: &str) -> BatchCommand {
    BatchCommand {
        batch,
        program: PathBuf::from("/bin/sh"),
        args: vec![
            "-c".into(),
            script.into(),
            "sh".into(),
            dir.as_os_str().to_owned(),
        ],
        env: vec![
            ("CW_STAGE".into(), stage.to_string()),
            ("CW_BATCH".into(), batch.to_string()),
        ],
        log: log_path(dir, stage, batch),
    }
}

/// Where batch `batch` of `stage` logs.
pub(crate) fn log_path(dir: &Path, stage: usize, batch: usize) -> PathBuf {
    dir.join("logs")
        .join(format!("stage{stage}-batch{batch}.log"))
}

/// A stage of `batches`, 1 thread and 64 MiB per worker, scratch in `dir/scratch/<stage>`.
pub(crate) fn stage(dir: &Path, stage: usize, batches: Vec<BatchCommand>) -> StageSubmission {
    StageSubmission {
        stage,
        name: format!("test stage {stage}"),
        batches,
        mem_bytes: 64 << 20,
        threads: 1,
        scratch: dir.join("scratch").join(stage.to_string()),
    }
}

fn outcomes(stage: &StageOutcome) -> Vec<BatchOutcome> {
    stage.batches.iter().map(|(_, o)| o.clone()).collect()
}

/// Two stages (3 batches, then 2 that need all 3 files): all succeed, in order, each batch
/// with its own environment and log.
pub(crate) fn two_stages_in_order(launcher: &dyn Launcher) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let s0 = (0..3).map(|b| sh_batch(dir, 0, b, WRITE)).collect();
    let s1 = (0..2)
        .map(|b| sh_batch(dir, 1, b, &needs(0, 3, WRITE)))
        .collect();
    let result = launcher
        .run_stages(&[stage(dir, 0, s0), stage(dir, 1, s1)])
        .unwrap();
    assert_eq!(result.len(), 2);
    assert_eq!(result[0].stage, 0);
    assert_eq!(
        result[0]
            .batches
            .iter()
            .map(|(b, _)| *b)
            .collect::<Vec<_>>(),
        [0, 1, 2]
    );
    assert_eq!(outcomes(&result[0]), vec![BatchOutcome::Succeeded; 3]);
    assert_eq!(
        outcomes(&result[1]),
        vec![BatchOutcome::Succeeded; 2],
        "{result:?}"
    );
    for (s, b) in [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1)] {
        assert!(dir.join(format!("out-{s}-{b}")).exists(), "out-{s}-{b}");
        let log = std::fs::read_to_string(log_path(dir, s, b)).unwrap();
        assert_eq!(log, format!("ran stage {s} batch {b}\n"));
    }
}

/// Batch 1 of stage 0 exits 3 (until `fixed` exists): it is `Failed { code: Some(3) }`, its
/// siblings succeed, stage 1 is `NotRun`. Resubmitting only batch 1 (and stage 1) then
/// succeeds without rerunning batches 0 and 2, and batch 1's log keeps both tries.
pub(crate) fn failure_then_retry_of_the_failed_batch(launcher: &dyn Launcher) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let flaky = format!(
        r#"if [ "$CW_BATCH" = 1 ] && [ ! -e "$1/fixed" ]; then echo "batch 1 fails"; exit 3; fi; {WRITE}"#
    );
    let s0: Vec<_> = (0..3).map(|b| sh_batch(dir, 0, b, &flaky)).collect();
    let s1: Vec<_> = (0..2)
        .map(|b| sh_batch(dir, 1, b, &needs(0, 3, WRITE)))
        .collect();
    let result = launcher
        .run_stages(&[stage(dir, 0, s0.clone()), stage(dir, 1, s1.clone())])
        .unwrap();
    let first = outcomes(&result[0]);
    assert_eq!(first[0], BatchOutcome::Succeeded, "{result:?}");
    assert_eq!(first[2], BatchOutcome::Succeeded, "{result:?}");
    assert!(
        matches!(&first[1], BatchOutcome::Failed { code: Some(3), .. }),
        "{result:?}"
    );
    assert_eq!(
        outcomes(&result[1]),
        vec![BatchOutcome::NotRun; 2],
        "{result:?}"
    );
    assert!(!dir.join("out-1-0").exists() && !dir.join("out-1-1").exists());

    std::fs::write(dir.join("fixed"), "").unwrap();
    let retry = vec![s0[1].clone()];
    let result = launcher
        .run_stages(&[stage(dir, 0, retry), stage(dir, 1, s1)])
        .unwrap();
    assert_eq!(
        result[0].batches,
        vec![(1, BatchOutcome::Succeeded)],
        "{result:?}"
    );
    assert_eq!(
        outcomes(&result[1]),
        vec![BatchOutcome::Succeeded; 2],
        "{result:?}"
    );
    let log1 = std::fs::read_to_string(log_path(dir, 0, 1)).unwrap();
    assert_eq!(log1, "batch 1 fails\nran stage 0 batch 1\n");
    let log0 = std::fs::read_to_string(log_path(dir, 0, 0)).unwrap();
    assert_eq!(log0, "ran stage 0 batch 0\n", "batch 0 ran again");
}

/// A stage with no batches (all done in an earlier run) is skipped: the next depends on the
/// one before it.
pub(crate) fn an_empty_stage_in_the_middle(launcher: &dyn Launcher) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let s0 = (0..2).map(|b| sh_batch(dir, 0, b, WRITE)).collect();
    let s2 = vec![sh_batch(dir, 2, 0, &needs(0, 2, WRITE))];
    let stages = [
        stage(dir, 0, s0),
        stage(dir, 1, Vec::new()),
        stage(dir, 2, s2),
    ];
    let result = launcher.run_stages(&stages).unwrap();
    assert_eq!(
        result[1],
        StageOutcome {
            stage: 1,
            batches: Vec::new()
        }
    );
    assert_eq!(
        result[2].batches,
        vec![(0, BatchOutcome::Succeeded)],
        "{result:?}"
    );
}
