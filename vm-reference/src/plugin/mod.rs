//! Plugins: host functions under a WIT package of their own
//! (`plugin:NAME@MAJOR.MINOR.PATCH`), which guests import from
//! `plugin:NAME/IFACE@MAJOR` as they import `vm:host`.
//!
//! A plugin here is a core wasm module that exports each function of its
//! WIT under the canonical ABI's name (`plugin:kv/store@1#get`, or with the
//! full version, `plugin:kv/store@1.0.0#get`, as wit-bindgen names it) and
//! carries its WIT text in a custom section named [`WIT_SECTION`].
//!
//! A process's instance of a plugin lives in the process's own store and is
//! made on the process's first call to it, so spawning costs the same with
//! any number of plugins loaded, and a plugin's state is the calling
//! process's alone. It runs under the process's memory limit, stack limit
//! and time slices; a trap inside it ends the calling process alone, with a
//! reason naming the plugin function.
//!
//! A call copies: each `string`/`list<u8>` argument into memory the
//! plugin's `cabi_realloc` gives, and each one in the result into memory
//! the guest's `cabi_realloc` gives, as the canonical ABI lowers between two
//! components. What the guest passes is checked as a host call's arguments
//! are; what the plugin returns is checked too, so a faulty plugin cannot
//! hand a guest an invalid value.

mod call;
mod canon;
mod component;
mod core;
mod exports;
mod instance;
mod load;
mod native;

pub(crate) use instance::{forget_instances, PluginInstance};
pub(crate) use native::native_type;

use crate::process::ProcessState;
use std::fmt;
use std::sync::Arc;
use vm_abi::plugin::Package;
use vm_abi::CoreType;
use wasmtime::{Engine, FuncType, InstancePre, Linker, ModuleExport, ValType};

/// The custom section in which a plugin module carries its WIT text.
pub const WIT_SECTION: &str = "vm:plugin";

/// Why a plugin could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginError {
    /// The plugin as given (its file name, for the CLI).
    pub plugin: String,
    /// What is wrong.
    pub problem: String,
    /// What to do about it.
    pub hint: String,
}

impl fmt::Display for PluginError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "plugin {}: {} ({})",
            self.plugin, self.problem, self.hint
        )
    }
}

impl std::error::Error for PluginError {}

/// A plugin loaded into a VM: its WIT, its compiled code pre-linked with
/// what it may import (WASI), and where each function is exported.
pub(crate) struct LoadedPlugin {
    /// The name it was loaded under (its file name, for the CLI).
    pub source: String,
    /// Its WIT package.
    pub package: Package,
    /// Its place in the VM's list (and in each process's instances).
    pub index: usize,
    kind: Kind,
    /// Per interface, per function: `plugin:kv/store.get`, as reasons
    /// name it (made once, not per call).
    labels: Vec<Vec<String>>,
    /// Whether its functions are served by another process over NATS
    /// (`crate::remote_plugin`): native functions that send requests.
    pub remote: bool,
}

/// What implements a plugin.
enum Kind {
    /// A core module: the VM lowers and lifts with the canonical ABI.
    Core {
        pre: InstancePre<ProcessState>,
        memory: ModuleExport,
        realloc: Option<ModuleExport>,
        initialize: Option<ModuleExport>,
        /// Per interface, per function: the export and its post-return.
        exports: Vec<Vec<(ModuleExport, Option<ModuleExport>)>>,
    },
    /// A component: wasmtime lowers and lifts, from values the VM makes.
    Component {
        pre: wasmtime::component::InstancePre<ProcessState>,
        /// Per interface, per function: the export.
        exports: Vec<Vec<wasmtime::component::ComponentExportIndex>>,
    },
    /// Native code, in-process or from a shared library: called with the
    /// VM's copies of the arguments.
    Native {
        plugin: Arc<vm_plugin::Plugin>,
        /// Per interface, per function: its index in the plugin's list.
        functions: Vec<Vec<usize>>,
    },
}

impl fmt::Debug for LoadedPlugin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoadedPlugin")
            .field("source", &self.source)
            .field("package", &self.package.marker())
            .finish()
    }
}

impl LoadedPlugin {
    fn new(source: &str, package: Package, index: usize, kind: Kind) -> LoadedPlugin {
        let labels = package
            .interfaces
            .iter()
            .map(|i| {
                i.functions
                    .iter()
                    .map(|f| format!("{}/{}.{}", package.package_name(), i.name, f.name))
                    .collect()
            })
            .collect();
        LoadedPlugin {
            source: source.to_string(),
            package,
            index,
            kind,
            labels,
            remote: false,
        }
    }

