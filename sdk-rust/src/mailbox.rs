//! A process's mailbox, read as messages of one type.
//!
//! Every process has one mailbox. A [`Mailbox<M>`] is a typed view of it:
//! receiving decodes the next message as `M`, and a message that does not
//! decode is returned as a [`DecodeError`] with its bytes, never dropped
//! silently. Receives are selective: by tag ([`Mailbox::receive_tagged`]),
//! and by kind — data messages, and the `down`/`exit` signals of monitors and
//! trapped links ([`Mailbox::receive_event`]) — other messages stay queued in
//! order for later receives.

use crate::abi::{self, message_kinds, Envelope, MessageKind};
use crate::error::{DecodeError, ReceiveError};
use crate::process::ExitReason;
use serde::de::DeserializeOwned;
use std::marker::PhantomData;
use std::time::Duration;

/// This process's mailbox, decoding messages as `M`.
pub struct Mailbox<M> {
    _message: PhantomData<fn() -> M>,
}

impl<M> Clone for Mailbox<M> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<M> Copy for Mailbox<M> {}

impl<M> std::fmt::Debug for Mailbox<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Mailbox")
    }
}

/// A monitored process ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Down {
    /// The monitor's reference (see [`crate::process::Monitor`]).
    pub monitor: u64,
    /// The process that ended.
    pub process: u64,
    /// Why it ended.
    pub reason: ExitReason,
}

/// A linked process ended while this process traps exits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exit {
    /// The process that ended.
    pub process: u64,
    /// Why it ended.
    pub reason: ExitReason,
}

/// Anything a mailbox can deliver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event<M> {
    /// A data message.
    Message(M),
    /// A monitored process ended.
    Down(Down),
    /// A linked process ended (only while trapping exits).
    Exit(Exit),
}

/// A raw message: its envelope and bytes. Handles it carries are taken with
/// [`crate::abi::mailbox::take_handle`] before the next receive.
pub(crate) struct Raw {
    pub envelope: Envelope,
    pub bytes: Vec<u8>,
}

/// Receives the next message matching `tags` (any if empty) and `kinds`.
pub(crate) fn receive_raw(
    tags: &[u64],
    kinds: u8,
    timeout: Option<Duration>,
) -> Result<Raw, ReceiveError> {
    let (has_timeout, nanos) = match timeout {
        Some(t) => (1, u64::try_from(t.as_nanos()).unwrap_or(u64::MAX)),
        None => (0, 0),
    };
    // SAFETY: the tag list and return area are valid for the call.
    let envelope = crate::call(|ret| unsafe {
        abi::mailbox::receive(tags.as_ptr(), tags.len(), kinds, has_timeout, nanos, ret)
    })
    .map_err(|e| match e.code() {
        Some(abi::ErrorCode::Timeout) => ReceiveError::Timeout,
        // The arguments come from safe slices; anything else is a VM bug.
        _ => panic!("mailbox.receive failed: {e}"),
    })?;
    let mut bytes = crate::message::buffer();
    bytes.reserve(envelope.size as usize);
    // SAFETY: the spare capacity is valid for writes of `size` bytes, and
    // the host reports how many it wrote.
    let n = crate::call(|ret| unsafe {
        abi::mailbox::read(bytes.as_mut_ptr() as u32, envelope.size, ret)
    })
    .expect("reading the message just received");
    // SAFETY: the host initialised `n` bytes, at most the capacity.
    unsafe { bytes.set_len(n as usize) };
    Ok(Raw { envelope, bytes })
}

fn decode<M: DeserializeOwned>(raw: Raw) -> Result<M, DecodeError> {
    let decoded = crate::message::decode(&raw.bytes, raw.envelope.tag, raw.envelope.sender);
    crate::message::recycle(raw.bytes);
    decoded
}

/// Decodes the reason an `exit` or `down` message carries.
pub(crate) fn exit_reason(bytes: &[u8]) -> ExitReason {
    let text = || String::from_utf8_lossy(bytes.get(1..).unwrap_or_default()).into_owned();
    match bytes.first().copied().and_then(abi::ExitReason::from_raw) {
        Some(abi::ExitReason::Normal) => ExitReason::Normal,
        Some(abi::ExitReason::Exit) => ExitReason::Exit(text()),
        Some(abi::ExitReason::Trap) => ExitReason::Trap(text()),
        Some(abi::ExitReason::Killed) => ExitReason::Killed,
        Some(abi::ExitReason::Noproc) => ExitReason::NoProc,
        None => ExitReason::Trap(format!(
            "unknown exit reason {:?}: {}",
            bytes.first(),
            text()
        )),
    }
}

impl<M> Mailbox<M> {
    /// A typed view of this process's mailbox. Any number of views may exist;
    /// each decodes with its own type.
    pub fn this() -> Self {
        Mailbox {
            _message: PhantomData,
        }
    }

