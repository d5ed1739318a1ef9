//! Calling a component plugin: wasmtime lowers and lifts, from values the
//! VM makes of the guest's arguments, and the VM makes its own of the
//! result.

use super::canon::Val;
use super::{plugin_fault, Reply};
use crate::process::ProcessState;
use vm_abi::plugin::Ty;
use wasmtime::component::{self, Val as C};
use wasmtime::{AsContextMut, Caller};

/// The most bytes (or elements) a string or list argument or result of a
/// component plugin may hold (1 MiB).
pub(super) const COMPONENT_LIST_LIMIT: usize = 1 << 20;

/// The host memory wasmtime may allocate lifting one call's result: a
/// `list<u8>` is lifted as one dynamic value per byte, so a result of
/// [`COMPONENT_LIST_LIMIT`] bytes, and a little more for what else it holds.
const RESULT_LIFT_FUEL: usize = (COMPONENT_LIST_LIMIT + (64 << 10)) * size_of::<C>();

/// Calls a component plugin: wasmtime lowers the values the VM made from
/// the guest's arguments, and lifts the result, which the VM turns back
/// into its own.
pub(super) async fn call_component(
    caller: &mut Caller<'_, ProcessState>,
    instance: component::Instance,
    export: &component::ComponentExportIndex,
    f: &vm_abi::plugin::Function,
    label: &str,
    args: Vec<Val>,
) -> wasmtime::Result<Reply> {
    // wasmtime's dynamic API takes a list value by value (about forty
    // bytes of the VM's heap per byte): bounded per string or list, and per
    // call, so one call cannot take the VM's memory.
    for ((name, _), arg) in f.param_types.iter().zip(&args) {
        if let Some(n) = longest(arg).filter(|n| *n > COMPONENT_LIST_LIMIT) {
            wasmtime::bail!(
                "{label}: argument `{name}` holds {n} bytes; a component plugin takes at most {COMPONENT_LIST_LIMIT} per string or list (build the plugin as a core module for more)"
            );
        }
    }
    // And all together: each element becomes a value of tens of bytes.
    let total: usize = args.iter().map(total_len).sum();
    if total > COMPONENT_LIST_LIMIT {
        wasmtime::bail!(
            "{label}: its arguments hold {total} bytes and elements in strings and lists; a component plugin takes at most {COMPONENT_LIST_LIMIT} in all per call (build the plugin as a core module for more)"
        );
    }
    let values: Vec<C> = args
        .into_iter()
        .zip(&f.param_types)
        .map(|(v, (_, t))| to_component(v, t))
        .collect();
    let func = instance
        .get_func(&mut *caller, export)
        .expect("checked at load");
    let mut out = vec![C::Bool(false); usize::from(f.result_type.is_some())];
    // wasmtime lifts the result into dynamic values (tens of bytes of the
    // VM's heap per list element): its fuel bounds what one call may take.
    caller.as_context_mut().set_hostcall_fuel(RESULT_LIFT_FUEL);
    func.call_async(&mut *caller, &values, &mut out)
        .await
        .map_err(|e| {
            if e.root_cause()
                .to_string()
                .starts_with("too much data is being copied")
            {
                return too_large(label);
            }
            plugin_fault(e, label)
        })?;
    let (Some(v), Some(t)) = (out.into_iter().next(), &f.result_type) else {
        return Ok(None);
    };
    let v = from_component(v, t).map_err(|e| {
        wasmtime::format_err!("{label} returned an invalid value ({e}; a fault in the plugin)")
    })?;
    if longest(&v).is_some_and(|n| n > COMPONENT_LIST_LIMIT) {
        return Err(too_large(label));
    }
    Ok(Some(v))
}

fn too_large(label: &str) -> wasmtime::Error {
    wasmtime::format_err!(
        "{label} returned a string or list of more than {COMPONENT_LIST_LIMIT} bytes, more than a component plugin may return (a fault in the plugin; build it as a core module for more)"
    )
}

/// The bytes and elements of every string and list a value holds.
fn total_len(v: &Val) -> usize {
    match v {
        Val::String(s) => s.len(),
        Val::Bytes(b) => b.len(),
        Val::List(items) => items.len() + items.iter().map(total_len).sum::<usize>(),
        Val::Record(vs) => vs.iter().map(total_len).sum(),
        Val::Case(_, Some(p)) => total_len(p),
        _ => 0,
    }
}

/// The longest string or list a value holds, if it holds one.
fn longest(v: &Val) -> Option<usize> {
    match v {
        Val::String(s) => Some(s.len()),
        Val::Bytes(b) => Some(b.len()),
        Val::List(items) => items
            .iter()
            .filter_map(longest)
            .max()
            .max(Some(items.len())),
        Val::Record(vs) => vs.iter().filter_map(longest).max(),
        Val::Case(_, Some(p)) => longest(p),
        _ => None,
    }
}

