//! The values that cross between the VM and a native plugin, their types,
//! and the traits that turn Rust arguments and results into them.

/// A WIT value type, spelt by structure: a record's or variant's own name
/// does not matter, its fields' and cases' names and types do.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Type {
    /// `bool`
    Bool,
    /// `u8`
    U8,
    /// `u16`
    U16,
    /// `u32`
    U32,
    /// `u64`
    U64,
    /// `s8`
    S8,
    /// `s16`
    S16,
    /// `s32`
    S32,
    /// `s64`
    S64,
    /// `f32`
    F32,
    /// `f64`
    F64,
    /// `char`
    Char,
    /// `string`
    String,
    /// `list<T>`
    List(Box<Type>),
    /// `tuple<…>`
    Tuple(Vec<Type>),
    /// A `record`: field names (as in the WIT) and types.
    Record(Vec<(String, Type)>),
    /// A `variant`: case names and payloads.
    Variant(Vec<(String, Option<Type>)>),
    /// An `enum`: case names.
    Enum(Vec<String>),
    /// A `flags` type: flag names, bit 0 first.
    Flags(Vec<String>),
    /// `option<T>`
    Option(Box<Type>),
    /// `result<T, E>`, `None` for a missing side.
    Result(Option<Box<Type>>, Option<Box<Type>>),
}

impl Type {
    /// Its WIT spelling by structure (`record { x: f64, y: f64 }`), as the
    /// VM compares it with the plugin's WIT.
    pub fn wit(&self) -> String {
        let join = |items: Vec<String>| items.join(", ");
        match self {
            Type::Bool => "bool".into(),
            Type::U8 => "u8".into(),
            Type::U16 => "u16".into(),
            Type::U32 => "u32".into(),
            Type::U64 => "u64".into(),
            Type::S8 => "s8".into(),
            Type::S16 => "s16".into(),
            Type::S32 => "s32".into(),
            Type::S64 => "s64".into(),
            Type::F32 => "f32".into(),
            Type::F64 => "f64".into(),
            Type::Char => "char".into(),
            Type::String => "string".into(),
            Type::List(t) => format!("list<{}>", t.wit()),
            Type::Tuple(ts) => format!("tuple<{}>", join(ts.iter().map(Type::wit).collect())),
            Type::Record(fs) => format!(
                "record {{ {} }}",
                join(
                    fs.iter()
                        .map(|(n, t)| format!("{n}: {}", t.wit()))
                        .collect()
                )
            ),
            Type::Variant(cs) => format!(
                "variant {{ {} }}",
                join(
                    cs.iter()
                        .map(|(n, t)| match t {
                            Some(t) => format!("{n}({})", t.wit()),
                            None => n.clone(),
                        })
                        .collect()
                )
            ),
            Type::Enum(cs) => format!("enum {{ {} }}", cs.join(", ")),
            Type::Flags(fs) => format!("flags {{ {} }}", fs.join(", ")),
            Type::Option(t) => format!("option<{}>", t.wit()),
            Type::Result(None, None) => "result".into(),
            Type::Result(Some(ok), None) => format!("result<{}>", ok.wit()),
            Type::Result(ok, Some(err)) => format!(
                "result<{}, {}>",
                ok.as_ref().map_or("_".into(), |t| t.wit()),
                err.wit()
            ),
        }
    }
}

/// A value of a [`Type`].
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `bool`
    Bool(bool),
    /// `u8`
    U8(u8),
    /// `u16`
    U16(u16),
    /// `u32`
    U32(u32),
    /// `u64`
    U64(u64),
    /// `s8`
    S8(i8),
    /// `s16`
    S16(i16),
    /// `s32`
    S32(i32),
    /// `s64`
    S64(i64),
    /// `f32`
    F32(f32),
    /// `f64`
    F64(f64),
    /// `char`
    Char(char),
    /// `string`
    String(String),
    /// `list<u8>`, as bytes.
    Bytes(Vec<u8>),
    /// Any other `list<T>`.
    List(Vec<Value>),
    /// A record's fields or a tuple's members, in order.
    Record(Vec<Value>),
    /// A variant's, enum's, option's (0 none, 1 some) or result's (0 ok,
    /// 1 err) case, with its payload if it has one.
    Case(u32, Option<Box<Value>>),
    /// A `flags` value: bit `i` for flag `i`.
    Flags(u32),
}

impl Value {
    /// A record's or tuple's `N` members, if it is one of `N`.
    pub fn into_members<const N: usize>(self) -> Option<[Value; N]> {
        match self {
            Value::Record(vs) => vs.try_into().ok(),
            _ => None,
        }
    }

