//! `cargo xtask setup`: installs every toolchain the guests need and proves
//! each one works by building a one-line guest with it.
//!
//! A check that only looks for files passed on machines that lacked a piece
//! (Debian's clang links compiler-rt's wasm32 builtins, which only
//! `libclang-rt-N-dev-wasm32` ships), so each language's check compiles
//! **and links** a real module. What is missing is installed; what is still
//! broken after that fails with a message naming the package or target.

use crate::{output, run};
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Debian packages for C guests, apart from compiler-rt's wasm32 builtins,
/// whose package name carries clang's major version (see [`c_packages`]).
const C_BASE_PACKAGES: &[&str] = &["clang", "lld", "wasi-libc"];

/// The Rust target every Rust guest builds for.
pub const RUST_TARGET: &str = "wasm32-wasip1";

/// The Rust target component plugins build for (wit-bindgen makes a
/// component of the kv plugin with it).
pub const COMPONENT_TARGET: &str = "wasm32-wasip2";

/// Installs what is missing and checks every guest toolchain.
pub fn setup(root: &Path) -> Result<()> {
    // One directory per run: test binaries build the guests (and so run
    // this) and may run at the same time.
    let scratch = root
        .join("target/setup-check")
        .join(std::process::id().to_string());
    std::fs::create_dir_all(&scratch)?;
    let checked = setup_rust(&scratch)
        .and_then(|()| setup_c(&scratch))
        .and_then(|()| setup_assemblyscript(root, &scratch))
        .and_then(|()| setup_kv_js(root))
        .and_then(|()| setup_erlang(&scratch))
        .and_then(|()| setup_nats());
    let _ = std::fs::remove_dir_all(&scratch);
    checked
}

