//! Values as they cross to and from a plugin served by another process:
//! the Component Model's value encoding, typed by the function's WIT, so
//! that a server in any language reads and writes it with a few lines.
//!
//! | type | bytes |
//! | --- | --- |
//! | `bool` | one byte, 0 or 1 |
//! | `u8`, `s8` | one byte (two's complement) |
//! | `u16`, `u32`, `u64` | unsigned LEB128, at most 3, 5, 10 bytes |
//! | `s16`, `s32`, `s64` | signed LEB128, at most 3, 5, 10 bytes |
//! | `f32`, `f64` | IEEE 754, little-endian, 4 and 8 bytes |
//! | `char` | its scalar value, unsigned LEB128 |
//! | `string` | its length in bytes (unsigned LEB128, below 2³²), then UTF-8 |
//! | `list<T>` | its length (unsigned LEB128, below 2³²), then each element |
//! | `tuple`, `record` | each member, in order |
//! | `variant`, `enum` | the case's index (unsigned LEB128), then its payload if it has one |
//! | `option<T>` | 0, or 1 and the value |
//! | `result<T, E>` | 0 and the ok payload, or 1 and the error payload (a missing side has none) |
//! | `flags` | ⌈n/8⌉ bytes, flag `i` in bit `i % 8` of byte `i / 8` |
//!
//! A function's arguments are its parameters one after another (as a
//! tuple); its result is its one value, or nothing. Decoding checks every
//! length against the bytes left before it allocates, refuses a value that
//! does not end where the bytes do, and counts values (a list of empty
//! records costs no bytes): at most [`MAX_VALUES`].

use crate::{Type, Value};

/// The most values one decoding makes (each element, member and payload
/// counts one).
pub const MAX_VALUES: usize = 1 << 20;

/// Why bytes are not a value of a type, or a value not of its type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WireError {
    /// The bytes end inside a value.
    Truncated,
    /// The bytes go on after the value: this many are left.
    Trailing(usize),
    /// The bytes are no value of the type: why.
    Invalid(String),
    /// More than [`MAX_VALUES`] values.
    TooMany,
    /// The value to encode is not of its type: what was expected.
    NotOfType(String),
}

impl std::fmt::Display for WireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WireError::Truncated => write!(f, "the bytes end inside a value"),
            WireError::Trailing(n) => write!(f, "{n} bytes are left after the value"),
            WireError::Invalid(why) => write!(f, "{why}"),
            WireError::TooMany => write!(f, "more than {MAX_VALUES} values"),
            WireError::NotOfType(t) => write!(f, "a value that is not a {t}"),
        }
    }
}

impl std::error::Error for WireError {}

/// `values`, of `types` one each, one after another.
pub fn encode_all(values: &[Value], types: &[Type]) -> Result<Vec<u8>, WireError> {
    if values.len() != types.len() {
        return Err(WireError::NotOfType(format!("{} values", types.len())));
    }
    let mut out = Vec::new();
    for (v, t) in values.iter().zip(types) {
        encode(v, t, &mut out)?;
    }
    Ok(out)
}

