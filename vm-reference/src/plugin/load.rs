//! Loading a plugin: reading its bytes and WIT, and checking a native
//! plugin's functions against its WIT.

use super::exports::{component_kind, core_kind};
use super::native::native_type;
use super::{Kind, LoadedPlugin, PluginError, WIT_SECTION};
use crate::process::ProcessState;
use std::sync::Arc;
use vm_abi::plugin::Package;
use wasmtime::component;
use wasmtime::{Engine, Linker};

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
                    f.param_types.iter().map(|(_, t)| native_type(t)).collect();
                let result = f.result_type.as_ref().map(native_type);
                if r.params != params || r.result != result {
                    let show = |ps: &[vm_plugin::Type], result: &Option<vm_plugin::Type>| {
                        let ps: Vec<String> = ps.iter().map(vm_plugin::Type::wit).collect();
                        match result {
                            None => format!("func({})", ps.join(", ")),
                            Some(r) => format!("func({}) -> {}", ps.join(", "), r.wit()),
                        }
                    };
                    return Err(fail(
                        format!(
                            "implements `{path}` as {}, but its WIT declares {}",
                            show(&r.params, &r.result),
                            show(&params, &result)
                        ),
                        "make the Rust types those of the WIT (string: String, list<u8>: Vec<u8>, s64: i64, option: Option, result: Result, records, variants, enums and flags: types declared with vm_plugin::wit_record!, wit_variant!, wit_enum!, wit_flags!)",
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
}

/// Which kind the bytes are, and the WIT text they carry.
pub(super) struct Inspected {
    component: bool,
    wit: Option<String>,
}

/// Whether the bytes are a component, and the WIT text in their
/// [`WIT_SECTION`] (in a component, that of a module inside it).
pub(super) fn inspect(bytes: &[u8]) -> Result<Inspected, String> {
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
