//! Owned handles, and how they travel inside messages.
//!
//! A resource (a listener, a stream, a half) is a handle the VM gives one
//! process. Putting it in a message moves it: while a message is encoded,
//! each resource records its handle in the message's handle list and encodes
//! as its index there; the VM moves the listed handles to the receiver, whose
//! decoding takes each one back by index (`mailbox.take-handle`).

use crate::abi;
use serde::de::Error as _;
use serde::ser::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

thread_local! {
    /// The handle list of the message being encoded, if one is.
    static OUTGOING: RefCell<Option<Vec<u32>>> = const { RefCell::new(None) };
    /// Set while [`restore`] walks a value whose message the VM refused.
    static RESTORING: Cell<bool> = const { Cell::new(false) };
    /// Why the last serialization of a resource failed, for the panic that
    /// follows (the codec's own error says only that serialization failed).
    static REFUSAL: Cell<Option<&'static str>> = const { Cell::new(None) };
}

/// Gives back ownership of the handles inside `value`, which encoding marked
/// as moved, after the VM refused the message that would have moved them (a
/// spawn at the process limit, say): they are released again when `value`
/// is dropped, or can be sent again.
pub(crate) fn restore<M: Serialize + ?Sized>(value: &M) {
    RESTORING.with(|r| r.set(true));
    // Only the walk matters; a value that serialized once serializes again.
    let _ = postcard::experimental::serialized_size(value);
    RESTORING.with(|r| r.set(false));
}

/// Messages that encode to at most this many bytes are encoded on the stack:
/// sending them touches no heap memory.
const INLINE: usize = 128;

/// Where a message was encoded.
enum Encoded {
    /// The first `n` bytes of the stack buffer.
    Inline(usize),
    /// A reused heap buffer, for larger messages.
    Heap(Vec<u8>),
}

/// Encodes `value` after `prefix`, collecting the handles of resources
/// inside it, and passes the bytes and handles to `f`.
pub(crate) fn with_encoded<M: Serialize + ?Sized, R>(
    prefix: &[u8],
    value: &M,
    f: impl FnOnce(&[u8], &[u32]) -> R,
) -> R {
    let previous = OUTGOING.with(|o| o.borrow_mut().replace(Vec::new()));
    let mut inline = [0u8; INLINE];
    let encoded = match crate::message::encode_inline(prefix, value, &mut inline) {
        Some(n) => Encoded::Inline(n),
        None => {
            // Too large for the stack: encode again, handle list included.
            OUTGOING.with(|o| o.borrow_mut().as_mut().map(Vec::clear));
            Encoded::Heap(crate::message::encode_to_buffer(prefix, value))
        }
    };
    let handles = OUTGOING
        .with(|o| std::mem::replace(&mut *o.borrow_mut(), previous))
        .unwrap_or_default();
    match encoded {
        Encoded::Inline(n) => f(&inline[..n], &handles),
        Encoded::Heap(bytes) => {
            let result = f(&bytes, &handles);
            crate::message::recycle(bytes);
            result
        }
    }
}

/// A resource that arrived in a message and was not taken by decoding it
/// (the message did not decode, or was received as bytes): this process
/// owns it, and it is released when dropped, so nothing a message carried
/// is lost silently.
#[derive(Debug, PartialEq, Eq)]
pub struct Resource {
    handle: OwnedHandle,
}

impl Resource {
    /// The handle's number in this process, for raw ABI calls.
    pub fn raw_handle(&self) -> u32 {
        self.handle.raw()
    }

    /// Gives up ownership: the caller releases the handle (with
    /// `abi::handle::drop`) or hands it to a type that will.
    pub fn into_raw(self) -> u32 {
        self.handle.consume()
    }
}

const OUTSIDE_A_MESSAGE: &str = "a resource (a listener, a stream, a half) can only be serialized inside a message sent to a process (Process::send, a request, a spawn's capture), which moves it there; message::encode cannot take one";

/// Why the last serialization of a resource failed, if one did (cleared).
pub(crate) fn refusal() -> Option<&'static str> {
    REFUSAL.take()
}

/// Takes every handle of the current message that decoding has not taken
/// (of the `count` it carried).
pub(crate) fn take_remaining(count: u32) -> Vec<Resource> {
    (0..count)
        .filter_map(|index| {
            // SAFETY: the return area is valid. A handle already taken
            // fails, and is skipped.
            crate::call(|ret| unsafe { abi::mailbox::take_handle(index, ret) }).ok()
        })
        .map(|raw| Resource {
            handle: OwnedHandle::new(raw),
        })
        .collect()
}

/// A handle this process owns; released when dropped, unless it was moved
/// into a message. (`moved` is atomic only so that values holding a handle,
/// the SDK's errors among them, are `Sync`, as `?` into `anyhow` or a
/// `Box<dyn Error + Send + Sync>` needs; a process has one thread.)
#[derive(Debug)]
pub(crate) struct OwnedHandle {
    raw: u32,
    moved: AtomicBool,
}

impl PartialEq for OwnedHandle {
    fn eq(&self, other: &Self) -> bool {
        self.raw == other.raw
    }
}

impl Eq for OwnedHandle {}

impl OwnedHandle {
    pub(crate) fn new(raw: u32) -> Self {
        OwnedHandle {
            raw,
            moved: AtomicBool::new(false),
        }
    }

    pub(crate) fn raw(&self) -> u32 {
        self.raw
    }

    /// Gives up ownership without releasing (the VM consumed the handle).
    pub(crate) fn consume(self) -> u32 {
        self.moved.store(true, Relaxed);
        self.raw
    }
}

impl Drop for OwnedHandle {
    fn drop(&mut self) {
        if !self.moved.load(Relaxed) {
            // SAFETY: plain values. Failure means it is already gone.
            let _ = crate::call(|ret| unsafe { abi::handle::drop(self.raw, ret) });
        }
    }
}

impl Serialize for OwnedHandle {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if RESTORING.with(Cell::get) {
            self.moved.store(false, Relaxed);
            return s.serialize_u32(0);
        }
        let index = OUTGOING.with(|o| {
            o.borrow_mut().as_mut().map(|list| {
                list.push(self.raw);
                list.len() as u32 - 1
            })
        });
        match index {
            Some(i) => {
                self.moved.store(true, Relaxed);
                s.serialize_u32(i)
            }
            None => {
                // postcard keeps no custom message, so the SDK's panic says
                // it (see `refusal`).
                REFUSAL.set(Some(OUTSIDE_A_MESSAGE));
                Err(S::Error::custom(OUTSIDE_A_MESSAGE))
            }
        }
    }
}

impl<'de> Deserialize<'de> for OwnedHandle {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let index = u32::deserialize(d)?;
        // SAFETY: the return area is valid.
        crate::call(|ret| unsafe { abi::mailbox::take_handle(index, ret) })
            .map(OwnedHandle::new)
            .map_err(|e| D::Error::custom(format!("resource {index} of the message: {e}")))
    }
}