    /// A case and its payload, if it is a variant-like value.
    pub fn into_case(self) -> Option<(u32, Option<Value>)> {
        match self {
            Value::Case(case, payload) => Some((case, payload.map(|p| *p))),
            _ => None,
        }
    }
}

/// A Rust type that is one WIT value: scalars, `f32`, `f64`, `char`,
/// `String`, `Vec<T>` (`list<T>`; `Vec<u8>` is `list<u8>`), tuples,
/// `Option<T>`, `Result<T, E>` (`()` for a missing side), and records,
/// variants, enums and flags declared with [`wit_record!`](crate::wit_record),
/// [`wit_variant!`](crate::wit_variant), [`wit_enum!`](crate::wit_enum) and
/// [`wit_flags!`](crate::wit_flags).
pub trait WitValue: Sized {
    /// Its WIT type.
    fn wit_type() -> Type;
    /// From a value of [`WitValue::wit_type`].
    fn from_value(v: Value) -> Option<Self>;
    /// Into a value.
    fn into_value(self) -> Value;

    /// A list of them as a value (`list<u8>` as bytes).
    #[doc(hidden)]
    fn list_into_value(items: Vec<Self>) -> Value {
        Value::List(items.into_iter().map(Self::into_value).collect())
    }

    /// A list of them from a value.
    #[doc(hidden)]
    fn list_from_value(v: Value) -> Option<Vec<Self>> {
        match v {
            Value::List(items) => items.into_iter().map(Self::from_value).collect(),
            _ => None,
        }
    }
}

macro_rules! scalars {
    ($($rust:ty => $case:ident),* $(,)?) => {
        $(
            impl WitValue for $rust {
                fn wit_type() -> Type {
                    Type::$case
                }
                fn from_value(v: Value) -> Option<Self> {
                    match v {
                        Value::$case(x) => Some(x),
                        _ => None,
                    }
                }
                fn into_value(self) -> Value {
                    Value::$case(self)
                }
            }
        )*
    };
}

scalars!(
    bool => Bool, u16 => U16, u32 => U32, u64 => U64,
    i8 => S8, i16 => S16, i32 => S32, i64 => S64,
    f32 => F32, f64 => F64, char => Char, String => String,
);

impl WitValue for u8 {
    fn wit_type() -> Type {
        Type::U8
    }
    fn from_value(v: Value) -> Option<Self> {
        match v {
            Value::U8(x) => Some(x),
            _ => None,
        }
    }
    fn into_value(self) -> Value {
        Value::U8(self)
    }
    fn list_into_value(items: Vec<u8>) -> Value {
        Value::Bytes(items)
    }
    fn list_from_value(v: Value) -> Option<Vec<u8>> {
        match v {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }
}

impl<T: WitValue> WitValue for Vec<T> {
    fn wit_type() -> Type {
        Type::List(Box::new(T::wit_type()))
    }
    fn from_value(v: Value) -> Option<Self> {
        T::list_from_value(v)
    }
    fn into_value(self) -> Value {
        T::list_into_value(self)
    }
}

impl<T: WitValue> WitValue for Option<T> {
    fn wit_type() -> Type {
        Type::Option(Box::new(T::wit_type()))
    }
    fn from_value(v: Value) -> Option<Self> {
        match v.into_case()? {
            (0, None) => Some(None),
            (1, Some(p)) => Some(Some(T::from_value(p)?)),
            _ => None,
        }
    }
    fn into_value(self) -> Value {
        match self {
            None => Value::Case(0, None),
            Some(v) => Value::Case(1, Some(Box::new(v.into_value()))),
        }
    }
}

/// One side of a `Result`: a value, or `()` for a missing side.
pub trait Side: Sized {
    /// Its type, if it has one.
    fn side_type() -> Option<Type>;
    /// From its payload.
    fn from_side(v: Option<Value>) -> Option<Self>;
    /// Its payload, if it has one.
    fn into_side(self) -> Option<Value>;
}

impl Side for () {
    fn side_type() -> Option<Type> {
        None
    }
    fn from_side(v: Option<Value>) -> Option<Self> {
        v.is_none().then_some(())
    }
    fn into_side(self) -> Option<Value> {
        None
    }
}

impl<T: WitValue> Side for T {
    fn side_type() -> Option<Type> {
        Some(T::wit_type())
    }
    fn from_side(v: Option<Value>) -> Option<Self> {
        T::from_value(v?)
    }
    fn into_side(self) -> Option<Value> {
        Some(self.into_value())
    }
}

impl<T: Side, E: Side> WitValue for Result<T, E> {
    fn wit_type() -> Type {
        Type::Result(T::side_type().map(Box::new), E::side_type().map(Box::new))
    }
    fn from_value(v: Value) -> Option<Self> {
        match v.into_case()? {
            (0, p) => Some(Ok(T::from_side(p)?)),
            (1, p) => Some(Err(E::from_side(p)?)),
            _ => None,
        }
    }
    fn into_value(self) -> Value {
        let (case, payload) = match self {
            Ok(v) => (0, v.into_side()),
            Err(e) => (1, e.into_side()),
        };
        Value::Case(case, payload.map(Box::new))
    }
}

macro_rules! tuples {
    ($(($($name:ident $i:tt),+))*) => {
        $(
            impl<$($name: WitValue),+> WitValue for ($($name,)+) {
                fn wit_type() -> Type {
                    Type::Tuple(vec![$($name::wit_type()),+])
                }
                fn from_value(v: Value) -> Option<Self> {
                    let Value::Record(vs) = v else { return None };
                    let mut vs = vs.into_iter();
                    let t = ($($name::from_value(vs.next()?)?,)+);
                    vs.next().is_none().then_some(t)
                }
                fn into_value(self) -> Value {
                    Value::Record(vec![$(self.$i.into_value()),+])
                }
            }
        )*
    };
}

tuples! {
    (A 0)
    (A 0, B 1)
    (A 0, B 1, C 2)
    (A 0, B 1, C 2, D 3)
    (A 0, B 1, C 2, D 3, E 4)
    (A 0, B 1, C 2, D 3, E 4, F 5)
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6)
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7)
}

