//! Nodes joined over a real NATS server (Debian's `nats-server`, which
//! `cargo xtask setup` installs), each test starting its own on loopback
//! with a port the server picks, and stopping it: kernels in this process
//! first, then `vm` commands, each an OS process of its own.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use vm_abi::MessageKind;
use vm_cluster::Cluster;
use vm_kernel::actor::Actor;
use vm_kernel::remote::node_of;
use vm_kernel::{ExitReason, Filter, Kernel, Limits, Message};
use vm_tests::nats::Nats;

type K = Kernel<Infallible>;

/// Longer than any verdict here can take: a receive that waits this long
/// has failed.
const PATIENCE: Duration = Duration::from_secs(30);

/// Longer than any `vm` node here takes to print its next line (a node
/// may wait out verdicts and build nothing; a module of 2 MiB crosses).
const NODE_PATIENCE: Duration = Duration::from_secs(120);

fn kernel() -> Arc<K> {
    Kernel::new(Limits {
        max_processes: 64,
        max_mailbox: 16 << 20,
        max_host_memory: 1 << 30,
        worker_threads: 1,
    })
    .unwrap()
}

/// A kernel joined to the cluster at `nats` as `name`.
fn node(nats: &Nats, name: &str) -> (Arc<K>, Cluster) {
    let k = kernel();
    let c = Cluster::join(&k, nats.config(name)).unwrap();
    (k, c)
}

/// Runs `body` as an actor on `k` and waits for what it sends back.
async fn ask<T: Send + 'static, Fut>(
    k: &Arc<K>,
    body: impl FnOnce(Actor<Infallible>, tokio::sync::oneshot::Sender<T>) -> Fut + Send + 'static,
) -> T
where
    Fut: Future<Output = ExitReason> + Send + 'static,
{
    let (tx, rx) = tokio::sync::oneshot::channel();
    k.spawn_actor(move |me| body(me, tx)).unwrap();
    rx.await.expect("the actor answered")
}

/// An actor on `k` that answers each message with its bytes until it
/// gets "crash" (then it traps) or "stop" (then it returns).
fn echo(k: &Arc<K>) -> u64 {
    k.spawn_actor(|mut me| async move {
        loop {
            let m = me.receive(&Filter::any(), None).await.unwrap();
            if &m.data[..] == b"crash" {
                return ExitReason::Trap("asked to".into());
            }
            if &m.data[..] == b"stop" {
                return ExitReason::Normal;
            }
            me.send(m.sender, m.tag, &m.data).unwrap();
        }
    })
    .unwrap()
}

async fn next(me: &mut Actor<Infallible>) -> Message<Infallible> {
    me.receive(&Filter::any(), Some(PATIENCE))
        .await
        .expect("a message within the patience")
}

fn reason(m: &Message<Infallible>) -> ExitReason {
    ExitReason::decode(&m.data).unwrap()
}

