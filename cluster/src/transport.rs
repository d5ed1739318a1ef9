//! The node's thread: its NATS connection, and the three tasks that use
//! it. The outbox publishes signals in the order they were posted (one
//! task, one connection: NATS keeps a publisher's order); the inbox acts
//! on frames for this node and on heartbeats; the heartbeat says this node
//! is alive and gives the verdicts on silent ones.

use crate::peers::{Action, Peers, Unreachable};
use crate::wire::{self, Frame};
use crate::{Cluster, Config, JoinError};
use futures_util::StreamExt;
use std::sync::{Arc, Mutex, Weak};
use std::time::Instant;
use tokio::sync::mpsc;
use vm_abi::MessageKind;
use vm_kernel::global::{GlobalFuture, GlobalRequest};
use vm_kernel::remote::{node_of, Remote, RemoteSpawn, Signal, SpawnFuture, SpawnRefused};
use vm_kernel::sync::lock;
use vm_kernel::{Attachment, Budget, Charge, ExitReason, Kernel, Refusal};

/// What the outbox publishes, in order.
enum Out {
    /// A signal posted for `node`, stamped with its session then.
    Signal {
        node: u16,
        stamp: Result<u64, Unreachable>,
        signal: Signal,
        /// What it holds of the VM's bound until it is published.
        _charge: Charge,
    },
    /// A frame for `node`.
    Frame { node: u16, frame: Frame },
    /// How many signals went to each node that is up, counted as this
    /// reaches the front (so behind every signal before it).
    Counts,
    /// The node leaves: what came before is published, nothing after.
    Stop,
    /// Wait for this (a global name's release) before publishing what
    /// comes after: the holder's exit signals and downs, so that no one
    /// hears of its end while the store still names it.
    Wait(tokio::sync::oneshot::Receiver<Result<vm_kernel::global::GlobalReply, String>>),
}

/// The kernel's way to other nodes.
struct Outbox<R> {
    kernel: Weak<Kernel<R>>,
    out: mpsc::UnboundedSender<Out>,
    peers: Arc<Mutex<Peers>>,
    budget: Arc<Budget>,
    /// The largest signal one NATS message carries, with its frame.
    max_signal: usize,
    /// Requests to the store of global names, answered in order.
    globals: mpsc::UnboundedSender<crate::globals::Ask>,
    /// Asks to other nodes to start processes.
    spawns: mpsc::UnboundedSender<crate::spawns::Ask>,
}

/// What a frame adds to its signal at most: tags, slots, session and
/// sequence numbers, process ids and a tag, each a varint of 10 bytes at
/// most, and a length.
const FRAME_OVERHEAD: usize = 128;

/// How long the publisher waits for a global name's release before it
/// publishes the holder's exit signals anyway.
const RELEASE_WITHIN: std::time::Duration = std::time::Duration::from_secs(5);

impl<R: Attachment> Remote for Outbox<R> {
    fn post(&self, node: u16, signal: Signal, guest: bool) -> Result<(), Refusal> {
        let size = signal.cost() - std::mem::size_of::<Signal>() + FRAME_OVERHEAD;
        if size > self.max_signal {
            // Only a process's message can be this large (a reason is
            // capped at 1 KiB): refused to it, or, for one the VM sends
            // later (a timer's), dropped with a word in the log.
            if !guest {
                tracing::warn!(
                    "a message of {size} bytes for node {node} is over NATS's limit of {} bytes: dropped",
                    self.max_signal
                );
            }
            return Err(Refusal::Wire {
                size,
                limit: self.max_signal,
            });
        }
        let charge = if guest {
            self.budget.charge(signal.cost())?
        } else {
            self.budget.charge_anyway(signal.cost())
        };
        let stamp = lock(&self.peers).stamp(node, Instant::now());
        let sent = self.out.send(Out::Signal {
            node,
            stamp,
            signal,
            _charge: charge,
        });
        // Closed once the node has left the cluster (or its thread ended):
        // every other node is unreachable from here on.
        if let Err(mpsc::error::SendError(Out::Signal { signal, .. })) = sent {
            if let Some(kernel) = self.kernel.upgrade() {
                unreachable(&kernel, node, &signal, Unreachable::Down);
            }
        }
        Ok(())
    }

