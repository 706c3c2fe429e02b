//! What every test of the `roamguard` binary needs (each test file is its own crate: `mod common;`).

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_roamguard"))
}

/// `roamguard score` of `data`'s profiles.jsonl and events.jsonl, its dead letters to `dead_letters`.
#[allow(dead_code, reason = "not every test file scores")]
pub fn score(data: &Path, dead_letters: &Path) -> Command {
    let mut cmd = bin();
    cmd.arg("score")
        .arg("--profiles")
        .arg(data.join("profiles.jsonl"))
        .arg("--events")
        .arg(data.join("events.jsonl"))
        .arg("--dead-letter")
        .arg(dead_letters);
    cmd
}

/// A new empty directory for one test (the process id keeps parallel test binaries apart),
/// removed when the test ends, passed or failed.
pub fn temp_dir(name: &str) -> TempDir {
    let dir = std::env::temp_dir().join(format!("roamguard-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    TempDir(dir)
}

/// A test's directory: a path, deleted on drop.
pub struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl std::ops::Deref for TempDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for TempDir {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<OsStr> for TempDir {
    fn as_ref(&self) -> &OsStr {
        self.0.as_os_str()
    }
}

/// Runs a command that must succeed.
pub fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("binary runs");
    assert!(out.status.success(), "{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    out
}
