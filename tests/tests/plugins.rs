//! Plugins end to end: the kv example's plugin called from guests, the
//! checks before a guest runs, plugins refused at load, laziness, and
//! faults (hostile arguments, a faulty plugin, a trap, a busy loop, a
//! memory limit, the instance limit), none of which may harm the VM or
//! another process.

use vm_reference::{ExitReason, LoadError, VmError};
use vm_tests::{
    as_guest, c_guest, kv_component, kv_plugin, panics, run_file_on, rust_guest, test_vm,
    KV_TRANSCRIPT,
};

/// A plugin written in WAT: its WIT in the `vm:plugin` section, then
/// `body` (exports and all).
fn wat_plugin(wit: &str, body: &str) -> String {
    format!("(module (@custom \"vm:plugin\" \"{wit}\") {body})")
}

/// A plugin whose functions misbehave, one way each.
fn faulty() -> String {
    wat_plugin(
        "package plugin:faulty@1.0.0; interface api { \
         @since(version = 1.0.0) crash: func(); \
         @since(version = 1.0.0) spin: func(); \
         @since(version = 1.0.0) grow: func(pages: u32) -> s32; \
         @since(version = 1.0.0) wild-string: func() -> string; \
         @since(version = 1.0.0) not-utf8: func() -> string; \
         @since(version = 1.0.0) bad-option: func() -> option<u8>; \
         @since(version = 1.0.0) wide-bool: func() -> bool; \
         @since(version = 1.0.0) bare: func(ok: bool) -> result; \
         @since(version = 1.0.0) wide-case: func() -> result; \
         @since(version = 1.0.0) deep: func(); \
         @since(version = 1.0.0) echo-bool: func(b: bool) -> u32; \
         @since(version = 1.0.0) maybe: func() -> option<bool>; }",
        r#"(memory (export "memory") 1)
        (data (i32.const 64) "\ff\fe")
        (func (export "plugin:faulty/api@1#crash") unreachable)
        (func (export "plugin:faulty/api@1#spin") (loop (br 0)))
        (func (export "plugin:faulty/api@1#grow") (param i32) (result i32)
            (memory.grow (local.get 0)))
        (func (export "plugin:faulty/api@1#wild-string") (result i32)
            (i32.store (i32.const 16) (i32.const 0xfff000))
            (i32.store (i32.const 20) (i32.const 100))
            (i32.const 16))
        (func (export "plugin:faulty/api@1#not-utf8") (result i32)
            (i32.store (i32.const 16) (i32.const 64))
            (i32.store (i32.const 20) (i32.const 2))
            (i32.const 16))
        (func (export "plugin:faulty/api@1#bad-option") (result i32)
            (i32.store8 (i32.const 16) (i32.const 7))
            (i32.const 16))
        (func (export "plugin:faulty/api@1#wide-bool") (result i32) (i32.const 7))
        (func (export "plugin:faulty/api@1#bare") (param i32) (result i32) (i32.eqz (local.get 0)))
        (func (export "plugin:faulty/api@1#wide-case") (result i32) (i32.const 7))
        (func $deep (export "plugin:faulty/api@1#deep") (call $deep))
        (func (export "plugin:faulty/api@1#echo-bool") (param i32) (result i32) (local.get 0))
        (func (export "plugin:faulty/api@1#maybe") (result i32)
            (i32.store8 (i32.const 16) (i32.const 1))
            (i32.store8 (i32.const 17) (i32.const 7))
            (i32.const 16))"#,
    )
}

/// A guest that imports `plugin:faulty/api@1` `name` with `sig` and runs
/// `body` as its `_start`.
fn faulty_guest(name: &str, sig: &str, body: &str) -> String {
    format!(
        r#"(module
            (import "plugin:faulty/api@1" "{name}" (func $f {sig}))
            (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
            (memory (export "memory") 1)
            (data (i32.const 200) "\d2\00\00\00\01\00\00\00")
            (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) (i32.const 1024))
            (func $say (drop (call $w (i32.const 1) (i32.const 200) (i32.const 1) (i32.const 208))))
            (func (export "_start") {body}))"#
    )
}

fn trap(outcome: &vm_reference::Outcome) -> &str {
    match &outcome.reason {
        ExitReason::Trap(t) => {
            assert!(!t.contains("bug in the VM"), "{t}");
            t
        }
        other => panic!("expected a trap, got {other:?}"),
    }
}

