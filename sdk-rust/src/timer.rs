//! Timers: a message delivered later (Erlang's `send_after`).

use crate::abi;
use crate::process::Process;
use serde::Serialize;
use std::time::Duration;

/// A pending timer; cancel it with [`Timer::cancel`], which uses it up.
#[derive(Debug, PartialEq, Eq)]
pub struct Timer {
    reference: u64,
}

impl Timer {
    /// The timer's reference, unique in the VM.
    pub fn reference(&self) -> u64 {
        self.reference
    }

    /// Cancels the timer; true if it had not fired.
    pub fn cancel(self) -> bool {
        // SAFETY: plain values.
        unsafe { abi::timer::cancel(self.reference) }
    }
}

impl<M: Serialize> Process<M> {
    /// Sends `message` after `delay` (Erlang's `erlang:send_after/3`).
    ///
    /// A message holding resources (a stream, say) takes them with it when
    /// the timer is set: they leave this process at once and reach the
    /// target when the timer fires. If the timer is cancelled, or its target
    /// ends before it fires, they are closed.
    ///
    /// # Panics
    /// If `message`'s `Serialize` implementation fails, or the VM refuses
    /// one of its resources (one this process no longer owns).
    pub fn send_after(&self, message: M, delay: Duration) -> Timer {
        let nanos = u64::try_from(delay.as_nanos()).unwrap_or(u64::MAX);
        let reference = crate::handle::with_encoded(&[], &message, |bytes, handles| {
            if handles.is_empty() {
                // SAFETY: the buffer is valid for the call.
                return Ok(unsafe {
                    abi::timer::send_after(self.id(), 0, bytes.as_ptr(), bytes.len(), nanos)
                });
            }
            // SAFETY: the buffers are valid for the call; the handles were
            // collected from resources inside `message`, which this process
            // owns.
            crate::call(|ret| unsafe {
                abi::timer::send_after_with_handles(
                    self.id(),
                    0,
                    bytes.as_ptr(),
                    bytes.len(),
                    handles.as_ptr(),
                    handles.len(),
                    nanos,
                    ret,
                )
            })
        })
        .unwrap_or_else(|e| panic!("setting a timer failed: {e}"));
        // Resources inside were marked as moved while encoding.
        drop(message);
        Timer { reference }
    }
}
