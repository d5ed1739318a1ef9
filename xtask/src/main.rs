//! `cargo xtask`: the project's automation.
//!
//! ```text
//! cargo xtask setup          install what builds need (wasm32-wasip1 target, rustfmt, clippy)
//! cargo xtask gen [--check]  regenerate the ABI bindings from abi/wit (or check they are current)
//! cargo xtask build-guests   build every guest (examples and test guests) into target/guests
//! cargo xtask demo           set up, build, and run the demo apps on the VM
//! cargo xtask test           set up, build guests, check formatting and lints, run every test
//! ```

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Guest workspaces, built for wasm32-wasip1 into `target/guests`.
const RUST_GUEST_WORKSPACES: &[&str] = &["examples/rust", "tests/guests/rust"];

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = vm_abi::repo_root();
    match args.first().map(String::as_str) {
        Some("setup") => setup(),
        Some("gen") => gen(&root, args.iter().any(|a| a == "--check")),
        Some("build-guests") => setup().and_then(|()| build_guests(&root)),
        Some("demo") => demo(&root),
        Some("test") => test(&root),
        _ => {
            eprintln!("usage: cargo xtask <setup | gen [--check] | build-guests | demo | test>");
            std::process::exit(2);
        }
    }
}

fn run(cmd: &mut Command) -> Result<()> {
    eprintln!("+ {}", format!("{cmd:?}").replace('"', ""));
    let status = cmd.status().with_context(|| format!("running {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed with {status}");
    }
    Ok(())
}

fn output(cmd: &mut Command) -> Result<String> {
    let out = cmd.output().with_context(|| format!("running {cmd:?}"))?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Installs the wasm32-wasip1 target and the rustfmt and clippy components
/// when missing.
fn setup() -> Result<()> {
    let installed = output(Command::new("rustup").args(["target", "list", "--installed"]))?;
    if !installed.lines().any(|l| l.trim() == "wasm32-wasip1") {
        run(Command::new("rustup").args(["target", "add", "wasm32-wasip1"]))?;
    }
    let components = output(Command::new("rustup").args(["component", "list", "--installed"]))?;
    for c in ["rustfmt", "clippy"] {
        if !components.lines().any(|l| l.starts_with(c)) {
            run(Command::new("rustup").args(["component", "add", c]))?;
        }
    }
    Ok(())
}

fn gen(root: &Path, check: bool) -> Result<()> {
    if check {
        let stale: Vec<_> = vm_abi::generate(root)?
            .into_iter()
            .filter(|f| {
                std::fs::read_to_string(root.join(&f.path)).ok().as_deref() != Some(&f.contents)
            })
            .map(|f| f.path.display().to_string())
            .collect();
        if !stale.is_empty() {
            bail!("generated files are stale: {stale:?}; run `cargo xtask gen`");
        }
        return Ok(());
    }
    for path in vm_abi::write_generated(root)? {
        println!("wrote {}", path.display());
    }
    Ok(())
}

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

fn guest_dir(root: &Path) -> PathBuf {
    root.join("target/guests")
}

fn build_guests(root: &Path) -> Result<()> {
    for ws in RUST_GUEST_WORKSPACES {
        run(cargo()
            .current_dir(root.join(ws))
            .args([
                "build",
                "--release",
                "--target",
                "wasm32-wasip1",
                "--target-dir",
            ])
            .arg(guest_dir(root)))?;
    }
    Ok(())
}

fn demo(root: &Path) -> Result<()> {
    setup()?;
    build_guests(root)?;
    let wasm = guest_dir(root).join("wasm32-wasip1/release");
    for (app, args) in [("ping-pong", vec!["--", "3"]), ("supervisor", vec![])] {
        println!("\n=== {app}: vm run {app}.wasm {}", args.join(" "));
        run(cargo()
            .current_dir(root)
            .args([
                "run",
                "--quiet",
                "--package",
                "vm-reference",
                "--bin",
                "vm",
                "--",
                "run",
            ])
            .arg(wasm.join(format!("{app}.wasm")))
            .args(&args))?;
    }
    Ok(())
}

fn test(root: &Path) -> Result<()> {
    setup()?;
    gen(root, true)?;
    build_guests(root)?;
    run(cargo()
        .current_dir(root)
        .args(["fmt", "--all", "--", "--check"]))?;
    run(cargo().current_dir(root).args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;
    for ws in RUST_GUEST_WORKSPACES {
        run(cargo()
            .current_dir(root.join(ws))
            .args(["fmt", "--all", "--", "--check"]))?;
        run(cargo()
            .current_dir(root.join(ws))
            .args([
                "clippy",
                "--release",
                "--target",
                "wasm32-wasip1",
                "--target-dir",
            ])
            .arg(guest_dir(root))
            .args(["--", "-D", "warnings"]))?;
    }
    run(cargo().current_dir(root).args(["test", "--workspace"]))?;
    Ok(())
}
