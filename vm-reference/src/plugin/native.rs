//! Native plugins' values and types, and their panics caught.

use super::canon::{is_of, Val};
use vm_abi::plugin::{Returns, Scalar, Value};

/// The guest's arguments as native values (a native plugin's functions
/// take the subset's types, checked at load).
pub(super) fn native_values(args: Vec<Val>) -> Vec<vm_plugin::Value> {
    args.into_iter().map(to_native).collect()
}

fn to_native(v: Val) -> vm_plugin::Value {
    use vm_plugin::Value as V;
    match v {
        Val::Bool(x) => V::Bool(x),
        Val::U8(x) => V::U8(x),
        Val::U16(x) => V::U16(x),
        Val::U32(x) => V::U32(x),
        Val::U64(x) => V::U64(x),
        Val::S8(x) => V::S8(x),
        Val::S16(x) => V::S16(x),
        Val::S32(x) => V::S32(x),
        Val::S64(x) => V::S64(x),
        Val::String(s) => V::String(s),
        Val::Bytes(b) => V::Bytes(b),
        _ => unreachable!("native plugins take the subset's types, checked at load"),
    }
}

fn from_native_value(v: vm_plugin::Value) -> Val {
    use vm_plugin::Value as V;
    match v {
        V::Bool(x) => Val::Bool(x),
        V::U8(x) => Val::U8(x),
        V::U16(x) => Val::U16(x),
        V::U32(x) => Val::U32(x),
        V::U64(x) => Val::U64(x),
        V::S8(x) => Val::S8(x),
        V::S16(x) => Val::S16(x),
        V::S32(x) => Val::S32(x),
        V::S64(x) => Val::S64(x),
        V::String(s) => Val::String(s),
        V::Bytes(b) => Val::Bytes(b),
    }
}

/// What a native function returned, as the VM's value of the function's
/// result type; fails, saying so, when it is of another type.
pub(super) fn from_native(
    f: &vm_abi::plugin::Function,
    returned: vm_plugin::Returned,
) -> Result<super::Reply, String> {
    use vm_plugin::Returned as R;
    let boxed = |v: Option<vm_plugin::Value>| v.map(|v| Box::new(from_native_value(v)));
    let v = match returned {
        R::Nothing => None,
        R::One(v) => Some(from_native_value(v)),
        R::Option(v) => Some(Val::Case(u32::from(v.is_some()), boxed(v))),
        R::Result(Ok(v)) => Some(Val::Case(0, boxed(v))),
        R::Result(Err(v)) => Some(Val::Case(1, boxed(v))),
    };
    let fits = match (&v, &f.result_type) {
        (None, None) => true,
        (Some(v), Some(t)) => is_of(v, t),
        _ => false,
    };
    if !fits {
        return Err("returned a value of another type than its WIT's".into());
    }
    Ok(v)
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
