//! A process's own side: what only the process itself touches (its
//! mailbox, the monitors it set, the tags it forgot) and what it does
//! through them, with Erlang's rules. The VM's host functions act through
//! it for a wasm process, and [`crate::actor`] for a process written in
//! Rust, so both follow one set of rules.

use crate::budget::{Charge, Refusal};
use crate::links::{exit_message, LinkError, EXIT_FROM_LINK};
use crate::mailbox::{Attachment, Filter, ForgottenTags, Mailbox, Message, FORGOTTEN_TAG_COST};
use crate::signal::ExitReason;
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
    pub mailbox: Mailbox<R>,
    /// Monitors it set, by reference.
    monitors: HashMap<u64, Monitor>,
    /// Tags it forgot (`mailbox.forget-tag`); boxed, as few processes do.
    forgotten: Option<Box<ForgottenTags>>,
}

impl<R: Attachment> Process<R> {
    /// The own side of the process `entry`, which has received nothing.
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

    /// Removes the monitor `reference`; its `down`, if on its way or
    /// queued, is never received.
    pub fn demonitor(&mut self, reference: u64) {
        if let Some(monitor) = self.monitors.remove(&reference) {
            self.kernel.demonitor(monitor.target, reference);
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
