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
    // A panic's message and place are the reason the link delivers.
    let trap = |n: u32| {
        format!("Trap(\"panicked at supervisor/src/main.rs:32:13: worker {n} was asked to divide by zero\")")
    };
    assert_eq!(
        run.stdout,
        format!(
            "caller: the supervisor started worker 1\n100 / 5 = 20\n\
             caller: the worker crashed: {}\n\
             caller: the supervisor started worker 2\n100 / 4 = 25\n\
             caller: the worker crashed: {}\n\
             caller: the supervisor started worker 3\n100 / 2 = 50\n\
             caller: 5 jobs done, 2 restarts\n",
            trap(1),
            trap(2)
        )
    );
    assert!(run.stderr.contains("worker 1 was asked to divide by zero"));
    assert!(run.stderr.contains("worker 2 was asked to divide by zero"));
    // The VM reports each crash on stderr, as Erlang's error logger does.
    // Process 2 is the supervisor; 3 and 4 the crashed workers.
    for (id, n) in [(3, 1), (4, 2)] {
        let report = format!(
            "vm: process {id} crashed: panicked at supervisor/src/main.rs:32:13: worker {n} was asked to divide by zero\n"
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sleepy_echo_sessions_hibernate_between_lines_and_keep_their_socket() {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let server = vm_tests::start_server(&rust_guest("sleepy-echo")).await;
    let vm = &server.vm;
    let client = tokio::net::TcpStream::connect(&server.address)
        .await
        .unwrap();
    let (read, mut write) = client.into_split();
    let mut lines = BufReader::new(read).lines();
    for (n, text) in ["hello", "sleepy", "world"].iter().enumerate() {
        write
            .write_all(format!("{text}\n").as_bytes())
            .await
            .unwrap();
        let echoed = lines.next_line().await.unwrap().unwrap();
        assert_eq!(echoed, format!("{}: {text}", n + 1));
        // Having answered, the connection goes back to sleep whole: the
        // acceptor is then the only process with an instance, of the two
        // alive (its socket's next bytes will wake the session).
        let slept =
            tokio::time::timeout(std::time::Duration::from_secs(30), vm.until_instances(1)).await;
        assert!(
            slept.is_ok(),
            "{} instances after line {n}",
            vm.instance_count()
        );
        assert_eq!(vm.process_count(), 2);
    }
    // Closing the client wakes the session to end.
    drop(write);
    assert_eq!(lines.next_line().await.unwrap(), None);
}
