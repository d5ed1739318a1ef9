//! Lifting: a value out of a memory, or out of its flat core values, checked
//! as the canonical ABI says.

use super::{char_of, core_type, members, Val, MAX_VALUES};
use vm_abi::plugin::{discriminant_size, Ty};
use vm_abi::CoreType;
use wasmtime::Val as Core;

/// Counts what a lift makes: values, against [`MAX_VALUES`], and bytes
/// of strings and lists, against the size of the memory they come from (a
/// value that does not overlap itself cannot hold more; one whose strings
/// all point at the same bytes could make the VM copy them without end).
pub(crate) struct Lift {
    made: usize,
    bytes: usize,
    max_bytes: usize,
}

type Lifted = Result<Val, String>;

impl Lift {
    /// A lift out of a memory of `memory_size` bytes.
    pub(crate) fn new(memory_size: usize) -> Lift {
        Lift {
            made: 0,
            bytes: 0,
            max_bytes: memory_size,
        }
    }

    /// Whether `n` more values would still be within [`MAX_VALUES`] (so a
    /// list's room may be reserved before its elements are counted).
    fn room_for(&self, n: usize) -> Result<(), String> {
        if self.made.saturating_add(n) > MAX_VALUES {
            return Err(format!(
                "it holds more than {MAX_VALUES} values, more than one call may pass"
            ));
        }
        Ok(())
    }

    /// Charges `n` bytes copied out of strings and lists.
    fn copy(&mut self, n: usize) -> Result<(), String> {
        self.bytes = self.bytes.saturating_add(n);
        if self.bytes > self.max_bytes {
            return Err(format!(
                "its strings and lists hold more bytes than the {} of the memory they come from (they overlap)",
                self.max_bytes
            ));
        }
        Ok(())
    }

    fn count(&mut self, n: usize) -> Result<(), String> {
        self.made = self.made.saturating_add(n);
        if self.made > MAX_VALUES {
            return Err(format!(
                "it holds more than {MAX_VALUES} values, more than one call may pass"
            ));
        }
        Ok(())
    }

    /// The value of type `ty` at `at` in `mem`.
    pub(crate) fn load(&mut self, mem: &[u8], ty: &Ty, at: u32) -> Lifted {
        let bytes = |n: u32| -> Result<&[u8], String> {
            crate::guest_memory::bytes(mem, at, n)
                .map_err(|_| format!("a value at {at} of {n} bytes lies outside memory"))
        };
        let word = |n: u32| -> Result<u64, String> {
            let b = bytes(n)?;
            let mut w = [0u8; 8];
            w[..n as usize].copy_from_slice(b);
            Ok(u64::from_le_bytes(w))
        };
        self.count(1)?;
        Ok(match ty {
            Ty::Bool => Val::Bool(word(1)? != 0),
            Ty::U8 => Val::U8(word(1)? as u8),
            Ty::S8 => Val::S8(word(1)? as i8),
            Ty::U16 => Val::U16(word(2)? as u16),
            Ty::S16 => Val::S16(word(2)? as i16),
            Ty::U32 => Val::U32(word(4)? as u32),
            Ty::S32 => Val::S32(word(4)? as i32),
            Ty::U64 => Val::U64(word(8)?),
            Ty::S64 => Val::S64(word(8)? as i64),
            Ty::F32 => Val::F32(f32::from_bits(word(4)? as u32)),
            Ty::F64 => Val::F64(f64::from_bits(word(8)?)),
            Ty::Char => Val::Char(char_of(word(4)? as u32)?),
            Ty::String | Ty::List(_) => {
                let ptr = word(4)? as u32;
                let len = u32::from_le_bytes(
                    crate::guest_memory::bytes(mem, at.wrapping_add(4), 4)
                        .map_err(|_| format!("a list at {at} lies outside memory"))?
                        .try_into()
                        .expect("4 bytes"),
                );
                self.list(mem, ty, ptr, len)?
            }
            Ty::Tuple(_) | Ty::Record(_) => {
                let types = members(ty);
                let mut out = Vec::with_capacity(types.len());
                for (t, o) in types.iter().zip(ty.field_offsets()) {
                    out.push(self.load(mem, t, at.wrapping_add(o))?);
                }
                Val::Record(out)
            }
            Ty::Flags(f) => {
                let n = ty.size().min(4);
                let bits = if n == 0 { 0 } else { word(n)? as u32 };
                let used = if f.flags.len() >= 32 {
                    u32::MAX
                } else {
                    (1u32 << f.flags.len()) - 1
                };
                Val::Flags(bits & used)
            }
            _ => {
                let cases = ty.cases().expect("variant-like");
                let case = word(discriminant_size(cases.len()))? as u32;
                let Some(payload) = cases.get(case as usize) else {
                    return Err(format!(
                        "the discriminant {case}, which its WIT does not have (its {} cases)",
                        cases.len()
                    ));
                };
                let payload = match payload {
                    Some(t) => Some(Box::new(self.load(
                        mem,
                        t,
                        at.wrapping_add(ty.payload_offset()),
                    )?)),
                    None => None,
                };
                Val::Case(case, payload)
            }
        })
    }

