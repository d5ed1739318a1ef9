//! Process names: a VM-wide registry. A name is removed when its process
//! ends. Each name is at most [`MAX_NAME_LEN`] bytes and is charged to the
//! process that registered it (not the one it names, so no process can use
//! up another's budget by naming it).

use crate::budget::{Budget, Charge, Refusal};
use crate::message::Attachment;
use crate::sync::lock;
use crate::Kernel;
use std::sync::Arc;

/// The longest name, in bytes.
pub const MAX_NAME_LEN: usize = 255;

/// What the VM keeps for a name beyond its bytes: its entries in the
/// registry and in its holder's record.
const NAME_COST: usize = 96;

/// A registered name: who holds it, and what it costs whoever registered it.
pub(crate) struct Name {
    pub holder: u64,
    _charge: Charge,
}

/// Why `register` failed.
#[derive(Debug)]
pub enum RegisterError {
    /// The name is longer than [`MAX_NAME_LEN`].
    TooLong,
    /// The process to name has ended.
    NotFound,
    /// A live process holds the name.
    Taken,
    /// The registrant's budget or the VM's would pass its limit.
    Refused(Refusal),
}

impl<R: Attachment> Kernel<R> {
    /// Registers `name` for `target`, charged to `payer` (the registrant).
    pub fn register(
        &self,
        name: &str,
        target: u64,
        payer: &Arc<Budget>,
    ) -> Result<(), RegisterError> {
        if name.len() > MAX_NAME_LEN {
            return Err(RegisterError::TooLong);
        }
        let Some(p) = self.get(target) else {
            return Err(RegisterError::NotFound);
        };
        let mut registry = lock(&self.registry);
        if let Some(held) = registry.get(name) {
            if self.get(held.holder).is_some() {
                return Err(RegisterError::Taken);
            }
        }
        let charge = payer
            .charge(NAME_COST + 2 * name.len())
            .map_err(RegisterError::Refused)?;
        let mut r = lock(&p.relations);
        if !r.alive {
            return Err(RegisterError::NotFound);
        }
        r.names.push(name.to_string());
        registry.insert(
            name.to_string(),
            Name {
                holder: target,
                _charge: charge,
            },
        );
        Ok(())
    }

    /// The process that holds `name`, if one does.
    pub fn lookup(&self, name: &str) -> Option<u64> {
        lock(&self.registry).get(name).map(|n| n.holder)
    }

    /// Removes `name`; false if no process held it.
    pub fn unregister(&self, name: &str) -> bool {
        // Under the registry's lock throughout, so a register of the same
        // name cannot slip in between the two books.
        let mut registry = lock(&self.registry);
        let Some(held) = registry.remove(name) else {
            return false;
        };
        if let Some(p) = self.get(held.holder) {
            let mut r = lock(&p.relations);
            if let Some(at) = r.names.iter().position(|n| n == name) {
                r.names.swap_remove(at);
            }
        }
        true
    }

    /// Removes the names `id` held when it ended (unless another process
    /// registered one meanwhile).
    pub(crate) fn forget_names(&self, id: u64, names: &[String]) {
        if names.is_empty() {
            return;
        }
        let mut registry = lock(&self.registry);
        for name in names {
            if registry.get(name).map(|n| n.holder) == Some(id) {
                registry.remove(name);
            }
        }
    }
}
