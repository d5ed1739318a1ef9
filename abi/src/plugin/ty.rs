//! The whole of WIT's value types as plugins use them, and the canonical
//! ABI's facts about each: its size and alignment in memory, the core values
//! it flattens to, and its WIT spelling (by structure, so two types agree
//! when their shapes do, whatever they are named).

use crate::CoreType;
use anyhow::{bail, Result};
use std::sync::Arc;
use wit_parser::{Resolve, Type, TypeDefKind};

/// A WIT value type.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Ty {
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
    /// `char` (a Unicode scalar value)
    Char,
    /// `string` (UTF-8)
    String,
    /// `list<T>`
    List(Box<Ty>),
    /// `tuple<…>`
    Tuple(Vec<Ty>),
    /// A `record`.
    Record(Arc<Record>),
    /// A `variant`.
    Variant(Arc<Variant>),
    /// An `enum`.
    Enum(Arc<Enum>),
    /// A `flags` type (at most 32 flags).
    Flags(Arc<Flags>),
    /// `option<T>`
    Option(Box<Ty>),
    /// `result<T, E>`; `None` for a missing side.
    Result(Option<Box<Ty>>, Option<Box<Ty>>),
}

/// A `record`: named fields, in order.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Record {
    /// Its WIT name.
    pub name: String,
    /// Field names and types.
    pub fields: Vec<(String, Ty)>,
}

/// A `variant`: named cases, each with a payload or none.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Variant {
    /// Its WIT name.
    pub name: String,
    /// Case names and payloads.
    pub cases: Vec<(String, Option<Ty>)>,
}

/// An `enum`: named cases without payloads.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Enum {
    /// Its WIT name.
    pub name: String,
    /// Case names.
    pub cases: Vec<String>,
}

/// A `flags` type: named bits.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Flags {
    /// Its WIT name.
    pub name: String,
    /// Flag names, bit 0 first.
    pub flags: Vec<String>,
}

/// The most flags a `flags` type may have (the component model's bound).
pub const MAX_FLAGS: usize = 32;

/// The most parts one parameter's or result's type may have, named types
/// spelt out (a bound on what a plugin's WIT can make the VM build).
pub const MAX_NODES: usize = 10_000;

/// The most core values a function's parameters may flatten to before
/// they travel in memory instead (the canonical ABI's `MAX_FLAT_PARAMS`).
pub const MAX_FLAT_PARAMS: usize = 16;

/// The most core values a result may flatten to before it travels in
/// memory instead (the canonical ABI's `MAX_FLAT_RESULTS`).
pub const MAX_FLAT_RESULTS: usize = 1;

/// How a variant-like type's cases look to the layout rules: each case's
/// payload, if it has one.
fn cases(t: &Ty) -> Option<Vec<Option<&Ty>>> {
    Some(match t {
        Ty::Variant(v) => v.cases.iter().map(|(_, p)| p.as_ref()).collect(),
        Ty::Enum(e) => vec![None; e.cases.len()],
        Ty::Option(t) => vec![None, Some(&**t)],
        Ty::Result(ok, err) => vec![ok.as_deref(), err.as_deref()],
        _ => return None,
    })
}

/// The bytes a discriminant takes for `n` cases.
pub fn discriminant_size(n: usize) -> u32 {
    match n {
        0..=0x100 => 1,
        0x101..=0x1_0000 => 2,
        _ => 4,
    }
}

/// `x` rounded up to a multiple of `align`.
pub fn align_to(x: u32, align: u32) -> u32 {
    x.div_ceil(align) * align
}

impl Ty {
    /// Its alignment in memory.
    pub fn align(&self) -> u32 {
        match self {
            Ty::Bool | Ty::U8 | Ty::S8 => 1,
            Ty::U16 | Ty::S16 => 2,
            Ty::U32 | Ty::S32 | Ty::F32 | Ty::Char | Ty::String | Ty::List(_) => 4,
            Ty::U64 | Ty::S64 | Ty::F64 => 8,
            Ty::Tuple(ts) => ts.iter().map(Ty::align).max().unwrap_or(1),
            Ty::Record(r) => r.fields.iter().map(|(_, t)| t.align()).max().unwrap_or(1),
            Ty::Flags(f) => flags_size(f.flags.len()).max(1),
            _ => {
                let cases = cases(self).expect("variant-like");
                let payload = cases.iter().flatten().map(|t| t.align()).max().unwrap_or(1);
                discriminant_size(cases.len()).max(payload)
            }
        }
    }

