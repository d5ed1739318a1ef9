//! The sandbox around wasm plugins: what a hostile guest or a hostile
//! plugin might try through the canonical ABI's seams (a `cabi_realloc`
//! that calls back in, that traps or answers out of bounds; a plugin that
//! exits, closes the guest's descriptors, grows past the process's memory,
//! or returns more than may be lifted). Each ends the calling process alone,
//! with a reason naming the function and what went wrong; none reaches the
//! VM or another process.

use vm_reference::{ExitReason, Vm};
use vm_tests::{kv_plugin, panics, rust_guest, test_vm};

/// A core-module plugin: its WIT in the `vm:plugin` section, then `body`.
fn wat_plugin(wit: &str, body: &str) -> String {
    format!("(module (@custom \"vm:plugin\" \"{wit}\") {body})")
}

const WIT: &str = "package plugin:seams@1.0.0; interface api { \
    @since(version = 1.0.0) name: func() -> string; \
    @since(version = 1.0.0) take: func(s: string) -> u32; \
    @since(version = 1.0.0) bye: func(); \
    @since(version = 1.0.0) close-stdout: func(); \
    @since(version = 1.0.0) grow: func(pages: u32) -> s32; }";

/// A plugin whose `take` has a realloc that behaves as `realloc` says.
fn seams(realloc: &str) -> String {
    wat_plugin(
        WIT,
        &format!(
            r#"(import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
            (import "wasi_snapshot_preview1" "fd_close" (func $close (param i32) (result i32)))
            (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
            (memory (export "memory") 1)
            (data (i32.const 32) "plugin")
            (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) {realloc})
            (func (export "plugin:seams/api@1#name") (result i32)
                (i32.store (i32.const 16) (i32.const 32))
                (i32.store (i32.const 20) (i32.const 6))
                (i32.const 16))
            (func (export "plugin:seams/api@1#take") (param i32 i32) (result i32) (local.get 1))
            (func (export "plugin:seams/api@1#bye") (call $exit (i32.const 0)))
            (func (export "plugin:seams/api@1#close-stdout") (drop (call $close (i32.const 1))))
            (func (export "plugin:seams/api@1#grow") (param i32) (result i32)
                (memory.grow (local.get 0)))"#
        ),
    )
}

/// A guest importing `name` with `sig`, whose `cabi_realloc` runs
/// `realloc`, and whose `_start` runs `body` and then prints "after".
fn guest(name: &str, sig: &str, realloc: &str, body: &str) -> String {
    format!(
        r#"(module
            (import "plugin:seams/api@1" "{name}" (func $f {sig}))
            (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
            (memory (export "memory") 1)
            (data (i32.const 200) "\d8\00\00\00\06\00\00\00")
            (data (i32.const 216) "after\n")
            (data (i32.const 300) "a string")
            (func $say (drop (call $w (i32.const 1) (i32.const 200) (i32.const 1) (i32.const 208))))
            (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) {realloc})
            (func (export "_start") {body} (call $say)))"#
    )
}

fn vm_with(plugin: String) -> Vm {
    test_vm()
        .plugin("seams.wat", plugin)
        .plugin_file(kv_plugin())
        .max_memory(4 << 20)
        .build()
        .unwrap()
}

/// Runs a guest, returns its trap reason (failing on any other ending).
async fn trap_of(vm: &Vm, wat: &str) -> String {
    let module = vm.load("guest.wat", wat.as_bytes()).unwrap();
    let outcome = vm.run(&module, &["guest"]).await.unwrap();
    match outcome.reason {
        ExitReason::Trap(t) => {
            assert!(!t.contains("bug in the VM"), "{t}");
            t
        }
        other => panic!("expected a trap, got {other:?}"),
    }
}

/// After each fault the VM still runs the kv guest to its end.
async fn still_runs_kv(vm: &Vm) {
    let guest = vm.load_file(rust_guest("kv-guest")).unwrap();
    let outcome = vm.run(&guest, &["kv-guest"]).await.unwrap();
    assert_eq!(outcome.reason, ExitReason::Normal);
}