/// After a fault, the same VM still runs the kv guest to its end.
async fn still_runs_kv(vm: &vm_reference::Vm) {
    let guest = vm.load_file(rust_guest("kv-guest")).unwrap();
    let outcome = vm.run(&guest, &["kv-guest"]).await.unwrap();
    assert_eq!(outcome.reason, ExitReason::Normal);
}

#[tokio::test]
async fn the_rust_guest_uses_the_kv_plugin_and_each_process_has_its_own_store() {
    // The same guest, with the plugin as a core module and as a component.
    for plugin in [kv_plugin(), kv_component()] {
        let builder = test_vm().plugin_file(&plugin);
        let run = run_file_on(builder, &rust_guest("kv-guest"), &[])
            .await
            .unwrap();
        assert_eq!(run.outcome.reason, ExitReason::Normal, "{}", run.stderr);
        // `child count: 0` after the parent stored a key: the child's
        // plugin instance is its own.
        assert_eq!(run.stdout, KV_TRANSCRIPT, "{}", plugin.display());
    }
    let vm = test_vm().plugin_file(kv_component()).build().unwrap();
    assert_eq!(
        vm.plugins(),
        [(
            "kv_plugin.wasm".to_string(),
            "plugin:kv@1.0.0".to_string(),
            "component"
        )]
    );
}

#[tokio::test]
async fn the_c_and_assemblyscript_guests_print_what_the_rust_guest_prints_with_either_kind() {
    for plugin in [kv_plugin(), kv_component()] {
        for guest in [c_guest("kv-guest"), as_guest("kv-guest")] {
            let run = run_file_on(test_vm().plugin_file(&plugin), &guest, &[])
                .await
                .unwrap();
            assert_eq!(run.outcome.reason, ExitReason::Normal, "{}", run.stderr);
            assert_eq!(
                run.stdout,
                KV_TRANSCRIPT,
                "{} with {}",
                guest.display(),
                plugin.display()
            );
        }
    }
}

#[tokio::test]
async fn a_guest_is_refused_before_it_runs_when_its_plugin_is_not_loaded() {
    let vm = test_vm().build().unwrap();
    let err = vm.load_file(rust_guest("kv-guest")).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, LoadError::Incompatible { .. }), "{text}");
    assert!(
        text.contains("plugin:kv/store@1.get")
            && text.contains("plugin:kv 1.0.0, which is not loaded")
            && text.contains("--plugin kv.wasm")
            && text.contains("list it in the app's vm.toml (plugins = [\"kv.wasm\"])"),
        "{text}"
    );
    // About the plugins, not the ABI the VM serves.
    assert!(
        text.contains("kv-guest.wasm cannot run with the plugins this VM has loaded:")
            && !text.contains("it serves ABI"),
        "{text}"
    );
}

#[tokio::test]
async fn another_major_a_missing_function_and_a_wrong_signature_are_refused_naming_both_sides() {
    let kv2 = wat_plugin(
        "package plugin:kv@2.0.0; interface store { @since(version = 2.0.0) count: func() -> u32; }",
        r#"(memory (export "memory") 1) (func (export "plugin:kv/store@2#count") (result i32) (i32.const 0))"#,
    );
    let vm = test_vm().plugin("kv2.wat", kv2).build().unwrap();
    let text = vm
        .load_file(rust_guest("kv-guest"))
        .unwrap_err()
        .to_string();
    assert!(
        text.contains(
            "the guest needs plugin:kv 1.0.0, but the loaded plugin (kv2.wat) is plugin:kv 2.0.0"
        ),
        "{text}"
    );

    let vm = test_vm().plugin_file(kv_plugin()).build().unwrap();
    // A function of a newer minor, from a guest marked as built for it.
    let newer = r#"(module
        (@custom "vm:abi" "plugin:kv@1.3.0\n")
        (import "plugin:kv/store@1" "rename" (func (param i32 i32 i32 i32)))
        (memory (export "memory") 1)
        (func (export "_start")))"#;
    let text = vm
        .load("newer.wat", newer.as_bytes())
        .unwrap_err()
        .to_string();
    assert!(
        text.contains("plugin:kv/store@1.rename")
            && text.contains("plugin:kv 1.0.0 (kv_plugin.wasm), has no such function")
            && text.contains("built for 1.3.0"),
        "{text}"
    );
    let wrong = r#"(module
        (import "plugin:kv/store@1" "count" (func (param i32) (result i32)))
        (memory (export "memory") 1)
        (func (export "_start")))"#;
    let text = vm
        .load("wrong.wat", wrong.as_bytes())
        .unwrap_err()
        .to_string();
    assert!(
        text.contains("its signature is (i32) -> (i32) but plugin:kv 1.0.0 (kv_plugin.wasm) defines () -> (i32)"),
        "{text}"
    );
    // A list result needs somewhere to go.
    let no_realloc = r#"(module
        (import "plugin:kv/store@1" "get" (func (param i32 i32 i32)))
        (memory (export "memory") 1)
        (func (export "_start")))"#;
    let text = vm
        .load("no-realloc.wat", no_realloc.as_bytes())
        .unwrap_err()
        .to_string();
    assert!(text.contains("exports no `cabi_realloc`"), "{text}");
}

