//! `cargo xtask`: the project's automation.
//!
//! ```text
//! cargo xtask setup          install and check every guest toolchain (Rust, C, AssemblyScript)
//! cargo xtask gen [--check]  regenerate the ABI bindings from abi/wit and the committed message bindings (or check they are current)
//! cargo xtask build-guests   build every guest (examples and test guests) into target/guests
//! cargo xtask demo           set up, build, and run the demo apps on the VM
//! cargo xtask test           set up, build guests, check formatting and lints, run every test
//! cargo xtask bench [--quick] the VM, Erlang/OTP and tokio side by side; a full run writes BENCHMARKS.md
//! cargo xtask bench --only echo --rounds 15   some benchmarks, more rounds; prints their table only
//! ```

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

mod setup;
use setup::setup;

/// Guest workspaces, built for wasm32-wasip1 into `target/guests`.
const RUST_GUEST_WORKSPACES: &[&str] = &[
    "examples/rust",
    "examples/plugins/kv",
    "examples/plugins/shapes",
    "examples/plugins/native-hash/guest",
    "tests/guests/rust",
    "bench/guest",
];

/// How a C guest is built.
#[derive(Clone, Copy)]
enum CMode {
    /// With Debian's wasi-libc, as a WASI command (`printf` works).
    Wasi,
    /// With no libc at all (`--target=wasm32`).
    Freestanding,
    /// C++17 with wasi-libc and no C++ library, the SDK compiled as C: vm.h
    /// must compile cleanly as C++ (`-Wpedantic` included).
    Cxx,
}

/// C guests, built with clang into `target/guests/c/NAME.wasm`.
const C_GUESTS: &[(&str, CMode)] = &[
    ("examples/c/hello.c", CMode::Wasi),
    ("examples/c/ping-pong.c", CMode::Wasi),
    ("examples/c/echo-server.c", CMode::Wasi),
    ("examples/c/chat.c", CMode::Wasi),
    ("tests/guests/c/polyglot.c", CMode::Wasi),
    ("tests/guests/c/edges.c", CMode::Wasi),
    ("tests/guests/c/scenarios.c", CMode::Wasi),
    ("tests/guests/c/freestanding.c", CMode::Freestanding),
    ("tests/guests/c/cxx.cpp", CMode::Cxx),
    ("tests/guests/schema/schema-echo.c", CMode::Wasi),
    ("examples/plugins/kv/c/kv-guest.c", CMode::Wasi),
    ("examples/plugins/shapes/c/shapes-guest.c", CMode::Wasi),
    ("tests/guests/c/echo.c", CMode::Wasi),
];

/// AssemblyScript guests, built with the SDK's pinned `asc` into
/// `target/guests/as/NAME.wasm`.
const AS_GUESTS: &[&str] = &[
    "examples/assemblyscript/hello.ts",
    "examples/assemblyscript/ping-pong.ts",
    "examples/assemblyscript/echo-server.ts",
    "examples/assemblyscript/counter.ts",
    "tests/guests/assemblyscript/polyglot.ts",
    "tests/guests/assemblyscript/scenarios.ts",
    "tests/guests/assemblyscript/checks.ts",
    "tests/guests/schema/schema-echo.ts",
    "examples/plugins/kv/assemblyscript/kv-guest.ts",
    "examples/plugins/shapes/assemblyscript/shapes-guest.ts",
    "tests/guests/assemblyscript/echo-guest.ts",
];

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = vm_abi::repo_root();
    match args.first().map(String::as_str) {
        Some("setup") => setup(&root),
        Some("gen") => gen(&root, args.iter().any(|a| a == "--check")),
        Some("build-guests") => setup(&root).and_then(|()| build_guests(&root)),
        Some("demo") => demo(&root),
        Some("test") => test(&root),
        Some("bench") => bench(&root, &args[1..]),
        Some("fuzz") => fuzz(&root, &args[1..]),
        Some("soak") => soak(&root, &args[1..]),
        Some("oracle") => oracle(&root, &args[1..]),
        _ => {
            eprintln!("usage: cargo xtask <setup | gen [--check] | build-guests | demo | test | bench [--quick] [--only NAME,…] [--rounds N] | fuzz [--cases N] [--seed S] [--time SECONDS] | soak [--minutes M] | oracle [--cases N] [--seed S]>");
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

fn gen(root: &Path, check: bool) -> Result<()> {
    let messages = vm_bindgen::committed(root)?;
    if check {
        let stale: Vec<_> = vm_abi::generate(root)?
            .into_iter()
            .map(|f| (f.path, f.contents))
            .chain(messages)
            .filter(|(path, contents)| {
                std::fs::read_to_string(root.join(path)).ok().as_deref() != Some(contents)
            })
            .map(|(path, _)| path.display().to_string())
            .collect();
        if !stale.is_empty() {
            bail!("generated files are stale: {stale:?}; run `cargo xtask gen`");
        }
        return Ok(());
    }
    for path in vm_abi::write_generated(root)? {
        println!("wrote {}", path.display());
    }
    for (path, contents) in messages {
        std::fs::write(root.join(&path), contents)?;
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

/// Whether `output` is missing or older than any of `inputs`.
fn stale(output: &Path, inputs: &[PathBuf]) -> bool {
    let Ok(built) = output.metadata().and_then(|m| m.modified()) else {
        return true;
    };
    inputs.iter().any(|i| {
        i.metadata()
            .and_then(|m| m.modified())
            .map_or(true, |t| t > built)
    })
}

/// The files beside `source` ending in `.EXT`: what a guest may include or
/// import (a generated message header or module, say).
fn siblings(source: &Path, ext: &str) -> Vec<PathBuf> {
    let dir = source.parent().expect("a guest in a directory");
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == ext))
                .collect()
        })
        .unwrap_or_default()
}

