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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_past_its_deadline_ends_the_caller_naming_the_function() {
    let nats = Nats::start();
    // A server whose `set` never answers.
    let stuck = Plugin::builder(KV_WIT, || ())
        .func_async("store.set", |_, (_k, _v): (String, Vec<u8>)| {
            std::future::pending::<()>()
        })
        .func("store.get", |_, (_k,): (String,)| None::<Vec<u8>>)
        .func("store.remove", |_, (_k,): (String,)| false)
        .func("store.count", |_, (): ()| 0u32)
        .func("store.increment", |_, (_k, by): (String, i64)| {
            Ok::<i64, String>(by)
        })
        .build();
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
    let replies: Vec<(Option<&str>, Vec<u8>)> = vec![
        // A length far past the bytes.
        (Some("ok"), vec![1, 0xff, 0xff, 0xff, 0xff, 0x0f]),
        // A case an option does not have.
        (Some("ok"), vec![2]),
        // No outcome at all.
        (None, vec![]),
        // An outcome no server gives.
        (Some("maybe"), vec![]),
        // A failure whose text is not UTF-8.
        (Some("failed"), vec![0xff; 4000]),
    ];
    let mut wit = client.subscribe("vm.plugin.kv.1.wit").await.unwrap();
    let mut calls = client.subscribe("vm.plugin.kv.1.call").await.unwrap();
    client.flush().await.unwrap();
    let serving = tokio::spawn({
        let client = client.clone();
        async move {
            let m = wit.next().await.unwrap();
            client
                .publish(m.reply.unwrap(), KV_WIT.into())
                .await
                .unwrap();
            for (outcome, payload) in replies {
                let set = calls.next().await.unwrap();
                let mut ok = async_nats::HeaderMap::new();
                ok.insert(vm_plugin_remote::OUTCOME, "ok");
                client
                    .publish_with_headers(set.reply.unwrap(), ok, "".into())
                    .await
                    .unwrap();
                let m = calls.next().await.unwrap();
                let mut headers = async_nats::HeaderMap::new();
                if let Some(o) = outcome {
                    headers.insert(vm_plugin_remote::OUTCOME, o);
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
    for _ in 0..5 {
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
    ];
    for (reason, expect) in reasons.iter().zip(&expect) {
        assert!(reason.contains(expect.as_str()), "{reason}");
    }
}
