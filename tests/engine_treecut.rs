//! Reduction trees cut into stages (issue 11, item 6) on the `processes` engine: with a batch
//! size far below one output block's work, every reduction's tree is cut at two levels (its
//! partials written to the work directory between stages), and the results are equal to the
//! local engine's bit for bit. As in `tests/engine.rs`, this test binary is its own worker
//! program (`worker_program`, which does nothing unless `TREECUT_TEST_PROGRAM` is set).
#![cfg(feature = "zarr")]
use chunkwise::engine::Engine;
use chunkwise::prelude::*;
use std::path::{Path, PathBuf};
use std::process::Command;

const PROGRAM_VAR: &str = "TREECUT_TEST_PROGRAM";
/// 1,024 blocks of 8 × 8 f64 along the reduced axis: 16 groups of 64 blocks per tree.
const SHAPE: [usize; 3] = [1024, 8, 16];
const CHUNKS: [usize; 3] = [1, 8, 8];
/// Far below a group's 32 KiB of input: the trees are cut at their leaves, then once more.
const BATCH: usize = 2 << 10;

/// The reductions, in the order the program writes them.
const NAMES: [&str; 15] = [
    "mean0",
    "std0",
    "var0",
    "sum0",
    "min0",
    "max0",
    "nanmean0",
    "mean",
    "std",
    "var",
    "sum",
    "min",
    "max",
    "nanmean",
    "anomaly_std0",
];

fn program() -> chunkwise::Result<()> {
    let var = |k: &str| std::env::var(k).unwrap_or_default();
    let mut b = Runtime::builder().threads(1).memory_limit(64 << 20);
    if var("TREECUT_TEST_ENGINE") == "processes" {
        b = b
            .engine(Engine::Processes { workers: 2 })
            .work_dir(var("TREECUT_TEST_WORK"))
            .batch_bytes(BATCH);
    }
    let rt = b.build()?;
    let x = ChunkedArray::<f64>::open_zarr(var("TREECUT_TEST_INPUT"), "x")?;
    let anomaly = (&x - &x.mean_axis(0)?)?;
    let arrays = [
        x.mean_axis(0)?,
        x.std_axis(0)?,
        x.var_axis(0)?,
        x.sum_axis(0)?,
        x.nanmin_axis(0)?,
        x.nanmax_axis(0)?,
        x.nanmean_axis(0)?,
        x.mean(),
        x.std(),
        x.var(),
        x.sum(),
        x.nanmin()?,
        x.nanmax()?,
        x.nanmean(),
        anomaly.std_axis(0)?,
    ];
    let refs: Vec<&ChunkedArray<f64>> = arrays.iter().collect();
    let results = chunkwise::compute_all(&rt, &refs)?;
    let report = rt.last_report();
    let mut lines = Vec::new();
    for (name, r) in NAMES.iter().zip(&results) {
        let bits: Vec<String> = r.iter().map(|v| format!("{:016x}", v.to_bits())).collect();
        lines.push(format!("{name} {:?} {}", r.shape(), bits.join(",")));
    }
    if let Some(e) = &report.engine {
        lines.push(format!(
            "engine {} {} {}",
            e.stages, e.batches, e.batches_run
        ));
    }
    std::fs::write(
        PathBuf::from(var("TREECUT_TEST_OUT")).join("out.txt"),
        lines.join("\n"),
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

/// A store of normal values around 280 with a few NaN (so min/max are the NaN-skipping ones
/// and nanmean differs from mean).
fn make_input(dir: &Path) -> PathBuf {
    let store = dir.join("in.zarr");
    let rt = Runtime::builder().threads(2).build().unwrap();
    let x = ChunkedArray::<f64>::random_normal(&SHAPE, CHUNKS, 11, 280.0, 5.0)
        .unwrap()
        .compute(&rt)
        .unwrap();
    let mut x = x;
    for (k, v) in x.iter_mut().enumerate() {
        if k % 977 == 5 {
            *v = f64::NAN;
        }
    }
    ChunkedArray::from_ndarray(x, CHUNKS)
        .unwrap()
        .to_zarr(&rt, &store, "x")
        .unwrap();
    store
}

fn run(input: &Path, out: &Path, engine: &str, work: &Path) -> String {
    std::fs::create_dir_all(out).unwrap();
    let output = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "worker_program",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(PROGRAM_VAR, "1")
        .env("TREECUT_TEST_INPUT", input)
        .env("TREECUT_TEST_OUT", out)
        .env("TREECUT_TEST_ENGINE", engine)
        .env("TREECUT_TEST_WORK", work)
        .env_remove("CHUNKWISE_FAULT")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "the {engine} program failed: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    std::fs::read_to_string(out.join("out.txt")).unwrap()
}

#[test]
fn cut_reduction_trees_equal_the_local_engine_bit_for_bit() {
    let dir = tempfile::tempdir().unwrap();
    let input = make_input(dir.path());
    let work = dir.path().join("work");
    let local = run(&input, &dir.path().join("local"), "local", &work);
    let procs = run(&input, &dir.path().join("procs"), "processes", &work);
    let (mut local, mut procs) = (local.lines(), procs.lines());
    for name in NAMES {
        let (l, p) = (local.next().unwrap(), procs.next().unwrap());
        assert!(l.starts_with(&format!("{name} ")), "{l}");
        assert_eq!(p, l, "{name}: processes differ from local");
    }
    // Every reduction was cut. Over axis 0 (the anomaly's mean too): partials of the 16
    // groups, partials one level up (4), then the result: 9 × 3 stages. Over all axes (32
    // groups of 2,048 blocks; a partial is one state): partials of the 32 groups, then the
    // result, which reads them all in one batch: 7 × 2 stages.
    let engine: Vec<usize> = procs
        .next()
        .expect("an engine report")
        .split(' ')
        .skip(1)
        .map(|f| f.parse().unwrap())
        .collect();
    assert_eq!(engine[0], 9 * 3 + 7 * 2, "stages: {engine:?}");
    let plan = std::fs::read_to_string(work.join("compute-0").join("plan.json")).unwrap();
    assert!(
        plan.contains("result 0: partials at tree depth 2 (16 subtrees)"),
        "{plan}"
    );
    assert!(
        plan.contains("result 0: partials at tree depth 1 (4 subtrees)"),
        "{plan}"
    );
    assert!(
        plan.contains("result 7: partials at tree depth 3 (32 subtrees)"),
        "{plan}"
    );
    assert_eq!(engine[1], engine[2], "every batch ran once: {engine:?}");
}
