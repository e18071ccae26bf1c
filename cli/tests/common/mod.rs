//! What the CLI's integration test binaries share: running the `chunkwise` binary in the
//! workspace root, and reading the run data of an HTML `--report`.
#![allow(dead_code)]

use serde_json::Value;
use std::path::Path;
use std::process::Command;

/// The workspace root, where `data/` and `tests/` are (this crate is its `cli/`).
pub(crate) const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

/// A finished run of the binary.
pub(crate) struct Out {
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

/// Runs `chunkwise ARGS` in the workspace root; asserts it did not panic, whatever its exit.
pub(crate) fn chunkwise(args: &[&str]) -> Out {
    let out = Command::new(env!("CARGO_BIN_EXE_chunkwise"))
        .args(args)
        .current_dir(ROOT)
        .output()
        .expect("run the chunkwise binary");
    let o = Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert!(
        !o.stderr.contains("panicked") && !o.stderr.contains("RUST_BACKTRACE"),
        "chunkwise {args:?} panicked:\n{}",
        o.stderr
    );
    o
}

/// The run data an HTML `--report` embeds (`labels`, `events`, `tasks`, ...).
pub(crate) fn report_data(report: &Path) -> Value {
    let html = std::fs::read_to_string(report).unwrap();
    let start = html.find("id=\"run-data\">").unwrap() + "id=\"run-data\">".len();
    let end = start + html[start..].find("</script>").unwrap();
    serde_json::from_str(&html[start..end]).unwrap()
}

/// The source reads of a run's report data: its task events labelled `source...`.
pub(crate) fn source_reads(data: &Value) -> usize {
    let labels = data["labels"].as_array().unwrap();
    data["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            labels[e[4].as_u64().unwrap() as usize]
                .as_str()
                .unwrap()
                .starts_with("source")
        })
        .count()
}
