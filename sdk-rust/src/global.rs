//! Names across a cluster (ABI 1.8), as Erlang's `global`: one holder per
//! name on every node, freed when the holder ends or its node goes down.
//! Outside a cluster they are this VM's own, apart from
//! [`crate::registry`]'s names.
//!
//! ```no_run
//! use vm_sdk::{global, Mailbox, Process};
//! let me = Process::<String>::this();
//! match me.register_global("leader") {
//!     Ok(()) => println!("leading"),
//!     Err(e) => println!("following: {e}"),
//! }
//! let leader: Option<Process<String>> = Process::lookup_global("leader")?;
//! global::unregister("leader")?;
//! # Ok::<(), vm_sdk::Error>(())
//! ```

use crate::abi::{self, ErrorCode};
use crate::error::Error;
use crate::process::Process;

impl<M> Process<M> {
    /// Registers the process, which must be of this node, under the global
    /// name `name`.
    ///
    /// # Errors
    /// `already-registered` if a live process on any node holds the name;
    /// `not-found` if this process has ended; `invalid-argument` if it is
    /// of another node; `unreachable` if the cluster's store cannot be
    /// reached.
    pub fn register_global(&self, name: &str) -> Result<(), Error> {
        // SAFETY: the buffers are valid for the call.
        crate::call(|ret| unsafe {
            abi::global::register(name.as_ptr(), name.len(), self.id(), ret)
        })
    }

    /// The process that holds the global name `name`, expected to accept
    /// `M`; `None` if no live process does.
    ///
    /// # Errors
    /// `unreachable` if the cluster's store cannot be reached.
    pub fn lookup_global(name: &str) -> Result<Option<Process<M>>, Error> {
        // SAFETY: the buffers are valid for the call.
        match crate::call(|ret| unsafe { abi::global::lookup(name.as_ptr(), name.len(), ret) }) {
            Ok(id) => Ok(Some(Process::from_id(id))),
            Err(e) if e.code() == Some(ErrorCode::NotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// Removes the global name `name`, whoever holds it.
///
/// # Errors
/// `not-found` if no live process held it; `unreachable` if the cluster's
/// store cannot be reached.
pub fn unregister(name: &str) -> Result<(), Error> {
    // SAFETY: the buffers are valid for the call.
    crate::call(|ret| unsafe { abi::global::unregister(name.as_ptr(), name.len(), ret) })
}
