//! A fuzz case: a program of calls to the `vm:host` ABI with generated
//! arguments, as the interpreter guest ([`crate::interpreter`]) runs it.
//!
//! A case is made from a seed by a generator of our own (SplitMix64), so a
//! seed names the same case on every machine and every version of the
//! dependencies: a reported seed always reproduces.
//!
//! Encoding, one op after another: the function's index (one byte, see
//! [`crate::interpreter::ops`]), how many times to repeat the call (`u16`),
//! then each argument as a little-endian `u64` (an `i32` parameter takes
//! the low half).

use crate::interpreter::{self, Op, LAST, PARENT, PRELUDE, PROGRAM, SCRATCH, SELF};
use std::fmt;
use vm_abi::CoreType;

/// SplitMix64: small, fast, and stable forever.
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number below `n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// One of `items`.
    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// An argument: a value, or where the rest of the program lies (a spawn's
/// capture, so a child runs what follows).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arg {
    /// This value.
    Value(u64),
    /// The address of the next op in the program.
    RestPtr,
    /// The length of the program from the next op on.
    RestLen,
}

/// One call: which op, how many times in a row, with which arguments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Call {
    /// Index into [`interpreter::ops`].
    pub op: u8,
    /// How many times it is made in a row (at least once).
    pub repeat: u16,
    /// One per parameter of the op.
    pub args: Vec<Arg>,
}

/// A generated program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Case {
    /// The seed it was made from.
    pub seed: u64,
    /// The calls, in order.
    pub calls: Vec<Call>,
}

const EDGE_I32: &[u64] = &[
    0,
    1,
    3,
    7,
    8,
    0xfff,
    0xffff,
    0x1_0000,
    0x3_0000,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_fffc,
    0xffff_ffff,
];

const EDGE_I64: &[u64] = &[
    0,
    1,
    2,
    999,
    1 << 32,
    1 << 63,
    (1 << 63) + 1,
    u64::MAX - 1,
    u64::MAX,
];

/// Durations in nanoseconds: none, a millisecond, an hour, forever.
const DURATIONS: &[u64] = &[0, 1, 1_000_000, 3_600_000_000_000, u64::MAX];

impl Case {
    /// The case `seed` names.
    pub fn generate(seed: u64) -> Case {
        let mut rng = Rng::new(seed);
        let ops = interpreter::ops();
        let spawn = ops
            .iter()
            .position(|o| o.name == "process.spawn")
            .unwrap_or(0) as u8;
        let n = 1 + rng.below(24) as usize;
        let calls = (0..n)
            .map(|_| {
                // Spawns get a share of their own, so that children run
                // however many functions the ABI grows.
                let op = if rng.chance(4) {
                    spawn
                } else {
                    rng.below(ops.len() as u64) as u8
                };
                let repeat = if rng.chance(10) {
                    1 + rng.below(3000) as u16
                } else {
                    1
                };
                let args = arguments(&mut rng, &ops[op as usize]);
                Call { op, repeat, args }
            })
            .collect();
        Case { seed, calls }
    }

    /// The program's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let ops = interpreter::ops();
        let mut out = Vec::new();
        for call in &self.calls {
            out.push(call.op);
            out.extend_from_slice(&call.repeat.to_le_bytes());
            let rest = out.len() + 8 * call.args.len();
            for a in &call.args {
                let v = match a {
                    Arg::Value(v) => *v,
                    Arg::RestPtr => PROGRAM as u64 + rest as u64,
                    // Filled in once the whole length is known.
                    Arg::RestLen => u64::MAX,
                };
                out.extend_from_slice(&v.to_le_bytes());
            }
            debug_assert_eq!(ops[call.op as usize].params.len(), call.args.len());
        }
        // Fill in the rest lengths.
        let total = out.len();
        let mut at = 0;
        for call in &self.calls {
            at += 3;
            let rest = at + 8 * call.args.len();
            for a in &call.args {
                if *a == Arg::RestLen {
                    out[at..at + 8].copy_from_slice(&((total - rest) as u64).to_le_bytes());
                }
                at += 8;
            }
        }
        out
    }

    /// The program as the interpreter's argument: hexadecimal.
    pub fn to_arg(&self) -> String {
        self.encode().iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Smaller cases than this one, for minimizing: without one call, or
    /// with one call repeated fewer times.
    pub fn shrinks(&self) -> Vec<Case> {
        let mut out = Vec::new();
        for i in 0..self.calls.len() {
            let mut c = self.clone();
            c.calls.remove(i);
            out.push(c);
        }
        for i in 0..self.calls.len() {
            if self.calls[i].repeat > 1 {
                let mut c = self.clone();
                c.calls[i].repeat = 1.max(c.calls[i].repeat / 2);
                out.push(c);
            }
        }
        out
    }
}

/// A scratch address for a return value.
fn scratch(rng: &mut Rng) -> Arg {
    Arg::Value(SCRATCH as u64 + 16 * rng.below(64))
}

fn arguments(rng: &mut Rng, op: &Op) -> Vec<Arg> {
    // Half the spawns and hibernations are well formed, so that children
    // run (the rest of the program) and sleepers wake; the rest are hostile.
    let v = Arg::Value;
    let child = PRELUDE as u64;
    let handles = PRELUDE as u64 + 80;
    match op.name.as_str() {
        "process.spawn" if rng.chance(50) => {
            return vec![
                v(0),
                v(child),
                v(5),
                v(rng.below(4)),
                Arg::RestPtr,
                Arg::RestLen,
                v(handles),
                v(rng.pick(&[0, 0, 1, 2])),
                v(rng.pick(&[0, 1])),
                scratch(rng),
            ]
        }
        "process.hibernate" if rng.chance(50) => {
            return vec![
                v(child),
                v(5),
                v(0),
                Arg::RestPtr,
                Arg::RestLen,
                v(handles),
                v(rng.pick(&[0, 0, 1])),
            ]
        }
        _ => {}
    }
    let mut args = Vec::with_capacity(op.params.len());
    let last = op.params.len().saturating_sub(1);
    let mut i = 0;
    while i < op.params.len() {
        let is_ret = op.has_return_pointer && i == last;
        match op.params[i] {
            CoreType::I32 if is_ret => {
                args.push(if rng.chance(85) {
                    scratch(rng)
                } else {
                    Arg::Value(rng.pick(EDGE_I32))
                });
            }
            // A spawn's or hibernate's data: often the rest of the program.
            CoreType::I32
                if op.takes_program
                    && i + 1 < op.params.len()
                    && op.params[i + 1] == CoreType::I32
                    && rng.chance(40) =>
            {
                args.push(Arg::RestPtr);
                args.push(Arg::RestLen);
                i += 1;
            }
            // Often a pointer and length from the prelude: text, lists.
            CoreType::I32
                if i + 1 < op.params.len()
                    && op.params[i + 1] == CoreType::I32
                    && !(op.has_return_pointer && i + 1 == last)
                    && rng.chance(60) =>
            {
                let (at, len) = rng.pick(PRELUDE_ITEMS);
                args.push(Arg::Value(PRELUDE as u64 + at));
                args.push(Arg::Value(if rng.chance(85) {
                    len
                } else {
                    rng.pick(EDGE_I32)
                }));
                i += 1;
            }
            CoreType::I32 => {
                let v = match rng.below(10) {
                    0..=3 => rng.below(9),
                    4..=7 => rng.pick(EDGE_I32),
                    _ => rng.next_u64() & 0xffff_ffff,
                };
                args.push(Arg::Value(v));
            }
            CoreType::I64 => {
                let v = match rng.below(14) {
                    0..=1 => SELF,
                    2..=3 => LAST,
                    4 => PARENT,
                    5..=6 => 1 + rng.below(40),
                    7..=8 => rng.pick(DURATIONS),
                    9..=12 => rng.pick(EDGE_I64),
                    _ => rng.next_u64(),
                };
                args.push(Arg::Value(v));
            }
            CoreType::F32 | CoreType::F64 => {
                unreachable!("no vm:host function takes a float")
            }
        }
        i += 1;
    }
    args
}

/// Offsets into the prelude and lengths of what lies there (see
/// [`interpreter::PRELUDE_DATA`]).
const PRELUDE_ITEMS: &[(u64, u64)] = &[
    (0, 5),    // "child"
    (8, 11),   // "127.0.0.1:0"
    (24, 11),  // "127.0.0.1:1"
    (40, 12),  // "localhost:80"
    (56, 14),  // "example.com:80"
    (72, 1),   // "\xff" (not UTF-8)
    (80, 4),   // handle list [1, 2, 3, 4] as u32
    (80, 2),   // ... of two
    (96, 3),   // tag list [0, 1, 999] as u64
    (128, 64), // 64 bytes of text
    (128, 0),  // nothing
    (200, 9),  // "a-process"
];

impl fmt::Display for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ops = interpreter::ops();
        writeln!(f, "case {} ({} calls):", self.seed, self.calls.len())?;
        for call in &self.calls {
            let op = &ops[call.op as usize];
            let args: Vec<String> = call
                .args
                .iter()
                .map(|a| match a {
                    Arg::Value(v) if *v == SELF => "self".into(),
                    Arg::Value(v) if *v == LAST => "last-spawned".into(),
                    Arg::Value(v) if *v == PARENT => "parent".into(),
                    Arg::Value(v) if *v > 0xffff => format!("{v:#x}"),
                    Arg::Value(v) => v.to_string(),
                    Arg::RestPtr => "rest-ptr".into(),
                    Arg::RestLen => "rest-len".into(),
                })
                .collect();
            let times = if call.repeat > 1 {
                format!(" x{}", call.repeat)
            } else {
                String::new()
            };
            writeln!(f, "  {}({}){times}", op.name, args.join(", "))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_names_the_same_case_every_time() {
        assert_eq!(Case::generate(7), Case::generate(7));
        assert_ne!(Case::generate(7), Case::generate(8));
        // SplitMix64's first output for seed 0, as published.
        assert_eq!(Rng::new(0).next_u64(), 0xe220_a839_7b1d_cdaf);
    }

    /// Guards against a generator whose children never run: a good share
    /// of the cases spawn with the interpreter's own entry and the rest of
    /// the program as capture.
    #[test]
    fn many_cases_spawn_children_that_run_the_rest_of_the_program() {
        let ops = interpreter::ops();
        let spawn = ops.iter().position(|o| o.name == "process.spawn").unwrap() as u8;
        let well_formed = (0..2000)
            .filter(|&seed| {
                Case::generate(seed).calls.iter().any(|c| {
                    c.op == spawn
                        && c.args[..3] == [Arg::Value(0), Arg::Value(PRELUDE as u64), Arg::Value(5)]
                        && c.args[4] == Arg::RestPtr
                })
            })
            .count();
        assert!(well_formed > 200, "{well_formed} of 2000");
    }

    #[test]
    fn the_rest_of_the_program_is_where_the_encoding_says() {
        for seed in 0..200 {
            let case = Case::generate(seed);
            let bytes = case.encode();
            let mut at = 0;
            for call in &case.calls {
                at += 3;
                for (k, a) in call.args.iter().enumerate() {
                    let v = u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap());
                    let next = at + 8 * (call.args.len() - k);
                    match a {
                        Arg::RestPtr => assert_eq!(v, (PROGRAM + next) as u64),
                        Arg::RestLen => assert_eq!(v, (bytes.len() - next) as u64),
                        Arg::Value(x) => assert_eq!(v, *x),
                    }
                    at += 8;
                }
            }
            assert_eq!(at, bytes.len());
        }
    }
}
