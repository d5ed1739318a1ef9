//! The canonical ABI over the whole of WIT's value types, for a plugin call
//! that crosses two memories: lifting a value out of one (from its flat core
//! values or from bytes in memory, checked as the ABI says: bounds,
//! alignment, UTF-8, discriminants, `char`s) and lowering it into the other.
//!
//! Lowering needs the receiver's `cabi_realloc` for each string and list, a
//! call into wasm; so it is done in two passes over the value: the first
//! lists the allocations it needs ([`allocations`]), the caller makes them,
//! and the second writes the value using them, in the same order
//! ([`Lowering`]).

mod lift;
mod lower;

pub(crate) use lift::Lift;
pub(crate) use lower::{allocations, Lowering};

use vm_abi::plugin::Ty;
use vm_abi::CoreType;
use wasmtime::Val as Core;

/// A WIT value, as the VM holds it between the two memories.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Val {
    Bool(bool),
    U8(u8),
    U16(u16),
    U32(u32),
    U64(u64),
    S8(i8),
    S16(i16),
    S32(i32),
    S64(i64),
    F32(f32),
    F64(f64),
    Char(char),
    String(String),
    /// A `list<u8>`, as bytes (not a value per byte).
    Bytes(Vec<u8>),
    List(Vec<Val>),
    /// A record's fields or a tuple's members, in order.
    Record(Vec<Val>),
    /// A variant's, enum's, option's (0 none, 1 some) or result's (0 ok,
    /// 1 err) case, and its payload.
    Case(u32, Option<Box<Val>>),
    /// A `flags` value: bit `i` for flag `i`.
    Flags(u32),
}

/// The most values one call may lift (each costs the VM some 40 bytes):
/// a bound on what a hostile list of small records can make the VM hold.
pub(crate) const MAX_VALUES: usize = 1 << 20;

pub(super) fn core_type(v: &Core) -> CoreType {
    match v {
        Core::I64(_) => CoreType::I64,
        Core::F32(_) => CoreType::F32,
        Core::F64(_) => CoreType::F64,
        _ => CoreType::I32,
    }
}

/// The zero of a flat type (a variant's unused slots).
pub(super) fn zero(t: CoreType) -> Core {
    match t {
        CoreType::I32 => Core::I32(0),
        CoreType::I64 => Core::I64(0),
        CoreType::F32 => Core::F32(0),
        CoreType::F64 => Core::F64(0),
    }
}

pub(super) fn char_of(c: u32) -> Result<char, String> {
    char::from_u32(c).ok_or_else(|| format!("{c:#x} is not a Unicode scalar value, so not a char"))
}

/// A record's or tuple's member types.
pub(super) fn members(ty: &Ty) -> Vec<&Ty> {
    match ty {
        Ty::Tuple(ts) => ts.iter().collect(),
        Ty::Record(r) => r.fields.iter().map(|(_, t)| t).collect(),
        _ => Vec::new(),
    }
}

