//! What each wasm kind of plugin must export, checked at load against its
//! WIT, and the pre-linked instance it becomes.

use super::{Kind, PluginError};
use crate::compat::signature;
use crate::process::ProcessState;
use vm_abi::plugin::{Package, Ty};
use vm_abi::CoreType;
use wasmtime::component;
use wasmtime::{Engine, Linker, ValType};

pub(super) fn val_types(ts: impl ExactSizeIterator<Item = ValType>) -> Option<Vec<CoreType>> {
    ts.map(|t| match t {
        ValType::I32 => Some(CoreType::I32),
        ValType::I64 => Some(CoreType::I64),
        ValType::F32 => Some(CoreType::F32),
        ValType::F64 => Some(CoreType::F64),
        _ => None,
    })
    .collect()
}

/// A core-module plugin: checks its imports and exports against its WIT.
pub(super) fn core_kind(
    engine: &Engine,
    linker: &Linker<ProcessState>,
    package: &Package,
    bytes: &[u8],
    fail: &dyn Fn(String, &str) -> PluginError,
) -> Result<Kind, PluginError> {
    let module = wasmtime::Module::new(engine, bytes).map_err(|e| {
        let e = format!("{e:#}");
        if e.contains("exceeds the limit") {
            return fail(
                format!("needs more memory than a process may have: {e}"),
                "raise --max-memory (which bounds a process's memory and its plugins' together)",
            );
        }
        fail(
            format!("is not a valid WebAssembly module: {e}"),
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
            "exports no `cabi_realloc`, which a function taking a string or list (or more than 16 flat values) needs".into(),
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
                Some((Some(p), Some(r))) if p == f.export_results && r.is_empty() => {
                    export(&post_name)
                }
                None if export(&post_name).is_none() => None,
                _ => return Err(fail(
                    format!(
                        "exports `{post_name}`, but not as a function {}",
                        signature(&f.export_results, &[])
                    ),
                    "a post-return function takes the function's core results and returns nothing",
                )),
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
pub(super) fn full_interface_name(package: &Package, iface: &str) -> String {
    let (a, b, c) = package.version;
    format!("{}/{iface}@{a}.{b}.{c}", package.package_name())
}

/// A component plugin: checks its imports (WASI 0.2 only) and that it
/// exports each interface with each function's WIT type.
pub(super) fn component_kind(
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
            let params_match = params.len() == f.param_types.len()
                && params
                    .iter()
                    .zip(&f.param_types)
                    .all(|(t, (_, ty))| type_matches(t, ty));
            let result_matches = match (&results[..], &f.result_type) {
                ([], None) => true,
                ([t], Some(ty)) => type_matches(t, ty),
                _ => false,
            };
            if !params_match || !result_matches {
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

/// Whether a component's type is the WIT type `ty` (records and variants
/// by their fields and cases, in order, not by their names).
pub(super) fn type_matches(t: &component::types::Type, ty: &Ty) -> bool {
    use component::types::Type as T;
    match (t, ty) {
        (T::Bool, Ty::Bool)
        | (T::U8, Ty::U8)
        | (T::U16, Ty::U16)
        | (T::U32, Ty::U32)
        | (T::U64, Ty::U64)
        | (T::S8, Ty::S8)
        | (T::S16, Ty::S16)
        | (T::S32, Ty::S32)
        | (T::S64, Ty::S64)
        | (T::Float32, Ty::F32)
        | (T::Float64, Ty::F64)
        | (T::Char, Ty::Char)
        | (T::String, Ty::String) => true,
        (T::List(l), Ty::List(e)) => type_matches(&l.ty(), e),
        (T::Option(o), Ty::Option(e)) => type_matches(&o.ty(), e),
        (T::Result(r), Ty::Result(ok, err)) => {
            let side = |t: Option<T>, ty: Option<&Ty>| match (t, ty) {
                (None, None) => true,
                (Some(t), Some(ty)) => type_matches(&t, ty),
                _ => false,
            };
            side(r.ok(), ok.as_deref()) && side(r.err(), err.as_deref())
        }
        (T::Tuple(tu), Ty::Tuple(ts)) => {
            tu.types().len() == ts.len() && tu.types().zip(ts).all(|(t, ty)| type_matches(&t, ty))
        }
        (T::Record(r), Ty::Record(rec)) => {
            r.fields().len() == rec.fields.len()
                && r.fields()
                    .zip(&rec.fields)
                    .all(|(f, (n, ty))| f.name == n && type_matches(&f.ty, ty))
        }
        (T::Variant(v), Ty::Variant(var)) => {
            v.cases().len() == var.cases.len()
                && v.cases().zip(&var.cases).all(|(c, (n, ty))| {
                    c.name == n
                        && match (c.ty, ty) {
                            (None, None) => true,
                            (Some(t), Some(ty)) => type_matches(&t, ty),
                            _ => false,
                        }
                })
        }
        (T::Enum(e), Ty::Enum(en)) => e.names().eq(en.cases.iter().map(String::as_str)),
        (T::Flags(fl), Ty::Flags(f)) => fl.names().eq(f.flags.iter().map(String::as_str)),
        _ => false,
    }
}
