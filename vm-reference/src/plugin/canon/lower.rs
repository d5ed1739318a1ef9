//! Lowering: a value into a memory, or into flat core values, in the
//! allocations the receiver's `cabi_realloc` gave.

use super::{members, zero, Val};
use vm_abi::plugin::{discriminant_size, Ty};
use vm_abi::CoreType;
use wasmtime::Val as Core;

/// A flat value widened into a variant's joined slot.
fn widen(v: Core, slot: CoreType) -> Core {
    match (v, slot) {
        (Core::F32(b), CoreType::I32) => Core::I32(b as i32),
        (Core::I32(x), CoreType::I64) => Core::I64(i64::from(x as u32)),
        (Core::F32(b), CoreType::I64) => Core::I64(i64::from(b)),
        (Core::F64(b), CoreType::I64) => Core::I64(b as i64),
        (v, _) => v,
    }
}

/// Each allocation lowering `v` (of type `ty`) needs, in the order
/// [`Lowering`] uses them: (alignment, bytes) per string and list.
pub(crate) fn allocations(v: &Val, ty: &Ty, out: &mut Vec<(u32, u32)>) {
    match (v, ty) {
        (Val::String(s), _) => out.push((1, s.len() as u32)),
        (Val::Bytes(b), _) => out.push((1, b.len() as u32)),
        (Val::List(items), Ty::List(t)) => {
            out.push((t.align(), (items.len() as u32).saturating_mul(t.size())));
            for i in items {
                allocations(i, t, out);
            }
        }
        (Val::Record(vs), _) => {
            for (v, t) in vs.iter().zip(members(ty)) {
                allocations(v, t, out);
            }
        }
        (Val::Case(case, Some(p)), _) => {
            if let Some(Some(t)) = ty.cases().and_then(|c| c.get(*case as usize).copied()) {
                allocations(p, t, out);
            }
        }
        _ => {}
    }
}

/// The second pass of lowering: writes values into memory `mem`, taking
/// the allocations [`allocations`] listed, in order, from `ptrs`.
pub(crate) struct Lowering<'a> {
    pub mem: &'a mut [u8],
    pub ptrs: std::vec::IntoIter<u32>,
}

