//! Calling a core-module plugin: the VM lowers the arguments into its
//! memory and lifts the result out, with the canonical ABI.

use super::call::allocate;
use super::canon::{allocations, Lift, Lowering, Val};
use super::{plugin_fault, Reply};
use crate::process::ProcessState;
use vm_abi::plugin::Ty;
use vm_abi::CoreType;
use wasmtime::{Caller, Memory, ModuleExport, Val as Core};

/// The parts of a core-module plugin instance one call uses.
pub(super) struct CoreCall<'a> {
    pub(super) instance: wasmtime::Instance,
    pub(super) memory: Memory,
    pub(super) realloc: Option<&'a ModuleExport>,
    pub(super) export: &'a ModuleExport,
    pub(super) post: Option<&'a ModuleExport>,
}

/// Calls a core-module plugin: arguments into its memory (their strings
/// and lists where its `cabi_realloc` says, the arguments themselves too
/// when they flatten to more than 16 values), the result out of it,
/// checked as the canonical ABI lifts it.
pub(super) async fn call_core(
    caller: &mut Caller<'_, ProcessState>,
    call: CoreCall<'_>,
    f: &vm_abi::plugin::Function,
    label: &str,
    args: Vec<Val>,
) -> wasmtime::Result<Reply> {
    let CoreCall {
        instance,
        memory,
        realloc,
        export,
        post,
    } = call;
    let types: Vec<Ty> = f.param_types.iter().map(|(_, t)| t.clone()).collect();
    let in_memory = f.params_in_memory();
    let tuple = Ty::Tuple(types.clone());
    let mut needed = Vec::new();
    if in_memory {
        needed.push((tuple.align(), tuple.size()));
    }
    for (v, t) in args.iter().zip(&types) {
        allocations(v, t, &mut needed);
    }
    let mut ptrs = Vec::with_capacity(needed.len());
    if !needed.is_empty() {
        let realloc = realloc
            .and_then(|r| instance.get_module_export(&mut *caller, r))
            .and_then(|e| e.into_func())
            .expect("checked at load: a plugin taking a list exports cabi_realloc");
        for size in needed {
            ptrs.push(allocate(caller, (realloc, memory), size, label, "the plugin's").await?);
        }
    }
    let mut flat: Vec<Core> = Vec::with_capacity(f.export_params.len());
    {
        let mut ptrs = ptrs.into_iter();
        let at = if in_memory { ptrs.next() } else { None };
        let mut lowering = Lowering {
            mem: memory.data_mut(&mut *caller),
            ptrs,
        };
        let lowered = match at {
            Some(at) => {
                flat.push(Core::I32(at as i32));
                lowering.store(&Val::Record(args), &tuple, at)
            }
            None => args
                .iter()
                .zip(&types)
                .try_for_each(|(v, t)| lowering.lower_flat(v, t, &mut flat)),
        };
        lowered.map_err(|e| wasmtime::format_err!("{label}: its arguments: {e}"))?;
    }
    let target = instance
        .get_module_export(&mut *caller, export)
        .and_then(|e| e.into_func())
        .expect("checked at load");
    let mut out = [match f.export_results.first() {
        Some(CoreType::I64) => Core::I64(0),
        Some(CoreType::F32) => Core::F32(0),
        Some(CoreType::F64) => Core::F64(0),
        _ => Core::I32(0),
    }];
    let out = &mut out[..f.export_results.len()];
    target
        .call_async(&mut *caller, &flat, out)
        .await
        .map_err(|e| plugin_fault(e, label))?;
    let value = match &f.result_type {
        None => None,
        Some(ty) => {
            let mem = memory.data(&*caller);
            let mut lift = Lift::new(mem.len());
            let lifted = if f.result_in_memory() {
                let at = out[0].i32().expect("typed") as u32;
                let (size, align) = (ty.size(), ty.align());
                if !at.is_multiple_of(align) || crate::guest_memory::bytes(mem, at, size).is_err() {
                    wasmtime::bail!(
                        "{label} returned {at}, which lies outside its memory or is not {align}-byte aligned (a fault in the plugin)"
                    );
                }
                lift.load(mem, ty, at)
            } else {
                lift.lift_flat(mem, ty, &mut out.iter().cloned())
            };
            Some(lifted.map_err(|e| {
                wasmtime::format_err!(
                    "{label} returned an invalid value ({e}; a fault in the plugin)"
                )
            })?)
        }
    };
    if let Some(post) = post {
        let post = instance
            .get_module_export(&mut *caller, post)
            .and_then(|e| e.into_func())
            .expect("found at load");
        post.call_async(&mut *caller, out, &mut [])
            .await
            .map_err(|e| plugin_fault(e, &format!("{label} (cabi_post)")))?;
    }
    Ok(value)
}