/// A value of type `ty` as a component value.
fn to_component(v: Val, ty: &Ty) -> C {
    match (v, ty) {
        (Val::Bool(x), _) => C::Bool(x),
        (Val::U8(x), _) => C::U8(x),
        (Val::U16(x), _) => C::U16(x),
        (Val::U32(x), _) => C::U32(x),
        (Val::U64(x), _) => C::U64(x),
        (Val::S8(x), _) => C::S8(x),
        (Val::S16(x), _) => C::S16(x),
        (Val::S32(x), _) => C::S32(x),
        (Val::S64(x), _) => C::S64(x),
        (Val::F32(x), _) => C::Float32(x),
        (Val::F64(x), _) => C::Float64(x),
        (Val::Char(c), _) => C::Char(c),
        (Val::String(s), _) => C::String(s),
        (Val::Bytes(b), _) => C::List(b.into_iter().map(C::U8).collect()),
        (Val::List(items), Ty::List(t)) => {
            C::List(items.into_iter().map(|i| to_component(i, t)).collect())
        }
        (Val::Record(vs), Ty::Record(r)) => C::Record(
            vs.into_iter()
                .zip(&r.fields)
                .map(|(v, (n, t))| (n.clone(), to_component(v, t)))
                .collect(),
        ),
        (Val::Record(vs), Ty::Tuple(ts)) => C::Tuple(
            vs.into_iter()
                .zip(ts)
                .map(|(v, t)| to_component(v, t))
                .collect(),
        ),
        (Val::Flags(bits), Ty::Flags(f)) => C::Flags(
            f.flags
                .iter()
                .enumerate()
                .filter(|(i, _)| bits & (1 << i) != 0)
                .map(|(_, n)| n.clone())
                .collect(),
        ),
        (Val::Case(case, payload), ty) => {
            let cases = ty.cases().expect("lifted by its type");
            let payload = |t: Option<&Ty>| match (payload, t) {
                (Some(p), Some(t)) => Some(Box::new(to_component(*p, t))),
                _ => None,
            };
            let t = cases.get(case as usize).copied().flatten();
            match ty {
                Ty::Variant(v) => C::Variant(v.cases[case as usize].0.clone(), payload(t)),
                Ty::Enum(e) => C::Enum(e.cases[case as usize].clone()),
                Ty::Option(_) => C::Option(payload(t)),
                _ if case == 0 => C::Result(Ok(payload(t))),
                _ => C::Result(Err(payload(t))),
            }
        }
        _ => unreachable!("the VM's values are lifted by their types"),
    }
}

/// A component value (of type `ty`, as wasmtime checked) as the VM's.
fn from_component(v: C, ty: &Ty) -> Result<Val, String> {
    let wrong = || format!("a value of another type than its WIT's {}", ty.wit());
    let index = |names: &mut dyn Iterator<Item = &String>, name: &str| {
        for (i, n) in names.enumerate() {
            if n == name {
                return Ok(i as u32);
            }
        }
        Err(wrong())
    };
    Ok(match (v, ty) {
        (C::Bool(x), Ty::Bool) => Val::Bool(x),
        (C::U8(x), Ty::U8) => Val::U8(x),
        (C::U16(x), Ty::U16) => Val::U16(x),
        (C::U32(x), Ty::U32) => Val::U32(x),
        (C::U64(x), Ty::U64) => Val::U64(x),
        (C::S8(x), Ty::S8) => Val::S8(x),
        (C::S16(x), Ty::S16) => Val::S16(x),
        (C::S32(x), Ty::S32) => Val::S32(x),
        (C::S64(x), Ty::S64) => Val::S64(x),
        (C::Float32(x), Ty::F32) => Val::F32(x),
        (C::Float64(x), Ty::F64) => Val::F64(x),
        (C::Char(c), Ty::Char) => Val::Char(c),
        (C::String(s), Ty::String) => Val::String(s),
        (C::List(items), Ty::List(t)) if **t == Ty::U8 => Val::Bytes(
            items
                .into_iter()
                .map(|i| match i {
                    C::U8(b) => Ok(b),
                    _ => Err(wrong()),
                })
                .collect::<Result<_, _>>()?,
        ),
        (C::List(items), Ty::List(t)) => Val::List(
            items
                .into_iter()
                .map(|i| from_component(i, t))
                .collect::<Result<_, _>>()?,
        ),
        (C::Record(fields), Ty::Record(r)) if fields.len() == r.fields.len() => Val::Record(
            fields
                .into_iter()
                .zip(&r.fields)
                .map(|((_, v), (_, t))| from_component(v, t))
                .collect::<Result<_, _>>()?,
        ),
        (C::Tuple(vs), Ty::Tuple(ts)) if vs.len() == ts.len() => Val::Record(
            vs.into_iter()
                .zip(ts)
                .map(|(v, t)| from_component(v, t))
                .collect::<Result<_, _>>()?,
        ),
        (C::Flags(names), Ty::Flags(f)) => {
            let mut bits = 0u32;
            for n in &names {
                bits |= 1 << index(&mut f.flags.iter(), n)?;
            }
            Val::Flags(bits)
        }
        (C::Enum(name), Ty::Enum(e)) => Val::Case(index(&mut e.cases.iter(), &name)?, None),
        (C::Variant(name, payload), Ty::Variant(v)) => {
            let case = index(&mut v.cases.iter().map(|(n, _)| n), &name)?;
            let t = v.cases[case as usize].1.as_ref();
            Val::Case(case, lift_payload(payload, t)?)
        }
        (C::Option(payload), Ty::Option(t)) => match payload {
            None => Val::Case(0, None),
            Some(p) => Val::Case(1, Some(Box::new(from_component(*p, t)?))),
        },
        (C::Result(r), Ty::Result(ok, err)) => match r {
            Ok(p) => Val::Case(0, lift_payload(p, ok.as_deref())?),
            Err(p) => Val::Case(1, lift_payload(p, err.as_deref())?),
        },
        _ => return Err(wrong()),
    })
}

fn lift_payload(p: Option<Box<C>>, t: Option<&Ty>) -> Result<Option<Box<Val>>, String> {
    match (p, t) {
        (None, None) => Ok(None),
        (Some(p), Some(t)) => Ok(Some(Box::new(from_component(*p, t)?))),
        _ => Err("a case with a payload its type does not have, or without one it has".into()),
    }
}
