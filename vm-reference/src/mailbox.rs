//! A process's mailbox: a bounded queue of messages with selective
//! receive, and the signals (kill, link exits) that act on the process itself.
//!
//! Senders push into the process's [`Inbox`], which lives in its shared
//! [`crate::node::ProcessEntry`]; the process owns a [`Mailbox`], which moves
//! what arrived into its own queue a batch at a time and keeps messages a
//! selective receive skipped, in arrival order, so a later receive finds them
//! first (Erlang's save queue).
//!
//! One lock and one waker serve both messages and signals: an idle process
//! costs an empty queue and no allocation, and a send wakes the process's
//! task only when it is waiting.
//!
//! A mailbox is bounded (`--max-mailbox`): what its messages hold, counted
//! by [`Message::cost`] from when they are sent (or a timer is set for them)
//! until they are received, may not pass the limit. The send that would
//! pass it succeeds, as every send does (Erlang semantics), but its message
//! is dropped and the receiver ends with a trap reason naming the limit, as
//! Erlang's `max_heap_size` kills a process whose queue outgrew its heap.
//! From then on, messages to it are dropped until it is gone.

use crate::handle::Resource;
use crate::signal::Control;
use crate::sync::lock;
use std::collections::VecDeque;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use tokio::time::Sleep;
use vm_abi::{message_kinds, MessageKind};

/// A message's bytes: up to 32 are kept inline, so the small messages
/// processes mostly exchange cost no allocation of their own.
pub(crate) type Payload = smallvec::SmallVec<[u8; 32]>;

/// A message: a kind, a tag, the sender, bytes, and moved resources.
#[derive(Debug)]
pub(crate) struct Message {
    pub kind: MessageKind,
    pub tag: u64,
    pub sender: u64,
    pub data: Payload,
    pub resources: Vec<Resource>,
}

/// What a queued handle counts against its receiver's mailbox limit, beyond
/// its share of the message: the host's bookkeeping for it.
const HANDLE_COST: usize = 64;

impl Message {
    /// What the message counts against its receiver's mailbox limit: its
    /// bytes, the host's record of it, and its handles. A process's init
    /// message counts nothing: there is one, and its parent's memory limit
    /// bounds it.
    pub fn cost(&self) -> usize {
        match self.kind {
            MessageKind::Init => 0,
            _ => {
                std::mem::size_of::<Message>()
                    + self.data.len()
                    + self.resources.len() * (std::mem::size_of::<Resource>() + HANDLE_COST)
            }
        }
    }

    pub fn data(sender: u64, tag: u64, data: Payload, resources: Vec<Resource>) -> Message {
        Message {
            kind: MessageKind::Data,
            tag,
            sender,
            data,
            resources,
        }
    }
}

/// What a receive accepts.
#[derive(Debug, Clone, Default)]
pub(crate) struct Filter {
    /// Accepted tags; empty accepts any.
    pub tags: Vec<u64>,
    /// Accepted kinds, as `message-kinds` flags.
    pub kinds: u8,
}

impl Filter {
    fn accepts(&self, m: &Message) -> bool {
        let bit = match m.kind {
            MessageKind::Data => message_kinds::DATA,
            MessageKind::Exit => message_kinds::EXIT,
            MessageKind::Down => message_kinds::DOWN,
            MessageKind::Init => message_kinds::INIT,
        };
        self.kinds & bit != 0 && (self.tags.is_empty() || self.tags.contains(&m.tag))
    }
}

/// The sending side of a process's mailbox, shared by everyone who can
/// reach the process.
#[derive(Default)]
pub(crate) struct Inbox {
    state: Mutex<InboxState>,
    /// What the process's unreceived messages and pending timers hold
    /// ([`Message::cost`]), here and in its [`Mailbox`]. Only senders, under
    /// the lock, add to it; the process subtracts what it receives.
    held: AtomicUsize,
}

#[derive(Default)]
struct InboxState {
    messages: VecDeque<Message>,
    signals: VecDeque<Control>,
    /// The process's task, while it waits; taken by the first push.
    waker: Option<Waker>,
    /// The mailbox overflowed: the process is ending, and messages to it
    /// are dropped.
    overflowed: bool,
}

impl Inbox {
    /// Queues a message (dropping it if the mailbox overflows) and wakes the
    /// process if it waits.
    pub fn push(&self, m: Message, limit: usize) {
        if let Some(w) = self.enqueue(m, limit) {
            w.wake();
        }
    }

    /// Queues a message and returns the waker to call if the process waits,
    /// for a caller that holds another lock. A message that would take the
    /// mailbox past `limit` bytes is dropped and ends the process instead.
    #[must_use]
    pub fn enqueue(&self, m: Message, limit: usize) -> Option<Waker> {
        let mut s = lock(&self.state);
        if !self.charge(&mut s, m.cost(), limit) {
            return s.waker.take();
        }
        Self::append(&mut s, m);
        s.waker.take()
    }

