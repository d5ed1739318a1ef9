//! Nodes over NATS: a kernel joins a cluster, and its processes reach the
//! processes of the other nodes as they reach their own.
//!
//! [`Cluster::join`] connects to NATS, takes a node slot (the next of a
//! counter in a JetStream key-value bucket, so a restarted node's old
//! process ids do not name its new processes), and attaches the kernel
//! ([`vm_kernel::remote`]): from then on a signal to another node's
//! process is a [`wire::Frame`] published to that node's subject, and the
//! frames published to this node's subject are acted on by its kernel.
//! Every node publishes a heartbeat; [`peers`] keeps the verdicts (a node
//! silent past the bound, or a signal lost on the way, is down: links and
//! monitors on its processes fire with `noconnection`).
//!
//! Subjects, with the default prefix `vm`, name the node that publishes on
//! them: `vm.heartbeat.NAME` (heartbeats, to every node) and
//! `vm.node.TO_NAME.TO_SLOT.NAME` (every other frame, to one node), so
//! NATS permissions ([`nats_permissions`]) can keep a node to its own;
//! `abi/README.md`, "Between nodes" documents the frames. Slots come from
//! the bucket `vm_nodes` and are claimed for a name, for good, in the
//! stream `vm_slots` ([`bindings`]); global names live in the bucket
//! `vm_global` ([`globals`]).

#![warn(missing_docs)]

mod bindings;
mod connection;
mod globals;
pub mod peers;
mod permissions;
mod spawns;
mod streams;
pub(crate) mod transport;
pub mod wire;

pub use async_nats;
pub use bindings::{valid_name, MAX_NAME};
pub use connection::Connection;
use peers::Peers;
pub use permissions::nats_permissions;
pub use spawns::Spawner;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use vm_kernel::remote::AttachError;
use vm_kernel::{Attachment, Kernel};
pub use wire::Announced;

/// How a node joins a cluster.
#[derive(Debug, Clone)]
pub struct Config {
    /// The NATS server: `nats://HOST:PORT`, or `tls://HOST:PORT` to
    /// require TLS.
    pub url: String,
    /// The node's name, as other nodes list it.
    pub name: String,
    /// How often the node says it is alive.
    pub heartbeat: Duration,
    /// How many heartbeats a node may miss before it is declared down.
    pub misses: u32,
    /// What the others get on top of that after this node was cut off
    /// from NATS (a server restarting cuts off every node, and each
    /// reconnects in its own time).
    pub grace: Duration,
    /// A NATS credentials file (`--nats-creds`).
    pub credentials: Option<PathBuf>,
    /// The certificates (PEM) that sign the server's, when it is not
    /// signed by one the system trusts (`--nats-ca`); given, TLS is
    /// required.
    pub tls_ca: Option<PathBuf>,
    /// The node's own certificate and key (PEM), for a server that
    /// verifies its clients (`--nats-cert`, `--nats-key`); given, TLS is
    /// required.
    pub tls_client: Option<(PathBuf, PathBuf)>,
    /// What the cluster's subjects and bucket start with.
    pub prefix: String,
    /// What signals on their way to other nodes may hold, in bytes, within
    /// the VM's own bound.
    pub max_queued: usize,
    /// The nodes (by name, or `*` for any) this node starts processes
    /// for (`--accept-spawn-from`); none by default.
    pub accept_spawn_from: Vec<String>,
    /// The modules (by SHA-256 in hexadecimal, or `*` for any) this node
    /// starts for other nodes (`--accept-module`); none by default.
    pub accept_modules: Vec<String>,
    /// The plugins this node offers its processes, announced in its
    /// heartbeats: another node refuses at once to spawn here a module
    /// that imports a plugin missing from them.
    pub plugins: Vec<Announced>,
    /// Whether a node silent for a heartbeat is probed (a NATS request
    /// that "no responders" answers once its connection is gone, a
    /// verdict before the bound); on by default.
    pub probes: bool,
}

impl Config {
    /// Joining the server at `url` as `name`, with a heartbeat every
    /// second and a verdict after three missed.
    pub fn new(url: impl Into<String>, name: impl Into<String>) -> Config {
        Config {
            url: url.into(),
            name: name.into(),
            heartbeat: Duration::from_secs(1),
            misses: 3,
            grace: Duration::from_secs(5),
            credentials: None,
            tls_ca: None,
            tls_client: None,
            prefix: "vm".into(),
            max_queued: 64 << 20,
            accept_spawn_from: Vec::new(),
            accept_modules: Vec::new(),
            plugins: Vec::new(),
            probes: true,
        }
    }

