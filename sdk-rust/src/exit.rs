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
    /// It is on another node, and the connection to that node went down
    /// (ABI 1.7).
    NoConnection,
}

impl ExitReason {
    /// Whether it is a shutdown: `shutdown`, or `shutdown: …` (OTP's
    /// `{shutdown, Term}`, the term as text). A supervisor restarts no
    /// transient child that ends with one, as it restarts none that ends
    /// normally; an exit reason of either is made by
    /// [`Next::shutdown`](crate::server::Next::shutdown) or
    /// [`process::exit`](crate::process::exit).
    pub fn is_shutdown(&self) -> bool {
        matches!(self, ExitReason::Exit(t) if t == "shutdown" || t.starts_with("shutdown: "))
    }

    /// Whether it is normal or a [shutdown](ExitReason::is_shutdown): an
    /// end a transient child is not restarted for.
    pub fn is_normal_or_shutdown(&self) -> bool {
        *self == ExitReason::Normal || self.is_shutdown()
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

/// Decodes the reason an `exit` or `down` message carries.
pub(crate) fn exit_reason(bytes: &[u8]) -> ExitReason {
    let text = || String::from_utf8_lossy(bytes.get(1..).unwrap_or_default()).into_owned();
    match bytes.first().copied().and_then(abi::ExitReason::from_raw) {
        Some(abi::ExitReason::Normal) => ExitReason::Normal,
        Some(abi::ExitReason::Exit) => ExitReason::Exit(text()),
        Some(abi::ExitReason::Trap) => ExitReason::Trap(text()),
        Some(abi::ExitReason::Killed) => ExitReason::Killed,
        Some(abi::ExitReason::Noproc) => ExitReason::NoProc,
        Some(abi::ExitReason::Noconnection) => ExitReason::NoConnection,
        None => ExitReason::Trap(format!(
            "unknown exit reason {:?}: {}",
            bytes.first(),
            text()
        )),
    }
}

/// A panic's reason: `panicked at FILE:LINE:COLUMN: MESSAGE`, the words
/// Rust's own report uses.
#[cfg(target_arch = "wasm32")]
pub(crate) fn panic_text(info: &std::panic::PanicHookInfo<'_>) -> String {
    let payload = info.payload();
    let message = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("Box<dyn Any>");
    match info.location() {
        Some(at) => format!(
            "panicked at {}:{}:{}: {message}",
            at.file(),
            at.line(),
            at.column()
        ),
        None => format!("panicked: {message}"),
    }
}

/// Makes a panic end the process with its message as the reason (a
/// `trap` that links, monitors and supervisors see), after Rust's own
/// report on stderr, rather than as an `unreachable` instruction. Runs
/// as each instance starts: as a constructor in the root (its `_start`
/// calls them, as for C++'s static ones), and first thing in a spawned or
/// woken process's entry.
#[cfg(target_arch = "wasm32")]
pub(crate) mod panic_reason {
    pub(crate) extern "C" fn install() {
        let report = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            report(info);
            let text = super::panic_text(info);
            // SAFETY: the text is valid for reads of its length; the call
            // does not return.
            unsafe { crate::abi::process::panic(text.as_ptr(), text.len()) };
        }));
    }

    #[used]
    #[link_section = ".init_array"]
    static INSTALL: extern "C" fn() = install;
}
