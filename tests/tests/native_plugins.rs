//! Native plugins: in-process (a Rust `vm_plugin::Plugin`) and from shared
//! libraries (a Rust cdylib and a C one). The same guests run unchanged
//! with kv as a core module, a component, an in-process plugin and a
//! shared library; a native plugin is checked against its WIT before the
//! VM runs anything; its faults (a panic, a failure, a library of another
//! ABI) end the calling process alone, or refuse the library naming it.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use vm_plugin::Plugin;
use vm_reference::{ExitReason, VmError};
use vm_tests::{
    as_guest, c_guest, kv_component, kv_plugin, native_library, panics, run_file_on, rust_guest,
    test_vm, KV_TRANSCRIPT,
};

// Two threads: the remote server answers while the VM is built.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_guest_prints_the_same_with_kv_of_each_kind() {
    type Kind<'a> = (&'static str, Box<dyn Fn() -> vm_reference::VmBuilder + 'a>);
    // The fifth kind: the same plugin served by a server of its own over
    // a NATS server this test starts.
    let nats = vm_tests::nats::Nats::start();
    let client = async_nats::connect(&nats.url).await.unwrap();
    let _server = vm_plugin_remote::serve(client, kv_native::plugin(), Default::default())
        .await
        .unwrap();
    // And by the JavaScript server, on a NATS server of its own.
    let js_nats = vm_tests::nats::Nats::start();
    let _js_server = vm_tests::nats::KvJsServer::start(&js_nats);
    let kinds: [Kind; 6] = [
        (
            "core module",
            Box::new(|| test_vm().plugin_file(kv_plugin())),
        ),
        (
            "component",
            Box::new(|| test_vm().plugin_file(kv_component())),
        ),
        (
            "in-process",
            Box::new(|| test_vm().native_plugin(kv_native::plugin())),
        ),
        (
            "shared library",
            Box::new(|| test_vm().native_plugin_file(native_library("libkv_native.so"))),
        ),
        (
            "remote server",
            Box::new(|| {
                test_vm()
                    .cluster(nats.config("kv-guest"))
                    .remote_plugin(vm_reference::RemotePlugin::parse("kv@1").unwrap())
            }),
        ),
        (
            "remote JavaScript server",
            Box::new(|| {
                test_vm()
                    .cluster(js_nats.config("kv-guest"))
                    .remote_plugin(vm_reference::RemotePlugin::parse("kv@1").unwrap())
            }),
        ),
    ];
    for guest in [
        rust_guest("kv-guest"),
        c_guest("kv-guest"),
        as_guest("kv-guest"),
    ] {
        for (kind, builder) in &kinds {
            let run = run_file_on(builder(), &guest, &[]).await.unwrap();
            assert_eq!(
                run.outcome.reason,
                ExitReason::Normal,
                "{kind}: {}",
                run.stderr
            );
            assert_eq!(
                run.stdout,
                KV_TRANSCRIPT,
                "{} with kv as a {kind}",
                guest.display()
            );
        }
    }
}

const WIT: &str = "package plugin:kv@1.0.0;
interface store {
    @since(version = 1.0.0) count: func() -> u32;
    @since(version = 1.0.0) get: func(key: string) -> option<list<u8>>;
}";

fn refused(plugin: Plugin) -> String {
    match test_vm().native_plugin(plugin).build() {
        Err(VmError::Plugin(e)) => e.to_string(),
        Err(other) => panic!("another error: {other}"),
        Ok(_) => panic!("the VM was built"),
    }
}

