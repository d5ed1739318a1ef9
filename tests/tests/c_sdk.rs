//! The C SDK: examples built with Debian's clang and wasi-libc (and one guest
//! with no libc at all), run on the VM with the same assertions as Rust's.

use vm_reference::ExitReason;
use vm_tests::{
    c_guest, echo_100_clients, ping_pong_transcript, run_file, start_server, HELLO_TRANSCRIPT,
};

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
