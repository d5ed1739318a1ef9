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

use crate::process::ProcessState;
use std::fmt;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use vm_abi::plugin::{Package, ResultLayout, Returns, Scalar, Value};
use vm_abi::CoreType;
use vm_plugin::Returned;
use wasmtime::component;
use wasmtime::{
    Caller, Engine, Func, FuncType, InstancePre, Linker, Memory, ModuleExport, Val, ValType,
};

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
        pre: component::InstancePre<ProcessState>,
        /// Per interface, per function: the export.
        exports: Vec<Vec<component::ComponentExportIndex>>,
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
enum Instance {
    Core {
        instance: wasmtime::Instance,
        memory: Memory,
    },
    Component(component::Instance),
    Native,
}

struct Slot(Arc<crate::node::Node>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.plugin_instances.fetch_sub(1, Ordering::Relaxed);
    }
}

fn core_type(t: CoreType) -> ValType {
    match t {
        CoreType::I32 => ValType::I32,
        CoreType::I64 => ValType::I64,
    }
}

use crate::compat::signature;

fn val_types(ts: impl ExactSizeIterator<Item = ValType>) -> Option<Vec<CoreType>> {
    ts.map(|t| match t {
        ValType::I32 => Some(CoreType::I32),
        ValType::I64 => Some(CoreType::I64),
        _ => None,
    })
    .collect()
}

/// An argument read from the guest: a core value, or a copy of a string or
/// list.
enum Arg {
    Word(Val),
    Bytes(Vec<u8>),
}

/// What a call returns to the guest.
enum Reply {
    Nothing,
    Flat(Val),
    /// The result area, and the strings and lists to put in the guest's
    /// memory (with the offset of each one's pointer in the area).
    Area(Vec<u8>, Vec<(usize, Vec<u8>)>),
}

/// Which kind the bytes are, and the WIT text they carry.
struct Inspected {
    component: bool,
    wit: Option<String>,
}

impl LoadedPlugin {
    /// Reads, checks, compiles and pre-links a plugin: a core module or a
    /// component.
    pub fn load(
        engine: &Engine,
        linker: &Linker<ProcessState>,
        component_linker: &component::Linker<ProcessState>,
        source: &str,
        bytes: &[u8],
        index: usize,
    ) -> Result<LoadedPlugin, PluginError> {
        let fail = |problem: String, hint: &str| PluginError {
            plugin: source.to_string(),
            problem,
            hint: hint.to_string(),
        };
        let bytes = wat::parse_bytes(bytes).map_err(|e| {
            fail(
                e.to_string(),
                "a plugin is a WebAssembly module or component",
            )
        })?;
        let inspected = inspect(&bytes).map_err(|e| {
            fail(
                format!("is not valid WebAssembly: {e}"),
                "build it for wasm32-wasip1 (a core module) or wasm32-wasip2 (a component)",
            )
        })?;
        let Some(wit) = inspected.wit else {
            return Err(fail(
                format!("carries no WIT: the module has no `{WIT_SECTION}` custom section"),
                "embed the plugin's WIT text in it; in Rust: #[link_section = \"vm:plugin\"] #[used] static WIT: [u8; N] = *include_bytes!(\"kv.wit\");",
            ));
        };
        let package = Package::parse(source, &wit).map_err(|e| {
            fail(
                format!("its WIT is not a plugin package: {e:#}"),
                "see abi/README.md, Plugins",
            )
        })?;
        let kind = if inspected.component {
            component_kind(engine, component_linker, &package, &bytes, &fail)?
        } else {
            core_kind(engine, linker, &package, &bytes, &fail)?
        };
        Ok(LoadedPlugin::new(source, package, index, kind))
    }

