//! Where another node attaches: process ids that name their node, the
//! [`Signal`]s that cross between nodes, and the kernel's side of them.
//!
//! A process id's top 16 bits are its node's slot ([`node_of`]); a kernel
//! on its own uses slot 0. [`Kernel::attach`] gives a kernel its slot and
//! the [`Remote`] that carries signals to other nodes (the cluster layer,
//! over NATS): from then on every operation on a process of another node
//! becomes a [`Signal`] posted to it, and [`Kernel::arrive`] acts on the
//! signals other nodes post here, with the same rules as local ones (the
//! receiver decides, see [`crate::links`]). [`Kernel::node_down`] is the
//! verdict that a node is gone: every link to a process there fires and
//! every monitor delivers its `down`, with reason `noconnection`.
//!
//! The order Erlang promises holds if the [`Remote`] keeps it: signals
//! between two processes arrive in the order they were posted.

use crate::budget::{Charge, Refusal};
use crate::global::{GlobalFuture, GlobalRequest};
use crate::links::{down, LinkError, LINK_COST};
use crate::message::{Attachment, Message};
use crate::signal::ExitReason;
use crate::sync::lock;
use crate::Kernel;
use std::fmt;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use vm_abi::MessageKind;

/// Where a node's slot starts in a process id.
pub const NODE_SHIFT: u32 = 48;

/// Where a node's slot starts in a reference (a monitor's, a timer's, a
/// fresh tag), below its top bit.
pub const REF_NODE_SHIFT: u32 = 47;

/// The node slot of process `pid` (0 on a kernel that joined no cluster).
pub fn node_of(pid: u64) -> u16 {
    (pid >> NODE_SHIFT) as u16
}

/// A message or signal from one process to a process on another node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signal {
    /// A message: data, or a monitor's `down`.
    Message {
        /// The sender.
        from: u64,
        /// The receiver.
        to: u64,
        /// Its kind.
        kind: MessageKind,
        /// Its tag (the monitor's reference for a `down`).
        tag: u64,
        /// Its bytes.
        data: Vec<u8>,
    },
    /// `from` linked itself to `to`.
    Link {
        /// The process that asked for the link.
        from: u64,
        /// The other side.
        to: u64,
    },
    /// `from` removed its link to `to`.
    Unlink {
        /// The process that unlinked.
        from: u64,
        /// The other side.
        to: u64,
    },
    /// An exit signal: `from` ended (over a link) or sent one (`send-exit`).
    Exit {
        /// The process it is from.
        from: u64,
        /// The process it is for.
        to: u64,
        /// Why.
        reason: ExitReason,
        /// Whether it comes over a link (and is dropped if the link is gone).
        linked: bool,
    },
    /// `from` kills `to` (`killed`, which cannot be trapped).
    Kill {
        /// The process that kills.
        from: u64,
        /// The process killed.
        to: u64,
    },
    /// `watcher` monitors `target` under `reference`.
    Monitor {
        /// The watching process.
        watcher: u64,
        /// The watched process.
        target: u64,
        /// The monitor's reference.
        reference: u64,
    },
    /// `watcher` removed its monitor `reference` on `target`.
    Demonitor {
        /// The watching process.
        watcher: u64,
        /// The watched process.
        target: u64,
        /// The monitor's reference.
        reference: u64,
    },
}

impl Signal {
    /// The process the signal is from.
    pub fn source(&self) -> u64 {
        match *self {
            Signal::Message { from, .. }
            | Signal::Link { from, .. }
            | Signal::Unlink { from, .. }
            | Signal::Exit { from, .. }
            | Signal::Kill { from, .. } => from,
            Signal::Monitor { watcher, .. } | Signal::Demonitor { watcher, .. } => watcher,
        }
    }

    /// The process the signal is for.
    pub fn destination(&self) -> u64 {
        match *self {
            Signal::Message { to, .. }
            | Signal::Link { to, .. }
            | Signal::Unlink { to, .. }
            | Signal::Exit { to, .. }
            | Signal::Kill { to, .. } => to,
            Signal::Monitor { target, .. } | Signal::Demonitor { target, .. } => target,
        }
    }

    /// What the signal costs whoever holds it on its way, in bytes.
    pub fn cost(&self) -> usize {
        let extra = match self {
            Signal::Message { data, .. } => data.len(),
            Signal::Exit { reason, .. } => reason.text().len(),
            _ => 0,
        };
        std::mem::size_of::<Signal>() + extra
    }
}

