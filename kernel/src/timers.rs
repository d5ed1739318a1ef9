//! Timers: messages delivered later (`timer.send-after`). A pending timer
//! is kept with its target and is cancelled when the target ends, as OTP
//! cancels a timer whose process has gone. Until it fires, its message is
//! charged to the process that set it (so no process can fill another's
//! budget with timers), and it is cancelled when that process ends too (so
//! nothing outlives the one who pays for it; OTP would let it fire); when
//! it fires, it is the target's, as a send is.
//!
//! A timer to a process of another node is kept with its setter (the
//! target's node learns of it only when it fires, as a send); it is
//! cancelled when the setter ends.

use crate::mailbox::Refused;
use crate::message::{Attachment, Message};
use crate::sync::lock;
use crate::{Kernel, ProcessEntry};
use std::sync::Arc;

/// What a timer costs its setter beside its message: its records in three
/// books, its task and its place in the timer wheel.
const TIMER_COST: usize = 256;

/// A timer on its way to a process: its message (and so its charge, given
/// back the moment the timer is cancelled), and its task, once started
/// (dropping it cancels the wait).
pub(crate) struct PendingTimer<R> {
    pub message: Message<R>,
    pub task: Option<async_task::Task<()>>,
}

impl<R: Attachment> Kernel<R> {
    /// Delivers `m` to `target` after `delay`, charging `setter` for it until
    /// then; returns the timer reference. A timer to a process that has
    /// ended (or ends before it fires) is cancelled. Refused, with the
    /// message given back, if the charge would pass the setter's limit or
    /// the VM's.
    pub fn send_after(
        self: &Arc<Kernel<R>>,
        setter: &ProcessEntry<R>,
        target: u64,
        mut m: Message<R>,
        delay: std::time::Duration,
    ) -> Result<u64, Box<Refused<R>>> {
        let reference = self.fresh_ref();
        let Some(entry) = self.timer_holder(target, setter.id) else {
            return Ok(reference);
        };
        // The message, and the timer's records in three books.
        match setter.budget().charge(m.cost() + TIMER_COST) {
            Ok(charge) => m.charge = charge,
            Err(refusal) => {
                return Err(Box::new(Refused {
                    message: m,
                    refusal,
                }))
            }
        }
        // Registered before the task starts, so a zero delay cannot fire
        // before it is; the task is filled in below. In the node's books
        // under the target's lock, so that an exit or a cancel from here on
        // finds the timer in both.
        {
            let mut r = lock(&entry.relations);
            if !r.alive {
                return Ok(reference);
            }
            lock(&self.timers).insert(reference, (target, setter.id));
            r.timers.insert(
                reference,
                PendingTimer {
                    message: m,
                    task: None,
                },
            );
        }
        {
            let mut r = lock(&setter.relations);
            // Unless it has fired, been cancelled or its target ended since.
            let pending = lock(&self.timers).contains_key(&reference);
            if r.alive && pending {
                r.set_timers.insert(reference);
            } else if !r.alive {
                // The setter is ending: its timers go with it.
                drop(r);
                self.cancel_timer(reference);
                return Ok(reference);
            }
        }
        let node = Arc::downgrade(self);
        let task = self.scheduler.spawn(async move {
            tokio::time::sleep(delay).await;
            if let Some(node) = node.upgrade() {
                node.fire_timer(target, reference);
            }
        });
        match lock(&entry.relations).timers.get_mut(&reference) {
            Some(pending) => pending.task = Some(task),
            // Fired (dropping a finished task does nothing), cancelled, or
            // its target ended: dropping the task cancels it and frees its
            // message now rather than after the delay.
            None => drop(task),
        }
        Ok(reference)
    }

    /// The process a timer to `target` set by `setter` is kept with: the
    /// target, or the setter when the target is of another node.
    fn timer_holder(&self, target: u64, setter: u64) -> Option<Arc<ProcessEntry<R>>> {
        self.get(if self.is_remote(target) {
            setter
        } else {
            target
        })
    }

    /// Delivers a timer's message, unless it was cancelled.
    fn fire_timer(&self, target: u64, reference: u64) {
        // Its message, once out of its holder's books, is in no process's
        // until it is queued: a shutdown must wait for it.
        let _in_flight = self.in_flight();
        let Some((_, setter)) = lock(&self.timers).remove(&reference) else {
            return;
        };
        self.forget_set_timer(setter, reference);
        let Some(entry) = self.timer_holder(target, setter) else {
            return;
        };
        let pending = lock(&entry.relations).timers.remove(&reference);
        if let Some(pending) = pending {
            // Dropping its own handle would cancel it: let it finish.
            if let Some(task) = pending.task {
                task.detach();
            }
            if entry.id != target {
                // To another node, as a send from the setter.
                self.send(target, pending.message);
                return;
            }
            // The target's from now on, as a send: charged to it (and the
            // setter's charge given back).
            entry.inbox.push(pending.message);
        }
    }

    /// How many timers are pending.
    pub fn timer_count(&self) -> usize {
        lock(&self.timers).len()
    }

    /// Cancels a timer; true if it had not fired.
    pub fn cancel_timer(&self, reference: u64) -> bool {
        let Some((target, setter)) = lock(&self.timers).remove(&reference) else {
            return false;
        };
        self.forget_set_timer(setter, reference);
        let Some(entry) = self.timer_holder(target, setter) else {
            return false;
        };
        let pending = lock(&entry.relations).timers.remove(&reference);
        // Dropping the task cancels it and frees its message.
        pending.is_some()
    }

    /// Takes a timer that fired or was cancelled off its setter's list.
    fn forget_set_timer(&self, setter: u64, reference: u64) {
        if let Some(p) = self.get(setter) {
            lock(&p.relations).set_timers.remove(&reference);
        }
    }

    /// Cancels the timers a process that ended had set (for itself or
    /// others).
    pub(crate) fn cancel_set_timers(&self, references: impl IntoIterator<Item = u64>) {
        for reference in references {
            self.cancel_timer(reference);
        }
    }

    /// Forgets the timers to a process that ended, on its setters' lists
    /// too; dropping them (with the process's relations) cancels them and
    /// frees their messages.
    pub(crate) fn forget_timers<'a>(&self, references: impl ExactSizeIterator<Item = &'a u64>) {
        if references.len() == 0 {
            return;
        }
        let setters: Vec<(u64, u64)> = {
            let mut timers = lock(&self.timers);
            references
                .filter_map(|r| timers.remove(r).map(|(_, setter)| (setter, *r)))
                .collect()
        };
        for (setter, reference) in setters {
            self.forget_set_timer(setter, reference);
        }
    }
}
