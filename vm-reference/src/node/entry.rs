//! The part of a process that other processes and the node reach: its
//! inbox, whether it traps exits, its relations (links, monitors on it,
//! names, timers to it) and when it last resumed.

use super::timers::PendingTimer;
use crate::budget::{Budget, Charge};
use crate::mailbox::Inbox;
use crate::sync::lock;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// The shared part of a process: how to reach it, and who is related to it.
pub(crate) struct ProcessEntry {
    pub id: u64,
    /// Where messages and signals for the process arrive.
    pub inbox: Inbox,
    trap_exits: AtomicBool,
    pub(super) relations: Mutex<Relations>,
    /// The epoch tick at which the process last resumed (its task was
    /// polled): its time slice counts from there, not from when it last
    /// yielded, so a process that waited longer than a slice is not
    /// preempted the moment it wakes.
    resumed_at: AtomicU64,
}

#[derive(Default)]
pub(super) struct Relations {
    pub alive: bool,
    /// Linked processes. An exit signal from one is acted on only if the
    /// link is still here when the signal is handled, so after `unlink`
    /// nothing from that link arrives. The side that asked for the link
    /// holds its charge (both sides' records); the other side holds none.
    pub links: HashMap<u64, Charge>,
    /// Monitors on this process: reference → watching process. Removed by
    /// `demonitor`, when the watcher ends, and (all) when this process ends.
    pub monitors: HashMap<u64, u64>,
    pub names: Vec<String>,
    /// Timers that will send to this process, by reference: cancelled when
    /// it ends (as OTP cancels a timer whose target has gone).
    pub timers: HashMap<u64, PendingTimer>,
    /// Timers this process set (to itself or others) that are pending:
    /// cancelled when it ends, since it pays for them.
    pub set_timers: HashSet<u64>,
}

impl ProcessEntry {
    /// The entry of a live process with nothing queued and no relations,
    /// paying with `budget`.
    pub fn new(id: u64, budget: Arc<Budget>) -> ProcessEntry {
        ProcessEntry {
            id,
            inbox: Inbox::new(budget),
            trap_exits: AtomicBool::new(false),
            resumed_at: AtomicU64::new(0),
            relations: Mutex::new(Relations {
                alive: true,
                ..Relations::default()
            }),
        }
    }

    /// Removes the link to `other`; whether it was there.
    pub fn take_link(&self, other: u64) -> bool {
        lock(&self.relations).links.remove(&other).is_some()
    }

    /// What the host holds for this process, and its limit.
    pub fn budget(&self) -> &Arc<Budget> {
        &self.inbox.budget
    }

    pub fn traps_exits(&self) -> bool {
        self.trap_exits.load(Ordering::Relaxed)
    }

    pub fn set_trap_exits(&self, on: bool) -> bool {
        self.trap_exits.swap(on, Ordering::Relaxed)
    }

    /// Notes that the process resumes running at epoch tick `now`.
    pub fn resume(&self, now: u64) {
        self.resumed_at.store(now, Ordering::Relaxed);
    }

    /// Whether the process has run for a whole time slice (an epoch tick
    /// passed since it resumed).
    pub fn slice_used(&self, now: u64) -> bool {
        now > self.resumed_at.load(Ordering::Relaxed)
    }
}