#[tokio::test]
async fn a_guest_built_for_other_wit_types_is_refused_though_the_core_types_agree() {
    let vm = test_vm().plugin_file(kv_plugin()).build().unwrap();
    // `get` returns option<list<u8>>; a guest generated from a WIT where it
    // returns option<string> imports the same core signature, and would
    // take bytes that are not UTF-8 for a string.
    let guest = |ty: &str| {
        format!(
            r#"(module
                (@custom "vm:abi" "plugin:kv@1.0.0\nplugin:kv/store@1#get {ty}\n")
                (import "plugin:kv/store@1" "get" (func (param i32 i32 i32)))
                (memory (export "memory") 1)
                (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) (i32.const 0))
                (func (export "_start")))"#
        )
    };
    let text = vm
        .load(
            "typed.wat",
            guest("func(string) -> option<string>").as_bytes(),
        )
        .unwrap_err()
        .to_string();
    assert!(
        text.contains("import `plugin:kv/store@1.get`: the guest was built for `get: func(string) -> option<string>`, but plugin:kv 1.0.0 (kv_plugin.wasm) defines `get: func(string) -> option<list<u8>>`"),
        "{text}"
    );
    // u32 and s32 are one core type too.
    let count = r#"(module
        (@custom "vm:abi" "plugin:kv/store@1#count func() -> s32\n")
        (import "plugin:kv/store@1" "count" (func (result i32)))
        (memory (export "memory") 1)
        (func (export "_start")))"#;
    let text = vm
        .load("count.wat", count.as_bytes())
        .unwrap_err()
        .to_string();
    assert!(
        text.contains("built for `count: func() -> s32`, but plugin:kv 1.0.0 (kv_plugin.wasm) defines `count: func() -> u32`"),
        "{text}"
    );
    // An import named with the full version (as wit-bindgen names it) is
    // held to the line recorded for its series.
    let full = guest("func(string) -> option<string>").replace(
        "(import \"plugin:kv/store@1\" \"get\"",
        "(import \"plugin:kv/store@1.0.0\" \"get\"",
    );
    let text = vm
        .load("full.wat", full.as_bytes())
        .unwrap_err()
        .to_string();
    assert!(
        text.contains("the guest was built for `get: func(string) -> option<string>`"),
        "{text}"
    );
    // Two lines for one function that disagree are refused.
    let two = r#"(module
        (@custom "vm:abi" "plugin:kv/store@1#count func() -> u32\nplugin:kv/store@1#count func() -> s32\n")
        (import "plugin:kv/store@1" "count" (func (result i32)))
        (memory (export "memory") 1)
        (func (export "_start")))"#;
    let text = vm.load("two.wat", two.as_bytes()).unwrap_err().to_string();
    assert!(
        text.contains("the guest records two WIT types for it"),
        "{text}"
    );
    // The guest's own recorded type, when it agrees, runs.
    let module = vm
        .load(
            "agrees.wat",
            guest("func(string) -> option<list<u8>>").as_bytes(),
        )
        .unwrap();
    assert_eq!(
        vm.run(&module, &["agrees"]).await.unwrap().reason,
        ExitReason::Normal
    );
}