    /// How long a node may be silent before it is declared down.
    pub fn bound(&self) -> Duration {
        self.heartbeat * self.misses.max(1)
    }
}

/// Why a node could not join.
#[derive(Debug)]
pub enum JoinError {
    /// The NATS server could not be reached, or refused the node.
    Connect(String),
    /// The node's name cannot name a node ([`valid_name`]).
    Name(String),
    /// The NATS server refused what the node must do (its user lacks a
    /// node's permissions).
    Refused(String),
    /// No node slot could be had from JetStream.
    Slot(String),
    /// The kernel could not take the slot.
    Attach(AttachError),
    /// The node's thread could not start.
    Io(std::io::Error),
}

impl std::fmt::Display for JoinError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JoinError::Connect(e) => write!(f, "cannot join the cluster: {e}"),
            JoinError::Slot(e) => write!(
                f,
                "cannot take a node slot from NATS JetStream (is the server started with -js?): {e}"
            ),
            JoinError::Attach(e) => write!(f, "cannot join the cluster: {e}"),
            JoinError::Refused(e) => write!(
                f,
                "cannot join the cluster: NATS refused it ({e}); a node's NATS user needs what `vm nats-permissions NAME` prints"
            ),
            JoinError::Name(name) => write!(
                f,
                "cannot join the cluster as `{name}`: a node's name is 1 to {} letters, digits, `-` and `_`",
                bindings::MAX_NAME
            ),
            JoinError::Io(e) => write!(f, "cannot start the cluster's thread: {e}"),
        }
    }
}

impl std::error::Error for JoinError {}

/// A node's membership of a cluster. Dropping it leaves the cluster as
/// [`Cluster::leave`] does.
pub struct Cluster {
    slot: u16,
    client: async_nats::Client,
    /// How many times the node connected to NATS.
    connections: tokio::sync::watch::Receiver<u64>,
    peers: Arc<Mutex<Peers>>,
    stop: Option<tokio::sync::oneshot::Sender<bool>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Cluster {
    /// Joins `kernel` to the cluster `config` names; only before the
    /// kernel starts its first process.
    pub fn join<R: Attachment>(
        kernel: &Arc<Kernel<R>>,
        config: Config,
    ) -> Result<Cluster, JoinError> {
        transport::start(kernel, config, None)
    }

    /// [`Cluster::join`], starting the processes other nodes ask for
    /// (those [`Config::accept_spawn_from`] and [`Config::accept_modules`]
    /// let through) with `spawner`.
    pub fn join_with<R: Attachment>(
        kernel: &Arc<Kernel<R>>,
        config: Config,
        spawner: Arc<dyn Spawner>,
    ) -> Result<Cluster, JoinError> {
        transport::start(kernel, config, Some(spawner))
    }

    /// This node's slot: the top 16 bits of its processes' ids.
    pub fn slot(&self) -> u16 {
        self.slot
    }

    /// Whether the node's connection to NATS is up (it reconnects by
    /// itself when it is not).
    pub fn connected(&self) -> bool {
        self.client.connection_state() == async_nats::connection::State::Connected
    }

    /// How many times the node has connected to NATS: 1 once it joined,
    /// one more for each reconnection.
    pub fn connections(&self) -> u64 {
        *self.connections.borrow()
    }

    /// Waits until the node has connected to NATS more than `than` times
    /// (a reconnection after [`Cluster::connections`] said `than`).
    pub async fn connected_more_than(&self, than: u64) {
        let mut connections = self.connections.clone();
        let _ = connections.wait_for(|&n| n > than).await;
    }

    /// Waits until the NATS server has everything this node sent it,
    /// its subscriptions included: after a reconnection, until they are
    /// back (a frame published before then to this node is lost, and
    /// the loss is a verdict). `false` if the server did not answer.
    pub async fn flush(&self) -> bool {
        self.client.flush().await.is_ok()
    }

    /// The other nodes that are up, by slot, with their names.
    pub fn nodes(&self) -> Vec<(u16, String)> {
        vm_kernel::sync::lock(&self.peers).up()
    }

    /// Leaves the cluster: the other nodes it knows are told, behind what
    /// it sent them, and fire their links and monitors on this node's
    /// processes at once (one that joined but was not heard yet finds out
    /// from the silence).
    pub fn leave(mut self) {
        self.stop(true);
    }

    /// Stops talking at once, saying nothing, as a node that crashed: its
    /// connection closes, and the others declare it down when a probe
    /// finds no one listening for it, or when its silence passes their
    /// bound.
    pub fn halt(mut self) {
        self.stop(false);
    }

    fn stop(&mut self, polite: bool) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(polite);
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.stop(true);
    }
}