/// A guest's source path and the module it builds to (`OUT_DIR/NAME.wasm`).
fn guest_paths(root: &Path, path: &str, out_dir: &Path) -> (PathBuf, PathBuf) {
    let source = root.join(path);
    let name = source
        .file_stem()
        .expect("a file name")
        .to_string_lossy()
        .into_owned();
    let output = out_dir.join(format!("{name}.wasm"));
    (source, output)
}

/// Builds a C++ guest: the SDK's C sources as C11 objects, then the guest
/// as C++17 linked with them (no C++ library: the guest uses none).
fn build_cxx_guest(sdk: &Path, sources: &[PathBuf], source: &Path, output: &Path) -> Result<()> {
    let mut objects = Vec::new();
    for c in sources {
        let object = output.with_extension(format!(
            "{}.o",
            c.file_stem().expect("a file name").to_string_lossy()
        ));
        run(Command::new("clang")
            .args(["--target=wasm32-wasi", "--sysroot=/usr", "-std=c11", "-O2"])
            .args(["-Wall", "-Wextra", "-Werror", "-c", "-I"])
            .arg(sdk.join("include"))
            .arg(c)
            .arg("-o")
            .arg(&object))?;
        objects.push(object);
    }
    run(Command::new("clang++")
        .args([
            "--target=wasm32-wasi",
            "--sysroot=/usr",
            "-std=c++17",
            "-O2",
        ])
        .args([
            "-Wall",
            "-Wextra",
            "-Wpedantic",
            "-Werror",
            "-fno-exceptions",
        ])
        .args(["-nostdlib++", "-Wl,--stack-first", "-I"])
        .arg(sdk.join("include"))
        .arg(source)
        .args(&objects)
        .arg("-o")
        .arg(output))
}

fn build_c_guests(root: &Path) -> Result<()> {
    let sdk = root.join("sdk-c");
    let sources = [sdk.join("src/vm.c"), sdk.join("src/codec.c")];
    let out_dir = guest_dir(root).join("c");
    std::fs::create_dir_all(&out_dir)?;
    for (path, mode) in C_GUESTS {
        let (source, output) = guest_paths(root, path, &out_dir);
        let mut inputs = vec![
            source.clone(),
            sdk.join("include/vm.h"),
            sdk.join("include/vm_abi.h"),
        ];
        inputs.extend(sources.iter().cloned());
        inputs.extend(siblings(&sources[0], "h"));
        inputs.extend(siblings(&source, "h"));
        if !stale(&output, &inputs) {
            continue;
        }
        if let CMode::Cxx = mode {
            build_cxx_guest(&sdk, &sources, &source, &output)?;
            continue;
        }
        let mut cmd = Command::new("clang");
        match mode {
            CMode::Cxx => unreachable!("built above"),
            CMode::Wasi => cmd.args(["--target=wasm32-wasi", "--sysroot=/usr"]),
            CMode::Freestanding => cmd.args([
                "--target=wasm32",
                "-ffreestanding",
                "-nostdlib",
                "-Wl,--no-entry",
            ]),
        };
        // --stack-first puts the shadow stack below the data, so an
        // overflow traps at address 0 instead of overwriting globals.
        cmd.args([
            "-std=c11",
            "-O2",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-Wl,--stack-first",
            "-I",
        ])
        .arg(sdk.join("include"))
        .arg(&source)
        .args(&sources)
        .arg("-o")
        .arg(&output);
        run(&mut cmd)?;
    }
    Ok(())
}