#[tokio::test]
async fn an_import_called_from_inside_a_cabi_realloc_traps_the_caller() {
    panics::watch();
    let vm = vm_with(seams("(i32.const 1024)"));
    // The guest's realloc calls the plugin again: without the rule, each
    // nested call took another fiber stack, until the pool had none.
    let reenter = guest(
        "name",
        "(param i32)",
        "(call $f (i32.const 64)) (i32.const 1024)",
        "(call $f (i32.const 64))",
    );
    let reason = trap_of(&vm, &reenter).await;
    assert!(
        reason.contains("plugin:seams/api.name: the module's cabi_realloc failed: its cabi_realloc called an import while allocating for a plugin call, which the canonical ABI forbids"),
        "{reason}"
    );
    // Any import, WASI's included.
    let print = guest(
        "name",
        "(param i32)",
        "(call $say) (i32.const 1024)",
        "(call $f (i32.const 64))",
    );
    let reason = trap_of(&vm, &print).await;
    assert!(
        reason.contains("called an import while allocating"),
        "{reason}"
    );
    // The VM's own imports too: a quick one, and one that would wait.
    for call in ["(drop (call $id))", "(call $sleep (i64.const 1000000))"] {
        let host = format!(
            r#"(module
                (import "plugin:seams/api@1" "name" (func $f (param i32)))
                (import "vm:host/process@1" "self-id" (func $id (result i64)))
                (import "vm:host/process@1" "sleep" (func $sleep (param i64)))
                (memory (export "memory") 1)
                (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
                    {call} (i32.const 1024))
                (func (export "_start") (call $f (i32.const 64))))"#
        );
        let reason = trap_of(&vm, &host).await;
        assert!(
            reason.contains("plugin:seams/api.name: the module's cabi_realloc failed: its cabi_realloc called an import while allocating"),
            "{call}: {reason}"
        );
    }
    // And the plugin's own realloc, as it takes an argument.
    let vm = vm_with(seams(
        "(drop (call $w (i32.const 1) (i32.const 0) (i32.const 0) (i32.const 0))) (i32.const 1024)",
    ));
    let take = guest(
        "take",
        "(param i32 i32) (result i32)",
        "(i32.const 1024)",
        "(drop (call $f (i32.const 300) (i32.const 8)))",
    );
    let reason = trap_of(&vm, &take).await;
    assert!(
        reason.contains("plugin:seams/api.take: the plugin's cabi_realloc failed: its cabi_realloc called an import"),
        "{reason}"
    );
    // Outside a realloc, the same guest calls freely.
    let fine = guest(
        "name",
        "(param i32)",
        "(i32.const 1024)",
        "(call $f (i32.const 64))",
    );
    let module = vm.load("fine.wat", fine.as_bytes()).unwrap();
    assert_eq!(
        vm.run(&module, &["fine"]).await.unwrap().reason,
        ExitReason::Normal
    );
    still_runs_kv(&vm).await;
    assert_eq!(panics::take(), 0, "the VM panicked");
}

#[tokio::test]
async fn a_cabi_realloc_that_traps_or_answers_out_of_bounds_ends_the_caller_naming_whose() {
    panics::watch();
    let vm = vm_with(seams("(i32.const 1024)"));
    let cases = [
        (
            "unreachable",
            "plugin:seams/api.name: the module's cabi_realloc failed: wasm trap: wasm `unreachable` instruction executed",
        ),
        (
            "(i32.const 65534)",
            "plugin:seams/api.name: the module's cabi_realloc gave 65534 for 6 bytes, outside its memory",
        ),
    ];
    for (realloc, expected) in cases {
        let wat = guest("name", "(param i32)", realloc, "(call $f (i32.const 64))");
        let reason = trap_of(&vm, &wat).await;
        assert!(reason.contains(expected), "{reason}");
    }
    let vm = vm_with(seams("(i32.const 70000)"));
    let take = guest(
        "take",
        "(param i32 i32) (result i32)",
        "(i32.const 1024)",
        "(drop (call $f (i32.const 300) (i32.const 8)))",
    );
    let reason = trap_of(&vm, &take).await;
    assert!(
        reason.contains("plugin:seams/api.take: the plugin's cabi_realloc gave 70000 for 8 bytes, outside its memory (a fault in the plugin)"),
        "{reason}"
    );
    still_runs_kv(&vm).await;
    assert_eq!(panics::take(), 0, "the VM panicked");
}