#[tokio::test]
async fn zero_x_minors_are_different_series_as_semver_says() {
    let zero = |minor: u32| {
        wat_plugin(
            &format!("package plugin:zero@0.{minor}.0; interface api {{ @since(version = 0.{minor}.0) n: func() -> u32; }}"),
            &format!(r#"(memory (export "memory") 1) (func (export "plugin:zero/api@0.{minor}#n") (result i32) (i32.const {minor}))"#),
        )
    };
    let guest = |module: &str| {
        format!(
            r#"(module
                (import "{module}" "n" (func $n (result i32)))
                (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
                (memory (export "memory") 1)
                (func (export "_start") (call $exit (call $n))))"#
        )
    };
    let vm = test_vm().plugin("zero.wat", zero(2)).build().unwrap();
    let text = vm
        .load("old.wat", guest("plugin:zero/api@0.1").as_bytes())
        .unwrap_err()
        .to_string();
    assert!(
        text.contains("the guest needs plugin:zero 0.1.x, but the loaded plugin (zero.wat) is plugin:zero 0.2.0, another series"),
        "{text}"
    );
    for module in ["plugin:zero/api@0.2", "plugin:zero/api@0.2.0"] {
        let m = vm.load("same.wat", guest(module).as_bytes()).unwrap();
        assert_eq!(vm.run(&m, &["same"]).await.unwrap().status, 2, "{module}");
    }
}

#[tokio::test]
async fn plugins_that_cannot_work_are_refused_when_the_vm_is_built() {
    let refused = |name: &str, wat: String| match test_vm().plugin(name, wat).build() {
        Err(VmError::Plugin(e)) => e.to_string(),
        Err(other) => panic!("{name}: another error: {other}"),
        Ok(_) => panic!("{name}: loaded"),
    };
    let wit = "package plugin:p@1.0.0; interface i { @since(version = 1.0.0) f: func() -> u32; }";
    let text = refused(
        "host.wat",
        wat_plugin(
            wit,
            r#"(import "vm:host/process@1" "self-id" (func (result i64)))
            (memory (export "memory") 1) (func (export "plugin:p/i@1#f") (result i32) (i32.const 1))"#,
        ),
    );
    assert!(
        text.contains("host.wat") && text.contains("may not import vm:host"),
        "{text}"
    );
    let text = refused(
        "bare.wat",
        r#"(module (memory (export "memory") 1))"#.to_string(),
    );
    assert!(text.contains("no `vm:plugin` custom section"), "{text}");
    let text = refused(
        "missing.wat",
        wat_plugin(wit, r#"(memory (export "memory") 1)"#),
    );
    assert!(text.contains("does not export `plugin:p/i@1#f`"), "{text}");
    let text = refused(
        "typed.wat",
        wat_plugin(
            wit,
            r#"(memory (export "memory") 1) (func (export "plugin:p/i@1#f") (param i32) (result i32) (i32.const 1))"#,
        ),
    );
    assert!(
        text.contains("with a type other than its WIT's () -> (i32)"),
        "{text}"
    );
    let text = refused(
        "post.wat",
        wat_plugin(
            wit,
            r#"(memory (export "memory") 1) (func (export "plugin:p/i@1#f") (result i32) (i32.const 1))
            (global (export "cabi_post_plugin:p/i@1#f") i32 (i32.const 0))"#,
        ),
    );
    assert!(
        text.contains("exports `cabi_post_plugin:p/i@1#f`, but not as a function (i32) -> ()"),
        "{text}"
    );
    let text = refused(
        "wit.wat",
        wat_plugin("package vm:p@1.0.0; interface i {}", ""),
    );
    assert!(text.contains("not a plugin"), "{text}");
    // Two plugins of one name.
    let kv = std::fs::read(kv_plugin()).unwrap();
    match test_vm()
        .plugin("a.wasm", kv.clone())
        .plugin("b.wasm", kv)
        .build()
    {
        Err(e) => assert!(
            e.to_string().contains("which a.wasm provides already"),
            "{e}"
        ),
        Ok(_) => panic!("two plugins of one name loaded"),
    }
}

#[tokio::test]
async fn processes_that_import_a_plugin_but_never_call_it_make_no_instance() {
    let vm = test_vm().plugin_file(kv_plugin()).build().unwrap();
    let idle = r#"(module
        (import "plugin:kv/store@1" "count" (func (result i32)))
        (memory (export "memory") 1)
        (func (export "_start")))"#;
    let idle = vm.load("idle.wat", idle.as_bytes()).unwrap();
    for _ in 0..50 {
        let outcome = vm.run(&idle, &["idle"]).await.unwrap();
        assert_eq!(outcome.reason, ExitReason::Normal);
    }
    assert_eq!(vm.plugin_instantiations(), 0);
    // The kv guest's two processes call it: two instances.
    still_runs_kv(&vm).await;
    assert_eq!(vm.plugin_instantiations(), 2);
}

#[tokio::test]
async fn hostile_arguments_end_the_caller_alone_with_a_reason() {
    // No test of this file panics on purpose: any panic counted is a bug,
    // whichever test saw it.
    panics::watch();
    let vm = test_vm().plugin_file(kv_plugin()).build().unwrap();
    let guest = |body: &str| {
        format!(
            r#"(module
            (import "plugin:kv/store@1" "get" (func $get (param i32 i32 i32)))
            (memory (export "memory") 1)
            (data (i32.const 0) "\ff\fe")
            (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) (i32.const 1024))
            (func (export "_start") {body}))"#
        )
    };
    let cases = [
        (
            "(call $get (i32.const 65530) (i32.const 100) (i32.const 64))",
            "plugin:kv/store.get: argument `key`: a string at 65530 with length 100 lies outside memory",
        ),
        (
            "(call $get (i32.const -1) (i32.const -1) (i32.const 64))",
            "argument `key`: a string at 4294967295 with length 4294967295 lies outside memory",
        ),
        (
            "(call $get (i32.const 0) (i32.const 2) (i32.const 64))",
            "plugin:kv/store.get: argument `key`: a string that is not UTF-8",
        ),
        (
            "(call $get (i32.const 8) (i32.const 0) (i32.const 65530))",
            "plugin:kv/store.get: return pointer 65530 lies outside memory",
        ),
        (
            "(call $get (i32.const 8) (i32.const 0) (i32.const 66))",
            "is not 4-byte aligned",
        ),
    ];
    for (body, expected) in cases {
        let module = vm.load("hostile.wat", guest(body).as_bytes()).unwrap();
        let outcome = vm.run(&module, &["hostile"]).await.unwrap();
        let reason = trap(&outcome);
        assert!(reason.contains(expected), "{body}: {reason}");
    }
    still_runs_kv(&vm).await;
    assert_eq!(panics::take(), 0, "the VM panicked");
}