    /// Reinterprets the mailbox as holding messages of another type.
    pub fn cast<N>(self) -> Mailbox<N> {
        Mailbox::this()
    }
}

impl<M: DeserializeOwned> Mailbox<M> {
    /// Waits for the next data message and decodes it.
    ///
    /// # Errors
    /// A message that is not an `M` is returned as a [`DecodeError`], bytes included.
    pub fn receive(&self) -> Result<M, DecodeError> {
        match self.receive_timeout_opt(None) {
            Ok(m) => Ok(m),
            Err(ReceiveError::Decode(e)) => Err(e),
            Err(ReceiveError::Timeout) => {
                unreachable!("a receive without timeout does not time out")
            }
        }
    }

    /// Waits at most `timeout` for the next data message.
    ///
    /// # Errors
    /// [`ReceiveError::Timeout`] if none arrives in time, or a decode error.
    pub fn receive_timeout(&self, timeout: Duration) -> Result<M, ReceiveError> {
        self.receive_timeout_opt(Some(timeout))
    }

    fn receive_timeout_opt(&self, timeout: Option<Duration>) -> Result<M, ReceiveError> {
        let raw = receive_raw(&[], message_kinds::DATA, timeout)?;
        Ok(decode(raw)?)
    }

    /// Waits for the next data message whose tag is in `tags`; others stay
    /// queued. Returns the tag with the message.
    ///
    /// # Errors
    /// As [`Mailbox::receive_timeout`].
    pub fn receive_tagged(
        &self,
        tags: &[u64],
        timeout: Option<Duration>,
    ) -> Result<(u64, M), ReceiveError> {
        let raw = receive_raw(tags, message_kinds::DATA, timeout)?;
        let tag = raw.envelope.tag;
        Ok((tag, decode(raw)?))
    }

    /// Waits for the next data message, `down` or `exit` signal.
    ///
    /// # Errors
    /// As [`Mailbox::receive_timeout`].
    pub fn receive_event(&self, timeout: Option<Duration>) -> Result<Event<M>, ReceiveError> {
        let kinds = message_kinds::DATA | message_kinds::DOWN | message_kinds::EXIT;
        let raw = receive_raw(&[], kinds, timeout)?;
        Ok(match MessageKind::from_raw(raw.envelope.kind) {
            Some(MessageKind::Down) => Event::Down(Down {
                monitor: raw.envelope.tag,
                process: raw.envelope.sender,
                reason: exit_reason(&raw.bytes),
            }),
            Some(MessageKind::Exit) => Event::Exit(Exit {
                process: raw.envelope.sender,
                reason: exit_reason(&raw.bytes),
            }),
            _ => Event::Message(decode(raw)?),
        })
    }
}

/// Waits for the `down` message of one monitor, leaving other messages queued.
///
/// # Errors
/// [`ReceiveError::Timeout`] if it does not arrive in time.
pub fn receive_down(monitor: u64, timeout: Option<Duration>) -> Result<Down, ReceiveError> {
    let raw = receive_raw(&[monitor], message_kinds::DOWN, timeout)?;
    Ok(Down {
        monitor,
        process: raw.envelope.sender,
        reason: exit_reason(&raw.bytes),
    })
}

/// Waits for the next `exit` signal (while trapping exits), leaving other
/// messages queued.
///
/// # Errors
/// [`ReceiveError::Timeout`] if none arrives in time.
pub fn receive_exit(timeout: Option<Duration>) -> Result<Exit, ReceiveError> {
    let raw = receive_raw(&[], message_kinds::EXIT, timeout)?;
    Ok(Exit {
        process: raw.envelope.sender,
        reason: exit_reason(&raw.bytes),
    })
}

/// A message as bytes, for talking to processes that do not use this SDK's
/// typed messages (see [`crate::Process::send_bytes`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawMessage {
    /// The sender's tag.
    pub tag: u64,
    /// The sending process.
    pub sender: u64,
    /// The bytes.
    pub bytes: Vec<u8>,
}

/// Waits for the next data message whose tag is in `tags` (any if empty),
/// without decoding it.
///
/// # Errors
/// [`ReceiveError::Timeout`] if none arrives in time.
pub fn receive_bytes(tags: &[u64], timeout: Option<Duration>) -> Result<RawMessage, ReceiveError> {
    let raw = receive_raw(tags, message_kinds::DATA, timeout)?;
    Ok(RawMessage {
        tag: raw.envelope.tag,
        sender: raw.envelope.sender,
        bytes: raw.bytes,
    })
}

/// A tag never returned before in this VM, for matching a reply.
pub fn fresh_tag() -> u64 {
    // SAFETY: no arguments.
    unsafe { abi::mailbox::fresh_tag() }
}
