//! Links, monitors and exit signals between processes, with Erlang's
//! semantics (see `abi/README.md`): a link carries a process's exit to the
//! other side, a monitor delivers one `down` message, and the receiving
//! side decides whether a signal still applies when it arrives.

use crate::budget::{Charge, Refusal};
use crate::message::{Attachment, Message};
use crate::remote::Signal;
use crate::signal::{Control, ExitReason};
use crate::sync::lock;
use crate::{Kernel, ProcessEntry};
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use vm_abi::MessageKind;

/// What a link costs the process that asks for it: both sides' records.
pub const LINK_COST: usize = 128;

/// Why `link` made no link.
#[derive(Debug)]
pub enum LinkError {
    /// The other process has ended (or never was).
    NoProc,
    /// The caller's budget or the VM's would pass its limit.
    Refused(Refusal),
}

impl<R: Attachment> Kernel<R> {
    /// Links `a` (the caller, which pays for it) and `b`.
    pub(crate) fn link(&self, a: u64, b: u64) -> Result<(), LinkError> {
        if a == b {
            return Ok(());
        }
        if self.is_remote(b) {
            return self.link_remote(a, b);
        }
        let Some(pa) = self.get(a) else {
            return Err(LinkError::NoProc);
        };
        // Linked already (at a spawn, say): nothing to do, even if `b` has
        // ended since, as in Erlang; its exit signal, with its real reason,
        // is on its way, and a `noproc` must not overtake it.
        if lock(&pa.relations).links.contains_key(&b) {
            return Ok(());
        }
        let Some(pb) = self.get(b) else {
            return Err(LinkError::NoProc);
        };
        let charge = pa.budget().charge(LINK_COST).map_err(LinkError::Refused)?;
        {
            let mut rb = lock(&pb.relations);
            if !rb.alive {
                return Err(LinkError::NoProc);
            }
            rb.links.entry(a).or_default();
        }
        lock(&pa.relations).links.insert(b, charge);
        Ok(())
    }

    /// Links a new process `child` to its spawner `parent`, which paid
    /// `charge` for it.
    pub(crate) fn link_child(&self, parent: u64, child: &ProcessEntry<R>, charge: Charge) {
        if let Some(p) = self.get(parent) {
            lock(&p.relations).links.insert(child.id, charge);
            lock(&child.relations).links.insert(parent, Charge::none());
        }
    }

    /// Removes the link between `a` and `b` on both sides: an exit signal
    /// from either that is still on its way is dropped when it arrives.
    pub(crate) fn unlink(&self, a: u64, b: u64) {
        if self.is_remote(b) {
            self.post(Signal::Unlink { from: a, to: b });
        }
        for (x, y) in [(a, b), (b, a)] {
            if let Some(p) = self.get(x) {
                lock(&p.relations).links.remove(&y);
            }
        }
    }

    /// `watcher` monitors `target` under `reference`; if the target has ended
    /// the down message (reason `noproc`) is sent at once.
    pub(crate) fn monitor(&self, watcher: u64, target: u64, reference: u64) {
        if self.is_remote(target) {
            lock(&self.remote_monitors).insert(reference, (watcher, target));
            self.post(Signal::Monitor {
                watcher,
                target,
                reference,
            });
            return;
        }
        if let Some(p) = self.get(target) {
            let mut r = lock(&p.relations);
            if r.alive {
                r.monitors.insert(reference, watcher);
                self.monitor_count.fetch_add(1, Ordering::Relaxed);
                return;
            }
        }
        self.send(watcher, down(reference, target, &ExitReason::NoProc));
    }

    /// Removes a monitor from its target, if both are still there.
    pub(crate) fn demonitor(&self, target: u64, reference: u64) {
        if self.is_remote(target) {
            let removed = lock(&self.remote_monitors).remove(&reference);
            if let Some((watcher, _)) = removed {
                self.post(Signal::Demonitor {
                    watcher,
                    target,
                    reference,
                });
            }
            return;
        }
        if let Some(p) = self.get(target) {
            if lock(&p.relations).monitors.remove(&reference).is_some() {
                self.monitor_count.fetch_sub(1, Ordering::Relaxed);
            }
        }
    }

    /// How many monitors are in place.
    pub fn monitor_count(&self) -> usize {
        self.monitor_count.load(Ordering::Relaxed)
    }

    /// Sends `target` an exit signal from `from` (`process.send-exit`):
    /// acted on like a linked process's exit, without a link.
    ///
    /// To a process that traps exits it is a message at once, so it keeps
    /// its place among the messages the sender sends it before and after
    /// (Erlang orders all signals between two processes).
    pub fn send_exit(&self, from: u64, target: u64, reason: ExitReason) {
        if self.is_remote(target) {
            self.post(Signal::Exit {
                from,
                to: target,
                reason: reason.capped(),
                linked: false,
            });
            return;
        }
        let Some(p) = self.get(target) else {
            return;
        };
        let reason = reason.capped();
        if p.traps_exits() {
            p.inbox.push(exit_message(from, &reason, false));
        } else {
            p.inbox.signal(Control::Exit {
                from,
                reason,
                linked: false,
                charge: Charge::none(),
            });
        }
    }

