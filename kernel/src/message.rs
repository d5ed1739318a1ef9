//! What processes exchange: a [`Message`] (a kind, a tag, its sender, bytes,
//! and the embedder's attachments, [`Attachment`]), the [`Filter`] a
//! selective receive matches with, and the tags a process gave up on
//! ([`ForgottenTags`]).

use crate::budget::Charge;
use std::collections::{HashSet, VecDeque};
use vm_abi::{message_kinds, MessageKind};

/// A message's bytes: up to 32 are kept inline, so the small messages
/// processes mostly exchange cost no allocation of their own.
pub type Payload = smallvec::SmallVec<[u8; 32]>;

/// What a message carries besides bytes (a wasm VM's handles, say): the
/// kernel only needs to know what each costs the one who holds it.
pub trait Attachment: Send + 'static {
    /// What the attachment costs whoever holds it, in bytes.
    fn cost(&self) -> usize;
}

/// Nothing moves with messages: a kernel whose processes exchange bytes
/// only (its own tests, the oracle's).
impl Attachment for std::convert::Infallible {
    fn cost(&self) -> usize {
        match *self {}
    }
}

/// A message: a kind, a tag, the sender, bytes, and moved resources.
#[derive(Debug)]
pub struct Message<R> {
    /// Data, an exit, a down or an init message.
    pub kind: MessageKind,
    /// The tag it was sent with (a monitor's reference for a down).
    pub tag: u64,
    /// The process it came from.
    pub sender: u64,
    /// Its bytes.
    pub data: Payload,
    /// What it moves to its receiver besides bytes.
    pub resources: Vec<R>,
    /// What the message costs whoever pays for it now; given back when the
    /// message is dropped.
    pub charge: Charge,
}

impl<R: Attachment> Message<R> {
    /// A message not yet charged to anyone.
    pub fn new(
        kind: MessageKind,
        sender: u64,
        tag: u64,
        data: Payload,
        resources: Vec<R>,
    ) -> Message<R> {
        Message {
            kind,
            tag,
            sender,
            data,
            resources,
            charge: Charge::none(),
        }
    }

    /// What the message costs: its bytes, the host's record of it, and its
    /// handles.
    pub fn cost(&self) -> usize {
        std::mem::size_of::<Message<R>>()
            + self.data.len()
            + self.resources.iter().map(Attachment::cost).sum::<usize>()
    }

    /// A data message, not yet charged to anyone.
    pub fn data(sender: u64, tag: u64, data: Payload, resources: Vec<R>) -> Message<R> {
        Message::new(MessageKind::Data, sender, tag, data, resources)
    }
}

/// The most tags a process keeps forgotten (`mailbox.forget-tag`); the
/// oldest goes first.
pub const MAX_FORGOTTEN_TAGS: usize = 1024;

/// What a forgotten tag costs the process that forgets it: its entries in
/// the two books below.
pub const FORGOTTEN_TAG_COST: usize = 48;

/// Tags a process gave up on (`mailbox.forget-tag`), as a deactivated
/// Erlang alias: a data message with one is dropped, queued or arriving,
/// and never wakes the process. The newest [`MAX_FORGOTTEN_TAGS`] are kept,
/// each holding its charge.
#[derive(Default)]
pub struct ForgottenTags {
    order: VecDeque<(u64, Charge)>,
    tags: HashSet<u64>,
}

impl ForgottenTags {
    /// Forgets `tag`, paid for by `charge` (given back when the tag is
    /// let go, to make room for a newer one, or with the process).
    pub fn forget(&mut self, tag: u64, charge: Charge) {
        if !self.tags.insert(tag) {
            return;
        }
        self.order.push_back((tag, charge));
        if self.order.len() > MAX_FORGOTTEN_TAGS {
            if let Some((oldest, _)) = self.order.pop_front() {
                self.tags.remove(&oldest);
            }
        }
    }

    /// Whether `m` is a data message with a forgotten tag.
    pub fn drops<R>(&self, m: &Message<R>) -> bool {
        m.kind == MessageKind::Data && self.tags.contains(&m.tag)
    }
}

/// What a receive accepts: a message must match both its tags and kinds.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Accepted tags; empty accepts any.
    pub tags: Vec<u64>,
    /// Accepted kinds, as `message-kinds` flags.
    pub kinds: u8,
}

impl Filter {
    /// Accepts every message.
    pub fn any() -> Filter {
        Filter {
            tags: Vec::new(),
            kinds: message_kinds::DATA
                | message_kinds::EXIT
                | message_kinds::DOWN
                | message_kinds::INIT,
        }
    }

    pub(crate) fn accepts<R>(&self, m: &Message<R>) -> bool {
        let bit = match m.kind {
            MessageKind::Data => message_kinds::DATA,
            MessageKind::Exit => message_kinds::EXIT,
            MessageKind::Down => message_kinds::DOWN,
            MessageKind::Init => message_kinds::INIT,
        };
        self.kinds & bit != 0 && (self.tags.is_empty() || self.tags.contains(&m.tag))
    }
}
