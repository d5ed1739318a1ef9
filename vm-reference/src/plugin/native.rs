//! Native plugins' values and types, and their panics caught.

use super::Arg;
use vm_abi::plugin::{Returns, Scalar, Value};

/// The guest's arguments as native values, by their WIT types.
pub(super) fn native_values(f: &vm_abi::plugin::Function, args: Vec<Arg>) -> Vec<vm_plugin::Value> {
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
pub(super) fn is_of(v: &vm_plugin::Value, t: &Value) -> bool {
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

/// A panic's message.
pub(super) fn panic_text(p: Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into())
}

/// A native plugin's future, whose panics become its outcome.
pub(super) struct CatchUnwind(pub(super) vm_plugin::BoxFuture);

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
