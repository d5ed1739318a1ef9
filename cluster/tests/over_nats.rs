//! Kernels joined over a real NATS server (Debian's `nats-server`, which
//! `cargo xtask setup` installs), each test starting its own on loopback
//! with a port the server picks, and stopping it.

use std::convert::Infallible;
use std::future::Future;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;
use vm_abi::MessageKind;
use vm_cluster::{Cluster, Config};
use vm_kernel::actor::Actor;
use vm_kernel::remote::node_of;
use vm_kernel::{ExitReason, Filter, Kernel, Limits, Message};

type K = Kernel<Infallible>;

/// Longer than any verdict here can take: a receive that waits this long
/// has failed.
const PATIENCE: Duration = Duration::from_secs(30);

/// A NATS server with JetStream on 127.0.0.1, stopped when dropped.
struct Nats {
    child: Child,
    store: std::path::PathBuf,
    url: String,
}

impl Nats {
    fn start() -> Nats {
        let store = std::env::temp_dir().join(format!(
            "vm-cluster-test-{}-{}",
            std::process::id(),
            rand_suffix()
        ));
        std::fs::create_dir_all(&store).unwrap();
        let server = ["/usr/sbin/nats-server", "nats-server"]
            .into_iter()
            .find(|p| Command::new(p).arg("--version").output().is_ok())
            .expect("nats-server is installed (cargo xtask setup installs it)");
        let mut child = Command::new(server)
            .args(["-a", "127.0.0.1", "-p", "-1", "-js", "-sd"])
            .arg(&store)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // It says where it listens, then that it is ready.
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let mut url = None;
        for line in lines.by_ref() {
            let line = line.unwrap();
            if let Some(at) = line.split("Listening for client connections on ").nth(1) {
                url = Some(format!("nats://{}", at.trim()));
            }
            if line.contains("Server is ready") {
                break;
            }
        }
        // Keep reading, so the server never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Nats {
            child,
            store,
            url: url.expect("nats-server said where it listens"),
        }
    }

    fn config(&self, name: &str) -> Config {
        let mut c = Config::new(self.url.clone(), name);
        c.heartbeat = Duration::from_millis(100);
        c
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.store);
    }
}

fn rand_suffix() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(0);
    h.finish()
}

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
/// gets "crash".
fn echo(k: &Arc<K>) -> u64 {
    k.spawn_actor(|mut me| async move {
        loop {
            let m = me.receive(&Filter::any(), None).await.unwrap();
            if &m.data[..] == b"crash" {
                return ExitReason::Trap("asked to".into());
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
    assert_eq!((m.sender, &m.data[..]), (remote, &b"ping"[..]));
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
async fn a_crash_over_the_wire_fires_links_and_monitors() {
    let nats = Nats::start();
    let (a, _ca) = node(&nats, "a");
    let (b, _cb) = node(&nats, "b");
    let crasher = echo(&b);
    let seen = watcher(&a, crasher).await;
    let kill = ask(&a, move |me, tx| async move {
        me.send(crasher, 1, b"crash").unwrap();
        let _ = tx.send(());
        ExitReason::Normal
    });
    kill.await;
    let trap = ExitReason::Trap("asked to".into());
    assert_eq!(
        seen.await.unwrap(),
        vec![
            (MessageKind::Exit, crasher, trap.clone()),
            (MessageKind::Down, crasher, trap),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_halts_is_declared_down_by_its_silence() {
    let nats = Nats::start();
    let (a, _ca) = node(&nats, "a");
    let (b, cb) = node(&nats, "b");
    let survivor = echo(&b);
    let seen = watcher(&a, survivor).await;
    // Node b stops without a word, as a crashed node does.
    cb.halt();
    assert_eq!(
        seen.await.unwrap(),
        vec![
            (MessageKind::Exit, survivor, ExitReason::NoConnection),
            (MessageKind::Down, survivor, ExitReason::NoConnection),
        ]
    );
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
async fn a_node_that_leaves_is_down_at_once_and_its_old_ids_are_noproc() {
    let nats = Nats::start();
    let (a, _ca) = node(&nats, "a");
    // A long bound: only the goodbye can explain a quick verdict.
    let b = kernel();
    let mut config = nats.config("b");
    config.heartbeat = Duration::from_secs(60);
    let cb = Cluster::join(&b, config).unwrap();
    let gone = echo(&b);
    let seen = watcher(&a, gone).await;
    cb.leave();
    assert_eq!(
        seen.await.unwrap(),
        vec![
            (MessageKind::Exit, gone, ExitReason::NoConnection),
            (MessageKind::Down, gone, ExitReason::NoConnection),
        ]
    );
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_and_forgeries_on_the_wire_are_refused_and_the_node_goes_on() {
    use vm_cluster::wire::{encode, Frame, WireSignal};
    let nats = Nats::start();
    let (a, ca) = node(&nats, "a");
    let (b, _cb) = node(&nats, "b");
    let e = echo(&b);
    let target = a.spawn_actor(|mut me| async move {
        loop {
            let m = me.receive(&Filter::any(), None).await.unwrap();
            if m.sender != me.id() {
                me.send(m.sender, 0, b"got one").unwrap();
            }
        }
    });
    let target = target.unwrap();
    let client = async_nats::connect(&nats.url).await.unwrap();
    let subject = format!("vm.node.{}", ca.slot());
    let forged = |node: u16, from: u64| Frame::Signal {
        node,
        session: 0,
        seq: 0,
        signal: WireSignal::Kill { from, to: target },
    };
    let evil: Vec<Vec<u8>> = vec![
        vec![],
        vec![0xff; 64],
        vec![
            1, 2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
        ],
        // From a node that sends as another node's process.
        encode(&forged(999, e)),
        // A signal from this node to itself.
        encode(&forged(ca.slot(), target)),
        // An init message, which never crosses.
        encode(&Frame::Signal {
            node: 998,
            session: 0,
            seq: 0,
            signal: WireSignal::Message {
                from: 998 << 48 | 1,
                to: target,
                kind: MessageKind::Init as u8,
                tag: 0,
                data: vec![],
            },
        }),
    ];
    for bytes in evil {
        client.publish(subject.clone(), bytes.into()).await.unwrap();
    }
    client.flush().await.unwrap();
    // Still alive and answering, across the wire, after all of it: the
    // garbage went first on the same connection to the same subject.
    let answer = ask(&b, move |mut me, tx| async move {
        me.send(target, 5, b"hello").unwrap();
        let m = next(&mut me).await;
        let _ = tx.send((m.sender, m.data.to_vec()));
        ExitReason::Normal
    })
    .await;
    assert_eq!(answer, (target, b"got one".to_vec()));
    assert!(a.get(target).is_some());
}
