//! The AssemblyScript SDK: examples compiled with the pinned `asc`, run on
//! the VM with the same assertions as the Rust and C ones, and the SDK's own
//! behaviour through `tests/guests/assemblyscript/checks.ts` (`checks NAME`).

use vm_reference::{ExitReason, ModuleInfo, NetRule};
use vm_tests::{
    as_guest, echo_100_clients, ping_pong_transcript, run_file, run_file_on, start_server, test_vm,
    Run, HELLO_TRANSCRIPT,
};

/// Runs `checks NAME` with loopback networking granted.
async fn check(name: &str) -> Run {
    let vm = test_vm().allow_net(NetRule::parse("127.0.0.1").unwrap());
    run_file_on(vm, &as_guest("checks"), &[name]).await.unwrap()
}

/// Runs `checks NAME` and returns what it printed, requiring a normal exit.
async fn check_output(name: &str) -> String {
    let run = check(name).await;
    assert_eq!(
        run.outcome.reason,
        ExitReason::Normal,
        "{name}: {}",
        run.stderr
    );
    run.stdout
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assemblyscript_hello_greets_from_a_spawned_process() {
    let run = run_file(&as_guest("hello"), &[]).await.unwrap();
    assert_eq!(run.outcome.reason, ExitReason::Normal, "{}", run.stderr);
    assert_eq!(run.stdout, HELLO_TRANSCRIPT);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assemblyscript_ping_pong_plays_the_rounds_it_is_given() {
    let run = run_file(&as_guest("ping-pong"), &["5"]).await.unwrap();
    assert_eq!(run.outcome.status, 0, "{}", run.stderr);
    assert_eq!(run.stdout, ping_pong_transcript(5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assemblyscript_echo_server_returns_every_byte_to_100_concurrent_clients() {
    let server = start_server(&as_guest("echo-server")).await;
    echo_100_clients(&server).await;
}

#[test]
fn assemblyscript_modules_import_nothing_from_env() {
    for name in [
        "hello",
        "ping-pong",
        "echo-server",
        "polyglot",
        "scenarios",
        "checks",
    ] {
        let info = ModuleInfo::read(&std::fs::read(as_guest(name)).unwrap()).unwrap();
        let foreign: Vec<_> = info
            .imports
            .iter()
            .filter(|i| !i.module.starts_with("vm:host/") && i.module != "wasi_snapshot_preview1")
            .map(|i| format!("{}.{}", i.module, i.name))
            .collect();
        assert!(foreign.is_empty(), "{name} imports {foreign:?}");
        assert!(info.check().is_empty(), "{name}: {:?}", info.check());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abort_on_a_stack_overflow_ends_the_process_with_its_message() {
    let run = check("abort-stack-overflow").await;
    let reason = "abort: stack overflow: calls nested deeper than the shadow stack holds \
                  (recurse less deeply, or raise asc's --stackSize)";
    assert_eq!(
        run.outcome.reason,
        ExitReason::Trap(reason.into()),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(&format!("{reason}\n")),
        "{}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abort_with_no_memory_left_to_copy_its_message_still_reports_it() {
    let run = check("abort-out-of-memory").await;
    let ExitReason::Trap(reason) = &run.outcome.reason else {
        panic!("ended with {:?}: {}", run.outcome.reason, run.stderr);
    };
    // The message is cut, and where it came from is kept.
    let (message, place) = reason
        .strip_prefix("abort: ")
        .and_then(|r| r.split_once(" at tests/guests/assemblyscript/checks.ts:"))
        .unwrap_or_else(|| panic!("{reason}"));
    assert!(
        message.len() > 700 && message.bytes().all(|b| b == b'x'),
        "{reason}"
    );
    let (line, column) = place.split_once(':').unwrap_or_else(|| panic!("{reason}"));
    assert!(
        line.parse::<u32>().is_ok() && column.parse::<u32>().is_ok(),
        "{reason}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_read_of_a_large_message_makes_receive_fail_instead_of_returning_zeros() {
    assert_eq!(
        check_output("read-failure").await,
        "receive: null, out-of-bounds: buffer at 4294967280 of 744 bytes lies outside memory\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn last_error_returns_a_text_longer_than_256_bytes_whole() {
    assert_eq!(
        check_output("long-error").await,
        "connect: permission-denied\ntext: 731 bytes, ends with the host: true\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_failure_the_sdk_finds_itself_last_error_describes_it() {
    assert_eq!(
        check_output("sdk-error").await,
        "vm: not-found: no process is registered as `nobody`\n\
         decode: decode: a message from process 1 (tag 0, 3 bytes) does not decode as u32\n\
         tryWrite: would-block: the socket's send buffer is full; write waits for room\n\
         setWriteTimeout(0): invalid-argument: a timeout of 0 ms would never wait; pass -1 for none, or use tryWrite\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_resource_closes_and_a_closed_one_names_nothing() {
    assert_eq!(
        check_output("close").await,
        "listener closes: ok\n\
         closed listener: handle 0, accept invalid-handle, close again invalid-handle\n\
         its address is free again: ok\n\
         stream closes: ok\n\
         peer of a closed stream reads: 0\n\
         read half closes: ok\n\
         write half closes: ok\n\
         module closes: ok\n\
         closed module spawns: invalid-handle\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resource_that_moved_holds_no_handle_and_fails_with_invalid_handle() {
    assert_eq!(
        check_output("moved").await,
        "sent in a message: handle 0, then invalid-handle\n\
         spawned with: handle 0, then invalid-handle\n\
         split: handle 0, then invalid-handle\n\
         reunited read half: handle 0, then invalid-handle\n\
         reunited write half: handle 0, then invalid-handle\n\
         closed: handle 0, then invalid-handle\n\
         sent by a timer: handle 0, then invalid-handle\n\
         raw list: the object still holds its number: true\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_processes_exit_reasons_resolve_and_socket_options_match_the_rust_sdk() {
    assert_eq!(
        check_output("typed").await,
        "a bytes request between two processes: raw bytes\n\
         point: -3,4 here\n\
         strings: a+b\n\
         option: none\n\
         exit reason: exit: why (kind 1 == EXIT: true)\n\
         resolve localhost:8080: loopback addresses\n\
         resolve example.com: permission-denied\n\
         nodelay: 1, then 0\n\
         timeouts move to the halves: read 1500 ms, write 20 ms\n\
         a cleared timeout reads as -1, as the setter takes it\n\
         halves' addresses: true, peer true\n\
         read half shuts down: ok\n\
         write half shuts down: ok\n\
         shutdown how: 2\n\
         abi: vm 1.8.0, sdk 1.8.0, served: true\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scenarios_guest_names_its_scenarios_when_given_another() {
    let run = run_file(&as_guest("scenarios"), &["bogus"]).await.unwrap();
    assert_eq!(
        run.outcome.reason,
        ExitReason::Exit("unknown scenario 'bogus'".into())
    );
    assert_eq!(
        run.stderr,
        "usage: scenarios monitor|links|exits|registry|timer|request|halves|hibernate|active|\
         cluster-server|node-local|doubler|ask ID N\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_after_the_request_gave_up_is_dropped() {
    assert_eq!(
        check_output("late-reply").await,
        "a request that gives up: timeout\n\
         its late reply left over: no\n"
    );
}
