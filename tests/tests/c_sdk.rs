//! The C SDK: examples built with Debian's clang and wasi-libc (and one guest
//! with no libc at all), run on the VM with the same assertions as Rust's.

use vm_reference::{ExitReason, NetRule};
use vm_tests::{
    c_guest, echo_100_clients, ping_pong_transcript, run_file, run_file_on, start_server, test_vm,
    HELLO_TRANSCRIPT,
};

/// Runs `edges MODE` with loopback networking granted and checks that it
/// ends normally having printed `expected`.
async fn edges(mode: &str, expected: &str) {
    let vm = test_vm().allow_net(NetRule::parse("127.0.0.1").unwrap());
    let run = run_file_on(vm, &c_guest("edges"), &[mode]).await.unwrap();
    assert_eq!(run.outcome.reason, ExitReason::Normal, "{}", run.stderr);
    assert_eq!(run.stdout, expected, "stderr: {}", run.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_hello_greets_from_a_spawned_process() {
    let run = run_file(&c_guest("hello"), &[]).await.unwrap();
    assert_eq!(run.outcome.reason, ExitReason::Normal, "{}", run.stderr);
    assert_eq!(run.stdout, HELLO_TRANSCRIPT);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_ping_pong_plays_the_rounds_it_is_given() {
    let run = run_file(&c_guest("ping-pong"), &["5"]).await.unwrap();
    assert_eq!(run.outcome.status, 0, "{}", run.stderr);
    assert_eq!(run.stdout, ping_pong_transcript(5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_echo_server_returns_every_byte_to_100_concurrent_clients() {
    let server = start_server(&c_guest("echo-server")).await;
    echo_100_clients(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_freestanding_c_guest_without_libc_spawns_and_messages() {
    let run = run_file(&c_guest("freestanding"), &[]).await.unwrap();
    assert_eq!(run.outcome.reason, ExitReason::Normal, "{run:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vm_exit_flushes_what_printf_buffered() {
    let run = run_file(&c_guest("edges"), &["flush"]).await.unwrap();
    assert_eq!(run.outcome.reason, ExitReason::Normal, "{}", run.stderr);
    assert_eq!(run.stdout, "no newline before vm_exit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_vm_assert_crashes_the_process_saying_what_failed_where() {
    let run = run_file(&c_guest("edges"), &["assert"]).await.unwrap();
    // __FILE__ as the compiler was given it: this checkout's path.
    let expected = "assertion failed: answer == 42 at ";
    assert!(
        matches!(&run.outcome.reason, ExitReason::Trap(t)
            if t.starts_with(expected) && t.contains("tests/guests/c/edges.c:")),
        "{:?}",
        run.outcome.reason
    );
    // What printf buffered is out first, and the reason on stderr.
    assert_eq!(run.stdout, "asserting\n");
    assert!(run.stderr.contains(expected), "{}", run.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cs_own_assert_and_abort_crash_the_process_saying_why() {
    let run = run_file(&c_guest("edges"), &["c-assert"]).await.unwrap();
    let expected = "assertion failed: answer == 42 at ";
    assert!(
        matches!(&run.outcome.reason, ExitReason::Trap(t)
            if t.starts_with(expected) && t.contains("tests/guests/c/edges.c:") && t.ends_with(" in main")),
        "{:?}",
        run.outcome.reason
    );
    assert_eq!(run.stdout, "asserting\n");
    assert!(run.stderr.contains(expected), "{}", run.stderr);
    let run = run_file(&c_guest("edges"), &["abort"]).await.unwrap();
    assert_eq!(
        run.outcome.reason,
        ExitReason::Trap("abort() was called".into())
    );
    assert_eq!(run.stdout, "aborting\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_timer_delay_saturates_instead_of_wrapping() {
    let run = run_file(&c_guest("edges"), &["huge-delay"]).await.unwrap();
    assert_eq!(run.outcome.reason, ExitReason::Normal, "{}", run.stderr);
    assert_eq!(run.stdout, "the huge timer was still pending: yes\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_c_stack_overflow_traps_instead_of_overwriting_data() {
    let run = run_file(&c_guest("edges"), &["overflow"]).await.unwrap();
    assert!(
        matches!(&run.outcome.reason, ExitReason::Trap(t) if t.contains("out of bounds")),
        "{:?}",
        run.outcome.reason
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vm_h_serves_a_cxx17_guest() {
    let run = run_file(&c_guest("cxx"), &[]).await.unwrap();
    assert_eq!(run.outcome.reason, ExitReason::Normal, "{}", run.stderr);
    assert_eq!(run.stdout, "c++ got 2026 with tag 7\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vm_last_error_describes_the_sdks_own_failures_not_an_older_vm_one() {
    edges(
        "errors",
        "lookup: not-found | no process is registered as `nobody`\n\
         decode: decode | decode: the bytes did not decode (stopped at byte 1 of 1)\n\
         vm again: not-found | no process is registered as `nobody`\n\
         left over: decode | decode: the value took 1 of the 2 bytes, and the rest were left over\n\
         send writer: buffer-too-small | buffer-too-small: the encoding needs 5 bytes, the writer's buffer holds 2\n\
         capture: buffer-too-small | buffer-too-small: vm_spawn: a capture of 4097 bytes is over VM_MAX_CAPTURE (4096)\n\
         address: invalid-handle | handle 0 is not a socket of this process with a local-address\n\
         after a success: ok | handle 0 is not a socket of this process with a local-address\n",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moving_or_closing_a_resource_zeroes_the_callers_handle_only_when_it_moved() {
    edges(
        "moved",
        "split: ok, stream 0, halves set yes\n\
         read on the split stream: invalid-handle\n\
         not paired: not-paired, halves kept yes\n\
         reunite: ok, halves 0 0, stream set yes\n\
         spawn with it: ok, stream 0\n\
         write on the moved stream: invalid-handle\n\
         send with it: ok, stream 0\n\
         timer with it: ok, stream 0\n\
         failed send: invalid-handle, handle kept 57005\n\
         close a read half: ok, 0, then invalid-handle\n\
         close the listener: ok, 0, then accept: invalid-handle\n\
         close a stream not owned: invalid-handle, 0\n",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_fails_with_the_servers_exit_reason_and_refuses_a_malformed_writer() {
    edges(
        "request",
        "request: down, exit \"gone fishing\" from the server: yes\n\
         its error: down | down: vm_request: process 2 ended (exit) before it replied\n\
         not begun: invalid-argument | invalid-argument: vm_request: the writer was not begun with vm_request_begin\n\
         overflowed: buffer-too-small | buffer-too-small: the encoding needs 35 bytes, the writer's buffer holds 4\n\
         junk request: decode | decode: the bytes did not decode (stopped at byte 1 of 1)\n",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_after_the_request_gave_up_is_dropped() {
    edges(
        "late-reply",
        "a request that gives up: timeout\n\
         its late reply left over: no\n",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socket_timeouts_nodelay_peek_shutdown_and_resolve_through_typed_calls() {
    edges(
        "sockets",
        "read timeout at first: -1\n\
         a 0 ms timeout: invalid-argument\n\
         read within the socket's timeout: timeout\n\
         peek within it: timeout\n\
         nodelay at first: on\n\
         halves: read 30, write 40, nodelay off\n\
         cleared: read -1, nodelay on\n\
         written by the write half: abc\n\
         peeked on the read half: xy, then read xy\n\
         resolve: ok 12 \"127.0.0.1:80\"\n\
         resolve into 4 bytes: buffer-too-small, needs 12\n\
         resolve a name not granted: permission-denied\n",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_reasons_decode_from_down_messages_even_truncated_ones() {
    edges(
        "reasons",
        "abi 1.8\n\
         a data message as a reason: decode | decode: vm_decode_exit_reason: a message of kind 0 is not a down or exit message\n\
         as a down: ok trap \"oops\"\n\
         names: normal exit trap killed noproc unknown\n\
         a down into 3 bytes: ok exit \"go\", truncated yes\n\
         a process that never was: ok noproc\n",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scenarios_guest_refuses_an_unknown_scenario_with_a_reason() {
    let run = run_file(&c_guest("scenarios"), &["nonesuch"])
        .await
        .unwrap();
    assert_eq!(
        run.outcome.reason,
        ExitReason::Exit("scenarios: unknown scenario".into())
    );
    assert!(run.stderr.contains("usage: scenarios"), "{}", run.stderr);
}
