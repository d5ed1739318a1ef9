//! A process's own side: what only the process itself touches (its
//! mailbox, the monitors it set, the tags it forgot) and what it does
//! through them, with Erlang's rules. The VM's host functions act through
//! it for a wasm process, and [`crate::actor`] for a process written in
//! Rust, so both follow one set of rules.

use crate::budget::{Charge, Refusal};
use crate::links::{exit_message, LinkError, EXIT_FROM_LINK};
use crate::mailbox::Mailbox;
use crate::message::{Attachment, Filter, ForgottenTags, Message, FORGOTTEN_TAG_COST};
use crate::remote::NODE_SHIFT;
use crate::signal::ExitReason;
use crate::sync::lock;
use crate::{Kernel, ProcessEntry};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use vm_abi::MessageKind;

/// What a monitor costs the process that sets it, until its `down` is
/// received or it is removed.
pub const MONITOR_COST: usize = 64;

/// A monitor a process set: on whom, and what it pays for it.
struct Monitor {
    target: u64,
    _charge: Charge,
}

/// The side of a process only the process itself touches.
pub struct Process<R: Attachment> {
    kernel: Arc<Kernel<R>>,
    entry: Arc<ProcessEntry<R>>,
    /// What it took from its inbox and has not received yet.
    mailbox: Mailbox<R>,
    /// Monitors it set, by reference.
    monitors: HashMap<u64, Monitor>,
    /// Tags it forgot (`mailbox.forget-tag`); boxed, as few processes do.
    forgotten: Option<Box<ForgottenTags>>,
}

impl<R: Attachment> Process<R> {
    /// The own side of the process `entry`, which has received nothing;
    /// one per process, made by the process's task (two would share the
    /// inbox's messages between them).
    pub fn new(kernel: Arc<Kernel<R>>, entry: Arc<ProcessEntry<R>>) -> Process<R> {
        Process {
            kernel,
            entry,
            mailbox: Mailbox::default(),
            monitors: HashMap::new(),
            forgotten: None,
        }
    }

    /// The process's id.
    pub fn id(&self) -> u64 {
        self.entry.id
    }

    /// The part of the process others reach.
    pub fn entry(&self) -> &Arc<ProcessEntry<R>> {
        &self.entry
    }

    /// The kernel the process lives in.
    pub fn kernel(&self) -> &Arc<Kernel<R>> {
        &self.kernel
    }

    /// Links to `target`, paying for both sides' records. If `target` has
    /// ended, a process that traps exits hears of it as an exit message
    /// (`noproc`) and the link is `Ok`, as in OTP; otherwise `NoProc`.
    pub fn link(&self, target: u64) -> Result<(), LinkError> {
        match self.kernel.link(self.entry.id, target) {
            Err(LinkError::NoProc) if self.entry.traps_exits() => {
                let noproc = exit_message(target, &ExitReason::NoProc, true);
                self.entry.inbox.push(noproc);
                Ok(())
            }
            other => other,
        }
    }

    /// Removes the link to `target`: an exit from it still on its way, or
    /// already queued as a message, is dropped (exits sent with
    /// `send-exit` are not the link's and stay).
    pub fn unlink(&mut self, target: u64) {
        self.kernel.unlink(self.entry.id, target);
        self.mailbox.purge(&self.entry.inbox, |m| {
            m.kind == MessageKind::Exit && m.sender == target && m.tag == EXIT_FROM_LINK
        });
    }

    /// Monitors `target`, paying [`MONITOR_COST`] until the `down` is
    /// received or the monitor removed; its reference. A target that has
    /// ended sends its `down` (`noproc`) at once.
    pub fn monitor(&mut self, target: u64) -> Result<u64, Refusal> {
        let charge = self.entry.budget().charge(MONITOR_COST)?;
        let reference = self.kernel.fresh_ref();
        self.monitors.insert(
            reference,
            Monitor {
                target,
                _charge: charge,
            },
        );
        self.kernel.monitor(self.entry.id, target, reference);
        Ok(reference)
    }

