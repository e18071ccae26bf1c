//! Reading Slurm's answers: `sbatch --parsable`'s job id, `scontrol show config`'s
//! `MaxArraySize`, and the one-line records of `scontrol -o show job JOB` (an array's elements,
//! or a range of them while they are pending), turned into [`BatchOutcome`]s.

use crate::engine::launch::BatchOutcome;
use crate::error::{Error, Result};
use std::collections::BTreeMap;

fn bad_output(command: &str, what: &str, printed: &str) -> Error {
    Error::Engine {
        engine: "slurm",
        detail: format!("cannot read {what} from `{command}`: it printed {printed:?}"),
    }
}

/// The job id printed by `sbatch --parsable` (`"1234"` or `"1234;cluster"`).
pub(super) fn parse_job_id(command: &str, printed: &str) -> Result<String> {
    let id = printed.trim().split(';').next().unwrap_or("");
    if !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) {
        Ok(id.to_string())
    } else {
        Err(bad_output(command, "a job id", printed))
    }
}

/// `MaxArraySize` from `scontrol show config` (lines like `MaxArraySize = 1001`), if present.
pub(super) fn parse_max_array_size(printed: &str) -> Option<usize> {
    printed.lines().find_map(|line| {
        let (key, value) = line.split_once('=')?;
        (key.trim() == "MaxArraySize")
            .then(|| value.trim().parse().ok())
            .flatten()
    })
}

/// Expands an `ArrayTaskId` value: `"5"`, `"0-3"`, `"1,4-6"`, `"0-9:2"`, with an optional
/// `%limit` suffix.
pub(super) fn parse_index_list(list: &str) -> Option<Vec<usize>> {
    let list = list.split('%').next()?;
    let mut indices = Vec::new();
    for part in list.split(',') {
        let (range, step) = match part.split_once(':') {
            Some((range, step)) => (range, step.parse::<usize>().ok().filter(|&s| s > 0)?),
            None => (part, 1),
        };
        let (first, last) = match range.split_once('-') {
            Some((a, b)) => (a.parse::<usize>().ok()?, b.parse::<usize>().ok()?),
            None => {
                let i = range.parse::<usize>().ok()?;
                (i, i)
            }
        };
        if last < first {
            return None;
        }
        indices.extend((first..=last).step_by(step));
    }
    Some(indices)
}

/// One record of `scontrol -o show job`: an element (or pending range) of an array job.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct ElementRecord {
    /// The array indices the record covers.
    pub(super) indices: Vec<usize>,
    /// `JobState`, e.g. `COMPLETED`, `FAILED`, `CANCELLED`.
    pub(super) state: String,
    /// `Reason`, e.g. `NonZeroExitCode`, `DependencyNeverSatisfied`.
    pub(super) reason: String,
    /// `ExitCode=code:signal`.
    pub(super) exit: (i32, i32),
}

/// Every record of an array job, as printed by `scontrol -o show job JOB` (one per line).
pub(super) fn parse_job_records(command: &str, printed: &str) -> Result<Vec<ElementRecord>> {
    let mut records = Vec::new();
    for line in printed.lines().filter(|l| !l.trim().is_empty()) {
        let mut fields = BTreeMap::new();
        for token in line.split_whitespace() {
            if let Some((key, value)) = token.split_once('=') {
                fields.entry(key).or_insert(value);
            }
        }
        let bad = |what: &str| bad_output(command, what, line);
        let indices = match fields.get("ArrayTaskId") {
            Some(list) => parse_index_list(list).ok_or_else(|| bad("ArrayTaskId"))?,
            None => return Err(bad("ArrayTaskId (is it an array job?)")),
        };
        let state = fields.get("JobState").ok_or_else(|| bad("JobState"))?;
        let exit = fields
            .get("ExitCode")
            .and_then(|e| e.split_once(':'))
            .and_then(|(c, s)| Some((c.parse().ok()?, s.parse().ok()?)))
            .ok_or_else(|| bad("ExitCode"))?;
        records.push(ElementRecord {
            indices,
            state: state.to_string(),
            reason: fields.get("Reason").unwrap_or(&"None").to_string(),
            exit,
        });
    }
    Ok(records)
}