    /// Its size in memory.
    pub fn size(&self) -> u32 {
        match self {
            Ty::Bool | Ty::U8 | Ty::S8 => 1,
            Ty::U16 | Ty::S16 => 2,
            Ty::U32 | Ty::S32 | Ty::F32 | Ty::Char => 4,
            Ty::U64 | Ty::S64 | Ty::F64 | Ty::String | Ty::List(_) => 8,
            Ty::Tuple(ts) => record_size(ts.iter()),
            Ty::Record(r) => record_size(r.fields.iter().map(|(_, t)| t)),
            Ty::Flags(f) => flags_size(f.flags.len()),
            _ => {
                let cases = cases(self).expect("variant-like");
                let at = self.payload_offset();
                let payload = cases.iter().flatten().map(|t| t.size()).max().unwrap_or(0);
                align_to(at + payload, self.align())
            }
        }
    }

    /// Where a variant-like type's payload starts: after its discriminant,
    /// aligned for its largest case (0 for other types).
    pub fn payload_offset(&self) -> u32 {
        let Some(cases) = cases(self) else { return 0 };
        let payload = cases.iter().flatten().map(|t| t.align()).max().unwrap_or(1);
        align_to(discriminant_size(cases.len()), payload)
    }

    /// Each field's offset in a record or tuple.
    pub fn field_offsets(&self) -> Vec<u32> {
        let types: Vec<&Ty> = match self {
            Ty::Tuple(ts) => ts.iter().collect(),
            Ty::Record(r) => r.fields.iter().map(|(_, t)| t).collect(),
            _ => return Vec::new(),
        };
        let mut at = 0;
        types
            .iter()
            .map(|t| {
                at = align_to(at, t.align());
                let here = at;
                at += t.size();
                here
            })
            .collect()
    }

    /// Whether a value of it may hold a string or list.
    pub fn holds_list(&self) -> bool {
        match self {
            Ty::String | Ty::List(_) => true,
            Ty::Tuple(ts) => ts.iter().any(Ty::holds_list),
            Ty::Record(r) => r.fields.iter().any(|(_, t)| t.holds_list()),
            _ => cases(self)
                .into_iter()
                .flatten()
                .flatten()
                .any(Ty::holds_list),
        }
    }

    /// Its cases, for a variant, enum, option or result.
    pub fn cases(&self) -> Option<Vec<Option<&Ty>>> {
        cases(self)
    }

    /// The core values it flattens to.
    pub fn flat(&self) -> Vec<CoreType> {
        let mut out = Vec::new();
        self.push_flat(&mut out);
        out
    }

    fn push_flat(&self, out: &mut Vec<CoreType>) {
        match self {
            Ty::Bool
            | Ty::U8
            | Ty::U16
            | Ty::U32
            | Ty::S8
            | Ty::S16
            | Ty::S32
            | Ty::Char
            | Ty::Enum(_) => out.push(CoreType::I32),
            Ty::U64 | Ty::S64 => out.push(CoreType::I64),
            Ty::F32 => out.push(CoreType::F32),
            Ty::F64 => out.push(CoreType::F64),
            Ty::String | Ty::List(_) => out.extend([CoreType::I32, CoreType::I32]),
            Ty::Tuple(ts) => ts.iter().for_each(|t| t.push_flat(out)),
            Ty::Record(r) => r.fields.iter().for_each(|(_, t)| t.push_flat(out)),
            Ty::Flags(f) => out.extend(std::iter::repeat_n(
                CoreType::I32,
                f.flags.len().div_ceil(32).max(1),
            )),
            _ => {
                out.push(CoreType::I32);
                let joined = self.joined_payload();
                out.extend(joined);
            }
        }
    }

    /// A variant-like type's payload slots: each case's flat values joined
    /// position by position (equal types stay, `i32` with `f32` is `i32`,
    /// anything else `i64`).
    pub fn joined_payload(&self) -> Vec<CoreType> {
        let mut joined: Vec<CoreType> = Vec::new();
        for case in cases(self).into_iter().flatten().flatten() {
            for (i, t) in case.flat().into_iter().enumerate() {
                match joined.get(i) {
                    None => joined.push(t),
                    Some(&j) => joined[i] = join(j, t),
                }
            }
        }
        joined
    }