#[tokio::test]
async fn a_plugin_that_exits_faults_and_cannot_touch_the_guests_descriptors() {
    panics::watch();
    let vm = vm_with(seams("(i32.const 1024)"));
    // proc_exit(0) used to end the caller as `normal`: links and
    // supervisors never saw the fault.
    let bye = guest("bye", "", "(i32.const 1024)", "(call $f)");
    let reason = trap_of(&vm, &bye).await;
    assert!(
        reason.contains(
            "plugin:seams/api.bye failed: the plugin called WASI's exit(0), which a plugin may not"
        ),
        "{reason}"
    );
    // A plugin closing stdout closes its own: the guest still prints.
    let close = guest("close-stdout", "", "(i32.const 1024)", "(call $f)");
    let module = vm.load("close.wat", close.as_bytes()).unwrap();
    let outcome = vm.run(&module, &["close"]).await.unwrap();
    assert_eq!(outcome.reason, ExitReason::Normal);
    assert!(
        vm.captured_stdout().contains("after\n"),
        "the guest's stdout was closed by the plugin: {:?}",
        vm.captured_stdout()
    );
    assert_eq!(panics::take(), 0, "the VM panicked");
}

#[tokio::test]
async fn max_memory_bounds_the_process_and_its_plugins_together() {
    panics::watch();
    // The guest holds 1 page; the plugin 1, and asks for 40 more (2.6
    // MiB): under 4 MiB alone, over it with the guest's 3 MiB.
    let vm = vm_with(seams("(i32.const 1024)"));
    let wat = guest(
        "grow",
        "(param i32) (result i32)",
        "(i32.const 1024)",
        "(drop (memory.grow (i32.const 47))) (drop (call $f (i32.const 40)))",
    );
    let reason = trap_of(&vm, &wat).await;
    assert!(
        reason.contains("plugin:seams/api.grow: memory limit exceeded: the process asked for")
            && reason
                .contains("in all (its own and its plugins'), over its limit of 4194304 bytes"),
        "{reason}"
    );
    // Alone, the same growth fits.
    let alone = guest(
        "grow",
        "(param i32) (result i32)",
        "(i32.const 1024)",
        "(if (i32.lt_s (call $f (i32.const 40)) (i32.const 0)) (then unreachable))",
    );
    let module = vm.load("alone.wat", alone.as_bytes()).unwrap();
    assert_eq!(
        vm.run(&module, &["alone"]).await.unwrap().reason,
        ExitReason::Normal
    );
    assert_eq!(panics::take(), 0, "the VM panicked");
}

/// A component plugin whose `big` returns a `list<u8>` of `n` bytes.
const BIG_COMPONENT: &str = r#"(component
    (core module $m
        (@custom "vm:plugin" "package plugin:big@1.0.0; interface api { @since(version = 1.0.0) big: func(n: u32) -> list<u8>; @since(version = 1.0.0) text: func(n: u32) -> string; }")
        (memory (export "memory") 64)
        (func (export "big") (param i32) (result i32)
            (i32.store (i32.const 0) (i32.const 16))
            (i32.store (i32.const 4) (local.get 0))
            (i32.const 0))
        (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) (i32.const 1024)))
    (core instance $i (instantiate $m))
    (func $big (param "n" u32) (result (list u8))
        (canon lift (core func $i "big") (memory (core memory $i "memory")) (realloc (core func $i "cabi_realloc"))))
    (func $text (param "n" u32) (result string)
        (canon lift (core func $i "big") (memory (core memory $i "memory")) (realloc (core func $i "cabi_realloc"))))
    (instance $api (export "big" (func $big)) (export "text" (func $text)))
    (export "plugin:big/api@1.0.0" (instance $api)))"#;