#[tokio::test]
async fn a_faulty_plugin_ends_its_caller_alone_with_a_reason_naming_the_function() {
    panics::watch();
    let vm = test_vm()
        .plugin("faulty.wat", faulty())
        .plugin_file(kv_plugin())
        .max_memory(4 << 20)
        .build()
        .unwrap();
    let cases = [
        (
            "crash",
            "",
            "(call $f)",
            "plugin:faulty/api.crash failed: wasm trap: wasm `unreachable` instruction executed",
        ),
        (
            "grow",
            "(param i32) (result i32)",
            "(drop (call $f (i32.const 1000)))",
            "memory limit exceeded",
        ),
        (
            "wild-string",
            "(param i32)",
            "(call $f (i32.const 64))",
            "plugin:faulty/api.wild-string returned an invalid value (a string at 16773120 with length 100 lies outside memory; a fault in the plugin)",
        ),
        (
            "not-utf8",
            "(param i32)",
            "(call $f (i32.const 64))",
            "plugin:faulty/api.not-utf8 returned an invalid value (a string that is not UTF-8",
        ),
        (
            "bad-option",
            "(param i32)",
            "(call $f (i32.const 64))",
            "plugin:faulty/api.bad-option returned an invalid value (the discriminant 7, which its WIT does not have",
        ),
        (
            "wide-case",
            "(result i32)",
            "(drop (call $f))",
            "plugin:faulty/api.wide-case returned an invalid value (the discriminant 7, which its WIT does not have",
        ),
        (
            "deep",
            "",
            "(call $f)",
            "plugin:faulty/api.deep failed: call stack exhausted (the calling process's stack limit; raise it with --max-stack)",
        ),
    ];
    for (name, sig, body, expected) in cases {
        let (_, outcome) = {
            let module = vm
                .load("caller.wat", faulty_guest(name, sig, body).as_bytes())
                .unwrap();
            ((), vm.run(&module, &["caller"]).await.unwrap())
        };
        let reason = trap(&outcome);
        assert!(reason.contains(expected), "{name}: {reason}");
    }
    // A bool is 0 or 1 when the guest sees it, whatever the plugin returned.
    let module = vm
        .load(
            "bool.wat",
            faulty_guest(
                "wide-bool",
                "(result i32)",
                "(if (i32.ne (call $f) (i32.const 1)) (then unreachable))",
            )
            .as_bytes(),
        )
        .unwrap();
    let outcome = vm.run(&module, &["bool"]).await.unwrap();
    assert_eq!(outcome.reason, ExitReason::Normal);
    // A `result` without payloads is its case, returned directly.
    let module = vm
        .load(
            "bare.wat",
            faulty_guest(
                "bare",
                "(param i32) (result i32)",
                "(if (i32.ne (call $f (i32.const 1)) (i32.const 0)) (then unreachable))
                 (if (i32.ne (call $f (i32.const 0)) (i32.const 1)) (then unreachable))",
            )
            .as_bytes(),
        )
        .unwrap();
    let outcome = vm.run(&module, &["bare"]).await.unwrap();
    assert_eq!(outcome.reason, ExitReason::Normal);
    // And a bool reaches the plugin as 0 or 1, whatever the guest passed,
    // and one in a result area reaches the guest so.
    for (name, sig, body) in [
        (
            "echo-bool",
            "(param i32) (result i32)",
            "(if (i32.ne (call $f (i32.const 5)) (i32.const 1)) (then unreachable))",
        ),
        (
            "maybe",
            "(param i32)",
            "(call $f (i32.const 64)) (if (i32.ne (i32.load8_u (i32.const 65)) (i32.const 1)) (then unreachable))",
        ),
    ] {
        let module = vm
            .load("bools.wat", faulty_guest(name, sig, body).as_bytes())
            .unwrap();
        let outcome = vm.run(&module, &["bools"]).await.unwrap();
        assert_eq!(outcome.reason, ExitReason::Normal, "{name}");
    }
    still_runs_kv(&vm).await;
    assert_eq!(panics::take(), 0, "the VM panicked");
}

