//! A process's mailbox: an unbounded queue of messages with selective receive.
//!
//! Senders hold a [`MailboxSender`]; the owning process holds the [`Mailbox`],
//! which keeps messages a selective receive skipped, in arrival order, so a
//! later receive finds them first (Erlang's save queue).

use crate::handle::Resource;
use std::collections::VecDeque;
use std::time::Duration;
use tokio::sync::mpsc;
use vm_abi::{message_kinds, MessageKind};

/// A message: a kind, a tag, the sender, bytes, and moved resources.
#[derive(Debug)]
pub(crate) struct Message {
    pub kind: MessageKind,
    pub tag: u64,
    pub sender: u64,
    pub data: Vec<u8>,
    pub resources: Vec<Resource>,
}

impl Message {
    pub fn data(sender: u64, tag: u64, data: Vec<u8>, resources: Vec<Resource>) -> Message {
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

/// The sending side of a mailbox.
pub(crate) type MailboxSender = mpsc::UnboundedSender<Message>;

/// The receiving side, owned by the process.
pub(crate) struct Mailbox {
    rx: mpsc::UnboundedReceiver<Message>,
    saved: VecDeque<Message>,
}

impl Mailbox {
    pub fn new() -> (MailboxSender, Mailbox) {
        let (tx, rx) = mpsc::unbounded_channel();
        (
            tx,
            Mailbox {
                rx,
                saved: VecDeque::new(),
            },
        )
    }

    /// Waits for the oldest message the filter accepts; `None` on timeout.
    pub async fn receive(&mut self, filter: &Filter, timeout: Option<Duration>) -> Option<Message> {
        if let Some(i) = self.saved.iter().position(|m| filter.accepts(m)) {
            return self.saved.remove(i);
        }
        // Take what has already arrived without touching the timer wheel.
        while let Ok(m) = self.rx.try_recv() {
            if filter.accepts(&m) {
                return Some(m);
            }
            self.saved.push_back(m);
        }
        if timeout == Some(Duration::ZERO) {
            return None;
        }
        let deadline = timeout.map(|t| tokio::time::Instant::now() + t);
        loop {
            let next = match deadline {
                Some(d) => match tokio::time::timeout_at(d, self.rx.recv()).await {
                    Ok(m) => m,
                    Err(_) => return None,
                },
                None => self.rx.recv().await,
            };
            // The sender side lives in the process table while the process
            // lives, so the channel cannot close under a running process.
            let m = next?;
            if filter.accepts(&m) {
                return Some(m);
            }
            self.saved.push_back(m);
        }
    }

    /// Removes queued messages for which `remove` is true.
    pub fn purge(&mut self, remove: impl Fn(&Message) -> bool) {
        while let Ok(m) = self.rx.try_recv() {
            self.saved.push_back(m);
        }
        self.saved.retain(|m| !remove(m));
    }
}