/// Links `remote` and monitors it, then proves both landed with a round
/// trip (signals between two processes keep their order); the monitor's
/// reference.
async fn watch(me: &mut Actor<Infallible>, remote: u64) -> u64 {
    me.link(remote).unwrap();
    let r = me.monitor(remote).unwrap();
    me.send(remote, 9, b"ping").unwrap();
    let m = next(me).await;
    assert_eq!(
        (m.kind, m.sender, &m.data[..]),
        (MessageKind::Data, remote, &b"ping"[..]),
        "{:?}",
        ExitReason::decode(&m.data)
    );
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_cross_between_nodes_in_order_and_slots_are_unique() {
    let nats = Nats::start();
    let (a, ca) = node(&nats, "a");
    let (b, cb) = node(&nats, "b");
    assert_ne!(ca.slot(), cb.slot());
    let e = echo(&b);
    assert_eq!(node_of(e), cb.slot());
    let replies = ask(&a, move |mut me, tx| async move {
        for i in 0..2000u32 {
            me.send(e, 1, &i.to_le_bytes()).unwrap();
        }
        let mut got = Vec::new();
        for _ in 0..2000 {
            let m = next(&mut me).await;
            got.push(u32::from_le_bytes(m.data[..].try_into().unwrap()));
        }
        let _ = tx.send(got);
        ExitReason::Normal
    })
    .await;
    assert_eq!(replies, (0..2000).collect::<Vec<_>>());
    // Many nodes joining at once each take a slot of their own.
    let joined: Vec<_> = (0..6)
        .map(|i| {
            let config = nats.config(&format!("n{i}"));
            std::thread::spawn(move || {
                let k = kernel();
                let c = Cluster::join(&k, config).unwrap();
                (c.slot(), k, c)
            })
        })
        .collect();
    let mut slots: Vec<u16> = joined
        .into_iter()
        .map(|t| t.join().unwrap().0)
        .chain([ca.slot(), cb.slot()])
        .collect();
    slots.sort_unstable();
    slots.dedup();
    assert_eq!(slots.len(), 8, "{slots:?}");
}

/// What a [`watcher`] of `remote` sees when its node goes down.
fn noconnection(remote: u64) -> Vec<(MessageKind, u64, ExitReason)> {
    vec![
        (MessageKind::Exit, remote, ExitReason::NoConnection),
        (MessageKind::Down, remote, ExitReason::NoConnection),
    ]
}

/// Nodes `a` and `b`, each joined with `tune` applied to its config.
fn tuned_pair(
    nats: &Nats,
    tune: impl Fn(&mut vm_cluster::Config),
) -> ((Arc<K>, Cluster), (Arc<K>, Cluster)) {
    let join = |name: &str| {
        let mut config = nats.config(name);
        tune(&mut config);
        let k = kernel();
        let c = Cluster::join(&k, config).unwrap();
        (k, c)
    };
    (join("a"), join("b"))
}

/// Watches `remote` from a new actor on `k`, trapping exits; returns once
/// the link and monitor landed, with what the actor will receive next
/// (two messages, sorted by kind).
async fn watcher(
    k: &Arc<K>,
    remote: u64,
) -> tokio::sync::oneshot::Receiver<Vec<(MessageKind, u64, ExitReason)>> {
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    let (seen_tx, seen_rx) = tokio::sync::oneshot::channel();
    k.spawn_actor(move |mut me| async move {
        me.trap_exits(true);
        watch(&mut me, remote).await;
        let _ = ready_tx.send(());
        let mut seen = Vec::new();
        for _ in 0..2 {
            let m = next(&mut me).await;
            seen.push((m.kind, m.sender, reason(&m)));
        }
        seen.sort_by_key(|s| s.0 as u8);
        let _ = seen_tx.send(seen);
        ExitReason::Normal
    })
    .unwrap();
    ready_rx.await.unwrap();
    seen_rx
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_a_normal_end_and_a_kill_over_the_wire_fire_links_and_monitors() {
    let nats = Nats::start();
    let (a, _ca) = node(&nats, "a");
    let (b, _cb) = node(&nats, "b");
    let ends: [(&[u8], ExitReason); 4] = [
        (b"crash", ExitReason::Trap("asked to".into())),
        (b"stop", ExitReason::Normal),
        // Killed, and sent an exit signal, from node a by a process that
        // is neither link nor monitor.
        (b"kill", ExitReason::Killed),
        (b"exit", ExitReason::Exit("shutdown".into())),
    ];
    for (ask_for, reason) in ends {
        let remote = echo(&b);
        let seen = watcher(&a, remote).await;
        let ended = ask(&a, move |me, tx| async move {
            match ask_for {
                b"kill" => me.kill(remote),
                b"exit" => me.send_exit(remote, ExitReason::Exit("shutdown".into())),
                _ => me.send(remote, 1, ask_for).unwrap(),
            }
            let _ = tx.send(());
            ExitReason::Normal
        });
        ended.await;
        assert_eq!(
            seen.await.unwrap(),
            vec![
                (MessageKind::Exit, remote, reason.clone()),
                (MessageKind::Down, remote, reason),
            ]
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_halts_is_declared_down_by_its_silence() {
    let nats = Nats::start();
    // Without probes: its closed connection would be the verdict first.
    let ((a, _ca), (b, cb)) = tuned_pair(&nats, |config| config.probes = false);
    let survivor = echo(&b);
    let seen = watcher(&a, survivor).await;
    // Node b stops without a word, as a crashed node does.
    cb.halt();
    assert_eq!(seen.await.unwrap(), noconnection(survivor));
    // Its processes cannot be reached since: a link answers at once.
    let again = ask(&a, move |mut me, tx| async move {
        me.trap_exits(true);
        me.link(survivor).unwrap();
        let m = next(&mut me).await;
        let _ = tx.send((m.kind, reason(&m)));
        ExitReason::Normal
    })
    .await;
    assert_eq!(again, (MessageKind::Exit, ExitReason::NoConnection));
    drop(b);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_whose_connection_is_gone_is_down_without_waiting_for_the_bound() {
    let nats = Nats::start();
    // A bound of 200 s, past the watcher's patience (30 s): only NATS
    // saying that no one listens for b any more can explain the verdict.
    let ((a, _ca), (b, cb)) = tuned_pair(&nats, |config| {
        config.misses = 1000;
        config.grace = Duration::from_millis(200);
    });
    let gone = echo(&b);
    let seen = watcher(&a, gone).await;
    // Its connection closes with it, as a killed process's does.
    cb.halt();
    assert_eq!(seen.await.unwrap(), noconnection(gone));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_leaves_is_down_at_once_and_its_old_ids_are_noproc() {
    let nats = Nats::start();
    // A long bound on both sides (a verdict from silence takes a minute):
    // only the goodbye can explain a quick one. With the usual bound, a
    // loaded machine let b's silence be the verdict before it left.
    let ((a, _ca), (b, cb)) = tuned_pair(&nats, |config| {
        config.heartbeat = Duration::from_secs(60);
    });
    let gone = echo(&b);
    let seen = watcher(&a, gone).await;
    cb.leave();
    assert_eq!(seen.await.unwrap(), noconnection(gone));
    let again = ask(&a, move |mut me, tx| async move {
        me.trap_exits(true);
        let r = me.monitor(gone).unwrap();
        let m = next(&mut me).await;
        let _ = tx.send((m.tag == r, reason(&m)));
        ExitReason::Normal
    })
    .await;
    assert_eq!(again, (true, ExitReason::NoProc));
}

/// A process on `k` that answers every message from another with "got
/// one": what forged frames try to kill.
fn target_of_forgeries(k: &Arc<K>) -> u64 {
    k.spawn_actor(|mut me| async move {
        loop {
            let m = me.receive(&Filter::any(), None).await.unwrap();
            if m.sender != me.id() {
                me.send(m.sender, 0, b"got one").unwrap();
            }
        }
    })
    .unwrap()
}

/// Proves `target` on `a` is alive and answers a process of `b`, across
/// the wire.
async fn still_answers(a: &Arc<K>, b: &Arc<K>, target: u64) {
    let answer = ask(b, move |mut me, tx| async move {
        me.send(target, 5, b"hello").unwrap();
        let m = next(&mut me).await;
        let _ = tx.send((m.sender, m.data.to_vec()));
        ExitReason::Normal
    })
    .await;
    assert_eq!(answer, (target, b"got one".to_vec()));
    assert!(a.get(target).is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_and_forgeries_on_the_wire_are_refused_and_the_node_goes_on() {
    use vm_cluster::wire::{encode, Frame, WireSignal};
    let nats = Nats::start();
    let (a, ca) = node(&nats, "a");
    let (b, _cb) = node(&nats, "b");
    let e = echo(&b);
    let target = target_of_forgeries(&a);
    let client = async_nats::connect(&nats.url).await.unwrap();
    // On a's subject, as node `from`.
    let to_a = |from: &str| format!("vm.node.a.{}.{from}", ca.slot());
    let forged = |node: u16, from: u64| Frame::Signal {
        node,
        session: 0,
        seq: 0,
        signal: WireSignal::Kill { from, to: target },
    };
    let b_slot = node_of(e);
    let evil: Vec<(&str, Vec<u8>)> = vec![
        ("x", vec![]),
        ("x", vec![0xff; 64]),
        (
            "x",
            vec![
                1, 2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1,
            ],
        ),
        // From a slot no node holds, as another node's process.
        ("x", encode(&forged(999, e))),
        // On node x's subject, a frame that says node b's slot sent it.
        ("x", encode(&forged(b_slot, e))),
        // On node b's subject, a frame from a slot no node holds.
        ("b", encode(&forged(999, e))),
        // A signal from this node to itself.
        ("a", encode(&forged(ca.slot(), target))),
        // An init message, which never crosses.
        (
            "a",
            encode(&Frame::Signal {
                node: ca.slot(),
                session: 0,
                seq: 0,
                signal: WireSignal::Message {
                    from: (ca.slot() as u64) << 48 | 1,
                    to: target,
                    kind: MessageKind::Init as u8,
                    tag: 0,
                    data: vec![],
                },
            }),
        ),
    ];
    for (from, bytes) in evil {
        client.publish(to_a(from), bytes.into()).await.unwrap();
    }
    // As b, with b's slot, but as only a JetStream consumer's delivery (a
    // reply subject) or a stream's republishing (headers) would carry it,
    // fed by anyone who may store a message.
    let kill = encode(&forged(b_slot, e));
    let reply = "$JS.ACK.OBJ_vm_modules.relay.1.1.1.0.0";
    client
        .publish_with_reply(to_a("b"), reply, kill.clone().into())
        .await
        .unwrap();
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("Nats-Stream", "relay");
    client
        .publish_with_headers(to_a("b"), headers, kill.into())
        .await
        .unwrap();
    client.flush().await.unwrap();
    // Still alive and answering, across the wire, after all of it: the
    // garbage was flushed (the server passed it on) before b sent.
    still_answers(&a, &b, target).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_permissions_keep_a_node_from_speaking_as_another_or_moving_a_slots_claim() {
    use vm_cluster::wire::{encode, Frame, WireSignal};
    let nats = Nats::with_nodes(&["a", "b", "mallory"]);
    let (a, ca) = node(&nats, "a");
    let (b, _cb) = node(&nats, "b");
    let e = echo(&b);
    let target = target_of_forgeries(&a);
    // Mallory is a node of the cluster, with a node's permissions, and
    // tries what a hostile node would; the server's refusals come back to
    // her as events.
    let (refused_tx, mut refused) = tokio::sync::mpsc::unbounded_channel();
    let mallory = async_nats::ConnectOptions::with_user_and_password(
        "mallory".into(),
        "mallory-secret".into(),
    )
    .custom_inbox_prefix("_INBOX_mallory")
    .event_callback(move |event| {
        if let async_nats::Event::ServerError(e) = event {
            let _ = refused_tx.send(e.to_string());
        }
        std::future::ready(())
    })
    .connect(&nats.url)
    .await
    .unwrap();
    // The first signal b's echo would send a: a kill, were it let through.
    let b_slot = node_of(e);
    let kill = encode(&Frame::Signal {
        node: b_slot,
        session: 0,
        seq: 0,
        signal: WireSignal::Kill {
            from: e,
            to: target,
        },
    });
    // As b, on a's subject: the server refuses it.
    let as_b = format!("vm.node.a.{}.b", ca.slot());
    mallory
        .publish(as_b.clone(), kill.clone().into())
        .await
        .unwrap();
    // As herself, with b's slot in the frame: a refuses it.
    let as_mallory = format!("vm.node.a.{}.mallory", ca.slot());
    mallory.publish(as_mallory, kill.into()).await.unwrap();
    // Listening to what is sent to b: refused.
    let _eavesdrop = mallory.subscribe("vm.node.b.>").await.unwrap();
    // Taking b's slot: the first claim stands.
    let js = async_nats::jetstream::new(mallory.clone());
    let claim = js
        .publish(format!("vm.slot.{b_slot}"), "mallory".into())
        .await;
    assert!(
        claim.unwrap().await.is_err(),
        "a second claim on b's slot was stored"
    );
    // Removing the claims, or making a stream that republishes what she
    // stores on her own subjects onto a's subject as b: refused (the
    // requests are dropped unanswered, so they are not waited for).
    tokio::spawn({
        let js = js.clone();
        async move { js.delete_stream("vm_slots").await }
    });
    tokio::spawn({
        let (js, to) = (js.clone(), as_b.clone());
        async move {
            js.create_stream(async_nats::jetstream::stream::Config {
                name: "relay".into(),
                subjects: vec!["vm.node.x.1.mallory".into()],
                republish: Some(async_nats::jetstream::stream::Republish {
                    source: ">".into(),
                    destination: to,
                    headers_only: false,
                }),
                ..Default::default()
            })
            .await
        }
    });
    let mut violations = Vec::new();
    while violations.len() < 4 {
        let e = tokio::time::timeout(PATIENCE, refused.recv()).await;
        violations.push(e.expect("the server's refusal").unwrap());
    }
    for refusal in [
        format!("Publish to \"{as_b}\""),
        "Publish to \"$JS.API.STREAM.DELETE.vm_slots\"".to_string(),
        "Publish to \"$JS.API.STREAM.CREATE.relay\"".to_string(),
        "Subscription to \"vm.node.b.>\"".to_string(),
    ] {
        assert!(
            violations.iter().any(|v| v.contains(&refusal)),
            "{refusal}: {violations:?}"
        );
    }
    let claims = js.get_stream("vm_slots").await.unwrap();
    let claim = claims
        .get_last_raw_message_by_subject(&format!("vm.slot.{b_slot}"))
        .await;
    assert_eq!(&claim.unwrap().payload[..], b"b");
    // The round trip comes behind both kills on a's connection: neither
    // was acted on, and b's first signal to a is in order.
    still_answers(&a, &b, target).await;
    // A node that logs in as another node's user is refused at once, and
    // told what its user needs.
    let mut wrong = nats.config("c");
    wrong.url = nats.url_as("b");
    let refused = Cluster::join(&kernel(), wrong).err().expect("refused");
    assert!(
        refused.to_string().contains("NATS refused it")
            && refused.to_string().contains("vm nats-permissions"),
        "{refused}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_tls_with_a_private_ca_and_client_certificates_nodes_talk_and_others_are_refused() {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
    let dir = std::env::temp_dir().join(format!("vm-cluster-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let write = |name: &str, pem: String| {
        let path = dir.join(name);
        std::fs::write(&path, pem).unwrap();
        path.to_str().unwrap().to_owned()
    };
    // A CA of the operator's own, which signs the server's certificate and
    // each node's.
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
    let signed = |san: &str| {
        let key = KeyPair::generate().unwrap();
        let params = CertificateParams::new(vec![san.to_owned()]).unwrap();
        (
            params.signed_by(&key, &ca).unwrap().pem(),
            key.serialize_pem(),
        )
    };
    let ca_file = write("ca.pem", ca.pem());
    let (cert, key) = signed("127.0.0.1");
    let (server_cert, server_key) = (write("server.pem", cert), write("server-key.pem", key));
    let (cert, key) = signed("node");
    let client = (dir.join("node.pem"), dir.join("node-key.pem"));
    std::fs::write(&client.0, cert).unwrap();
    std::fs::write(&client.1, key).unwrap();
    let nats = Nats::start_with(&[
        "--tls",
        "--tlscert",
        &server_cert,
        "--tlskey",
        &server_key,
        "--tlsverify",
        "--tlscacert",
        &ca_file,
    ]);
    let config = |name: &str| {
        let mut c = nats.config(name);
        c.url = nats.url.replace("nats://", "tls://");
        c.tls_ca = Some(ca_file.clone().into());
        c.tls_client = Some(client.clone());
        c
    };
    let a = kernel();
    let _joined_a = Cluster::join(&a, config("a")).unwrap();
    let b = kernel();
    let _joined_b = Cluster::join(&b, config("b")).unwrap();
    let e = echo(&b);
    let answer = ask(&a, move |mut me, tx| async move {
        me.send(e, 1, b"over tls").unwrap();
        let m = next(&mut me).await;
        let _ = tx.send(m.data.to_vec());
        ExitReason::Normal
    })
    .await;
    assert_eq!(answer, b"over tls");
    // Without the CA the server's certificate is not trusted; without a
    // certificate of its own the server does not take the node.
    let mut no_ca = config("c");
    no_ca.tls_ca = None;
    let mut no_cert = config("d");
    no_cert.tls_client = None;
    for refused in [no_ca, no_cert] {
        let error = Cluster::join(&kernel(), refused).err().expect("refused");
        assert!(
            error
                .to_string()
                .starts_with("cannot join the cluster: tls://127.0.0.1:"),
            "{error}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_refuses_a_cluster_stream_made_to_pass_on_what_it_stores() {
    use async_nats::jetstream::stream::{Config, DiscardPolicy, Republish};
    let nats = Nats::start();
    // Made before any node, as the claims' stream in every way but one:
    // it republishes each claim onto a node's subject.
    let js = async_nats::jetstream::new(async_nats::connect(&nats.url).await.unwrap());
    js.create_stream(Config {
        name: "vm_slots".into(),
        subjects: vec!["vm.slot.*".into()],
        max_messages_per_subject: 1,
        discard: DiscardPolicy::New,
        discard_new_per_subject: true,
        republish: Some(Republish {
            source: "vm.slot.*".into(),
            destination: "vm.node.a.{{wildcard(1)}}.b".into(),
            headers_only: false,
        }),
        ..Default::default()
    })
    .await
    .unwrap();
    let refused = Cluster::join(&kernel(), nats.config("a"))
        .err()
        .expect("refused");
    assert!(
        refused
            .to_string()
            .contains("the stream vm_slots exists with another configuration than a node makes"),
        "{refused}"
    );
}

/// A `vm run` of the scenarios guest joined to the cluster at `nats` as
/// `name`, its output read line by line.
struct VmNode {
    child: std::process::Child,
    /// Its lines, read by a thread of their own, so that a node that
    /// prints nothing fails the test rather than hangs it.
    lines: std::sync::mpsc::Receiver<String>,
}

impl VmNode {
    fn start(nats: &Nats, name: &str, args: &[&str]) -> VmNode {
        VmNode::start_module(nats, name, &vm_tests::rust_guest("scenarios"), args)
    }

    fn start_module(nats: &Nats, name: &str, module: &std::path::Path, args: &[&str]) -> VmNode {
        VmNode::start_with(nats, name, &[], module, args)
    }

    /// A node given `flags` besides the cluster's.
    fn start_with(
        nats: &Nats,
        name: &str,
        flags: &[&str],
        module: &std::path::Path,
        args: &[&str],
    ) -> VmNode {
        use std::process::{Command, Stdio};
        let mut child = Command::new(vm_tests::vm_command())
            .args(["run", "--no-config", "--cluster", &nats.url_as(name)])
            .args(["--node", name])
            .args(["--heartbeat-ms", "300"])
            .args(flags)
            .arg(module)
            .arg("--")
            .args(args)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        VmNode {
            child,
            lines: {
                let (tx, rx) = std::sync::mpsc::channel();
                std::thread::spawn(move || {
                    for line in std::io::BufRead::lines(std::io::BufReader::new(stdout)) {
                        let line = line.expect("its output is text");
                        if tx.send(line).is_err() {
                            return;
                        }
                    }
                });
                rx
            },
        }
    }

    fn line(&mut self) -> String {
        self.lines
            .recv_timeout(NODE_PATIENCE)
            .expect("the node printed a line within the patience")
    }

    /// The rest of its output, once it ends, and whether it succeeded.
    fn finish(mut self) -> (Vec<String>, bool) {
        let mut rest = Vec::new();
        loop {
            match self.lines.recv_timeout(NODE_PATIENCE) {
                Ok(line) => rest.push(line),
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
                Err(e) => {
                    panic!("the node did not end within the patience: {e} (printed {rest:?})")
                }
            }
        }
        (rest, self.child.wait().unwrap().success())
    }
}

impl Drop for VmNode {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The server's id, from its first line.
fn server_id(server: &mut VmNode) -> String {
    let line = server.line();
    let id = line
        .strip_prefix("server ")
        .expect("`server ID`")
        .to_owned();
    assert_ne!(node_of(id.parse().unwrap()), 0, "{line}");
    id
}

#[test]
fn two_vm_commands_ping_pong_in_order_and_a_crash_reaches_across() {
    let nats = Nats::start();
    // The server in each language, the client in Rust, on two nodes.
    let servers = [
        ("rust", vm_tests::rust_guest("scenarios")),
        ("c", vm_tests::c_guest("scenarios")),
        ("assemblyscript", vm_tests::as_guest("scenarios")),
    ];
    for (language, module) in servers {
        let mut server = VmNode::start_module(&nats, language, &module, &["cluster-server"]);
        let id = server_id(&mut server);
        let client = VmNode::start(&nats, "client", &["cluster-client", &id, "500", "crash"]);
        let (out, ok) = client.finish();
        assert_eq!(out.len(), 3, "{language}: {out:?}");
        assert_eq!(out[0], "500 pongs, in order: true", "{language}");
        // The crash's reason, its link's exit first and then the monitor's
        // down, as Erlang orders them.
        for (line, what) in out[1..].iter().zip(["exit", "down"]) {
            assert!(
                line.starts_with(&format!("{what} Trap(")) && line.contains("asked to crash"),
                "{language}: {out:?}"
            );
        }
        assert!(ok, "{language}");
    }
}

#[test]
fn requests_cross_nodes_between_every_pair_of_languages() {
    let nats = Nats::start();
    let guests = [
        ("rust", vm_tests::rust_guest("scenarios")),
        ("c", vm_tests::c_guest("scenarios")),
        ("assemblyscript", vm_tests::as_guest("scenarios")),
    ];
    for (server_language, server_module) in &guests {
        for (client_language, client_module) in &guests {
            let pair = format!("{server_language} server, {client_language} client");
            let node = |role: &str| format!("{server_language}-{client_language}-{role}");
            let mut server =
                VmNode::start_module(&nats, &node("server"), server_module, &["doubler"]);
            let line = server.line();
            let id = line.strip_prefix("doubler ").expect(&line).to_owned();
            let client =
                VmNode::start_module(&nats, &node("client"), client_module, &["ask", &id, "100"]);
            let (out, ok) = client.finish();
            assert_eq!(
                out,
                [
                    "100 replies, each doubled: true",
                    "server crashed: down trap",
                    "server gone: down noproc"
                ],
                "{pair}"
            );
            assert!(ok, "{pair}");
        }
    }
}

#[test]
fn one_node_of_three_wins_a_global_name_and_it_is_freed_when_that_node_dies() {
    // Each node held to its own subjects by NATS, as an operator would.
    let nats = Nats::with_nodes(&["a", "b", "c"]);
    let mut nodes: Vec<VmNode> = ["a", "b", "c"]
        .iter()
        .map(|name| VmNode::start(&nats, name, &["global-race", "leader"]))
        .collect();
    let slots: Vec<String> = nodes
        .iter_mut()
        .map(|n| {
            n.line()
                .strip_prefix("node ")
                .expect("`node SLOT`")
                .to_owned()
        })
        .collect();
    let claims: Vec<String> = nodes.iter_mut().map(VmNode::line).collect();
    let winners: Vec<usize> = (0..3).filter(|&i| claims[i] == "won").collect();
    assert_eq!(winners.len(), 1, "{claims:?}");
    let winner = winners[0];
    for (i, claim) in claims.iter().enumerate() {
        if i != winner {
            assert_eq!(claim, "lost already-registered");
        }
    }
    for n in &mut nodes {
        assert_eq!(n.line(), format!("holder on node {}", slots[winner]));
    }
    // SIGKILL: the winner's name goes with its node, and the node monitors
    // the others set tell them.
    nodes[winner].child.kill().unwrap();
    let mut rest: Vec<VmNode> = nodes
        .into_iter()
        .enumerate()
        .filter(|(i, _)| *i != winner)
        .map(|(_, n)| n)
        .collect();
    for n in &mut rest {
        assert_eq!(
            n.line(),
            format!(
                "node {} down: NoConnection, from its id: true",
                slots[winner]
            )
        );
    }
    let mut again: Vec<String> = rest.iter_mut().map(VmNode::line).collect();
    again.sort();
    assert_eq!(again, ["lost already-registered", "won"]);
}

#[test]
fn a_global_name_is_free_by_the_time_its_holders_down_arrives_on_another_node() {
    let nats = Nats::start();
    // Several rounds: the down and the release race unless ordered.
    for round in 0..5 {
        let name = format!("handover-{round}");
        let mut holder = VmNode::start(&nats, "holder", &["global-holder", &name]);
        assert_eq!(holder.line(), "holding");
        let taker = VmNode::start(&nats, "taker", &["global-taker", &name]);
        let (out, ok) = taker.finish();
        assert_eq!(
            out,
            ["down Normal", "taken at once after its down"],
            "round {round}"
        );
        assert!(ok);
        let (_, ok) = holder.finish();
        assert!(ok);
    }
}

#[test]
fn spawn_on_ships_the_module_runs_it_there_and_a_node_that_accepts_nothing_refuses() {
    // Each node held to its own subjects by NATS, as an operator would.
    let nats = Nats::with_nodes(&["open", "closed", "tight", "asker"]);
    let scenarios = vm_tests::rust_guest("scenarios");
    let accept = ["--accept-spawn-from", "asker", "--accept-module", "*"];
    let mut open = VmNode::start_with(&nats, "open", &accept, &scenarios, &["cluster-server"]);
    let mut closed = VmNode::start(&nats, "closed", &["cluster-server"]);
    let tight_flags = [&accept[..], &["--max-mailbox", "1M"]].concat();
    let mut tight = VmNode::start_with(
        &nats,
        "tight",
        &tight_flags,
        &scenarios,
        &["cluster-server"],
    );
    let slot = |id: String| (id.parse::<u64>().unwrap() >> 48).to_string();
    let (o, c) = (slot(server_id(&mut open)), slot(server_id(&mut closed)));
    let t = slot(server_id(&mut tight));
    let asker = VmNode::start(&nats, "asker", &["spawn-on", &o, &c, &t]);
    let (out, ok) = asker.finish();
    assert_eq!(
        out,
        [
            "child on its node: true".to_string(),
            format!("it runs on node {o}: true"),
            format!("its crash over the link: Trap(panicked at scenarios/src/cluster.rs: asked to crash on node {o})"),
            "a module of 2097199 bytes ran on node true: Killed".to_string(),
            "tight node: Some(LimitReached), before fetching: true".to_string(),
            "refused: Some(PermissionDenied), names the flag: true".to_string(),
        ]
    );
    assert!(ok);
}

#[test]
fn a_node_with_a_native_plugin_is_kept_apart_and_safe_nodes_use_it_through_a_process_there() {
    let nats = Nats::start();
    // The safe node loads no plugin and would run any module from anyone.
    let open = ["--accept-spawn-from", "*", "--accept-module", "*"];
    let scenarios = vm_tests::rust_guest("scenarios");
    let mut safe = VmNode::start_with(&nats, "safe", &open, &scenarios, &["ask-hasher", "hello"]);
    let line = safe.line();
    let slot = line.strip_prefix("node ").expect(&line).to_owned();
    let library = vm_tests::native_library("libhash.so");
    let flags = ["--native-plugin", library.to_str().unwrap()];
    let service = vm_tests::rust_guest("hash-service");
    let mut risky = VmNode::start_with(&nats, "risky", &flags, &service, &[&slot]);
    // Its heartbeat announces what it offers: none of the plugin this
    // module imports, so it is refused before the module is shipped.
    assert_eq!(
        risky.line(),
        format!(
            "refused: Some(ModuleIncompatible): spawning on node {slot}: node `safe` lacks \
             plugin hash@1.0.0 that the module imports (it offers: none)"
        )
    );
    assert_eq!(risky.line(), "hasher registered");
    let (out, ok) = safe.finish();
    assert_eq!(out, ["hello hashed on node risky: a430d84680aabd0b"]);
    assert!(ok);
}

/// A `cluster-server` node and a `cluster-client` node in `mode` watching
/// it (see the scenario), once the client has played 10 pings and is
/// ready.
fn server_and_ready_client(nats: &Nats, mode: &str) -> (VmNode, VmNode) {
    let mut server = VmNode::start(nats, "server", &["cluster-server"]);
    let id = server_id(&mut server);
    let mut client = VmNode::start(nats, "client", &["cluster-client", &id, "10", mode]);
    assert_eq!(client.line(), "10 pongs, in order: true");
    assert_eq!(client.line(), "ready");
    (server, client)
}

#[test]
fn a_killed_vm_is_declared_down_and_its_links_fire_noconnection() {
    let nats = Nats::start();
    let (mut server, client) = server_and_ready_client(&nats, "wait");
    // SIGKILL: the node says nothing; its connection closes, and NATS
    // answers the client's node "no responders" for it (or its silence
    // passes the bound).
    server.child.kill().unwrap();
    let (out, ok) = client.finish();
    assert_eq!(out, ["exit NoConnection", "down NoConnection"]);
    assert!(ok);
}

#[test]
fn a_stopped_vm_is_declared_down_and_on_sigcont_nothing_sent_before_the_verdict_lands() {
    let nats = Nats::start();
    let (mut server, mut client) = server_and_ready_client(&nats, "stop");
    let signal = |name: &str| {
        let status = std::process::Command::new("kill")
            .args([&format!("-{name}"), &server.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -{name}");
    };
    signal("STOP");
    let verdict = client.line();
    let stale: u32 = verdict
        .strip_prefix("down NoConnection, after ")
        .and_then(|rest| rest.strip_suffix(" stale pings"))
        .unwrap_or_else(|| panic!("{verdict}"))
        .parse()
        .unwrap();
    assert!(stale > 0, "{verdict}");
    signal("CONT");
    // The server's node saw it stood still past the bound and ended its
    // sessions before it read what waited: the stale pings are dropped,
    // and a ping sent once it is heard again gets its answer.
    let (out, ok) = client.finish();
    assert_eq!(out, ["after: pong 2000000"]);
    assert!(ok);
    server.child.kill().unwrap();
    let (out, _) = server.finish();
    assert_eq!(out, ["ping 2000000"], "{stale} stale pings were sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_larger_than_one_nats_message_is_refused_to_its_sender() {
    let nats = Nats::start();
    let (a, _ca) = node(&nats, "a");
    let (b, _cb) = node(&nats, "b");
    let e = echo(&b);
    let (refused, answer) = ask(&a, move |mut me, tx| async move {
        let refused = me.send(e, 1, &vec![7; 2 << 20]);
        // Nothing is lost on the way: the next message arrives.
        me.send(e, 2, b"small").unwrap();
        let m = next(&mut me).await;
        let _ = tx.send((refused, (m.tag, m.data.to_vec())));
        ExitReason::Normal
    })
    .await;
    let text = refused.expect_err("refused").explain("sending it");
    assert!(
        text.contains("over the 1048576 bytes one message between nodes may carry"),
        "{text}"
    );
    assert_eq!(answer, (2, b"small".to_vec()));
}

/// A `vm run` of the cluster-ping example joined as `name`.
fn cluster_ping(nats: &Nats, name: &str, args: &[&str]) -> VmNode {
    VmNode::start_module(nats, name, &vm_tests::rust_guest("cluster-ping"), args)
}

#[test]
fn the_cluster_ping_example_plays_across_nodes_and_sees_its_server_go() {
    let nats = Nats::start();
    let mut server = cluster_ping(&nats, "a", &[]);
    let line = server.line();
    let id = line
        .strip_prefix("serving pings as process ")
        .expect("the server says its id")
        .to_owned();
    let (out, ok) = cluster_ping(&nats, "b", &[&id, "200"]).finish();
    assert_eq!(out.len(), 1, "{out:?}");
    assert!(
        out[0].starts_with(&format!("200 round trips with process {id}: ")),
        "{out:?}"
    );
    assert!(ok);
    // However far a long game got, the server's node going away ends it
    // with the monitor's word, not a wait forever.
    let client = cluster_ping(&nats, "c", &[&id, "100000000"]);
    server.child.kill().unwrap();
    let (out, ok) = client.finish();
    assert_eq!(out.len(), 1, "{out:?}");
    assert!(
        out[0].starts_with("the server is gone after ") && out[0].ends_with(": NoConnection"),
        "{out:?}"
    );
    assert!(!ok);
}

/// A node of the cluster-chat example keeping `rooms`, and the address it
/// listens on.
fn chat_node(nats: &Nats, name: &str, rooms: &[&str]) -> (VmNode, String) {
    let flags = ["--allow-net", "127.0.0.1"];
    let args: Vec<&str> = std::iter::once("127.0.0.1:0")
        .chain(rooms.iter().copied())
        .collect();
    let module = vm_tests::rust_guest("cluster-chat");
    let mut node = VmNode::start_with(nats, name, &flags, &module, &args);
    for room in rooms {
        assert_eq!(node.line(), format!("room {room} lives here"));
    }
    let line = node.line();
    let address = line.strip_prefix("listening on ").expect(&line).to_owned();
    (node, address)
}

/// A chat client: a real TCP connection, named by its first line.
struct ChatClient {
    write: std::net::TcpStream,
    read: std::io::BufReader<std::net::TcpStream>,
}

impl ChatClient {
    fn join(address: &str, name: &str) -> ChatClient {
        let write = std::net::TcpStream::connect(address).unwrap();
        // A line that never comes fails the test instead of hanging it.
        write
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let read = std::io::BufReader::new(write.try_clone().unwrap());
        let mut client = ChatClient { write, read };
        client.say(name);
        client
    }

    fn say(&mut self, line: &str) {
        use std::io::Write;
        self.write
            .write_all(format!("{line}\n").as_bytes())
            .unwrap();
    }

    /// The next line, or `None` once the connection is closed.
    fn next(&mut self) -> Option<String> {
        use std::io::BufRead;
        let mut line = String::new();
        let n = self.read.read_line(&mut line).expect("a line within 30 s");
        (n > 0).then(|| line.trim_end().to_owned())
    }

    fn expect(&mut self, line: &str) {
        assert_eq!(self.next().as_deref(), Some(line));
    }
}

#[test]
fn the_cluster_chat_example_serves_rooms_on_two_nodes_and_survives_one() {
    let nats = Nats::start();
    let (_a, on_a) = chat_node(&nats, "a", &["lobby"]);
    let (mut b, on_b) = chat_node(&nats, "b", &["dev"]);
    let mut alice = ChatClient::join(&on_a, "alice");
    let mut bob = ChatClient::join(&on_b, "bob");
    let mut carol = ChatClient::join(&on_a, "carol");
    alice.say("hello?");
    alice.expect("* join a room first: /join NAME");
    alice.say("/join kitchen");
    alice.expect("* there is no room kitchen");
    // A room on the other node, found by its global name.
    alice.say("/join dev");
    alice.expect("* joined dev on node b, 1 here");
    bob.say("/join dev");
    bob.expect("* joined dev on node b, 2 here");
    alice.expect("* bob joined dev");
    bob.say("/join lobby");
    alice.expect("* bob left dev");
    bob.expect("* joined lobby on node a, 1 here");
    carol.say("/join lobby");
    carol.expect("* joined lobby on node a, 2 here");
    bob.expect("* carol joined lobby");
    // Lines cross nodes in the order said, both ways.
    for i in 0..50 {
        carol.say(&format!("c{i}"));
        bob.say(&format!("b{i}"));
    }
    for i in 0..50 {
        bob.expect(&format!("[lobby] carol: c{i}"));
        carol.expect(&format!("[lobby] bob: b{i}"));
    }
    // Node b dies: the room there is gone for alice (on a), bob's session
    // there is gone from the lobby (on a), and bob's connection closes.
    b.child.kill().unwrap();
    alice.expect("* room dev is gone: NoConnection");
    carol.expect("* bob is gone from lobby: NoConnection");
    assert_eq!(bob.next(), None);
    // Its room's name went with it; node a goes on.
    alice.say("/join dev");
    alice.expect("* there is no room dev");
    alice.say("/join lobby");
    alice.expect("* joined lobby on node a, 2 here");
    carol.expect("* alice joined lobby");
    carol.say("still here");
    alice.expect("[lobby] carol: still here");
}

/// The sockets an OS process holds open.
fn sockets_of(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter(|target| target.to_string_lossy().starts_with("socket:"))
        .count()
}

#[test]
fn without_cluster_the_vm_opens_no_socket_and_with_it_one_connection() {
    use std::process::{Command, Stdio};
    // The example serves, waiting forever, once it printed its id: by then
    // the VM has built (and joined, if asked).
    let mut alone = Command::new(vm_tests::vm_command())
        .args(["run", "--no-config"])
        .arg(vm_tests::rust_guest("cluster-ping"))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(alone.stdout.take().unwrap()));
    assert_eq!(lines.next().unwrap().unwrap(), "serving pings as process 1");
    let sockets = sockets_of(alone.id());
    alone.kill().unwrap();
    alone.wait().unwrap();
    assert_eq!(sockets, 0);
    let nats = Nats::start();
    let mut joined = cluster_ping(&nats, "a", &[]);
    assert!(joined.line().starts_with("serving pings as process "));
    assert_eq!(sockets_of(joined.child.id()), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nats_restart_declares_no_node_down_within_the_grace() {
    let mut nats = Nats::start();
    let (a, ca) = node(&nats, "a");
    let (b, cb) = node(&nats, "b");
    let e = echo(&b);
    let mut seen = watcher(&a, e).await;
    let before = (ca.connections(), cb.connections());
    nats.restart();
    // Both reconnect by themselves, as their NATS clients report.
    let reconnected = async {
        ca.connected_more_than(before.0).await;
        cb.connected_more_than(before.1).await;
    };
    tokio::time::timeout(PATIENCE, reconnected)
        .await
        .expect("both nodes reconnected");
    // And their subscriptions are back on the server: a frame sent
    // before then is lost, which is a verdict (a gap), not silence.
    let flushed = async { ca.flush().await && cb.flush().await };
    assert!(tokio::time::timeout(PATIENCE, flushed)
        .await
        .unwrap_or(false));
    // Both sessions still stand: a round trip crosses them both (a
    // verdict on either side would drop it, and the patience runs out).
    let back = ask(&a, move |mut me, tx| async move {
        me.send(e, 4, b"still there?").unwrap();
        let m = next(&mut me).await;
        let _ = tx.send((m.sender, m.data.to_vec()));
        ExitReason::Normal
    })
    .await;
    assert_eq!(back, (e, b"still there?".to_vec()));
    assert!(seen.try_recv().is_err(), "the watcher heard of no end");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_holds_under_load_between_every_pair() {
    const SENDERS: u32 = 8;
    const RECEIVERS: u32 = 4;
    const EACH: u32 = 1000;
    let nats = Nats::start();
    let (a, _ca) = node(&nats, "a");
    let (b, _cb) = node(&nats, "b");
    // Each receiver on b counts, per sender, that its numbers come in
    // order, and reports once it has all of them.
    let (report_tx, mut reports) = tokio::sync::mpsc::unbounded_channel();
    let receivers: Vec<u64> = (0..RECEIVERS)
        .map(|_| {
            let report = report_tx.clone();
            b.spawn_actor(move |mut me| async move {
                let mut expected = std::collections::HashMap::<u64, u32>::new();
                let mut out_of_order = 0;
                for _ in 0..SENDERS * EACH {
                    let m = next(&mut me).await;
                    let n = u32::from_le_bytes(m.data[..].try_into().unwrap());
                    let want = expected.entry(m.sender).or_insert(0);
                    out_of_order += u32::from(n != *want);
                    *want = n + 1;
                }
                let _ = report.send((expected.len(), out_of_order));
                ExitReason::Normal
            })
            .unwrap()
        })
        .collect();
    // Senders on a, all at once, each to every receiver in turn.
    for _ in 0..SENDERS {
        let receivers = receivers.clone();
        a.spawn_actor(move |me| async move {
            for n in 0..EACH {
                for &r in &receivers {
                    me.send(r, 0, &n.to_le_bytes()).unwrap();
                }
                if n % 64 == 0 {
                    tokio::task::yield_now().await;
                }
            }
            ExitReason::Normal
        })
        .unwrap();
    }
    for _ in 0..RECEIVERS {
        let report = tokio::time::timeout(PATIENCE, reports.recv())
            .await
            .expect("every receiver got all its messages")
            .unwrap();
        assert_eq!(report, (SENDERS as usize, 0));
    }
}