    /// Counts `cost` against the mailbox for a message that will arrive
    /// later (a timer's); false if it does not fit, which ends the process.
    pub fn reserve(&self, cost: usize, limit: usize) -> bool {
        let mut s = lock(&self.state);
        let fits = self.charge(&mut s, cost, limit);
        let waker = if fits { None } else { s.waker.take() };
        drop(s);
        if let Some(w) = waker {
            w.wake();
        }
        fits
    }

    /// Takes back what [`Inbox::reserve`] counted, for a message that will
    /// not arrive after all.
    pub fn release(&self, cost: usize) {
        self.held.fetch_sub(cost, Ordering::Relaxed);
    }

    /// Queues a message already counted by [`Inbox::reserve`], and wakes the
    /// process if it waits.
    pub fn push_reserved(&self, m: Message) {
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

    /// Counts `cost` against the mailbox if it fits under `limit`. The first
    /// time it does not, signals the process to end; false then and after.
    fn charge(&self, s: &mut InboxState, cost: usize, limit: usize) -> bool {
        if s.overflowed {
            return false;
        }
        let held = self.held.load(Ordering::Relaxed);
        if held + cost <= limit {
            self.held.fetch_add(cost, Ordering::Relaxed);
            return true;
        }
        s.overflowed = true;
        s.signals.push_back(Control::MailboxFull {
            held: held + cost,
            limit,
        });
        false
    }

    fn append(s: &mut InboxState, m: Message) {
        if s.messages.capacity() == 0 {
            // Room for one: many processes only ever get their init message,
            // and the queue's buffer stays with the process.
            s.messages.reserve_exact(1);
        }
        s.messages.push_back(m);
    }

    /// Queues a signal for the process's task and wakes it.
    pub fn signal(&self, c: Control) {
        let waker = {
            let mut s = lock(&self.state);
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

    /// Moves every queued message to the back of `into`.
    fn drain_into(&self, into: &mut VecDeque<Message>) {
        let mut s = lock(&self.state);
        if into.is_empty() {
            std::mem::swap(into, &mut s.messages);
        } else {
            into.append(&mut s.messages);
        }
    }
}

/// The receiving side, owned by the process: what has been taken from the
/// inbox and not yet received.
#[derive(Default)]
pub(crate) struct Mailbox {
    queue: VecDeque<Message>,
}

impl Mailbox {
    /// Waits for the oldest message the filter accepts; `None` on timeout.
    /// Messages `stale` picks out on the way (a `down` for a monitor the
    /// process no longer holds) are dropped: the receiver decides what it
    /// still wants.
    ///
    /// Wake-ups come from the process's task registering with the inbox on
    /// every poll ([`Inbox::poll_signal`]).
    pub async fn receive(
        &mut self,
        inbox: &Inbox,
        filter: &Filter,
        stale: impl Fn(&Message) -> bool,
        timeout: Option<Duration>,
    ) -> Option<Message> {
        // Messages before `scanned` were already found not to match.
        let mut scanned = 0;
        // The timer starts only if the process has to wait. It is boxed: a
        // process waits in this future for as long as it is idle, and most
        // receives have no timeout, so the 112-byte timer stays out of it.
        let mut sleep: Option<Pin<Box<Sleep>>> = None;
        poll_fn(|cx| {
            if let Some(m) = self.take_matching(inbox, filter, &stale, &mut scanned) {
                return Poll::Ready(Some(m));
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
        inbox: &Inbox,
        filter: &Filter,
        stale: &impl Fn(&Message) -> bool,
        scanned: &mut usize,
    ) -> Option<Message> {
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
                    inbox.release(m.cost());
                    if take {
                        *scanned = at;
                        return Some(m);
                    }
                } else {
                    at += 1;
                }
            }
            *scanned = self.queue.len();
            let before = self.queue.len();
            inbox.drain_into(&mut self.queue);
            if self.queue.len() == before {
                return None;
            }
        }
    }

    /// Whether a message is queued (taking what the inbox holds): what
    /// wakes a hibernated process.
    pub fn has_any(&mut self, inbox: &Inbox) -> bool {
        inbox.drain_into(&mut self.queue);
        !self.queue.is_empty()
    }

    /// Queues `m` before every other message (a woken process's init
    /// message), counting it against the mailbox as a send does; false
    /// (and `m` dropped) if that would take it past `limit` bytes.
    pub fn push_front(&mut self, inbox: &Inbox, m: Message, limit: usize) -> bool {
        if !inbox.reserve(m.cost(), limit) {
            return false;
        }
        self.queue.push_front(m);
        true
    }

    /// Removes queued messages for which `remove` is true.
    pub fn purge(&mut self, inbox: &Inbox, remove: impl Fn(&Message) -> bool) {
        inbox.drain_into(&mut self.queue);
        self.queue.retain(|m| {
            let purged = remove(m);
            if purged {
                inbox.release(m.cost());
            }
            !purged
        });
    }
}
