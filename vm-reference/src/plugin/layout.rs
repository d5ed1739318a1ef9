//! A result laid out as the guest receives it, once for every kind.

use super::native::is_of;
use super::Reply;
use vm_abi::plugin::{ResultLayout, Returns, Value};
use vm_plugin::Returned;
use wasmtime::Val;

/// A result as the guest receives it: one core value, or the result area
/// and the strings and lists to put in the guest's memory. Fails (saying
/// what) when the value is not of the function's WIT type.
pub(super) fn lay_out(f: &vm_abi::plugin::Function, returned: Returned) -> Result<Reply, String> {
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
