//! The message codec: postcard's wire format, shared by every SDK.
//!
//! Varints for integers (zigzag for signed), length-prefixed bytes and
//! strings, structs as the concatenation of their fields, enums as a varint
//! index then the variant's fields. A [`Process`](crate::Process) encodes as
//! its id (a `u64` varint), so references travel inside messages.
//!
//! ```
//! use vm_sdk::message::{decode, encode};
//! let bytes = encode(&(300u32, "hi"));
//! assert_eq!(bytes, [0xac, 0x02, 2, b'h', b'i']);
//! let back: (u32, String) = decode(&bytes, 0, 0).unwrap();
//! assert_eq!(back, (300, "hi".to_string()));
//! ```

use crate::error::DecodeError;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::cell::Cell;

thread_local! {
    /// One spare buffer, so sending and receiving a message allocate nothing
    /// once it has grown to the size of the messages a process handles.
    static SPARE: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
}

/// Buffers larger than this are freed rather than kept.
const KEEP_AT_MOST: usize = 64 << 10;

/// An empty buffer, reusing the spare one if it is free.
pub(crate) fn buffer() -> Vec<u8> {
    let mut b = SPARE.take();
    b.clear();
    b
}

/// Hands a buffer back for the next message.
pub(crate) fn recycle(b: Vec<u8>) {
    if b.capacity() <= KEEP_AT_MOST {
        SPARE.set(b);
    }
}

/// Encodes a message after `prefix` into `buf`; returns the length, or
/// `None` when it does not fit.
pub(crate) fn encode_inline<M: Serialize + ?Sized>(
    prefix: &[u8],
    message: &M,
    buf: &mut [u8],
) -> Option<usize> {
    if prefix.len() > buf.len() {
        return None;
    }
    let (head, rest) = buf.split_at_mut(prefix.len());
    head.copy_from_slice(prefix);
    match postcard::to_slice(message, rest) {
        Ok(used) => Some(prefix.len() + used.len()),
        Err(postcard::Error::SerializeBufferFull) => None,
        Err(e) => serialize_failed(e),
    }
}

/// Encodes a message after `prefix` into a reused buffer; give it back with
/// [`recycle`].
pub(crate) fn encode_to_buffer<M: Serialize + ?Sized>(prefix: &[u8], message: &M) -> Vec<u8> {
    let mut b = buffer();
    b.extend_from_slice(prefix);
    postcard::to_extend(message, b).unwrap_or_else(|e| serialize_failed(e))
}

/// Encodes a message.
///
/// # Panics
/// If the value's `Serialize` implementation fails (postcard itself cannot
/// fail on types that describe their length, which derived types do).
pub fn encode<M: Serialize + ?Sized>(message: &M) -> Vec<u8> {
    postcard::to_allocvec(message).unwrap_or_else(|e| serialize_failed(e))
}

/// Panics for a message that failed to serialize, saying why in the SDK's
/// words where the SDK knows (postcard keeps no custom message).
#[cold]
fn serialize_failed(e: postcard::Error) -> ! {
    match crate::handle::refusal() {
        Some(why) => panic!("a message failed to serialize: {why}"),
        None => panic!("a message failed to serialize: {e}"),
    }
}

/// Decodes a message received with `tag` from `sender`.
///
/// # Errors
/// A [`DecodeError`] holding the bytes, tag and sender, so nothing is lost.
pub fn decode<M: DeserializeOwned>(bytes: &[u8], tag: u64, sender: u64) -> Result<M, DecodeError> {
    postcard::from_bytes(bytes).map_err(|error| DecodeError {
        error,
        bytes: bytes.to_vec(),
        tag,
        sender,
        resources: Vec::new(),
    })
}

/// Decodes the message just received (its `envelope` and `bytes`); if it
/// does not decode, the error owns the resources it carried that decoding
/// did not take.
pub(crate) fn decode_received<M: DeserializeOwned>(
    envelope: &crate::abi::Envelope,
    bytes: &[u8],
) -> Result<M, DecodeError> {
    decode(bytes, envelope.tag, envelope.sender).map_err(|mut e| {
        e.resources = crate::handle::take_remaining(envelope.handles);
        e
    })
}
