//! A process's instances of plugins: made on its first call, counted
//! against the VM's limit, forgotten when it hibernates.

use super::native::panic_text;
use super::{plugin_fault, reason, Kind, LoadedPlugin};
use crate::budget::Charge;
use crate::process::ProcessState;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use wasmtime::component;
use wasmtime::{Caller, Memory};

/// Forgets a process's wasm plugin instances when it hibernates (they
/// lived in the store it gives up); native plugins' states are the host's
/// and stay, as its sockets do.
pub(crate) fn forget_instances(plugins: &mut [Option<Box<PluginInstance>>]) {
    for p in plugins {
        if p.as_ref().is_some_and(|i| i.native.is_none()) {
            *p = None;
        }
    }
}

/// A process's instance of a plugin.
pub(crate) struct PluginInstance {
    instance: Instance,
    /// A native plugin's state for the process.
    native: Option<vm_plugin::State>,
    /// What a native state holds, charged to the process (as measured
    /// after its last call).
    charge: Charge,
    /// Gives the slot back to the VM's count when the process ends.
    _slot: Slot,
}

/// What a native state costs beyond what it measures: its box and the
/// VM's record of it.
const NATIVE_STATE_BASE: usize = 64;

#[derive(Clone, Copy)]
pub(super) enum Instance {
    Core {
        instance: wasmtime::Instance,
        memory: Memory,
    },
    Component(component::Instance),
    Native,
}

pub(super) struct Slot(Arc<crate::node::Node>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.plugin_instances.fetch_sub(1, Ordering::Relaxed);
    }
}

impl LoadedPlugin {
    /// The calling process's instance, made on its first call.
    pub(super) async fn instance(
        &self,
        caller: &mut Caller<'_, ProcessState>,
    ) -> wasmtime::Result<Instance> {
        if let Some(Some(p)) = caller.data().plugins.get(self.index) {
            return Ok(p.instance);
        }
        let node = caller.data().node.clone();
        let slot = self.slot(&node)?;
        let name = self.package.package_name();
        let started = |e: wasmtime::Error| {
            if crate::map_limit::is_out_of_memory(&e) {
                wasmtime::format_err!(
                    "limit-reached: the instance pool is full, so plugin {name} could not start for this process (raise --max-plugin-instances, or see vm.max_map_count)"
                )
            } else {
                wasmtime::format_err!("plugin {name} could not start: {}", reason(&e))
            }
        };
        let instance = match &self.kind {
            Kind::Core {
                pre,
                memory,
                initialize,
                ..
            } => {
                let instance = pre.instantiate_async(&mut *caller).await.map_err(started)?;
                let memory = instance
                    .get_module_export(&mut *caller, memory)
                    .and_then(|e| e.into_memory())
                    .expect("checked at load");
                if let Some(init) = initialize {
                    let f = instance
                        .get_module_export(&mut *caller, init)
                        .and_then(|e| e.into_func())
                        .expect("checked at load");
                    f.call_async(&mut *caller, &[], &mut [])
                        .await
                        .map_err(|e| plugin_fault(e, &format!("{name} (_initialize)")))?;
                }
                Instance::Core { instance, memory }
            }
            Kind::Component { pre, .. } => {
                Instance::Component(pre.instantiate_async(&mut *caller).await.map_err(started)?)
            }
            Kind::Native { .. } => unreachable!("a native plugin has a state, not an instance"),
        };
        self.store_instance(caller, instance, None, slot);
        Ok(instance)
    }

    /// One of the VM's `--max-plugin-instances`, for a process's instance
    /// or native state.
    fn slot(&self, node: &Arc<crate::node::Node>) -> wasmtime::Result<Slot> {
        let limit = node.plugin_instance_limit;
        if node.plugin_instances.fetch_add(1, Ordering::Relaxed) >= limit {
            node.plugin_instances.fetch_sub(1, Ordering::Relaxed);
            wasmtime::bail!(
                "limit-reached: {limit} plugin instances are in use, the VM's limit, so plugin {} could not start for this process (raise it with --max-plugin-instances)",
                self.package.package_name()
            );
        }
        node.plugin_instantiations.fetch_add(1, Ordering::Relaxed);
        Ok(Slot(node.clone()))
    }

    pub(super) fn store_instance(
        &self,
        caller: &mut Caller<'_, ProcessState>,
        instance: Instance,
        native: Option<vm_plugin::State>,
        slot: Slot,
    ) {
        let plugins = &mut caller.data_mut().plugins;
        if plugins.len() <= self.index {
            plugins.resize_with(self.index + 1, || None);
        }
        plugins[self.index] = Some(Box::new(PluginInstance {
            instance,
            native,
            charge: Charge::none(),
            _slot: slot,
        }));
    }

    /// A process's state of a native plugin, made on its first call.
    pub(super) fn native_state<'c>(
        &self,
        caller: &'c mut Caller<'_, ProcessState>,
        plugin: &vm_plugin::Plugin,
    ) -> wasmtime::Result<&'c mut vm_plugin::State> {
        let made = matches!(caller.data().plugins.get(self.index), Some(Some(_)));
        if !made {
            let node = caller.data().node.clone();
            let slot = self.slot(&node)?;
            let state =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| plugin.new_state()))
                    .map_err(|p| {
                        wasmtime::format_err!(
                            "plugin {} panicked making a state: {}",
                            self.package.package_name(),
                            panic_text(p)
                        )
                    })?;
            self.store_instance(caller, Instance::Native, Some(state), slot);
            self.charge_state(caller, plugin)?;
        }
        Ok(caller.data_mut().plugins[self.index]
            .as_mut()
            .and_then(|p| p.native.as_mut())
            .expect("made above"))
    }

    /// Charges a process's native state what it holds now (its value, and
    /// what the plugin measures it to own), after each call: past the
    /// process's or the VM's budget, the call fails.
    pub(super) fn charge_state(
        &self,
        caller: &mut Caller<'_, ProcessState>,
        plugin: &vm_plugin::Plugin,
    ) -> wasmtime::Result<()> {
        let ProcessState { entry, plugins, .. } = caller.data_mut();
        let Some(Some(instance)) = plugins.get_mut(self.index) else {
            return Ok(());
        };
        let Some(state) = instance.native.as_ref() else {
            return Ok(());
        };
        // A plugin without a measure is charged its state's own size, which
        // no call changes: nothing to measure, nothing to catch.
        let measured = if plugin.measures_state() {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                std::mem::size_of_val(&**state) + plugin.state_size(state)
            }))
            .map_err(|p| {
                wasmtime::format_err!(
                    "plugin {} panicked measuring its state: {}",
                    self.package.package_name(),
                    panic_text(p)
                )
            })?
        } else {
            std::mem::size_of_val(&**state)
        };
        let cost = NATIVE_STATE_BASE.saturating_add(measured);
        if cost == instance.charge.cost() {
            return Ok(());
        }
        let budget = entry.budget();
        // The old charge goes first: the state replaces what it held.
        instance.charge = Charge::none();
        instance.charge = budget.charge(cost).map_err(|refused| {
            wasmtime::format_err!(
                "limit-reached: {}",
                refused.explain(&format!(
                    "plugin {}'s state for this process, of {cost} bytes,",
                    self.package.package_name()
                ))
            )
        })?;
        Ok(())
    }
}
