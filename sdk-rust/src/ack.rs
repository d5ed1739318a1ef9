//! Starting a process and waiting for it to say it is ready, as OTP's
//! `proc_lib:start/init_ack` do: what [`crate::server`] and
//! [`crate::supervisor`] start with.

use crate::abi::{message_kinds, MessageKind};
use crate::exit::{exit_reason, ExitReason};
use crate::mailbox::receive_with;
use crate::message::decode_received;
use crate::process::Process;
use serde::de::DeserializeOwned;

/// What waiting for a started process's acknowledgement found.
pub(crate) enum Acked<E> {
    /// It is ready.
    Ready,
    /// It said why it could not start.
    Failed(E),
    /// It ended before it acknowledged.
    Down(ExitReason),
    /// Its acknowledgement (or the wait) failed: why.
    Unreadable(String),
}

/// Waits for `process`'s acknowledgement, tagged `ack` (a
/// `Result<(), E>`), monitoring it meanwhile; the monitor is gone after.
pub(crate) fn wait_for_ack<M, E: DeserializeOwned>(process: &Process<M>, ack: u64) -> Acked<E> {
    let monitor = process.monitor();
    let answer = receive_with(
        &[ack, monitor.reference()],
        message_kinds::DATA | message_kinds::DOWN,
        None,
        |envelope, bytes| {
            if MessageKind::from_raw(envelope.kind) == Some(MessageKind::Down) {
                return Acked::Down(exit_reason(bytes));
            }
            match decode_received::<Result<(), E>>(&envelope, bytes) {
                Ok(Ok(())) => Acked::Ready,
                Ok(Err(why)) => Acked::Failed(why),
                Err(e) => Acked::Unreadable(format!("an unreadable acknowledgement: {e}")),
            }
        },
    )
    .unwrap_or_else(|e| Acked::Unreadable(format!("waiting for the acknowledgement: {e}")));
    // A down that arrived used the monitor up; otherwise remove it (and any
    // down on its way).
    if !matches!(answer, Acked::Down(_)) {
        monitor.demonitor();
    }
    answer
}
