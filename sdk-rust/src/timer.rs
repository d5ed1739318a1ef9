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
    /// Sends `message` after `delay`.
    ///
    /// # Panics
    /// If `message`'s `Serialize` implementation fails, or `message` holds a
    /// resource (a stream, say): a timer carries bytes only, so send a
    /// resource with [`Process::send`] instead.
    pub fn send_after(&self, message: M, delay: Duration) -> Timer {
        let bytes = crate::message::encode(&message);
        let nanos = u64::try_from(delay.as_nanos()).unwrap_or(u64::MAX);
        // SAFETY: the buffer is valid for the call.
        let reference =
            unsafe { abi::timer::send_after(self.id(), 0, bytes.as_ptr(), bytes.len(), nanos) };
        Timer { reference }
    }
}
