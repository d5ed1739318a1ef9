//! Process names: a VM-wide registry. A name is removed when its process
//! ends; a process holds at most [`MAX_NAMES`] names of at most
//! [`MAX_NAME_LEN`] bytes, since names are the VM's memory to keep.

use super::Node;
use crate::sync::lock;

/// The most names one process may hold: names are the VM's to keep, so
/// their number and length are bounded.
pub(crate) const MAX_NAMES: usize = 16;
/// The longest name, in bytes.
pub(crate) const MAX_NAME_LEN: usize = 255;

impl Node {
    /// Registers `name` for `target`. Fails with `not-found` if it has
    /// ended, `already-registered` if a live process holds the name,
    /// `invalid-argument` for a name longer than [`MAX_NAME_LEN`] and
    /// `limit-reached` if the target holds [`MAX_NAMES`] names.
    pub fn register(&self, name: &str, target: u64) -> Result<(), vm_abi::ErrorCode> {
        if name.len() > MAX_NAME_LEN {
            return Err(vm_abi::ErrorCode::InvalidArgument);
        }
        let Some(p) = self.get(target) else {
            return Err(vm_abi::ErrorCode::NotFound);
        };
        let mut registry = lock(&self.registry);
        if let Some(holder) = registry.get(name) {
            if self.get(*holder).is_some() {
                return Err(vm_abi::ErrorCode::AlreadyRegistered);
            }
        }
        let mut r = lock(&p.relations);
        if !r.alive {
            return Err(vm_abi::ErrorCode::NotFound);
        }
        if r.names.len() >= MAX_NAMES {
            return Err(vm_abi::ErrorCode::LimitReached);
        }
        r.names.push(name.to_string());
        registry.insert(name.to_string(), target);
        Ok(())
    }

    pub fn lookup(&self, name: &str) -> Option<u64> {
        lock(&self.registry).get(name).copied()
    }

    /// Removes `name`; false if no process held it.
    pub fn unregister(&self, name: &str) -> bool {
        // Under the registry's lock throughout, so a register of the same
        // name cannot slip in between the two books.
        let mut registry = lock(&self.registry);
        let Some(id) = registry.remove(name) else {
            return false;
        };
        if let Some(p) = self.get(id) {
            let mut r = lock(&p.relations);
            if let Some(at) = r.names.iter().position(|n| n == name) {
                r.names.swap_remove(at);
            }
        }
        true
    }

    /// Removes the names `id` held when it ended (unless another process
    /// registered one meanwhile).
    pub(super) fn forget_names(&self, id: u64, names: &[String]) {
        if names.is_empty() {
            return;
        }
        let mut registry = lock(&self.registry);
        for name in names {
            if registry.get(name) == Some(&id) {
                registry.remove(name);
            }
        }
    }
}