    /// A string or list of type `ty` at `ptr` with `len` elements.
    fn list(&mut self, mem: &[u8], ty: &Ty, ptr: u32, len: u32) -> Lifted {
        let (elem, utf8) = match ty {
            Ty::String => (&Ty::U8, true),
            Ty::List(t) => (&**t, false),
            _ => unreachable!("lists only"),
        };
        let size = elem.size();
        let span = u64::from(len) * u64::from(size);
        let outside = || {
            if utf8 {
                format!("a string at {ptr} with length {len} lies outside memory")
            } else {
                format!("a list at {ptr} with length {len} lies outside memory")
            }
        };
        let span = u32::try_from(span).map_err(|_| outside())?;
        let data = crate::guest_memory::bytes(mem, ptr, span).map_err(|_| outside())?;
        self.copy(span as usize)?;
        if !ptr.is_multiple_of(elem.align()) {
            return Err(format!(
                "a list at {ptr} is not {}-byte aligned",
                elem.align()
            ));
        }
        if utf8 {
            return match std::str::from_utf8(data) {
                Ok(s) => Ok(Val::String(s.to_string())),
                Err(e) => Err(format!("a string that is not UTF-8 ({e})")),
            };
        }
        if *elem == Ty::U8 {
            return Ok(Val::Bytes(data.to_vec()));
        }
        // Each element counts as it is lifted; the room is checked first.
        self.room_for(len as usize)?;
        let mut out = Vec::with_capacity(len as usize);
        for i in 0..len {
            out.push(self.load(mem, elem, ptr + i * size)?);
        }
        Ok(Val::List(out))
    }

    /// The value of type `ty` from its flat core values, read from `flat`
    /// (a string's or list's elements from `mem`).
    pub(crate) fn lift_flat(
        &mut self,
        mem: &[u8],
        ty: &Ty,
        flat: &mut dyn Iterator<Item = Core>,
    ) -> Lifted {
        let mut next = |want: CoreType| -> Result<Core, String> {
            flat.next()
                .filter(|v| core_type(v) == want)
                .ok_or_else(|| "fewer or other core values than its type flattens to".to_string())
        };
        let i32_ = |v: Core| v.i32().expect("checked") as u32;
        self.count(1)?;
        Ok(match ty {
            Ty::Bool => Val::Bool(i32_(next(CoreType::I32)?) != 0),
            Ty::U8 => Val::U8(i32_(next(CoreType::I32)?) as u8),
            Ty::S8 => Val::S8(i32_(next(CoreType::I32)?) as i8),
            Ty::U16 => Val::U16(i32_(next(CoreType::I32)?) as u16),
            Ty::S16 => Val::S16(i32_(next(CoreType::I32)?) as i16),
            Ty::U32 => Val::U32(i32_(next(CoreType::I32)?)),
            Ty::S32 => Val::S32(i32_(next(CoreType::I32)?) as i32),
            Ty::U64 => Val::U64(next(CoreType::I64)?.i64().expect("checked") as u64),
            Ty::S64 => Val::S64(next(CoreType::I64)?.i64().expect("checked")),
            Ty::F32 => Val::F32(next(CoreType::F32)?.f32().expect("checked")),
            Ty::F64 => Val::F64(next(CoreType::F64)?.f64().expect("checked")),
            Ty::Char => Val::Char(char_of(i32_(next(CoreType::I32)?))?),
            Ty::String | Ty::List(_) => {
                let ptr = i32_(next(CoreType::I32)?);
                let len = i32_(next(CoreType::I32)?);
                self.list(mem, ty, ptr, len)?
            }
            Ty::Tuple(_) | Ty::Record(_) => {
                let mut out = Vec::new();
                for t in members(ty) {
                    out.push(self.lift_flat(mem, t, flat)?);
                }
                Val::Record(out)
            }
            Ty::Flags(f) => {
                let bits = i32_(next(CoreType::I32)?);
                let used = if f.flags.len() >= 32 {
                    u32::MAX
                } else {
                    (1u32 << f.flags.len()) - 1
                };
                Val::Flags(bits & used)
            }
            _ => {
                let cases = ty.cases().expect("variant-like");
                let case = i32_(next(CoreType::I32)?);
                let joined = ty.joined_payload();
                let Some(payload) = cases.get(case as usize) else {
                    return Err(format!(
                        "the discriminant {case}, which its WIT does not have (its {} cases)",
                        cases.len()
                    ));
                };
                // The joined slots, each read as this case's type wants.
                let mut slots = Vec::with_capacity(joined.len());
                for t in &joined {
                    slots.push(next(*t)?);
                }
                let payload = match payload {
                    Some(t) => {
                        let mut coerced = t
                            .flat()
                            .into_iter()
                            .zip(slots)
                            .map(|(want, have)| coerce(have, want));
                        Some(Box::new(self.lift_flat(mem, t, &mut coerced)?))
                    }
                    None => None,
                };
                Val::Case(case, payload)
            }
        })
    }
}

/// A flat value in a variant's joined slot, as the case's own type.
fn coerce(have: Core, want: CoreType) -> Core {
    match (have, want) {
        (Core::I32(x), CoreType::F32) => Core::F32(x as u32),
        (Core::I64(x), CoreType::I32) => Core::I32(x as i32),
        (Core::I64(x), CoreType::F32) => Core::F32(x as u32),
        (Core::I64(x), CoreType::F64) => Core::F64(x as u64),
        (v, _) => v,
    }
}