    /// Checks a native plugin against its WIT: every function the WIT
    /// declares is registered, with the WIT's types, and none other.
    pub fn native(
        source: &str,
        plugin: Arc<vm_plugin::Plugin>,
        index: usize,
    ) -> Result<LoadedPlugin, PluginError> {
        let fail = |problem: String, hint: &str| PluginError {
            plugin: source.to_string(),
            problem,
            hint: hint.to_string(),
        };
        let package = Package::parse(source, plugin.wit()).map_err(|e| {
            fail(
                format!("its WIT is not a plugin package: {e:#}"),
                "see abi/README.md, Plugins",
            )
        })?;
        let registered = plugin.functions();
        for (i, r) in registered.iter().enumerate() {
            if registered[..i].iter().any(|o| o.name == r.name) {
                return Err(fail(
                    format!("implements `{}` twice", r.name),
                    "register each function once",
                ));
            }
        }
        let mut functions = Vec::new();
        let mut used = vec![false; registered.len()];
        for iface in &package.interfaces {
            let mut indices = Vec::new();
            for f in &iface.functions {
                let path = format!("{}.{}", iface.name, f.name);
                let Some(at) = registered.iter().position(|r| r.name == path) else {
                    return Err(fail(
                        format!("does not implement `{path}`, which its WIT declares"),
                        "register it with .func or .func_async (or, in C, name it in the table's functions)",
                    ));
                };
                used[at] = true;
                let r = &registered[at];
                let params: Vec<vm_plugin::Type> =
                    f.params.iter().map(|(_, v)| native_type(v)).collect();
                let returns = native_return_type(&f.returns);
                if r.params != params || r.returns != returns {
                    let show = |ps: &[vm_plugin::Type], ret: vm_plugin::ReturnType| {
                        let ps: Vec<&str> = ps.iter().map(|t| t.wit()).collect();
                        match ret.wit() {
                            r if r.is_empty() => format!("func({})", ps.join(", ")),
                            r => format!("func({}) -> {r}", ps.join(", ")),
                        }
                    };
                    return Err(fail(
                        format!(
                            "implements `{path}` as {}, but its WIT declares {}",
                            show(&r.params, r.returns),
                            show(&params, returns)
                        ),
                        "make the Rust types those of the WIT (string: String, list<u8>: Vec<u8>, s64: i64, option: Option, result: Result)",
                    ));
                }
                indices.push(at);
            }
            functions.push(indices);
        }
        if let Some(extra) = used.iter().position(|u| !u) {
            return Err(fail(
                format!(
                    "implements `{}`, which its WIT does not declare",
                    registered[extra].name
                ),
                "declare it in the WIT, or name it INTERFACE.FUNCTION as the WIT does",
            ));
        }
        Ok(LoadedPlugin::new(
            source,
            package,
            index,
            Kind::Native { plugin, functions },
        ))
    }

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
        }
    }

    /// The plugin's module transform, if it is a native plugin with one.
    pub fn transform(&self) -> Option<&vm_plugin::Transform> {
        match &self.kind {
            Kind::Native { plugin, .. } => plugin.transform(),
            _ => None,
        }
    }

    /// What kind of plugin it is, in words.
    pub fn kind_name(&self) -> &'static str {
        match self.kind {
            Kind::Core { .. } => "core module",
            Kind::Component { .. } => "component",
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

    /// The calling process's instance, made on its first call.
    async fn instance(&self, caller: &mut Caller<'_, ProcessState>) -> wasmtime::Result<Instance> {
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

    fn store_instance(
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

    /// Checks the return pointer and reads the arguments: the guest's
    /// memory, the return pointer (if the result has one), the arguments.
    fn prepare(
        &self,
        caller: &mut Caller<'_, ProcessState>,
        f: &vm_abi::plugin::Function,
        label: &str,
        params: &[Val],
    ) -> wasmtime::Result<(Memory, Option<u32>, Vec<Arg>)> {
        let caller = &*caller;
        let Some(guest_memory) = caller.data().memory else {
            wasmtime::bail!(
                "{label}: the module exports no memory named `memory`, which plugin calls need"
            );
        };
        // The return pointer is checked before anything happens, so a bad
        // one costs the plugin nothing.
        let ret = match &f.layout {
            ResultLayout::Area { size, align, .. } if f.has_return_pointer() => {
                let ret = params
                    .last()
                    .and_then(Val::i32)
                    .expect("typed by the linker") as u32;
                let fits = (ret as u64 + *size as u64) <= guest_memory.data_size(caller) as u64;
                if !ret.is_multiple_of(*align) || !fits {
                    wasmtime::bail!("{label}: return pointer {ret} lies outside memory or is not {align}-byte aligned");
                }
                Some(ret)
            }
            _ => None,
        };
        let mut args = Vec::with_capacity(f.params.len());
        let mut at = 0;
        for (name, value) in &f.params {
            match value {
                Value::Scalar(_) => {
                    args.push(Arg::Word(params[at]));
                    at += 1;
                }
                Value::String | Value::Bytes => {
                    let ptr = params[at].i32().expect("typed") as u32;
                    let len = params[at + 1].i32().expect("typed") as u32;
                    at += 2;
                    let data = guest_memory.data(caller);
                    let Ok(bytes) = crate::host::bytes(data, ptr, len) else {
                        wasmtime::bail!("{label}: argument `{name}` at {ptr} with length {len} lies outside memory");
                    };
                    if *value == Value::String {
                        if let Err(e) = std::str::from_utf8(bytes) {
                            wasmtime::bail!("{label}: argument `{name}` is not UTF-8: {e}");
                        }
                    }
                    args.push(Arg::Bytes(bytes.to_vec()));
                }
            }
        }
        Ok((guest_memory, ret, args))
    }

    /// A process's state of a native plugin, made on its first call.
    fn native_state<'c>(
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

    /// A call to a sync native function whose result needs no room in the
    /// guest's memory: no future, no fiber, as cheap as a host call gets.
    fn call_sync(
        &self,
        mut caller: Caller<'_, ProcessState>,
        iface: usize,
        func: usize,
        params: &[Val],
        results: &mut [Val],
    ) -> wasmtime::Result<()> {
        let f = &self.package.interfaces[iface].functions[func];
        let label = self.labels[iface][func].as_str();
        let Kind::Native { plugin, functions } = &self.kind else {
            unreachable!("only native functions are linked sync")
        };
        let vm_plugin::Handler::Sync(handler) = &plugin.functions()[functions[iface][func]].handler
        else {
            unreachable!("only sync functions are linked sync")
        };
        let (guest_memory, ret, args) = self.prepare(&mut caller, f, label, params)?;
        let values = native_values(f, args);
        let state = self.native_state(&mut caller, plugin)?;
        let outcome =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| handler(state, values)));
        let reply = match outcome {
            Ok(Ok(returned)) => lay_out(f, returned)
                .map_err(|why| wasmtime::format_err!("{label} {why} (a fault in the plugin)"))?,
            Ok(Err(why)) => wasmtime::bail!("{label} failed: {why}"),
            Err(p) => wasmtime::bail!("{label} panicked: {}", panic_text(p)),
        };
        match reply {
            Reply::Nothing => {}
            Reply::Flat(v) => results[0] = v,
            Reply::Area(area, copied) => {
                debug_assert!(copied.is_empty(), "linked sync only without lists");
                let ret = ret.expect("an area has a return pointer");
                let Ok(dest) = crate::host::bytes_mut(
                    guest_memory.data_mut(&mut caller),
                    ret,
                    area.len() as u32,
                ) else {
                    wasmtime::bail!("{label}: return pointer {ret} lies outside memory");
                };
                dest.copy_from_slice(&area);
            }
        }
        Ok(())
    }

    /// One call from a guest: read the arguments, call the plugin, hand the
    /// result over.
    async fn call(
        &self,
        mut caller: Caller<'_, ProcessState>,
        iface: usize,
        func: usize,
        params: &[Val],
        results: &mut [Val],
    ) -> wasmtime::Result<()> {
        let f = &self.package.interfaces[iface].functions[func];
        let label = self.labels[iface][func].as_str();
        let (guest_memory, ret, args) = self.prepare(&mut caller, f, label, params)?;
        let instance = match &self.kind {
            Kind::Native { .. } => Instance::Native,
            _ => self.instance(&mut caller).await?,
        };
        let reply = match (&self.kind, instance) {
            (
                Kind::Core {
                    realloc, exports, ..
                },
                Instance::Core { instance, memory },
            ) => {
                let (export, post) = &exports[iface][func];
                call_core(
                    &mut caller,
                    CoreCall {
                        instance,
                        memory,
                        realloc: realloc.as_ref(),
                        export,
                        post: post.as_ref(),
                    },
                    f,
                    label,
                    args,
                )
                .await?
            }
            (Kind::Component { exports, .. }, Instance::Component(instance)) => {
                call_component(&mut caller, instance, &exports[iface][func], f, label, args).await?
            }
            (Kind::Native { plugin, functions }, Instance::Native) => {
                let values = native_values(f, args);
                let function = &plugin.functions()[functions[iface][func]];
                let state = self.native_state(&mut caller, plugin)?;
                let outcome = match &function.handler {
                    vm_plugin::Handler::Sync(handler) => {
                        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                            handler(state, values)
                        }))
                        .map_err(|p| format!("panicked: {}", panic_text(p)))
                    }
                    vm_plugin::Handler::Async(handler) => {
                        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                            handler(state, values)
                        })) {
                            Ok(future) => CatchUnwind(future).await,
                            Err(p) => Err(format!("panicked: {}", panic_text(p))),
                        }
                    }
                };
                match outcome {
                    Ok(Ok(returned)) => lay_out(f, returned).map_err(|why| {
                        wasmtime::format_err!("{label} {why} (a fault in the plugin)")
                    })?,
                    Ok(Err(why)) => wasmtime::bail!("{label} failed: {why}"),
                    Err(why) => wasmtime::bail!("{label} {why}"),
                }
            }
            _ => unreachable!("an instance is of its plugin's kind"),
        };
        match reply {
            Reply::Nothing => Ok(()),
            Reply::Flat(v) => {
                results[0] = v;
                Ok(())
            }
            Reply::Area(mut area, copied) => {
                if !copied.is_empty() {
                    let Some(guest_realloc) = caller
                        .get_export("cabi_realloc")
                        .and_then(|e| e.into_func())
                    else {
                        wasmtime::bail!("{label}: the module exports no `cabi_realloc`, through which plugin calls return strings and lists");
                    };
                    for (o, bytes) in copied {
                        let len = bytes.len() as u32;
                        let to = allocate(&mut caller, guest_realloc, 1, len).await?;
                        let Ok(dest) =
                            crate::host::bytes_mut(guest_memory.data_mut(&mut caller), to, len)
                        else {
                            wasmtime::bail!(
                                "{label}: the module's cabi_realloc gave {to}, outside its memory"
                            );
                        };
                        dest.copy_from_slice(&bytes);
                        area[o..o + 4].copy_from_slice(&to.to_le_bytes());
                    }
                }
                let ret = ret.expect("an area has a return pointer");
                let size = area.len() as u32;
                let Ok(dest) =
                    crate::host::bytes_mut(guest_memory.data_mut(&mut caller), ret, size)
                else {
                    wasmtime::bail!("{label}: return pointer {ret} lies outside memory");
                };
                dest.copy_from_slice(&area);
                Ok(())
            }
        }
    }
}