/// Carries signals to other nodes: the cluster layer.
pub trait Remote: Send + Sync + 'static {
    /// Posts `signal` to node `node`. Signals between two processes must
    /// arrive in the order they were posted, or not at all (and then the
    /// node is declared down on both sides). `guest`: a process's own
    /// message, which may be refused (holding it would take the VM past
    /// its bound, or it is too large to cross); the kernel's signals (exits,
    /// links, monitors, downs) are never refused, as they are not locally.
    fn post(&self, node: u16, signal: Signal, guest: bool) -> Result<(), Refusal>;

    /// Whether node `node` is up, as this node sees it now. A node monitor
    /// made while it says so fires at the next [`Kernel::node_down`] for
    /// `node`, so the remote must say "down" only once it has called (or
    /// is calling) that.
    fn is_up(&self, node: u16) -> bool;

    /// The other nodes that are up, by slot, with their names.
    fn nodes(&self) -> Vec<(u16, String)>;

    /// Asks the cluster's store of global names ([`crate::global`]).
    /// Requests are made in the order of the calls.
    fn global(&self, request: GlobalRequest) -> GlobalFuture;

    /// Asks node `node` to start a process (ABI 1.8 `node.spawn-on`).
    fn spawn(&self, node: u16, request: RemoteSpawn) -> SpawnFuture;
}

/// A process to start on another node: its module, by content, and how to
/// start it.
#[derive(Debug, Clone)]
pub struct RemoteSpawn {
    /// The module's bytes, as loaded (before any plugin's transform).
    pub module: Arc<[u8]>,
    /// Their SHA-256.
    pub digest: [u8; 32],
    /// The export to start at.
    pub entry: String,
    /// Its argument, if it takes one.
    pub arg: u32,
    /// The bytes of its first message (kind `init`).
    pub capture: Vec<u8>,
    /// The process that asks.
    pub spawner: u64,
    /// Whether to link the new process to the spawner before it runs.
    pub link: bool,
    /// The plugins the module imports from: a node that announces it
    /// lacks one is refused before the module is shipped.
    pub plugins: Vec<PluginNeed>,
}

/// A plugin a module imports from, as a node's announcement is checked
/// against it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginNeed {
    /// The plugin's name (`kv` in `plugin:kv/store@1`).
    pub name: String,
    /// The series it needs: its major version, and for major 0 its minor.
    pub series: (u32, u32),
    /// The newest version the module was built for, if it names one (for
    /// the text of a refusal: an older plugin of the series may still
    /// have every function the module calls, which the node checks as it
    /// loads the module).
    pub built_for: Option<(u32, u32, u32)>,
}

impl PluginNeed {
    /// Whether a plugin of this name at `version` is of the series the
    /// module needs.
    pub fn met_by(&self, name: &str, version: (u32, u32, u32)) -> bool {
        let (major, minor) = self.series;
        name == self.name && version.0 == major && (major != 0 || version.1 == minor)
    }
}

impl fmt::Display for PluginNeed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.built_for, self.series) {
            (Some((a, b, c)), _) => write!(f, "{}@{a}.{b}.{c}", self.name),
            (None, (0, minor)) => write!(f, "{}@0.{minor}", self.name),
            (None, (major, _)) => write!(f, "{}@{major}", self.name),
        }
    }
}

/// Why a process was not started: the ABI's code, and a text that says
/// why (naming the flag that would allow it, if one would).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpawnRefused {
    /// The error code the spawner's call fails with.
    pub code: vm_abi::ErrorCode,
    /// Why.
    pub text: String,
}

/// The answer to a [`RemoteSpawn`]: the new process's id.
pub type SpawnFuture =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<u64, SpawnRefused>> + Send>>;

/// Why [`Kernel::attach`] did nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttachError {
    /// The kernel is attached already.
    Attached,
    /// A process was started before: its id names no node.
    Started,
    /// Slot 0 is a kernel on its own.
    SlotZero,
}

impl fmt::Display for AttachError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AttachError::Attached => "the kernel is attached to a cluster already",
            AttachError::Started => {
                "a process was started before the kernel joined a cluster, and its id names no node"
            }
            AttachError::SlotZero => "node slot 0 is reserved for a kernel on its own",
        })
    }
}

impl std::error::Error for AttachError {}

/// Why [`Kernel::arrive`] refused a signal from another node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArrivalError {
    /// The kernel joined no cluster.
    Detached,
    /// The signal claims to come from a process of another node than the
    /// one that sent it.
    Forged {
        /// The node that sent it.
        node: u16,
        /// The process it claims to be from.
        source: u64,
    },
    /// The signal is for a process of another node than this one.
    NotHere {
        /// The process it is for.
        destination: u64,
    },
}

impl fmt::Display for ArrivalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ArrivalError::Detached => f.write_str("this kernel joined no cluster"),
            ArrivalError::Forged { node, source } => write!(
                f,
                "node {node} sent a signal from process {source:#x}, which is of node {}",
                node_of(source)
            ),
            ArrivalError::NotHere { destination } => write!(
                f,
                "a signal for process {destination:#x}, which is of node {}, not this one",
                node_of(destination)
            ),
        }
    }
}