#[tokio::test]
async fn a_plugin_that_loops_forever_is_preempted_and_its_caller_can_be_killed() {
    // One worker: the canary runs only if the loop inside the plugin
    // yields its time slice.
    let vm = test_vm()
        .threads(1)
        .plugin("faulty.wat", faulty())
        .build()
        .unwrap();
    let spinner = vm
        .load("spin.wat", faulty_guest("spin", "", "(call $f)").as_bytes())
        .unwrap();
    let canary = vm
        .load(
            "canary.wat",
            faulty_guest("crash", "", "(call $say)").as_bytes(),
        )
        .unwrap();
    let spinning = vm.run(&spinner, &["spin"]);
    tokio::pin!(spinning);
    // The spinner's plugin instance exists once it is about to loop in it.
    tokio::select! {
        outcome = &mut spinning => panic!("the spinner ended: {outcome:?}"),
        () = async { while vm.plugin_instantiations() == 0 { tokio::task::yield_now().await } } => {}
    }
    tokio::select! {
        outcome = &mut spinning => panic!("the spinner ended: {outcome:?}"),
        outcome = vm.run(&canary, &["canary"]) => assert_eq!(outcome.unwrap().reason, ExitReason::Normal),
    }
    let ((), outcome) = tokio::join!(vm.kill_all(), spinning);
    assert_eq!(outcome.unwrap().reason, ExitReason::Killed);
}

#[tokio::test]
async fn a_call_past_the_plugin_instance_limit_fails_naming_the_flag() {
    // The kv guest's root holds the only instance; its linked child's call
    // fails, and the root ends with the child's reason.
    let run = run_file_on(
        test_vm().plugin_file(kv_plugin()).max_plugin_instances(1),
        &rust_guest("kv-guest"),
        &[],
    )
    .await
    .unwrap();
    let reason = run.outcome.reason.to_string();
    assert!(
        reason.contains("limit-reached") && reason.contains("--max-plugin-instances"),
        "{reason}"
    );
    // One after another, processes each get the one slot: an instance
    // gives it back as its process ends, with either kind of plugin.
    for plugin in [kv_plugin(), kv_component()] {
        let vm = test_vm()
            .plugin_file(plugin)
            .max_plugin_instances(1)
            .build()
            .unwrap();
        let count = r#"(module
            (import "plugin:kv/store@1" "count" (func $count (result i32)))
            (memory (export "memory") 1)
            (func (export "_start") (drop (call $count))))"#;
        let module = vm.load("count.wat", count.as_bytes()).unwrap();
        for _ in 0..4 {
            let outcome = vm.run(&module, &["count"]).await.unwrap();
            assert_eq!(outcome.reason, ExitReason::Normal);
        }
        assert_eq!(vm.plugin_instantiations(), 4);
    }
}

#[tokio::test]
async fn the_abi_1_0_fixture_still_runs_with_plugins_loaded() {
    let run = run_file_on(
        test_vm()
            .plugin_file(kv_component())
            .plugin("faulty.wat", faulty()),
        &vm_tests::fixture("abi-1.0-guest.wasm"),
        &[],
    )
    .await
    .unwrap();
    assert_eq!(run.outcome.reason, ExitReason::Normal, "{}", run.stderr);
}

#[tokio::test]
async fn a_guest_built_with_wit_bindgen_from_the_plugins_wit_calls_it() {
    for plugin in [kv_plugin(), kv_component()] {
        let run = run_file_on(
            test_vm().plugin_file(&plugin),
            &rust_guest("wit-kv-guest"),
            &[],
        )
        .await
        .unwrap();
        assert_eq!(run.outcome.reason, ExitReason::Normal, "{}", run.stderr);
        assert_eq!(
            run.stdout,
            "get language: any that wit-bindgen supports\n\
             get missing: None\n\
             increment n: Ok(41)\n\
             increment language: Err(\"language holds `any that wit-bindgen supports`, not a number\")\n\
             count: 2\n",
            "{}",
            plugin.display()
        );
    }
}