/// The parts of a core-module plugin instance one call uses.
struct CoreCall<'a> {
    instance: wasmtime::Instance,
    memory: Memory,
    realloc: Option<&'a ModuleExport>,
    export: &'a ModuleExport,
    post: Option<&'a ModuleExport>,
}

/// Calls a core-module plugin: arguments into its memory, the result area
/// out of it, checked.
async fn call_core(
    caller: &mut Caller<'_, ProcessState>,
    call: CoreCall<'_>,
    f: &vm_abi::plugin::Function,
    label: &str,
    args: Vec<Arg>,
) -> wasmtime::Result<Reply> {
    let CoreCall {
        instance,
        memory,
        realloc,
        export,
        post,
    } = call;
    let realloc = realloc.and_then(|r| {
        instance
            .get_module_export(&mut *caller, r)
            .and_then(|e| e.into_func())
    });
    let mut flat: Vec<Val> = Vec::with_capacity(f.export_params.len());
    let scalars = f.params.iter().map(|(_, v)| match v {
        Value::Scalar(s) => Some(*s),
        _ => None,
    });
    for (arg, scalar) in args.into_iter().zip(scalars) {
        match arg {
            // As the canonical ABI lifts it: a bool is 0 or 1, a u8 masked.
            Arg::Word(v) => flat.push(scalar.map_or(v, |s| normalise(s, v))),
            Arg::Bytes(bytes) => {
                let len = bytes.len() as u32;
                let realloc =
                    realloc.expect("checked at load: a plugin taking a list exports cabi_realloc");
                let to = allocate(caller, realloc, 1, len)
                    .await
                    .map_err(|e| plugin_fault(e, &format!("{label} (cabi_realloc)")))?;
                let Ok(dest) = crate::host::bytes_mut(memory.data_mut(&mut *caller), to, len)
                else {
                    wasmtime::bail!("{label}: the plugin's cabi_realloc gave {to}, outside its memory (a fault in the plugin)");
                };
                dest.copy_from_slice(&bytes);
                flat.push(Val::I32(to as i32));
                flat.push(Val::I32(len as i32));
            }
        }
    }
    let target = instance
        .get_module_export(&mut *caller, export)
        .and_then(|e| e.into_func())
        .expect("checked at load");
    let mut out = [match f.export_results.first() {
        Some(CoreType::I64) => Val::I64(0),
        _ => Val::I32(0),
    }];
    let out = &mut out[..f.export_results.len()];
    target
        .call_async(&mut *caller, &flat, out)
        .await
        .map_err(|e| plugin_fault(e, label))?;
    let (size, align, discriminant, buffers) = match &f.layout {
        ResultLayout::Nothing => return Ok(Reply::Nothing),
        ResultLayout::Flat(s) => return Ok(Reply::Flat(normalise(*s, out[0]))),
        // A `result` without payloads: its case, returned directly.
        ResultLayout::Area { .. } if !f.has_return_pointer() => {
            let case = out[0].i32().expect("typed");
            if !(0..=1).contains(&case) {
                wasmtime::bail!("{label} returned the discriminant {case}, which its WIT does not have (a fault in the plugin)");
            }
            return Ok(Reply::Flat(Val::I32(case)));
        }
        ResultLayout::Area {
            size,
            align,
            discriminant,
            buffers,
        } => (*size, *align, *discriminant, buffers),
    };
    let at = out[0].i32().expect("typed") as u32;
    let mut area = match crate::host::bytes(memory.data(&*caller), at, size) {
        Ok(b) if at.is_multiple_of(align) => b.to_vec(),
        _ => wasmtime::bail!("{label} returned {at}, which lies outside its memory or is not {align}-byte aligned (a fault in the plugin)"),
    };
    if let Some(max) = discriminant {
        if area[0] > max {
            wasmtime::bail!(
                "{label} returned the discriminant {}, which its WIT does not have (a fault in the plugin)",
                area[0]
            );
        }
    }
    normalise_bools(f, &mut area);
    let mut copied = Vec::new();
    for b in buffers {
        if b.when.is_some_and(|w| w != area[0]) {
            continue;
        }
        let o = b.offset as usize;
        let ptr = u32::from_le_bytes(area[o..o + 4].try_into().expect("4 bytes"));
        let len = u32::from_le_bytes(area[o + 4..o + 8].try_into().expect("4 bytes"));
        let Ok(bytes) = crate::host::bytes(memory.data(&*caller), ptr, len) else {
            wasmtime::bail!("{label} returned a list at {ptr} with length {len}, outside its memory (a fault in the plugin)");
        };
        if b.utf8 {
            if let Err(e) = std::str::from_utf8(bytes) {
                wasmtime::bail!(
                    "{label} returned a string that is not UTF-8 ({e}; a fault in the plugin)"
                );
            }
        }
        copied.push((o, bytes.to_vec()));
    }
    if let Some(post) = post {
        let post = instance
            .get_module_export(&mut *caller, post)
            .and_then(|e| e.into_func())
            .expect("found at load");
        post.call_async(&mut *caller, &[Val::I32(at as i32)], &mut [])
            .await
            .map_err(|e| plugin_fault(e, &format!("{label} (cabi_post)")))?;
    }
    Ok(Reply::Area(area, copied))
}

