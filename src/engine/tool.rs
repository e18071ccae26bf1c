//! Running an engine's command-line tools (`sbatch`, `squeue`, a Python): one place that turns
//! a missing program or a refusal into an [`Error::Engine`] naming the command and what it
//! printed.

use crate::error::Error;
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::Command;

/// What a tool printed when it exited with status 0.
pub(crate) struct ToolOutput {
    pub(crate) stdout: String,
}

/// How a tool failed, kept apart from the error so callers can accept some failures (e.g.
/// `squeue` saying a finished job is no longer known).
pub(crate) enum ToolFailure {
    /// It could not be started at all (the error is ready to return).
    NotStarted(Box<Error>),
    /// It ran and exited non-zero: its status and what it printed on stderr and stdout.
    Refused { error: Box<Error>, printed: String },
}

impl ToolFailure {
    /// The error to return when the failure is not acceptable.
    pub(crate) fn into_error(self) -> Error {
        match self {
            ToolFailure::NotStarted(error) | ToolFailure::Refused { error, .. } => *error,
        }
    }
}

/// The program `name`, in `dir` when one is given, else looked up on `PATH`.
pub(crate) fn tool_path(dir: Option<&Path>, name: &str) -> PathBuf {
    match dir {
        Some(dir) => dir.join(name),
        None => PathBuf::from(name),
    }
}

/// `program args...` as a person would type it (lossy for non-UTF-8), for messages.
pub(crate) fn command_line(program: &Path, args: &[OsString]) -> String {
    let mut line = program.display().to_string();
    for arg in args {
        line.push(' ');
        line.push_str(&arg.to_string_lossy());
    }
    line
}

/// Runs `program args...` and returns its stdout, or how it failed.
pub(crate) fn run_tool(
    engine: &'static str,
    program: &Path,
    args: &[OsString],
) -> std::result::Result<ToolOutput, ToolFailure> {
    let line = command_line(program, args);
    let output = Command::new(program).args(args).output().map_err(|e| {
        let hint = if e.kind() == std::io::ErrorKind::NotFound {
            format!(
                " (is {engine}'s `{}` installed and on PATH?)",
                file_name(program)
            )
        } else {
            String::new()
        };
        ToolFailure::NotStarted(Box::new(Error::Engine {
            engine,
            detail: format!("cannot run `{line}`: {e}{hint}"),
        }))
    })?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if output.status.success() {
        return Ok(ToolOutput { stdout });
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let printed = format!("{}{}", stderr.trim(), stdout.trim());
    Err(ToolFailure::Refused {
        error: Box::new(Error::Engine {
            engine,
            detail: format!(
                "`{line}` failed ({}): {}",
                output.status,
                printed_or_nothing(&printed)
            ),
        }),
        printed,
    })
}

/// `what` in quotes, or `printed nothing` when it is empty.
pub(crate) fn printed_or_nothing(what: &str) -> String {
    let what = what.trim();
    if what.is_empty() {
        "it printed nothing".to_string()
    } else {
        format!("it printed {what:?}")
    }
}

fn file_name(program: &Path) -> String {
    program
        .file_name()
        .unwrap_or(OsStr::new(""))
        .to_string_lossy()
        .into_owned()
}

/// `word` quoted for a POSIX shell: in single quotes, each `'` written as `'\''`. Works on the
/// raw bytes, so arguments that are not UTF-8 pass through unchanged.
pub(crate) fn shell_quote(word: &OsStr) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt;
    let mut quoted = Vec::with_capacity(word.len() + 2);
    quoted.push(b'\'');
    for &byte in word.as_bytes() {
        if byte == b'\'' {
            quoted.extend_from_slice(b"'\\''");
        } else {
            quoted.push(byte);
        }
    }
    quoted.push(b'\'');
    quoted
}

/// Whether `name` can be an environment variable set by a shell script (`[A-Za-z_][A-Za-z0-9_]*`).
pub(crate) fn is_env_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b'A'..=b'Z' | b'a'..=b'z' | b'_'))
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_survives_the_shell() {
        let tricky = ["plain", "two words", "it's", "'", "$HOME `x` \\ \"q\"", ""];
        let mut script = b"printf '%s\\n'".to_vec();
        for word in tricky {
            script.push(b' ');
            script.extend(shell_quote(OsStr::new(word)));
        }
        let out = Command::new("/bin/sh")
            .arg("-c")
            .arg(OsStr::new(std::str::from_utf8(&script).unwrap()))
            .output()
            .unwrap();
        let printed = String::from_utf8(out.stdout).unwrap();
        assert_eq!(printed, tricky.map(|w| format!("{w}\n")).concat());
    }

    #[test]
    fn env_names() {
        assert!(is_env_name("CHUNKWISE_STAGE"));
        assert!(is_env_name("_x1"));
        assert!(!is_env_name("1X"));
        assert!(!is_env_name("A-B"));
        assert!(!is_env_name(""));
    }

    #[test]
    fn a_missing_tool_is_an_engine_error_naming_it() {
        let err = run_tool(
            "slurm",
            Path::new("/nonexistent/sbatch"),
            &["--parsable".into()],
        )
        .err()
        .unwrap()
        .into_error();
        let text = err.to_string();
        assert!(matches!(
            err,
            Error::Engine {
                engine: "slurm",
                ..
            }
        ));
        assert!(text.contains("/nonexistent/sbatch --parsable"), "{text}");
        assert!(text.contains("installed and on PATH"), "{text}");
    }

    #[test]
    fn a_refusal_names_the_command_and_what_it_printed() {
        let args: Vec<OsString> = vec!["-c".into(), "echo nope >&2; exit 2".into()];
        let Err(ToolFailure::Refused { error, printed }) =
            run_tool("slurm", Path::new("/bin/sh"), &args)
        else {
            panic!("expected a refusal");
        };
        assert_eq!(printed, "nope");
        assert!(error.to_string().contains("\"nope\""), "{error}");
    }
}