    /// Monitors node `node` (ABI 1.8 `node.monitor-node`), paying
    /// [`MONITOR_COST`] as for a process; its reference. Its `down` comes
    /// from the node's own id (`node << 48`), reason `noconnection`: when
    /// the node goes down, or at once if it is not up.
    pub fn monitor_node(&mut self, node: u16) -> Result<u64, Refusal> {
        let charge = self.entry.budget().charge(MONITOR_COST)?;
        let reference = self.kernel.fresh_ref();
        self.monitors.insert(
            reference,
            Monitor {
                target: u64::from(node) << NODE_SHIFT,
                _charge: charge,
            },
        );
        self.kernel.monitor_node(&self.entry, node, reference);
        Ok(reference)
    }

    /// Removes the monitor `reference`, on a process or a node; its
    /// `down`, if on its way or queued, is never received.
    pub fn demonitor(&mut self, reference: u64) {
        if let Some(monitor) = self.monitors.remove(&reference) {
            if monitor.target & ((1 << NODE_SHIFT) - 1) == 0 {
                // A node's own id: a node monitor.
                lock(&self.entry.relations).node_monitors.remove(&reference);
                self.kernel.demonitor_nodes(&[reference]);
            } else {
                self.kernel.demonitor(monitor.target, reference);
            }
            self.mailbox.purge(&self.entry.inbox, |m| {
                m.kind == MessageKind::Down && m.tag == reference
            });
        }
    }

    /// Forgets `tag` (an Erlang alias deactivated): a data message with it,
    /// queued or arriving later, is dropped.
    pub fn forget_tag(&mut self, tag: u64) -> Result<(), Refusal> {
        let charge = self.entry.budget().charge(FORGOTTEN_TAG_COST)?;
        let forgotten = self.forgotten.get_or_insert_with(Default::default);
        forgotten.forget(tag, charge);
        self.mailbox
            .purge(&self.entry.inbox, |m| forgotten.drops(m));
        Ok(())
    }

    /// Waits for the oldest message `filter` accepts; `None` on timeout.
    /// Exit signals that arrived before are received first (as messages,
    /// when the process traps exits); a `down` of a monitor the process no
    /// longer holds, and a data message with a forgotten tag, are dropped
    /// on the way. A `down` received ends its monitor.
    pub async fn receive(
        &mut self,
        filter: &Filter,
        timeout: Option<Duration>,
    ) -> Option<Message<R>> {
        self.entry.trap_waiting_exits();
        let (monitors, forgotten) = (&self.monitors, self.forgotten.as_deref());
        let stale = |m: &Message<R>| never_received(monitors, forgotten, m);
        let received = self
            .mailbox
            .receive(&self.entry.inbox, filter, stale, timeout)
            .await;
        if let Some(m) = &received {
            if m.kind == MessageKind::Down {
                // Delivered: the monitor has done its work (and its charge
                // is given back).
                self.monitors.remove(&m.tag);
            }
        }
        received
    }

    /// Queues `m` before every other message (a woken process's init
    /// message).
    pub fn push_front(&mut self, m: Message<R>) {
        self.mailbox.push_front(m);
    }

    /// Removes queued messages (and those waiting in the inbox) for which
    /// `remove` is true.
    pub fn purge(&mut self, remove: impl Fn(&Message<R>) -> bool) {
        self.mailbox.purge(&self.entry.inbox, remove);
    }

    /// Whether a message a receive would return is queued: what wakes a
    /// hibernated process (a stale `down` does not, and is dropped).
    pub fn has_receivable(&mut self) -> bool {
        let (monitors, forgotten) = (&self.monitors, self.forgotten.as_deref());
        self.mailbox.purge(&self.entry.inbox, |m| {
            never_received(monitors, forgotten, m)
        });
        self.mailbox.has_any(&self.entry.inbox)
    }
}

/// A process that ends takes its monitors off their targets, so a
/// long-lived target does not keep a record per watcher that ever watched
/// it.
impl<R: Attachment> Drop for Process<R> {
    fn drop(&mut self) {
        for (reference, m) in self.monitors.drain() {
            self.kernel.demonitor(m.target, reference);
        }
    }
}