#[test]
fn an_in_process_plugin_is_checked_against_its_wit_when_the_vm_is_built() {
    let get = |s: &mut (), (_key,): (String,)| -> Option<Vec<u8>> {
        let () = s;
        None
    };
    let missing = Plugin::builder(WIT, || ()).func("store.get", get).build();
    let text = refused(missing);
    assert!(
        text.contains("plugin:kv (in-process)")
            && text.contains("does not implement `store.count`"),
        "{text}"
    );
    let mistyped = Plugin::builder(WIT, || ())
        .func("store.count", |_, (): ()| 0u64)
        .func("store.get", get)
        .build();
    let text = refused(mistyped);
    assert!(
        text.contains(
            "implements `store.count` as func() -> u64, but its WIT declares func() -> u32"
        ),
        "{text}"
    );
    let extra = Plugin::builder(WIT, || ())
        .func("store.count", |_, (): ()| 0u32)
        .func("store.get", get)
        .func("store.frob", |_, (): ()| 0u32)
        .build();
    assert!(refused(extra).contains("implements `store.frob`, which its WIT does not declare"));
    let twice = Plugin::builder(WIT, || ())
        .func("store.count", |_, (): ()| 0u32)
        .func("store.get", get)
        .func("store.get", get)
        .build();
    assert!(refused(twice).contains("implements `store.get` twice"));
    let not_a_plugin = Plugin::builder("package my:app@1.0.0; interface i {}", || ()).build();
    assert!(refused(not_a_plugin).contains("not a plugin"));
}

/// Ready on its second poll: an await that really suspends.
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            return Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// A plugin whose functions exercise the native path: `double` is async,
/// `explode` and `explode-later` panic, `refuse` fails, `calls` counts the
/// process's calls so far (its state).
fn test_plugin() -> Plugin {
    let wit = "package plugin:t@1.0.0; interface api {
        @since(version = 1.0.0) double: func(n: u32) -> u32;
        @since(version = 1.0.0) explode: func() -> u32;
        @since(version = 1.0.0) explode-later: func() -> u32;
        @since(version = 1.0.0) refuse: func() -> result<u32, string>;
        @since(version = 1.0.0) calls: func() -> u32;
    }";
    Plugin::builder(wit, || 0u32)
        .func_async("api.double", |calls, (n,): (u32,)| {
            *calls += 1;
            async move {
                YieldOnce(false).await;
                n * 2
            }
        })
        .func("api.explode", |_, (): ()| -> u32 {
            panic!("kaboom (deliberately)")
        })
        .func_async("api.explode-later", |_, (): ()| async {
            YieldOnce(false).await;
            if true {
                panic!("kaboom, later (deliberately)");
            }
            0u32
        })
        .func("api.refuse", |calls, (): ()| -> Result<u32, String> {
            *calls += 1;
            Err(format!("refused after {calls} calls"))
        })
        .func("api.calls", |calls, (): ()| *calls)
        .build()
}

/// A guest that calls `plugin:t/api@1` `name` (of type `sig`) as `body`
/// and exits with the status `body` leaves on the stack.
fn t_guest(name: &str, sig: &str, body: &str) -> String {
    format!(
        r#"(module
            (import "plugin:t/api@1" "{name}" (func $f {sig}))
            (import "plugin:t/api@1" "calls" (func $calls (result i32)))
            (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
            (memory (export "memory") 1)
            (func (export "_start") (call $exit {body})))"#
    )
}

async fn run_t(vm: &vm_reference::Vm, wat: &str) -> vm_reference::Outcome {
    let module = vm.load("t.wat", wat.as_bytes()).unwrap();
    vm.run(&module, &["t"]).await.unwrap()
}

#[tokio::test]
async fn native_functions_run_sync_and_async_with_per_process_state() {
    let vm = test_vm().native_plugin(test_plugin()).build().unwrap();
    let outcome = run_t(
        &vm,
        &t_guest(
            "double",
            "(param i32) (result i32)",
            "(call $f (i32.const 21))",
        ),
    )
    .await;
    assert_eq!(outcome.status, 42, "{:?}", outcome.reason);
    // Three calls in one process: its state counts them.
    let counted = "(drop (call $f (i32.const 1))) (drop (call $f (i32.const 1))) (drop (call $f (i32.const 1))) (call $calls)";
    let outcome = run_t(&vm, &t_guest("double", "(param i32) (result i32)", counted)).await;
    assert_eq!(outcome.status, 3, "{:?}", outcome.reason);
    // A fresh process starts from a fresh state.
    let outcome = run_t(
        &vm,
        &t_guest("double", "(param i32) (result i32)", "(call $calls)"),
    )
    .await;
    assert_eq!(outcome.status, 0, "{:?}", outcome.reason);
}

