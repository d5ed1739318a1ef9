//! Bad input gets a clear error and harms no one else: malformed modules,
//! unknown imports, hostile pointers, foreign handles.

use vm_reference::{ExitReason, LoadError, Vm};
use vm_tests::{run_file_on, run_wat, rust_guest, test_vm};

fn load(bytes: &[u8]) -> LoadError {
    Vm::builder()
        .build()
        .unwrap()
        .load("bad.wasm", bytes)
        .unwrap_err()
}

#[test]
fn a_file_that_is_not_wasm_is_a_clear_load_error() {
    let text = load(b"\x7fELF not a module").to_string();
    assert!(
        text.starts_with("bad.wasm is not a valid WebAssembly module"),
        "{text}"
    );
    let truncated = load(b"\0asm\x01\0\0\0\x01\x05").to_string();
    assert!(
        truncated.contains("not a valid WebAssembly module"),
        "{truncated}"
    );
}

#[test]
fn a_missing_file_names_the_path() {
    let vm = Vm::builder().build().unwrap();
    let text = vm
        .load_file("/nonexistent/app.wasm")
        .unwrap_err()
        .to_string();
    assert!(
        text.starts_with("cannot read /nonexistent/app.wasm"),
        "{text}"
    );
}

#[test]
fn an_import_no_interface_provides_is_refused_by_name() {
    let text = load(br#"(module (import "env" "frobnicate" (func)))"#).to_string();
    assert!(text.contains("`env.frobnicate`"), "{text}");
    assert!(
        text.contains("no interface of this VM provides it"),
        "{text}"
    );
}

#[test]
fn an_import_with_the_wrong_signature_is_refused_with_both_signatures() {
    let text =
        load(br#"(module (import "vm:host/process@1" "self-id" (func (result i32))))"#).to_string();
    let (major, minor, patch) = vm_abi::ABI_VERSION;
    let expected =
        format!("its signature is () -> (i32) but ABI {major}.{minor}.{patch} defines () -> (i64)");
    assert!(text.contains(&expected), "{text}");
}

/// A module whose `_start` checks one call's result area and exits with 0
/// when the call failed with `expected` (an error code), 3 otherwise.
fn expect_error(imports: &str, call: &str, expected: u8) -> String {
    format!(
        r#"(module
            {imports}
            (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
            (memory (export "memory") 1)
            (func (export "_start")
              {call}
              (if (i32.and (i32.eq (i32.load8_u (i32.const 16)) (i32.const 1))
                           (i32.eq (i32.load8_u (i32.const {payload})) (i32.const {expected})))
                (then (call $exit (i32.const 0))))
              (call $exit (i32.const 3))))"#,
        payload = 16
            + if call.contains("$send") || call.contains("$drop") {
                1
            } else {
                8
            }
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_pointer_past_the_end_of_memory_fails_the_call_only() {
    let wat = expect_error(
        r#"(import "vm:host/mailbox@1" "send" (func $send (param i64 i64 i32 i32 i32 i32 i32)))"#,
        "(call $send (i64.const 1) (i64.const 0) (i32.const 65530) (i32.const 100) (i32.const 0) (i32.const 0) (i32.const 16))",
        1, // out-of-bounds
    );
    let run = run_wat(&wat).await.unwrap();
    assert_eq!(run.outcome.status, 0, "{run:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receive_buffer_outside_memory_fails_before_taking_the_message() {
    // Exit status 0 only if: the bad buffer fails with out-of-bounds, the
    // message is still there for the next receive, which copies its first
    // 5 bytes and reports all 12, and `read` returns the other 7.
    let wat = r#"(module
        (import "vm:host/process@1" "self-id" (func $self (result i64)))
        (import "vm:host/mailbox@1" "send" (func $send (param i64 i64 i32 i32 i32 i32 i32)))
        (import "vm:host/mailbox@1" "receive-into" (func $recv (param i32 i32 i32 i32 i64 i32 i32 i32)))
        (import "vm:host/mailbox@1" "read" (func $read (param i32 i32 i32)))
        (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
        (memory (export "memory") 1)
        (data (i32.const 100) "hello, world")
        (func (export "_start")
          (call $send (call $self) (i64.const 5) (i32.const 100) (i32.const 12) (i32.const 0) (i32.const 0) (i32.const 16))
          (call $recv (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 1) (i64.const 0) (i32.const 65530) (i32.const 100) (i32.const 32))
          (if (i32.ne (i32.load8_u (i32.const 32)) (i32.const 1)) (then (call $exit (i32.const 3))))
          (if (i32.ne (i32.load8_u (i32.const 40)) (i32.const 1)) (then (call $exit (i32.const 4))))
          (call $recv (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 1) (i64.const 0) (i32.const 200) (i32.const 5) (i32.const 32))
          (if (i32.ne (i32.load8_u (i32.const 32)) (i32.const 0)) (then (call $exit (i32.const 5))))
          (if (i64.ne (i64.load (i32.const 48)) (i64.const 5)) (then (call $exit (i32.const 6))))
          (if (i32.ne (i32.load (i32.const 64)) (i32.const 12)) (then (call $exit (i32.const 7))))
          (if (i32.ne (i32.load8_u (i32.const 205)) (i32.const 0)) (then (call $exit (i32.const 8))))
          (call $read (i32.const 205) (i32.const 100) (i32.const 16))
          (if (i32.ne (i32.load (i32.const 20)) (i32.const 7)) (then (call $exit (i32.const 9))))
          (if (i64.ne (i64.load (i32.const 100)) (i64.load (i32.const 200))) (then (call $exit (i32.const 10))))
          (if (i32.ne (i32.load (i32.const 108)) (i32.load (i32.const 208))) (then (call $exit (i32.const 11))))
          (call $exit (i32.const 0))))"#;
    let run = run_wat(wat).await.unwrap();
    assert_eq!(run.outcome.status, 0, "{run:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_length_fails_the_call_only() {
    let wat = expect_error(
        r#"(import "vm:host/mailbox@1" "send" (func $send (param i64 i64 i32 i32 i32 i32 i32)))"#,
        "(call $send (i64.const 1) (i64.const 0) (i32.const 0) (i32.const -1) (i32.const 0) (i32.const 0) (i32.const 16))",
        1,
    );
    assert_eq!(run_wat(&wat).await.unwrap().outcome.status, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_or_dead_handle_is_invalid_handle() {
    let wat = expect_error(
        r#"(import "vm:host/handle@1" "drop" (func $drop (param i32 i32)))"#,
        "(call $drop (i32.const 12345) (i32.const 16))",
        0, // invalid-handle
    );
    assert_eq!(run_wat(&wat).await.unwrap().outcome.status, 0);
    let moved = expect_error(
        r#"(import "vm:host/mailbox@1" "send" (func $send (param i64 i64 i32 i32 i32 i32 i32)))"#,
        // Moving handle 7, which this process does not own.
        "(i32.store (i32.const 200) (i32.const 7))
         (call $send (i64.const 1) (i64.const 0) (i32.const 0) (i32.const 0) (i32.const 200) (i32.const 1) (i32.const 16))",
        0,
    );
    assert_eq!(run_wat(&moved).await.unwrap().outcome.status, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_return_pointer_outside_memory_traps_that_process_and_names_the_call() {
    let run = run_wat(
        r#"(module
            (import "vm:host/registry@1" "lookup" (func $lookup (param i32 i32 i32)))
            (memory (export "memory") 1)
            (func (export "_start") (call $lookup (i32.const 0) (i32.const 0) (i32.const 70000))))"#,
    )
    .await
    .unwrap();
    let ExitReason::Trap(text) = &run.outcome.reason else {
        panic!("expected a trap, got {:?}", run.outcome.reason);
    };
    assert!(
        text.contains("registry.lookup") || text.contains("vm:host/registry@1.lookup"),
        "{text}"
    );
    assert!(
        text.contains("return pointer 70000 lies outside memory"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trapping_process_does_not_disturb_others_in_the_same_vm() {
    // The root of ping-pong runs while a hostile process traps beside it.
    let vm = test_vm().build().unwrap();
    let hostile = vm
        .load(
            "hostile.wat",
            br#"(module
                (import "vm:host/mailbox@1" "read" (func $read (param i32 i32 i32)))
                (memory (export "memory") 1)
                (func (export "_start") (call $read (i32.const 0) (i32.const 0) (i32.const -8))))"#,
        )
        .unwrap();
    let ping_pong = vm.load_file(rust_guest("ping-pong")).unwrap();
    let (bad, good) = tokio::join!(
        vm.run(&hostile, &["hostile"]),
        vm.run(&ping_pong, &["ping-pong", "20"])
    );
    assert!(matches!(bad.unwrap().reason, ExitReason::Trap(_)));
    let good = good.unwrap();
    assert_eq!(good.reason, ExitReason::Normal);
    assert!(vm.captured_stdout().contains("done: 20 round trips"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spawning_past_the_process_limit_is_a_limit_error_not_a_crash() {
    let vm = test_vm()
        .max_processes(3)
        .allow_net(vm_reference::NetRule::parse("127.0.0.1").unwrap());
    let run = run_file_on(vm, &rust_guest("scenarios"), &["process-limit"])
        .await
        .unwrap();
    assert_eq!(run.outcome.reason, ExitReason::Normal, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        "spawned 2, then: Some(LimitReached) (raise it with --max-processes)\n\
         the listener came back: true\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_call_from_the_start_function_says_that_is_where_it_came_from() {
    // AssemblyScript's top-level code runs in the start function, before
    // the VM can reach the module's memory: the reason must say so, not
    // that the module (which does export one) has no memory.
    let run = run_wat(
        r#"(module
            (import "vm:host/process@1" "exit" (func $exit (param i32 i32)))
            (memory (export "memory") 1)
            (data (i32.const 16) "bye")
            (func $top (call $exit (i32.const 16) (i32.const 3)))
            (start $top)
            (func (export "_start")))"#,
    )
    .await
    .unwrap();
    let ExitReason::Trap(text) = &run.outcome.reason else {
        panic!("{run:?}");
    };
    assert!(text.contains("from the module's start function"), "{text}");
    assert!(
        text.contains("AssemblyScript runs top-level code in the start function: make the call from `_start` or a spawned function"),
        "{text}"
    );
    assert!(!text.contains("exports no memory"), "{text}");
}

#[test]
fn assemblyscripts_console_log_is_refused_naming_print() {
    let text = load(br#"(module (import "env" "console.log" (func (param i32))))"#).to_string();
    assert!(text.contains("`env.console.log`"), "{text}");
    assert!(text.contains("`print`"), "{text}");
    let text =
        load(br#"(module (import "env" "abort" (func (param i32 i32 i32 i32))))"#).to_string();
    assert!(text.contains("asconfig.json"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receive_with_no_kinds_fails_at_once_instead_of_waiting_forever() {
    // kinds 0, and kinds of only bits no version knows: invalid-argument
    // (code 2). The receive has no timeout of its own, so the test gives it
    // one: a receive that waits, as it did, fails the test instead of
    // hanging it.
    for kinds in [0, 0x10] {
        let wat = expect_error(
            r#"(import "vm:host/mailbox@1" "receive" (func $recv (param i32 i32 i32 i32 i64 i32)))"#,
            &format!("(call $recv (i32.const 0) (i32.const 0) (i32.const {kinds}) (i32.const 0) (i64.const 0) (i32.const 16))"),
            2,
        );
        let run = tokio::time::timeout(std::time::Duration::from_secs(60), run_wat(&wat))
            .await
            .unwrap_or_else(|_| panic!("kinds {kinds}: the receive waited instead of failing"))
            .unwrap();
        assert_eq!(run.outcome.status, 0, "kinds {kinds}: {run:?}");
    }
}
