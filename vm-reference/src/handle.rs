//! Per-process handles: the resources a process owns, named by `u32`s.
//!
//! A handle is valid only in the process that owns it. Moving a resource in a
//! message removes it from the sender's table; the receiver gets a fresh
//! handle. Handle numbers are issued in order and not reused until the
//! 32-bit space wraps, and a number still in use is never issued again, so
//! a stale handle fails with `invalid-handle` instead of naming something
//! else.
//!
//! Each handle is charged to its process's budget ([`Resource::cost`]), and
//! a process holds at most `--max-sockets` socket handles (listeners,
//! streams and halves: file descriptors are the machine's to give).

use crate::budget::{Budget, Charge, Refusal};
use crate::module::Module;
use crate::sync::IdHasher;
use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::sync::Arc;
use std::time::Duration;

/// The timeouts a socket uses when a call gives none (`net.set-timeout`).
/// They belong to the socket, so they move with it between processes.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Timeouts {
    /// For `read` and `peek`.
    pub read: Option<Duration>,
    /// For `write`.
    pub write: Option<Duration>,
}

/// A resource a handle names.
#[derive(Debug)]
pub(crate) enum Resource {
    /// A loaded module, from which processes can be spawned.
    Module(Module),
    /// A TCP listener.
    TcpListener(std::sync::Arc<tokio::net::TcpListener>),
    /// A whole TCP stream.
    TcpStream(tokio::net::TcpStream, Timeouts),
    /// The read half of a split stream (only its read timeout is used).
    ReadHalf(tokio::net::tcp::OwnedReadHalf, Timeouts),
    /// The write half of a split stream; dropping it shuts down writing
    /// (only its write timeout is used).
    WriteHalf(tokio::net::tcp::OwnedWriteHalf, Timeouts),
    /// A read half whose reads arrive as messages (`net.set-active`).
    ActiveRead(crate::active_read::ActiveRead, Timeouts),
}

/// Messages carry handles: the kernel charges their receiver for them.
impl vm_kernel::Attachment for Resource {
    fn cost(&self) -> usize {
        Resource::cost(self)
    }
}

impl Resource {
    /// The default timeouts of a stream or half; `None` for other resources.
    pub fn timeouts(&self) -> Option<Timeouts> {
        match self {
            Resource::TcpStream(_, t)
            | Resource::ReadHalf(_, t)
            | Resource::WriteHalf(_, t)
            | Resource::ActiveRead(_, t) => Some(*t),
            _ => None,
        }
    }

    /// The default timeouts of a stream or half, to change them.
    pub fn timeouts_mut(&mut self) -> Option<&mut Timeouts> {
        match self {
            Resource::TcpStream(_, t)
            | Resource::ReadHalf(_, t)
            | Resource::WriteHalf(_, t)
            | Resource::ActiveRead(_, t) => Some(t),
            _ => None,
        }
    }

    /// What a handle to it costs its holder (and a message carrying it, its
    /// receiver): the host's record of it, and for a socket what the I/O
    /// layer keeps for it. A module's compiled code is charged once, to the
    /// process that loaded it, for as long as the module lives.
    pub fn cost(&self) -> usize {
        std::mem::size_of::<Resource>()
            + match self {
                Resource::Module(_) => HANDLE_COST,
                _ => SOCKET_COST,
            }
    }

    /// Whether it holds a socket (counted against `--max-sockets`).
    pub fn is_socket(&self) -> bool {
        !matches!(self, Resource::Module(_))
    }

    /// What kind of resource it is, as the ABI names kinds.
    pub fn abi_kind(&self) -> vm_abi::HandleKind {
        use vm_abi::HandleKind;
        match self {
            Resource::Module(_) => HandleKind::Module,
            Resource::TcpListener(_) => HandleKind::TcpListener,
            Resource::TcpStream(..) => HandleKind::TcpStream,
            Resource::ReadHalf(..) | Resource::ActiveRead(..) => HandleKind::ReadHalf,
            Resource::WriteHalf(..) => HandleKind::WriteHalf,
        }
    }

    /// What kind of resource it is, for error texts.
    pub fn kind(&self) -> &'static str {
        match self {
            Resource::Module(_) => "a module",
            Resource::TcpListener(_) => "a TCP listener",
            Resource::TcpStream(..) => "a TCP stream",
            Resource::ReadHalf(..) => "a read half",
            Resource::WriteHalf(..) => "a write half",
            Resource::ActiveRead(..) => "an active read half",
        }
    }
}

/// What the host keeps for a handle beyond the resource itself.
const HANDLE_COST: usize = 64;

/// What the I/O layer keeps for a socket handle (its registration with the
/// reactor and the runtime's buffers), beyond the handle.
const SOCKET_COST: usize = 512;

/// Why a handle could not be added.
#[derive(Debug, Clone, Copy)]
pub(crate) enum HandleRefusal {
    /// The process's budget or the VM's would pass its limit.
    Budget(Refusal),
    /// The process holds `--max-sockets` socket handles already.
    Sockets(u32),
}

impl HandleRefusal {
    /// A user-facing text: `what` could not be done, and the flag to raise.
    pub fn explain(&self, what: &str) -> String {
        match self {
            HandleRefusal::Budget(r) => r.explain(what),
            HandleRefusal::Sockets(max) => format!(
                "{what} would give this process more than {max} sockets, its limit (raise it with --max-sockets, or close some)"
            ),
        }
    }
}

/// The handles of one process. Handle numbers are the VM's choice, never a
/// guest's, so they are hashed by one multiplication rather than SipHash:
/// TCP reads and writes look their stream up on every poll.
pub(crate) struct HandleTable {
    next: u32,
    entries: HashMap<u32, (Resource, Charge), BuildHasherDefault<IdHasher<1>>>,
    budget: Arc<Budget>,
    sockets: u32,
    max_sockets: u32,
}