#[tokio::test]
async fn a_component_plugins_result_is_bounded_as_its_arguments_are() {
    panics::watch();
    let vm = test_vm()
        .plugin("big.wat", BIG_COMPONENT)
        .max_memory(16 << 20)
        .build()
        .unwrap();
    let wat = |n: u32| {
        format!(
            r#"(module
                (import "plugin:big/api@1" "big" (func $f (param i32 i32)))
                (memory (export "memory") 40)
                (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) (i32.const 65536))
                (func (export "_start")
                    (call $f (i32.const {n}) (i32.const 64))
                    (if (i32.ne (i32.load (i32.const 68)) (i32.const {n})) (then unreachable))))"#
        )
    };
    // A mebibyte comes back whole.
    let module = vm.load("small.wat", wat(1 << 20).as_bytes()).unwrap();
    assert_eq!(
        vm.run(&module, &["small"]).await.unwrap().reason,
        ExitReason::Normal
    );
    // Three are refused, before wasmtime lifts them into the VM's heap.
    let module = vm.load("large.wat", wat(3 << 20).as_bytes()).unwrap();
    let outcome = vm.run(&module, &["large"]).await.unwrap();
    let ExitReason::Trap(reason) = outcome.reason else {
        panic!("expected a trap, got {:?}", outcome.reason)
    };
    assert!(
        reason.contains("plugin:big/api.big returned a string or list of more than 1048576 bytes, more than a component plugin may return"),
        "{reason}"
    );
    // A string too: 2 MiB of text (NULs are UTF-8) are refused likewise.
    let text = r#"(module
        (import "plugin:big/api@1" "text" (func $f (param i32 i32)))
        (memory (export "memory") 40)
        (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) (i32.const 65536))
        (func (export "_start") (call $f (i32.const 2097152) (i32.const 64))))"#;
    let module = vm.load("text.wat", text.as_bytes()).unwrap();
    let outcome = vm.run(&module, &["text"]).await.unwrap();
    let ExitReason::Trap(reason) = outcome.reason else {
        panic!("expected a trap, got {:?}", outcome.reason)
    };
    assert!(
        reason.contains("plugin:big/api.text returned a string or list of more than 1048576 bytes"),
        "{reason}"
    );
    assert_eq!(panics::take(), 0, "the VM panicked");
}

/// A component plugin whose functions fail, one way each.
const FAULTY_COMPONENT: &str = r#"(component
    (core module $m
        (@custom "vm:plugin" "package plugin:cfault@1.0.0; interface api { @since(version = 1.0.0) crash: func(); @since(version = 1.0.0) garbled: func() -> string; @since(version = 1.0.0) wild: func() -> string; }")
        (memory (export "memory") 1)
        (data (i32.const 64) "\ff\fe")
        (func (export "crash") unreachable)
        (func (export "garbled") (result i32)
            (i32.store (i32.const 0) (i32.const 64))
            (i32.store (i32.const 4) (i32.const 2))
            (i32.const 0))
        (func (export "wild") (result i32)
            (i32.store (i32.const 0) (i32.const 0xfff000))
            (i32.store (i32.const 4) (i32.const 100))
            (i32.const 0))
        (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) (i32.const 1024)))
    (core instance $i (instantiate $m))
    (func $crash (canon lift (core func $i "crash")))
    (func $garbled (result string)
        (canon lift (core func $i "garbled") (memory (core memory $i "memory")) (realloc (core func $i "cabi_realloc"))))
    (func $wild (result string)
        (canon lift (core func $i "wild") (memory (core memory $i "memory")) (realloc (core func $i "cabi_realloc"))))
    (instance $api (export "crash" (func $crash)) (export "garbled" (func $garbled)) (export "wild" (func $wild)))
    (export "plugin:cfault/api@1.0.0" (instance $api)))"#;

#[tokio::test]
async fn a_faulty_component_plugin_ends_its_caller_alone_naming_the_function() {
    panics::watch();
    let vm = test_vm()
        .plugin("cfault.wat", FAULTY_COMPONENT)
        .plugin_file(kv_plugin())
        .build()
        .unwrap();
    let guest = |name: &str, sig: &str, body: &str| {
        format!(
            r#"(module
                (import "plugin:cfault/api@1" "{name}" (func $f {sig}))
                (memory (export "memory") 1)
                (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) (i32.const 1024))
                (func (export "_start") {body}))"#
        )
    };
    for (name, sig, body, expected) in [
        (
            "crash",
            "",
            "(call $f)",
            "plugin:cfault/api.crash failed: wasm trap: wasm `unreachable` instruction executed",
        ),
        (
            "garbled",
            "(param i32)",
            "(call $f (i32.const 64))",
            "plugin:cfault/api.garbled failed: invalid utf-8",
        ),
        (
            "wild",
            "(param i32)",
            "(call $f (i32.const 64))",
            "plugin:cfault/api.wild failed: string pointer/length out of bounds of memory",
        ),
    ] {
        let reason = trap_of(&vm, &guest(name, sig, body)).await;
        assert!(reason.contains(expected), "{name}: {reason}");
    }
    still_runs_kv(&vm).await;
    assert_eq!(panics::take(), 0, "the VM panicked");
}
