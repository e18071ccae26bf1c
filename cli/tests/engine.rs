//! `--engine processes`: the CLI re-executes itself as its workers (same arguments), and its
//! outputs equal the local engine's byte for byte (issue 11).
mod common;
#[path = "../../tests/engine_common/probe.rs"]
mod probe;
use common::*;
use std::path::Path;

/// Every file under `dir` (relative path → bytes).
fn files(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().display().to_string();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

#[test]
fn rechunk_and_reduce_on_processes_equal_local() {
    let d = tempfile::tempdir().unwrap();
    let p = |name: &str| d.path().join(name).display().to_string();
    let engine = [
        "--engine",
        "processes",
        "--workers",
        "2",
        "--batch-size",
        "256KiB",
        "--memory-limit",
        "3MiB",
    ];
    let cases: [(&str, Vec<&str>); 2] = [
        (
            "rechunk",
            vec!["rechunk", "--chunks", "60,8,8", "data/sample.zarr:/t2m"],
        ),
        (
            "std",
            vec!["reduce", "std", "--axis", "0", "data/sample.zarr:/t2m"],
        ),
    ];
    for (name, args) in cases {
        let (local_out, procs_out) = (
            p(&format!("{name}-local.zarr")),
            p(&format!("{name}-procs.zarr")),
        );
        let mut local = vec!["--memory-limit", "3MiB"];
        local.extend(&args);
        local.push(&local_out);
        let l = chunkwise(&local);
        assert_eq!(l.code, 0, "{}", l.stderr);
        // Each command its own work directory: another command's plan there is refused.
        let work = p(&format!("work-{name}"));
        let mut procs = engine.to_vec();
        procs.extend(["--work-dir", &work]);
        procs.extend(&args);
        procs.push(&procs_out);
        let r = chunkwise(&procs);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let (a, b) = (files(Path::new(&local_out)), files(Path::new(&procs_out)));
        assert!(a.len() > 1, "{name}: {:?}", a.keys());
        assert_eq!(
            a.keys().collect::<Vec<_>>(),
            b.keys().collect::<Vec<_>>(),
            "{name}"
        );
        assert!(a == b, "{name}: the outputs differ");
        // The workers ran: logs of several batches are in the work directory.
        let logs = std::fs::read_dir(Path::new(&work).join("compute-0/logs"))
            .unwrap()
            .count();
        // (the std's result is one block of (73, 144): one batch)
        let want = if name == "std" { 1 } else { 2 };
        assert!(logs >= want, "{name}: {logs} batch logs");
    }
    // An engine without a work directory is refused, naming the option.
    let no_dir = chunkwise(&["--engine", "processes", "stats", "data/sample.zarr:/t2m"]);
    assert_ne!(no_dir.code, 0);
    assert!(no_dir.stderr.contains("--work-dir"), "{}", no_dir.stderr);
}

/// `chunkwise --engine slurm --work-dir DIR rechunk ...`: each stage an array job, the output
/// equal to the local engine's byte for byte. Skipped with a note without Slurm (unless
/// `CHUNKWISE_REQUIRE_SLURM=1`).
#[test]
fn rechunk_on_slurm_equals_local() {
    if !probe::slurm_is_up("rechunk_on_slurm_equals_local") {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let p = |name: &str| d.path().join(name).display().to_string();
    let (local_out, slurm_out, work) = (p("local.zarr"), p("slurm.zarr"), p("work"));
    let args = ["rechunk", "--chunks", "60,8,8", "data/sample.zarr:/t2m"];
    let mut local = vec!["--memory-limit", "3MiB"];
    local.extend(args);
    local.push(&local_out);
    let l = chunkwise(&local);
    assert_eq!(l.code, 0, "{}", l.stderr);
    let mut slurm = vec![
        "--engine",
        "slurm",
        "--work-dir",
        &work,
        "--batch-size",
        "1MiB",
        "--memory-limit",
        "3MiB",
    ];
    slurm.extend(args);
    slurm.push(&slurm_out);
    let r = chunkwise(&slurm);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let (a, b) = (files(Path::new(&local_out)), files(Path::new(&slurm_out)));
    assert!(a.len() > 1, "{:?}", a.keys());
    assert!(a == b, "the outputs differ");
    // Slurm ran the batches: the job scripts of the stages are in the work directory.
    let scripts = std::fs::read_dir(Path::new(&work).join("compute-0/engine"))
        .unwrap()
        .filter(|e| {
            let name = e.as_ref().unwrap().file_name();
            name.to_string_lossy().starts_with("slurm-stage")
        })
        .count();
    assert!(scripts >= 1, "{scripts} job scripts");
}