    fn is_up(&self, node: u16) -> bool {
        lock(&self.peers).is_up(node)
    }

    fn nodes(&self) -> Vec<(u16, String)> {
        lock(&self.peers).up()
    }

    fn spawn(&self, node: u16, request: RemoteSpawn) -> SpawnFuture {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let sent = self.spawns.send((node, request, tx)).is_ok();
        Box::pin(async move {
            let gone = || SpawnRefused {
                code: vm_abi::ErrorCode::Unreachable,
                text: "this node has left the cluster".into(),
            };
            if !sent {
                return Err(gone());
            }
            rx.await.map_err(|_| gone())?
        })
    }

    fn global(&self, request: GlobalRequest) -> GlobalFuture {
        let (tx, rx) = tokio::sync::oneshot::channel();
        if let GlobalRequest::Release { .. } = request {
            // The holder's end is posted next: published once the name is
            // free (the answer goes to the publisher, not the caller).
            let sent = self.globals.send((request, tx)).is_ok();
            if sent {
                let _ = self.out.send(Out::Wait(rx));
            }
            return Box::pin(std::future::ready(Ok(vm_kernel::global::GlobalReply::Done)));
        }
        let sent = self.globals.send((request, tx)).is_ok();
        Box::pin(async move {
            let gone = || "this node has left the cluster".to_string();
            if !sent {
                return Err(gone());
            }
            rx.await.map_err(|_| gone())?
        })
    }
}

/// The subjects a cluster uses. Each names the node that publishes on
/// it, so NATS permissions can keep a node to its own (its frames carry
/// its slot, checked against the slot's claim: [`crate::bindings`]).
#[derive(Clone)]
pub(crate) struct Subjects {
    pub prefix: String,
}

impl Subjects {
    /// Where `from` sends frames to node `to_name`, slot `to`.
    fn node(&self, to_name: &str, to: u16, from: &str) -> String {
        format!("{}.node.{to_name}.{to}.{from}", self.prefix)
    }

    /// What node `name`, slot `slot` hears: frames to it, from any node.
    fn to_node(&self, name: &str, slot: u16) -> String {
        format!("{}.node.{name}.{slot}.*", self.prefix)
    }

    /// Where node `name` says it is alive, to every node.
    fn heartbeat(&self, name: &str) -> String {
        format!("{}.heartbeat.{name}", self.prefix)
    }

    /// Where node `name`, slot `slot` answers "are you there": a request
    /// there that NATS answers "no responders" means its connection is
    /// gone.
    fn probe(&self, name: &str, slot: u16) -> String {
        format!("{}.probe.{name}.{slot}", self.prefix)
    }

    /// Every node's heartbeats.
    fn heartbeats(&self) -> String {
        format!("{}.heartbeat.*", self.prefix)
    }

    /// Where `from` asks node `to_name`, slot `to` to start a process.
    pub fn spawn(&self, to_name: &str, to: u16, from: &str) -> String {
        format!("{}.spawn.{to_name}.{to}.{from}", self.prefix)
    }

    /// The asks node `name`, slot `slot` hears.
    fn spawns(&self, name: &str, slot: u16) -> String {
        format!("{}.spawn.{name}.{slot}.*", self.prefix)
    }

    /// The node that published on `subject` (its last token).
    pub fn sender(subject: &str) -> &str {
        subject.rsplit('.').next().unwrap_or_default()
    }

    fn bucket(&self) -> String {
        format!("{}_nodes", self.prefix)
    }

    /// The bucket of global names.
    fn global_bucket(&self) -> String {
        format!("{}_global", self.prefix)
    }
}