impl std::error::Error for ArrivalError {}

/// What a kernel attached to a cluster keeps.
pub(crate) struct Attached {
    pub slot: u16,
    pub remote: Arc<dyn Remote>,
}

impl<R: Attachment> Kernel<R> {
    /// Joins the kernel to a cluster as node `slot`, its signals to other
    /// nodes carried by `remote`: the ids of processes started from now on
    /// name the slot. Only before any process starts.
    pub fn attach(&self, slot: u16, remote: Arc<dyn Remote>) -> Result<(), AttachError> {
        if slot == 0 {
            return Err(AttachError::SlotZero);
        }
        let first = (u64::from(slot) << NODE_SHIFT) | 1;
        // Claims the id space first, so no process can start meanwhile
        // with an id that names no node.
        if self
            .next_id
            .compare_exchange(1, first, Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
        {
            return Err(if self.remote.get().is_some() {
                AttachError::Attached
            } else {
                AttachError::Started
            });
        }
        // References (monitors, timers, fresh tags) cross nodes too: their
        // bits below the top one name the node as well, so that two nodes'
        // monitors on one process never share a reference.
        self.next_ref.store(
            (1 << 63) | (u64::from(slot) << REF_NODE_SHIFT),
            Ordering::SeqCst,
        );
        self.remote
            .set(Attached { slot, remote })
            .map_err(|_| AttachError::Attached)
    }

    /// This kernel's node slot (0 on its own).
    pub fn node(&self) -> u16 {
        self.remote.get().map_or(0, |a| a.slot)
    }

    /// The remote this kernel is attached by, if it joined a cluster.
    pub(crate) fn attached(&self) -> Option<&Arc<dyn Remote>> {
        self.remote.get().map(|a| &a.remote)
    }

    /// Whether node `node` is up: this node always; another only in a
    /// cluster, and as the cluster sees it now.
    pub fn is_up(&self, node: u16) -> bool {
        node == self.node() || self.attached().is_some_and(|r| r.is_up(node))
    }

    /// The other nodes that are up, by slot, with their names (none on a
    /// kernel on its own).
    pub fn nodes(&self) -> Vec<(u16, String)> {
        self.attached().map(|r| r.nodes()).unwrap_or_default()
    }

    /// `watcher` watches node `node` under `reference` (ABI 1.8
    /// `node.monitor-node`): a `down` from the node's own id, reason
    /// `noconnection`, when it goes down, or at once if it is not up.
    /// This node never goes down while the watcher lives.
    pub(crate) fn monitor_node(&self, watcher: &crate::ProcessEntry<R>, node: u16, reference: u64) {
        if node == self.node() {
            return;
        }
        {
            // Under the book's lock, so a verdict either comes after the
            // monitor is in the book or is seen in `is_up`.
            let mut monitors = lock(&self.node_monitors);
            if self.is_up(node) {
                let mut r = lock(&watcher.relations);
                if r.alive {
                    r.node_monitors.insert(reference);
                    monitors.insert(reference, (node, watcher.id));
                }
                return;
            }
        }
        let node_id = u64::from(node) << NODE_SHIFT;
        self.send(
            watcher.id,
            down(reference, node_id, &ExitReason::NoConnection),
        );
    }

    /// Drops the node monitors `references` (their watcher ended, or
    /// demonitored them).
    pub(crate) fn demonitor_nodes<'a>(&self, references: impl IntoIterator<Item = &'a u64>) {
        let mut monitors = lock(&self.node_monitors);
        for reference in references {
            monitors.remove(reference);
        }
    }

    /// Asks node `node` to start a process; refused with `not-found` on a
    /// kernel on its own.
    pub fn spawn_on(&self, node: u16, request: RemoteSpawn) -> SpawnFuture {
        match self.attached() {
            Some(remote) => remote.spawn(node, request),
            None => Box::pin(std::future::ready(Err(SpawnRefused {
                code: vm_abi::ErrorCode::NotFound,
                text: format!("node {node} is not up: this VM is in no cluster (vm run --cluster)"),
            }))),
        }
    }

    /// The id that names this node itself, which no process has (its
    /// processes count from 1): what the VM does on no process's behalf
    /// (killing one from outside, say) comes from it.
    pub fn node_id(&self) -> u64 {
        u64::from(self.node()) << NODE_SHIFT
    }

    /// Whether `pid` names a process this node has started (running or
    /// ended): ids are never reused, so one of this node's ids at or past
    /// the next to be given never existed. Another node's id gives true:
    /// only that node knows.
    pub fn has_existed(&self, pid: u64) -> bool {
        if node_of(pid) != self.node() {
            // Outside a cluster no other node exists to have given it.
            return self.remote.get().is_some();
        }
        let next = self.next_id.load(std::sync::atomic::Ordering::Relaxed);
        pid & ((1u64 << NODE_SHIFT) - 1) != 0 && pid < next
    }