/// The wasm32-wasip1 and wasm32-wasip2 targets and the rustfmt and clippy
/// components.
fn setup_rust(scratch: &Path) -> Result<()> {
    let installed = output(Command::new("rustup").args(["target", "list", "--installed"]))?;
    for target in [RUST_TARGET, COMPONENT_TARGET] {
        if !installed.lines().any(|l| l.trim() == target) {
            run(Command::new("rustup").args(["target", "add", target]))?;
        }
    }
    let components = output(Command::new("rustup").args(["component", "list", "--installed"]))?;
    for c in ["rustfmt", "clippy"] {
        if !components.lines().any(|l| l.starts_with(c)) {
            run(Command::new("rustup").args(["component", "add", c]))?;
        }
    }
    let source = write(scratch, "check.rs", "fn main() { println!(\"ok\"); }\n")?;
    let out = Command::new(std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into()))
        .args(["--edition", "2021", "--target", RUST_TARGET, "-O", "-o"])
        .arg(scratch.join("check-rust.wasm"))
        .arg(&source)
        .output()
        .context("running rustc")?;
    if !out.status.success() {
        bail!(
            "the Rust toolchain cannot build a {RUST_TARGET} guest:\n{}\nInstall the target with `rustup target add {RUST_TARGET}`.",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// Debian's Erlang/OTP (`erlang-base`): the oracle of the signal semantics
/// (`tests/oracle`) and the benchmarks' peer; checked by running an escript.
fn setup_erlang(scratch: &Path) -> Result<()> {
    let script = write(
        scratch,
        "check.escript",
        "#!/usr/bin/env escript\nmain(_) -> io:format(\"ok~n\").\n",
    )?;
    let works = |script: &Path| {
        Command::new("escript")
            .arg(script)
            .output()
            .is_ok_and(|o| o.status.success() && o.stdout == b"ok\n")
    };
    if works(&script) {
        return Ok(());
    }
    apt_install(&["erlang-base"])?;
    if !works(&script) {
        bail!("escript cannot run a one-line script even after installing Debian's erlang-base");
    }
    Ok(())
}

/// Debian's NATS server (`nats-server`), which the cluster's tests start
/// on loopback; checked by asking it its version.
fn setup_nats() -> Result<()> {
    let works = || {
        Command::new(NATS_SERVER)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if works() {
        return Ok(());
    }
    apt_install(&["nats-server"])?;
    if !works() {
        bail!("{NATS_SERVER} does not run even after installing Debian's nats-server");
    }
    Ok(())
}

/// Where Debian's package puts the NATS server (outside a user's PATH).
pub const NATS_SERVER: &str = "/usr/sbin/nats-server";

/// clang, lld, wasi-libc and compiler-rt's wasm32 builtins, checked by
/// building a WASI guest (hosted) and a freestanding one.
fn setup_c(scratch: &Path) -> Result<()> {
    if check_c(scratch).is_ok() {
        return Ok(());
    }
    // clang first, so that its version names the compiler-rt package.
    if clang_major().is_none() {
        apt_install(C_BASE_PACKAGES)?;
    }
    let packages = c_packages();
    apt_install(&packages.iter().map(String::as_str).collect::<Vec<_>>())?;
    check_c(scratch).map_err(|why| {
        anyhow::anyhow!(
            "the C toolchain cannot build a wasm32 guest even after installing Debian's {}:\n{why}",
            packages.join(" ")
        )
    })
}

/// Every Debian package C guests need, compiler-rt's builtins for the
/// installed clang's version included.
fn c_packages() -> Vec<String> {
    let major = clang_major().unwrap_or(14);
    let mut packages: Vec<String> = C_BASE_PACKAGES.iter().map(|p| p.to_string()).collect();
    packages.push(format!("libclang-rt-{major}-dev-wasm32"));
    packages
}

/// The installed clang's major version, if clang runs.
fn clang_major() -> Option<u32> {
    let out = Command::new("clang").arg("-dumpversion").output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.trim().split('.').next()?.parse().ok()
}

/// Compiles and links a one-line C guest both ways the SDK supports; the
/// error carries what clang said.
fn check_c(scratch: &Path) -> Result<(), String> {
    let source =
        write(scratch, "check.c", "int main(void) { return 0; }\n").map_err(|e| e.to_string())?;
    let freestanding = write(scratch, "check-freestanding.c", "void _start(void) {}\n")
        .map_err(|e| e.to_string())?;
    let builds: [(&[&str], &Path, &str); 2] = [
        (
            &["--target=wasm32-wasi", "--sysroot=/usr"],
            &source,
            "check-c.wasm",
        ),
        (
            &[
                "--target=wasm32",
                "-ffreestanding",
                "-nostdlib",
                "-Wl,--no-entry",
                "-Wl,--export=_start",
            ],
            &freestanding,
            "check-c-freestanding.wasm",
        ),
    ];
    for (flags, source, wasm) in builds {
        let out = Command::new("clang")
            .args(flags)
            .args(["-std=c11", "-O2"])
            .arg(source)
            .arg("-o")
            .arg(scratch.join(wasm))
            .output()
            .map_err(|e| format!("clang does not run: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "clang {} failed:\n{}",
                flags.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
    }
    Ok(())
}

/// The AssemblyScript compiler pinned in the SDK's package-lock.json, checked
/// by compiling a one-line guest.
fn setup_assemblyscript(root: &Path, scratch: &Path) -> Result<()> {
    let sdk = root.join("sdk-assemblyscript");
    if !asc(root).exists() {
        run(Command::new("npm")
            .current_dir(&sdk)
            .args(["ci", "--no-audit", "--no-fund"]))
        .context("installing the AssemblyScript compiler (npm ci in sdk-assemblyscript); Node.js and npm must be installed")?;
    }
    let source = write(scratch, "check.ts", "export function _start(): void {}\n")?;
    let out = Command::new(asc(root))
        .arg(&source)
        .arg("-o")
        .arg(scratch.join("check-as.wasm"))
        .output()
        .context("running asc")?;
    if !out.status.success() {
        bail!(
            "the AssemblyScript compiler cannot build a guest:\n{}\nReinstall it with `npm ci` in sdk-assemblyscript.",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// The JavaScript kv server's NATS client (`nats` on npm, pinned in its
/// package-lock.json): the remote-plugin tests run it.
fn setup_kv_js(root: &Path) -> Result<()> {
    let dir = root.join("examples/plugins/kv-js");
    if !dir.join("node_modules/nats").exists() {
        run(Command::new("npm")
            .current_dir(&dir)
            .args(["ci", "--no-audit", "--no-fund"]))
        .context("installing the JavaScript kv server's NATS client (npm ci in examples/plugins/kv-js); Node.js and npm must be installed")?;
    }
    Ok(())
}

/// The pinned AssemblyScript compiler.
pub fn asc(root: &Path) -> PathBuf {
    root.join("sdk-assemblyscript/node_modules/.bin/asc")
}

fn write(dir: &Path, name: &str, text: &str) -> Result<PathBuf> {
    let path = dir.join(name);
    std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// Installs Debian packages (CI and developer machines run as root). A
/// fresh machine often runs its own apt job at boot, so wait for dpkg's lock
/// rather than fail on it.
pub fn apt_install(packages: &[&str]) -> Result<()> {
    const WAIT_FOR_LOCK: &str = "DPkg::Lock::Timeout=600";
    let hint = || {
        format!(
            "installing Debian's {} with apt-get (as root)",
            packages.join(" ")
        )
    };
    run(Command::new("apt-get").args(["-o", WAIT_FOR_LOCK, "update", "-qq"])).with_context(hint)?;
    run(Command::new("apt-get")
        .args(["-o", WAIT_FOR_LOCK, "install", "-y", "-qq"])
        .args(packages)
        .env("DEBIAN_FRONTEND", "noninteractive"))
    .with_context(hint)
}
