//! A work directory on S3 (feature `object-store`, issue 11): the program of
//! `engine_common/program.rs` on the `processes` engine with `work_dir("s3://...")`. The plan,
//! the stages' arrays and the done-markers are objects; the workers' logs are local files
//! (`$TMPDIR/chunkwise-logs/HASH`, or the runtime's log directory). Against the S3 API at
//! `AWS_ENDPOINT` (moto, `.ci/s3_up.sh`) in the bucket `CHUNKWISE_S3_BUCKET`; without them the
//! test prints a note and passes, unless `CHUNKWISE_REQUIRE_S3=1` (as `.ci/run` sets).
#![cfg(feature = "object-store")]

mod engine_common;

use engine_common::program::{equals_local_bit_for_bit, run_program, worker_main};
use zarrs_object_store::object_store::{ObjectStore, aws::AmazonS3Builder, path::Path as Key};

#[test]
fn worker_program() {
    worker_main();
}

/// `(bucket, prefix)` of a fresh prefix for this run, `None` (after a note) without S3.
fn s3_prefix() -> Option<(String, String)> {
    let bucket = std::env::var("CHUNKWISE_S3_BUCKET").unwrap_or_default();
    if bucket.is_empty() || std::env::var_os("AWS_ENDPOINT").is_none() {
        assert!(
            std::env::var("CHUNKWISE_REQUIRE_S3").as_deref() != Ok("1"),
            "CHUNKWISE_REQUIRE_S3=1 but AWS_ENDPOINT / CHUNKWISE_S3_BUCKET are not set"
        );
        eprintln!("note: skipped, no S3 endpoint (start moto with `. .ci/s3_up.sh`)");
        return None;
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    Some((
        bucket,
        format!("engine-{}-{nanos}/work", std::process::id()),
    ))
}

/// The keys under `prefix` in `bucket`, relative to it, sorted.
fn keys(bucket: &str, prefix: &str) -> Vec<String> {
    let store = AmazonS3Builder::from_env()
        .with_bucket_name(bucket)
        .build()
        .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut keys: Vec<String> = rt.block_on(async {
        use futures::TryStreamExt;
        store
            .list(Some(&Key::from(prefix)))
            .map_ok(|m| m.location.to_string())
            .try_collect()
            .await
            .unwrap()
    });
    keys.iter_mut()
        .for_each(|k| *k = k[prefix.len() + 1..].to_string());
    keys.sort();
    keys
}

#[test]
fn processes_with_an_s3_work_dir_equal_local_and_a_rerun_skips_every_batch() {
    let Some((bucket, prefix)) = s3_prefix() else {
        return;
    };
    let work = format!("s3://{bucket}/{prefix}");
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    let log_env = [("ENGINE_TEST_LOG_DIR", logs.to_str().unwrap())];
    let first = equals_local_bit_for_bit("processes", dir.path(), &work, &log_env);
    // Plan, arrays and done-markers are objects; nothing of them is local.
    let stored = keys(&bucket, &prefix);
    for c in 0..2 {
        assert!(
            stored.contains(&format!("compute-{c}/plan.json")),
            "{stored:?}"
        );
        let done = stored
            .iter()
            .filter(|k| k.starts_with(&format!("compute-{c}/done/")))
            .count();
        let batches: usize = first.reports()[c][2].parse().unwrap();
        assert_eq!(
            done, batches,
            "one done-marker object per batch: {stored:?}"
        );
        assert!(
            stored
                .iter()
                .any(|k| k.starts_with(&format!("compute-{c}/arrays/s0/"))),
            "{stored:?}"
        );
    }
    assert!(!stored.iter().any(|k| k.contains("/logs/")), "{stored:?}");
    // The workers' logs are in the log directory.
    let worker_logs = std::fs::read_dir(logs.join("compute-0/logs"))
        .unwrap()
        .count();
    assert!(worker_logs >= 2, "{worker_logs} logs");
    // Run again: every batch has its done-marker, none runs, the results are the same.
    let input = dir.path().join("in.zarr");
    let rerun = run_program(
        &input,
        &dir.path().join("rerun"),
        "processes",
        &work,
        &log_env,
    );
    rerun.ok();
    for (r, before) in rerun.reports().iter().zip(first.reports()) {
        assert_eq!(r[0], before[0], "the same plan: {r:?}");
        assert_eq!(r[3], "0", "no batch ran again: {r:?}");
        assert_eq!(r[4], r[2], "every batch skipped: {r:?}");
    }
    assert_eq!(rerun.std_bits(), first.std_bits());
    assert_eq!(rerun.pencil(), first.pencil());
}
