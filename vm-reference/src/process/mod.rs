//! A process: one instance of a module with its own memory, mailbox and
//! handles, running as one task on the kernel's scheduler
//! (`vm_kernel::scheduler`). Its state ([`state`]), its task ([`task`])
//! and its instance ([`instance`]) are modules of their own.
//!
//! The task instantiates the module, calls its entry point, and on every
//! poll first checks the signals in the process's inbox: a kill, or an exit
//! signal from a link when the process does not trap exits, ends it by
//! dropping the running call (wasm is preempted by epoch interruption, so even
//! a busy loop yields). However it ends, the kernel's `exit` then notifies links and
//! monitors, and a crash is reported on the VM's stderr.

mod instance;
mod state;
mod task;

pub(crate) use instance::WAKE_SLOT_WAIT;
pub(crate) use state::{MemoryLimitExceeded, ProcessState};
pub(crate) use task::{run, Launch};

use crate::mailbox::Message;
use crate::signal::ExitReason;
use std::fmt;

/// How a process starts.
#[derive(Clone)]
pub(crate) enum Start {
    /// A command module's `_start` (WASI), as the root process.
    Command,
    /// An export taking no argument or one `i32` (`takes_arg`), resolved
    /// with [`crate::module::Module::entry`].
    Export {
        /// The export.
        export: wasmtime::ModuleExport,
        /// Whether it takes `arg`.
        takes_arg: bool,
        /// The `i32` it is given, if it takes one.
        arg: u32,
    },
}

/// What a process that hibernates wakes with: where its fresh instance
/// starts, and its init message (its state and resources), charged to the
/// process while it sleeps.
pub(crate) struct Hibernation {
    pub start: Start,
    pub init: Message,
}

/// The error `process.hibernate` raises to unwind the guest; the
/// [`Hibernation`] is in the process's state.
#[derive(Debug)]
pub(crate) struct HibernateRequest;

impl fmt::Display for HibernateRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("process hibernated")
    }
}

impl std::error::Error for HibernateRequest {}

/// The error `process.exit` raises to unwind the guest.
#[derive(Debug)]
pub(crate) struct ExitRequest(pub ExitReason);

impl fmt::Display for ExitRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "process exited ({})", self.0)
    }
}

impl std::error::Error for ExitRequest {}

/// What the root process's caller learns when it ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Why it ended.
    pub reason: ExitReason,
    /// The exit status a command should return: 0 for a normal exit, the WASI
    /// exit status when the guest chose one, 1 otherwise.
    pub status: i32,
}