/// Whether `v` is a value of `ty` (what a native plugin returns is checked
/// before it is lowered).
pub(crate) fn is_of(v: &Val, ty: &Ty) -> bool {
    match (v, ty) {
        (Val::Bool(_), Ty::Bool)
        | (Val::U8(_), Ty::U8)
        | (Val::U16(_), Ty::U16)
        | (Val::U32(_), Ty::U32)
        | (Val::U64(_), Ty::U64)
        | (Val::S8(_), Ty::S8)
        | (Val::S16(_), Ty::S16)
        | (Val::S32(_), Ty::S32)
        | (Val::S64(_), Ty::S64)
        | (Val::F32(_), Ty::F32)
        | (Val::F64(_), Ty::F64)
        | (Val::Char(_), Ty::Char)
        | (Val::String(_), Ty::String) => true,
        (Val::Bytes(_), Ty::List(t)) => **t == Ty::U8,
        (Val::List(items), Ty::List(t)) => items.iter().all(|i| is_of(i, t)),
        (Val::Record(vs), Ty::Tuple(_) | Ty::Record(_)) => {
            let ts = members(ty);
            vs.len() == ts.len() && vs.iter().zip(ts).all(|(v, t)| is_of(v, t))
        }
        (Val::Flags(bits), Ty::Flags(f)) => f.flags.len() >= 32 || bits >> f.flags.len() == 0,
        (Val::Case(case, payload), _) => match ty.cases() {
            Some(cases) => match (cases.get(*case as usize), payload) {
                (Some(None), None) => true,
                (Some(Some(t)), Some(p)) => is_of(p, t),
                _ => false,
            },
            None => false,
        },
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use vm_abi::plugin::{Record, Variant};

    fn shape() -> Ty {
        Ty::Variant(Arc::new(Variant {
            name: "shape".into(),
            cases: vec![
                ("circle".into(), Some(Ty::F32)),
                ("label".into(), Some(Ty::String)),
                ("big".into(), Some(Ty::U64)),
                ("none".into(), None),
            ],
        }))
    }

    fn point() -> Ty {
        Ty::Record(Arc::new(Record {
            name: "point".into(),
            fields: vec![
                ("x".into(), Ty::S16),
                ("tag".into(), Ty::Char),
                ("shapes".into(), Ty::List(Box::new(shape()))),
            ],
        }))
    }

    /// Lowers `v` into a fresh memory (allocating from 1024 up), then lifts
    /// it back, in memory and flat.
    fn round_trip(v: &Val, ty: &Ty) -> (Val, Val) {
        let mut allocs = Vec::new();
        allocations(v, ty, &mut allocs);
        let mut next = 1024;
        let ptrs: Vec<u32> = allocs
            .iter()
            .map(|(align, len)| {
                next = vm_abi::plugin::align_to(next, *align);
                let p = next;
                next += len.max(&1);
                p
            })
            .collect();
        let mut mem = vec![0u8; 65536];
        let mut low = Lowering {
            mem: &mut mem,
            ptrs: ptrs.clone().into_iter(),
        };
        low.store(v, ty, 16).unwrap();
        let mut flat = Vec::new();
        let mut low = Lowering {
            mem: &mut mem,
            ptrs: ptrs.into_iter(),
        };
        low.lower_flat(v, ty, &mut flat).unwrap();
        assert_eq!(
            flat.iter().map(core_type).collect::<Vec<_>>(),
            ty.flat(),
            "flattened to its flat types"
        );
        let loaded = Lift::new(mem.len()).load(&mem, ty, 16).unwrap();
        let lifted = Lift::new(mem.len())
            .lift_flat(&mem, ty, &mut flat.into_iter())
            .unwrap();
        (loaded, lifted)
    }

    #[test]
    fn values_of_every_kind_lower_and_lift_back_unchanged() {
        let v = Val::Record(vec![
            Val::S16(-7),
            Val::Char('é'),
            Val::List(vec![
                Val::Case(0, Some(Box::new(Val::F32(1.5)))),
                Val::Case(1, Some(Box::new(Val::String("hi".into())))),
                Val::Case(2, Some(Box::new(Val::U64(u64::MAX)))),
                Val::Case(3, None),
            ]),
        ]);
        let ty = point();
        assert!(is_of(&v, &ty));
        let (loaded, lifted) = round_trip(&v, &ty);
        assert_eq!(loaded, v);
        assert_eq!(lifted, v);
        // Options, results, tuples, bytes.
        let ty = Ty::Tuple(vec![
            Ty::Option(Box::new(Ty::List(Box::new(Ty::U8)))),
            Ty::Result(Some(Box::new(Ty::F64)), Some(Box::new(Ty::String))),
            Ty::Result(None, None),
        ]);
        let v = Val::Record(vec![
            Val::Case(1, Some(Box::new(Val::Bytes(vec![1, 2, 3])))),
            Val::Case(1, Some(Box::new(Val::String("no".into())))),
            Val::Case(0, None),
        ]);
        let (loaded, lifted) = round_trip(&v, &ty);
        assert_eq!((loaded, lifted), (v.clone(), v));
    }

    #[test]
    fn variant_payloads_travel_in_joined_slots_as_the_abi_says() {
        // f32 | s32 join to i32; s32 | u64 to i64.
        let narrow = Ty::Variant(Arc::new(Variant {
            name: "n".into(),
            cases: vec![("f".into(), Some(Ty::F32)), ("i".into(), Some(Ty::S32))],
        }));
        let wide = Ty::Variant(Arc::new(Variant {
            name: "w".into(),
            cases: vec![("i".into(), Some(Ty::S32)), ("u".into(), Some(Ty::U64))],
        }));
        assert_eq!(narrow.flat(), [CoreType::I32, CoreType::I32]);
        assert_eq!(wide.flat(), [CoreType::I32, CoreType::I64]);
        let mut mem = [0u8; 16];
        let flat = |v: &Val, t: &Ty, mem: &mut [u8]| {
            let mut out = Vec::new();
            Lowering {
                mem,
                ptrs: Vec::new().into_iter(),
            }
            .lower_flat(v, t, &mut out)
            .unwrap();
            out
        };
        // An f32's bits in the i32 slot.
        let v = Val::Case(0, Some(Box::new(Val::F32(1.5))));
        let out = flat(&v, &narrow, &mut mem);
        assert_eq!(out[1].i32(), Some(1.5f32.to_bits() as i32));
        let back = Lift::new(16)
            .lift_flat(&mem, &narrow, &mut out.into_iter())
            .unwrap();
        assert_eq!(back, v);
        // A negative s32 zero-extended into the i64 slot, wrapped back.
        let v = Val::Case(0, Some(Box::new(Val::S32(-2))));
        let out = flat(&v, &wide, &mut mem);
        assert_eq!(out[1].i64(), Some(0xffff_fffe));
        let back = Lift::new(16)
            .lift_flat(&mem, &wide, &mut out.into_iter())
            .unwrap();
        assert_eq!(back, v);
        // A char that is no scalar value, and flags past their count.
        let err = Lift::new(16)
            .lift_flat(&mem, &Ty::Char, &mut [Core::I32(0x11_0000)].into_iter())
            .unwrap_err();
        assert!(err.contains("not a Unicode scalar value"), "{err}");
        let flags = Ty::Flags(Arc::new(vm_abi::plugin::Flags {
            name: "f".into(),
            flags: vec!["a".into(), "b".into()],
        }));
        let v = Lift::new(16)
            .lift_flat(&mem, &flags, &mut [Core::I32(-1)].into_iter())
            .unwrap();
        assert_eq!(v, Val::Flags(0b11));
    }

    #[test]
    fn hostile_bytes_are_refused_not_trusted() {
        let mem = vec![0xffu8; 64];
        // A discriminant past the cases.
        let err = Lift::new(mem.len()).load(&mem, &shape(), 0).unwrap_err();
        assert!(
            err.contains("which its WIT does not have (its 4 cases)"),
            "{err}"
        );
        // A char that is a surrogate.
        let mut m = vec![0u8; 64];
        m[..4].copy_from_slice(&0xd800u32.to_le_bytes());
        let err = Lift::new(m.len()).load(&m, &Ty::Char, 0).unwrap_err();
        assert!(err.contains("not a Unicode scalar value"), "{err}");
        // A list whose length runs past memory.
        let mut m = vec![0u8; 64];
        m[4..8].copy_from_slice(&1000u32.to_le_bytes());
        let err = Lift::new(m.len())
            .load(&m, &Ty::List(Box::new(Ty::U32)), 0)
            .unwrap_err();
        assert!(err.contains("lies outside memory"), "{err}");
        // Too many values for one call.
        let big = vec![0u8; 8 + MAX_VALUES + 1];
        let mut m = big;
        m[0..4].copy_from_slice(&8u32.to_le_bytes());
        m[4..8].copy_from_slice(&((MAX_VALUES + 1) as u32).to_le_bytes());
        let err = Lift::new(m.len())
            .load(&m, &Ty::List(Box::new(Ty::Bool)), 0)
            .unwrap_err();
        assert!(err.contains("more than one call may pass"), "{err}");
        // Strings that all point at the same bytes: copied once per
        // string, so refused once they would hold more than the memory.
        let mut m = vec![b'a'; 16384];
        let n = 1000u32;
        m[0..4].copy_from_slice(&16u32.to_le_bytes());
        m[4..8].copy_from_slice(&n.to_le_bytes());
        for i in 0..n as usize {
            let at = 16 + i * 8;
            if at + 8 > m.len() {
                break;
            }
            m[at..at + 4].copy_from_slice(&8192u32.to_le_bytes());
            m[at + 4..at + 8].copy_from_slice(&2048u32.to_le_bytes());
        }
        let err = Lift::new(m.len())
            .load(&m, &Ty::List(Box::new(Ty::String)), 0)
            .unwrap_err();
        assert!(err.contains("(they overlap)"), "{err}");
    }
}