/// The most bytes a string or list argument of a component plugin may
/// hold (1 MiB).
const COMPONENT_LIST_LIMIT: usize = 1 << 20;

/// Calls a component plugin: wasmtime lowers the values the VM made from
/// the guest's arguments, and lifts the result, which the VM lays out in
/// the guest's result area.
async fn call_component(
    caller: &mut Caller<'_, ProcessState>,
    instance: component::Instance,
    export: &component::ComponentExportIndex,
    f: &vm_abi::plugin::Function,
    label: &str,
    args: Vec<Arg>,
) -> wasmtime::Result<Reply> {
    use component::Val as C;
    // wasmtime's dynamic API takes a list value by value (about forty
    // bytes of the VM's heap per byte): bounded, so one call cannot take
    // the VM's memory.
    for ((name, _), arg) in f.params.iter().zip(&args) {
        if let Arg::Bytes(b) = arg {
            if b.len() > COMPONENT_LIST_LIMIT {
                wasmtime::bail!(
                    "{label}: argument `{name}` holds {} bytes; a component plugin takes at most {COMPONENT_LIST_LIMIT} per string or list (build the plugin as a core module for more)",
                    b.len()
                );
            }
        }
    }
    let mut values = Vec::with_capacity(args.len());
    for ((_, value), arg) in f.params.iter().zip(args) {
        values.push(match (value, arg) {
            (Value::Scalar(s), Arg::Word(v)) => scalar_value(*s, v),
            (Value::String, Arg::Bytes(b)) => {
                C::String(String::from_utf8(b).expect("checked as it was read"))
            }
            (Value::Bytes, Arg::Bytes(b)) => C::List(b.into_iter().map(C::U8).collect()),
            _ => unreachable!("arguments are read by their WIT types"),
        });
    }
    let func = instance
        .get_func(&mut *caller, export)
        .expect("checked at load");
    let mut out = vec![C::Bool(false); f.returns_count()];
    func.call_async(&mut *caller, &values, &mut out)
        .await
        .map_err(|e| plugin_fault(e, label))?;
    let returned = match out.into_iter().next() {
        None => Returned::Nothing,
        Some(C::Option(v)) => Returned::Option(v.map(|v| native_value(*v))),
        Some(C::Result(r)) => Returned::Result(match r {
            Ok(v) => Ok(v.map(|v| native_value(*v))),
            Err(v) => Err(v.map(|v| native_value(*v))),
        }),
        Some(v) => Returned::One(native_value(v)),
    };
    lay_out(f, returned)
        .map_err(|why| wasmtime::format_err!("{label} {why} (a fault in the plugin)"))
}