impl Lowering<'_> {
    fn take(&mut self) -> u32 {
        self.ptrs.next().expect("as many allocations as listed")
    }

    fn put(&mut self, at: u32, bytes: &[u8]) -> Result<(), String> {
        crate::guest_memory::bytes_mut(self.mem, at, bytes.len() as u32)
            .map(|d| d.copy_from_slice(bytes))
            .map_err(|_| format!("{} bytes at {at} lie outside memory", bytes.len()))
    }

    /// A string's or list's elements, written at its allocation; its
    /// pointer and length.
    fn list(&mut self, v: &Val, ty: &Ty) -> Result<(u32, u32), String> {
        let ptr = self.take();
        match (v, ty) {
            (Val::String(s), _) => self.put(ptr, s.as_bytes()).map(|()| (ptr, s.len() as u32)),
            (Val::Bytes(b), _) => self.put(ptr, b).map(|()| (ptr, b.len() as u32)),
            (Val::List(items), Ty::List(t)) => {
                for (i, item) in items.iter().enumerate() {
                    self.store(item, t, ptr.wrapping_add((i as u32).wrapping_mul(t.size())))?;
                }
                Ok((ptr, items.len() as u32))
            }
            _ => Err("a value of another type than its WIT's".into()),
        }
    }

    /// Writes `v` (of type `ty`) at `at`.
    pub(crate) fn store(&mut self, v: &Val, ty: &Ty, at: u32) -> Result<(), String> {
        match (v, ty) {
            (Val::Bool(x), _) => self.put(at, &[u8::from(*x)]),
            (Val::U8(x), _) => self.put(at, &[*x]),
            (Val::S8(x), _) => self.put(at, &x.to_le_bytes()),
            (Val::U16(x), _) => self.put(at, &x.to_le_bytes()),
            (Val::S16(x), _) => self.put(at, &x.to_le_bytes()),
            (Val::U32(x), _) => self.put(at, &x.to_le_bytes()),
            (Val::S32(x), _) => self.put(at, &x.to_le_bytes()),
            (Val::U64(x), _) => self.put(at, &x.to_le_bytes()),
            (Val::S64(x), _) => self.put(at, &x.to_le_bytes()),
            (Val::F32(x), _) => self.put(at, &x.to_le_bytes()),
            (Val::F64(x), _) => self.put(at, &x.to_le_bytes()),
            (Val::Char(c), _) => self.put(at, &u32::from(*c).to_le_bytes()),
            (Val::String(_) | Val::Bytes(_) | Val::List(_), _) => {
                let (ptr, len) = self.list(v, ty)?;
                self.put(at, &ptr.to_le_bytes())?;
                self.put(at.wrapping_add(4), &len.to_le_bytes())
            }
            (Val::Record(vs), _) => {
                for ((v, t), o) in vs.iter().zip(members(ty)).zip(ty.field_offsets()) {
                    self.store(v, t, at.wrapping_add(o))?;
                }
                Ok(())
            }
            (Val::Flags(bits), _) => {
                let n = ty.size().min(4) as usize;
                self.put(at, &bits.to_le_bytes()[..n])
            }
            (Val::Case(case, payload), _) => {
                let cases = ty.cases().ok_or("a case of a type without cases")?;
                let n = discriminant_size(cases.len()) as usize;
                self.put(at, &case.to_le_bytes()[..n])?;
                match (payload, cases.get(*case as usize)) {
                    (Some(p), Some(Some(t))) => {
                        self.store(p, t, at.wrapping_add(ty.payload_offset()))
                    }
                    _ => Ok(()),
                }
            }
        }
    }

    /// `v`'s flat core values, appended to `out`.
    pub(crate) fn lower_flat(
        &mut self,
        v: &Val,
        ty: &Ty,
        out: &mut Vec<Core>,
    ) -> Result<(), String> {
        let i = |x: u32| Core::I32(x as i32);
        match (v, ty) {
            (Val::Bool(x), _) => out.push(i(u32::from(*x))),
            (Val::U8(x), _) => out.push(i(u32::from(*x))),
            (Val::S8(x), _) => out.push(Core::I32(i32::from(*x))),
            (Val::U16(x), _) => out.push(i(u32::from(*x))),
            (Val::S16(x), _) => out.push(Core::I32(i32::from(*x))),
            (Val::U32(x), _) => out.push(i(*x)),
            (Val::S32(x), _) => out.push(Core::I32(*x)),
            (Val::U64(x), _) => out.push(Core::I64(*x as i64)),
            (Val::S64(x), _) => out.push(Core::I64(*x)),
            (Val::F32(x), _) => out.push(Core::F32(x.to_bits())),
            (Val::F64(x), _) => out.push(Core::F64(x.to_bits())),
            (Val::Char(c), _) => out.push(i(u32::from(*c))),
            (Val::String(_) | Val::Bytes(_) | Val::List(_), _) => {
                let (ptr, len) = self.list(v, ty)?;
                out.extend([i(ptr), i(len)]);
            }
            (Val::Record(vs), _) => {
                for (v, t) in vs.iter().zip(members(ty)) {
                    self.lower_flat(v, t, out)?;
                }
            }
            (Val::Flags(bits), _) => out.push(i(*bits)),
            (Val::Case(case, payload), _) => {
                let cases = ty.cases().ok_or("a case of a type without cases")?;
                out.push(i(*case));
                let joined = ty.joined_payload();
                let mut flat = Vec::new();
                if let (Some(p), Some(Some(t))) = (payload, cases.get(*case as usize)) {
                    self.lower_flat(p, t, &mut flat)?;
                }
                let mut flat = flat.into_iter();
                for slot in joined {
                    out.push(flat.next().map_or(zero(slot), |v| widen(v, slot)));
                }
            }
        }
        Ok(())
    }
}