fn build_as_guests(root: &Path) -> Result<()> {
    let sdk = root.join("sdk-assemblyscript");
    let mut sdk_sources: Vec<PathBuf> = std::fs::read_dir(sdk.join("assembly"))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    // The repo's guests import the SDK by path, so they use this config
    // (sdk-assemblyscript/asconfig.json is the one package users extend).
    let config = root.join("examples/assemblyscript/asconfig.json");
    sdk_sources.push(config.clone());
    // The config's transform, which checks each module's `_start`.
    sdk_sources.push(sdk.join("start-check.js"));
    let out_dir = guest_dir(root).join("as");
    std::fs::create_dir_all(&out_dir)?;
    for path in AS_GUESTS {
        let (source, output) = guest_paths(root, path, &out_dir);
        let mut inputs = sdk_sources.clone();
        inputs.push(source.clone());
        inputs.extend(siblings(&source, "ts"));
        if !stale(&output, &inputs) {
            continue;
        }
        let out = Command::new(setup::asc(root))
            .current_dir(root)
            .arg(path)
            .arg("--config")
            .arg(&config)
            .arg("-o")
            .arg(&output)
            .output()
            .context("running asc")?;
        let diagnostics = String::from_utf8_lossy(&out.stderr);
        // The project builds AssemblyScript with no diagnostics at all.
        if !out.status.success() || !diagnostics.trim().is_empty() {
            let _ = std::fs::remove_file(&output);
            bail!("asc {path}:\n{diagnostics}");
        }
    }
    Ok(())
}

fn build_guests(root: &Path) -> Result<()> {
    build_c_guests(root)?;
    build_as_guests(root)?;
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
    build_native_plugins(root)?;
    // The kv, shapes and echo plugins again, as components (wit-bindgen
    // for wasm32-wasip2).
    for (dir, package) in [
        ("examples/plugins/kv", "kv-plugin"),
        ("examples/plugins/shapes", "shapes-plugin"),
        ("tests/guests/rust", "echo-plugin"),
    ] {
        run(cargo()
            .current_dir(root.join(dir))
            .args([
                "build",
                "--release",
                "--package",
                package,
                "--target",
                setup::COMPONENT_TARGET,
                "--target-dir",
            ])
            .arg(guest_dir(root)))?;
    }
    build_guest_tests(root)
}

/// Native plugins as shared libraries, in `target/guests/native`: kv and
/// shapes in Rust (cdylibs that depend on vm-plugin only), and the C hash plugin
/// of the tests, as is and broken three ways.
fn build_native_plugins(root: &Path) -> Result<()> {
    run(cargo()
        .current_dir(root)
        .args([
            "build",
            "--release",
            "--package",
            "kv-native",
            "--package",
            "shapes-native-library",
            "--target-dir",
        ])
        .arg(guest_dir(root)))?;
    let out = guest_dir(root).join("native");
    std::fs::create_dir_all(&out)?;
    for library in ["libkv_native.so", "libshapes_native_plugin.so"] {
        std::fs::copy(
            guest_dir(root).join("release").join(library),
            out.join(library),
        )?;
    }
    let source = root.join("tests/guests/native/hash.c");
    let header = root.join("sdk-c/include/vm_native_plugin.h");
    for (name, define) in [
        ("libhash.so", None),
        ("libhash-wrong-abi.so", Some("-DWRONG_ABI")),
        ("libhash-undeclared.so", Some("-DUNDECLARED")),
        ("libhash-no-entry.so", Some("-DNO_ENTRY")),
        ("libhash-unresolved.so", Some("-DUNRESOLVED")),
        ("libhash-null-wit.so", Some("-DNULL_WIT")),
        ("libhash-null-result.so", Some("-DNULL_RESULT")),
        ("libhash-v1.so", Some("-DABI_V1")),
        ("libhash-huge.so", Some("-DHUGE_SIZE")),
        ("libhash-record.so", Some("-DRECORD_WIT")),
    ] {
        let target = out.join(name);
        if up_to_date(&target, &[&source, &header]) {
            continue;
        }
        let mut cc = Command::new(std::env::var("CC").unwrap_or_else(|_| "cc".into()));
        cc.args([
            "-std=c11",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-Wpedantic",
            "-O2",
            "-shared",
            "-fPIC",
        ])
        .arg("-I")
        .arg(root.join("sdk-c/include"))
        .args(define)
        .arg("-o")
        .arg(&target)
        .arg(&source);
        run(&mut cc)?;
    }
    Ok(())
}

/// Whether `target` is newer than every source.
fn up_to_date(target: &Path, sources: &[&Path]) -> bool {
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    match modified(target) {
        Some(t) => sources.iter().all(|s| modified(s).is_some_and(|m| m <= t)),
        None => false,
    }
}

