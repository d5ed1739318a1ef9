//! Plugins served by another process over NATS (`--remote-plugin`): a
//! `nats-server` started by the test on loopback, servers in this process
//! (`vm_plugin_remote::serve`) or hostile ones written by hand, and the
//! kv guest as the caller. The kv transcript with a remote server is in
//! `native_plugins.rs`, beside the four local kinds.

use futures_util::StreamExt;
use std::time::Duration;
use vm_kernel::ExitReason;
use vm_plugin::Plugin;
use vm_reference::{RemotePlugin, VmError};
use vm_tests::nats::Nats;
use vm_tests::{run_file_on, rust_guest, test_vm};

const KV_WIT: &str = include_str!("../../examples/plugins/kv/kv.wit");

/// A VM using kv@1 from the servers on `nats`, calls bounded by `deadline`.
fn remote_kv(nats: &Nats, deadline: Duration) -> vm_reference::VmBuilder {
    let mut kv = RemotePlugin::parse("kv@1").unwrap();
    kv.deadline = deadline;
    test_vm().cluster(nats.config("caller")).remote_plugin(kv)
}

/// How the kv guest's root process ended, run against `nats`'s servers.
async fn kv_guest_ends(nats: &Nats, deadline: Duration) -> ExitReason {
    let run = run_file_on(remote_kv(nats, deadline), &rust_guest("kv-guest"), &[])
        .await
        .unwrap();
    run.outcome.reason
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_server_the_vm_is_not_built_and_says_why() {
    let nats = Nats::start();
    match remote_kv(&nats, Duration::from_secs(5)).build() {
        Err(VmError::Plugin(e)) => {
            let e = e.to_string();
            assert!(
                e.contains("kv@1 (remote)") && e.contains("no server serves it"),
                "{e}"
            );
        }
        Err(e) => panic!("another error: {e}"),
        Ok(_) => panic!("built without a server"),
    }
}

/// A kv plugin whose `set` answers only once released (its semaphore
/// given permits), and what says when the first call of it has reached
/// the server.
fn stuck_kv() -> (
    Plugin,
    tokio::sync::oneshot::Receiver<()>,
    std::sync::Arc<tokio::sync::Semaphore>,
) {
    let (arrived_tx, arrived) = tokio::sync::oneshot::channel();
    let arrived_tx = std::sync::Mutex::new(Some(arrived_tx));
    let release = std::sync::Arc::new(tokio::sync::Semaphore::new(0));
    let released = release.clone();
    let plugin = Plugin::builder(KV_WIT, || ())
        .func_async("store.set", move |_, (_k, _v): (String, Vec<u8>)| {
            if let Some(tx) = arrived_tx.lock().unwrap().take() {
                let _ = tx.send(());
            }
            let released = released.clone();
            async move {
                let _ = released.acquire().await.map(|p| p.forget());
            }
        })
        .func("store.get", |_, (_k,): (String,)| None::<Vec<u8>>)
        .func("store.remove", |_, (_k,): (String,)| false)
        .func("store.count", |_, (): ()| 0u32)
        .func("store.increment", |_, (_k, by): (String, i64)| {
            Ok::<i64, String>(by)
        })
        .build();
    (plugin, arrived, release)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_past_the_bound_in_flight_end_their_callers_at_once() {
    let nats = Nats::start();
    let (stuck, arrived, release) = stuck_kv();
    let client = async_nats::connect(&nats.url).await.unwrap();
    let _server = vm_plugin_remote::serve(client, stuck, Default::default())
        .await
        .unwrap();
    let mut kv = RemotePlugin::parse("kv@1").unwrap();
    kv.deadline = Duration::from_secs(600);
    kv.max_in_flight = 1;
    let vm = test_vm().cluster(nats.config("caller")).remote_plugin(kv);
    let vm = std::sync::Arc::new(vm.build().unwrap());
    let guest = vm.load_file(rust_guest("kv-guest")).unwrap();
    let first = tokio::spawn({
        let (vm, guest) = (vm.clone(), guest.clone());
        async move { vm.run(&guest, &["kv-guest"]).await }
    });
    // With the first call in flight, a second process's call is refused.
    arrived.await.unwrap();
    let second = vm.run(&guest, &["kv-guest"]).await.unwrap();
    assert_eq!(
        second.reason,
        ExitReason::Trap(
            "plugin:kv/store.set failed: 1 calls to it are in flight already (--remote-plugin-max-in-flight)".into()
        )
    );
    // The first was waiting for its answer all along (the deadline is
    // long); answered, it runs to its end.
    assert!(!first.is_finished());
    release.add_permits(1 << 20);
    let first = first.await.unwrap().unwrap();
    assert_eq!(first.reason, ExitReason::Normal);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_past_its_deadline_ends_the_caller_naming_the_function() {
    let nats = Nats::start();
    let (stuck, ..) = stuck_kv();
    let client = async_nats::connect(&nats.url).await.unwrap();
    let _server = vm_plugin_remote::serve(client, stuck, Default::default())
        .await
        .unwrap();
    let reason = kv_guest_ends(&nats, Duration::from_millis(300)).await;
    assert_eq!(
        reason,
        ExitReason::Trap("plugin:kv/store.set failed: timeout after 300ms".into())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_server_ends_only_its_caller_and_never_the_vm() {
    let nats = Nats::start();
    let client = async_nats::connect(&nats.url).await.unwrap();
    // Answers the WIT truly, and each run's `set` truly, then its `get`
    // with a reply of its choosing.
    let replies: Vec<(Option<&str>, Vec<u8>, bool)> = vec![
        // A length far past the bytes.
        (Some("ok"), vec![1, 0xff, 0xff, 0xff, 0xff, 0x0f], true),
        // A case an option does not have.
        (Some("ok"), vec![2], true),
        // No outcome at all.
        (None, vec![], true),
        // An outcome no server gives.
        (Some("maybe"), vec![], true),
        // A failure whose text is not UTF-8.
        (Some("failed"), vec![0xff; 4000], true),
        // A true answer that names no server (the next call would not
        // find this process's state).
        (Some("ok"), vec![0], false),
    ];
    let runs = replies.len();
    let mut wit = client.subscribe("vm.plugin.kv.1.wit").await.unwrap();
    let mut calls = client.subscribe("vm.plugin.kv.1.0.call").await.unwrap();
    // Where a process's later calls come once the server named itself.
    let mut direct = client
        .subscribe("vm.plugin.kv.1.server.evil")
        .await
        .unwrap();
    client.flush().await.unwrap();
    let serving = tokio::spawn({
        let client = client.clone();
        async move {
            tokio::spawn({
                let client = client.clone();
                async move {
                    while let Some(m) = wit.next().await {
                        let _ = client.publish(m.reply.unwrap(), KV_WIT.into()).await;
                    }
                }
            });
            for (outcome, payload, named) in replies {
                let set = calls.next().await.unwrap();
                let mut ok = async_nats::HeaderMap::new();
                ok.insert(vm_plugin_remote::OUTCOME, "ok");
                ok.insert(vm_plugin_remote::SERVER, "evil");
                client
                    .publish_with_headers(set.reply.unwrap(), ok, "".into())
                    .await
                    .unwrap();
                let m = direct.next().await.unwrap();
                let mut headers = async_nats::HeaderMap::new();
                if let Some(o) = outcome {
                    headers.insert(vm_plugin_remote::OUTCOME, o);
                }
                if named {
                    headers.insert(vm_plugin_remote::SERVER, "evil");
                }
                client
                    .publish_with_headers(m.reply.unwrap(), headers, payload.into())
                    .await
                    .unwrap();
            }
        }
    });
    let vm = std::sync::Arc::new(remote_kv(&nats, Duration::from_secs(5)).build().unwrap());
    let guest = vm.load_file(rust_guest("kv-guest")).unwrap();
    let mut reasons = Vec::new();
    for _ in 0..runs {
        let outcome = vm.run(&guest, &["kv-guest"]).await.unwrap();
        reasons.push(outcome.reason.to_string());
    }
    serving.await.unwrap();
    // Each run ended alone, with why; the VM ran the next.
    let get = "plugin:kv/store.get failed: its server's reply";
    let expect = [
        format!("{get} is not a option<list<u8>>: the bytes end inside a value"),
        format!("{get} is not a option<list<u8>>: case 2 of a type with 2"),
        format!("{get} is no answer to a call"),
        format!("{get} is no answer to a call"),
        "plugin:kv/store.get failed: \u{fffd}".to_string(),
        format!("{get} names no server (Vm-Server: 1 to 64 letters and digits)"),
    ];
    assert_eq!(reasons.len(), expect.len());
    for (reason, expect) in reasons.iter().zip(&expect) {
        assert!(reason.contains(expect.as_str()), "{reason}");
    }
}

const COUNTER_1_0: &str = "package plugin:counter@1.0.0;
interface c { @since(version = 1.0.0) get: func() -> u32; }";
const COUNTER_1_1: &str = "package plugin:counter@1.1.0;
interface c {
    @since(version = 1.0.0) get: func() -> u32;
    @since(version = 1.1.0) bump: func() -> u32;
}";

/// A guest built for counter 1.1: it bumps twice and traps unless `get`
/// then says 2 (its own count: state is per process).
const NEEDS_1_1: &str = r#"(module
    (@custom "vm:abi" "plugin:counter@1.1.0\n")
    (import "plugin:counter/c@1" "bump" (func $bump (result i32)))
    (import "plugin:counter/c@1" "get" (func $get (result i32)))
    (memory (export "memory") 1)
    (func (export "_start")
        (drop (call $bump))
        (drop (call $bump))
        (if (i32.ne (call $get) (i32.const 2)) (then unreachable))))"#;

async fn serve_counter(nats: &Nats, wit: &'static str) -> vm_plugin_remote::Server {
    let mut plugin = Plugin::builder(wit, || 0u32).func("c.get", |n, (): ()| *n);
    if wit.contains("bump") {
        plugin = plugin.func("c.bump", |n, (): ()| {
            *n += 1;
            *n
        });
    }
    let client = async_nats::connect(&nats.url).await.unwrap();
    vm_plugin_remote::serve(client, plugin.build(), Default::default())
        .await
        .unwrap()
}

fn remote_counter(nats: &Nats) -> vm_reference::Vm {
    test_vm()
        .cluster(nats.config("caller"))
        .remote_plugin(RemotePlugin::parse("counter@1").unwrap())
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servers_of_two_minors_run_side_by_side_and_the_newest_serves() {
    let nats = Nats::start();
    let _old = serve_counter(&nats, COUNTER_1_0).await;
    // Only 1.0 is served: a guest built for a 1.1 function is refused
    // before it runs, as a local plugin's too-new minor is.
    let vm = remote_counter(&nats);
    let text = vm
        .load("needs-1.1.wat", NEEDS_1_1.as_bytes())
        .unwrap_err()
        .to_string();
    assert!(
        text.contains("plugin:counter/c@1.bump")
            && text.contains("has no such function")
            && text.contains("built for 1.1.0"),
        "{text}"
    );
    drop(vm);
    // With a 1.1 server beside it, the VM uses 1.1, and the guest runs.
    let _new = serve_counter(&nats, COUNTER_1_1).await;
    let vm = remote_counter(&nats);
    let guest = vm.load("needs-1.1.wat", NEEDS_1_1.as_bytes()).unwrap();
    for _ in 0..2 {
        let outcome = vm.run(&guest, &["needs-1.1"]).await.unwrap();
        assert_eq!(outcome.reason, ExitReason::Normal);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_dies_mid_call_ends_its_caller_and_a_supervisor_restarts_it() {
    let nats = Nats::start();
    // It dies mid-call, as far as its caller can tell.
    let (dying, arrived, _) = stuck_kv();
    let dying_client = async_nats::connect(&nats.url).await.unwrap();
    let server = vm_plugin_remote::serve(dying_client.clone(), dying, Default::default())
        .await
        .unwrap();
    let vm = std::sync::Arc::new(
        remote_kv(&nats, Duration::from_millis(500))
            .build()
            .unwrap(),
    );
    let guest = vm.load_file(rust_guest("kv-supervised")).unwrap();
    let running = tokio::spawn({
        let vm = vm.clone();
        async move { vm.run(&guest, &["kv-supervised"]).await }
    });
    arrived.await.unwrap();
    // A healthy server comes up, then the first one dies (its
    // subscriptions gone by the time its connection's round trip ends):
    // the restarted worker can reach only the healthy one.
    let healthy = async_nats::connect(&nats.url).await.unwrap();
    let _healthy = vm_plugin_remote::serve(healthy, kv_native::plugin(), Default::default())
        .await
        .unwrap();
    server.stop().await;
    dying_client.flush().await.unwrap();
    let outcome = running.await.unwrap().unwrap();
    assert_eq!(outcome.reason, ExitReason::Normal);
    assert_eq!(
        vm.captured_stdout(),
        "worker 1 ended: Trap(\"plugin:kv/store.set failed: timeout after 500ms\")\n\
         worker 2 stored and read back Some(\"2\")\n\
         worker 2 ended: Normal\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_built_with_wit_bindgen_calls_a_remote_plugin_unchanged() {
    let nats = Nats::start();
    let client = async_nats::connect(&nats.url).await.unwrap();
    let _server = vm_plugin_remote::serve(client, kv_native::plugin(), Default::default())
        .await
        .unwrap();
    let builder = remote_kv(&nats, RemotePlugin::DEADLINE);
    let run = run_file_on(builder, &rust_guest("wit-kv-guest"), &[])
        .await
        .unwrap();
    assert_eq!(run.outcome.reason, ExitReason::Normal, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        "get language: any that wit-bindgen supports\n\
         get missing: None\n\
         increment n: Ok(41)\n\
         increment language: Err(\"language holds `any that wit-bindgen supports`, not a number\")\n\
         count: 2\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arguments_over_one_nats_message_end_the_caller_and_the_connection_stays() {
    let nats = Nats::start();
    let client = async_nats::connect(&nats.url).await.unwrap();
    let _server = vm_plugin_remote::serve(client, kv_native::plugin(), Default::default())
        .await
        .unwrap();
    // `set` of one key byte and 1,048,551 value bytes: 1,048,556 bytes of
    // arguments, under NATS's default max_payload (1 MiB) alone but over
    // it with the call's headers, which NATS counts too (and for which it
    // would close the connection every process's calls share).
    let big = r#"(module
        (import "plugin:kv/store@1" "set" (func $set (param i32 i32 i32 i32)))
        (memory (export "memory") 17)
        (func (export "_start")
            (call $set (i32.const 0) (i32.const 1) (i32.const 16) (i32.const 1048551))))"#;
    let vm = remote_kv(&nats, RemotePlugin::DEADLINE).build().unwrap();
    let guest = vm.load("big.wat", big.as_bytes()).unwrap();
    let outcome = vm.run(&guest, &["big"]).await.unwrap();
    assert_eq!(
        outcome.reason,
        ExitReason::Trap(
            "plugin:kv/store.set failed: arguments of 1048556 bytes are over what one NATS message carries (1048576 bytes, headers included)".into()
        )
    );
    // Nothing went out: the VM's connection is whole, and the next
    // process's calls go on.
    let kv = vm.load_file(rust_guest("kv-guest")).unwrap();
    let outcome = vm.run(&kv, &["kv-guest"]).await.unwrap();
    assert_eq!(outcome.reason, ExitReason::Normal);
}
