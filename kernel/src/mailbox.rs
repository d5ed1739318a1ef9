//! A process's mailbox: a bounded queue of messages with selective
//! receive, and the signals (kill, link exits) that act on the process itself.
//!
//! Senders push into the process's [`Inbox`], which lives in its shared
//! [`crate::ProcessEntry`]; the process owns a [`Mailbox`], which moves
//! what arrived into its own queue a batch at a time and keeps messages a
//! selective receive skipped, in arrival order, so a later receive finds them
//! first (Erlang's save queue).
//!
//! One lock and one waker serve both messages and signals: an idle process
//! costs an empty queue and no allocation, and a send wakes the process's
//! task only when it is waiting.
//!
//! A mailbox is bounded: each message carries a [`Charge`](crate::Charge) of
//! [`Message::cost`] against its receiver's [`Budget`] (`--max-mailbox`)
//! from when it arrives until it is received and replaced by the next one
//! (a timer's message is charged to its setter until it fires, a capture to
//! its spawner until the child takes it). The send that would pass the
//! receiver's limit succeeds, as every send does (Erlang semantics), but its
//! message is dropped and the receiver ends with a trap reason naming the
//! limit, as Erlang's `max_heap_size` kills a process whose queue outgrew its
//! heap. From then on, messages to it are dropped until it is gone. A guest's
//! send that would pass the VM's bound (`--max-host-memory`) is refused to
//! the sender instead, and the receiver is untouched.

use crate::budget::{Budget, Refusal};
use crate::message::{Attachment, Filter, Message};
use crate::signal::Control;
use crate::sync::lock;
use std::collections::VecDeque;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use tokio::time::Sleep;

/// The sending side of a process's mailbox, shared by everyone who can
/// reach the process.
pub struct Inbox<R> {
    state: Mutex<InboxState<R>>,
    /// What the host holds for the process: its messages (here and in its
    /// [`Mailbox`]) and signals, and whatever else it asked for.
    pub budget: Arc<Budget>,
}

/// A guest's message the VM's bound refused: given back to its sender,
/// whose handles it carries.
pub struct Refused<R> {
    /// The message, as it was sent.
    pub message: Message<R>,
    /// Which bound refused it.
    pub refusal: Refusal,
}

struct InboxState<R> {
    messages: VecDeque<Message<R>>,
    signals: VecDeque<Control>,
    /// The process's task, while it waits; taken by the first push.
    waker: Option<Waker>,
    /// The mailbox overflowed: the process is ending, and messages to it
    /// are dropped.
    overflowed: bool,
}

impl<R> Default for InboxState<R> {
    fn default() -> Self {
        InboxState {
            messages: VecDeque::new(),
            signals: VecDeque::new(),
            waker: None,
            overflowed: false,
        }
    }
}

impl<R: Attachment> Inbox<R> {
    /// An empty inbox whose process pays with `budget`.
    pub fn new(budget: Arc<Budget>) -> Inbox<R> {
        Inbox {
            state: Mutex::new(InboxState::default()),
            budget,
        }
    }

    /// Queues one of the VM's own messages (a `down`, an exit, a timer that
    /// fired), charged to the receiver, and wakes the process if it waits.
    pub fn push(&self, m: Message<R>) {
        if let Ok(Some(w)) = self.enqueue(m, false) {
            w.wake();
        }
    }

    /// Charges the receiver for `m` and queues it; returns the waker to call
    /// if the process waits, for a caller that holds another lock. A message
    /// that would take the receiver past its limit is dropped and ends the
    /// receiver instead. `sent_by_guest`: a guest's send, which is given
    /// back if it would take the VM past its bound.
    pub fn enqueue(
        &self,
        mut m: Message<R>,
        sent_by_guest: bool,
    ) -> Result<Option<Waker>, Box<Refused<R>>> {
        let mut s = lock(&self.state);
        if s.overflowed {
            return Ok(None);
        }
        match self.budget.charge_receiver(m.cost(), sent_by_guest) {
            Ok(charge) => m.charge = charge,
            Err(refusal @ (Refusal::Host { .. } | Refusal::Wire { .. })) => {
                return Err(Box::new(Refused {
                    message: m,
                    refusal,
                }))
            }
            Err(Refusal::Process { held, limit }) => {
                Self::overflow(&mut s, held, limit);
                return Ok(s.waker.take());
            }
        }
        Self::append(&mut s, m);
        Ok(s.waker.take())
    }

