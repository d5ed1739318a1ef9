//! Names for processes, VM-wide. A name is removed when its process ends.

use crate::abi;
use crate::error::Error;
use crate::process::Process;

impl<M> Process<M> {
    /// Registers the process under `name`.
    ///
    /// # Errors
    /// `already-registered` if a live process holds the name.
    pub fn register(&self, name: &str) -> Result<(), Error> {
        // SAFETY: the buffers are valid for the call.
        crate::call(|ret| unsafe {
            abi::registry::register(name.as_ptr(), name.len(), self.id(), ret)
        })
    }

    /// The process registered under `name`, expected to accept `M`.
    pub fn lookup(name: &str) -> Option<Process<M>> {
        // SAFETY: the buffers are valid for the call.
        crate::call(|ret| unsafe { abi::registry::lookup(name.as_ptr(), name.len(), ret) })
            .ok()
            .map(Process::from_id)
    }
}

/// Removes a name.
///
/// # Errors
/// `not-found` if no process holds it.
pub fn unregister(name: &str) -> Result<(), Error> {
    // SAFETY: the buffers are valid for the call.
    crate::call(|ret| unsafe { abi::registry::unregister(name.as_ptr(), name.len(), ret) })
}