impl HandleTable {
    /// An empty table whose handles `budget` pays for, holding at most
    /// `max_sockets` sockets.
    pub fn new(budget: Arc<Budget>, max_sockets: u32) -> HandleTable {
        HandleTable {
            next: 0,
            entries: HashMap::default(),
            budget,
            sockets: 0,
            max_sockets,
        }
    }

    /// Adds a resource, returning its new handle: never 0, and never a
    /// number in use (after the numbers wrap, those still held are skipped).
    /// Refused, with the resource given back, past the process's budget or
    /// the VM's, or past `--max-sockets`.
    pub fn insert(&mut self, r: Resource) -> Result<u32, (Resource, HandleRefusal)> {
        if r.is_socket() && self.sockets >= self.max_sockets {
            return Err((r, HandleRefusal::Sockets(self.max_sockets)));
        }
        let charge = match self.budget.charge(r.cost()) {
            Ok(c) => c,
            Err(refusal) => return Err((r, HandleRefusal::Budget(refusal))),
        };
        loop {
            self.next = self.next.wrapping_add(1).max(1);
            if !self.entries.contains_key(&self.next) {
                break;
            }
        }
        self.put(self.next, r, charge);
        Ok(self.next)
    }

    fn put(&mut self, h: u32, r: Resource, charge: Charge) {
        if r.is_socket() {
            self.sockets += 1;
        }
        self.entries.insert(h, (r, charge));
    }

    pub fn get(&self, h: u32) -> Option<&Resource> {
        self.entries.get(&h).map(|(r, _)| r)
    }

    pub fn get_mut(&mut self, h: u32) -> Option<&mut Resource> {
        self.entries.get_mut(&h).map(|(r, _)| r)
    }

    pub fn remove(&mut self, h: u32) -> Option<Resource> {
        let (r, _charge) = self.entries.remove(&h)?;
        if r.is_socket() {
            self.sockets -= 1;
        }
        Some(r)
    }

    /// Puts back, under its handle, a resource just taken out of this table
    /// (by a call that then failed): it was within the limits a moment ago,
    /// so it is not refused now.
    pub fn restore(&mut self, h: u32, r: Resource) {
        let charge = self.budget.charge_anyway(r.cost());
        self.put(h, r, charge);
    }

    /// Closes every handle but those in `keep` (a process that hibernates
    /// keeps only what it names: the rest would be unreachable).
    pub fn retain_only(&mut self, keep: &[u32]) {
        let dropped: Vec<u32> = self
            .entries
            .keys()
            .filter(|h| !keep.contains(h))
            .copied()
            .collect();
        for h in dropped {
            self.remove(h);
        }
    }

    /// Makes each active read half among `handles` whose reader has
    /// finished a plain read half again; the first that is still active.
    pub fn still_active(&mut self, handles: &[u32]) -> Option<u32> {
        handles.iter().copied().find(|h| {
            self.entries
                .get_mut(h)
                .is_some_and(|(r, _)| crate::active_read::settle(r))
        })
    }

    /// Removes all of `handles` or none: fails with the first invalid one.
    pub fn take_all(&mut self, handles: &[u32]) -> Result<Vec<Resource>, u32> {
        if handles.is_empty() {
            return Ok(Vec::new());
        }
        for (i, h) in handles.iter().enumerate() {
            if !self.entries.contains_key(h) || handles[..i].contains(h) {
                return Err(*h);
            }
        }
        Ok(handles.iter().filter_map(|h| self.remove(*h)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listener() -> Resource {
        let std = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        std.set_nonblocking(true).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
            .unwrap();
        let _guard = rt.enter();
        Resource::TcpListener(std::sync::Arc::new(
            tokio::net::TcpListener::from_std(std).unwrap(),
        ))
    }

    #[test]
    fn after_the_numbers_wrap_a_handle_in_use_is_skipped() {
        let host = crate::budget::HostBudget::new(1 << 20);
        let mut table = HandleTable::new(Budget::new(1 << 20, &host), 100);
        let insert = |t: &mut HandleTable| t.insert(listener()).map_err(|e| e.1).unwrap();
        let first = insert(&mut table);
        let second = insert(&mut table);
        assert_eq!((first, second), (1, 2));
        table.remove(first);
        table.next = u32::MAX - 1;
        assert_eq!(insert(&mut table), u32::MAX);
        // 0 is never a handle, 1 is free again, 2 is still in use.
        assert_eq!(insert(&mut table), 1);
        assert_eq!(insert(&mut table), 3);
        assert!(matches!(table.get(2), Some(Resource::TcpListener(_))));
    }

    #[test]
    fn handles_are_charged_and_sockets_capped() {
        let host = crate::budget::HostBudget::new(1 << 20);
        let budget = Budget::new(1 << 20, &host);
        let mut table = HandleTable::new(budget.clone(), 2);
        let a = table.insert(listener()).map_err(|e| e.1).unwrap();
        table.insert(listener()).map_err(|e| e.1).unwrap();
        assert!(budget.held() >= 2 * SOCKET_COST);
        let (_, refusal) = table.insert(listener()).unwrap_err();
        assert!(matches!(refusal, HandleRefusal::Sockets(2)), "{refusal:?}");
        assert!(refusal.explain("accepting").contains("--max-sockets"));
        table.remove(a);
        table.insert(listener()).map_err(|e| e.1).unwrap();
        table.retain_only(&[]);
        assert_eq!((table.entries.len(), budget.held(), host.held()), (0, 0, 0));
    }
}
