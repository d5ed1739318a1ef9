//! Process names: a VM-wide registry, and the names of [`crate::global`]
//! when the kernel is on its own. A name is removed when its process ends.
//! Each name is at most [`MAX_NAME_LEN`] bytes and is charged to the
//! process that registered it (not the one it names, so no process can use
//! up another's budget by naming it).

use crate::budget::{Budget, Charge, Refusal};
use crate::message::Attachment;
use crate::sync::lock;
use crate::{Kernel, ProcessEntry};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

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

/// The names of one scope, by name.
pub(crate) type Names = Mutex<HashMap<String, Name>>;

/// Which book a name is in: the registry's, or (ABI 1.8) the global
/// names' this node holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    /// `registry`: this VM's names.
    Local,
    /// `global`: names across the cluster (this VM's own, outside one).
    Global,
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
    /// (Global names) The process to name is of another node.
    NotLocal,
    /// (Global names) The cluster's store could not be asked; why.
    Unreachable(String),
}

impl<R: Attachment> Kernel<R> {
    fn names(&self, scope: Scope) -> &Names {
        match scope {
            Scope::Local => &self.registry,
            Scope::Global => &self.globals,
        }
    }

    /// Registers `name` for `target`, charged to `payer` (the registrant).
    pub fn register(
        &self,
        name: &str,
        target: u64,
        payer: &Arc<Budget>,
    ) -> Result<(), RegisterError> {
        self.register_in(Scope::Local, name, target, payer)
    }

    /// Records `name` for `target` in `scope`'s book and its holder's.
    pub(crate) fn register_in(
        &self,
        scope: Scope,
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
        let mut names = lock(self.names(scope));
        if let Some(held) = names.get(name) {
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
        match scope {
            Scope::Local => r.names.push(name.to_string()),
            Scope::Global => r.global_names.push(name.to_string()),
        }
        names.insert(
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
        self.lookup_in(Scope::Local, name)
    }

    pub(crate) fn lookup_in(&self, scope: Scope, name: &str) -> Option<u64> {
        lock(self.names(scope)).get(name).map(|n| n.holder)
    }

    /// Removes `name`; false if no process held it.
    pub fn unregister(&self, name: &str) -> bool {
        self.unregister_in(Scope::Local, name).is_some()
    }

    /// Removes `name` from `scope`'s book; who held it, if anyone did.
    pub(crate) fn unregister_in(&self, scope: Scope, name: &str) -> Option<u64> {
        // Under the book's lock throughout, so a register of the same
        // name cannot slip in between the two books.
        let mut names = lock(self.names(scope));
        let held = names.remove(name)?;
        if let Some(p) = self.get(held.holder) {
            let mut r = lock(&p.relations);
            let list = match scope {
                Scope::Local => &mut r.names,
                Scope::Global => &mut r.global_names,
            };
            if let Some(at) = list.iter().position(|n| n == name) {
                list.swap_remove(at);
            }
        }
        Some(held.holder)
    }

    /// Removes `name` from `scope`'s book if `holder` still holds it.
    pub(crate) fn forget_name(&self, scope: Scope, holder: &ProcessEntry<R>, name: &str) {
        let mut names = lock(self.names(scope));
        if names.get(name).map(|n| n.holder) == Some(holder.id) {
            names.remove(name);
            let mut r = lock(&holder.relations);
            if let Some(at) = r.global_names.iter().position(|n| n == name) {
                r.global_names.swap_remove(at);
            }
        }
    }

    /// Removes the names `id` held in `scope` when it ended (unless another
    /// process registered one meanwhile).
    pub(crate) fn forget_names(&self, scope: Scope, id: u64, names: &[String]) {
        if names.is_empty() {
            return;
        }
        let mut book = lock(self.names(scope));
        for name in names {
            if book.get(name).map(|n| n.holder) == Some(id) {
                book.remove(name);
            }
        }
    }
}
