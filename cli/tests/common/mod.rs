//! What every test of the `roamguard` binary needs (each test file is its own crate: `mod common;`).

use std::path::PathBuf;
use std::process::{Command, Output};

pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_roamguard"))
}

/// A new empty directory for one test (the process id keeps parallel test binaries apart).
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("roamguard-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs a command that must succeed.
pub fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("binary runs");
    assert!(out.status.success(), "{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    out
}