#[tokio::test]
async fn a_component_plugin_takes_lists_of_at_most_a_mebibyte() {
    let vm = test_vm().plugin_file(kv_component()).build().unwrap();
    // kv.set("k", 2 MiB of zeros), from a guest with 3 MiB of memory.
    let guest = r#"(module
        (import "plugin:kv/store@1" "set" (func $set (param i32 i32 i32 i32)))
        (memory (export "memory") 48)
        (data (i32.const 0) "k")
        (func (export "_start") (call $set (i32.const 0) (i32.const 1) (i32.const 1024) (i32.const 2097152))))"#;
    let module = vm.load("big.wat", guest.as_bytes()).unwrap();
    let outcome = vm.run(&module, &["big"]).await.unwrap();
    let reason = trap(&outcome);
    assert!(
        reason.contains("plugin:kv/store.set: argument `value` holds 2097152 bytes; a component plugin takes at most 1048576"),
        "{reason}"
    );
}

#[tokio::test]
async fn vm_sdk_bindings_lower_and_lift_every_wit_type_as_the_vm_and_wit_bindgen_do() {
    // The echo plugin (wit-bindgen's) returns each value it is given; the
    // guest passes values at the edges of every WIT type through vm-sdk's
    // bindings (parameters flat and in memory, results returned and through
    // a return pointer) and asserts each comes back equal.
    for plugin in vm_tests::echo_plugins() {
        let run = run_file_on(
            test_vm().plugin_file(&plugin),
            &rust_guest("echo-guest"),
            &[],
        )
        .await
        .unwrap();
        assert_eq!(run.outcome.reason, ExitReason::Normal, "{}", run.stderr);
        assert_eq!(
            run.stdout,
            vm_tests::ECHO_TRANSCRIPT,
            "{}",
            plugin.display()
        );
    }
}

#[tokio::test]
async fn a_plugin_speaking_records_variants_enums_and_flags_runs_as_either_wasm_kind() {
    // The plugin's functions take and return records, variants (a tuple in
    // one, a list of records in another), an enum, flags, a char and
    // floats, and `option`/`result` of them. One guest calls it through
    // vm-sdk's bindings, which record each function's WIT type (so the VM
    // checks them); the other through wit-bindgen's, which record none.
    let guests = [
        rust_guest("shapes-rust"),
        rust_guest("shapes-guest"),
        c_guest("shapes-guest"),
        as_guest("shapes-guest"),
    ];
    for guest in &guests {
        for plugin in vm_tests::shapes_plugins() {
            let run = run_file_on(test_vm().plugin_file(&plugin), guest, &[])
                .await
                .unwrap();
            assert_eq!(run.outcome.reason, ExitReason::Normal, "{}", run.stderr);
            assert_eq!(
                run.stdout,
                vm_tests::SHAPES_TRANSCRIPT,
                "{} with {}",
                guest.display(),
                plugin.display()
            );
        }
    }
}

