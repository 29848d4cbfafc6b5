//! Running programs and timing them.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use crate::BenchError;

/// Runs a command, returns stdout; fails with the tail of its output.
pub(super) fn run_cmd(cmd: &mut Command) -> Result<String, BenchError> {
    let program = cmd.get_program().to_string_lossy().into_owned();
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|source| BenchError::Start {
            program: program.clone(),
            source,
        })?;
    if !out.status.success() {
        let log = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let lines: Vec<&str> = log.lines().collect();
        return Err(BenchError::Command {
            program,
            status: out.status.to_string(),
            tail: lines[lines.len().saturating_sub(15)..].join("\n"),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Runs `f` and returns its result and its wall time in seconds.
pub(super) fn timed<T>(f: impl FnOnce() -> Result<T, BenchError>) -> Result<(T, f64), BenchError> {
    let start = Instant::now();
    let value = f()?;
    Ok((value, start.elapsed().as_secs_f64()))
}

/// A fresh number for each code change and re-lock.
pub(super) fn nonce() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

/// A program on `PATH`.
pub(super) fn which(program: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

/// The error and its causes on one line, for a note.
pub(super) fn chain(e: &BenchError) -> String {
    let mut out = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        out.push_str(&format!(": {c}"));
        cause = c.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_command_carries_its_status_and_tail() {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "for i in $(seq 1 20); do echo line$i; done; exit 3"]);
        let err = run_cmd(&mut cmd).unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("`sh` failed"), "{text}");
        assert!(
            text.contains("line20") && !text.contains("line5\n"),
            "{text}"
        );
        assert!(err.hint().is_some());
    }

    #[test]
    fn a_missing_program_is_named_with_its_cause() {
        let err = run_cmd(&mut Command::new("lockship-bench-no-such-program")).unwrap_err();
        let text = chain(&err);
        assert!(
            text.starts_with("Cannot start `lockship-bench-no-such-program`: "),
            "{text}"
        );
    }
}