/// Appends `value`, of type `ty`, to `out`.
pub fn encode(value: &Value, ty: &Type, out: &mut Vec<u8>) -> Result<(), WireError> {
    let wrong = || WireError::NotOfType(ty.wit());
    match (ty, value) {
        (Type::Bool, Value::Bool(b)) => out.push(*b as u8),
        (Type::U8, Value::U8(n)) => out.push(*n),
        (Type::S8, Value::S8(n)) => out.push(*n as u8),
        (Type::U16, Value::U16(n)) => unsigned(*n as u64, out),
        (Type::U32, Value::U32(n)) => unsigned(*n as u64, out),
        (Type::U64, Value::U64(n)) => unsigned(*n, out),
        (Type::S16, Value::S16(n)) => signed(*n as i64, out),
        (Type::S32, Value::S32(n)) => signed(*n as i64, out),
        (Type::S64, Value::S64(n)) => signed(*n, out),
        (Type::F32, Value::F32(x)) => out.extend_from_slice(&x.to_le_bytes()),
        (Type::F64, Value::F64(x)) => out.extend_from_slice(&x.to_le_bytes()),
        (Type::Char, Value::Char(c)) => unsigned(*c as u64, out),
        (Type::String, Value::String(s)) => {
            length(s.len(), out)?;
            out.extend_from_slice(s.as_bytes());
        }
        (Type::List(t), Value::Bytes(bytes)) if **t == Type::U8 => {
            length(bytes.len(), out)?;
            out.extend_from_slice(bytes);
        }
        (Type::List(t), Value::List(items)) => {
            length(items.len(), out)?;
            for item in items {
                encode(item, t, out)?;
            }
        }
        (Type::Tuple(ts), Value::Record(vs)) if ts.len() == vs.len() => {
            for (v, t) in vs.iter().zip(ts) {
                encode(v, t, out)?;
            }
        }
        (Type::Record(fs), Value::Record(vs)) if fs.len() == vs.len() => {
            for (v, (_, t)) in vs.iter().zip(fs) {
                encode(v, t, out)?;
            }
        }
        (Type::Flags(names), Value::Flags(bits)) => {
            if names.len() > 32 || (names.len() < 32 && bits >> names.len() != 0) {
                return Err(wrong());
            }
            let bytes = bits.to_le_bytes();
            out.extend_from_slice(&bytes[..names.len().div_ceil(8)]);
        }
        (_, Value::Case(case, payload)) => {
            let cases = cases(ty).ok_or_else(wrong)?;
            let slot = cases.get(*case as usize).ok_or_else(wrong)?;
            unsigned(*case as u64, out);
            match (slot, payload) {
                (Some(t), Some(v)) => encode(v, t, out)?,
                (None, None) => {}
                _ => return Err(wrong()),
            }
        }
        _ => return Err(wrong()),
    }
    Ok(())
}

/// Values of `types`, one each, one after another, filling `bytes`.
pub fn decode_all(bytes: &[u8], types: &[Type]) -> Result<Vec<Value>, WireError> {
    let mut reader = Reader {
        bytes,
        at: 0,
        values: 0,
    };
    let values = types
        .iter()
        .map(|t| reader.value(t))
        .collect::<Result<Vec<_>, _>>()?;
    reader.end()?;
    Ok(values)
}

/// The value of type `ty` that `bytes` hold, whole.
pub fn decode(bytes: &[u8], ty: &Type) -> Result<Value, WireError> {
    let mut reader = Reader {
        bytes,
        at: 0,
        values: 0,
    };
    let value = reader.value(ty)?;
    reader.end()?;
    Ok(value)
}

/// A variant-like type's cases, each with its payload's type if it has
/// one: a variant's, an enum's, an option's (none, some) and a result's
/// (ok, err).
fn cases(ty: &Type) -> Option<Vec<Option<&Type>>> {
    Some(match ty {
        Type::Variant(cs) => cs.iter().map(|(_, t)| t.as_ref()).collect(),
        Type::Enum(cs) => cs.iter().map(|_| None).collect(),
        Type::Option(t) => vec![None, Some(&**t)],
        Type::Result(ok, err) => vec![ok.as_deref(), err.as_deref()],
        _ => return None,
    })
}