/// Whether a queued message is one no receive returns, and which is
/// dropped instead: a `down` of a monitor the process no longer holds
/// (demonitored while the down was on its way), or a data message with a
/// tag it forgot.
fn never_received<R>(
    monitors: &HashMap<u64, Monitor>,
    forgotten: Option<&ForgottenTags>,
    m: &Message<R>,
) -> bool {
    (m.kind == MessageKind::Down && !monitors.contains_key(&m.tag))
        || forgotten.is_some_and(|f| f.drops(m))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signal::Control;
    use crate::Limits;
    use std::convert::Infallible;

    fn kernel() -> Arc<Kernel<Infallible>> {
        Kernel::new(Limits {
            max_processes: 16,
            max_mailbox: 1 << 20,
            max_host_memory: 1 << 30,
            worker_threads: 1,
        })
        .unwrap()
    }

    /// A live process in the table with no task: the test acts for it.
    fn process(k: &Arc<Kernel<Infallible>>, id: u64) -> Process<Infallible> {
        assert!(k.reserve());
        let e = Arc::new(ProcessEntry::new(id, k.new_budget()));
        k.processes.insert(id, e.clone());
        Process::new(k.clone(), e)
    }

    fn exit(from: u64, reason: ExitReason, linked: bool) -> Control {
        Control::Exit {
            from,
            reason,
            linked,
            charge: Charge::none(),
        }
    }

    /// Erlang's rules for a signal's receiver: a kill ends it whatever it
    /// traps; `normal` from another process is ignored, from itself ends
    /// it; an exit over a link undone since is dropped; a trapping
    /// receiver gets a message instead.
    #[test]
    fn a_signal_is_judged_by_its_receiver() {
        let k = kernel();
        let mut p = process(&k, 1);
        let e = p.entry().clone();
        assert_eq!(e.handle_signal(Control::Kill), Some(ExitReason::Killed));
        assert_eq!(e.handle_signal(exit(2, ExitReason::Normal, false)), None);
        assert_eq!(
            e.handle_signal(exit(1, ExitReason::Normal, false)),
            Some(ExitReason::Normal)
        );
        let boom = ExitReason::Exit("boom".into());
        // Linked once, unlinked since: the exit on its way is dropped.
        assert_eq!(e.handle_signal(exit(2, boom.clone(), true)), None);
        assert_eq!(
            e.handle_signal(exit(2, boom.clone(), false)),
            Some(boom.clone())
        );
        assert!(!p.has_receivable());
        e.set_trap_exits(true);
        assert_eq!(e.handle_signal(exit(2, boom.clone(), false)), None);
        assert!(p.has_receivable(), "a trapped exit is a message");
        assert_eq!(e.handle_signal(Control::Kill), Some(ExitReason::Killed));
    }

    /// After `unlink`, nothing from the link arrives, even an exit already
    /// queued as a message; an exit sent with `send-exit` stays.
    #[tokio::test]
    async fn unlink_drops_an_exit_from_the_link_already_queued() {
        let k = kernel();
        let mut a = process(&k, 1);
        let b = process(&k, 2);
        a.entry().set_trap_exits(true);
        a.link(2).unwrap();
        k.send_exit(2, 1, ExitReason::Exit("sent".into()));
        k.exit(b.entry(), &ExitReason::Exit("linked".into()));
        drop(b);
        a.unlink(2);
        let m = a
            .receive(&Filter::any(), Some(Duration::ZERO))
            .await
            .unwrap();
        assert_eq!(
            (m.kind, ExitReason::decode(&m.data)),
            (MessageKind::Exit, Some(ExitReason::Exit("sent".into())))
        );
        assert!(a
            .receive(&Filter::any(), Some(Duration::ZERO))
            .await
            .is_none());
    }

    /// A `down` of a monitor removed while it was on its way is never
    /// received, nor does it wake a hibernated process; a received `down`
    /// ends its monitor and gives back its charge.
    #[tokio::test]
    async fn a_down_is_received_only_while_its_monitor_stands() {
        let k = kernel();
        let mut w = process(&k, 1);
        let (t1, t2) = (process(&k, 2), process(&k, 3));
        let held = w.entry().budget().held();
        let stale = w.monitor(2).unwrap();
        let kept = w.monitor(3).unwrap();
        k.exit(t1.entry(), &ExitReason::Normal);
        k.exit(t2.entry(), &ExitReason::Normal);
        // Both downs are queued; the first monitor goes.
        w.monitors.remove(&stale);
        let m = w
            .receive(&Filter::any(), Some(Duration::ZERO))
            .await
            .unwrap();
        assert_eq!((m.kind, m.tag), (MessageKind::Down, kept));
        drop(m);
        assert!(!w.has_receivable());
        assert_eq!(w.entry().budget().held(), held);
    }
}
