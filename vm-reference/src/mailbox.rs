//! A process's mailbox: an unbounded queue of messages with selective
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

use crate::handle::Resource;
use crate::node::lock;
use crate::process::Control;
use std::collections::VecDeque;
use std::future::{poll_fn, Future};
use std::pin::Pin;
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

impl Message {
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
}

#[derive(Default)]
struct InboxState {
    messages: VecDeque<Message>,
    signals: VecDeque<Control>,
    /// The process's task, while it waits; taken by the first push.
    waker: Option<Waker>,
}

impl Inbox {
    /// Queues a message and wakes the process if it waits.
    pub fn push(&self, m: Message) {
        if let Some(w) = self.enqueue(m) {
            w.wake();
        }
    }

    /// Queues a message and returns the waker to call if the process waits,
    /// for a caller that holds another lock.
    #[must_use]
    pub fn enqueue(&self, m: Message) -> Option<Waker> {
        let mut s = lock(&self.state);
        if s.messages.capacity() == 0 {
            // Room for one: many processes only ever get their init message,
            // and the queue's buffer stays with the process.
            s.messages.reserve_exact(1);
        }
        s.messages.push_back(m);
        s.waker.take()
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
    ///
    /// Wake-ups come from the process's task registering with the inbox on
    /// every poll ([`Inbox::poll_signal`]).
    pub async fn receive(
        &mut self,
        inbox: &Inbox,
        filter: &Filter,
        timeout: Option<Duration>,
    ) -> Option<Message> {
        // Messages before `scanned` were already found not to match.
        let mut scanned = 0;
        // The timer starts only if the process has to wait. It is boxed: a
        // process waits in this future for as long as it is idle, and most
        // receives have no timeout, so the 112-byte timer stays out of it.
        let mut sleep: Option<Pin<Box<Sleep>>> = None;
        poll_fn(|cx| {
            if let Some(m) = self.take_matching(inbox, filter, &mut scanned) {
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
        scanned: &mut usize,
    ) -> Option<Message> {
        loop {
            if let Some(i) = self
                .queue
                .iter()
                .skip(*scanned)
                .position(|m| filter.accepts(m))
            {
                return match *scanned + i {
                    0 => self.queue.pop_front(),
                    at => self.queue.remove(at),
                };
            }
            *scanned = self.queue.len();
            let before = self.queue.len();
            inbox.drain_into(&mut self.queue);
            if self.queue.len() == before {
                return None;
            }
        }
    }

    /// Removes queued messages for which `remove` is true.
    pub fn purge(&mut self, inbox: &Inbox, remove: impl Fn(&Message) -> bool) {
        inbox.drain_into(&mut self.queue);
        self.queue.retain(|m| !remove(m));
    }
}