    /// Whether `pid` is a process of another node this kernel can reach.
    pub fn is_remote(&self, pid: u64) -> bool {
        self.remote_for(pid).is_some()
    }

    /// The remote that reaches `pid`'s node, and the node, if `pid` is of
    /// another node.
    pub(crate) fn remote_for(&self, pid: u64) -> Option<(u16, &Arc<dyn Remote>)> {
        let a = self.remote.get()?;
        let node = node_of(pid);
        (node != a.slot && node != 0).then_some((node, &a.remote))
    }

    /// Posts the kernel's own `signal` (never refused) to the node of its
    /// destination, which is remote.
    pub(crate) fn post(&self, signal: Signal) {
        if let Some((node, remote)) = self.remote_for(signal.destination()) {
            let _ = remote.post(node, signal, false);
        }
    }

    /// Links `a` (local, paying) to `b` on another node: recorded here and
    /// posted there. A `b` that has ended answers with an exit signal
    /// `noproc`, as in Erlang.
    pub(crate) fn link_remote(&self, a: u64, b: u64) -> Result<(), LinkError> {
        let Some(pa) = self.get(a) else {
            return Err(LinkError::NoProc);
        };
        if lock(&pa.relations).links.contains_key(&b) {
            return Ok(());
        }
        let charge = pa.budget().charge(LINK_COST).map_err(LinkError::Refused)?;
        // Recorded before it is posted: the answer (`noproc`) may come
        // back before `post` returns.
        lock(&pa.relations).links.insert(b, charge);
        self.post(Signal::Link { from: a, to: b });
        Ok(())
    }

    /// Acts on `signal`, which node `node` sent, as a local one: a message
    /// is queued, a link recorded (or answered with `noproc`), an exit
    /// signal judged by its receiver. Refused, with nothing done, if it is
    /// forged or not for this node.
    pub fn arrive(&self, node: u16, signal: Signal) -> Result<(), ArrivalError> {
        let Some(own) = self.remote.get().map(|a| a.slot) else {
            return Err(ArrivalError::Detached);
        };
        let source = signal.source();
        if node == own || node_of(source) != node {
            return Err(ArrivalError::Forged { node, source });
        }
        let destination = signal.destination();
        if node_of(destination) != own {
            return Err(ArrivalError::NotHere { destination });
        }
        match signal {
            Signal::Message {
                from,
                to,
                kind,
                tag,
                data,
            } => {
                if kind == MessageKind::Down {
                    lock(&self.remote_monitors).remove(&tag);
                }
                let m = Message::new(kind, from, tag, data.into(), Vec::new());
                // A process's message over the VM's bound is dropped (its
                // sender was told nothing: it is on its way), a `down` never.
                let _ = self.deliver(to, m, kind == MessageKind::Data);
            }
            Signal::Link { from, to } => {
                let linked = self.get(to).is_some_and(|p| {
                    let mut r = lock(&p.relations);
                    if r.alive {
                        r.links.entry(from).or_insert_with(Charge::none);
                    }
                    r.alive
                });
                if !linked {
                    self.post(Signal::Exit {
                        from: to,
                        to: from,
                        reason: ExitReason::NoProc,
                        linked: true,
                    });
                }
            }
            Signal::Unlink { from, to } => {
                if let Some(p) = self.get(to) {
                    lock(&p.relations).links.remove(&from);
                }
            }
            Signal::Exit {
                from,
                to,
                reason,
                linked,
            } => {
                if linked {
                    self.signal_link(from, to, &reason.capped());
                } else {
                    self.send_exit(from, to, reason);
                }
            }
            Signal::Kill { from, to } => self.kill(from, to),
            Signal::Monitor {
                watcher,
                target,
                reference,
            } => self.monitor(watcher, target, reference),
            Signal::Demonitor {
                target, reference, ..
            } => self.demonitor(target, reference),
        }
        Ok(())
    }

