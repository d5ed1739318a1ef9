//! Shared helpers for the end-to-end tests: building guests with their real
//! toolchains (once per test binary) and running them on the VM in-process.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use vm_reference::{Outcome, Vm, VmBuilder};

/// The repository root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// The Rust guest workspaces, built into `target/guests`.
const RUST_GUEST_WORKSPACES: &[&str] = &["examples/rust", "tests/guests/rust"];

fn build_rust_guests() -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    for ws in RUST_GUEST_WORKSPACES {
        let out = Command::new(&cargo)
            .current_dir(root().join(ws))
            .args([
                "build",
                "--release",
                "--target",
                "wasm32-wasip1",
                "--target-dir",
            ])
            .arg(root().join("target/guests"))
            .output()
            .with_context(|| format!("running cargo build in {ws}"))?;
        if !out.status.success() {
            bail!(
                "building the guests in {ws} failed (is the wasm32-wasip1 target installed? `cargo xtask setup`):\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    Ok(())
}

/// The path of a Rust guest app's module, building all Rust guests first
/// (once per test binary; cargo makes it a no-op when they are current).
pub fn rust_guest(name: &str) -> PathBuf {
    static BUILT: OnceLock<Result<(), String>> = OnceLock::new();
    if let Err(e) = BUILT.get_or_init(|| build_rust_guests().map_err(|e| format!("{e:#}"))) {
        panic!("{e}");
    }
    root()
        .join("target/guests/wasm32-wasip1/release")
        .join(format!("{name}.wasm"))
}

/// A test fixture's path.
pub fn fixture(name: &str) -> PathBuf {
    root().join("tests/fixtures").join(name)
}

/// What a run produced.
#[derive(Debug)]
pub struct Run {
    /// How the root process ended.
    pub outcome: Outcome,
    /// Everything guests printed to stdout.
    pub stdout: String,
    /// Everything guests printed to stderr.
    pub stderr: String,
}

/// A VM builder that captures output, with a small pool suited to tests.
pub fn test_vm() -> VmBuilder {
    Vm::builder().capture_output().max_processes(256)
}

/// Runs a module file as the root process on a fresh VM.
pub async fn run_file(path: &Path, args: &[&str]) -> Result<Run> {
    run_file_on(test_vm(), path, args).await
}

/// Runs a module file as the root process on a VM built from `builder`.
pub async fn run_file_on(builder: VmBuilder, path: &Path, args: &[&str]) -> Result<Run> {
    let vm = builder.build()?;
    let module = vm.load_file(path)?;
    let mut argv = vec![path.file_name().unwrap().to_str().unwrap()];
    argv.extend_from_slice(args);
    let outcome = vm.run(&module, &argv).await?;
    Ok(Run {
        outcome,
        stdout: vm.captured_stdout(),
        stderr: vm.captured_stderr(),
    })
}

/// Runs WebAssembly text as the root process on a fresh VM.
pub async fn run_wat(wat: &str) -> Result<Run> {
    let vm = test_vm().build()?;
    let module = vm.load("test.wat", wat.as_bytes())?;
    let outcome = vm.run(&module, &["test.wat"]).await?;
    Ok(Run {
        outcome,
        stdout: vm.captured_stdout(),
        stderr: vm.captured_stderr(),
    })
}