    /// The plugin's module transform, if it is a native plugin with one.
    pub fn transform(&self) -> Option<&vm_plugin::Transform> {
        match &self.kind {
            Kind::Native { plugin, .. } => plugin.transform(),
            _ => None,
        }
    }

    /// Whether it is native code, outside the sandbox (a remote plugin's
    /// code runs in its server, not here).
    pub fn is_native(&self) -> bool {
        matches!(self.kind, Kind::Native { .. }) && !self.remote
    }

    /// What kind of plugin it is, in words.
    pub fn kind_name(&self) -> &'static str {
        match self.kind {
            Kind::Core { .. } => "core module",
            Kind::Component { .. } => "component",
            Kind::Native { .. } if self.remote => "remote plugin",
            Kind::Native { .. } => "native plugin",
        }
    }

    /// Adds a host function for each of the plugin's functions, under the
    /// import module guests name.
    pub fn add_to_linker(
        self: &Arc<Self>,
        engine: &Engine,
        linker: &mut Linker<ProcessState>,
    ) -> wasmtime::Result<()> {
        for (i, iface) in self.package.interfaces.iter().enumerate() {
            for (j, f) in iface.functions.iter().enumerate() {
                let ty = FuncType::new(
                    engine,
                    f.import_params.iter().copied().map(core_type),
                    f.import_results.iter().copied().map(core_type),
                );
                let plugin = self.clone();
                let sync = match &self.kind {
                    Kind::Native { plugin, functions } => {
                        matches!(
                            plugin.functions()[functions[i][j]].handler,
                            vm_plugin::Handler::Sync(_)
                        ) && !f.needs_guest_realloc()
                    }
                    _ => false,
                };
                if sync {
                    linker.func_new(
                        &iface.module,
                        &f.name,
                        ty,
                        move |caller, params, results| {
                            plugin.call_sync(caller, i, j, params, results)
                        },
                    )?;
                } else {
                    linker.func_new_async(
                        &iface.module,
                        &f.name,
                        ty,
                        move |caller, params, results| {
                            let plugin = plugin.clone();
                            Box::new(
                                async move { plugin.call(caller, i, j, params, results).await },
                            )
                        },
                    )?;
                }
            }
        }
        Ok(())
    }
}

fn core_type(t: CoreType) -> ValType {
    match t {
        CoreType::I32 => ValType::I32,
        CoreType::I64 => ValType::I64,
        CoreType::F32 => ValType::F32,
        CoreType::F64 => ValType::F64,
    }
}

/// What a call gives the guest: a value of the function's result type,
/// or nothing for a function without one.
type Reply = Option<canon::Val>;

/// The error of a call into a plugin, as the calling process's exit
/// reason: the function, then what happened. A plugin that calls WASI's
/// exit faults: it may not end its caller, least of all as `normal`.
fn plugin_fault(e: wasmtime::Error, label: &str) -> wasmtime::Error {
    if let Some(limit) = e.downcast_ref::<crate::process::MemoryLimitExceeded>() {
        return wasmtime::format_err!("{label}: {limit}");
    }
    wasmtime::format_err!("{label} failed: {}", reason(&e))
}

fn reason(e: &wasmtime::Error) -> String {
    if let Some(exit) = e.downcast_ref::<wasmtime_wasi::I32Exit>() {
        return format!(
            "the plugin called WASI's exit({}), which a plugin may not (a fault in the plugin)",
            exit.0
        );
    }
    if e.downcast_ref::<ImportInRealloc>().is_some() {
        return ImportInRealloc.to_string();
    }
    match e.downcast_ref::<wasmtime::Trap>() {
        Some(wasmtime::Trap::StackOverflow) => {
            "call stack exhausted (the calling process's stack limit; raise it with --max-stack)"
                .into()
        }
        Some(trap) => trap.to_string(),
        None => e.root_cause().to_string(),
    }
}

/// The fault of an import called while a `cabi_realloc` allocates for a
/// plugin call.
#[derive(Debug)]
struct ImportInRealloc;

/// The error a `vm:host` import returns when called from inside a
/// `cabi_realloc` that allocates for a plugin call.
pub(crate) fn import_in_realloc() -> wasmtime::Error {
    wasmtime::Error::new(ImportInRealloc)
}

impl fmt::Display for ImportInRealloc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("its cabi_realloc called an import while allocating for a plugin call, which the canonical ABI forbids (a realloc may only allocate)")
    }
}

impl std::error::Error for ImportInRealloc {}