#[tokio::test]
async fn a_panic_or_a_failure_in_a_native_function_ends_the_caller_alone() {
    let vm = test_vm().native_plugin(test_plugin()).build().unwrap();
    for (name, expected) in [
        ("explode", "plugin:t/api.explode panicked: kaboom"),
        (
            "explode-later",
            "plugin:t/api.explode-later panicked: kaboom, later",
        ),
    ] {
        let outcome = run_t(&vm, &t_guest(name, "(result i32)", "(call $f)")).await;
        match &outcome.reason {
            ExitReason::Trap(t) => assert!(t.contains(expected), "{t}"),
            other => panic!("{name}: {other:?}"),
        }
    }
    // A failure the plugin chose is a `result` the guest receives, not a
    // fault: here the guest gets `err` and exits with its discriminant.
    let refuse = r#"(module
        (import "plugin:t/api@1" "refuse" (func $f (param i32)))
        (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
        (memory (export "memory") 1)
        (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) (i32.const 1024))
        (func (export "_start") (call $f (i32.const 64)) (call $exit (i32.load8_u (i32.const 64)))))"#;
    let outcome = run_t(&vm, refuse).await;
    assert_eq!(outcome.status, 1, "{:?}", outcome.reason);
    // The VM carries on.
    let outcome = run_t(
        &vm,
        &t_guest(
            "double",
            "(param i32) (result i32)",
            "(call $f (i32.const 2))",
        ),
    )
    .await;
    assert_eq!(outcome.status, 4);
}

/// A guest that prints `hash.hex("hello")`, then exits with what `fail`
/// did to it.
const HASH_GUEST: &str = r#"(module
    (import "plugin:hash/digest@1" "hex" (func $hex (param i32 i32 i32)))
    (import "plugin:hash/digest@1" "fail" (func $fail (result i32)))
    (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
    (memory (export "memory") 1)
    (data (i32.const 0) "hello")
    (global $heap (mut i32) (i32.const 1024))
    (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
        (local $p i32)
        (local.set $p (global.get $heap))
        (global.set $heap (i32.add (global.get $heap) (local.get 3)))
        (local.get $p))
    (func (export "_start")
        (call $hex (i32.const 0) (i32.const 5) (i32.const 64))
        (i32.store (i32.const 80) (i32.load (i32.const 64)))
        (i32.store (i32.const 84) (i32.load (i32.const 68)))
        (drop (call $w (i32.const 1) (i32.const 80) (i32.const 1) (i32.const 96)))
        (drop (call $fail))))"#;

