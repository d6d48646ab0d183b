//! Running the binary and reading what it printed.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The outcome of one run.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    #[track_caller]
    pub fn success(self) -> Run {
        assert_eq!(
            self.code, 0,
            "expected success\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    #[track_caller]
    pub fn failure(self) -> Run {
        assert_ne!(
            self.code, 0,
            "expected failure\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

/// A command for the binary, run in `dir`, with no inherited repo settings.
pub fn edgefeat(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_edgefeat"));
    cmd.current_dir(dir)
        .env_remove("FEATURE_STORE_YAML_BASE64")
        .env_remove("FEAST_FS_YAML_FILE_PATH");
    cmd
}

/// Runs the binary with `args` in `dir`.
pub fn run(dir: &Path, args: &[&str]) -> Run {
    finish(edgefeat(dir).args(args).output().expect("the binary runs"))
}

pub fn finish(out: Output) -> Run {
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A temp directory holding a fresh `demo` repo from `edgefeat init demo`.
pub fn demo_repo() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().expect("temp dir");
    run(tmp.path(), &["init", "demo"]).success();
    let repo = tmp.path().join("demo");
    (tmp, repo)
}

/// Timestamps derived from the clock, never from the calendar.
///
/// `edgefeat init` generates the demo's data as of "now": hourly rows for the 15 days that end
/// at the current hour, all `created` at "now". A test that pushes a row which must win over a
/// materialized one stamps it after the newest generated row, one that must lose stamps it
/// before the oldest, and a materialization window that must cover the data is computed from
/// the same clock. So the suite passes on any day, and with the clock shifted (`tests/README.md`).
pub mod clock {
    use chrono::{DateTime, Duration, DurationRound, Utc};

    /// Now, to the second (the formats below carry no fraction), on the binary's feature-time
    /// clock: `EDGEFEAT_CLOCK_SHIFT` moves both alike.
    pub fn now() -> DateTime<Utc> {
        edgefeat::types::clock::now()
            .duration_trunc(Duration::seconds(1))
            .expect("now is representable")
    }

    /// `hours` hours from now (negative: in the past).
    pub fn hours_from_now(hours: i64) -> DateTime<Utc> {
        now() + Duration::hours(hours)
    }

    /// A timestamp newer than every row `init` generated: a push stamped with it wins over
    /// anything materialized from the demo's data.
    pub fn after_demo_data() -> DateTime<Utc> {
        hours_from_now(1)
    }

    /// An end for a materialization window that covers all of the demo's data (a year ahead).
    pub fn far_future() -> DateTime<Utc> {
        hours_from_now(24 * 366)
    }

    /// As a pushed DataFrame cell is usually written: `2026-11-24 10:59:42+00:00`.
    pub fn pandas(t: DateTime<Utc>) -> String {
        t.format("%Y-%m-%d %H:%M:%S+00:00").to_string()
    }

    /// As Feast answers an event timestamp: `2026-11-24T10:59:42Z`.
    pub fn rfc3339(t: DateTime<Utc>) -> String {
        t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
    }

    /// A naive ISO timestamp, as the CLI and the materialize routes take it: `2026-11-24T10:59:42`.
    pub fn naive(t: DateTime<Utc>) -> String {
        t.format("%Y-%m-%dT%H:%M:%S").to_string()
    }

    /// The date alone: `2026-11-24`.
    pub fn date(t: DateTime<Utc>) -> String {
        t.format("%Y-%m-%d").to_string()
    }
}

/// `apply`, then `materialize-incremental` up to now: the demo's rows in the online store.
pub fn apply_and_materialize(repo: &Path) {
    run(repo, &["apply"]).success();
    run(
        repo,
        &["materialize-incremental", &clock::now().to_rfc3339()],
    )
    .success();
}

/// A kB figure of a process's /proc status (`VmRSS:`, `RssAnon:`, `VmHWM:`).
pub fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}
