//! The AssemblyScript SDK: examples compiled with the pinned `asc`, run on
//! the VM with the same assertions as the Rust and C ones.

use vm_reference::{ExitReason, ModuleInfo};
use vm_tests::{
    as_guest, echo_100_clients, ping_pong_transcript, run_file, start_server, HELLO_TRANSCRIPT,
};

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
    for name in ["hello", "ping-pong", "echo-server", "polyglot"] {
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