/// Connects, takes a slot, attaches `kernel` and starts the node's tasks
/// on a thread of their own.
pub(crate) fn start<R: Attachment>(
    kernel: &Arc<Kernel<R>>,
    config: Config,
    spawner: Option<Arc<dyn crate::Spawner>>,
) -> Result<Cluster, JoinError> {
    if !crate::bindings::valid_name(&config.name) {
        return Err(JoinError::Name(config.name));
    }
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel();
    let weak = Arc::downgrade(kernel);
    let (counted, connections) = tokio::sync::watch::channel(0u64);
    let host = kernel.host().clone();
    let failed = ready_tx.clone();
    let thread = crate::connection::on_own_thread(
        format!("vm-cluster-{}", config.name),
        move |e| {
            let _ = failed.send(Err(e));
        },
        move || async move {
            let subjects = Subjects {
                prefix: config.prefix.clone(),
            };
            let mut reconnects = counted.subscribe();
            let (refusals, mut refused) = tokio::sync::watch::channel(None);
            let client = match connect(&config, counted, refusals, "frames").await {
                Ok(c) => c,
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            let joining = async {
                let bindings = crate::bindings::Bindings::open(&client, &config.prefix)
                    .await
                    .map(Arc::new)
                    .map_err(JoinError::Slot)?;
                let slot = take_slot(&client, &subjects, &bindings, &config.name)
                    .await
                    .map_err(JoinError::Slot)?;
                let subscribe = |subject: String| async {
                    let s = client.subscribe(subject).await;
                    s.map_err(|e| JoinError::Connect(e.to_string()))
                };
                let node = subscribe(subjects.to_node(&config.name, slot)).await?;
                let heartbeat = subscribe(subjects.heartbeats()).await?;
                let spawns = subscribe(subjects.spawns(&config.name, slot)).await?;
                let probes = subscribe(subjects.probe(&config.name, slot)).await?;
                client
                    .flush()
                    .await
                    .map_err(|e| JoinError::Connect(e.to_string()))?;
                let incoming = futures_util::stream::select(node, heartbeat);
                Ok((bindings, slot, incoming, spawns, probes))
            };
            // A user without a node's permissions finds out at once,
            // not when a request of the join times out.
            let joined = tokio::select! {
                joined = joining => joined,
                Ok(refusal) = refused.wait_for(Option::is_some) => {
                    Err(JoinError::Refused(refusal.clone().unwrap_or_default()))
                }
            };
            let (bindings, slot, incoming, spawn_asks, probes) = match joined {
                Ok(joined) => joined,
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            let peers = Arc::new(Mutex::new(Peers::new(slot, config.bound(), config.grace)));
            let (out_tx, out_rx) = mpsc::unbounded_channel();
            let (globals_tx, globals_rx) = mpsc::unbounded_channel();
            let (spawns_tx, spawns_rx) = mpsc::unbounded_channel();
            let outbox = Outbox {
                kernel: weak.clone(),
                out: out_tx.clone(),
                peers: peers.clone(),
                budget: Budget::new(config.max_queued, &host),
                max_signal: client.server_info().max_payload,
                globals: globals_tx,
                spawns: spawns_tx,
            };
            // Heard before the node's first process runs: a global name
            // it takes at once must not look like one of a node that
            // ended before the others joined.
            let hello = heartbeat(slot, &config);
            let _ = client
                .publish(subjects.heartbeat(&config.name), hello.into())
                .await;
            let _ = client.flush().await;
            if ready_tx
                .send(Ok((slot, peers.clone(), outbox, client.clone())))
                .is_err()
            {
                return;
            }
            let node = Arc::new(Node {
                slot,
                name: config.name.clone(),
                bindings: bindings.clone(),
                kernel: weak,
                peers,
                out: out_tx,
                client: client.clone(),
                subjects,
            });
            // A task of its own, so that leaving can let it finish
            // what was posted before (a process's last exit signals and
            // downs) rather than cut it off mid-message.
            let mut publisher = tokio::spawn({
                let node = node.clone();
                async move { node.publish(out_rx).await }
            });
            let names = tokio::spawn({
                let (kernel, peers) = (node.kernel.clone(), node.peers.clone());
                let alive = move |pid: u64| {
                    if node_of(pid) == slot {
                        kernel.upgrade().is_some_and(|k| k.get(pid).is_some())
                    } else {
                        lock(&peers).may_be_up(node_of(pid), Instant::now())
                    }
                };
                let bucket = node.subjects.global_bucket();
                crate::globals::serve(client.clone(), bucket, globals_rx, alive)
            });
            let spawning = tokio::spawn(crate::spawns::ask_others(
                client.clone(),
                node.subjects.clone(),
                config.name.clone(),
                bindings.clone(),
                node.peers.clone(),
                spawns_rx,
            ));
            let answering = tokio::spawn(crate::spawns::answer_others(
                client.clone(),
                Arc::new(config.clone()),
                spawn_asks,
                spawner,
                bindings,
            ));
            // A task of its own, stopped only after the goodbye: a node
            // still sending its last signals must not look gone.
            let probing = tokio::spawn(answer_probes(client.clone(), probes));
            let polite = tokio::select! {
                _ = node.receive(incoming) => false,
                _ = node.beat(&config, &mut reconnects) => false,
                polite = stop_rx => polite.unwrap_or(true),
            };
            // Whether the publisher's task has ended and been awaited
            // (a task's handle must not be awaited again after).
            let mut published = false;
            if polite {
                // The goodbye goes to each node on its own subject,
                // behind every signal sent to it before (a process's
                // last exit signals and downs), which it must not
                // overtake; bounded, so a node whose server is gone
                // leaves anyway.
                let known = lock(&node.peers).known();
                for peer in known {
                    let frame = Frame::Bye { node: slot };
                    let _ = node.out.send(Out::Frame { node: peer, frame });
                }
                let _ = node.out.send(Out::Stop);
                let goodbye = async {
                    let _ = (&mut publisher).await;
                    published = true;
                    let _ = client.flush().await;
                };
                let _ = tokio::time::timeout(config.bound(), goodbye).await;
            }
            // Gone before the sweep below, with its queue: from here on
            // a post finds the queue closed and is answered at once.
            if !published {
                publisher.abort();
                let _ = publisher.await;
            }
            // Asking the store stops: requests still waiting are
            // answered "left the cluster".
            names.abort();
            let _ = names.await;
            for task in [spawning, answering, probing] {
                task.abort();
                let _ = task.await;
            }
            // However the node's tasks ended, its links and monitors to
            // other nodes' processes fire: no one will answer them now.
            if let Some(kernel) = node.kernel.upgrade() {
                let known = lock(&node.peers).known();
                for peer in known {
                    kernel.node_down(peer);
                }
            }
        },
    )?;
    let (slot, peers, outbox, client) = match ready_rx.recv() {
        Ok(Ok(joined)) => joined,
        Ok(Err(e)) => {
            let _ = thread.join();
            return Err(e);
        }
        Err(_) => {
            let _ = thread.join();
            return Err(JoinError::Connect("the cluster's thread ended".into()));
        }
    };
    let mut cluster = Cluster {
        slot,
        client,
        connections,
        peers,
        stop: Some(stop_tx),
        thread: Some(thread),
    };
    if let Err(e) = kernel.attach(slot, Arc::new(outbox)) {
        cluster.stop(true);
        return Err(JoinError::Attach(e));
    }
    Ok(cluster)
}

/// Connects to NATS for `purpose`; `refusals` gets what the server
/// refused this node (a permissions violation).
pub(crate) async fn connect(
    config: &Config,
    connections: tokio::sync::watch::Sender<u64>,
    refusals: tokio::sync::watch::Sender<Option<String>>,
    purpose: &str,
) -> Result<async_nats::Client, JoinError> {
    let name = config.name.clone();
    let mut options = async_nats::ConnectOptions::new()
        .event_callback(move |event| {
            match &event {
                async_nats::Event::Connected => {
                    connections.send_modify(|n| *n += 1);
                }
                async_nats::Event::ServerError(e) if e.to_string().contains("Violation") => {
                    tracing::error!(
                        "node {name}: NATS refused it: {e} (a node's NATS user needs what `vm nats-permissions {name}` prints)"
                    );
                    refusals.send_replace(Some(e.to_string()));
                }
                async_nats::Event::Disconnected | async_nats::Event::SlowConsumer(_) => {
                    tracing::warn!("node {name}: NATS: {event}");
                }
                _ => {}
            }
            std::future::ready(())
        })
        .name(format!("vm node {} {purpose}", config.name))
        // Replies to this node come to inboxes only it may subscribe to
        // (`_INBOX_NAME.>` in its NATS permissions).
        .custom_inbox_prefix(format!("_INBOX_{}", config.name))
        .connection_timeout(config.bound().max(std::time::Duration::from_secs(2)))
        // Soon after the server is back, so that the nodes a restart cut
        // off reconnect within one another's grace.
        .reconnect_delay_callback(|attempts| {
            std::time::Duration::from_millis((attempts as u64 * 50).min(1000))
        });
    if config.url.starts_with("tls://") {
        options = options.require_tls(true);
    }
    if let Some(ca) = &config.tls_ca {
        options = options.require_tls(true).add_root_certificates(ca.clone());
    }
    if let Some((cert, key)) = &config.tls_client {
        options = options
            .require_tls(true)
            .add_client_certificate(cert.clone(), key.clone());
    }
    // A user and password (or a token) in the URL, as NATS's own tools
    // take them.
    let address: async_nats::ServerAddr = config
        .url
        .parse()
        .map_err(|e| JoinError::Connect(format!("{}: {e}", shown(&config.url))))?;
    match (address.username(), address.password()) {
        (Some(user), Some(password)) => {
            options = options.user_and_password(user.into(), password.into())
        }
        (Some(token), None) => options = options.token(token.into()),
        _ => {}
    }
    if let Some(path) = &config.credentials {
        options = options.credentials_file(path).await.map_err(|e| {
            JoinError::Connect(format!("cannot read credentials {}: {e}", path.display()))
        })?;
    }
    options
        .connect(address)
        .await
        .map_err(|e| JoinError::Connect(format!("{}: {e}", shown(&config.url))))
}

/// `url` without the user and password it may hold, to be printed.
fn shown(url: &str) -> String {
    match (url.split_once("://"), url.rsplit_once('@')) {
        (Some((scheme, _)), Some((_, host))) => format!("{scheme}://{host}"),
        (None, Some((_, host))) => host.to_owned(),
        _ => url.to_owned(),
    }
}

/// A slot no node of the cluster has had: the next value of the bucket's
/// counter, taken with compare-and-set (1 to 65,535, then round again),
/// and claimed for `name` (a slot claimed already is passed over).
async fn take_slot(
    client: &async_nats::Client,
    subjects: &Subjects,
    bindings: &crate::bindings::Bindings,
    name: &str,
) -> Result<u16, String> {
    use async_nats::jetstream::kv;
    let js = async_nats::jetstream::new(client.clone());
    let bucket = js
        .create_key_value(kv::Config {
            bucket: subjects.bucket(),
            history: 1,
            ..Default::default()
        })
        .await
        .map_err(|e| crate::streams::not_created(&format!("KV_{}", subjects.bucket()), e))?;
    let counter = subjects.bucket();
    let stored = [format!("$KV.{counter}.>")];
    crate::streams::check(&js, &format!("KV_{counter}"), &stored).await?;
    for _ in 0..1000 {
        let current = bucket.entry("slot").await.map_err(|e| e.to_string())?;
        let (last, revision) = match &current {
            Some(e) if e.operation == kv::Operation::Put => (
                std::str::from_utf8(&e.value)
                    .ok()
                    .and_then(|s| s.parse::<u16>().ok())
                    .ok_or("the bucket's slot counter is not a number")?,
                Some(e.revision),
            ),
            _ => (0, None),
        };
        let next = last.checked_add(1).unwrap_or(1);
        let value = next.to_string().into_bytes().into();
        let taken = match revision {
            Some(r) => bucket.update("slot", value, r).await.is_ok(),
            None => bucket.create("slot", value).await.is_ok(),
        };
        if taken && bindings.claim(next, name).await? {
            return Ok(next);
        }
    }
    Err("no free slot after 1000 tries: the slot counter kept changing under this node, or the slots it gave were claimed".into())
}

/// What the node's tasks share.
struct Node<R> {
    slot: u16,
    /// This node's name, in the subjects it publishes on.
    name: String,
    /// Which node holds which slot.
    bindings: Arc<crate::bindings::Bindings>,
    kernel: Weak<Kernel<R>>,
    peers: Arc<Mutex<Peers>>,
    out: mpsc::UnboundedSender<Out>,
    client: async_nats::Client,
    subjects: Subjects,
}

impl<R: Attachment> Node<R> {
    /// Publishes what was posted, in order.
    async fn publish(&self, mut out: mpsc::UnboundedReceiver<Out>) {
        let max = self.client.server_info().max_payload;
        while let Some(o) = out.recv().await {
            let mut held = None;
            let (node, frame) = match o {
                Out::Stop => return,
                Out::Wait(done) => {
                    // Bounded: a store that does not answer holds up no one
                    // for long.
                    let _ = tokio::time::timeout(RELEASE_WITHIN, done).await;
                    continue;
                }
                Out::Frame { node, frame } => (node, frame),
                Out::Counts => {
                    let counts = lock(&self.peers).counts();
                    for (node, session, count) in counts {
                        let frame = Frame::Sent {
                            node: self.slot,
                            session,
                            count,
                        };
                        self.send(node, wire::encode(&frame)).await;
                    }
                    continue;
                }
                Out::Signal {
                    node,
                    stamp,
                    signal,
                    _charge: charge,
                } => {
                    // Held until it is published below.
                    held = Some(charge);
                    let seq = stamp.and_then(|session| {
                        lock(&self.peers)
                            .sequence(node, session)
                            .map(|seq| (session, seq))
                    });
                    match seq {
                        Ok((session, seq)) => (
                            node,
                            Frame::Signal {
                                node: self.slot,
                                session,
                                seq,
                                signal: signal.into(),
                            },
                        ),
                        Err(why) => {
                            if let Some(kernel) = self.kernel.upgrade() {
                                unreachable(&kernel, node, &signal, why);
                            }
                            continue;
                        }
                    }
                }
            };
            let bytes = wire::encode(&frame);
            if bytes.len() > max {
                tracing::warn!(
                    "a signal of {} bytes for node {node} is over NATS's limit of {max} bytes: dropped",
                    bytes.len()
                );
                continue;
            }
            self.send(node, bytes).await;
            drop(held);
        }
    }

    /// Publishes `bytes` to `node`, on the subject of the name that holds
    /// its slot. A slot no one holds (or whose claim cannot be read now)
    /// has no one to hear it: the frame is lost, as on a subject no one
    /// listens to, and the loss is found as any other.
    async fn send(&self, node: u16, bytes: Vec<u8>) {
        let name = match self.bindings.name_of(node).await {
            Ok(Some(name)) if !name.is_empty() => name,
            Ok(_) => return,
            Err(e) => {
                tracing::warn!("a frame for node {node} is lost: {e}");
                return;
            }
        };
        // An error means the connection is closed for good: the node is
        // leaving.
        let _ = self
            .client
            .publish(self.subjects.node(&name, node, &self.name), bytes.into())
            .await;
    }

    /// Acts on frames for this node and on heartbeats.
    async fn receive(
        &self,
        mut incoming: impl futures_util::Stream<Item = async_nats::Message> + Unpin,
    ) {
        while let Some(m) = incoming.next().await {
            // A node publishes frames bare: one with a reply subject or
            // headers was delivered by a JetStream consumer or republished
            // by a stream, which could have been fed by anyone.
            if m.reply.is_some() || m.headers.is_some() {
                tracing::warn!("refused from {}: a frame a node did not publish", m.subject);
                continue;
            }
            let frame = match wire::decode(&m.payload) {
                Ok(f) => f,
                Err(e) => {
                    tracing::warn!("refused from {}: {e}", m.subject);
                    continue;
                }
            };
            if let Err(why) = self.check_sender(&m.subject, &frame).await {
                tracing::warn!("refused from {}: {why}", m.subject);
                continue;
            }
            let now = Instant::now();
            let stood_still = lock(&self.peers).running(now);
            if !stood_still.is_empty() {
                self.apply(stood_still);
                lock(&self.peers).alive(Instant::now());
            }
            let actions = match frame {
                Frame::Heartbeat {
                    node,
                    name,
                    plugins,
                } => {
                    let mut peers = lock(&self.peers);
                    let actions = peers.heartbeat(node, &name, now);
                    peers.announce(node, plugins);
                    actions
                }
                Frame::Bye { node } if node != self.slot => lock(&self.peers).bye(node, now),
                Frame::Bye { .. } => Vec::new(),
                Frame::Disconnect { node, session } => {
                    lock(&self.peers).disconnect(node, session, now)
                }
                Frame::Sent {
                    node,
                    session,
                    count,
                } => lock(&self.peers).sent(node, session, count, now),
                Frame::Signal {
                    node,
                    session,
                    seq,
                    signal,
                } => {
                    let (act, actions) = lock(&self.peers).signal(node, session, seq, now);
                    // Verdicts first: a signal of a new session comes
                    // after the old one's links fired.
                    self.apply(actions);
                    if act {
                        self.arrive(node, signal);
                    }
                    continue;
                }
            };
            self.apply(actions);
        }
    }

    /// Whether `frame` is from the node its subject names: the slot it
    /// says it is from must be that name's (and a heartbeat must give
    /// that name).
    async fn check_sender(&self, subject: &str, frame: &Frame) -> Result<(), String> {
        let sender = Subjects::sender(subject);
        if let Frame::Heartbeat { name, .. } = frame {
            if name != sender {
                return Err(format!("a heartbeat that names node `{name}`"));
            }
        }
        let slot = frame.node();
        match self.bindings.name_of(slot).await? {
            Some(holder) if holder == sender => Ok(()),
            Some(holder) => Err(format!(
                "a frame from slot {slot}, which node `{holder}` holds"
            )),
            None => Err(format!("a frame from slot {slot}, which no node holds")),
        }
    }

    fn arrive(&self, node: u16, signal: wire::WireSignal) {
        let Some(kernel) = self.kernel.upgrade() else {
            return;
        };
        let result = Signal::try_from(signal)
            .and_then(|s| kernel.arrive(node, s).map_err(|e| e.to_string()));
        if let Err(e) = result {
            tracing::warn!("refused a signal from node {node}: {e}");
        }
    }

    fn apply(&self, actions: Vec<Action>) {
        for action in actions {
            match action {
                Action::NodeDown(node) => {
                    if let Some(kernel) = self.kernel.upgrade() {
                        kernel.node_down(node);
                    }
                }
                Action::Disconnect { node, session } => {
                    let frame = Frame::Disconnect {
                        node: self.slot,
                        session,
                    };
                    let _ = self.out.send(Out::Frame { node, frame });
                }
            }
        }
    }

    /// Says this node is alive, each interval, and gives the verdicts on
    /// silent nodes.
    async fn beat(&self, config: &Config, reconnects: &mut tokio::sync::watch::Receiver<u64>) {
        let heartbeat = heartbeat(self.slot, config);
        let beats = async {
            let mut ticks = tokio::time::interval(config.heartbeat);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                // Bounded: while NATS is away the client's queue fills, and
                // a heartbeat nobody can hear is not worth waiting for.
                let publish = self.client.publish(
                    self.subjects.heartbeat(&self.name),
                    heartbeat.clone().into(),
                );
                let _ = tokio::time::timeout(config.heartbeat, publish).await;
                let _ = self.out.send(Out::Counts);
                let actions = lock(&self.peers).check(Instant::now());
                self.apply(actions);
            }
        };
        // A node silent for a beat is asked whether it is there: if NATS
        // has no one listening for it, its connection is gone (a process
        // killed closes its socket, and the server drops its subscriptions
        // at once), and the verdict need not wait for the bound. On a
        // timer of its own: a node that does not answer (stopped, or far)
        // holds up no heartbeat.
        let probes = async {
            if !config.probes {
                return std::future::pending().await;
            }
            let mut ticks = tokio::time::interval(config.heartbeat);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut quiet_until = Instant::now();
            let mut connections = *reconnects.borrow_and_update();
            let connected =
                || self.client.connection_state() == async_nats::connection::State::Connected;
            loop {
                ticks.tick().await;
                let asked = Instant::now();
                // After this node reconnects, the others have the grace to
                // do so too (a server restarting cuts off every node):
                // until then, no one listening proves nothing.
                let now_connections = *reconnects.borrow_and_update();
                if now_connections != connections {
                    connections = now_connections;
                    if connections > 1 {
                        quiet_until = asked + config.grace;
                    }
                }
                if asked < quiet_until || !connected() {
                    continue;
                }
                let silent = lock(&self.peers).silent(asked, config.heartbeat);
                let reconnects = &*reconnects;
                // Each was heard, so its name is known here.
                let silent = silent
                    .into_iter()
                    .filter_map(|peer| Some((peer, self.bindings.known(peer)?)))
                    .filter(|(_, name)| !name.is_empty());
                let asks = silent.map(|(peer, name)| async move {
                    let probe = self
                        .client
                        .request(self.subjects.probe(&name, peer), Vec::new().into());
                    match tokio::time::timeout(config.heartbeat, probe).await {
                        // Asked and answered on one connection that is
                        // still up: a request held while this node was cut
                        // off goes out as it reconnects, perhaps before
                        // the other is back.
                        Ok(Err(e))
                            if e.kind() == async_nats::RequestErrorKind::NoResponders
                                && *reconnects.borrow() == connections
                                && connected() =>
                        {
                            let actions = lock(&self.peers).gone(peer, asked);
                            self.apply(actions);
                        }
                        _ => {}
                    }
                });
                futures_util::future::join_all(asks).await;
            }
        };
        // Whether this node stood still, on a timer of its own that waits
        // for nothing else (a heartbeat held up by NATS is no stall).
        let watch = async {
            let mut ticks = tokio::time::interval(config.heartbeat);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                let stood_still = lock(&self.peers).running(Instant::now());
                self.apply(stood_still);
                // Acting on it takes time too, which is no stall.
                lock(&self.peers).alive(Instant::now());
            }
        };
        tokio::join!(beats, watch, probes);
    }
}

