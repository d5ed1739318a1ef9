//! A dropped VM leaves nothing behind: its processes end and its threads
//! stop, even when a process was waiting on a socket. (Its own test binary,
//! so other tests' VMs do not share the thread count.)

use vm_reference::ExitReason;
use vm_tests::{run_file_on, rust_guest, start_server, test_vm, wait_for};

/// The VM's own threads in this process (`vm-worker-N`, `vm-epoch`).
fn vm_threads() -> Vec<String> {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .map(|name| name.trim().to_string())
        .filter(|name| name.starts_with("vm-"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_vms_stop_their_threads() {
    for _ in 0..5 {
        let run = run_file_on(test_vm().threads(3), &rust_guest("hello"), &[])
            .await
            .unwrap();
        assert_eq!(run.outcome.reason, ExitReason::Normal);
    }
    let server = start_server(&rust_guest("echo-server")).await;
    assert!(vm_threads().iter().any(|t| t.starts_with("vm-worker-")));
    drop(server);
    wait_for(|| vm_threads().is_empty().then_some(())).await;
}
