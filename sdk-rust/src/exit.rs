//! Why processes end: the reasons that `down` and `exit` messages carry,
//! shared by [`crate::process`] (which ends processes and monitors them) and
//! [`crate::mailbox`] (which receives the messages).

use crate::abi;
use serde::{Deserialize, Serialize};

/// Why a process ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExitReason {
    /// It returned from its function.
    Normal,
    /// It called [`exit`](crate::process::exit) with this reason, was sent
    /// an exit signal with it ([`Process::exit`](crate::Process::exit)), or
    /// exited with a non-zero status.
    Exit(String),
    /// It trapped: a panic, an out-of-bounds access, a memory limit.
    Trap(String),
    /// It was killed.
    Killed,
    /// It did not exist when it was linked or monitored.
    NoProc,
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
