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
use crate::exit::exit_reason;
pub use crate::exit::{Down, Exit};
pub use crate::handle::Resource;
use serde::de::DeserializeOwned;
use std::marker::PhantomData;
use std::mem::MaybeUninit;
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

/// Messages of at most this many bytes arrive in a buffer on the stack, in
/// the receive call itself; larger ones continue with `mailbox.read` into a
/// heap buffer. So a process that only waits for small messages leaves its
/// heap pages untouched (they stay unmapped), and a small message costs one
/// call into the VM.
const INLINE: usize = 256;

/// Receives the next message matching `tags` (any if empty) and `kinds`, and
/// hands its envelope and bytes to `f`. Handles the message carries are taken
/// with [`crate::abi::mailbox::take_handle`] before the next receive.
pub(crate) fn receive_with<R>(
    tags: &[u64],
    kinds: u8,
    timeout: Option<Duration>,
    f: impl FnOnce(Envelope, &[u8]) -> R,
) -> Result<R, ReceiveError> {
    let (has_timeout, nanos) = match timeout {
        Some(t) => (1, u64::try_from(t.as_nanos()).unwrap_or(u64::MAX)),
        None => (0, 0),
    };
    let mut inline = MaybeUninit::<[u8; INLINE]>::uninit();
    let dst = inline.as_mut_ptr() as u32;
    // SAFETY: the tag list, the inline buffer and the return area are valid
    // for the call.
    let envelope = crate::call(|ret| unsafe {
        abi::mailbox::receive_into(
            tags.as_ptr(),
            tags.len(),
            kinds,
            has_timeout,
            nanos,
            dst,
            INLINE as u32,
            ret,
        )
    })
    .map_err(|e| match e.code() {
        Some(abi::ErrorCode::Timeout) => ReceiveError::Timeout,
        // The arguments come from safe slices; anything else is a VM bug.
        _ => panic!("mailbox.receive-into failed: {e}"),
    })?;
    let size = envelope.size as usize;
    // SAFETY: the host copied the message's first `min(size, INLINE)` bytes.
    let head =
        unsafe { std::slice::from_raw_parts(inline.as_ptr().cast::<u8>(), size.min(INLINE)) };
    if size <= INLINE {
        return Ok(f(envelope, head));
    }
    let mut bytes = crate::message::buffer();
    bytes.reserve(size);
    bytes.extend_from_slice(head);
    // SAFETY: the spare capacity holds the `size - INLINE` bytes after the head.
    let rest = unsafe { read_current(bytes.as_mut_ptr().add(INLINE), size - INLINE) };
    // SAFETY: the host initialised `rest` bytes after the head, within the capacity.
    unsafe { bytes.set_len(INLINE + rest) };
    let result = f(envelope, &bytes);
    crate::message::recycle(bytes);
    Ok(result)
}

/// Copies the current message's next `size` bytes to `dst`; returns how
/// many the host wrote.
///
/// # Safety
/// `dst` must be valid for writes of `size` bytes.
unsafe fn read_current(dst: *mut u8, size: usize) -> usize {
    // SAFETY: the caller passes a buffer valid for `size` bytes.
    crate::call(|ret| unsafe { abi::mailbox::read(dst as u32, size as u32, ret) })
        .expect("reading the message just received") as usize
}