#[tokio::test]
async fn hostile_arguments_of_variants_and_lists_end_the_caller_alone() {
    panics::watch();
    let [core, component] = vm_tests::shapes_plugins();
    for plugin in [core, component] {
        let vm = test_vm().plugin_file(&plugin).build().unwrap();
        // `area(s: shape)`: a shape flattens to its case and slots joined
        // across the cases (i64, i64, f64).
        let area = |body: &str| {
            format!(
                r#"(module
                    (import "plugin:shapes/geometry@1" "area" (func $area (param i32 i64 i64 f64) (result f64)))
                    (memory (export "memory") 1)
                    (func (export "_start") (drop {body})))"#
            )
        };
        for (body, expected) in [
            (
                "(call $area (i32.const 9) (i64.const 0) (i64.const 0) (f64.const 0))",
                "plugin:shapes/geometry.area: argument `s`: the discriminant 9, which its WIT does not have (its 3 cases)",
            ),
            (
                "(call $area (i32.const 1) (i64.const 65530) (i64.const 100) (f64.const 0))",
                "plugin:shapes/geometry.area: argument `s`: a list at 65530 with length 100 lies outside memory",
            ),
            (
                "(call $area (i32.const 1) (i64.const 3) (i64.const 1) (f64.const 0))",
                "plugin:shapes/geometry.area: argument `s`: a list at 3 is not 8-byte aligned",
            ),
        ] {
            let module = vm.load("area.wat", area(body).as_bytes()).unwrap();
            let outcome = vm.run(&module, &["area"]).await.unwrap();
            match &outcome.reason {
                ExitReason::Trap(t) => assert!(t.contains(expected), "{}: {t}", plugin.display()),
                other => panic!("{other:?}"),
            }
        }
        // And a well-formed polygon of three points, from raw memory:
        // (0, 0), (4, 0), (0, 3), whose area is 6.
        let good = r#"(module
            (import "plugin:shapes/geometry@1" "area" (func $area (param i32 i64 i64 f64) (result f64)))
            (memory (export "memory") 1)
            (data (i32.const 64)
                "\00\00\00\00\00\00\00\00" "\00\00\00\00\00\00\00\00"
                "\00\00\00\00\00\00\10\40" "\00\00\00\00\00\00\00\00"
                "\00\00\00\00\00\00\00\00" "\00\00\00\00\00\00\08\40")
            (func (export "_start")
                (if (f64.ne (f64.const 6)
                        (call $area (i32.const 1) (i64.const 64) (i64.const 3) (f64.const 0)))
                    (then unreachable))))"#;
        let module = vm.load("good.wat", good.as_bytes()).unwrap();
        let outcome = vm.run(&module, &["good"]).await.unwrap();
        assert_eq!(outcome.reason, ExitReason::Normal, "{}", plugin.display());
        still_runs_kv_on(&plugin).await;
    }
    assert_eq!(panics::take(), 0, "the VM panicked");
}

/// After faults, a VM with the plugin still runs its guest.
async fn still_runs_kv_on(plugin: &std::path::Path) {
    let run = run_file_on(
        test_vm().plugin_file(plugin),
        &rust_guest("shapes-guest"),
        &[],
    )
    .await
    .unwrap();
    assert_eq!(run.stdout, vm_tests::SHAPES_TRANSCRIPT);
}

#[tokio::test]
async fn arguments_that_flatten_past_sixteen_values_travel_in_memory_both_ways() {
    let params: Vec<String> = (0..17).map(|i| format!("a{i}: u32")).collect();
    let wit = format!(
        "package plugin:wide@1.0.0; interface api {{ @since(version = 1.0.0) sum: func({}) -> u32; }}",
        params.join(", ")
    );
    // The plugin gets one pointer: the VM put the 17 values in memory its
    // cabi_realloc gave.
    let sum: String = (0..17)
        .map(|i| format!("(i32.load (i32.add (local.get 0) (i32.const {})))", i * 4))
        .fold("(i32.const 0)".to_string(), |acc, l| {
            format!("(i32.add {acc} {l})")
        });
    let plugin = wat_plugin(
        &wit,
        &format!(
            r#"(memory (export "memory") 1)
            (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) (i32.const 4096))
            (func (export "plugin:wide/api@1#sum") (param i32) (result i32) {sum})"#
        ),
    );
    let vm = test_vm().plugin("wide.wat", plugin).build().unwrap();
    // The guest passes one pointer too: 1 + 2 + … + 17 = 153 (it exits
    // with 153 - 100, exit statuses being small).
    let stores: String = (0..17)
        .map(|i| {
            format!(
                "(i32.store (i32.const {}) (i32.const {}))",
                256 + i * 4,
                i + 1
            )
        })
        .collect();
    let guest = format!(
        r#"(module
            (import "plugin:wide/api@1" "sum" (func $sum (param i32) (result i32)))
            (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
            (memory (export "memory") 1)
            (func (export "_start") {stores}
                (call $exit (i32.sub (call $sum (i32.const 256)) (i32.const 100)))))"#
    );
    let module = vm.load("wide.wat", guest.as_bytes()).unwrap();
    let outcome = vm.run(&module, &["wide"]).await.unwrap();
    assert_eq!(outcome.status, 53, "{:?}", outcome.reason);
    // A pointer to them outside the guest's memory ends the guest alone.
    let bad = guest.replace(
        "(call $sum (i32.const 256))",
        "(call $sum (i32.const 65500))",
    );
    let module = vm.load("bad.wat", bad.as_bytes()).unwrap();
    let outcome = vm.run(&module, &["bad"]).await.unwrap();
    match &outcome.reason {
        ExitReason::Trap(t) => assert!(
            t.contains("plugin:wide/api.sum: its arguments at 65500 (68 bytes) lie outside memory or are not 4-byte aligned"),
            "{t}"
        ),
        other => panic!("{other:?}"),
    }
}