    /// Whether it is a scalar: `bool`, an integer, a float or a `char`. A
    /// list of one has the same layout in C, Rust and AssemblyScript as in
    /// the canonical ABI, so bindings pass it as it is.
    pub fn is_scalar(&self) -> bool {
        matches!(
            self,
            Ty::Bool
                | Ty::U8
                | Ty::U16
                | Ty::U32
                | Ty::U64
                | Ty::S8
                | Ty::S16
                | Ty::S32
                | Ty::S64
                | Ty::F32
                | Ty::F64
                | Ty::Char
        )
    }

    /// A name made of its parts, for generated code: `bytes` for
    /// `list<u8>`, `list_point`, `tuple2_point_f64`, `option_string`,
    /// `result_f32_void`; a named type's own name in snake case; a
    /// scalar's WIT name.
    pub fn mangled(&self) -> String {
        match self {
            Ty::String => "string".into(),
            Ty::List(t) if **t == Ty::U8 => "bytes".into(),
            Ty::List(t) => format!("list_{}", t.mangled()),
            Ty::Tuple(ts) => format!(
                "tuple{}_{}",
                ts.len(),
                ts.iter().map(Ty::mangled).collect::<Vec<_>>().join("_")
            ),
            Ty::Option(t) => format!("option_{}", t.mangled()),
            Ty::Result(ok, err) => format!(
                "result_{}_{}",
                ok.as_deref().map_or("void".into(), Ty::mangled),
                err.as_deref().map_or("void".into(), Ty::mangled)
            ),
            Ty::Record(_) | Ty::Variant(_) | Ty::Enum(_) | Ty::Flags(_) => {
                crate::model::snake(self.name().expect("named"))
            }
            scalar => scalar.wit(),
        }
    }

    /// The WIT name of a record, variant, enum or flags type.
    pub fn name(&self) -> Option<&str> {
        match self {
            Ty::Record(r) => Some(&r.name),
            Ty::Variant(v) => Some(&v.name),
            Ty::Enum(e) => Some(&e.name),
            Ty::Flags(f) => Some(&f.name),
            _ => None,
        }
    }

    /// Its WIT spelling by structure: named types are spelt out
    /// (`record { x: s32, y: s32 }`), so two types are equal when their
    /// shapes are.
    pub fn wit(&self) -> String {
        let list = |ts: &mut dyn Iterator<Item = String>| ts.collect::<Vec<_>>().join(", ");
        match self {
            Ty::Bool => "bool".into(),
            Ty::U8 => "u8".into(),
            Ty::U16 => "u16".into(),
            Ty::U32 => "u32".into(),
            Ty::U64 => "u64".into(),
            Ty::S8 => "s8".into(),
            Ty::S16 => "s16".into(),
            Ty::S32 => "s32".into(),
            Ty::S64 => "s64".into(),
            Ty::F32 => "f32".into(),
            Ty::F64 => "f64".into(),
            Ty::Char => "char".into(),
            Ty::String => "string".into(),
            Ty::List(t) => format!("list<{}>", t.wit()),
            Ty::Tuple(ts) => format!("tuple<{}>", list(&mut ts.iter().map(Ty::wit))),
            Ty::Record(r) => format!(
                "record {{ {} }}",
                list(&mut r.fields.iter().map(|(n, t)| format!("{n}: {}", t.wit())))
            ),
            Ty::Variant(v) => format!(
                "variant {{ {} }}",
                list(&mut v.cases.iter().map(|(n, t)| match t {
                    Some(t) => format!("{n}({})", t.wit()),
                    None => n.clone(),
                }))
            ),
            Ty::Enum(e) => format!("enum {{ {} }}", e.cases.join(", ")),
            Ty::Flags(f) => format!("flags {{ {} }}", f.flags.join(", ")),
            Ty::Option(t) => format!("option<{}>", t.wit()),
            Ty::Result(None, None) => "result".into(),
            Ty::Result(Some(ok), None) => format!("result<{}>", ok.wit()),
            Ty::Result(ok, Some(err)) => format!(
                "result<{}, {}>",
                ok.as_ref().map_or("_".into(), |t| t.wit()),
                err.wit()
            ),
        }
    }

    /// Reads a WIT type; fails, saying what to use instead, on what a
    /// plugin cannot take (resources, futures, streams, more than
    /// [`MAX_FLAGS`] flags).
    pub fn from_wit(resolve: &Resolve, ty: &Type) -> Result<Ty> {
        let mut nodes = 0;
        Ty::read(resolve, ty, &mut nodes)
    }

