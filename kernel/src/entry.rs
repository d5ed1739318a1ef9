//! The part of a process that other processes and the node reach: its
//! inbox, whether it traps exits, its relations (links, monitors on it,
//! names, timers to it) and when it last resumed.

use crate::budget::{Budget, Charge};
use crate::links::exit_message;
use crate::mailbox::Inbox;
use crate::message::Attachment;
use crate::signal::{Control, ExitReason};
use crate::sync::lock;
use crate::timers::PendingTimer;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

/// The shared part of a process: how to reach it, and who is related to it.
pub struct ProcessEntry<R> {
    /// The process's id.
    pub id: u64,
    /// Where messages and signals for the process arrive.
    pub inbox: Inbox<R>,
    trap_exits: AtomicBool,
    pub(crate) relations: Mutex<Relations<R>>,
    /// The epoch tick at which the process last resumed (its task was
    /// polled): its time slice counts from there, not from when it last
    /// yielded, so a process that waited longer than a slice is not
    /// preempted the moment it wakes.
    resumed_at: AtomicU64,
}

pub(crate) struct Relations<R> {
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
    /// Global names (ABI 1.8) it holds, freed across the cluster when it ends.
    pub global_names: Vec<String>,
    /// Its monitors on nodes (ABI 1.8), by reference: dropped when it ends.
    pub node_monitors: HashSet<u64>,
    /// Timers that will send to this process, by reference: cancelled when
    /// it ends (as OTP cancels a timer whose target has gone).
    pub timers: HashMap<u64, PendingTimer<R>>,
    /// Timers this process set (to itself or others) that are pending:
    /// cancelled when it ends, since it pays for them.
    pub set_timers: HashSet<u64>,
}

impl<R> Default for Relations<R> {
    fn default() -> Self {
        Relations {
            alive: false,
            links: HashMap::new(),
            monitors: HashMap::new(),
            names: Vec::new(),
            global_names: Vec::new(),
            node_monitors: HashSet::new(),
            timers: HashMap::new(),
            set_timers: HashSet::new(),
        }
    }
}

impl<R: Attachment> ProcessEntry<R> {
    /// The entry of a live process with nothing queued and no relations,
    /// paying with `budget`.
    pub fn new(id: u64, budget: Arc<Budget>) -> ProcessEntry<R> {
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

    /// Whether the process traps exits: exit signals become messages.
    pub fn traps_exits(&self) -> bool {
        self.trap_exits.load(Ordering::Relaxed)
    }

    /// Turns trapping exits on or off; whether it was on.
    pub fn set_trap_exits(&self, on: bool) -> bool {
        self.trap_exits.swap(on, Ordering::Relaxed)
    }

    /// Acts on a signal the process's task took from its inbox, with
    /// Erlang's rules; the reason the process ends with, if it does.
    ///
    /// The receiver decides: an exit signal over a link removed since it
    /// was sent is dropped; to a process that traps exits it becomes a
    /// message; otherwise any reason but `normal` ends it, and `normal`
    /// ends it only when it sent the signal itself (`exit(self(),
    /// normal)`). A kill cannot be trapped, and a full mailbox ends it.
    pub fn handle_signal(&self, signal: Control) -> Option<ExitReason> {
        match signal {
            Control::Kill => Some(ExitReason::Killed),
            Control::MailboxFull { held, limit } => Some(ExitReason::Trap(format!(
                "mailbox limit exceeded: its unreceived messages would hold {held} bytes, over the limit of {limit} bytes (raise it with --max-mailbox, or receive sooner)"
            ))),
            Control::Exit {
                from,
                reason,
                linked,
                ..
            } => {
                if linked && !self.take_link(from) {
                    return None;
                }
                if self.traps_exits() {
                    self.inbox.push(exit_message(from, &reason, linked));
                    None
                } else if !reason.is_normal() || (from == self.id && !linked) {
                    Some(reason)
                } else {
                    None
                }
            }
        }
    }

    /// Acts on every signal waiting for the process
    /// ([`ProcessEntry::handle_signal`]) and registers the task to be woken
    /// by the next signal or message; the reason the process ends with,
    /// once a signal ends it. A process's task calls this each time it is
    /// polled, before it runs the process, so a kill stops even a process
    /// that never waits.
    pub fn poll_end(&self, cx: &mut Context<'_>) -> Poll<ExitReason> {
        while let Poll::Ready(signal) = self.inbox.poll_signal(cx) {
            if let Some(reason) = self.handle_signal(signal) {
                return Poll::Ready(reason);
            }
        }
        Poll::Pending
    }

    /// Turns the exit signals waiting for a process that traps exits into
    /// its messages, before whatever it receives next: its task turns
    /// signals into messages only when it resumes, and one sent before
    /// another process's message must not be received after it.
    pub fn trap_waiting_exits(&self) {
        if !self.traps_exits() {
            return;
        }
        for signal in self.inbox.take_exit_signals() {
            if let Control::Exit {
                from,
                reason,
                linked,
                ..
            } = signal
            {
                if linked && !self.take_link(from) {
                    continue;
                }
                self.inbox.push(exit_message(from, &reason, linked));
            }
        }
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