/// What a finished element's record says of its batch.
pub(super) fn outcome_of(record: &ElementRecord) -> BatchOutcome {
    let (code, signal) = record.exit;
    let said = format!(
        "State={} Reason={} ExitCode={code}:{signal}",
        record.state, record.reason
    );
    match record.state.as_str() {
        "COMPLETED" if code == 0 && signal == 0 => BatchOutcome::Succeeded,
        "CANCELLED" if record.reason.starts_with("Dependency") => BatchOutcome::NotRun,
        "PENDING" | "RUNNING" | "CONFIGURING" | "COMPLETING" | "SUSPENDED" | "REQUEUED" => {
            BatchOutcome::Failed {
                code: None,
                reason: format!("Slurm stopped listing it while it was still {said}"),
            }
        }
        _ if signal != 0 => BatchOutcome::Failed {
            code: (code != 0).then_some(code),
            reason: format!("killed by signal {signal} ({said})"),
        },
        _ => BatchOutcome::Failed {
            code: (code != 0).then_some(code),
            reason: if code != 0 {
                format!("exit code {code} ({said})")
            } else {
                said
            },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_ids() {
        assert_eq!(parse_job_id("sbatch", "1234\n").unwrap(), "1234");
        assert_eq!(parse_job_id("sbatch", "77;ci\n").unwrap(), "77");
        let err = parse_job_id("sbatch --parsable x.sh", "Submitted batch job 5").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("sbatch --parsable x.sh") && text.contains("Submitted batch job 5"));
    }

    #[test]
    fn max_array_size() {
        let config =
            "Configuration data as of now\nMaxArraySize            = 100001\nMaxJobCount = 7\n";
        assert_eq!(parse_max_array_size(config), Some(100_001));
        assert_eq!(parse_max_array_size("nothing"), None);
    }

    #[test]
    fn index_lists() {
        assert_eq!(parse_index_list("5"), Some(vec![5]));
        assert_eq!(parse_index_list("0-3"), Some(vec![0, 1, 2, 3]));
        assert_eq!(parse_index_list("1,4-6%2"), Some(vec![1, 4, 5, 6]));
        assert_eq!(parse_index_list("0-9:3"), Some(vec![0, 3, 6, 9]));
        assert_eq!(parse_index_list("3-1"), None);
        assert_eq!(parse_index_list("x"), None);
        assert_eq!(parse_index_list("0-4:0"), None);
    }

    // Records as Slurm 22.05 printed them here (trimmed after the fields we read).
    const RECORDS: &str = "\
JobId=1 ArrayJobId=1 ArrayTaskId=2 JobName=wrap UserId=root(0) JobState=COMPLETED Reason=None Dependency=(null) ExitCode=0:0 RunTime=00:00:00
JobId=4 ArrayJobId=1 ArrayTaskId=1 JobName=wrap JobState=FAILED Reason=NonZeroExitCode Dependency=(null) ExitCode=3:0
JobId=2 ArrayJobId=2 ArrayTaskId=0-1 JobName=wrap JobState=CANCELLED Reason=DependencyNeverSatisfied Dependency=afterok:1_*(failed) ExitCode=0:0
JobId=5 ArrayJobId=1 ArrayTaskId=0 JobState=CANCELLED Reason=None ExitCode=0:9
";

    #[test]
    fn records_become_outcomes() {
        let records = parse_job_records("scontrol -o show job 1", RECORDS).unwrap();
        let outcomes: Vec<_> = records
            .iter()
            .map(|r| (r.indices.clone(), outcome_of(r)))
            .collect();
        assert_eq!(outcomes[0], (vec![2], BatchOutcome::Succeeded));
        assert!(matches!(
            &outcomes[1],
            (i, BatchOutcome::Failed { code: Some(3), reason }) if i == &[1] && reason.contains("NonZeroExitCode")
        ));
        assert_eq!(outcomes[2], (vec![0, 1], BatchOutcome::NotRun));
        assert!(matches!(
            &outcomes[3].1,
            BatchOutcome::Failed { code: None, reason } if reason.contains("signal 9")
        ));
    }

    #[test]
    fn garbled_records_are_engine_errors_that_quote_the_line() {
        for line in [
            "JobId=1 JobState=COMPLETED ExitCode=0:0",
            "JobId=1 ArrayTaskId=0 ExitCode=0:0",
            "JobId=1 ArrayTaskId=0 JobState=FAILED ExitCode=three",
            "JobId=1 ArrayTaskId=a-b JobState=FAILED ExitCode=1:0",
        ] {
            let err = parse_job_records("scontrol -o show job 1", line).unwrap_err();
            assert!(matches!(
                err,
                Error::Engine {
                    engine: "slurm",
                    ..
                }
            ));
            assert!(err.to_string().contains(line), "{err}");
        }
    }
}
