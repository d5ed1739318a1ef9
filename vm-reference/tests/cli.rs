//! The `vm` command as a user meets it: exit statuses and messages.

use std::path::PathBuf;
use std::process::{Command, Output};

fn vm(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vm"))
        .args(args)
        .output()
        .expect("running vm")
}

fn fixture(name: &str) -> String {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    root.join("tests/fixtures").join(name).display().to_string()
}

fn write_wat(name: &str, wat: &str) -> String {
    // Cargo's scratch directory for integration tests, under target/: the
    // files stay out of the system's temporary directory.
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("vm-cli");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, wat).unwrap();
    path.display().to_string()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn run_prints_guest_output_and_exits_zero() {
    let out = vm(&["run", &fixture("abi-1.0-guest.wasm")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "abi 1.0 fixture ok\n");
}

#[test]
fn a_file_that_is_not_wasm_exits_2_with_a_plain_error() {
    let path = write_wat("notes.txt", "these are not wasm bytes (");
    let out = vm(&["run", &path]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.starts_with("vm: error: notes.txt is not a valid WebAssembly module"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn a_guest_for_a_newer_abi_is_refused_before_running() {
    let out = vm(&["run", &fixture("abi-2.0-guest.wasm")]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("cannot run on this VM"), "{err}");
    assert!(err.contains("vm:host/process@2.self-id"), "{err}");
}

#[test]
fn the_exit_status_follows_the_root_process() {
    let path = write_wat(
        "exit7.wat",
        r#"(module (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
                   (memory (export "memory") 1)
                   (func (export "_start") (call $exit (i32.const 7))))"#,
    );
    let out = vm(&["run", &path]);
    assert_eq!(out.status.code(), Some(7));
    assert!(text(&out.stderr).contains("exit: exit status 7"));
    let trap = write_wat(
        "trap.wat",
        r#"(module (memory (export "memory") 1) (func (export "_start") unreachable))"#,
    );
    let out = vm(&["run", &trap]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("vm: the root process ended abnormally: trap: wasm trap: wasm `unreachable` instruction executed"), "{err}");
}

#[test]
fn inspect_lists_imports_by_interface_and_says_whether_it_runs() {
    let ok = vm(&["inspect", &fixture("abi-1.0-guest.wasm")]);
    assert_eq!(ok.status.code(), Some(0));
    let out = text(&ok.stdout);
    assert!(out.contains("needs ABI:      vm:host 1.0.0"), "{out}");
    assert!(
        out.contains(
            "vm:host/mailbox@1: send (since 1.0.0), receive (since 1.0.0), read (since 1.0.0)"
        ),
        "{out}"
    );
    assert!(out.contains("runs here:      yes"), "{out}");
    let newer = vm(&["inspect", &fixture("abi-1.99-guest.wasm")]);
    assert_eq!(newer.status.code(), Some(1));
    let out = text(&newer.stdout);
    assert!(out.contains("needs ABI:      vm:host 1.99.0"), "{out}");
    assert!(out.contains("runs here:      no"), "{out}");
    assert!(out.contains("teleport"), "{out}");
}

#[test]
fn a_bad_size_is_rejected_with_the_accepted_forms() {
    let out = vm(&[
        "run",
        "--max-memory",
        "lots",
        &fixture("abi-1.0-guest.wasm"),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("K, M or G"));
}

#[test]
fn new_refuses_an_unknown_language_by_listing_the_known_ones() {
    let out = vm(&["new", "cobol", "app"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr)
        .contains("there is no template for `cobol`; choose one of: rust, c, assemblyscript"));
}

#[test]
fn threads_sets_the_scheduler_and_zero_is_refused() {
    let out = vm(&["run", "--threads", "1", &fixture("abi-1.0-guest.wasm")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "abi 1.0 fixture ok\n");
    let out = vm(&["run", "--threads", "0", &fixture("abi-1.0-guest.wasm")]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("invalid value '0' for '--threads <N>'"),
        "{err}"
    );
}

#[test]
fn a_stack_limit_too_small_to_start_exits_2_naming_the_flag() {
    let out = vm(&["run", "--max-stack", "0", &fixture("abi-1.0-guest.wasm")]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("a stack limit of 0 bytes is too small"),
        "{err}"
    );
    assert!(err.contains("--max-stack"), "{err}");
}

#[test]
fn bindgen_writes_each_language_s_file_named_after_the_wit() {
    let wit = write_wat(
        "chat.wit",
        "package demo:chat;\ninterface messages {\n    record line { who: string, text: string }\n}\n",
    );
    let out_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("vm-cli-bindgen");
    let out_text = out_dir.display().to_string();
    for (lang, file, needle) in [
        ("rust", "chat.rs", "pub struct Line {"),
        ("c", "chat.h", "typedef struct chat_line {"),
        ("assemblyscript", "chat.ts", "export class Line {"),
    ] {
        let out = vm(&["bindgen", &wit, "--lang", lang, "--out", &out_text]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let written = std::fs::read_to_string(out_dir.join(file)).unwrap();
        assert!(written.contains(needle), "{lang}: {written}");
    }
}

#[test]
fn bindgen_refuses_an_unsupported_type_naming_it_and_what_to_use() {
    let wit = write_wat(
        "bad.wit",
        "package demo:bad;\ninterface messages {\n    record job { id: u32, initial: char }\n}\n",
    );
    let out = vm(&["bindgen", &wit, "--lang", "c"]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("in type `job`")
            && err.contains("field `initial`")
            && err.contains("`char` is not supported: use a string"),
        "{err}"
    );
    let out = vm(&["bindgen", &wit, "--lang", "cobol"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("unknown language `cobol`: use rust, c or assemblyscript"),
        "{}",
        text(&out.stderr)
    );
}

/// A one-function plugin (`plugin:p/i.f` returns 7) and a guest that
/// exits with what it returns.
fn plugin_and_guest() -> (String, String) {
    let plugin = write_wat(
        "p.wat",
        r#"(module
            (@custom "vm:plugin" "package plugin:p@1.2.0; interface i { @since(version = 1.0.0) f: func() -> u32; }")
            (memory (export "memory") 1)
            (func (export "plugin:p/i@1#f") (result i32) (i32.const 7)))"#,
    );
    let guest = write_wat(
        "uses-p.wat",
        r#"(module
            (@custom "vm:abi" "plugin:p@1.1.0\n")
            (import "plugin:p/i@1" "f" (func $f (result i32)))
            (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
            (memory (export "memory") 1)
            (func (export "_start") (call $exit (call $f))))"#,
    );
    (plugin, guest)
}

#[test]
fn run_and_inspect_take_plugins() {
    let (plugin, guest) = plugin_and_guest();
    let out = vm(&["run", "--plugin", &plugin, &guest]);
    assert_eq!(out.status.code(), Some(7), "{}", text(&out.stderr));

    let out = vm(&["inspect", "--plugin", &plugin, &guest]);
    let report = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{report}{}", text(&out.stderr));
    assert!(
        report.contains("needs plugins:  plugin:p 1.x (built for 1.1.0)")
            && report.contains("plugins here:   plugin:p@1.2.0 (p.wat, a core module)")
            && report.contains("runs here:      yes"),
        "{report}"
    );

    let out = vm(&["inspect", &guest]);
    let report = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{report}");
    assert!(
        report.contains("runs here:      no")
            && report.contains("plugin:p 1.1.0, which is not loaded")
            && report.contains("--plugin p.wasm"),
        "{report}"
    );
    let out = vm(&["run", &guest]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("which is not loaded"));
}

#[test]
fn a_plugin_that_cannot_load_is_a_plain_error_naming_the_file() {
    let bad = write_wat(
        "imports-host.wat",
        r#"(module
            (@custom "vm:plugin" "package plugin:q@1.0.0; interface i { @since(version = 1.0.0) f: func(); }")
            (import "vm:host/process@1" "self-id" (func (result i64)))
            (memory (export "memory") 1)
            (func (export "plugin:q/i@1#f")))"#,
    );
    let out = vm(&["run", "--plugin", &bad, &fixture("abi-1.0-guest.wasm")]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("vm: error: plugin imports-host.wat: imports `vm:host/process@1.self-id`")
            && err.contains("may not import vm:host"),
        "{err}"
    );
    let out = vm(&[
        "run",
        "--plugin",
        "/no/such/plugin.wasm",
        &fixture("abi-1.0-guest.wasm"),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("plugin /no/such/plugin.wasm: cannot be read"));
}
