//! Running an engine's command-line tools (`sbatch`, `squeue`, a Python): one place that turns
//! a missing program or a refusal into an [`Error::Engine`] naming the command and what it
//! printed.

use crate::error::Error;
use std::ffi::{OsStr, OsString};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

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
    /// It did not exit before its deadline, and was killed.
    TimedOut(Box<Error>),
}

impl ToolFailure {
    /// The error to return when the failure is not acceptable.
    pub(crate) fn into_error(self) -> Error {
        match self {
            ToolFailure::NotStarted(error)
            | ToolFailure::Refused { error, .. }
            | ToolFailure::TimedOut(error) => *error,
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
    run_tool_within(engine, program, args, None)
}

/// Runs the program until `deadline` at the most: a probe of a service that may be down
/// (Slurm's commands retry a controller that does not answer for about 30 s).
fn output_within(
    program: &Path,
    args: &[OsString],
    deadline: Option<Duration>,
) -> std::io::Result<Option<Output>> {
    let Some(deadline) = deadline else {
        return Command::new(program).args(args).output().map(Some);
    };
    use std::os::unix::process::CommandExt;
    // Its own process group, so that a time-out stops what it started too.
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()?;
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            bytes
        })
    };
    let out = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let err = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if start.elapsed() >= deadline {
            if let Ok(pid) = libc::pid_t::try_from(child.id()) {
                // SAFETY: kill(2) of the process group of the child started above.
                unsafe { libc::kill(-pid, libc::SIGKILL) };
            }
            let _ = child.kill();
            let _ = child.wait();
            // The readers end when the last holder of the pipes is gone; not waited for.
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let (stdout, stderr) = (
        out.join().unwrap_or_default(),
        err.join().unwrap_or_default(),
    );
    Ok(Some(Output {
        status,
        stdout,
        stderr,
    }))
}

/// [`run_tool`], giving up (a [`ToolFailure::TimedOut`]) when the program has not
/// exited after `deadline`.
pub(crate) fn run_tool_within(
    engine: &'static str,
    program: &Path,
    args: &[OsString],
    deadline: Option<Duration>,
) -> std::result::Result<ToolOutput, ToolFailure> {
    let line = command_line(program, args);
    let output = output_within(program, args, deadline).map_err(|e| {
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
    let Some(output) = output else {
        let waited = deadline.unwrap_or_default().as_secs_f64();
        return Err(ToolFailure::TimedOut(Box::new(Error::Engine {
            engine,
            detail: format!("`{line}` did not answer within {waited} s (is {engine} running?)"),
        })));
    };
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
    fn a_tool_that_does_not_answer_in_time_is_stopped_and_named() {
        let args: Vec<OsString> = vec!["-c".into(), "sleep 30".into()];
        let start = Instant::now();
        let Err(ToolFailure::TimedOut(error)) = run_tool_within(
            "slurm",
            Path::new("/bin/sh"),
            &args,
            Some(Duration::from_millis(200)),
        ) else {
            panic!("expected a time-out");
        };
        assert!(start.elapsed() < Duration::from_secs(5));
        let text = error.to_string();
        assert!(
            text.contains("sleep 30") && text.contains("did not answer within 0.2 s"),
            "{text}"
        );
        let quick: Vec<OsString> = vec!["-c".into(), "echo hi".into()];
        let out = run_tool_within(
            "slurm",
            Path::new("/bin/sh"),
            &quick,
            Some(Duration::from_secs(5)),
        );
        assert_eq!(out.ok().unwrap().stdout, "hi\n");
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
