//! Why a process ends, and the signals that end it: what the node, the
//! mailbox and the process itself share, so it depends on none of them.

use std::fmt;
use vm_abi::ExitReason as ReasonCode;

/// The longest text an exit reason carries out of its process, in bytes;
/// longer ones end with [`TRUNCATED`].
pub const MAX_REASON: usize = 1024;

/// What ends a reason that was cut to [`MAX_REASON`] bytes.
pub const TRUNCATED: &str = "… (truncated)";

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
    /// It is on another node, and the connection to that node went down.
    NoConnection,
}

impl ExitReason {
    /// The text an `exit` or `trap` reason carries ("" for the others).
    pub fn text(&self) -> &str {
        match self {
            ExitReason::Exit(t) | ExitReason::Trap(t) => t,
            _ => "",
        }
    }

    /// The reason with its text cut to 1,024 bytes (at a character
    /// boundary, marked), as it leaves its process: a reason is copied into
    /// every link's signal and every monitor's `down`, so a supervisor can
    /// always absorb its children's exits.
    pub fn capped(self) -> ExitReason {
        fn cap(mut t: String) -> String {
            if t.len() > MAX_REASON {
                let mut at = MAX_REASON - TRUNCATED.len();
                while !t.is_char_boundary(at) {
                    at -= 1;
                }
                t.truncate(at);
                t.push_str(TRUNCATED);
            }
            t
        }
        match self {
            ExitReason::Exit(t) => ExitReason::Exit(cap(t)),
            ExitReason::Trap(t) => ExitReason::Trap(cap(t)),
            other => other,
        }
    }

    /// Whether linked processes should treat this exit as a failure.
    pub fn is_normal(&self) -> bool {
        matches!(self, ExitReason::Normal)
    }

    /// The reason [`ExitReason::encode`] wrote; `None` for bytes it never
    /// writes (an empty slice, an unknown code). Text that is not UTF-8 is
    /// read lossily.
    pub fn decode(bytes: &[u8]) -> Option<ExitReason> {
        let (&code, text) = bytes.split_first()?;
        let text = || String::from_utf8_lossy(text).into_owned();
        Some(match ReasonCode::from_raw(code)? {
            ReasonCode::Normal => ExitReason::Normal,
            ReasonCode::Exit => ExitReason::Exit(text()),
            ReasonCode::Trap => ExitReason::Trap(text()),
            ReasonCode::Killed => ExitReason::Killed,
            ReasonCode::Noproc => ExitReason::NoProc,
            ReasonCode::Noconnection => ExitReason::NoConnection,
        })
    }

    /// The ABI encoding: the reason code byte, then UTF-8 text.
    pub fn encode(&self) -> Vec<u8> {
        let (code, text) = match self {
            ExitReason::Normal => (ReasonCode::Normal, ""),
            ExitReason::Exit(t) => (ReasonCode::Exit, t.as_str()),
            ExitReason::Trap(t) => (ReasonCode::Trap, t.as_str()),
            ExitReason::Killed => (ReasonCode::Killed, ""),
            ExitReason::NoProc => (ReasonCode::Noproc, ""),
            ExitReason::NoConnection => (ReasonCode::Noconnection, ""),
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
            ExitReason::NoConnection => f.write_str("noconnection"),
        }
    }
}

/// Signals that act on the process itself rather than landing in its
/// mailbox; they arrive through its [`crate::mailbox::Inbox`].
#[derive(Debug)]
pub enum Control {
    /// `kill`: the process ends with reason `killed`, which it cannot trap.
    Kill,
    /// An exit signal: from a linked process that ended (`linked`), or
    /// sent with `process.send-exit`.
    Exit {
        /// The process the signal comes from.
        from: u64,
        /// Why it was sent.
        reason: ExitReason,
        /// Whether it comes from a link (else `send-exit`).
        linked: bool,
        /// What the signal costs its receiver while it waits.
        charge: crate::budget::Charge,
    },
    /// Its unreceived messages would have held `held` bytes, past the
    /// mailbox limit.
    MailboxFull {
        /// What the messages would have held.
        held: usize,
        /// The process's bound.
        limit: usize,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_reason_is_cut_at_a_character_boundary_and_marked() {
        let long = ExitReason::Exit("é".repeat(4000)).capped();
        let text = long.text();
        assert!(text.len() <= MAX_REASON, "{}", text.len());
        assert!(text.ends_with(TRUNCATED));
        assert!(text.starts_with("éé"));
        let short = ExitReason::Trap("short".into());
        assert_eq!(short.clone().capped(), short);
    }
}
