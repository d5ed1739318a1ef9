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

/// The key-value server under real TCP clients: each connection's session
/// sleeps whole between commands (only the acceptor, the supervisor and
/// the store keep an instance), the store's crash is survived by every
/// connection, and the store comes back empty.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kv_server_serves_clients_that_sleep_whole_and_survives_its_store_crashing() {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
    use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

    struct Client {
        lines: Lines<BufReader<OwnedReadHalf>>,
        write: OwnedWriteHalf,
    }
    impl Client {
        async fn ask(&mut self, command: &str) -> String {
            self.write
                .write_all(format!("{command}\n").as_bytes())
                .await
                .unwrap();
            self.lines.next_line().await.unwrap().expect("an answer")
        }
    }
    /// The acceptor, the supervisor and the store.
    const AWAKE: usize = 3;
    const CLIENTS: usize = 20;

    let server = vm_tests::start_server(&rust_guest("kv-server")).await;
    let vm = &server.vm;
    let asleep = |when: &'static str| async move {
        let slept = tokio::time::timeout(
            std::time::Duration::from_secs(30),
            vm.until_instances(AWAKE),
        )
        .await;
        assert!(
            slept.is_ok(),
            "{when}: {} instances, {} processes",
            vm.instance_count(),
            vm.process_count()
        );
        assert_eq!(vm.process_count(), AWAKE + CLIENTS, "{when}");
    };

    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        let stream = tokio::net::TcpStream::connect(&server.address)
            .await
            .unwrap();
        let (read, write) = stream.into_split();
        clients.push(Client {
            lines: BufReader::new(read).lines(),
            write,
        });
    }
    // Every client writes, concurrently, then reads its key back.
    let tasks: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(i, mut c)| {
            tokio::spawn(async move {
                assert_eq!(c.ask(&format!("SET key-{i} value number {i}")).await, "OK");
                let got = c.ask(&format!("GET key-{i}")).await;
                assert_eq!(got, format!("VALUE value number {i}"));
                c
            })
        })
        .collect();
    let mut clients = Vec::new();
    for task in tasks {
        clients.push(task.await.unwrap());
    }
    assert_eq!(clients[0].ask("GET key-7").await, "VALUE value number 7");
    assert_eq!(clients[1].ask("COUNT").await, format!("COUNT {CLIENTS}"));
    assert_eq!(clients[2].ask("DEL key-2").await, "DELETED");
    assert_eq!(clients[2].ask("DEL key-2").await, "NONE");
    assert_eq!(
        clients[3].ask("FETCH key-3").await,
        "ERROR unknown command \"FETCH\""
    );
    asleep("after the first commands").await;

    // The store panics; its supervisor restarts it, empty, and every
    // connection lives on.
    let crashed = clients[4].ask("CRASH").await;
    assert!(
        crashed.starts_with("CRASHED") && crashed.contains("the store was asked to crash"),
        "{crashed}"
    );
    for (i, c) in clients.iter_mut().enumerate() {
        assert_eq!(c.ask(&format!("GET key-{i}")).await, "NONE");
        assert_eq!(c.ask(&format!("SET key-{i} again")).await, "OK");
    }
    assert_eq!(clients[5].ask("COUNT").await, format!("COUNT {CLIENTS}"));
    asleep("after the store's crash").await;

    // A client that leaves wakes its session to end, which closes its
    // socket.
    let mut gone = clients.pop().unwrap();
    drop(gone.write);
    assert_eq!(gone.lines.next_line().await.unwrap(), None);
}

/// The kv server's own `#[vm_sdk::test]` tests pass under `cargo test`,
/// run on the VM as a user of the example runs them.
#[test]
fn the_kv_servers_own_tests_pass_on_the_vm() {
    let _built = rust_guest("kv-server");
    let report = vm_tests::cargo_test_on_vm(
        &vm_tests::root().join("examples/rust"),
        &["--package", "kv-server"],
    );
    assert!(report.contains("test result: ok. 2 passed"), "{report}");
}
