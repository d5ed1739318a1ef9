//! Calling a core-module plugin: the VM lowers and lifts with the
//! canonical ABI.

use super::call::allocate;
use super::{plugin_fault, Arg, Reply};
use crate::process::ProcessState;
use vm_abi::plugin::{ResultLayout, Returns, Scalar, Value};
use vm_abi::CoreType;
use wasmtime::{Caller, Memory, ModuleExport, Val};

/// The parts of a core-module plugin instance one call uses.
pub(super) struct CoreCall<'a> {
    pub(super) instance: wasmtime::Instance,
    pub(super) memory: Memory,
    pub(super) realloc: Option<&'a ModuleExport>,
    pub(super) export: &'a ModuleExport,
    pub(super) post: Option<&'a ModuleExport>,
}

/// Calls a core-module plugin: arguments into its memory, the result area
/// out of it, checked.
pub(super) async fn call_core(
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
                let to = allocate(caller, (realloc, memory), len, label, "the plugin's").await?;
                let dest = crate::host::bytes_mut(memory.data_mut(&mut *caller), to, len)
                    .expect("checked by allocate");
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

/// A `bool` in a result area as the canonical ABI lifts it: any non-zero
/// byte is 1.
pub(super) fn normalise_bools(f: &vm_abi::plugin::Function, area: &mut [u8]) {
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
pub(super) fn normalise(s: Scalar, v: Val) -> Val {
    match (s, v) {
        (Scalar::Bool, Val::I32(x)) => Val::I32((x != 0) as i32),
        (Scalar::U8, Val::I32(x)) => Val::I32(x & 0xff),
        (Scalar::S8, Val::I32(x)) => Val::I32(x as i8 as i32),
        (Scalar::U16, Val::I32(x)) => Val::I32(x & 0xffff),
        (Scalar::S16, Val::I32(x)) => Val::I32(x as i16 as i32),
        (_, v) => v,
    }
}