/// A component value of the plugin subset as a native one (wasmtime checked
/// its type against the WIT's).
fn native_value(v: component::Val) -> vm_plugin::Value {
    use component::Val as C;
    use vm_plugin::Value as V;
    match v {
        C::Bool(x) => V::Bool(x),
        C::U8(x) => V::U8(x),
        C::U16(x) => V::U16(x),
        C::U32(x) => V::U32(x),
        C::U64(x) => V::U64(x),
        C::S8(x) => V::S8(x),
        C::S16(x) => V::S16(x),
        C::S32(x) => V::S32(x),
        C::S64(x) => V::S64(x),
        C::String(s) => V::String(s),
        C::List(items) => V::Bytes(
            items
                .into_iter()
                .map(|i| match i {
                    C::U8(b) => b,
                    _ => 0,
                })
                .collect(),
        ),
        // Outside the subset: the load-time check refused such a plugin,
        // and lay_out refuses a value of another type.
        _ => V::String(String::new()),
    }
}

/// The guest's arguments as native values, by their WIT types.
fn native_values(f: &vm_abi::plugin::Function, args: Vec<Arg>) -> Vec<vm_plugin::Value> {
    use vm_plugin::Value as V;
    f.params
        .iter()
        .zip(args)
        .map(|((_, value), arg)| match (value, arg) {
            (Value::Scalar(s), Arg::Word(v)) => {
                let (x, y) = (v.i32().unwrap_or(0), v.i64().unwrap_or(0));
                match s {
                    Scalar::Bool => V::Bool(x != 0),
                    Scalar::U8 => V::U8(x as u8),
                    Scalar::U16 => V::U16(x as u16),
                    Scalar::U32 => V::U32(x as u32),
                    Scalar::U64 => V::U64(y as u64),
                    Scalar::S8 => V::S8(x as i8),
                    Scalar::S16 => V::S16(x as i16),
                    Scalar::S32 => V::S32(x),
                    Scalar::S64 => V::S64(y),
                }
            }
            (Value::String, Arg::Bytes(b)) => {
                V::String(String::from_utf8(b).expect("checked as it was read"))
            }
            (Value::Bytes, Arg::Bytes(b)) => V::Bytes(b),
            _ => unreachable!("arguments are read by their WIT types"),
        })
        .collect()
}

/// Whether a native value is of a WIT type.
fn is_of(v: &vm_plugin::Value, t: &Value) -> bool {
    use vm_plugin::Value as V;
    matches!(
        (v, t),
        (V::String(_), Value::String)
            | (V::Bytes(_), Value::Bytes)
            | (V::Bool(_), Value::Scalar(Scalar::Bool))
            | (V::U8(_), Value::Scalar(Scalar::U8))
            | (V::U16(_), Value::Scalar(Scalar::U16))
            | (V::U32(_), Value::Scalar(Scalar::U32))
            | (V::U64(_), Value::Scalar(Scalar::U64))
            | (V::S8(_), Value::Scalar(Scalar::S8))
            | (V::S16(_), Value::Scalar(Scalar::S16))
            | (V::S32(_), Value::Scalar(Scalar::S32))
            | (V::S64(_), Value::Scalar(Scalar::S64))
    )
}

/// A result as the guest receives it: one core value, or the result area
/// and the strings and lists to put in the guest's memory. Fails (saying
/// what) when the value is not of the function's WIT type.
fn lay_out(f: &vm_abi::plugin::Function, returned: Returned) -> Result<Reply, String> {
    use vm_plugin::Value as V;
    let mismatch = || "returned a value of another type than its WIT's".to_string();
    let side = |v: &Option<V>, t: &Option<Value>| match (v, t) {
        (None, None) => true,
        (Some(v), Some(t)) => is_of(v, t),
        _ => false,
    };
    let fits = match (&returned, &f.returns) {
        (Returned::Nothing, Returns::Nothing) => true,
        (Returned::One(v), Returns::One(t)) => is_of(v, t),
        (Returned::Option(v), Returns::Option(t)) => v.as_ref().is_none_or(|v| is_of(v, t)),
        (Returned::Result(Ok(v)), Returns::Result(t, _)) => side(v, t),
        (Returned::Result(Err(v)), Returns::Result(_, t)) => side(v, t),
        _ => false,
    };
    if !fits {
        return Err(mismatch());
    }
    let flat = |v: &V| match v {
        V::Bool(x) => Val::I32(*x as i32),
        V::U8(x) => Val::I32(*x as i32),
        V::U16(x) => Val::I32(*x as i32),
        V::U32(x) => Val::I32(*x as i32),
        V::S8(x) => Val::I32(*x as i32),
        V::S16(x) => Val::I32(*x as i32),
        V::S32(x) => Val::I32(*x),
        V::U64(x) => Val::I64(*x as i64),
        V::S64(x) => Val::I64(*x),
        V::String(_) | V::Bytes(_) => Val::I32(0),
    };
    let size = match (&f.layout, &returned) {
        (ResultLayout::Nothing, _) => return Ok(Reply::Nothing),
        (ResultLayout::Flat(_), Returned::One(v)) => return Ok(Reply::Flat(flat(v))),
        // A `result` without payloads: its case, returned directly.
        (ResultLayout::Area { .. }, Returned::Result(r)) if !f.has_return_pointer() => {
            return Ok(Reply::Flat(Val::I32(i32::from(r.is_err()))))
        }
        (ResultLayout::Area { size, .. }, _) => *size as usize,
        _ => return Err(mismatch()),
    };
    let mut area = vec![0u8; size];
    let mut copied = Vec::new();
    let payload = vm_abi::plugin::payload_offset(&f.returns) as usize;
    let mut put = |at: usize, v: V| {
        let bytes = match v {
            V::String(s) => s.into_bytes(),
            V::Bytes(b) => b,
            V::Bool(x) => return area[at] = x as u8,
            V::U8(x) => return area[at] = x,
            V::S8(x) => return area[at] = x as u8,
            V::U16(x) => return area[at..at + 2].copy_from_slice(&x.to_le_bytes()),
            V::S16(x) => return area[at..at + 2].copy_from_slice(&x.to_le_bytes()),
            V::U32(x) => return area[at..at + 4].copy_from_slice(&x.to_le_bytes()),
            V::S32(x) => return area[at..at + 4].copy_from_slice(&x.to_le_bytes()),
            V::U64(x) => return area[at..at + 8].copy_from_slice(&x.to_le_bytes()),
            V::S64(x) => return area[at..at + 8].copy_from_slice(&x.to_le_bytes()),
        };
        // The pointer is written once the guest has room for the bytes.
        area[at + 4..at + 8].copy_from_slice(&(bytes.len() as u32).to_le_bytes());
        copied.push((at, bytes));
    };
    let disc = match returned {
        Returned::One(v) => {
            put(0, v);
            None
        }
        Returned::Option(v) => {
            let some = v.is_some();
            if let Some(v) = v {
                put(payload, v);
            }
            Some(u8::from(some))
        }
        Returned::Result(r) => {
            let (case, v) = match r {
                Ok(v) => (0, v),
                Err(v) => (1, v),
            };
            if let Some(v) = v {
                put(payload, v);
            }
            Some(case)
        }
        Returned::Nothing => return Err(mismatch()),
    };
    if let Some(d) = disc {
        area[0] = d;
    }
    Ok(Reply::Area(area, copied))
}

