//! Global names (ABI 1.8 `global`), as Erlang's `global`: one holder per
//! name across a cluster. The cluster layer keeps them in a store every
//! node sees (NATS JetStream); the kernel keeps, in a book of its own, the
//! names its processes hold, so that a process's end frees them
//! ([`GlobalRequest::Release`]) and its charge is given back. A kernel on
//! its own keeps its global names in that book alone, apart from the
//! registry's.

use crate::budget::Budget;
use crate::message::Attachment;
use crate::registry::{RegisterError, Scope};
use crate::remote::node_of;
use crate::Kernel;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// What a cluster's store of global names is asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GlobalRequest {
    /// Take `name` for `pid`, a live process of this node, unless a live
    /// process holds it (on any node).
    Register {
        /// The name.
        name: String,
        /// Its holder to be.
        pid: u64,
    },
    /// Who holds `name`, if a live process does.
    Lookup {
        /// The name.
        name: String,
    },
    /// Remove `name`, whoever holds it.
    Unregister {
        /// The name.
        name: String,
    },
    /// `pid` ended: remove `name` if it still names `pid`.
    Release {
        /// The name.
        name: String,
        /// The process that ended.
        pid: u64,
    },
}

/// What the store answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GlobalReply {
    /// Registered, or released.
    Done,
    /// A live process holds the name.
    Taken,
    /// Who holds the name (a lookup).
    Holder(Option<u64>),
    /// Whether a live process held the name (an unregister).
    Removed(bool),
}

/// The store's answer, on its way; `Err` says why the store could not be
/// asked. The request is made when the future is made, not when it is
/// polled: dropping it cancels nothing.
pub type GlobalFuture = Pin<Box<dyn Future<Output = Result<GlobalReply, String>> + Send>>;

impl<R: Attachment> Kernel<R> {
    /// Registers the global name `name` for `target`, a process of this
    /// node, charged to `payer` until the name is freed.
    pub async fn register_global(
        &self,
        name: &str,
        target: u64,
        payer: &Arc<Budget>,
    ) -> Result<(), RegisterError> {
        if node_of(target) != self.node() {
            return Err(if self.remote_for(target).is_some() {
                RegisterError::NotLocal
            } else {
                RegisterError::NotFound
            });
        }
        // This node's book first: a local holder decides at once, and the
        // holder's end frees the name even while the store is being asked.
        self.register_in(Scope::Global, name, target, payer)?;
        let Some(remote) = self.attached() else {
            return Ok(());
        };
        let asked = remote.global(GlobalRequest::Register {
            name: name.to_string(),
            pid: target,
        });
        let refusal = match asked.await {
            Ok(GlobalReply::Done) => {
                if self.get(target).is_none() {
                    // It ended while the store was asked, and its release
                    // may have gone first: the name must not outlive it.
                    drop(remote.global(GlobalRequest::Release {
                        name: name.to_string(),
                        pid: target,
                    }));
                }
                return Ok(());
            }
            Ok(GlobalReply::Taken) => RegisterError::Taken,
            Ok(other) => RegisterError::Unreachable(format!("the store answered {other:?}")),
            Err(why) => RegisterError::Unreachable(why),
        };
        if let Some(p) = self.get(target) {
            self.forget_name(Scope::Global, &p, name);
        }
        Err(refusal)
    }

    /// The process that holds the global name `name`, if a live one does;
    /// `Err` if the cluster's store could not be asked.
    pub async fn lookup_global(&self, name: &str) -> Result<Option<u64>, String> {
        let Some(remote) = self.attached() else {
            return Ok(self.lookup_in(Scope::Global, name));
        };
        match remote
            .global(GlobalRequest::Lookup {
                name: name.to_string(),
            })
            .await?
        {
            GlobalReply::Holder(holder) => Ok(holder),
            other => Err(format!("the store answered {other:?}")),
        }
    }

    /// Removes the global name `name`, whoever holds it; whether a live
    /// process held it, or `Err` if the cluster's store could not be asked.
    pub async fn unregister_global(&self, name: &str) -> Result<bool, String> {
        let Some(remote) = self.attached() else {
            return Ok(self.unregister_in(Scope::Global, name).is_some());
        };
        let removed = remote
            .global(GlobalRequest::Unregister {
                name: name.to_string(),
            })
            .await?;
        // This node's book after the store, so that a store that could
        // not be asked leaves the holder's end to free the name.
        self.unregister_in(Scope::Global, name);
        match removed {
            GlobalReply::Removed(held) => Ok(held),
            other => Err(format!("the store answered {other:?}")),
        }
    }

    /// Frees the global names process `id`, which ended, held.
    pub(crate) fn release_global_names(&self, id: u64, names: &[String]) {
        if names.is_empty() {
            return;
        }
        self.forget_names(Scope::Global, id, names);
        if let Some(remote) = self.attached() {
            for name in names {
                // Made now, in order behind the registration; the answer
                // matters to no one.
                drop(remote.global(GlobalRequest::Release {
                    name: name.clone(),
                    pid: id,
                }));
            }
        }
    }
}