    /// [`Ty::from_wit`], counting the type's nodes against [`MAX_NODES`]
    /// (a WIT can name one type many times over, so a small text can spell
    /// a huge type).
    fn read(resolve: &Resolve, ty: &Type, nodes: &mut usize) -> Result<Ty> {
        *nodes += 1;
        if *nodes > MAX_NODES {
            bail!("the type is too large: more than {MAX_NODES} parts once its named types are spelt out");
        }
        Ok(match ty {
            Type::Bool => Ty::Bool,
            Type::U8 => Ty::U8,
            Type::U16 => Ty::U16,
            Type::U32 => Ty::U32,
            Type::U64 => Ty::U64,
            Type::S8 => Ty::S8,
            Type::S16 => Ty::S16,
            Type::S32 => Ty::S32,
            Type::S64 => Ty::S64,
            Type::F32 => Ty::F32,
            Type::F64 => Ty::F64,
            Type::Char => Ty::Char,
            Type::String => Ty::String,
            Type::ErrorContext => {
                bail!("error-context is not a plugin type: return a result<T, string>")
            }
            Type::Id(id) => {
                let def = &resolve.types[*id];
                let name = def.name.clone().unwrap_or_default();
                let mut of = |t: &Type| Ty::read(resolve, t, nodes);
                match &def.kind {
                    TypeDefKind::Type(t) => of(t)?,
                    TypeDefKind::List(t) => Ty::List(Box::new(of(t)?)),
                    TypeDefKind::Tuple(t) => {
                        Ty::Tuple(t.types.iter().map(&mut of).collect::<Result<_>>()?)
                    }
                    TypeDefKind::Option(t) => Ty::Option(Box::new(of(t)?)),
                    TypeDefKind::Result(r) => Ty::Result(
                        r.ok.as_ref().map(&mut of).transpose()?.map(Box::new),
                        r.err.as_ref().map(&mut of).transpose()?.map(Box::new),
                    ),
                    TypeDefKind::Record(r) => Ty::Record(Arc::new(Record {
                        name,
                        fields: r
                            .fields
                            .iter()
                            .map(|f| Ok((f.name.clone(), of(&f.ty)?)))
                            .collect::<Result<_>>()?,
                    })),
                    TypeDefKind::Variant(v) => Ty::Variant(Arc::new(Variant {
                        name,
                        cases: v
                            .cases
                            .iter()
                            .map(|c| Ok((c.name.clone(), c.ty.as_ref().map(&mut of).transpose()?)))
                            .collect::<Result<_>>()?,
                    })),
                    TypeDefKind::Enum(e) => Ty::Enum(Arc::new(Enum {
                        name,
                        cases: e.cases.iter().map(|c| c.name.clone()).collect(),
                    })),
                    TypeDefKind::Flags(f) => {
                        if f.flags.is_empty() {
                            bail!("flags `{name}` has no flags; give it one at least, or leave it out");
                        }
                        if f.flags.len() > MAX_FLAGS {
                            bail!("flags `{name}` has {} flags; a plugin's flags have at most {MAX_FLAGS} (split it in two)", f.flags.len());
                        }
                        Ty::Flags(Arc::new(Flags {
                            name,
                            flags: f.flags.iter().map(|f| f.name.clone()).collect(),
                        }))
                    }
                    TypeDefKind::Resource | TypeDefKind::Handle(_) => bail!(
                        "`{name}` is a resource, which plugins do not take: pass an id (a u32 or u64) and keep the state in the plugin"
                    ),
                    TypeDefKind::Future(_) | TypeDefKind::Stream(_) => bail!(
                        "futures and streams are not plugin types: a native plugin's async function returns its value when it is ready"
                    ),
                    other => bail!("{other:?} is not a plugin type"),
                }
            }
        })
    }
}

fn record_size<'a>(types: impl Iterator<Item = &'a Ty> + Clone) -> u32 {
    let align = types.clone().map(Ty::align).max().unwrap_or(1);
    let mut at = 0;
    for t in types {
        at = align_to(at, t.align()) + t.size();
    }
    align_to(at, align)
}

fn flags_size(n: usize) -> u32 {
    match n {
        0 => 0,
        1..=8 => 1,
        9..=16 => 2,
        _ => 4 * n.div_ceil(32) as u32,
    }
}

