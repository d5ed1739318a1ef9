//! Why a process ends, and the signals that end it: what the node, the
//! mailbox and the process itself share, so it depends on none of them.

use std::fmt;
use vm_abi::ExitReason as ReasonCode;

/// Why a process ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExitReason {
    /// It returned from its entry point (or exited with status 0).
    Normal,
    /// It exited with this reason (`process.exit`, or a non-zero exit status).
    Exit(String),
    /// It trapped; the text says why.
    Trap(String),
    /// It was killed.
    Killed,
    /// It did not exist when linked or monitored.
    NoProc,
}

impl ExitReason {
    /// Whether linked processes should treat this exit as a failure.
    pub fn is_normal(&self) -> bool {
        matches!(self, ExitReason::Normal)
    }

    /// The ABI encoding: the reason code byte, then UTF-8 text.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let (code, text) = match self {
            ExitReason::Normal => (ReasonCode::Normal, ""),
            ExitReason::Exit(t) => (ReasonCode::Exit, t.as_str()),
            ExitReason::Trap(t) => (ReasonCode::Trap, t.as_str()),
            ExitReason::Killed => (ReasonCode::Killed, ""),
            ExitReason::NoProc => (ReasonCode::Noproc, ""),
        };
        let mut out = Vec::with_capacity(1 + text.len());
        out.push(code as u8);
        out.extend_from_slice(text.as_bytes());
        out
    }
}

impl fmt::Display for ExitReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExitReason::Normal => f.write_str("normal"),
            ExitReason::Exit(t) => write!(f, "exit: {t}"),
            ExitReason::Trap(t) => write!(f, "trap: {t}"),
            ExitReason::Killed => f.write_str("killed"),
            ExitReason::NoProc => f.write_str("noproc"),
        }
    }
}

/// Signals that act on the process itself rather than landing in its
/// mailbox; they arrive through its [`crate::mailbox::Inbox`].
#[derive(Debug)]
pub(crate) enum Control {
    Kill,
    /// An exit signal: from a linked process that ended (`linked`), or
    /// sent with `process.send-exit`.
    Exit {
        from: u64,
        reason: ExitReason,
        linked: bool,
    },
    /// Its unreceived messages would have held `held` bytes, past the
    /// mailbox limit.
    MailboxFull {
        held: usize,
        limit: usize,
    },
}
