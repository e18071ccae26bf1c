//! The job script of one array: element `i` runs the batch at array index `i`, with the
//! batch's own environment and arguments, its stdout and stderr appended to the batch's log.
//! Batches can thus differ in anything, and `--array=LIST` picks which of them run.

use crate::engine::launch::BatchCommand;
use crate::engine::tool::{is_env_name, shell_quote};
use crate::error::{Error, Result};
use std::ffi::OsStr;

/// What `SLURM_ARRAY_TASK_ID` says when it names no batch of the script.
pub(super) const NO_SUCH_ELEMENT_EXIT: i32 = 97;

/// The script for `elements`: `(array index, batch)` pairs; `title` goes into its comment.
///
/// # Errors
/// [`Error::Engine`] when a batch's environment names a variable that a shell cannot set.
pub(super) fn job_script(title: &str, elements: &[(usize, &BatchCommand)]) -> Result<Vec<u8>> {
    let mut script = b"#!/bin/sh\n".to_vec();
    script.extend_from_slice(format!("# chunkwise: {}\n", title.replace('\n', " ")).as_bytes());
    script.extend_from_slice(b"case \"$SLURM_ARRAY_TASK_ID\" in\n");
    for &(index, batch) in elements {
        script.extend_from_slice(format!("{index})\n  exec >>").as_bytes());
        script.extend(shell_quote(batch.log.as_os_str()));
        script.extend_from_slice(b" 2>&1\n");
        for (name, value) in &batch.env {
            if !is_env_name(name) {
                return Err(Error::Engine {
                    engine: "slurm",
                    detail: format!(
                        "batch {}: environment variable name {name:?} cannot be set by a job script",
                        batch.batch
                    ),
                });
            }
            script.extend_from_slice(format!("  export {name}=").as_bytes());
            script.extend(shell_quote(OsStr::new(value)));
            script.push(b'\n');
        }
        script.extend_from_slice(b"  exec ");
        script.extend(shell_quote(batch.program.as_os_str()));
        for arg in &batch.args {
            script.push(b' ');
            script.extend(shell_quote(arg));
        }
        script.extend_from_slice(b"\n  ;;\n");
    }
    script.extend_from_slice(
        format!(
            "*)\n  echo \"chunkwise: this job script has no batch for array element $SLURM_ARRAY_TASK_ID\" >&2\n  exit {NO_SUCH_ELEMENT_EXIT}\n  ;;\nesac\n"
        )
        .as_bytes(),
    );
    Ok(script)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;
    use std::process::Command;

    fn batch(dir: &std::path::Path, b: usize, arg: &str) -> BatchCommand {
        BatchCommand {
            batch: b,
            program: PathBuf::from("/bin/sh"),
            args: vec![
                "-c".into(),
                "printf '%s|%s|%s\\n' \"$1\" \"$CW_VALUE\" \"$#\"; exit 4".into(),
                "sh".into(),
                arg.into(),
            ],
            env: vec![("CW_VALUE".into(), format!("it's batch {b} $HOME"))],
            log: dir.join(format!("batch {b}.log")),
        }
    }

    #[test]
    fn each_element_runs_its_own_batch_with_its_env_and_log() {
        let dir = tempfile::tempdir().unwrap();
        let (b3, b8) = (
            batch(dir.path(), 3, "a 'quoted' arg"),
            batch(dir.path(), 8, "x\ny"),
        );
        let script = job_script("stage 1", &[(3, &b3), (8, &b8)]).unwrap();
        let path = dir.path().join("job.sh");
        std::fs::write(&path, script).unwrap();
        for (index, want) in [
            ("3", "a 'quoted' arg|it's batch 3 $HOME|1\n"),
            ("8", "x\ny|it's batch 8 $HOME|1\n"),
        ] {
            let status = Command::new("/bin/sh")
                .arg(&path)
                .env("SLURM_ARRAY_TASK_ID", index)
                .status()
                .unwrap();
            assert_eq!(status.code(), Some(4));
            let log = dir.path().join(format!("batch {index}.log"));
            assert_eq!(std::fs::read_to_string(log).unwrap(), want);
        }
        let out = Command::new("/bin/sh")
            .arg(&path)
            .env("SLURM_ARRAY_TASK_ID", "5")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(NO_SUCH_ELEMENT_EXIT));
        assert!(String::from_utf8_lossy(&out.stderr).contains("array element 5"));
    }

    #[test]
    fn a_variable_name_a_shell_cannot_set_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let mut b = batch(dir.path(), 0, "x");
        b.env.push(("BAD-NAME".into(), "1".into()));
        let err = job_script("stage 0", &[(0, &b)]).unwrap_err();
        assert!(err.to_string().contains("BAD-NAME"), "{err}");
    }
}