/// Answers each "are you there" with an empty reply.
async fn answer_probes(client: async_nats::Client, mut probes: async_nats::Subscriber) {
    use futures_util::StreamExt;
    while let Some(probe) = probes.next().await {
        // Only to a requester's inbox (`_INBOX.` or a node's own
        // `_INBOX_NAME.`): a probe must not make this node publish where
        // its asker chose.
        if let Some(reply) = probe.reply.filter(|r| r.starts_with("_INBOX")) {
            let _ = client.publish(reply, Vec::new().into()).await;
        }
    }
}

/// Node `slot`'s heartbeat: its name and its plugins.
fn heartbeat(slot: u16, config: &Config) -> Vec<u8> {
    wire::encode(&Frame::Heartbeat {
        node: slot,
        name: config.name.clone(),
        plugins: config.plugins.clone(),
    })
}

/// Answers a signal that cannot reach `node` as the other side would
/// if it could: a link with an exit signal, a monitor with its `down`.
fn unreachable<R: Attachment>(kernel: &Kernel<R>, node: u16, signal: &Signal, why: Unreachable) {
    let reason = match why {
        Unreachable::Down => ExitReason::NoConnection,
        Unreachable::Left => ExitReason::NoProc,
    };
    let answer = match *signal {
        Signal::Link { from, to } => Signal::Exit {
            from: to,
            to: from,
            reason,
            linked: true,
        },
        Signal::Monitor {
            watcher,
            target,
            reference,
        } => Signal::Message {
            from: target,
            to: watcher,
            kind: MessageKind::Down,
            tag: reference,
            data: reason.encode(),
        },
        _ => return,
    };
    let _ = kernel.arrive(node, answer);
}
