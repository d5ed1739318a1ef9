//! Per-process handles: the resources a process owns, named by `u32`s.
//!
//! A handle is valid only in the process that owns it. Moving a resource in a
//! message removes it from the sender's table; the receiver gets a fresh
//! handle. Handles are never reused within a process, so a stale handle fails
//! with `invalid-handle` instead of naming something else.

use crate::module::Module;
use crate::table::IdHasher;
use std::collections::HashMap;
use std::hash::BuildHasherDefault;

/// A resource a handle names.
#[derive(Debug)]
pub(crate) enum Resource {
    /// A loaded module, from which processes can be spawned.
    Module(Module),
    /// A TCP listener.
    TcpListener(std::sync::Arc<tokio::net::TcpListener>),
    /// A whole TCP stream.
    TcpStream(tokio::net::TcpStream),
    /// The read half of a split stream.
    ReadHalf(tokio::net::tcp::OwnedReadHalf),
    /// The write half of a split stream; dropping it shuts down writing.
    WriteHalf(tokio::net::tcp::OwnedWriteHalf),
}

impl Resource {
    /// What kind of resource it is, for error texts.
    pub fn kind(&self) -> &'static str {
        match self {
            Resource::Module(_) => "a module",
            Resource::TcpListener(_) => "a TCP listener",
            Resource::TcpStream(_) => "a TCP stream",
            Resource::ReadHalf(_) => "a read half",
            Resource::WriteHalf(_) => "a write half",
        }
    }
}

/// The handles of one process. Handle numbers are the VM's choice, so they
/// are hashed cheaply: TCP reads and writes look their stream up on every
/// poll, and with SipHash the table was 15% of the VM's own instructions per
/// echoed message.
#[derive(Default)]
pub(crate) struct HandleTable {
    next: u32,
    entries: HashMap<u32, Resource, BuildHasherDefault<IdHasher<1>>>,
}

impl HandleTable {
    /// Adds a resource, returning its new handle (never 0).
    pub fn insert(&mut self, r: Resource) -> u32 {
        self.next = self.next.wrapping_add(1).max(1);
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
