//! TCP end to end: the echo server and chat examples driven by real TCP
//! clients from the test, and network failures seen by a guest.

use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use vm_reference::{ExitReason, NetRule};
use vm_tests::{
    chat_conversation, echo_100_clients, run_file_on, rust_guest, start_server, start_server_on,
    test_vm, wait_for,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_server_returns_every_byte_to_100_concurrent_clients() {
    let server = start_server(&rust_guest("echo-server")).await;
    echo_100_clients(&server).await;
}

/// The conversation the C chat (tests/tests/c_chat.rs) holds too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_broadcasts_in_order_survives_a_broken_client_and_cleans_up() {
    let server = start_server(&rust_guest("chat")).await;
    chat_conversation(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn network_failures_are_clear_statuses_that_harm_no_one() {
    // A server that resets every connection as soon as it is accepted.
    let resetter = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = resetter.local_addr().unwrap().to_string();
    let resets = tokio::spawn(async move {
        loop {
            let (s, _) = resetter.accept().await.unwrap();
            tokio::time::sleep(Duration::from_millis(20)).await;
            let s = s.into_std().unwrap();
            socket2::SockRef::from(&s)
                .set_linger(Some(Duration::ZERO))
                .unwrap();
            drop(s);
        }
    });
    let vm = test_vm().allow_net(NetRule::parse("127.0.0.1").unwrap());
    let run = run_file_on(vm, &rust_guest("scenarios"), &["net-errors", &address])
        .await
        .unwrap();
    resets.abort();
    assert_eq!(run.outcome.reason, ExitReason::Normal, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        "denied bind: Some(PermissionDenied)\n\
         refused: Some(ConnectionRefused)\n\
         zero-length read: Some(0)\n\
         silent peer: Err(TimedOut)\n\
         zero timeout: Err(InvalidInput)\n\
         then: Ok(\"late\")\n\
         read past memory end: Err(Some(OutOfBounds))\n\
         halves know both addresses: true\n\
         mismatched reunite keeps both: true\n\
         half used after reunite: Some(Some(InvalidHandle))\n\
         moved handle: Some(Some(InvalidHandle))\n\
         stream in a large message: true\n\
         try_write on a full buffer: WouldBlock (after some bytes: true)\n\
         every byte arrived: true\n\
         peer reset mid-read: Err(true)\n\
         an undecodable message keeps its resources: 1\n\
         a raw message keeps its resources: 1\n\
         a reply with a listener: true\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_keeps_its_timeouts_and_options_when_it_moves() {
    let vm = test_vm().allow_net(NetRule::parse("127.0.0.1").unwrap());
    let run = run_file_on(vm, &rust_guest("scenarios"), &["socket-moves"])
        .await
        .unwrap();
    assert_eq!(run.outcome.reason, ExitReason::Normal, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        "nodelay by default: Some(true)\n\
         moved: read Some(Some(20ms)), write Some(Some(7s)), nodelay Some(false)\n\
         silent peer after the move: Err(TimedOut)\n\
         halves: read Some(Some(20ms)), write Some(Some(7s)), write half nodelay Some(false)\n\
         peeked \"hello\", then read \"hello\"\n\
         \"via timer\"\n\
         cancelled: true\n\
         peer of the cancelled stream reads: Ok(0)\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_active_read_half_delivers_messages_to_a_session_that_hibernates_between_them() {
    let vm = test_vm().allow_net(NetRule::parse("127.0.0.1").unwrap());
    let run = run_file_on(vm, &rust_guest("scenarios"), &["active"])
        .await
        .unwrap();
    assert_eq!(run.outcome.reason, ExitReason::Normal, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        "as a message: Ok((7, Data([112, 105, 110, 103])))\n\
         then its peer's address: true\n\
         passive again, read: \"pong\"\n\
         a read while active: Err(InvalidInput)\n\
         moving it while active: true\n\
         woke for \"one\" (in a fresh instance: true)\n\
         woke for \"two\" (in a fresh instance: true)\n\
         woke for Closed (in a fresh instance: true)\n"
    );
}

/// A peer that sends faster than the owner takes its socket's events
/// fills the VM to its bound (`--max-host-memory`), no further: the reader
/// waits, the socket unread behind it, until the owner's receives give
/// room back, and then every byte arrives, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_active_reader_refused_at_the_vms_bound_waits_for_room_and_loses_nothing() {
    const LIMIT: usize = 8 << 20;
    const SENT: usize = 48 << 20;
    let builder = test_vm().max_host_memory(LIMIT).max_mailbox(1 << 30);
    let server =
        vm_tests::start_server_on(builder, &rust_guest("scenarios"), &["active-flood"]).await;
    let vm = &server.vm;
    let mut firehose = TcpStream::connect(&server.address).await.unwrap();
    let mut control = TcpStream::connect(&server.address).await.unwrap();
    let data: Vec<u8> = (0..SENT).map(|i| (i ^ (i >> 11)) as u8).collect();
    let expected = data.iter().fold(0u64, |sum, &b| {
        sum.wrapping_mul(31).wrapping_add(u64::from(b))
    });
    let writer = tokio::spawn(async move {
        firehose.write_all(&data).await.unwrap();
        firehose.shutdown().await.unwrap();
    });
    // The owner takes nothing yet: its events fill the VM up to its bound
    // (more than kernel buffers and the bound hold is still unsent).
    let filled = tokio::time::timeout(Duration::from_secs(60), async {
        while vm.host_memory_held() < LIMIT - (256 << 10) {
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert!(
        filled.is_ok(),
        "the VM holds {} bytes",
        vm.host_memory_held()
    );
    assert!(!writer.is_finished());
    assert!(
        vm.host_memory_held() <= LIMIT,
        "{} bytes held",
        vm.host_memory_held()
    );
    control.write_all(b"go\n").await.unwrap();
    let mut answer = String::new();
    let read = tokio::time::timeout(
        Duration::from_secs(120),
        BufReader::new(&mut control).read_line(&mut answer),
    )
    .await;
    assert!(
        read.is_ok(),
        "no answer; the VM holds {} bytes",
        vm.host_memory_held()
    );
    assert_eq!(
        answer,
        format!("received {SENT} bytes, checksum {expected}\n")
    );
    writer.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encoding_a_listener_outside_a_message_panics_saying_why() {
    let vm = test_vm().allow_net(NetRule::parse("127.0.0.1").unwrap());
    let run = run_file_on(vm, &rust_guest("scenarios"), &["encode-listener"])
        .await
        .unwrap();
    assert!(
        matches!(run.outcome.reason, ExitReason::Trap(_)),
        "{:?}",
        run.outcome.reason
    );
    assert!(
        run.stderr.contains("a message failed to serialize: a resource (a listener, a stream, a half) can only be serialized inside a message sent to a process"),
        "{}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_allow_net_a_bind_is_denied_naming_the_flag() {
    let run = run_file_on(test_vm(), &rust_guest("echo-server"), &["127.0.0.1:0"])
        .await
        .unwrap();
    assert_eq!(run.outcome.status, 1);
    assert!(run.stderr.contains("permission-denied: network access to 127.0.0.1:0 is denied; grant it with `vm run --allow-net 127.0.0.1`"), "{}", run.stderr);
}

/// A resolver that answers every name with 127.0.0.1 and records each
/// lookup, so a test sees exactly which names the VM looked up.
#[derive(Clone, Default)]
struct CountingResolver {
    names: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl vm_reference::Resolver for CountingResolver {
    fn lookup<'a>(&'a self, host: &'a str, port: u16) -> vm_reference::Lookup<'a> {
        self.names.lock().unwrap().push(host.to_string());
        Box::pin(async move { Ok(vec![std::net::SocketAddr::from(([127, 0, 0, 1], port))]) })
    }
}

/// Runs the `net-names` scenario against a local listener with `rules`,
/// returning its transcript (with the listener's port as `PORT`) and the
/// names the VM looked up.
async fn net_names(rules: &[&str]) -> (String, Vec<String>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let resolver = CountingResolver::default();
    let vm = rules
        .iter()
        .fold(test_vm().resolver(resolver.clone()), |vm, rule| {
            vm.allow_net(NetRule::parse(rule).unwrap())
        });
    let run = run_file_on(vm, &rust_guest("scenarios"), &["net-names", &port])
        .await
        .unwrap();
    assert_eq!(run.outcome.reason, ExitReason::Normal, "{}", run.stderr);
    let names = resolver.names.lock().unwrap().clone();
    (run.stdout.replace(&port, "PORT"), names)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_allow_net_no_name_is_looked_up() {
    let (transcript, lookups) = net_names(&[]).await;
    assert_eq!(
        transcript,
        "lookup db.example: PermissionDenied\n\
         connect db.example: PermissionDenied\n\
         bind db.example: PermissionDenied\n\
         connect other.example: PermissionDenied\n\
         lookup 10.1.2.3:80: [10.1.2.3:80]\n\
         denied: permission-denied: network access to exfiltrate.example is denied, and so is looking the name up; grant it with `vm run --allow-net exfiltrate.example` (or --allow-net '*')\n"
    );
    assert_eq!(lookups, Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rule_naming_a_host_permits_looking_up_that_host_only() {
    // An IP rule grants the address, but not looking any name up.
    let (transcript, lookups) = net_names(&["127.0.0.1"]).await;
    assert!(
        transcript.starts_with("lookup db.example: PermissionDenied\n"),
        "{transcript}"
    );
    assert_eq!(lookups, Vec::<String>::new());

    let (transcript, lookups) = net_names(&["db.example"]).await;
    assert_eq!(
        transcript,
        "lookup db.example: [127.0.0.1:0]\n\
         connect db.example: connected to port PORT\n\
         bind db.example: bound\n\
         connect other.example: PermissionDenied\n\
         lookup 10.1.2.3:80: [10.1.2.3:80]\n\
         denied: permission-denied: network access to exfiltrate.example is denied, and so is looking the name up; grant it with `vm run --allow-net exfiltrate.example` (or --allow-net '*')\n"
    );
    assert_eq!(lookups, ["db.example", "db.example", "db.example"]);

    // `*` permits every name.
    let (transcript, lookups) = net_names(&["*"]).await;
    assert!(
        transcript.contains("connect other.example: connected\n"),
        "{transcript}"
    );
    assert_eq!(
        lookups,
        [
            "db.example",
            "db.example",
            "db.example",
            "other.example",
            "exfiltrate.example"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_echo_server_at_its_process_limit_closes_the_extra_connection_and_keeps_serving() {
    for guest in [
        rust_guest("echo-server"),
        vm_tests::c_guest("echo-server"),
        vm_tests::as_guest("echo-server"),
    ] {
        echo_server_at_its_limit(&guest).await;
    }
}

async fn echo_server_at_its_limit(guest: &std::path::Path) {
    use tokio::io::AsyncReadExt;
    // The root and two connections' processes.
    let builder = test_vm().max_processes(3);
    let server = start_server_on(builder, guest, &["127.0.0.1:0"]).await;
    let (vm, address) = (&server.vm, server.address.as_str());
    let echoed = |mut s: TcpStream| async move {
        s.write_all(b"ping").await.unwrap();
        let mut back = [0u8; 4];
        s.read_exact(&mut back).await.unwrap();
        assert_eq!(&back, b"ping");
        s
    };
    let first = echoed(TcpStream::connect(address).await.unwrap()).await;
    let _second = echoed(TcpStream::connect(address).await.unwrap()).await;
    // No room for a third process: that connection is closed.
    let mut third = TcpStream::connect(address).await.unwrap();
    let mut byte = [0u8; 1];
    let closed = tokio::time::timeout(Duration::from_secs(10), third.read(&mut byte)).await;
    assert!(
        matches!(closed, Ok(Ok(0)) | Ok(Err(_))),
        "the third connection stayed open: {closed:?}"
    );
    // Once a connection ends, the server serves a new one.
    drop(first);
    wait_for(|| (vm.process_count() == 2).then_some(())).await;
    echoed(TcpStream::connect(address).await.unwrap()).await;
    assert!(!server.running.ended(), "{}", vm.captured_stderr());
    assert!(
        vm.captured_stderr().contains("limit"),
        "{}",
        vm.captured_stderr()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_reset_before_it_is_accepted_is_accepted_with_its_address() {
    let server = start_server_on(test_vm(), &rust_guest("scenarios"), &["accept-reset"]).await;
    let mut control = TcpStream::connect(&server.address).await.unwrap();
    let reset = TcpStream::connect(&server.address).await.unwrap();
    let reset = reset.into_std().unwrap();
    socket2::SockRef::from(&reset)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(reset);
    control.write_all(b"!").await.unwrap();
    let vm = server.vm.clone();
    let outcome = server.running.outcome().await;
    assert_eq!(
        outcome.reason,
        ExitReason::Normal,
        "{}",
        vm.captured_stderr()
    );
    assert!(
        vm.captured_stdout()
            .ends_with("accepted a reset connection: Ok(true)\n"),
        "{}",
        vm.captured_stdout()
    );
}
