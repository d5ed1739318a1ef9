//! The Rust examples, built with cargo for wasm32-wasip1 and run on the VM.

use vm_reference::ExitReason;
use vm_tests::{ping_pong_transcript, run_file, rust_guest, HELLO_TRANSCRIPT};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hello_greets_from_a_spawned_process() {
    let run = run_file(&rust_guest("hello"), &[]).await.unwrap();
    assert_eq!(run.outcome.reason, ExitReason::Normal);
    assert_eq!(run.outcome.status, 0);
    assert_eq!(run.stdout, HELLO_TRANSCRIPT);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_pong_plays_the_rounds_it_is_given() {
    let run = run_file(&rust_guest("ping-pong"), &["5"]).await.unwrap();
    assert_eq!(run.outcome.status, 0, "stderr: {}", run.stderr);
    assert_eq!(run.stdout, ping_pong_transcript(5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn supervisor_restarts_a_crashed_worker_through_its_link() {
    let run = run_file(&rust_guest("supervisor"), &[]).await.unwrap();
    assert_eq!(run.outcome.reason, ExitReason::Normal);
    let trap = "Trap(\"wasm trap: wasm `unreachable` instruction executed\")";
    assert_eq!(
        run.stdout,
        format!(
            "caller: the supervisor started worker 1\n100 / 5 = 20\n\
             caller: the worker crashed: {trap}\n\
             caller: the supervisor started worker 2\n100 / 4 = 25\n\
             caller: the worker crashed: {trap}\n\
             caller: the supervisor started worker 3\n100 / 2 = 50\n\
             caller: 5 jobs done, 2 restarts\n"
        )
    );
    assert!(run.stderr.contains("worker 1 was asked to divide by zero"));
    assert!(run.stderr.contains("worker 2 was asked to divide by zero"));
    // The VM reports each crash on stderr, as Erlang's error logger does.
    // Process 2 is the supervisor; 3 and 4 the crashed workers.
    for id in [3, 4] {
        let report = format!(
            "vm: process {id} crashed: wasm trap: wasm `unreachable` instruction executed\n"
        );
        assert!(run.stderr.contains(&report), "{}", run.stderr);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_tree_recovers_each_part_that_is_killed() {
    let run = run_file(&rust_guest("service-tree"), &[]).await.unwrap();
    assert_eq!(run.outcome.reason, ExitReason::Normal, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        "kv: started, empty\n\
         main: worker-1 answers HELLO\n\
         main: killing worker-1\n\
         main: worker-1 answers HELLO\n\
         main: killing kv\n\
         kv: started, empty\n\
         main: worker-2 answers (nothing)\n\
         main: killing the workers' supervisor\n\
         main: worker-2 answers (nothing)\n\
         main: the tree shut down (Exit(\"shutdown\")); 0 services left\n"
    );
}
