//! Native plugins' values, and their panics caught.

use super::canon::{is_of, Val};

/// The guest's arguments as native values.
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
        Val::F32(x) => V::F32(x),
        Val::F64(x) => V::F64(x),
        Val::Char(x) => V::Char(x),
        Val::String(s) => V::String(s),
        Val::Bytes(b) => V::Bytes(b),
        Val::List(vs) => V::List(vs.into_iter().map(to_native).collect()),
        Val::Record(vs) => V::Record(vs.into_iter().map(to_native).collect()),
        Val::Case(case, payload) => V::Case(case, payload.map(|p| Box::new(to_native(*p)))),
        Val::Flags(bits) => V::Flags(bits),
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
        V::F32(x) => Val::F32(x),
        V::F64(x) => Val::F64(x),
        V::Char(x) => Val::Char(x),
        V::String(s) => Val::String(s),
        V::Bytes(b) => Val::Bytes(b),
        V::List(vs) => Val::List(vs.into_iter().map(from_native_value).collect()),
        V::Record(vs) => Val::Record(vs.into_iter().map(from_native_value).collect()),
        V::Case(case, payload) => Val::Case(case, payload.map(|p| Box::new(from_native_value(*p)))),
        V::Flags(bits) => Val::Flags(bits),
    }
}

/// What a native function returned, as the VM's value of the function's
/// result type; fails, saying so, when it is of another type.
pub(super) fn from_native(
    f: &vm_abi::plugin::Function,
    returned: Option<vm_plugin::Value>,
) -> Result<super::Reply, String> {
    let v = returned.map(from_native_value);
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

/// A WIT type as the native plugin API names it.
pub(crate) fn native_type(t: &vm_abi::plugin::Ty) -> vm_plugin::Type {
    use vm_abi::plugin::Ty;
    use vm_plugin::Type as T;
    let boxed = |t: &Ty| Box::new(native_type(t));
    match t {
        Ty::Bool => T::Bool,
        Ty::U8 => T::U8,
        Ty::U16 => T::U16,
        Ty::U32 => T::U32,
        Ty::U64 => T::U64,
        Ty::S8 => T::S8,
        Ty::S16 => T::S16,
        Ty::S32 => T::S32,
        Ty::S64 => T::S64,
        Ty::F32 => T::F32,
        Ty::F64 => T::F64,
        Ty::Char => T::Char,
        Ty::String => T::String,
        Ty::List(e) => T::List(boxed(e)),
        Ty::Tuple(ts) => T::Tuple(ts.iter().map(native_type).collect()),
        Ty::Record(r) => T::Record(
            r.fields
                .iter()
                .map(|(n, t)| (n.clone(), native_type(t)))
                .collect(),
        ),
        Ty::Variant(v) => T::Variant(
            v.cases
                .iter()
                .map(|(n, t)| (n.clone(), t.as_ref().map(native_type)))
                .collect(),
        ),
        Ty::Enum(e) => T::Enum(e.cases.clone()),
        Ty::Flags(f) => T::Flags(f.flags.clone()),
        Ty::Option(p) => T::Option(boxed(p)),
        Ty::Result(ok, err) => T::Result(ok.as_deref().map(boxed), err.as_deref().map(boxed)),
    }
}
