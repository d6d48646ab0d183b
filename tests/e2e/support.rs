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