    /// Queues a message someone else already pays for (a capture, charged
    /// to its spawner until the child takes it).
    pub fn push_charged(&self, m: Message<R>) {
        let waker = {
            let mut s = lock(&self.state);
            if s.overflowed {
                return;
            }
            Self::append(&mut s, m);
            s.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// The first time the process's budget overflows, signals it to end.
    fn overflow(s: &mut InboxState<R>, held: usize, limit: usize) {
        if !s.overflowed {
            s.overflowed = true;
            s.signals.push_back(Control::MailboxFull { held, limit });
        }
    }

    fn append(s: &mut InboxState<R>, m: Message<R>) {
        if s.messages.capacity() == 0 {
            // Room for one: many processes only ever get their init message,
            // and the queue's buffer stays with the process.
            s.messages.reserve_exact(1);
        }
        s.messages.push_back(m);
    }

    /// Queues a signal for the process's task and wakes it. An exit
    /// signal waits in the queue at the receiver's cost, as a message does:
    /// one that would pass its limit ends it the same way.
    pub fn signal(&self, mut c: Control) {
        let waker = {
            let mut s = lock(&self.state);
            // A process that is ending (or already killed) needs no other
            // kill: repeated kills cost nothing.
            if matches!(c, Control::Kill)
                && (s.overflowed || s.signals.iter().any(|q| matches!(q, Control::Kill)))
            {
                return;
            }
            if let Control::Exit { reason, charge, .. } = &mut c {
                let cost = std::mem::size_of::<Control>() + reason.text().len();
                match self.budget.charge_receiver(cost, false) {
                    Ok(c) => *charge = c,
                    Err(Refusal::Process { held, limit }) => {
                        Self::overflow(&mut s, held, limit);
                        return;
                    }
                    Err(Refusal::Host { .. } | Refusal::Wire { .. }) => {
                        unreachable!("the VM's signals are never refused")
                    }
                }
            }
            s.signals.push_back(c);
            s.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// The next signal; otherwise registers the task to be woken by the next
    /// push. The process's task calls this each time it is polled, before it
    /// runs the process, so no push can go unnoticed.
    pub fn poll_signal(&self, cx: &mut Context<'_>) -> Poll<Control> {
        let mut s = lock(&self.state);
        if let Some(c) = s.signals.pop_front() {
            return Poll::Ready(c);
        }
        match &mut s.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            slot => *slot = Some(cx.waker().clone()),
        }
        Poll::Pending
    }

    /// Takes the queued exit signals out (leaving kills and the like for
    /// the process's task), in order.
    pub fn take_exit_signals(&self) -> Vec<Control> {
        let mut s = lock(&self.state);
        if !s.signals.iter().any(|c| matches!(c, Control::Exit { .. })) {
            return Vec::new();
        }
        let (exits, others): (VecDeque<Control>, VecDeque<Control>) = s
            .signals
            .drain(..)
            .partition(|c| matches!(c, Control::Exit { .. }));
        s.signals = others;
        exits.into()
    }

    /// Drops everything queued for a process that has ended (and whatever
    /// would arrive later), so that their charges are given back before
    /// anyone hears of the end.
    pub fn close(&self) {
        let (messages, signals) = {
            let mut s = lock(&self.state);
            s.overflowed = true;
            (
                std::mem::take(&mut s.messages),
                std::mem::take(&mut s.signals),
            )
        };
        drop((messages, signals));
    }

    /// Moves every queued message to the back of `into`.
    fn drain_into(&self, into: &mut VecDeque<Message<R>>) {
        let mut s = lock(&self.state);
        Self::drain_locked(&mut s, into);
    }

    /// [`Inbox::drain_into`], unless a signal waits for the process's task
    /// (a kill, an exit): then false, and nothing moves. Checked under the
    /// lock the drain takes, so every message moved arrived before any
    /// signal still to come.
    fn drain_unless_signalled(&self, into: &mut VecDeque<Message<R>>) -> bool {
        let mut s = lock(&self.state);
        if !s.signals.is_empty() {
            return false;
        }
        Self::drain_locked(&mut s, into);
        true
    }

    fn drain_locked(s: &mut InboxState<R>, into: &mut VecDeque<Message<R>>) {
        if into.is_empty() {
            std::mem::swap(into, &mut s.messages);
            shrink_if_empty(&mut s.messages);
        } else {
            into.append(&mut s.messages);
        }
    }
}

/// A receive found a signal waiting for the process's task.
struct Signalled;

/// Gives back the buffer of a queue that emptied after holding many
/// messages: the messages were charged, their slots are not, so a process
/// that once queued a budget's worth must not keep the room for them.
fn shrink_if_empty<R>(q: &mut VecDeque<Message<R>>) {
    if q.is_empty() && q.capacity() > 64 {
        *q = VecDeque::new();
    }
}

/// The receiving side, owned by the process: what has been taken from the
/// inbox and not yet received.
pub struct Mailbox<R> {
    queue: VecDeque<Message<R>>,
}

impl<R> Default for Mailbox<R> {
    fn default() -> Self {
        Mailbox {
            queue: VecDeque::new(),
        }
    }
}

impl<R: Attachment> Mailbox<R> {
    /// Waits for the oldest message the filter accepts; `None` on timeout.
    /// Messages `stale` picks out on the way (a `down` for a monitor the
    /// process no longer holds) are dropped: the receiver decides what it
    /// still wants.
    ///
    /// Wake-ups come from the process's task registering with the inbox on
    /// every poll ([`Inbox::poll_signal`]).
    pub async fn receive(
        &mut self,
        inbox: &Inbox<R>,
        filter: &Filter,
        stale: impl Fn(&Message<R>) -> bool,
        timeout: Option<Duration>,
    ) -> Option<Message<R>> {
        // Messages before `scanned` were already found not to match.
        let mut scanned = 0;
        // The timer starts only if the process has to wait. It is boxed: a
        // process waits in this future for as long as it is idle, and most
        // receives have no timeout, so the 112-byte timer stays out of it.
        let mut sleep: Option<Pin<Box<Sleep>>> = None;
        poll_fn(|cx| {
            match self.take_matching(inbox, filter, &stale, &mut scanned) {
                Ok(Some(m)) => return Poll::Ready(Some(m)),
                Ok(None) => {}
                // A signal arrived first: the process's task handles it
                // before this receive goes on (a killed process takes no
                // message sent after the kill, as in Erlang, where a
                // process handles its signals in the order they came).
                Err(Signalled) => {
                    cx.waker().wake_by_ref();
                    return Poll::Pending;
                }
            }
            let sleep = match (&mut sleep, timeout) {
                (Some(s), _) => s,
                (None, None) => return Poll::Pending,
                (None, Some(Duration::ZERO)) => return Poll::Ready(None),
                (slot @ None, Some(t)) => slot.insert(Box::pin(tokio::time::sleep(t))),
            };
            sleep.as_mut().poll(cx).map(|()| None)
        })
        .await
    }

    fn take_matching(
        &mut self,
        inbox: &Inbox<R>,
        filter: &Filter,
        stale: &impl Fn(&Message<R>) -> bool,
        scanned: &mut usize,
    ) -> Result<Option<Message<R>>, Signalled> {
        // What was drained before came before any signal now waiting (a
        // drain happens only when none waits), so it may be taken without
        // a look at the inbox (as Erlang matches its private queue before
        // it fetches more signals); only then the inbox, unless a signal
        // waits there.
        let mut drained = false;
        loop {
            let mut at = *scanned;
            while let Some(m) = self.queue.get(at) {
                let (take, keep) = if stale(m) {
                    (false, false)
                } else {
                    (filter.accepts(m), true)
                };
                if take || !keep {
                    let m = match at {
                        0 => self.queue.pop_front(),
                        _ => self.queue.remove(at),
                    }
                    .expect("the message was just looked at");
                    shrink_if_empty(&mut self.queue);
                    if take {
                        *scanned = at;
                        return Ok(Some(m));
                    }
                } else {
                    at += 1;
                }
            }
            *scanned = self.queue.len();
            if drained {
                return Ok(None);
            }
            let before = self.queue.len();
            if !inbox.drain_unless_signalled(&mut self.queue) {
                return Err(Signalled);
            }
            if self.queue.len() == before {
                return Ok(None);
            }
            drained = true;
        }
    }

    /// Whether a message is queued (taking what the inbox holds): what
    /// wakes a hibernated process.
    pub fn has_any(&mut self, inbox: &Inbox<R>) -> bool {
        inbox.drain_into(&mut self.queue);
        !self.queue.is_empty()
    }

    /// Queues `m` before every other message (a woken process's init
    /// message, still charged as its hibernation state was).
    pub fn push_front(&mut self, m: Message<R>) {
        self.queue.push_front(m);
    }

    /// Removes queued messages for which `remove` is true.
    pub fn purge(&mut self, inbox: &Inbox<R>, remove: impl Fn(&Message<R>) -> bool) {
        inbox.drain_into(&mut self.queue);
        self.queue.retain(|m| !remove(m));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::budget::{Charge, HostBudget};
    use crate::message::Payload;
    use crate::signal::ExitReason;
    use std::convert::Infallible;

    fn exit_signal(text: &str) -> Control {
        Control::Exit {
            from: 1,
            reason: ExitReason::Exit(text.into()),
            linked: false,
            charge: Charge::none(),
        }
    }

    /// Exit signals waiting for their target are charged to it: a flood of
    /// them ends the target as a flood of messages would, and nothing
    /// passes its limit meanwhile.
    #[test]
    fn exit_signals_waiting_for_their_target_are_charged_and_bounded() {
        let host = HostBudget::new(1 << 30);
        let inbox = Inbox::<Infallible>::new(Budget::new(64 << 10, &host));
        for _ in 0..1000 {
            inbox.signal(exit_signal(&"x".repeat(1000)));
            assert!(inbox.budget.held() <= 64 << 10);
        }
        let s = lock(&inbox.state);
        assert!(s.overflowed);
        assert!(s.signals.len() < 100, "{} signals queued", s.signals.len());
        assert!(matches!(
            s.signals.back(),
            Some(Control::MailboxFull { limit, .. }) if *limit == 64 << 10
        ));
        drop(s);
        inbox.close();
        assert_eq!(host.held(), 0);
    }

    /// A guest's message past the VM's bound comes back to its sender, and
    /// the receiver carries on.
    #[test]
    fn a_send_past_the_vm_bound_is_given_back_and_the_receiver_is_untouched() {
        let host = HostBudget::new(10_000);
        let inbox = Inbox::<Infallible>::new(Budget::new(1 << 20, &host));
        let big = Message::data(1, 7, Payload::from_slice(&[0; 20_000]), Vec::new());
        let refused = inbox.enqueue(big, true).unwrap_err();
        assert_eq!(refused.message.data.len(), 20_000);
        assert!(matches!(refused.refusal, Refusal::Host { .. }));
        assert!(!lock(&inbox.state).overflowed);
        let small = Message::data(1, 7, Payload::from_slice(&[0; 100]), Vec::new());
        assert!(inbox.enqueue(small, true).is_ok());
        assert!(host.held() > 100);
    }
}