    /// Tells each process linked to `id`, which ended, why. Each removes
    /// its side of the link when it handles the signal (unless it unlinked
    /// first, and then ignores it).
    ///
    /// To a process that traps exits it is a message at once (its side of
    /// the link goes with it), as [`Kernel::send_exit`] does: so it keeps its
    /// place before the `down` this process's monitors send next, as in
    /// Erlang, where a watcher that is also linked hears the exit first.
    pub(crate) fn signal_links(&self, id: u64, links: HashMap<u64, Charge>, reason: &ExitReason) {
        for linked in links.into_keys() {
            if self.is_remote(linked) {
                self.post(Signal::Exit {
                    from: id,
                    to: linked,
                    reason: reason.clone(),
                    linked: true,
                });
            } else {
                self.signal_link(id, linked, reason);
            }
        }
    }

    /// Acts on `from`'s exit signal over its link to the local process
    /// `to` (see [`Kernel::signal_links`]).
    pub(crate) fn signal_link(&self, from: u64, to: u64, reason: &ExitReason) {
        let Some(p) = self.get(to) else {
            return;
        };
        if p.traps_exits() {
            // Taken and queued under the receiver's relations lock, so an
            // `unlink` (or a `link`) of the receiver sees the link and no
            // message, or the message and no link.
            let mut r = lock(&p.relations);
            if r.links.remove(&from).is_some() {
                p.inbox.push(exit_message(from, reason, true));
            }
            return;
        }
        p.inbox.signal(Control::Exit {
            from,
            reason: reason.clone(),
            linked: true,
            charge: Charge::none(),
        });
    }

    /// Sends the `down` message of each monitor on `id`, which ended; the
    /// monitors are gone with it.
    pub(crate) fn notify_monitors(
        &self,
        id: u64,
        monitors: HashMap<u64, u64>,
        reason: &ExitReason,
    ) {
        self.monitor_count
            .fetch_sub(monitors.len(), Ordering::Relaxed);
        // In the order they were made (references count up), as Erlang
        // delivers a watcher's several downs of one process.
        let mut monitors: Vec<(u64, u64)> = monitors.into_iter().collect();
        monitors.sort_unstable_by_key(|&(reference, _)| reference);
        for (reference, watcher) in monitors {
            self.send(watcher, down(reference, id, reason));
        }
    }
}

/// The tag of an `exit` message from a link (or `noproc` from `link`).
pub const EXIT_FROM_LINK: u64 = 0;
/// The tag of an `exit` message sent with `process.send-exit`.
pub const EXIT_SENT: u64 = 1;

/// The `exit` message a process that traps exits receives from `from`.
pub fn exit_message<R: Attachment>(from: u64, reason: &ExitReason, linked: bool) -> Message<R> {
    let tag = if linked { EXIT_FROM_LINK } else { EXIT_SENT };
    Message::new(
        MessageKind::Exit,
        from,
        tag,
        reason.encode().into(),
        Vec::new(),
    )
}

pub(crate) fn down<R: Attachment>(reference: u64, process: u64, reason: &ExitReason) -> Message<R> {
    Message::new(
        MessageKind::Down,
        process,
        reference,
        reason.encode().into(),
        Vec::new(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Limits;
    use std::convert::Infallible;
    use std::sync::Arc;

    /// A kernel with room for a few processes, each holding up to
    /// `max_mailbox` bytes.
    fn kernel(max_mailbox: usize) -> Arc<Kernel<Infallible>> {
        Kernel::new(Limits {
            max_processes: 16,
            max_mailbox,
            max_host_memory: 1 << 30,
            worker_threads: 1,
        })
        .unwrap()
    }

    /// A live process in the table with no task: the test acts for it.
    fn entry(k: &Kernel<Infallible>, id: u64) -> Arc<ProcessEntry<Infallible>> {
        assert!(k.reserve());
        let e = Arc::new(ProcessEntry::new(id, k.new_budget()));
        k.processes.insert(id, e.clone());
        e
    }

    /// A link is charged to the process that asked for it (both sides'
    /// records), once however often it asks, until it is undone; past its
    /// budget the link is refused and the other side is charged nothing.
    #[test]
    fn a_link_is_charged_to_the_process_that_asked_until_it_is_undone() {
        let k = kernel(2 * LINK_COST + 10);
        let (a, b) = (entry(&k, 1001), entry(&k, 1002));
        let _c = entry(&k, 1003);
        let _d = entry(&k, 1004);
        k.link(1001, 1002).unwrap();
        k.link(1001, 1002).unwrap();
        assert_eq!((a.budget().held(), b.budget().held()), (LINK_COST, 0));
        k.link(1001, 1003).unwrap();
        assert!(matches!(k.link(1001, 1004), Err(LinkError::Refused(_))));
        k.unlink(1002, 1001);
        assert_eq!(a.budget().held(), LINK_COST);
        k.link(1001, 1004).unwrap();
    }

    /// Linking again to a process linked at its spawn is nothing, even once
    /// it has ended: the exit signal on its way carries its real reason,
    /// and a `noproc` must not overtake it (a supervisor linking a child
    /// its start function spawn-linked took a normal end for a crash).
    #[test]
    fn linking_again_to_a_linked_process_that_ended_is_not_noproc() {
        let k = kernel(1 << 20);
        let (parent, child) = (entry(&k, 2001), entry(&k, 2002));
        k.link_child(parent.id, &child, Charge::none());
        k.exit(&child, &ExitReason::Normal);
        // Its exit signal waits for the parent, which has not handled it.
        assert!(k.link(parent.id, child.id).is_ok());
        // Once handled, the link is gone, and a new one is noproc.
        assert!(parent.take_link(child.id));
        assert!(matches!(
            k.link(parent.id, child.id),
            Err(LinkError::NoProc)
        ));
    }
}
