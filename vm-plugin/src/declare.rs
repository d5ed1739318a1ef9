//! Macros that declare a Rust type for a WIT record, variant, enum or
//! flags type, with its [`WitValue`](crate::WitValue) implementation, so a
//! native plugin's functions take and return them like any other value.
//! Names are spelt as WIT spells them: `snake_case` fields and `CamelCase`
//! cases become `kebab-case`.

/// Declares a struct for a WIT `record` (fields in the WIT's order).
///
/// ```
/// vm_plugin::wit_record! {
///     #[derive(Debug, Clone, PartialEq)]
///     pub struct Point { pub x: f64, pub y: f64 }
/// }
/// use vm_plugin::WitValue;
/// assert_eq!(Point::wit_type().wit(), "record { x: f64, y: f64 }");
/// ```
#[macro_export]
macro_rules! wit_record {
    ($(#[$meta:meta])* $vis:vis struct $name:ident {
        $($(#[$fmeta:meta])* $fvis:vis $field:ident : $ty:ty),* $(,)?
    }) => {
        $(#[$meta])*
        $vis struct $name {
            $($(#[$fmeta])* $fvis $field: $ty),*
        }

        impl $crate::WitValue for $name {
            fn wit_type() -> $crate::Type {
                $crate::Type::Record(vec![$(
                    ($crate::kebab(stringify!($field)), <$ty as $crate::WitValue>::wit_type())
                ),*])
            }

            fn from_value(v: $crate::Value) -> Option<Self> {
                let $crate::Value::Record(vs) = v else { return None };
                let mut vs = vs.into_iter();
                let r = $name {
                    $($field: <$ty as $crate::WitValue>::from_value(vs.next()?)?),*
                };
                vs.next().is_none().then_some(r)
            }

            fn into_value(self) -> $crate::Value {
                $crate::Value::Record(vec![$($crate::WitValue::into_value(self.$field)),*])
            }
        }
    };
}

/// Declares an enum for a WIT `variant` (cases in the WIT's order, each
/// with a payload or none).
///
/// ```
/// vm_plugin::wit_variant! {
///     #[derive(Debug, Clone, PartialEq)]
///     pub enum Shape { Circle(f64), Polygon(Vec<(f64, f64)>), Empty }
/// }
/// use vm_plugin::WitValue;
/// assert_eq!(
///     Shape::wit_type().wit(),
///     "variant { circle(f64), polygon(list<tuple<f64, f64>>), empty }"
/// );
/// ```
#[macro_export]
macro_rules! wit_variant {
    ($(#[$meta:meta])* $vis:vis enum $name:ident {
        $($(#[$cmeta:meta])* $case:ident $(($payload:ty))?),* $(,)?
    }) => {
        $(#[$meta])*
        $vis enum $name {
            $($(#[$cmeta])* $case $(($payload))?),*
        }

        impl $crate::WitValue for $name {
            fn wit_type() -> $crate::Type {
                $crate::Type::Variant(vec![$(
                    ($crate::kebab(stringify!($case)), $crate::__payload_type!($($payload)?))
                ),*])
            }

            #[allow(unused_assignments)]
            fn from_value(v: $crate::Value) -> Option<Self> {
                let (case, payload) = v.into_case()?;
                let mut i = 0u32;
                $(
                    if case == i {
                        return $crate::__case_from!($name::$case, payload $(, $payload)?);
                    }
                    i += 1;
                )*
                None
            }

            #[allow(unused_assignments)]
            fn into_value(self) -> $crate::Value {
                let mut i = 0u32;
                $(
                    $crate::__case_into!(self, i, $name::$case $(, $payload)?);
                    i += 1;
                )*
                unreachable!("every case is one of the above")
            }
        }
    };
}

/// Declares an enum for a WIT `enum` (cases in the WIT's order).
///
/// ```
/// vm_plugin::wit_enum! {
///     #[derive(Debug, Clone, Copy, PartialEq)]
///     pub enum Unit { Metres, Feet }
/// }
/// use vm_plugin::WitValue;
/// assert_eq!(Unit::wit_type().wit(), "enum { metres, feet }");
/// ```
#[macro_export]
macro_rules! wit_enum {
    ($(#[$meta:meta])* $vis:vis enum $name:ident {
        $($(#[$cmeta:meta])* $case:ident),* $(,)?
    }) => {
        $(#[$meta])*
        $vis enum $name {
            $($(#[$cmeta])* $case),*
        }

        impl $crate::WitValue for $name {
            fn wit_type() -> $crate::Type {
                $crate::Type::Enum(vec![$($crate::kebab(stringify!($case))),*])
            }

            #[allow(unused_assignments)]
            fn from_value(v: $crate::Value) -> Option<Self> {
                let (case, payload) = v.into_case()?;
                let mut i = 0u32;
                $(
                    if case == i {
                        return payload.is_none().then_some($name::$case);
                    }
                    i += 1;
                )*
                None
            }

            #[allow(unused_assignments)]
            fn into_value(self) -> $crate::Value {
                let mut i = 0u32;
                $(
                    if let $name::$case = self {
                        return $crate::Value::Case(i, None);
                    }
                    i += 1;
                )*
                unreachable!("every case is one of the above")
            }
        }
    };
}

/// Declares a set for a WIT `flags` type (flags in the WIT's order): a
/// struct with a constant per flag, combined with `|`. It derives `Debug`,
/// `Clone`, `Copy`, `PartialEq`, `Eq`, `Hash` and `Default` (the empty set).
///
/// ```
/// vm_plugin::wit_flags! { pub struct Style { FILLED, DASHED, BOLD } }
/// use vm_plugin::WitValue;
/// assert_eq!(Style::wit_type().wit(), "flags { filled, dashed, bold }");
/// assert!((Style::FILLED | Style::BOLD).contains(Style::BOLD));
/// ```
#[macro_export]
macro_rules! wit_flags {
    ($(#[$meta:meta])* $vis:vis struct $name:ident { $($flag:ident),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
        $vis struct $name {
            bits: u32,
        }

        #[allow(dead_code)]
        impl $name {
            const NAMES_: &'static [&'static str] = &[$(stringify!($flag)),*];
            $(
                #[doc = concat!("The flag `", stringify!($flag), "`.")]
                pub const $flag: $name = $name {
                    bits: 1 << $crate::__position($name::NAMES_, stringify!($flag)),
                };
            )*

            /// The flags as bits, the first in bit 0.
            pub const fn bits(self) -> u32 {
                self.bits
            }

            /// Whether every flag of `other` is set here.
            pub const fn contains(self, other: $name) -> bool {
                self.bits & other.bits == other.bits
            }
        }

        impl ::std::ops::BitOr for $name {
            type Output = $name;
            fn bitor(self, other: $name) -> $name {
                $name { bits: self.bits | other.bits }
            }
        }

        impl $crate::WitValue for $name {
            fn wit_type() -> $crate::Type {
                $crate::Type::Flags($name::NAMES_.iter().map(|n| $crate::kebab(n)).collect())
            }

            fn from_value(v: $crate::Value) -> Option<Self> {
                match v {
                    $crate::Value::Flags(bits) if $name::NAMES_.len() >= 32 || bits >> $name::NAMES_.len() == 0 => {
                        Some($name { bits })
                    }
                    _ => None,
                }
            }

            fn into_value(self) -> $crate::Value {
                $crate::Value::Flags(self.bits)
            }
        }
    };
}

/// Where `name` is in `names` (for [`wit_flags!`]).
#[doc(hidden)]
pub const fn position(names: &[&str], name: &str) -> u32 {
    let mut i = 0;
    while i < names.len() {
        let (a, b) = (names[i].as_bytes(), name.as_bytes());
        if a.len() == b.len() {
            let mut j = 0;
            while j < a.len() && a[j] == b[j] {
                j += 1;
            }
            if j == a.len() {
                return i as u32;
            }
        }
        i += 1;
    }
    panic!("a flag of the set")
}

#[doc(hidden)]
#[macro_export]
macro_rules! __payload_type {
    () => {
        None
    };
    ($payload:ty) => {
        Some(<$payload as $crate::WitValue>::wit_type())
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __case_from {
    ($path:path, $value:ident) => {
        $value.is_none().then_some($path)
    };
    ($path:path, $value:ident, $payload:ty) => {
        Some($path(<$payload as $crate::WitValue>::from_value($value?)?))
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __case_into {
    ($value:ident, $i:ident, $path:path) => {
        if let $path = $value {
            return $crate::Value::Case($i, None);
        }
    };
    ($value:ident, $i:ident, $path:path, $payload:ty) => {
        if let $path(p) = $value {
            return $crate::Value::Case($i, Some(Box::new($crate::WitValue::into_value(p))));
        }
    };
}
