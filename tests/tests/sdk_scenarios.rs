//! The same Erlang-semantics scenarios, written once in C
//! (`tests/guests/c/scenarios.c`) and once in AssemblyScript
//! (`tests/guests/assemblyscript/scenarios.ts`), each run as
//! `scenarios NAME`; both must print the same transcript, line for line.
//! The Rust SDK runs the same behaviours in `process_semantics.rs` and
//! `net.rs` (with Rust's own `Debug` texts).
//!
//! Exit reasons print as `normal`, `exit "TEXT"`, `trap`, `killed` or
//! `noproc`; statuses by their ABI name (`not-found`, `timeout`, …).
//! Text messages are postcard strings, numbers postcard varints, so each
//! guest speaks Rust's wire format.

use vm_reference::{ExitReason, NetRule};
use vm_tests::{as_guest, c_guest, run_file_on, test_vm};

/// Runs scenario `name` in the C and the AssemblyScript guest and checks
/// each printed `expected`.
async fn both(name: &str, expected: &str) {
    for (language, guest) in [
        ("C", c_guest("scenarios")),
        ("AssemblyScript", as_guest("scenarios")),
    ] {
        let vm = test_vm().allow_net(NetRule::parse("127.0.0.1").unwrap());
        let run = run_file_on(vm, &guest, &[name]).await.unwrap();
        assert_eq!(
            run.outcome.reason,
            ExitReason::Normal,
            "{language} {name}: stderr: {}",
            run.stderr
        );
        assert_eq!(
            run.stdout, expected,
            "{language} {name}: stderr: {}",
            run.stderr
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn monitors_report_each_exit_reason_once_and_demonitor_means_none() {
    both(
        "monitor",
        "normal: normal from it\n\
         crash: trap from it\n\
         custom: exit \"custom reason\" from it\n\
         ended: noproc\n\
         demonitored: timeout after the other monitor's normal\n",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_propagate_failures_unless_exits_are_trapped() {
    both(
        "links",
        "middle ended: trap\n\
         parent still alive\n\
         trapped exit from child: true exit \"bye\"\n\
         after unlink: timeout\n\
         link to ended: not-found\n\
         link to ended while trapping: ok then noproc\n",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_signals_end_ignore_or_arrive_as_messages_and_kill_is_final() {
    both(
        "exits",
        "not trapping: exit \"shutdown\"\n\
         normal ignored: still answers 7\n\
         trapping\n\
         trapped: from parent: true exit \"please stop\"\n\
         killed: killed\n",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_names_are_unique_and_vanish_with_their_process() {
    both(
        "registry",
        "lookup root: true\n\
         second register: already-registered\n\
         worker registered\n\
         lookup worker: true\n\
         after worker ended: not-found\n\
         unregister twice: not-found\n",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timers_deliver_later_and_cancel() {
    both(
        "timer",
        "before: timeout\n\
         after: late\n\
         cancelled: true\n\
         then: later\n\
         nothing else: timeout\n\
         cancel after firing: false\n",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_are_answered_or_fail_with_the_servers_exit_reason() {
    both(
        "request",
        "21 * 2 = 42\n\
         left in the mailbox: 999\n\
         no reply: timeout\n\
         server crashed: down trap\n\
         server gone: down noproc\n\
         no stray downs: timeout\n",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_halves_work_apart_and_back_together() {
    both(
        "halves",
        "read half in another process: hello\n\
         write half: world\n\
         addresses: true\n\
         after shutdown: end of stream\n\
         moved handle: invalid-handle\n\
         mismatched reunite: not-paired\n\
         reunited: ok\n\
         try_write on a full buffer: would-block\n\
         write timeout: timeout\n\
         peek then read: peek peek\n\
         silent peer: timeout\n\
         stream through a timer: via timer\n",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hibernated_process_wakes_for_each_message_with_its_state() {
    both(
        "hibernate",
        "woke for each message, state kept: 1 3 6\n\
         killed while hibernated: killed\n",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_active_read_half_delivers_its_reads_as_messages() {
    both(
        "active",
        "as a message: data ping\n\
         passive again, read: pong\n\
         a read while active: invalid-argument\n\
         then: closed\n",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outside_a_cluster_node_and_global_calls_answer_as_node_zero_alone() {
    both(
        "node-local",
        "self 0, 1 up: 0, named local (5)\n\
         node 7 name: not-found\n\
         node 7 down at once: noconnection, from its id: 1\n\
         global again: already-registered\n\
         global is not the registry: not-found\n\
         lookup global: 1\n\
         another node's process: not-found\n\
         after unregister: not-found, again: not-found\n\
         spawn on node 5: not-found\n",
    )
    .await;
}