/// A scalar argument as a component value.
fn scalar_value(s: Scalar, v: Val) -> component::Val {
    use component::Val as C;
    let (x, y) = (v.i32().unwrap_or(0), v.i64().unwrap_or(0));
    match s {
        Scalar::Bool => C::Bool(x != 0),
        Scalar::U8 => C::U8(x as u8),
        Scalar::U16 => C::U16(x as u16),
        Scalar::U32 => C::U32(x as u32),
        Scalar::U64 => C::U64(y as u64),
        Scalar::S8 => C::S8(x as i8),
        Scalar::S16 => C::S16(x as i16),
        Scalar::S32 => C::S32(x),
        Scalar::S64 => C::S64(y),
    }
}

/// A core-module plugin: checks its imports and exports against its WIT.
fn core_kind(
    engine: &Engine,
    linker: &Linker<ProcessState>,
    package: &Package,
    bytes: &[u8],
    fail: &dyn Fn(String, &str) -> PluginError,
) -> Result<Kind, PluginError> {
    let module = wasmtime::Module::new(engine, bytes).map_err(|e| {
        fail(
            format!("is not a valid WebAssembly module: {e:#}"),
            "build it for wasm32-wasip1",
        )
    })?;
    for import in module.imports() {
        let m = import.module();
        if m == crate::compat::WASI_MODULE {
            continue;
        }
        let hint = if m.starts_with(vm_abi::MODULE_PREFIX) {
            "a plugin may not import vm:host in this version; it may import WASI preview 1 only"
        } else {
            "a plugin may import WASI preview 1 (wasi_snapshot_preview1) only"
        };
        return Err(fail(format!("imports `{m}.{}`", import.name()), hint));
    }
    let export = |name: &str| module.get_export_index(name);
    let func_type = |name: &str| {
        module
            .get_export(name)
            .and_then(|e| e.func().cloned())
            .map(|f| (val_types(f.params()), val_types(f.results())))
    };
    let memory = module
        .get_export("memory")
        .and_then(|e| e.memory().cloned())
        .and_then(|_| export("memory"))
        .ok_or_else(|| {
            fail(
                "exports no memory named `memory`".into(),
                "the VM copies arguments and results through it",
            )
        })?;
    let needs_realloc = package
        .interfaces
        .iter()
        .flat_map(|i| &i.functions)
        .any(|f| f.needs_plugin_realloc());
    let realloc = match func_type("cabi_realloc") {
        Some((Some(p), Some(r))) if p == [CoreType::I32; 4] && r == [CoreType::I32] => {
            export("cabi_realloc")
        }
        Some(_) => {
            return Err(fail(
                "exports `cabi_realloc` with the wrong type".into(),
                "it must be (i32, i32, i32, i32) -> i32",
            ))
        }
        None if needs_realloc => return Err(fail(
            "exports no `cabi_realloc`, which a function taking a string or list needs".into(),
            "wit-bindgen exports one; otherwise export (old_ptr, old_size, align, new_size) -> ptr",
        )),
        None => None,
    };
    let initialize = match func_type("_initialize") {
        Some((Some(p), Some(r))) if p.is_empty() && r.is_empty() => export("_initialize"),
        _ => None,
    };
    // Export names: the module as guests import it, or with the full
    // version wit-bindgen uses.
    let mut exports = Vec::new();
    for iface in &package.interfaces {
        let full = full_interface_name(package, &iface.name);
        let mut funcs = Vec::new();
        for f in &iface.functions {
            let names = [f.export_name(&iface.module), f.export_name(&full)];
            let Some(name) = names.iter().find(|n| export(n).is_some()) else {
                return Err(fail(
                    format!(
                        "does not export `{}`, which its WIT declares ({})",
                        names[0],
                        signature(&f.export_params, &f.export_results)
                    ),
                    "export every function of the WIT under the canonical ABI's name",
                ));
            };
            match func_type(name) {
                Some((Some(p), Some(r))) if p == f.export_params && r == f.export_results => {}
                _ => {
                    return Err(fail(
                        format!(
                            "exports `{name}` with a type other than its WIT's {}",
                            signature(&f.export_params, &f.export_results)
                        ),
                        "build it from the same WIT, with the canonical ABI",
                    ))
                }
            }
            let post_name = format!("cabi_post_{name}");
            let post = match func_type(&post_name) {
                Some((Some(p), Some(r))) if p == [CoreType::I32] && r.is_empty() => {
                    export(&post_name)
                }
                None if export(&post_name).is_none() => None,
                _ => {
                    return Err(fail(
                        format!("exports `{post_name}`, but not as a function (i32) -> ()"),
                        "a post-return function takes the result's pointer and returns nothing",
                    ))
                }
            };
            funcs.push((export(name).expect("found above"), post));
        }
        exports.push(funcs);
    }
    let pre = linker.instantiate_pre(&module).map_err(|e| {
        fail(
            format!("cannot be linked: {e:#}"),
            "it may import WASI preview 1 only",
        )
    })?;
    Ok(Kind::Core {
        pre,
        memory,
        realloc,
        initialize,
        exports,
    })
}