/// A function's arguments: a tuple of [`WitValue`]s.
pub trait Args: Sized {
    /// The parameter types.
    fn types() -> Vec<Type>;
    /// From values of those types.
    fn from_values(values: Vec<Value>) -> Option<Self>;
}

macro_rules! args {
    ($($name:ident),*) => {
        impl<$($name: WitValue),*> Args for ($($name,)*) {
            fn types() -> Vec<Type> {
                vec![$($name::wit_type()),*]
            }
            #[allow(unused_mut, unused_variables)]
            fn from_values(values: Vec<Value>) -> Option<Self> {
                let mut values = values.into_iter();
                let args = ($($name::from_value(values.next()?)?,)*);
                values.next().is_none().then_some(args)
            }
        }
    };
}

args!();
args!(A);
args!(A, B);
args!(A, B, C);
args!(A, B, C, D);
args!(A, B, C, D, E);
args!(A, B, C, D, E, F);
args!(A, B, C, D, E, F, G);
args!(A, B, C, D, E, F, G, H);
args!(A, B, C, D, E, F, G, H, I);
args!(A, B, C, D, E, F, G, H, I, J);
args!(A, B, C, D, E, F, G, H, I, J, K);
args!(A, B, C, D, E, F, G, H, I, J, K, L);

/// A function's result: `()` for none, or a [`WitValue`].
pub trait Ret {
    /// The result type, if there is one.
    fn result_type() -> Option<Type>;
    /// The value, if there is one.
    fn into_result(self) -> Option<Value>;
}

impl Ret for () {
    fn result_type() -> Option<Type> {
        None
    }
    fn into_result(self) -> Option<Value> {
        None
    }
}

impl<T: WitValue> Ret for T {
    fn result_type() -> Option<Type> {
        Some(T::wit_type())
    }
    fn into_result(self) -> Option<Value> {
        Some(self.into_value())
    }
}

/// A Rust name as WIT spells it: `snake_case` and `CamelCase` become
/// `kebab-case` (for the declaring macros).
#[doc(hidden)]
pub fn kebab(name: &str) -> String {
    let name = name.strip_prefix("r#").unwrap_or(name);
    let mut out = String::new();
    let mut previous: Option<char> = None;
    for c in name.chars() {
        if c == '_' {
            out.push('-');
        } else if c.is_ascii_uppercase() {
            let after_word = previous.is_some_and(|p| p != '_' && !p.is_ascii_uppercase());
            if after_word {
                out.push('-');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
        previous = Some(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::kebab;

    #[test]
    fn rust_names_become_wit_names() {
        assert_eq!(kebab("max_len"), "max-len");
        assert_eq!(kebab("MetresPerSecond"), "metres-per-second");
        assert_eq!(kebab("HIGH_LOAD"), "high-load");
        assert_eq!(kebab("r#type"), "type");
        assert_eq!(kebab("Empty"), "empty");
    }
}