fn unsigned(mut n: u64, out: &mut Vec<u8>) {
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn signed(mut n: i64, out: &mut Vec<u8>) {
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        let done = (n == 0 && byte & 0x40 == 0) || (n == -1 && byte & 0x40 != 0);
        if done {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn length(n: usize, out: &mut Vec<u8>) -> Result<(), WireError> {
    if n > u32::MAX as usize {
        return Err(WireError::NotOfType("length below 2^32".into()));
    }
    unsigned(n as u64, out);
    Ok(())
}

/// The fewest bytes a value of `ty` takes.
fn least(ty: &Type) -> usize {
    match ty {
        Type::F32 => 4,
        Type::F64 => 8,
        Type::Tuple(ts) => ts.iter().map(least).sum(),
        Type::Record(fs) => fs.iter().map(|(_, t)| least(t)).sum(),
        Type::Flags(names) => names.len().div_ceil(8),
        _ => 1,
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
    values: usize,
}

impl Reader<'_> {
    fn end(&self) -> Result<(), WireError> {
        match self.bytes.len() - self.at {
            0 => Ok(()),
            n => Err(WireError::Trailing(n)),
        }
    }

    fn take(&mut self, n: usize) -> Result<&[u8], WireError> {
        if self.bytes.len() - self.at < n {
            return Err(WireError::Truncated);
        }
        self.at += n;
        Ok(&self.bytes[self.at - n..self.at])
    }

    fn byte(&mut self) -> Result<u8, WireError> {
        Ok(self.take(1)?[0])
    }

    /// An unsigned LEB128 of at most `bits` bits.
    fn unsigned(&mut self, bits: u32) -> Result<u64, WireError> {
        let mut n: u64 = 0;
        let mut shift = 0;
        loop {
            let byte = self.byte()?;
            let low = (byte & 0x7f) as u64;
            if shift >= bits || (bits - shift < 7 && low >> (bits - shift) != 0) {
                return Err(WireError::Invalid(format!(
                    "an unsigned LEB128 over {bits} bits"
                )));
            }
            n |= low << shift;
            shift += 7;
            if byte & 0x80 == 0 {
                return Ok(n);
            }
        }
    }

    /// A signed LEB128 of at most `bits` bits.
    fn signed(&mut self, bits: u32) -> Result<i64, WireError> {
        let over = || WireError::Invalid(format!("a signed LEB128 over {bits} bits"));
        // Wide enough for every bit the bytes allowed can hold.
        let mut n: i128 = 0;
        let mut shift = 0;
        loop {
            let byte = self.byte()?;
            if shift >= bits {
                return Err(over());
            }
            n |= ((byte & 0x7f) as i128) << shift;
            shift += 7;
            if byte & 0x80 == 0 {
                if byte & 0x40 != 0 {
                    n |= -1 << shift;
                }
                let (min, max) = (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1);
                if n < min || n > max {
                    return Err(over());
                }
                return Ok(n as i64);
            }
        }
    }

    /// A length, checked against the bytes left for `count` items of at
    /// least `each` bytes, and against the values left.
    fn count(&mut self, each: usize) -> Result<usize, WireError> {
        let n = self.unsigned(32)? as usize;
        if each > 0 && n > (self.bytes.len() - self.at) / each {
            return Err(WireError::Truncated);
        }
        if n > MAX_VALUES - self.values {
            return Err(WireError::TooMany);
        }
        Ok(n)
    }

    fn value(&mut self, ty: &Type) -> Result<Value, WireError> {
        self.values += 1;
        if self.values > MAX_VALUES {
            return Err(WireError::TooMany);
        }
        Ok(match ty {
            Type::Bool => match self.byte()? {
                0 => Value::Bool(false),
                1 => Value::Bool(true),
                b => return Err(WireError::Invalid(format!("a bool of {b}"))),
            },
            Type::U8 => Value::U8(self.byte()?),
            Type::S8 => Value::S8(self.byte()? as i8),
            Type::U16 => Value::U16(self.unsigned(16)? as u16),
            Type::U32 => Value::U32(self.unsigned(32)? as u32),
            Type::U64 => Value::U64(self.unsigned(64)?),
            Type::S16 => Value::S16(self.signed(16)? as i16),
            Type::S32 => Value::S32(self.signed(32)? as i32),
            Type::S64 => Value::S64(self.signed(64)?),
            Type::F32 => Value::F32(f32::from_le_bytes(self.take(4)?.try_into().unwrap())),
            Type::F64 => Value::F64(f64::from_le_bytes(self.take(8)?.try_into().unwrap())),
            Type::Char => {
                let n = self.unsigned(32)? as u32;
                Value::Char(char::from_u32(n).ok_or_else(|| {
                    WireError::Invalid(format!("a char of {n:#x}, which is no scalar value"))
                })?)
            }
            Type::String => {
                let n = self.count(1)?;
                let bytes = self.take(n)?;
                let s = std::str::from_utf8(bytes)
                    .map_err(|e| WireError::Invalid(format!("a string that is not UTF-8: {e}")))?;
                Value::String(s.to_owned())
            }
            Type::List(t) if **t == Type::U8 => {
                let n = self.count(1)?;
                Value::Bytes(self.take(n)?.to_vec())
            }
            Type::List(t) => {
                let n = self.count(least(t))?;
                let mut items = Vec::with_capacity(n);
                for _ in 0..n {
                    items.push(self.value(t)?);
                }
                Value::List(items)
            }
            Type::Tuple(ts) => {
                Value::Record(ts.iter().map(|t| self.value(t)).collect::<Result<_, _>>()?)
            }
            Type::Record(fs) => Value::Record(
                fs.iter()
                    .map(|(_, t)| self.value(t))
                    .collect::<Result<_, _>>()?,
            ),
            Type::Flags(names) if names.len() > 32 => {
                return Err(WireError::Invalid("flags of more than 32".into()))
            }
            Type::Flags(names) => {
                let n = names.len().div_ceil(8);
                let mut bytes = [0u8; 4];
                bytes[..n].copy_from_slice(self.take(n)?);
                let bits = u32::from_le_bytes(bytes);
                if names.len() < 32 && bits >> names.len() != 0 {
                    return Err(WireError::Invalid(format!(
                        "flags with a bit past its {} flags",
                        names.len()
                    )));
                }
                Value::Flags(bits)
            }
            Type::Variant(_) | Type::Enum(_) | Type::Option(_) | Type::Result(..) => {
                let cases = cases(ty).expect("a variant-like type");
                let case = self.unsigned(32)? as u32;
                let slot = cases.get(case as usize).ok_or_else(|| {
                    WireError::Invalid(format!("case {case} of a type with {}", cases.len()))
                })?;
                let payload = match slot {
                    Some(t) => Some(Box::new(self.value(t)?)),
                    None => None,
                };
                Value::Case(case, payload)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ty() -> impl Strategy<Value = Type> {
        let leaf = prop_oneof![
            Just(Type::Bool),
            Just(Type::U8),
            Just(Type::U16),
            Just(Type::U32),
            Just(Type::U64),
            Just(Type::S8),
            Just(Type::S16),
            Just(Type::S32),
            Just(Type::S64),
            Just(Type::F32),
            Just(Type::F64),
            Just(Type::Char),
            Just(Type::String),
            (0usize..=32).prop_map(|n| Type::Flags((0..n).map(|i| format!("f{i}")).collect())),
            (1usize..5).prop_map(|n| Type::Enum((0..n).map(|i| format!("e{i}")).collect())),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                inner.clone().prop_map(|t| Type::List(Box::new(t))),
                prop::collection::vec(inner.clone(), 0..4).prop_map(Type::Tuple),
                prop::collection::vec(inner.clone(), 0..4).prop_map(|ts| Type::Record(
                    ts.into_iter()
                        .enumerate()
                        .map(|(i, t)| (format!("r{i}"), t))
                        .collect()
                )),
                prop::collection::vec(prop::option::of(inner.clone()), 1..4).prop_map(|cs| {
                    Type::Variant(
                        cs.into_iter()
                            .enumerate()
                            .map(|(i, t)| (format!("v{i}"), t))
                            .collect(),
                    )
                }),
                inner.clone().prop_map(|t| Type::Option(Box::new(t))),
                (
                    prop::option::of(inner.clone()),
                    prop::option::of(inner.clone())
                )
                    .prop_map(|(ok, err)| Type::Result(ok.map(Box::new), err.map(Box::new))),
            ]
        })
    }

    fn value(ty: &Type) -> BoxedStrategy<Value> {
        let case = |cases: Vec<Option<Type>>| {
            (0..cases.len() as u32)
                .prop_flat_map(move |c| {
                    let payload = match &cases[c as usize] {
                        Some(t) => value(t).prop_map(|v| Some(Box::new(v))).boxed(),
                        None => Just(None).boxed(),
                    };
                    payload.prop_map(move |p| Value::Case(c, p))
                })
                .boxed()
        };
        match ty {
            Type::Bool => any::<bool>().prop_map(Value::Bool).boxed(),
            Type::U8 => any::<u8>().prop_map(Value::U8).boxed(),
            Type::U16 => any::<u16>().prop_map(Value::U16).boxed(),
            Type::U32 => any::<u32>().prop_map(Value::U32).boxed(),
            Type::U64 => any::<u64>().prop_map(Value::U64).boxed(),
            Type::S8 => any::<i8>().prop_map(Value::S8).boxed(),
            Type::S16 => any::<i16>().prop_map(Value::S16).boxed(),
            Type::S32 => any::<i32>().prop_map(Value::S32).boxed(),
            Type::S64 => any::<i64>().prop_map(Value::S64).boxed(),
            // Bit for bit: NaN payloads cross too.
            Type::F32 => any::<u32>()
                .prop_map(|b| Value::F32(f32::from_bits(b)))
                .boxed(),
            Type::F64 => any::<u64>()
                .prop_map(|b| Value::F64(f64::from_bits(b)))
                .boxed(),
            Type::Char => any::<char>().prop_map(Value::Char).boxed(),
            Type::String => any::<String>().prop_map(Value::String).boxed(),
            Type::List(t) if **t == Type::U8 => any::<Vec<u8>>().prop_map(Value::Bytes).boxed(),
            Type::List(t) => prop::collection::vec(value(t), 0..4)
                .prop_map(Value::List)
                .boxed(),
            Type::Tuple(ts) => ts
                .iter()
                .map(value)
                .collect::<Vec<_>>()
                .prop_map(Value::Record)
                .boxed(),
            Type::Record(fs) => fs
                .iter()
                .map(|(_, t)| value(t))
                .collect::<Vec<_>>()
                .prop_map(Value::Record)
                .boxed(),
            Type::Flags(names) => {
                let mask = if names.len() >= 32 {
                    u32::MAX
                } else {
                    (1 << names.len()) - 1
                };
                any::<u32>()
                    .prop_map(move |b| Value::Flags(b & mask))
                    .boxed()
            }
            Type::Variant(cs) => case(cs.iter().map(|(_, t)| t.clone()).collect()),
            Type::Enum(cs) => case(vec![None; cs.len()]),
            Type::Option(t) => case(vec![None, Some((**t).clone())]),
            Type::Result(ok, err) => case(vec![ok.as_deref().cloned(), err.as_deref().cloned()]),
        }
    }

    /// Equal, with floats compared bit for bit.
    fn same(a: &Value, b: &Value) -> bool {
        match (a, b) {
            (Value::F32(x), Value::F32(y)) => x.to_bits() == y.to_bits(),
            (Value::F64(x), Value::F64(y)) => x.to_bits() == y.to_bits(),
            (Value::List(xs), Value::List(ys)) | (Value::Record(xs), Value::Record(ys)) => {
                xs.len() == ys.len() && xs.iter().zip(ys).all(|(x, y)| same(x, y))
            }
            (Value::Case(c, x), Value::Case(d, y)) => {
                c == d
                    && match (x, y) {
                        (Some(x), Some(y)) => same(x, y),
                        (None, None) => true,
                        _ => false,
                    }
            }
            _ => a == b,
        }
    }

    proptest! {
        #[test]
        fn every_value_crosses_whole((t, v) in ty().prop_flat_map(|t| {
            let v = value(&t);
            (Just(t), v)
        })) {
            let mut bytes = Vec::new();
            encode(&v, &t, &mut bytes).unwrap();
            let back = decode(&bytes, &t).unwrap();
            prop_assert!(same(&v, &back), "{v:?} came back as {back:?}");
            // Any shorter is truncated; one more byte is left over.
            if !bytes.is_empty() {
                prop_assert!(decode(&bytes[..bytes.len() - 1], &t).is_err());
            }
            bytes.push(0);
            prop_assert_eq!(decode(&bytes, &t), Err(WireError::Trailing(1)));
        }

        #[test]
        fn any_bytes_decode_or_are_refused_without_panicking(
            t in ty(),
            bytes in prop::collection::vec(any::<u8>(), 0..64),
        ) {
            let _ = decode(&bytes, &t);
        }
    }

    #[test]
    fn integers_take_leb128_as_the_table_says() {
        let enc = |v: Value, t: Type| {
            let mut out = Vec::new();
            encode(&v, &t, &mut out).unwrap();
            out
        };
        assert_eq!(enc(Value::U32(624485), Type::U32), [0xe5, 0x8e, 0x26]);
        assert_eq!(enc(Value::S32(-123456), Type::S32), [0xc0, 0xbb, 0x78]);
        assert_eq!(
            enc(Value::String("hé".into()), Type::String),
            [3, b'h', 0xc3, 0xa9]
        );
        let result = Type::Result(None, Some(Box::new(Type::String)));
        let err = Value::Case(1, Some(Box::new(Value::String("no".into()))));
        assert_eq!(enc(err, result), [1, 2, b'n', b'o']);
        let flags = Type::Flags((0..10).map(|i| i.to_string()).collect());
        assert_eq!(enc(Value::Flags(0b10_0000_0001), flags), [0x01, 0x02]);
    }

    #[test]
    fn hostile_lengths_are_refused_before_anything_is_allocated() {
        let huge = [0xff, 0xff, 0xff, 0xff, 0x0f];
        let list = |t: Type| Type::List(Box::new(t));
        assert_eq!(decode(&huge, &Type::String), Err(WireError::Truncated));
        assert_eq!(decode(&huge, &list(Type::U8)), Err(WireError::Truncated));
        assert_eq!(decode(&huge, &list(Type::F64)), Err(WireError::Truncated));
        // Elements that cost no bytes are counted instead.
        assert_eq!(
            decode(&huge, &list(Type::Tuple(vec![]))),
            Err(WireError::TooMany)
        );
        // Lengths past 32 bits, overlong integers, bad cases and chars.
        assert!(decode(&[0x80, 0x80, 0x80, 0x80, 0x10], &Type::String).is_err());
        assert!(decode(&[0x80, 0x80, 0x04], &Type::U16).is_err());
        assert!(decode(&[0x80, 0x80, 0x02], &Type::S16).is_err());
        assert!(decode(&[2], &Type::Option(Box::new(Type::U8))).is_err());
        assert!(decode(&[0x80, 0xb0, 0x03], &Type::Char).is_err());
        assert!(decode(&[2, 0xff, 0xfe], &Type::String).is_err());
        assert!(decode(&[2], &Type::Bool).is_err());
        let three = Type::Flags(vec!["a".into(), "b".into(), "c".into()]);
        assert!(decode(&[0b1000], &three).is_err());
    }

    #[test]
    fn a_value_of_another_type_is_not_encoded() {
        let mut out = Vec::new();
        assert!(encode(&Value::U8(1), &Type::String, &mut out).is_err());
        let option = Type::Option(Box::new(Type::U8));
        assert!(encode(&Value::Case(1, None), &option, &mut out).is_err());
        assert!(encode(&Value::Case(2, None), &option, &mut out).is_err());
        let two = Type::Flags(vec!["a".into(), "b".into()]);
        assert!(encode(&Value::Flags(4), &two, &mut out).is_err());
    }
}