/// `plugin:kv/store@1.0.0`: an interface with the package's full version.
fn full_interface_name(package: &Package, iface: &str) -> String {
    let (a, b, c) = package.version;
    format!("{}/{iface}@{a}.{b}.{c}", package.package_name())
}

/// A component plugin: checks its imports (WASI 0.2 only) and that it
/// exports each interface with each function's WIT type.
fn component_kind(
    engine: &Engine,
    linker: &component::Linker<ProcessState>,
    package: &Package,
    bytes: &[u8],
    fail: &dyn Fn(String, &str) -> PluginError,
) -> Result<Kind, PluginError> {
    let component = component::Component::new(engine, bytes).map_err(|e| {
        fail(
            format!("is not a valid component: {e:#}"),
            "build it with wit-bindgen for wasm32-wasip2",
        )
    })?;
    let ty = component.component_type();
    for (name, _) in ty.imports(engine) {
        if !name.starts_with("wasi:") {
            let hint = if name.starts_with("vm:host/") {
                "a plugin may not import vm:host in this version; it may import WASI 0.2 only"
            } else {
                "a component plugin may import WASI 0.2 (wasi:*) only"
            };
            return Err(fail(format!("imports `{name}`"), hint));
        }
    }
    let mut exports = Vec::new();
    for iface in &package.interfaces {
        // The instance it exports: named with the full version (as
        // wit-bindgen does) or the major only.
        let full = full_interface_name(package, &iface.name);
        let Some((_, instance)) = [full.as_str(), iface.module.as_str()]
            .iter()
            .find_map(|n| component.get_export(None, *n))
        else {
            return Err(fail(
                format!("does not export the interface `{full}`, which its WIT declares"),
                "export every interface of the WIT (world { export IFACE; })",
            ));
        };
        let mut funcs = Vec::new();
        for f in &iface.functions {
            let found = component.get_export(Some(&instance), f.name.as_str());
            let Some((component::types::ComponentItem::ComponentFunc(func_ty), index)) = found
            else {
                return Err(fail(
                    format!(
                        "does not export `{full}.{}`, which its WIT declares",
                        f.name
                    ),
                    "export every function of the WIT",
                ));
            };
            let params: Vec<component::types::Type> = func_ty.params().map(|(_, t)| t).collect();
            let results: Vec<component::types::Type> = func_ty.results().collect();
            let params_match = params.len() == f.params.len()
                && params
                    .iter()
                    .zip(&f.params)
                    .all(|(t, (_, v))| value_matches(t, v));
            if !params_match || !returns_match(&results, &f.returns) {
                return Err(fail(
                    format!(
                        "exports `{full}.{}` with a type other than its WIT's",
                        f.name
                    ),
                    "build it from the same WIT",
                ));
            }
            funcs.push(index);
        }
        exports.push(funcs);
    }
    let pre = linker.instantiate_pre(&component).map_err(|e| {
        fail(
            format!("cannot be linked: {e:#}"),
            "it may import WASI 0.2 only",
        )
    })?;
    Ok(Kind::Component { pre, exports })
}

fn value_matches(t: &component::types::Type, v: &Value) -> bool {
    use component::types::Type as T;
    match (t, v) {
        (T::String, Value::String) => true,
        (T::List(l), Value::Bytes) => matches!(l.ty(), T::U8),
        (t, Value::Scalar(s)) => matches!(
            (t, s),
            (T::Bool, Scalar::Bool)
                | (T::U8, Scalar::U8)
                | (T::U16, Scalar::U16)
                | (T::U32, Scalar::U32)
                | (T::U64, Scalar::U64)
                | (T::S8, Scalar::S8)
                | (T::S16, Scalar::S16)
                | (T::S32, Scalar::S32)
                | (T::S64, Scalar::S64)
        ),
        _ => false,
    }
}

fn returns_match(results: &[component::types::Type], returns: &Returns) -> bool {
    use component::types::Type as T;
    let side = |t: Option<T>, v: &Option<Value>| match (t, v) {
        (None, None) => true,
        (Some(t), Some(v)) => value_matches(&t, v),
        _ => false,
    };
    match (results, returns) {
        ([], Returns::Nothing) => true,
        ([t], Returns::One(v)) => value_matches(t, v),
        ([T::Option(o)], Returns::Option(v)) => value_matches(&o.ty(), v),
        ([T::Result(r)], Returns::Result(ok, err)) => side(r.ok(), ok) && side(r.err(), err),
        _ => false,
    }
}

