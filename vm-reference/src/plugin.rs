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
use vm_abi::plugin::{Package, ResultLayout, Scalar, Value};
use vm_abi::CoreType;
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

/// A plugin loaded into a VM: its WIT, its compiled module pre-linked with
/// what it may import (WASI), and where each function is exported.
pub(crate) struct LoadedPlugin {
    /// The name it was loaded under (its file name, for the CLI).
    pub source: String,
    /// Its WIT package.
    pub package: Package,
    /// Its place in the VM's list (and in each process's instances).
    pub index: usize,
    pre: InstancePre<ProcessState>,
    memory: ModuleExport,
    realloc: Option<ModuleExport>,
    initialize: Option<ModuleExport>,
    /// Per interface, per function: the export and its post-return.
    exports: Vec<Vec<(ModuleExport, Option<ModuleExport>)>>,
}

impl fmt::Debug for LoadedPlugin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoadedPlugin")
            .field("source", &self.source)
            .field("package", &self.package.marker())
            .finish()
    }
}

/// A process's instance of a plugin.
pub(crate) struct PluginInstance {
    instance: wasmtime::Instance,
    memory: Memory,
    /// Gives the slot back to the VM's count when the process ends.
    _slot: Slot,
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

fn signature(params: &[CoreType], results: &[CoreType]) -> String {
    let list = |ts: &[CoreType]| {
        ts.iter()
            .map(|t| match t {
                CoreType::I32 => "i32",
                CoreType::I64 => "i64",
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!("({}) -> ({})", list(params), list(results))
}

fn val_types(ts: impl ExactSizeIterator<Item = ValType>) -> Option<Vec<CoreType>> {
    ts.map(|t| match t {
        ValType::I32 => Some(CoreType::I32),
        ValType::I64 => Some(CoreType::I64),
        _ => None,
    })
    .collect()
}

impl LoadedPlugin {
    /// Reads, checks, compiles and pre-links a plugin module.
    pub fn load(
        engine: &Engine,
        linker: &Linker<ProcessState>,
        source: &str,
        bytes: &[u8],
        index: usize,
    ) -> Result<LoadedPlugin, PluginError> {
        let fail = |problem: String, hint: &str| PluginError {
            plugin: source.to_string(),
            problem,
            hint: hint.to_string(),
        };
        let bytes = wat::parse_bytes(bytes)
            .map_err(|e| fail(e.to_string(), "a plugin is a WebAssembly module"))?;
        let wit = wit_section(&bytes).map_err(|e| {
            fail(
                format!("is not a valid WebAssembly module: {e}"),
                "build it for wasm32-wasip1 as a cdylib",
            )
        })?;
        let Some(wit) = wit else {
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
        let module = wasmtime::Module::new(engine, &bytes).map_err(|e| {
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
            Some((Some(p), Some(r)))
                if p == [CoreType::I32; 4] && r == [CoreType::I32] =>
            {
                export("cabi_realloc")
            }
            Some(_) => {
                return Err(fail(
                    "exports `cabi_realloc` with the wrong type".into(),
                    "it must be (i32, i32, i32, i32) -> i32",
                ))
            }
            None if needs_realloc => {
                return Err(fail(
                    "exports no `cabi_realloc`, which a function taking a string or list needs".into(),
                    "wit-bindgen exports one; otherwise export (old_ptr, old_size, align, new_size) -> ptr",
                ))
            }
            None => None,
        };
        let initialize = match func_type("_initialize") {
            Some((Some(p), Some(r))) if p.is_empty() && r.is_empty() => export("_initialize"),
            _ => None,
        };
        // Export names: the module as guests import it, or with the full
        // version wit-bindgen uses.
        let (a, b, c) = package.version;
        let mut exports = Vec::new();
        for iface in &package.interfaces {
            let full = format!(
                "{}:{}/{}@{a}.{b}.{c}",
                vm_abi::plugin::NAMESPACE,
                package.name,
                iface.name
            );
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
                let post = export(&format!("cabi_post_{name}"));
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
        Ok(LoadedPlugin {
            source: source.to_string(),
            package,
            index,
            pre,
            memory,
            realloc,
            initialize,
            exports,
        })
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
                linker.func_new_async(
                    &iface.module,
                    &f.name,
                    ty,
                    move |caller, params, results| {
                        let plugin = plugin.clone();
                        Box::new(async move { plugin.call(caller, i, j, params, results).await })
                    },
                )?;
            }
        }
        Ok(())
    }

    /// `plugin:kv/store.get`, as reasons name a function.
    fn label(&self, iface: usize, func: usize) -> String {
        let i = &self.package.interfaces[iface];
        format!(
            "{}/{}.{}",
            self.package.package_name(),
            i.name,
            i.functions[func].name
        )
    }

    /// The calling process's instance, made on its first call.
    async fn instance(
        &self,
        caller: &mut Caller<'_, ProcessState>,
    ) -> wasmtime::Result<(wasmtime::Instance, Memory)> {
        if let Some(Some(p)) = caller.data().plugins.get(self.index) {
            return Ok((p.instance, p.memory));
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
        let instance = match self.pre.instantiate_async(&mut *caller).await {
            Ok(i) => i,
            Err(e) if crate::map_limit::is_out_of_memory(&e) => wasmtime::bail!(
                "limit-reached: the instance pool is full, so plugin {name} could not start for this process (raise --max-plugin-instances, or see vm.max_map_count)"
            ),
            Err(e) => wasmtime::bail!("plugin {name} could not start: {}", reason(&e)),
        };
        let memory = instance
            .get_module_export(&mut *caller, &self.memory)
            .and_then(|e| e.into_memory())
            .expect("checked at load");
        if let Some(init) = &self.initialize {
            let f = instance
                .get_module_export(&mut *caller, init)
                .and_then(|e| e.into_func())
                .expect("checked at load");
            f.call_async(&mut *caller, &[], &mut [])
                .await
                .map_err(|e| plugin_fault(e, &format!("{name} (_initialize)")))?;
        }
        let plugins = &mut caller.data_mut().plugins;
        if plugins.len() <= self.index {
            plugins.resize_with(self.index + 1, || None);
        }
        plugins[self.index] = Some(Box::new(PluginInstance {
            instance,
            memory,
            _slot: slot,
        }));
        Ok((instance, memory))
    }

    /// One call from a guest: copy the arguments in, call, copy the result
    /// out.
    async fn call(
        &self,
        mut caller: Caller<'_, ProcessState>,
        iface: usize,
        func: usize,
        params: &[Val],
        results: &mut [Val],
    ) -> wasmtime::Result<()> {
        let f = &self.package.interfaces[iface].functions[func];
        let label = self.label(iface, func);
        let Some(guest_memory) = caller.data().memory else {
            wasmtime::bail!(
                "{label}: the module exports no memory named `memory`, which plugin calls need"
            );
        };
        // The return pointer is checked before anything happens, so a bad
        // one costs the plugin nothing.
        let ret = match &f.layout {
            ResultLayout::Area { size, align, .. } => {
                let ret = params
                    .last()
                    .and_then(Val::i32)
                    .expect("typed by the linker") as u32;
                let fits = (ret as u64 + *size as u64) <= guest_memory.data_size(&caller) as u64;
                if !ret.is_multiple_of(*align) || !fits {
                    wasmtime::bail!("{label}: return pointer {ret} lies outside memory or is not {align}-byte aligned");
                }
                Some(ret)
            }
            _ => None,
        };
        let (instance, memory) = self.instance(&mut caller).await?;
        let realloc = match &self.realloc {
            Some(r) => instance
                .get_module_export(&mut caller, r)
                .and_then(|e| e.into_func()),
            None => None,
        };
        // Arguments: scalars as they are, strings and lists copied.
        let mut args: Vec<Val> = Vec::with_capacity(f.export_params.len());
        let mut at = 0;
        for (name, value) in &f.params {
            match value {
                Value::Scalar(_) => {
                    args.push(params[at]);
                    at += 1;
                }
                Value::String | Value::Bytes => {
                    let ptr = params[at].i32().expect("typed") as u32;
                    let len = params[at + 1].i32().expect("typed") as u32;
                    at += 2;
                    let data = guest_memory.data(&caller);
                    let Some(bytes) = crate::host::bytes(data, ptr, len).ok() else {
                        wasmtime::bail!("{label}: argument `{name}` at {ptr} with length {len} lies outside memory");
                    };
                    if *value == Value::String {
                        if let Err(e) = std::str::from_utf8(bytes) {
                            wasmtime::bail!("{label}: argument `{name}` is not UTF-8: {e}");
                        }
                    }
                    let bytes = bytes.to_vec();
                    let realloc = realloc
                        .expect("checked at load: a plugin taking a list exports cabi_realloc");
                    let to = allocate(&mut caller, realloc, 1, len)
                        .await
                        .map_err(|e| plugin_fault(e, &format!("{label} (cabi_realloc)")))?;
                    let Some(dest) =
                        crate::host::bytes_mut(memory.data_mut(&mut caller), to, len).ok()
                    else {
                        wasmtime::bail!("{label}: the plugin's cabi_realloc gave {to}, outside its memory (a fault in the plugin)");
                    };
                    dest.copy_from_slice(&bytes);
                    args.push(Val::I32(to as i32));
                    args.push(Val::I32(len as i32));
                }
            }
        }
        let (export, post) = &self.exports[iface][func];
        let target = instance
            .get_module_export(&mut caller, export)
            .and_then(|e| e.into_func())
            .expect("checked at load");
        let mut out = [Val::I32(0)];
        let out = &mut out[..f.export_results.len()];
        if let Some(v) = out.first_mut() {
            if f.export_results[0] == CoreType::I64 {
                *v = Val::I64(0);
            }
        }
        target
            .call_async(&mut caller, &args, out)
            .await
            .map_err(|e| plugin_fault(e, &label))?;
        match &f.layout {
            ResultLayout::Nothing => Ok(()),
            ResultLayout::Flat(s) => {
                results[0] = normalise(*s, out[0]);
                Ok(())
            }
            ResultLayout::Area {
                size,
                align,
                discriminant,
                buffers,
            } => {
                let at = out[0].i32().expect("typed") as u32;
                let mut area = {
                    let data = memory.data(&caller);
                    match crate::host::bytes(data, at, *size) {
                        Ok(b) if at.is_multiple_of(*align) => b.to_vec(),
                        _ => wasmtime::bail!("{label} returned {at}, which lies outside its memory or is not {align}-byte aligned (a fault in the plugin)"),
                    }
                };
                if let Some(max) = discriminant {
                    if area[0] > *max {
                        wasmtime::bail!("{label} returned the discriminant {}, which its WIT does not have (a fault in the plugin)", area[0]);
                    }
                }
                let mut copied = Vec::new();
                for b in buffers {
                    if b.when.is_some_and(|w| w != area[0]) {
                        continue;
                    }
                    let o = b.offset as usize;
                    let ptr = u32::from_le_bytes(area[o..o + 4].try_into().expect("4 bytes"));
                    let len = u32::from_le_bytes(area[o + 4..o + 8].try_into().expect("4 bytes"));
                    let data = memory.data(&caller);
                    let Ok(bytes) = crate::host::bytes(data, ptr, len) else {
                        wasmtime::bail!("{label} returned a list at {ptr} with length {len}, outside its memory (a fault in the plugin)");
                    };
                    if b.utf8 {
                        if let Err(e) = std::str::from_utf8(bytes) {
                            wasmtime::bail!("{label} returned a string that is not UTF-8 ({e}; a fault in the plugin)");
                        }
                    }
                    copied.push((o, bytes.to_vec()));
                }
                if let Some(post) = post {
                    let post = instance
                        .get_module_export(&mut caller, post)
                        .and_then(|e| e.into_func())
                        .expect("found at load");
                    post.call_async(&mut caller, &[Val::I32(at as i32)], &mut [])
                        .await
                        .map_err(|e| plugin_fault(e, &format!("{label} (cabi_post)")))?;
                }
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
                let Ok(dest) =
                    crate::host::bytes_mut(guest_memory.data_mut(&mut caller), ret, *size)
                else {
                    wasmtime::bail!("{label}: return pointer {ret} lies outside memory");
                };
                dest.copy_from_slice(&area);
                Ok(())
            }
        }
    }
}

/// Calls a `cabi_realloc` for `len` fresh bytes.
async fn allocate(
    caller: &mut Caller<'_, ProcessState>,
    realloc: Func,
    align: u32,
    len: u32,
) -> wasmtime::Result<u32> {
    let realloc = realloc.typed::<(u32, u32, u32, u32), u32>(&*caller)?;
    realloc.call_async(&mut *caller, (0, 0, align, len)).await
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
    if e.downcast_ref::<crate::process::MemoryLimitExceeded>()
        .is_some()
        || e.downcast_ref::<wasmtime_wasi::I32Exit>().is_some()
    {
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

/// The WIT text in a module's [`WIT_SECTION`], if it has one.
fn wit_section(bytes: &[u8]) -> Result<Option<String>, String> {
    for payload in wasmparser::Parser::new(0).parse_all(bytes) {
        match payload.map_err(|e| e.to_string())? {
            wasmparser::Payload::Version { encoding, .. }
                if encoding != wasmparser::Encoding::Module =>
            {
                return Err(
                    "it is a component; this VM loads plugins that are core modules".into(),
                );
            }
            wasmparser::Payload::CustomSection(s) if s.name() == WIT_SECTION => {
                return String::from_utf8(s.data().to_vec())
                    .map(Some)
                    .map_err(|_| format!("its `{WIT_SECTION}` section is not UTF-8 text"));
            }
            _ => {}
        }
    }
    Ok(None)
}
