//! A process's instances of plugins: made on its first call, counted
//! against the VM's limit, forgotten when it hibernates.

use super::native::panic_text;
use super::{plugin_fault, reason, Kind, LoadedPlugin};
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
    /// Gives the slot back to the VM's count when the process ends (a
    /// native plugin's state takes none).
    _slot: Option<Slot>,
}

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
        let limit = node.plugin_instance_limit;
        if node.plugin_instances.fetch_add(1, Ordering::Relaxed) >= limit {
            node.plugin_instances.fetch_sub(1, Ordering::Relaxed);
            wasmtime::bail!(
                "limit-reached: {limit} plugin instances are in use, the VM's limit, so plugin {} could not start for this process (raise it with --max-plugin-instances)",
                self.package.package_name()
            );
        }
        let slot = Slot(node.clone());
        node.plugin_instantiations.fetch_add(1, Ordering::Relaxed);
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
        self.store_instance(caller, instance, None, Some(slot));
        Ok(instance)
    }

    pub(super) fn store_instance(
        &self,
        caller: &mut Caller<'_, ProcessState>,
        instance: Instance,
        native: Option<vm_plugin::State>,
        slot: Option<Slot>,
    ) {
        let plugins = &mut caller.data_mut().plugins;
        if plugins.len() <= self.index {
            plugins.resize_with(self.index + 1, || None);
        }
        plugins[self.index] = Some(Box::new(PluginInstance {
            instance,
            native,
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
            let state =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| plugin.new_state()))
                    .map_err(|p| {
                        wasmtime::format_err!(
                            "plugin {} panicked making a state: {}",
                            self.package.package_name(),
                            panic_text(p)
                        )
                    })?;
            caller
                .data()
                .node
                .plugin_instantiations
                .fetch_add(1, Ordering::Relaxed);
            self.store_instance(caller, Instance::Native, Some(state), None);
        }
        Ok(caller.data_mut().plugins[self.index]
            .as_mut()
            .and_then(|p| p.native.as_mut())
            .expect("made above"))
    }
}