/// Calls a `cabi_realloc` for `len` fresh bytes.
async fn allocate(
    caller: &mut Caller<'_, ProcessState>,
    realloc: Func,
    align: u32,
    len: u32,
) -> wasmtime::Result<u32> {
    let realloc = realloc
        .typed::<(u32, u32, u32, u32), u32>(&*caller)
        .map_err(|_| {
            wasmtime::format_err!(
                "its cabi_realloc is not of type (i32, i32, i32, i32) -> i32, so a plugin call cannot return a string or list to it"
            )
        })?;
    realloc.call_async(&mut *caller, (0, 0, align, len)).await
}

/// A `bool` in a result area as the canonical ABI lifts it: any non-zero
/// byte is 1.
fn normalise_bools(f: &vm_abi::plugin::Function, area: &mut [u8]) {
    let is_bool = |v: &Option<Value>| *v == Some(Value::Scalar(Scalar::Bool));
    let at = vm_abi::plugin::payload_offset(&f.returns) as usize;
    let present = match &f.returns {
        Returns::Option(v) => area[0] == 1 && is_bool(&Some(*v)),
        Returns::Result(ok, err) => (area[0] == 0 && is_bool(ok)) || (area[0] == 1 && is_bool(err)),
        _ => false,
    };
    if present {
        area[at] = u8::from(area[at] != 0);
    }
}

/// A scalar result as the canonical ABI lifts it from one core value.
fn normalise(s: Scalar, v: Val) -> Val {
    match (s, v) {
        (Scalar::Bool, Val::I32(x)) => Val::I32((x != 0) as i32),
        (Scalar::U8, Val::I32(x)) => Val::I32(x & 0xff),
        (Scalar::S8, Val::I32(x)) => Val::I32(x as i8 as i32),
        (Scalar::U16, Val::I32(x)) => Val::I32(x & 0xffff),
        (Scalar::S16, Val::I32(x)) => Val::I32(x as i16 as i32),
        (_, v) => v,
    }
}

/// The error of a call into a plugin, as the calling process's exit
/// reason: the function, then what happened. Requests to end the process
/// (a WASI exit, a memory limit) pass through as they are.
fn plugin_fault(e: wasmtime::Error, label: &str) -> wasmtime::Error {
    if let Some(limit) = e.downcast_ref::<crate::process::MemoryLimitExceeded>() {
        return wasmtime::format_err!("{label}: {limit}");
    }
    if e.downcast_ref::<wasmtime_wasi::I32Exit>().is_some() {
        return e;
    }
    wasmtime::format_err!("{label} failed: {}", reason(&e))
}

fn reason(e: &wasmtime::Error) -> String {
    match e.downcast_ref::<wasmtime::Trap>() {
        Some(wasmtime::Trap::StackOverflow) => {
            "call stack exhausted (the calling process's stack limit; raise it with --max-stack)"
                .into()
        }
        Some(trap) => trap.to_string(),
        None => e.root_cause().to_string(),
    }
}

/// Whether the bytes are a component, and the WIT text in their
/// [`WIT_SECTION`] (in a component, that of a module inside it).
fn inspect(bytes: &[u8]) -> Result<Inspected, String> {
    let mut inspected = Inspected {
        component: wasmparser::Parser::is_component(bytes),
        wit: None,
    };
    for payload in wasmparser::Parser::new(0).parse_all(bytes) {
        if let wasmparser::Payload::CustomSection(s) = payload.map_err(|e| e.to_string())? {
            if s.name() == WIT_SECTION && inspected.wit.is_none() {
                inspected.wit = Some(
                    String::from_utf8(s.data().to_vec())
                        .map_err(|_| format!("its `{WIT_SECTION}` section is not UTF-8 text"))?,
                );
            }
        }
    }
    Ok(inspected)
}

/// A panic's message.
fn panic_text(p: Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into())
}

/// A native plugin's future, whose panics become its outcome.
struct CatchUnwind(vm_plugin::BoxFuture);

impl std::future::Future for CatchUnwind {
    type Output = Result<vm_plugin::Outcome, String>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        let future = &mut self.0;
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| future.as_mut().poll(cx))) {
            Ok(std::task::Poll::Ready(outcome)) => std::task::Poll::Ready(Ok(outcome)),
            Ok(std::task::Poll::Pending) => std::task::Poll::Pending,
            Err(p) => std::task::Poll::Ready(Err(format!("panicked: {}", panic_text(p)))),
        }
    }
}

/// A WIT value type as the native plugin API names it.
pub(crate) fn native_type(v: &Value) -> vm_plugin::Type {
    use vm_plugin::Type as T;
    match v {
        Value::String => T::String,
        Value::Bytes => T::Bytes,
        Value::Scalar(s) => match s {
            Scalar::Bool => T::Bool,
            Scalar::U8 => T::U8,
            Scalar::U16 => T::U16,
            Scalar::U32 => T::U32,
            Scalar::U64 => T::U64,
            Scalar::S8 => T::S8,
            Scalar::S16 => T::S16,
            Scalar::S32 => T::S32,
            Scalar::S64 => T::S64,
        },
    }
}

/// A WIT result type as the native plugin API names it.
pub(crate) fn native_return_type(r: &Returns) -> vm_plugin::ReturnType {
    use vm_plugin::ReturnType as R;
    match r {
        Returns::Nothing => R::Nothing,
        Returns::One(v) => R::One(native_type(v)),
        Returns::Option(v) => R::Option(native_type(v)),
        Returns::Result(ok, err) => {
            R::Result(ok.as_ref().map(native_type), err.as_ref().map(native_type))
        }
    }
}
