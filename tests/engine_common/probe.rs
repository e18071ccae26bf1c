//! Whether a cluster engine is here to test against: Slurm (`sinfo`, within 2 s unless it is
//! required: with no controller Slurm's commands retry for about 10-30 s) and a python with HyperQueue's wheel.
//! Shared by the library's engine suites and the CLI's (`cli/tests/engine.rs` includes this
//! file by path).
#![allow(dead_code)]

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long `sinfo` may take to answer before Slurm counts as not here: 2 s, so that the
/// suites skip fast without Slurm; 30 s when `CHUNKWISE_REQUIRE_SLURM=1` says it is here (a
/// loaded machine must not fail CI by a slow answer).
fn sinfo_deadline() -> Duration {
    if std::env::var("CHUNKWISE_REQUIRE_SLURM").as_deref() == Ok("1") {
        Duration::from_secs(30)
    } else {
        Duration::from_secs(2)
    }
}

/// `program args` run for at most `deadline`: its stdout when it exited 0 in time, else why
/// not.
fn answer_within(program: &str, args: &[&str], deadline: Duration) -> Result<String, String> {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) => {
                let mut out = String::new();
                if let Some(mut pipe) = child.stdout.take() {
                    let _ = pipe.read_to_string(&mut out);
                }
                return if status.success() {
                    Ok(out)
                } else {
                    Err(format!("{program} exited with {status}"))
                };
            }
            Ok(None) if start.elapsed() < deadline => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{program} did not answer within {deadline:?}"));
            }
            Err(e) => return Err(format!("waiting for {program}: {e}")),
        }
    }
}

/// Whether a Slurm cluster answers (`sinfo` lists a usable node within 2 s); panics when it
/// does not but `CHUNKWISE_REQUIRE_SLURM=1` says it must, else prints a note that `test` is
/// skipped. A node still completing the previous test's jobs (`comp`) is usable: jobs
/// submitted now wait for it (a CI run failed on a node caught in that state).
pub(crate) fn slurm_is_up(test: &str) -> bool {
    let state = answer_within("sinfo", &["-h", "-N", "-o", "%t"], sinfo_deadline());
    let up = matches!(&state, Ok(out) if out.lines().any(|s| {
        matches!(s.trim().trim_end_matches('*'), "idle" | "mix" | "alloc" | "comp")
    }));
    if !up {
        if std::env::var("CHUNKWISE_REQUIRE_SLURM").as_deref() == Ok("1") {
            panic!(
                "{test}: CHUNKWISE_REQUIRE_SLURM=1 but no Slurm node answers `sinfo` ({state:?})"
            );
        }
        eprintln!("note: {test} skipped: no Slurm here (start one with .ci/slurm_up.sh)");
    }
    up
}

/// The python with HyperQueue's wheel (`$CHUNKWISE_HQ_PYTHON`, else `python3`) when it can
/// `import hyperqueue`; panics when it cannot but `CHUNKWISE_REQUIRE_HQ=1` says it must, else
/// prints a note that `test` is skipped.
pub(crate) fn hq_python(test: &str) -> Option<PathBuf> {
    let python = std::env::var_os("CHUNKWISE_HQ_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("python3"));
    let probe = Command::new(&python)
        .args(["-c", "import hyperqueue"])
        .output();
    if matches!(&probe, Ok(out) if out.status.success()) {
        return Some(python);
    }
    if std::env::var("CHUNKWISE_REQUIRE_HQ").as_deref() == Ok("1") {
        panic!(
            "{test}: CHUNKWISE_REQUIRE_HQ=1 but {} cannot import hyperqueue ({probe:?})",
            python.display()
        );
    }
    eprintln!(
        "note: {test} skipped: {} has no hyperqueue (set CHUNKWISE_HQ_PYTHON; .ci/hq_venv.sh makes one)",
        python.display()
    );
    None
}
