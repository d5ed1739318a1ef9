//! Calling a component plugin: wasmtime lowers and lifts, from values the
//! VM makes.

use super::layout::lay_out;
use super::{plugin_fault, Arg, Reply};
use crate::process::ProcessState;
use vm_abi::plugin::{Scalar, Value};
use vm_plugin::Returned;
use wasmtime::component;
use wasmtime::{AsContextMut, Caller, Val};

/// The most bytes a string or list argument or result of a component
/// plugin may hold (1 MiB).
pub(super) const COMPONENT_LIST_LIMIT: usize = 1 << 20;

/// The host memory wasmtime may allocate lifting one call's result: a
/// `list<u8>` is lifted as one dynamic value per byte, so a result of
/// [`COMPONENT_LIST_LIMIT`] bytes, and a little more for what else it holds.
const RESULT_LIFT_FUEL: usize = (COMPONENT_LIST_LIMIT + (64 << 10)) * size_of::<component::Val>();

/// Calls a component plugin: wasmtime lowers the values the VM made from
/// the guest's arguments, and lifts the result, which the VM lays out in
/// the guest's result area.
pub(super) async fn call_component(
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
    if out.iter().any(|v| holds_more_than(v, COMPONENT_LIST_LIMIT)) {
        return Err(too_large(label));
    }
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
pub(super) fn native_value(v: component::Val) -> vm_plugin::Value {
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

/// A scalar argument as a component value.
pub(super) fn scalar_value(s: Scalar, v: Val) -> component::Val {
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

fn too_large(label: &str) -> wasmtime::Error {
    wasmtime::format_err!(
        "{label} returned a string or list of more than {COMPONENT_LIST_LIMIT} bytes, more than a component plugin may return (a fault in the plugin; build it as a core module for more)"
    )
}

/// Whether a lifted value holds a string or list longer than `limit`.
fn holds_more_than(v: &component::Val, limit: usize) -> bool {
    use component::Val as C;
    match v {
        C::String(s) => s.len() > limit,
        C::List(items) => items.len() > limit || items.iter().any(|i| holds_more_than(i, limit)),
        C::Option(Some(v)) => holds_more_than(v, limit),
        C::Result(Ok(Some(v)) | Err(Some(v))) => holds_more_than(v, limit),
        _ => false,
    }
}
