//! The values that cross between the VM and a native plugin, and the
//! traits that turn Rust arguments and results into them.

/// A WIT type a plugin function may take or return (the plugin subset).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
    /// `string`
    String,
    /// `list<u8>`
    Bytes,
}

impl Type {
    /// Its WIT spelling.
    pub fn wit(self) -> &'static str {
        match self {
            Type::Bool => "bool",
            Type::U8 => "u8",
            Type::U16 => "u16",
            Type::U32 => "u32",
            Type::U64 => "u64",
            Type::S8 => "s8",
            Type::S16 => "s16",
            Type::S32 => "s32",
            Type::S64 => "s64",
            Type::String => "string",
            Type::Bytes => "list<u8>",
        }
    }
}

/// A function's result type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReturnType {
    /// Nothing.
    Nothing,
    /// One value.
    One(Type),
    /// `option<T>`.
    Option(Type),
    /// `result<T, E>` (`None`: `_`).
    Result(Option<Type>, Option<Type>),
}

impl ReturnType {
    /// Its WIT spelling (empty for nothing).
    pub fn wit(self) -> String {
        let side = |t: Option<Type>| t.map_or("_", Type::wit);
        match self {
            ReturnType::Nothing => String::new(),
            ReturnType::One(t) => t.wit().into(),
            ReturnType::Option(t) => format!("option<{}>", t.wit()),
            ReturnType::Result(None, None) => "result".into(),
            ReturnType::Result(ok, err) => format!("result<{}, {}>", side(ok), side(err)),
        }
    }
}

/// A value of a [`Type`].
#[derive(Debug, Clone, PartialEq, Eq)]
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
    /// `string`
    String(String),
    /// `list<u8>`
    Bytes(Vec<u8>),
}

/// What a function returned, shaped as its [`ReturnType`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Returned {
    /// Nothing.
    Nothing,
    /// One value.
    One(Value),
    /// An option.
    Option(Option<Value>),
    /// A result; each side's value is `None` where its type is `_`.
    Result(Result<Option<Value>, Option<Value>>),
}

/// A Rust type that is one WIT value.
pub trait WitValue: Sized {
    /// Its WIT type.
    const TYPE: Type;
    /// From a value of [`WitValue::TYPE`].
    fn from_value(v: Value) -> Option<Self>;
    /// Into a value.
    fn into_value(self) -> Value;
}

macro_rules! wit_values {
    ($($rust:ty => $case:ident),* $(,)?) => {
        $(
            impl WitValue for $rust {
                const TYPE: Type = Type::$case;
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

wit_values!(
    bool => Bool, u8 => U8, u16 => U16, u32 => U32, u64 => U64,
    i8 => S8, i16 => S16, i32 => S32, i64 => S64,
    String => String, Vec<u8> => Bytes,
);

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
                vec![$($name::TYPE),*]
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

/// A function's result: `()`, a [`WitValue`], or an `Option` or `Result`
/// of them (`()` for a side without a type).
pub trait Ret {
    /// The result type.
    fn return_type() -> ReturnType;
    /// The value.
    fn into_returned(self) -> Returned;
}

impl Ret for () {
    fn return_type() -> ReturnType {
        ReturnType::Nothing
    }
    fn into_returned(self) -> Returned {
        Returned::Nothing
    }
}

/// One side of a `Result`: a value, or `()`.
pub trait Side {
    /// Its type, if it has one.
    fn side_type() -> Option<Type>;
    /// Its value, if it has one.
    fn side_value(self) -> Option<Value>;
}

impl Side for () {
    fn side_type() -> Option<Type> {
        None
    }
    fn side_value(self) -> Option<Value> {
        None
    }
}

macro_rules! rets {
    ($($rust:ty),*) => {
        $(
            impl Ret for $rust {
                fn return_type() -> ReturnType {
                    ReturnType::One(<$rust>::TYPE)
                }
                fn into_returned(self) -> Returned {
                    Returned::One(self.into_value())
                }
            }
            impl Ret for Option<$rust> {
                fn return_type() -> ReturnType {
                    ReturnType::Option(<$rust>::TYPE)
                }
                fn into_returned(self) -> Returned {
                    Returned::Option(self.map(WitValue::into_value))
                }
            }
            impl Side for $rust {
                fn side_type() -> Option<Type> {
                    Some(<$rust>::TYPE)
                }
                fn side_value(self) -> Option<Value> {
                    Some(self.into_value())
                }
            }
        )*
    };
}

rets!(bool, u8, u16, u32, u64, i8, i16, i32, i64, String, Vec<u8>);

impl<T: Side, E: Side> Ret for Result<T, E> {
    fn return_type() -> ReturnType {
        ReturnType::Result(T::side_type(), E::side_type())
    }
    fn into_returned(self) -> Returned {
        Returned::Result(match self {
            Ok(v) => Ok(v.side_value()),
            Err(e) => Err(e.side_value()),
        })
    }
}
