//! Per-process handles: the resources a process owns, named by `u32`s.
//!
//! A handle is valid only in the process that owns it. Moving a resource in a
//! message removes it from the sender's table; the receiver gets a fresh
//! handle. Handle numbers are issued in order and not reused until the
//! 32-bit space wraps, and a number still in use is never issued again, so
//! a stale handle fails with `invalid-handle` instead of naming something
//! else.

use crate::module::Module;
use crate::sync::IdHasher;
use std::collections::HashMap;
use std::hash::BuildHasherDefault;
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
}

impl Resource {
    /// The default timeouts of a stream or half; `None` for other resources.
    pub fn timeouts(&self) -> Option<Timeouts> {
        match self {
            Resource::TcpStream(_, t) | Resource::ReadHalf(_, t) | Resource::WriteHalf(_, t) => {
                Some(*t)
            }
            _ => None,
        }
    }

    /// The default timeouts of a stream or half, to change them.
    pub fn timeouts_mut(&mut self) -> Option<&mut Timeouts> {
        match self {
            Resource::TcpStream(_, t) | Resource::ReadHalf(_, t) | Resource::WriteHalf(_, t) => {
                Some(t)
            }
            _ => None,
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
        }
    }
}

/// The handles of one process. Handle numbers are the VM's choice, never a
/// guest's, so they are hashed by one multiplication rather than SipHash:
/// TCP reads and writes look their stream up on every poll.
#[derive(Default)]
pub(crate) struct HandleTable {
    next: u32,
    entries: HashMap<u32, Resource, BuildHasherDefault<IdHasher<1>>>,
}

impl HandleTable {
    /// Adds a resource, returning its new handle: never 0, and never a
    /// number in use (after the numbers wrap, those still held are skipped).
    pub fn insert(&mut self, r: Resource) -> u32 {
        loop {
            self.next = self.next.wrapping_add(1).max(1);
            if !self.entries.contains_key(&self.next) {
                break;
            }
        }
        self.entries.insert(self.next, r);
        self.next
    }

    pub fn get(&self, h: u32) -> Option<&Resource> {
        self.entries.get(&h)
    }

    pub fn get_mut(&mut self, h: u32) -> Option<&mut Resource> {
        self.entries.get_mut(&h)
    }

    pub fn remove(&mut self, h: u32) -> Option<Resource> {
        self.entries.remove(&h)
    }

    /// Puts a resource taken out for an asynchronous call back under its
    /// handle.
    pub fn restore(&mut self, h: u32, r: Resource) {
        self.entries.insert(h, r);
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
        Ok(handles
            .iter()
            .filter_map(|h| self.entries.remove(h))
            .collect())
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
        let mut table = HandleTable::default();
        let first = table.insert(listener());
        let second = table.insert(listener());
        assert_eq!((first, second), (1, 2));
        table.remove(first);
        table.next = u32::MAX - 1;
        assert_eq!(table.insert(listener()), u32::MAX);
        // 0 is never a handle, 1 is free again, 2 is still in use.
        assert_eq!(table.insert(listener()), 1);
        assert_eq!(table.insert(listener()), 3);
        assert!(matches!(table.get(2), Some(Resource::TcpListener(_))));
    }
}