/// Two flat types in one slot of a variant's payload.
pub fn join(a: CoreType, b: CoreType) -> CoreType {
    match (a, b) {
        _ if a == b => a,
        (CoreType::I32, CoreType::F32) | (CoreType::F32, CoreType::I32) => CoreType::I32,
        _ => CoreType::I64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(body: &str) -> Vec<(String, Ty)> {
        let text = format!("package plugin:t@1.0.0;\ninterface i {{\n{body}\n}}\n");
        let mut resolve = Resolve::new();
        let pkg = resolve.push_str("t.wit", &text).unwrap();
        let iface = resolve.packages[pkg].interfaces["i"];
        let f = resolve.interfaces[iface]
            .functions
            .values()
            .next()
            .unwrap()
            .clone();
        f.params
            .iter()
            .map(|p| (p.name.clone(), Ty::from_wit(&resolve, &p.ty).unwrap()))
            .collect()
    }

    #[test]
    fn sizes_alignments_and_flat_types_follow_the_canonical_abi() {
        let params = read(
            "record point { x: s32, y: f64 }
             variant shape { circle(f32), square(u64), none }
             flags perms { read, write, exec }
             enum color { red, green }
             f: func(p: point, s: shape, f: perms, c: color, o: option<u8>, r: result<string, u16>, t: tuple<u8, u32>, l: list<point>);",
        );
        let ty = |n: &str| &params.iter().find(|(p, _)| p == n).unwrap().1;
        use CoreType::*;
        // record: s32 at 0, f64 at 8; 16 bytes, aligned 8.
        assert_eq!((ty("p").size(), ty("p").align()), (16, 8));
        assert_eq!(ty("p").field_offsets(), [0, 8]);
        assert_eq!(ty("p").flat(), [I32, F64]);
        // variant of f32 and u64: a u8 discriminant, the payload at 8.
        assert_eq!(
            (ty("s").size(), ty("s").align(), ty("s").payload_offset()),
            (16, 8, 8)
        );
        assert_eq!(ty("s").flat(), [I32, I64]);
        assert_eq!((ty("f").size(), ty("f").flat()), (1, vec![I32]));
        assert_eq!((ty("c").size(), ty("c").flat()), (1, vec![I32]));
        assert_eq!((ty("o").size(), ty("o").payload_offset()), (2, 1));
        assert_eq!(ty("o").flat(), [I32, I32]);
        assert_eq!(
            (ty("r").size(), ty("r").align(), ty("r").payload_offset()),
            (12, 4, 4)
        );
        assert_eq!(ty("r").flat(), [I32, I32, I32]);
        assert_eq!((ty("t").size(), ty("t").field_offsets()), (8, vec![0, 4]));
        assert_eq!(ty("l").flat(), [I32, I32]);
        assert_eq!(ty("s").wit(), "variant { circle(f32), square(u64), none }");
        assert_eq!(ty("p").wit(), "record { x: s32, y: f64 }");
    }

    #[test]
    fn what_a_plugin_cannot_take_is_named_with_what_to_use() {
        let text =
            "package plugin:t@1.0.0;\ninterface i { resource conn; f: func(c: borrow<conn>); }\n";
        let mut resolve = Resolve::new();
        let pkg = resolve.push_str("t.wit", text).unwrap();
        let iface = resolve.packages[pkg].interfaces["i"];
        let f = resolve.interfaces[iface].functions["f"].clone();
        let err = Ty::from_wit(&resolve, &f.params[0].ty)
            .unwrap_err()
            .to_string();
        assert!(err.contains("pass an id"), "{err}");
        // Empty flags (wit-parser takes them; the component model does not),
        // and a type that names one type so often it would be huge.
        let err = |body: &str| {
            let text = format!("package plugin:t@1.0.0;\ninterface i {{ {body} }}\n");
            let mut resolve = Resolve::new();
            let pkg = resolve.push_str("t.wit", &text).unwrap();
            let iface = resolve.packages[pkg].interfaces["i"];
            let f = resolve.interfaces[iface].functions["f"].clone();
            Ty::from_wit(&resolve, &f.params[0].ty)
                .unwrap_err()
                .to_string()
        };
        assert!(err("flags none {} f: func(x: none);").contains("has no flags"));
        let huge = err("type a = tuple<u8, u8, u8, u8, u8, u8, u8, u8>; \
             type b = tuple<a, a, a, a, a, a, a, a>; type c = tuple<b, b, b, b, b, b, b, b>; \
             type d = tuple<c, c, c, c, c, c, c, c>; type e = tuple<d, d, d, d, d, d, d, d>; \
             f: func(x: e);");
        assert!(huge.contains("the type is too large"), "{huge}");
    }
}