    /// The verdict that node `node` is gone: each local process linked to
    /// a process there gets its exit signal, each monitor on a process
    /// there its `down`, with reason `noconnection`; monitors and links
    /// its processes held on local ones are dropped.
    pub fn node_down(&self, node: u16) {
        if node == 0 || node == self.node() {
            return;
        }
        let on_node = |pid: &u64| node_of(*pid) == node;
        for p in self.processes.all() {
            let linked: Vec<u64> = {
                let mut r = lock(&p.relations);
                let before = r.monitors.len();
                r.monitors.retain(|_, watcher| !on_node(watcher));
                self.monitor_count
                    .fetch_sub(before - r.monitors.len(), Ordering::Relaxed);
                r.links.keys().copied().filter(on_node).collect()
            };
            for from in linked {
                self.signal_link(from, p.id, &ExitReason::NoConnection);
            }
        }
        let mut gone: Vec<(u64, (u64, u64))> = {
            let mut monitors = lock(&self.remote_monitors);
            let gone = monitors
                .iter()
                .filter(|(_, (_, target))| on_node(target))
                .map(|(&r, &m)| (r, m))
                .collect();
            monitors.retain(|_, (_, target)| !on_node(target));
            gone
        };
        gone.sort_unstable_by_key(|&(reference, _)| reference);
        for (reference, (watcher, target)) in gone {
            self.send(watcher, down(reference, target, &ExitReason::NoConnection));
        }
        let mut watching: Vec<(u64, u64)> = {
            let mut monitors = lock(&self.node_monitors);
            let watching = monitors
                .iter()
                .filter(|(_, (on, _))| *on == node)
                .map(|(&reference, &(_, watcher))| (reference, watcher))
                .collect();
            monitors.retain(|_, (on, _)| *on != node);
            watching
        };
        watching.sort_unstable_by_key(|&(reference, _)| reference);
        let node_id = u64::from(node) << NODE_SHIFT;
        for (reference, watcher) in watching {
            if let Some(p) = self.get(watcher) {
                lock(&p.relations).node_monitors.remove(&reference);
            }
            self.send(watcher, down(reference, node_id, &ExitReason::NoConnection));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actor::tests::ask;
    use crate::budget::Budget;
    use crate::message::Filter;
    use crate::registry::RegisterError;
    use crate::Limits;
    use std::collections::HashMap;
    use std::convert::Infallible;
    use std::sync::{Mutex, Weak};
    use std::time::Duration;

    type K = Kernel<Infallible>;

    /// Nodes in one process, each signal handed straight to its node's
    /// kernel (in order, as the cluster layer must keep it).
    #[derive(Default)]
    struct Loopback {
        nodes: Mutex<HashMap<u16, Weak<K>>>,
        /// Global names: the store every node sees.
        globals: Mutex<HashMap<String, u64>>,
    }

    impl Loopback {
        fn alive(&self, pid: u64) -> bool {
            let k = lock(&self.nodes).get(&node_of(pid)).and_then(Weak::upgrade);
            k.is_some_and(|k| k.get(pid).is_some())
        }
    }

    struct Port {
        from: u16,
        net: Arc<Loopback>,
    }

    impl Remote for Port {
        fn post(&self, node: u16, signal: Signal, _guest: bool) -> Result<(), Refusal> {
            let to = lock(&self.net.nodes).get(&node).and_then(Weak::upgrade);
            if let Some(k) = to {
                k.arrive(self.from, signal).expect("a well-formed signal");
            }
            Ok(())
        }

        fn is_up(&self, node: u16) -> bool {
            lock(&self.net.nodes)
                .get(&node)
                .is_some_and(|k| k.strong_count() > 0)
        }

        fn nodes(&self) -> Vec<(u16, String)> {
            let nodes = lock(&self.net.nodes);
            let mut up: Vec<(u16, String)> = nodes
                .iter()
                .filter(|(&n, k)| n != self.from && k.strong_count() > 0)
                .map(|(&n, _)| (n, format!("node{n}")))
                .collect();
            up.sort();
            up
        }

        fn spawn(&self, _node: u16, _request: RemoteSpawn) -> SpawnFuture {
            Box::pin(std::future::ready(Err(SpawnRefused {
                code: vm_abi::ErrorCode::PermissionDenied,
                text: "the loopback spawns nothing".into(),
            })))
        }

        fn global(&self, request: GlobalRequest) -> GlobalFuture {
            use crate::global::GlobalReply;
            let net = &self.net;
            let mut names = lock(&net.globals);
            let reply = match request {
                GlobalRequest::Register { name, pid } => match names.get(&name) {
                    Some(&holder) if net.alive(holder) => GlobalReply::Taken,
                    _ => {
                        names.insert(name, pid);
                        GlobalReply::Done
                    }
                },
                GlobalRequest::Lookup { name } => {
                    GlobalReply::Holder(names.get(&name).copied().filter(|&h| net.alive(h)))
                }
                GlobalRequest::Unregister { name } => {
                    GlobalReply::Removed(names.remove(&name).is_some_and(|h| net.alive(h)))
                }
                GlobalRequest::Release { name, pid } => {
                    if names.get(&name) == Some(&pid) {
                        names.remove(&name);
                    }
                    GlobalReply::Done
                }
            };
            Box::pin(async move { Ok(reply) })
        }
    }

    fn node(net: &Arc<Loopback>, slot: u16) -> Arc<K> {
        let k = Kernel::new(Limits {
            max_processes: 16,
            max_mailbox: 1 << 20,
            max_host_memory: 1 << 30,
            worker_threads: 1,
        })
        .unwrap();
        let port = Port {
            from: slot,
            net: net.clone(),
        };
        k.attach(slot, Arc::new(port)).unwrap();
        lock(&net.nodes).insert(slot, Arc::downgrade(&k));
        k
    }

    /// An actor on `k` that answers each message with its bytes, to its
    /// sender, until it gets "crash" (and then crashes) or "stop".
    fn echo(k: &Arc<K>) -> u64 {
        k.spawn_actor(|mut me| async move {
            loop {
                let m = me.receive(&Filter::any(), None).await.unwrap();
                match &m.data[..] {
                    b"crash" => return ExitReason::Trap("asked to".into()),
                    b"stop" => return ExitReason::Normal,
                    data => me.send(m.sender, m.tag, data).unwrap(),
                }
            }
        })
        .unwrap()
    }

    fn reason(m: &Message<Infallible>) -> ExitReason {
        ExitReason::decode(&m.data).unwrap()
    }

    #[tokio::test]
    async fn ids_name_their_node_and_messages_cross_in_order() {
        let net = Arc::new(Loopback::default());
        let (a, b) = (node(&net, 1), node(&net, 2));
        let e = echo(&b);
        assert_eq!(node_of(e), 2);
        let replies = ask(&a, move |mut me, tx| async move {
            assert_eq!(node_of(me.id()), 1);
            for i in 0..100u32 {
                me.send(e, 7, &i.to_le_bytes()).unwrap();
            }
            let mut got = Vec::new();
            for _ in 0..100 {
                let m = me.receive(&Filter::any(), None).await.unwrap();
                assert_eq!((m.sender, m.tag), (e, 7));
                got.push(u32::from_le_bytes(m.data[..].try_into().unwrap()));
            }
            let _ = tx.send(got);
            ExitReason::Normal
        })
        .await;
        assert_eq!(replies, (0..100).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn a_remote_link_and_monitor_carry_the_end_and_the_nodes_loss() {
        let net = Arc::new(Loopback::default());
        let (a, b) = (node(&net, 1), node(&net, 2));
        let (crasher, survivor, ended) = (echo(&b), echo(&b), echo(&b));
        // Ended, as its monitor on its own node proves.
        ask(&b, move |mut me, tx| async move {
            let r = me.monitor(ended).unwrap();
            me.send(ended, 0, b"stop").unwrap();
            while me.receive(&Filter::any(), None).await.unwrap().tag != r {}
            let _ = tx.send(());
            ExitReason::Normal
        })
        .await;
        let seen = ask(&a, move |mut me, tx| async move {
            me.trap_exits(true);
            let mut seen = Vec::new();
            // A crash over the link, and the monitor's down after it.
            me.link(crasher).unwrap();
            let r = me.monitor(crasher).unwrap();
            me.send(crasher, 1, b"crash").unwrap();
            for _ in 0..2 {
                let m = me.receive(&Filter::any(), None).await.unwrap();
                seen.push((m.kind, m.sender, m.tag == r, reason(&m)));
            }
            // A process that has ended: noproc, as a message when trapping.
            me.link(ended).unwrap();
            let m = me.receive(&Filter::any(), None).await.unwrap();
            seen.push((m.kind, m.sender, false, reason(&m)));
            // The node's loss, for the link and the monitor still standing.
            me.link(survivor).unwrap();
            let r = me.monitor(survivor).unwrap();
            me.kernel().node_down(2);
            for _ in 0..2 {
                let m = me.receive(&Filter::any(), None).await.unwrap();
                seen.push((m.kind, m.sender, m.tag == r, reason(&m)));
            }
            let _ = tx.send(seen);
            ExitReason::Normal
        })
        .await;
        let trap = ExitReason::Trap("asked to".into());
        use MessageKind::{Down, Exit};
        assert_eq!(
            seen,
            vec![
                (Exit, crasher, false, trap.clone()),
                (Down, crasher, true, trap),
                (Exit, ended, false, ExitReason::NoProc),
                (Exit, survivor, false, ExitReason::NoConnection),
                (Down, survivor, true, ExitReason::NoConnection),
            ]
        );
        assert_eq!(a.remote_monitors.lock().unwrap().len(), 0);
    }

    #[tokio::test]
    async fn node_monitors_tell_of_a_node_going_down_and_demonitor_stops_them() {
        let net = Arc::new(Loopback::default());
        let (a, _b) = (node(&net, 1), node(&net, 2));
        let seen = ask(&a, |mut me, tx| async move {
            let mut seen = Vec::new();
            // A node that is not up: at once.
            let r = me.monitor_node(9).unwrap();
            let m = me.receive(&Filter::any(), None).await.unwrap();
            seen.push((m.kind, m.sender, m.tag == r, reason(&m)));
            // One demonitored, one kept: only the kept one tells.
            let dropped = me.monitor_node(2).unwrap();
            let kept = me.monitor_node(2).unwrap();
            // This node never goes down while the watcher lives.
            let own = me.monitor_node(1).unwrap();
            me.demonitor(dropped);
            me.kernel().node_down(2);
            let m = me.receive(&Filter::any(), None).await.unwrap();
            seen.push((m.kind, m.sender, m.tag == kept, reason(&m)));
            me.demonitor(own);
            let after = me
                .receive(&Filter::any(), Some(Duration::from_millis(20)))
                .await;
            let _ = tx.send((seen, after.is_none()));
            ExitReason::Normal
        })
        .await;
        use MessageKind::Down;
        assert_eq!(
            seen,
            (
                vec![
                    (Down, 9 << NODE_SHIFT, true, ExitReason::NoConnection),
                    (Down, 2 << NODE_SHIFT, true, ExitReason::NoConnection),
                ],
                true
            )
        );
        assert_eq!(a.node_monitors.lock().unwrap().len(), 0);
    }

    #[tokio::test]
    async fn a_watcher_that_ends_leaves_no_node_monitor_behind() {
        let net = Arc::new(Loopback::default());
        let (a, _b) = (node(&net, 1), node(&net, 2));
        ask(&a, |mut me, tx| async move {
            me.monitor_node(2).unwrap();
            me.monitor_node(2).unwrap();
            let _ = tx.send(());
            ExitReason::Normal
        })
        .await;
        a.shutdown().await;
        assert_eq!(a.node_monitors.lock().unwrap().len(), 0);
    }

    #[tokio::test]
    async fn a_global_name_has_one_holder_across_nodes_and_is_freed_when_it_ends() {
        let net = Arc::new(Loopback::default());
        let (a, b) = (node(&net, 1), node(&net, 2));
        // A holder on node 1 takes the name and keeps it until told.
        let (held_tx, held_rx) = tokio::sync::oneshot::channel();
        let holder = a
            .spawn_actor(|me| async move {
                me.register_global("leader").await.unwrap();
                let _ = held_tx.send(());
                let mut me = me;
                let _ = me.receive(&Filter::any(), None).await;
                ExitReason::Normal
            })
            .unwrap();
        held_rx.await.unwrap();
        // Node 2 sees it, cannot take it, nor name a process of node 1.
        let (seen, taken, not_local) = ask(&b, move |me, tx| async move {
            let seen = me.kernel().lookup_global("leader").await.unwrap();
            let taken = me.register_global("leader").await;
            let budget = Budget::new(1 << 20, me.kernel().host());
            let not_local = me.kernel().register_global("x", holder, &budget).await;
            let _ = tx.send((seen, taken, not_local));
            ExitReason::Normal
        })
        .await;
        assert_eq!(seen, Some(holder));
        assert!(matches!(taken, Err(RegisterError::Taken)), "{taken:?}");
        assert!(
            matches!(not_local, Err(RegisterError::NotLocal)),
            "{not_local:?}"
        );
        // The holder ends: the name is free, and node 2 takes it.
        let watcher = ask(&a, move |mut me, tx| async move {
            let r = me.monitor(holder).unwrap();
            me.send(holder, 1, b"stop").unwrap();
            let m = me.receive(&Filter::any(), None).await.unwrap();
            let _ = tx.send(m.tag == r);
            ExitReason::Normal
        })
        .await;
        assert!(watcher);
        // Freed in the store before its down was sent, not merely found dead.
        assert_eq!(lock(&net.globals).get("leader"), None);
        let (free, mine) = ask(&b, |me, tx| async move {
            let free = me.kernel().lookup_global("leader").await.unwrap();
            me.register_global("leader").await.unwrap();
            let mine = me.kernel().lookup_global("leader").await.unwrap() == Some(me.id());
            let _ = tx.send((free, mine));
            ExitReason::Normal
        })
        .await;
        assert_eq!((free, mine), (None, true));
        a.shutdown().await;
        assert_eq!(
            a.host_held(),
            0,
            "the holder's charge for its name is given back"
        );
    }

    #[tokio::test]
    async fn a_process_that_does_not_trap_dies_with_its_remote_link_and_kills_reach() {
        let net = Arc::new(Loopback::default());
        let (a, b) = (node(&net, 1), node(&net, 2));
        let (remote, victim) = (echo(&b), echo(&b));
        let outcome = ask(&a, move |mut me, tx| async move {
            // A local process linked to the remote one, not trapping.
            let parent = me.id();
            let local = me
                .spawn(false, move |mut it| async move {
                    it.link(remote).unwrap();
                    it.send(remote, 1, b"linked").unwrap();
                    // The echo's answer proves the link landed (the order
                    // between two processes).
                    let _ = it.receive(&Filter::any(), None).await;
                    it.send(parent, 1, b"linked").unwrap();
                    std::future::pending().await
                })
                .unwrap();
            let (r_local, r_victim) = (me.monitor(local).unwrap(), me.monitor(victim).unwrap());
            let m = me.receive(&Filter::any(), None).await.unwrap();
            assert_eq!(&m.data[..], b"linked");
            me.send(remote, 2, b"crash").unwrap();
            me.kill(victim);
            let mut seen = Vec::new();
            for _ in 0..2 {
                let m = me.receive(&Filter::any(), None).await.unwrap();
                seen.push((m.tag == r_local, m.tag == r_victim, reason(&m)));
            }
            seen.sort_by_key(|s| s.1);
            let _ = tx.send(seen);
            ExitReason::Normal
        })
        .await;
        assert_eq!(
            outcome,
            vec![
                (true, false, ExitReason::Trap("asked to".into())),
                (false, true, ExitReason::Killed),
            ]
        );
        assert!(b.get(victim).is_none());
    }

    #[tokio::test]
    async fn a_timer_to_another_node_fires_there_and_is_cancelled_with_its_setter() {
        let net = Arc::new(Loopback::default());
        let (a, b) = (node(&net, 1), node(&net, 2));
        let e = echo(&b);
        let (fired, cancelled) = ask(&a, move |mut me, tx| async move {
            let kept = me
                .send_after(e, 1, b"later", Duration::from_millis(1))
                .unwrap();
            let gone = me
                .send_after(e, 2, b"never", Duration::from_secs(3600))
                .unwrap();
            let m = me
                .receive(&Filter::any(), Some(Duration::from_secs(30)))
                .await
                .expect("the timer fired");
            let cancelled = me.kernel().cancel_timer(gone);
            let _ = tx.send((
                (m.sender, m.tag, m.data.to_vec()),
                (kept != gone, cancelled),
            ));
            ExitReason::Normal
        })
        .await;
        assert_eq!(fired, (e, 1, b"later".to_vec()));
        assert_eq!(cancelled, (true, true));
        // A pending timer to another node goes with its setter.
        let (tx, rx) = tokio::sync::oneshot::channel();
        let setter = a
            .spawn_actor(move |me| async move {
                me.send_after(e, 3, b"never", Duration::from_secs(3600))
                    .unwrap();
                let _ = tx.send(());
                std::future::pending().await
            })
            .unwrap();
        rx.await.unwrap();
        assert_eq!(a.timer_count(), 1);
        let ended = ask(&a, move |mut me, tx| async move {
            let r = me.monitor(setter).unwrap();
            me.kill(setter);
            while me.receive(&Filter::any(), None).await.unwrap().tag != r {}
            let _ = tx.send(());
            ExitReason::Normal
        });
        ended.await;
        assert_eq!(a.timer_count(), 0);
    }

    #[test]
    fn forged_and_misaddressed_signals_are_refused() {
        let net = Arc::new(Loopback::default());
        let a = node(&net, 1);
        let link = |from, to| Signal::Link { from, to };
        let one = |n: u64| (n << NODE_SHIFT) | 5;
        assert_eq!(
            a.arrive(2, link(one(3), one(1))),
            Err(ArrivalError::Forged {
                node: 2,
                source: one(3)
            })
        );
        assert!(matches!(
            a.arrive(1, link(one(1), one(1))),
            Err(ArrivalError::Forged { .. })
        ));
        assert_eq!(
            a.arrive(2, link(one(2), one(4))),
            Err(ArrivalError::NotHere {
                destination: one(4)
            })
        );
        assert_eq!(a.arrive(2, link(one(2), one(1))), Ok(()));
    }

    #[test]
    fn a_kernel_attaches_once_and_only_before_its_first_process() {
        let limits = Limits {
            max_processes: 4,
            max_mailbox: 1 << 20,
            max_host_memory: 1 << 30,
            worker_threads: 1,
        };
        let port = || -> Arc<dyn Remote> {
            Arc::new(Port {
                from: 1,
                net: Default::default(),
            })
        };
        let k: Arc<K> = Kernel::new(limits).unwrap();
        assert_eq!(k.attach(0, port()), Err(AttachError::SlotZero));
        assert_eq!(k.attach(3, port()), Ok(()));
        assert_eq!(k.attach(4, port()), Err(AttachError::Attached));
        assert_eq!((k.node(), k.node_id()), (3, 3 << NODE_SHIFT));
        let started: Arc<K> = Kernel::new(limits).unwrap();
        let id = started
            .spawn_actor(|_| async { ExitReason::Normal })
            .unwrap();
        assert_eq!(node_of(id), 0);
        assert_eq!(started.attach(3, port()), Err(AttachError::Started));
        assert!(!started.is_remote(1 << NODE_SHIFT));
    }
}
