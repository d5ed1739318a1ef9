//! The kv plugin served over a real NATS server (Debian's `nats-server`,
//! started on loopback by the test), called as a VM calls it.

use vm_plugin::{wire, Type, Value};
use vm_plugin_remote::{serve, Options, Subjects, CALLER, FUNCTION, OUTCOME, SERVER};
use vm_tests::nats::Nats;

/// Calls `function` of the kv plugin as `caller`: the outcome and payload.
async fn call(
    client: &async_nats::Client,
    subject: String,
    caller: &str,
    function: &str,
    args: Vec<u8>,
) -> (String, Vec<u8>, String) {
    let mut headers = async_nats::HeaderMap::new();
    headers.insert(FUNCTION, function);
    headers.insert(CALLER, caller);
    let reply = client
        .request_with_headers(subject, headers, args.into())
        .await
        .unwrap();
    let h = reply.headers.unwrap();
    (
        h.get(OUTCOME).unwrap().as_str().to_owned(),
        reply.payload.to_vec(),
        h.get(SERVER).unwrap().as_str().to_owned(),
    )
}

fn set_args(key: &str, value: &[u8]) -> Vec<u8> {
    wire::encode_all(
        &[Value::String(key.into()), Value::Bytes(value.to_vec())],
        &[Type::String, Type::List(Box::new(Type::U8))],
    )
    .unwrap()
}

fn key(k: &str) -> Vec<u8> {
    wire::encode_all(&[Value::String(k.into())], &[Type::String]).unwrap()
}

fn got(payload: &[u8]) -> Option<Vec<u8>> {
    let ty = Type::Option(Box::new(Type::List(Box::new(Type::U8))));
    match wire::decode(payload, &ty).unwrap() {
        Value::Case(0, None) => None,
        Value::Case(1, Some(v)) => match *v {
            Value::Bytes(b) => Some(b),
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn each_caller_has_its_own_state_until_its_end_is_told() {
    let nats = Nats::start();
    let client = async_nats::connect(&nats.url).await.unwrap();
    let server = serve(client.clone(), kv_native::plugin(), Options::default())
        .await
        .unwrap();
    let subjects = Subjects::new("vm", "kv", 1);
    let wit = client.request(subjects.wit(), "".into()).await.unwrap();
    assert!(std::str::from_utf8(&wit.payload)
        .unwrap()
        .contains("package plugin:kv@1.0.0;"));
    let (outcome, payload, id) = call(
        &client,
        subjects.call(0),
        "p1",
        "store.set",
        set_args("k", b"v"),
    )
    .await;
    assert_eq!(
        (outcome.as_str(), payload.len(), id.as_str()),
        ("ok", 0, server.id())
    );
    // Later calls go to the server that holds the state.
    let on = subjects.call_on(&id);
    let (outcome, payload, _) = call(&client, on.clone(), "p1", "store.get", key("k")).await;
    assert_eq!(
        (outcome.as_str(), got(&payload)),
        ("ok", Some(b"v".to_vec()))
    );
    // Another caller's store is its own.
    let (_, payload, _) = call(&client, on.clone(), "p2", "store.get", key("k")).await;
    assert_eq!(got(&payload), None);
    // Told p1 ended (asked, so answered once its state is gone), the
    // server drops its store, and a late call of p1's makes none again.
    let mut ended = async_nats::HeaderMap::new();
    ended.insert(CALLER, "p1");
    client
        .request_with_headers(subjects.ended(), ended, "".into())
        .await
        .unwrap();
    let (outcome, payload, _) = call(&client, on, "p1", "store.get", key("k")).await;
    assert_eq!(
        (
            outcome.as_str(),
            String::from_utf8(payload).unwrap().as_str()
        ),
        ("refused", "caller `p1` has ended")
    );
}

#[tokio::test]
async fn a_state_unused_for_the_idle_time_is_freed() {
    let nats = Nats::start();
    let client = async_nats::connect(&nats.url).await.unwrap();
    let options = Options {
        idle: std::time::Duration::ZERO,
        max_callers: 1,
        ..Options::default()
    };
    let _server = serve(client.clone(), kv_native::plugin(), options)
        .await
        .unwrap();
    let subjects = Subjects::new("vm", "kv", 1);
    // With no idle time, a caller's state goes at the next sweep: the
    // one place for a caller is free again, so a second caller gets in
    // once it has.
    let (outcome, ..) = call(&client, subjects.call(0), "p1", "store.count", vec![]).await;
    assert_eq!(outcome, "ok");
    loop {
        let (outcome, ..) = call(&client, subjects.call(0), "p2", "store.count", vec![]).await;
        if outcome == "ok" {
            break;
        }
        tokio::task::yield_now().await;
    }
}

#[tokio::test]
async fn calls_it_cannot_run_are_refused_saying_why() {
    let nats = Nats::start();
    let client = async_nats::connect(&nats.url).await.unwrap();
    let options = Options {
        max_callers: 1,
        ..Options::default()
    };
    let _server = serve(client.clone(), kv_native::plugin(), options)
        .await
        .unwrap();
    let subjects = Subjects::new("vm", "kv", 1);
    let refused = |(outcome, payload, _): (String, Vec<u8>, String)| {
        assert_eq!(outcome, "refused");
        String::from_utf8(payload).unwrap()
    };
    let why = refused(call(&client, subjects.call(0), "p1", "store.nope", vec![]).await);
    assert_eq!(why, "the plugin has no function `store.nope`");
    let mut trailing = key("k");
    trailing.push(0);
    let why = refused(call(&client, subjects.call(0), "p1", "store.get", trailing).await);
    assert!(why.contains("1 bytes are left after the value"), "{why}");
    let huge = vec![0xff, 0xff, 0xff, 0xff, 0x0f];
    let why = refused(call(&client, subjects.call(0), "p1", "store.get", huge).await);
    assert!(why.contains("the bytes end inside a value"), "{why}");
    let long = "x".repeat(129);
    let why = refused(call(&client, subjects.call(0), &long, "store.count", vec![]).await);
    assert!(why.contains("Vm-Caller of 1 to 128 bytes"), "{why}");
    // One caller's state is all this server holds.
    let (outcome, ..) = call(&client, subjects.call(0), "p1", "store.count", vec![]).await;
    assert_eq!(outcome, "ok");
    let why = refused(call(&client, subjects.call(0), "p2", "store.count", vec![]).await);
    assert_eq!(why, "the server holds the states of 1 callers already");
}