#[tokio::test]
async fn a_plugin_written_in_c_runs_from_its_shared_library() {
    // A table of the current C ABI, and one of version 1 (without `size`).
    for library in ["libhash.so", "libhash-v1.so"] {
        let vm = test_vm()
            .native_plugin_file(native_library(library))
            .build()
            .unwrap();
        let module = vm.load("hash.wat", HASH_GUEST.as_bytes()).unwrap();
        let outcome = vm.run(&module, &["hash"]).await.unwrap();
        // FNV-1a of "hello".
        assert_eq!(vm.captured_stdout(), "a430d84680aabd0b", "{library}");
        match &outcome.reason {
            ExitReason::Trap(t) => {
                assert!(
                    t.contains("plugin:hash/digest.fail failed: asked to fail"),
                    "{library}: {t}"
                )
            }
            other => panic!("{library}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_null_pointer_with_a_length_from_a_library_is_refused_not_read() {
    panics::watch();
    let vm = test_vm()
        .native_plugin_file(native_library("libhash-null-result.so"))
        .build()
        .unwrap();
    let module = vm.load("hash.wat", HASH_GUEST.as_bytes()).unwrap();
    let outcome = vm.run(&module, &["hash"]).await.unwrap();
    match &outcome.reason {
        ExitReason::Trap(t) => assert!(
            t.contains("plugin:hash/digest.hex failed: returned a string or list at a null pointer with length 16 (a fault in the plugin)"),
            "{t}"
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(panics::take(), 0, "the VM panicked");
}

#[test]
fn shared_libraries_that_cannot_work_are_refused_naming_the_file_and_the_fix() {
    let refused = |name: &str| match test_vm().native_plugin_file(native_library(name)).build() {
        Err(VmError::Plugin(e)) => e.to_string(),
        Err(other) => panic!("{name}: another error: {other}"),
        Ok(_) => panic!("{name} loaded"),
    };
    let text = refused("libhash-wrong-abi.so");
    assert!(
        text.contains(
            "libhash-wrong-abi.so: was built for native plugin ABI 99; this VM serves ABI 1 to 3"
        ) && text.contains("rebuild it"),
        "{text}"
    );
    let text = refused("libhash-record.so");
    assert!(
        text.contains("declares `digest.fail` as `func() -> record { a: u32, b: u32 }`, which a library of native plugin ABI 2 cannot carry")
            && text.contains("ABI 3 carries the whole of WIT"),
        "{text}"
    );
    let text = refused("libhash-undeclared.so");
    assert!(
        text.contains("implements `digest.sha9`, which its WIT does not declare"),
        "{text}"
    );
    let text = refused("libhash-no-entry.so");
    assert!(
        text.contains("exports no `vm_native_plugin_v1`") && text.contains("export_native_plugin!"),
        "{text}"
    );
    // Loaded with every symbol bound: one that nothing defines is named at
    // load, where it used to abort the VM at the first call.
    let text = refused("libhash-unresolved.so");
    assert!(
        text.contains(
            "needs the symbol `vm_np_nothing_defines_this`, which nothing loaded defines"
        ),
        "{text}"
    );
    let text = refused("libhash-null-wit.so");
    assert!(
        text.contains("its table's wit is a null pointer with length"),
        "{text}"
    );
    let text = refused("libmissing.so");
    assert!(text.contains("cannot be loaded"), "{text}");
}

#[test]
fn a_plugin_crate_builds_on_vm_plugin_alone_without_wasmtime() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = std::process::Command::new(cargo)
        .current_dir(vm_tests::root())
        .args([
            "tree",
            "--package",
            "kv-native",
            "--edges",
            "normal,build",
            "--prefix",
            "none",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tree = String::from_utf8_lossy(&out.stdout);
    let crates: Vec<&str> = tree
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(crates.contains(&"vm-plugin"), "{tree}");
    assert!(
        crates
            .iter()
            .all(|c| matches!(*c, "kv-native" | "vm-plugin")),
        "kv-native depends on more than vm-plugin:\n{tree}"
    );
}

#[tokio::test]
async fn the_native_hash_example_runs_its_guest_with_the_plugin_in_rust_or_in_c() {
    let expected = "fnv1a(\"hello\") = a430d84680aabd0b\n\
                    fnv1a(\"plugin\") = efc8344faf373bfa\n\
                    fnv1a(\"\") = cbf29ce484222325\n";
    for builder in [
        test_vm().native_plugin(native_hash::plugin()),
        test_vm().native_plugin_file(native_library("libhash.so")),
    ] {
        let run = run_file_on(builder, &rust_guest("hash-guest"), &[])
            .await
            .unwrap();
        assert_eq!(run.outcome.reason, ExitReason::Normal, "{}", run.stderr);
        assert_eq!(run.stdout, expected);
    }
}

/// A guest that calls `$f` three times, then exits with
/// `10 * count($f) + total()`: 34 when each of its two functions is
/// counted (3 calls of `$f`, 1 of `_start`).
const COUNTED: &str = r#"(module
    (import "plugin:calls/counter@1" "total" (func $total (result i64)))
    (import "plugin:calls/counter@1" "count" (func $count (param i32) (result i64)))
    (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
    (memory (export "memory") 1)
    (func $f)
    (func (export "_start")
        (call $f) (call $f) (call $f)
        (call $exit (i32.wrap_i64 (i64.add
            (i64.mul (call $count (i32.const 3)) (i64.const 10))
            (call $total))))))"#;

#[tokio::test]
async fn a_module_transform_counts_calls_the_guest_reads_through_the_plugins_wit() {
    let vm = test_vm()
        .native_plugin(call_counter::plugin())
        .build()
        .unwrap();
    let module = vm.load("counted.wat", COUNTED.as_bytes()).unwrap();
    let outcome = vm.run(&module, &["counted"]).await.unwrap();
    assert_eq!(outcome.status, 34, "{:?}", outcome.reason);
    // Each process counts its own calls.
    let outcome = vm.run(&module, &["counted"]).await.unwrap();
    assert_eq!(outcome.status, 34, "{:?}", outcome.reason);
    // A real guest, instrumented, runs as before.
    let run = run_file_on(
        test_vm()
            .native_plugin(call_counter::plugin())
            .native_plugin(kv_native::plugin()),
        &rust_guest("kv-guest"),
        &[],
    )
    .await
    .unwrap();
    assert_eq!(run.outcome.reason, ExitReason::Normal, "{}", run.stderr);
    assert_eq!(run.stdout, KV_TRANSCRIPT);
}

#[test]
fn a_transform_that_fails_or_breaks_the_module_fails_the_load_naming_the_plugin() {
    let wit = "package plugin:bad@1.0.0; interface i { @since(version = 1.0.0) f: func(); }";
    let failing = Plugin::builder(wit, || ())
        .func("i.f", |_, (): ()| {})
        .transform(|_| Err("not today".into()))
        .build();
    let vm = test_vm().native_plugin(failing).build().unwrap();
    let text = vm
        .load("app.wat", COUNTED.as_bytes())
        .unwrap_err()
        .to_string();
    assert!(
        text.contains("app.wat could not be loaded: plugin plugin:bad (in-process)'s module transform failed: not today"),
        "{text}"
    );
    let breaking = Plugin::builder(wit, || ())
        .func("i.f", |_, (): ()| {})
        .transform(|bytes| Ok(bytes[..bytes.len() / 2].to_vec()))
        .build();
    let vm = test_vm().native_plugin(breaking).build().unwrap();
    let text = vm
        .load("app.wat", COUNTED.as_bytes())
        .unwrap_err()
        .to_string();
    assert!(
        text.contains("is not a valid WebAssembly module")
            && text.contains("as plugin plugin:bad (in-process)'s module transform made it"),
        "{text}"
    );
    // The counter's import is checked like any: without the plugin loaded,
    // a module it instrumented would be refused, and with it, it runs.
    let instrumented = call_counter::instrument(&wat::parse_str(COUNTED).unwrap()).unwrap();
    let text = test_vm()
        .build()
        .unwrap()
        .load("instrumented.wasm", &instrumented)
        .unwrap_err()
        .to_string();
    assert!(text.contains("plugin:calls/counter@1.hit"), "{text}");
}

#[tokio::test]
async fn a_native_plugins_state_survives_hibernation_and_a_wasm_instance_does_not() {
    for (builder, found) in [
        (
            test_vm().native_plugin(kv_native::plugin()),
            "Some(\"sleep\")",
        ),
        (test_vm().plugin_file(kv_plugin()), "None"),
    ] {
        let run = run_file_on(builder, &rust_guest("kv-sleeper"), &[])
            .await
            .unwrap();
        assert_eq!(run.outcome.reason, ExitReason::Normal, "{}", run.stderr);
        assert_eq!(run.stdout, format!("stored\nafter waking: {found}\n"));
    }
}

/// A plugin whose per-process state is a buffer the guest grows, measured
/// by its capacity.
fn growing() -> Plugin {
    const WIT: &str = "package plugin:grow@1.0.0; interface store { \
        @since(version = 1.0.0) push: func(n: u32); \
        @since(version = 1.0.0) len: func() -> u32; }";
    Plugin::builder(WIT, Vec::<u8>::new)
        .func("store.push", |v: &mut Vec<u8>, (n,): (u32,)| {
            v.extend(std::iter::repeat_n(7, n as usize));
        })
        .func("store.len", |v: &mut Vec<u8>, (): ()| v.len() as u32)
        .state_size(|v: &Vec<u8>| v.capacity())
        .build()
}

/// A guest that pushes `n` bytes `times` times, then exits with 0.
fn pusher(n: u32, times: u32) -> String {
    format!(
        r#"(module
            (import "plugin:grow/store@1" "push" (func $push (param i32)))
            (memory (export "memory") 1)
            (func (export "_start") (local $i i32)
                (loop $again
                    (call $push (i32.const {n}))
                    (local.set $i (i32.add (local.get $i) (i32.const 1)))
                    (br_if $again (i32.lt_u (local.get $i) (i32.const {times}))))))"#
    )
}

#[tokio::test]
async fn a_native_state_is_charged_to_its_process_and_takes_an_instance_slot() {
    panics::watch();
    let vm = test_vm()
        .native_plugin(growing())
        .max_mailbox(256 << 10)
        .max_plugin_instances(1)
        .build()
        .unwrap();
    // 100 KiB fits the process's 256 KiB.
    let module = vm.load("small.wat", pusher(1024, 100).as_bytes()).unwrap();
    let outcome = vm.run(&module, &["small"]).await.unwrap();
    assert_eq!(outcome.reason, ExitReason::Normal);
    // A megabyte does not: the call that grows past it ends the caller.
    let module = vm
        .load("large.wat", pusher(64 << 10, 16).as_bytes())
        .unwrap();
    let outcome = vm.run(&module, &["large"]).await.unwrap();
    match &outcome.reason {
        ExitReason::Trap(t) => assert!(
            t.contains("limit-reached: plugin plugin:grow's state for this process, of")
                && t.contains("over its limit of 262144 bytes (raise it with --max-mailbox)"),
            "{t}"
        ),
        other => panic!("{other:?}"),
    }
    // Each state took the one slot and gave it back as its process ended:
    // processes one after another each get it.
    for _ in 0..3 {
        let outcome = vm.run(&module_small(&vm), &["again"]).await.unwrap();
        assert_eq!(outcome.reason, ExitReason::Normal);
    }
    vm.kill_all().await;
    assert_eq!(vm.host_memory_held(), 0, "a state's charge outlived it");
    assert_eq!(panics::take(), 0, "the VM panicked");
}

fn module_small(vm: &vm_reference::Vm) -> vm_reference::Module {
    vm.load("again.wat", pusher(16, 1).as_bytes()).unwrap()
}

/// A plugin whose state counts its drops, and whose `wait` really waits
/// (for a `wake` from any process).
fn waiting(drops: std::sync::Arc<std::sync::atomic::AtomicUsize>) -> Plugin {
    const WIT: &str = "package plugin:wait@1.0.0; interface api { \
        @since(version = 1.0.0) wait: func() -> u32; \
        @since(version = 1.0.0) wake: func(); }";
    struct Counted(std::sync::Arc<std::sync::atomic::AtomicUsize>);
    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }
    let bell = std::sync::Arc::new(tokio::sync::Notify::new());
    let rung = bell.clone();
    Plugin::builder(WIT, move || Counted(drops.clone()))
        .func_async("api.wait", move |_, (): ()| {
            let bell = bell.clone();
            async move {
                bell.notified().await;
                7u32
            }
        })
        .func("api.wake", move |_, (): ()| rung.notify_one())
        .build()
}

#[tokio::test]
async fn an_async_function_waits_while_other_processes_run_and_states_drop_at_exit() {
    let drops = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    // One worker: if `wait` held it, the waker could never run.
    let vm = test_vm()
        .native_plugin(waiting(drops.clone()))
        .threads(1)
        .build()
        .unwrap();
    let waiter = vm
        .load(
            "waiter.wat",
            r#"(module
                (import "plugin:wait/api@1" "wait" (func $wait (result i32)))
                (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
                (memory (export "memory") 1)
                (func (export "_start") (call $exit (call $wait))))"#
                .as_bytes(),
        )
        .unwrap();
    let waker = vm
        .load(
            "waker.wat",
            r#"(module
                (import "plugin:wait/api@1" "wake" (func $wake))
                (memory (export "memory") 1)
                (func (export "_start") (call $wake)))"#
                .as_bytes(),
        )
        .unwrap();
    // A guard against a hang, not a timing: the two finish in any order.
    let (waited, woke) = tokio::time::timeout(std::time::Duration::from_secs(60), async {
        tokio::join!(vm.run(&waiter, &["waiter"]), vm.run(&waker, &["waker"]))
    })
    .await
    .expect("the waiting call held the only worker");
    assert_eq!(waited.unwrap().status, 7);
    assert_eq!(woke.unwrap().reason, ExitReason::Normal);
    // Each process's state was dropped as it ended, before `run` returned.
    assert_eq!(drops.load(std::sync::atomic::Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_shared_librarys_states_take_one_slot_each_and_are_freed_as_processes_end() {
    // libhash's states are heap blocks its drop frees; the VM's record of
    // each goes with it, so many processes one after another hold nothing.
    let vm = test_vm()
        .native_plugin_file(native_library("libhash.so"))
        .max_plugin_instances(1)
        .build()
        .unwrap();
    let module = vm.load("hash.wat", HASH_GUEST.as_bytes()).unwrap();
    for _ in 0..5 {
        vm.run(&module, &["hash"]).await.unwrap();
    }
    vm.kill_all().await;
    assert_eq!(vm.host_memory_held(), 0);
    assert_eq!(vm.plugin_instantiations(), 5);
}

#[tokio::test]
async fn a_librarys_state_is_charged_what_its_size_says() {
    // Its `size` says a tebibyte: the first call cannot keep it.
    let vm = test_vm()
        .native_plugin_file(native_library("libhash-huge.so"))
        .build()
        .unwrap();
    let module = vm.load("hash.wat", HASH_GUEST.as_bytes()).unwrap();
    let outcome = vm.run(&module, &["hash"]).await.unwrap();
    match &outcome.reason {
        ExitReason::Trap(t) => assert!(
            t.contains("limit-reached: plugin plugin:hash's state for this process, of 1099511627")
                && t.contains("--max-mailbox"),
            "{t}"
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(vm.captured_stdout(), "", "the call's result was not used");
}

#[tokio::test]
async fn a_native_plugin_of_records_variants_enums_and_flags_serves_every_guest() {
    // The shapes plugin as native Rust (its types declared with vm-plugin's
    // macros), in-process and as a shared library (C ABI 3, values as
    // trees): guests of three languages, and a wit-bindgen one, print what
    // they print with the wasm plugin.
    let guests = [
        rust_guest("shapes-rust"),
        rust_guest("shapes-guest"),
        c_guest("shapes-guest"),
        as_guest("shapes-guest"),
    ];
    for guest in &guests {
        for kind in ["in-process", "shared library"] {
            let vm = match kind {
                "in-process" => test_vm().native_plugin(shapes_native::plugin()),
                _ => test_vm().native_plugin_file(native_library("libshapes_native_plugin.so")),
            };
            let run = run_file_on(vm, guest, &[]).await.unwrap();
            assert_eq!(run.outcome.reason, ExitReason::Normal, "{}", run.stderr);
            assert_eq!(
                run.stdout,
                vm_tests::SHAPES_TRANSCRIPT,
                "{} with the {kind} plugin",
                guest.display()
            );
        }
    }
}

#[test]
fn a_native_function_of_other_types_than_its_wit_is_refused_naming_both() {
    // `geometry.area` takes a `shape`; this one takes a record of the same
    // name with other fields.
    vm_plugin::wit_variant! {
        enum Shape { Circle(f64), Polygon(Vec<(f64, f64)>), Empty }
    }
    let plugin = Plugin::builder(shapes_native::WIT, || ())
        .func("geometry.area", |_, (_s,): (Shape,)| 0.0f64)
        .build();
    match test_vm().native_plugin(plugin).build() {
        Err(VmError::Plugin(e)) => {
            let text = e.to_string();
            assert!(
                text.contains("implements `geometry.area` as func(variant { circle(f64), polygon(list<tuple<f64, f64>>), empty }) -> f64, but its WIT declares func(variant { circle(tuple<record { x: f64, y: f64 }, f64>)")
                    && text.contains("wit_record!"),
                "{text}"
            );
        }
        Err(other) => panic!("another error: {other}"),
        Ok(_) => panic!("the VM was built"),
    }
}