/// Receives the next data message matching `tags` and decodes it as `M`.
fn receive_decoded<M: DeserializeOwned>(
    tags: &[u64],
    timeout: Option<Duration>,
) -> Result<(u64, M), ReceiveError> {
    let decoded = receive_with(tags, message_kinds::DATA, timeout, |envelope, bytes| {
        let message = crate::message::decode_received(&envelope, bytes)?;
        Ok::<_, DecodeError>((envelope.tag, message))
    })?;
    Ok(decoded?)
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
        Ok(receive_decoded(&[], timeout)?.1)
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
        receive_decoded(tags, timeout)
    }

    /// Waits for the next data message, `down` or `exit` signal.
    ///
    /// # Errors
    /// As [`Mailbox::receive_timeout`].
    pub fn receive_event(&self, timeout: Option<Duration>) -> Result<Event<M>, ReceiveError> {
        self.receive_event_tagged(&[], timeout)
    }

    /// [`Mailbox::receive_event`] for the oldest of those whose tag is in
    /// `tags` (any if empty), as an Erlang `receive` matching a reply and
    /// a `'DOWN'` at once: a data message's tag, a `down`'s monitor
    /// reference ([`crate::process::Monitor::reference`]), an `exit`'s 0
    /// (from a link) or 1 (sent with [`Process::exit`](crate::Process::exit)).
    ///
    /// # Errors
    /// As [`Mailbox::receive_timeout`].
    pub fn receive_event_tagged(
        &self,
        tags: &[u64],
        timeout: Option<Duration>,
    ) -> Result<Event<M>, ReceiveError> {
        let kinds = message_kinds::DATA | message_kinds::DOWN | message_kinds::EXIT;
        let event = receive_with(tags, kinds, timeout, |envelope, bytes| {
            Ok::<_, DecodeError>(match MessageKind::from_raw(envelope.kind) {
                Some(MessageKind::Down) => Event::Down(Down {
                    monitor: envelope.tag,
                    process: envelope.sender,
                    reason: exit_reason(bytes),
                }),
                Some(MessageKind::Exit) => Event::Exit(Exit {
                    process: envelope.sender,
                    reason: exit_reason(bytes),
                }),
                _ => Event::Message(crate::message::decode_received(&envelope, bytes)?),
            })
        })?;
        Ok(event?)
    }
}

/// Waits for the `down` message of one monitor, leaving other messages queued.
///
/// # Errors
/// [`ReceiveError::Timeout`] if it does not arrive in time.
pub fn receive_down(monitor: u64, timeout: Option<Duration>) -> Result<Down, ReceiveError> {
    receive_with(
        &[monitor],
        message_kinds::DOWN,
        timeout,
        |envelope, bytes| Down {
            monitor,
            process: envelope.sender,
            reason: exit_reason(bytes),
        },
    )
}

/// Waits for the next `exit` signal (while trapping exits), leaving other
/// messages queued.
///
/// # Errors
/// [`ReceiveError::Timeout`] if none arrives in time.
pub fn receive_exit(timeout: Option<Duration>) -> Result<Exit, ReceiveError> {
    receive_with(&[], message_kinds::EXIT, timeout, |envelope, bytes| Exit {
        process: envelope.sender,
        reason: exit_reason(bytes),
    })
}

/// A message as bytes, for talking to processes that do not use this SDK's
/// typed messages (see [`crate::Process::send_bytes`]).
#[derive(Debug, PartialEq, Eq)]
pub struct RawMessage {
    /// The sender's tag.
    pub tag: u64,
    /// The sending process.
    pub sender: u64,
    /// The bytes.
    pub bytes: Vec<u8>,
    /// The resources the message carried, in order (the indices its bytes
    /// refer to), owned by this process now.
    pub resources: Vec<Resource>,
}

/// Waits for the next data message whose tag is in `tags` (any if empty),
/// without decoding it.
///
/// # Errors
/// [`ReceiveError::Timeout`] if none arrives in time.
pub fn receive_bytes(tags: &[u64], timeout: Option<Duration>) -> Result<RawMessage, ReceiveError> {
    receive_with(tags, message_kinds::DATA, timeout, |envelope, bytes| {
        RawMessage {
            tag: envelope.tag,
            sender: envelope.sender,
            bytes: bytes.to_vec(),
            resources: crate::handle::take_remaining(envelope.handles),
        }
    })
}

/// A tag never returned before in this VM, for matching a reply.
pub fn fresh_tag() -> u64 {
    // SAFETY: no arguments.
    unsafe { abi::mailbox::fresh_tag() }
}
