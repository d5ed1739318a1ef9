//! The nodes of a cluster (ABI 1.8; `vm run --cluster`): which node this
//! process runs on, which others are up, and word when one goes down.
//! Outside a cluster the VM is node 0, named `local`, alone.
//!
//! ```no_run
//! use vm_sdk::node::Node;
//! for node in Node::up() {
//!     println!("node {} is {}", node.slot(), node.name().unwrap_or_default());
//! }
//! // Erlang's monitor_node: a Down from the node's own id, reason noconnection.
//! let watch = Node::this().monitor();
//! # drop(watch);
//! ```

use crate::abi;
use crate::process::{Monitor, Process};

/// Where a node's slot starts in a process id: a pid's top 16 bits.
const NODE_SHIFT: u32 = 48;

/// A node of the cluster, by its slot (the top 16 bits of its processes'
/// ids; slots are never reused, so a restarted node is a new one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Node(u32);

impl Node {
    /// The node this process runs on.
    pub fn this() -> Node {
        // SAFETY: no arguments.
        Node(unsafe { abi::node::self_node() })
    }

    /// The node with slot `slot` (whether it is up or not).
    pub fn from_slot(slot: u32) -> Node {
        Node(slot)
    }

    /// The node process `id` runs on.
    pub fn of(id: u64) -> Node {
        Node((id >> NODE_SHIFT) as u32)
    }

    /// Its slot.
    pub fn slot(self) -> u32 {
        self.0
    }

    /// The id that names the node itself: the sender of a node monitor's
    /// `down`. No process has it.
    pub fn id(self) -> u64 {
        u64::from(self.0) << NODE_SHIFT
    }

    /// The nodes up now, this one first.
    pub fn up() -> Vec<Node> {
        let mut slots = vec![0u32; 16];
        loop {
            // SAFETY: the buffer is 4-byte aligned and holds `len` slots.
            let n = crate::call(|ret| unsafe {
                abi::node::up(slots.as_mut_ptr() as u32, slots.len() as u32, ret)
            })
            .expect("node.up with a valid buffer cannot fail") as usize;
            if n <= slots.len() {
                slots.truncate(n);
                return slots.into_iter().map(Node).collect();
            }
            slots.resize(n, 0);
        }
    }

    /// Its name (its `--node`), if it is up.
    pub fn name(self) -> Option<String> {
        let mut buf = vec![0u8; 64];
        loop {
            // SAFETY: the buffer is valid for writes of its length.
            let full = crate::call(|ret| unsafe {
                abi::node::name(self.0, buf.as_mut_ptr() as u32, buf.len() as u32, ret)
            })
            .ok()? as usize;
            if full <= buf.len() {
                buf.truncate(full);
                return Some(String::from_utf8_lossy(&buf).into_owned());
            }
            buf.resize(full, 0);
        }
    }

    /// Watches the node, as Erlang's `monitor_node`: when it goes down (at
    /// once, if it is not up now) this process receives a
    /// [`Down`](crate::mailbox::Down) from [`Node::id`], reason
    /// [`ExitReason::NoConnection`](crate::exit::ExitReason::NoConnection).
    /// The node this process runs on never goes down while it lives.
    pub fn monitor(self) -> Monitor {
        // SAFETY: plain values.
        let reference = unsafe { abi::node::monitor_node(self.0) };
        Monitor::new(reference, self.id())
    }
}

impl<M> Process<M> {
    /// The node the process runs on.
    pub fn node(&self) -> Node {
        Node::of(self.id())
    }
}
