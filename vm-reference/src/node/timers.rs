//! Timers: messages delivered later (`timer.send-after`). A pending timer
//! is kept with its target and counts against the target's mailbox; it is
//! cancelled when the target ends, as OTP cancels a timer whose process has
//! gone.

use super::Node;
use crate::mailbox::Message;
use crate::sync::lock;
use std::sync::Arc;

/// A timer on its way to a process: what it counts against the target's
/// mailbox, and its task, once started (dropping it cancels the timer).
pub(super) struct PendingTimer {
    pub cost: usize,
    pub task: Option<async_task::Task<()>>,
}

impl Node {
    /// Delivers `m` to `target` after `delay`; returns the timer reference.
    /// Until it fires, the message counts against the target's mailbox, and
    /// a timer that would take the mailbox past its limit ends the target,
    /// as a send would. A timer to a process that has ended (or ends before
    /// it fires) is cancelled.
    pub fn send_after(
        self: &Arc<Node>,
        target: u64,
        m: Message,
        delay: std::time::Duration,
    ) -> u64 {
        let reference = self.fresh_ref();
        let Some(entry) = self.get(target) else {
            return reference;
        };
        let cost = m.cost();
        if !entry.inbox.reserve(cost, self.config.max_mailbox) {
            return reference;
        }
        // Registered before the task starts, so a zero delay cannot fire
        // before it is; the task is filled in below. In the node's books
        // first, so that if the target ends from here on, its exit finds
        // the timer there too.
        lock(&self.timers).insert(reference, target);
        {
            let mut r = lock(&entry.relations);
            if !r.alive {
                drop(r);
                lock(&self.timers).remove(&reference);
                entry.inbox.release(cost);
                return reference;
            }
            r.timers
                .insert(reference, PendingTimer { cost, task: None });
        }
        let node = Arc::downgrade(self);
        let task = self.scheduler.spawn(async move {
            tokio::time::sleep(delay).await;
            if let Some(node) = node.upgrade() {
                node.fire_timer(target, reference, m);
            }
        });
        match lock(&entry.relations).timers.get_mut(&reference) {
            Some(pending) => pending.task = Some(task),
            // Fired (dropping a finished task does nothing), cancelled, or
            // its target ended: dropping the task cancels it and frees its
            // message now rather than after the delay.
            None => drop(task),
        }
        reference
    }

    /// Delivers a timer's message, unless it was cancelled.
    fn fire_timer(&self, target: u64, reference: u64, m: Message) {
        lock(&self.timers).remove(&reference);
        let Some(entry) = self.get(target) else {
            return;
        };
        let pending = lock(&entry.relations).timers.remove(&reference);
        if let Some(pending) = pending {
            // Dropping its own handle would cancel it: let it finish.
            if let Some(task) = pending.task {
                task.detach();
            }
            entry.inbox.push_reserved(m);
        }
    }

    /// How many timers are pending.
    pub fn timer_count(&self) -> usize {
        lock(&self.timers).len()
    }

    /// Cancels a timer; true if it had not fired.
    pub fn cancel_timer(&self, reference: u64) -> bool {
        let Some(target) = lock(&self.timers).remove(&reference) else {
            return false;
        };
        let Some(entry) = self.get(target) else {
            return false;
        };
        let pending = lock(&entry.relations).timers.remove(&reference);
        match pending {
            // Dropping the task cancels it.
            Some(pending) => {
                entry.inbox.release(pending.cost);
                true
            }
            None => false,
        }
    }

    /// Forgets the timers of a process that ended; dropping their tasks
    /// (with the process's relations) cancels them.
    pub(super) fn forget_timers<'a>(&self, references: impl ExactSizeIterator<Item = &'a u64>) {
        if references.len() == 0 {
            return;
        }
        let mut timers = lock(&self.timers);
        for reference in references {
            timers.remove(reference);
        }
    }
}