/// Builds the `#[vm_sdk::test]` guest (tests/guests/rust/guest-tests) as
/// `cargo test` does, and copies the test module, which cargo names with a
/// hash, to `target/guests/tests/guest-tests.wasm`.
fn build_guest_tests(root: &Path) -> Result<()> {
    let out = cargo()
        .current_dir(root.join("tests/guests/rust"))
        .args([
            "test",
            "--no-run",
            "--release",
            "--package",
            "guest-tests",
            "--message-format=json",
            "--target",
            "wasm32-wasip1",
            "--target-dir",
        ])
        .arg(guest_dir(root))
        .output()
        .context("running cargo test --no-run")?;
    if !out.status.success() {
        bail!(
            "building the guest tests failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let messages = String::from_utf8_lossy(&out.stdout);
    let executable = messages
        .lines()
        .filter_map(|line| line.split_once("\"executable\":\"").map(|(_, rest)| rest))
        .filter_map(|rest| rest.split_once('"').map(|(path, _)| path))
        .next_back()
        .context("cargo test --no-run named no test module")?;
    let dir = guest_dir(root).join("tests");
    std::fs::create_dir_all(&dir)?;
    std::fs::copy(executable, dir.join("guest-tests.wasm"))?;
    Ok(())
}

fn demo(root: &Path) -> Result<()> {
    setup(root)?;
    build_guests(root)?;
    let wasm = guest_dir(root).join("wasm32-wasip1/release");
    for (app, args) in [
        ("ping-pong", vec!["--", "3"]),
        ("supervisor", vec![]),
        ("service-tree", vec![]),
    ] {
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
    // Erlang included: the suite runs the benchmark harness once (small,
    // as a check that it works end to end) and Erlang is its oracle.
    setup(root)?;
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

/// `cargo xtask oracle [--cases N] [--seed S]`: more scenarios of the
/// signal semantics against Erlang than the suite runs (`tests/oracle`).
fn oracle(root: &Path, options: &[String]) -> Result<()> {
    let mut cmd = cargo();
    cmd.current_dir(root).args([
        "test",
        "--quiet",
        "--package",
        "vm-tests",
        "--test",
        "oracle",
        "--",
        "--nocapture",
    ]);
    let mut options = options.iter();
    while let Some(option) = options.next() {
        let var = match option.as_str() {
            "--cases" => "ORACLE_CASES",
            "--seed" => "ORACLE_SEED",
            other => {
                bail!("cargo xtask oracle: unknown option {other}; it takes --cases N and --seed S")
            }
        };
        let value = options
            .next()
            .with_context(|| format!("{option} needs a number"))?;
        let number = match value.strip_prefix("0x") {
            Some(hex) => u64::from_str_radix(hex, 16).is_ok(),
            None => value.parse::<u64>().is_ok(),
        };
        if !number {
            bail!("{option} {value}: not a number (decimal, or hex with 0x)");
        }
        cmd.env(var, value);
    }
    setup(root)?;
    build_guests(root)?;
    run(&mut cmd)
}

/// Runs the benchmarks (release build) and regenerates BENCHMARKS.md from
/// the run. `--only` and `--quick` only print their table.
/// `cargo xtask fuzz`: generated guests against the whole ABI (`fuzz/`).
fn fuzz(root: &Path, options: &[String]) -> Result<()> {
    run(cargo()
        .current_dir(root)
        .args(["run", "--release", "--quiet", "--package", "vm-fuzz", "--"])
        .args(options))
}

/// `cargo xtask soak`: a real workload for a while, memory watched
/// (`soak/`); it runs the Rust example guests, so they are built first.
fn soak(root: &Path, options: &[String]) -> Result<()> {
    setup(root)?;
    build_guests(root)?;
    run(cargo()
        .current_dir(root)
        .args(["run", "--release", "--quiet", "--package", "vm-soak", "--"])
        .args(options))
}

fn bench(root: &Path, options: &[String]) -> Result<()> {
    setup(root)?;
    build_guests(root)?;
    // The remote figures run a node as a `vm` command of its own.
    run(cargo().current_dir(root).args([
        "build",
        "--release",
        "--quiet",
        "--package",
        "vm-reference",
        "--bin",
        "vm",
    ]))?;
    let mut cmd = cargo();
    cmd.current_dir(root)
        .args(["run", "--release", "--quiet", "--package", "vm-bench", "--"]);
    cmd.args(options);
    // Only a full run regenerates BENCHMARKS.md: a smoke check or a few
    // benchmarks must not replace its figures.
    if !options.iter().any(|o| o == "--only" || o == "--quick") {
        cmd.arg("--markdown").arg(root.join("BENCHMARKS.md"));
    }
    run(&mut cmd)
}
