//! The interpreter guest: one module, generated from the ABI manifest, that
//! imports every `vm:host` function and runs a [`crate::case::Case`]'s
//! program. Compiled once per VM, so a case costs a process, not a
//! compilation, and a million cases fit in minutes.
//!
//! The root process (`_start`) reads its program from its second argument
//! (hexadecimal); a process spawned at `child` (or woken there after
//! hibernating) runs its init message, which the generator points at the
//! rest of its parent's program. Memory: a scratch area for return values
//! at [`SCRATCH`], the [`PRELUDE`]'s texts and lists, the program at
//! [`PROGRAM`] and the argument's text above it.

use vm_abi::{CoreType, FUNCTIONS};

/// Where return pointers usually point.
pub const SCRATCH: u32 = 0x2000;
/// Texts and lists the generator points arguments at.
pub const PRELUDE: u32 = 0x1000;
/// Where the program is decoded to (at most 32 KiB).
pub const PROGRAM: usize = 0x8000;
/// Where the root's argument (the program in hexadecimal) is read to.
const ARGS: u32 = 0x10000;
/// An `i64` argument the interpreter replaces with the caller's own id.
pub const SELF: u64 = 0xfeed_0000_0000_5e1f;
/// An `i64` argument the interpreter replaces with the id of the process
/// the caller last spawned (0 before it spawns one).
pub const LAST: u64 = 0xfeed_0000_0000_1a57;
/// An `i64` argument the interpreter replaces with the caller's spawner's
/// id (0 for the root).
pub const PARENT: u64 = 0xfeed_0000_0000_9a2e;

/// The prelude's bytes (offsets in [`crate::case`]'s `PRELUDE_ITEMS`).
pub const PRELUDE_DATA: &[(u32, &[u8])] = &[
    (0, b"child"),
    (8, b"127.0.0.1:0"),
    (24, b"127.0.0.1:1"),
    (40, b"localhost:80"),
    (56, b"example.com:80"),
    (72, b"\xff"),
    (80, &[1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0]),
    (
        96,
        &[
            0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0xe7, 3, 0, 0, 0, 0, 0, 0,
        ],
    ),
    (
        128,
        b"the quick brown fox jumps over the lazy dog, again and again.!!",
    ),
    (200, b"a-process"),
];

/// An op the interpreter knows: an ABI function, or one of its own.
pub struct Op {
    /// `process.spawn`, or `grow` / `store` for the interpreter's own.
    pub name: String,
    /// Its core parameters.
    pub params: Vec<CoreType>,
    /// Whether its last parameter is a return pointer.
    pub has_return_pointer: bool,
    /// Whether a data argument of it may carry the rest of the program.
    pub takes_program: bool,
    /// The WebAssembly text that calls it, its arguments as `$a0`… locals.
    body: String,
}

/// Every op, in encoding order: the ABI's functions, then `grow` (memory,
/// by `a0 % 64` pages) and `store` (`a1` at scratch offset `a0 % 4096`).
pub fn ops() -> Vec<Op> {
    let mut ops: Vec<Op> = FUNCTIONS
        .iter()
        .map(|f| {
            let args: String = f
                .params
                .iter()
                .enumerate()
                .map(|(i, t)| match t {
                    CoreType::I32 => format!(" (i32.wrap_i64 (local.get $a{i}))"),
                    CoreType::I64 => format!(" (local.get $a{i})"),
                    CoreType::F32 | CoreType::F64 => unreachable!("no vm:host function takes a float"),
                })
                .collect();
            let drops = "\n (drop)".repeat(f.results.len());
            // A spawn that succeeded names the process for LAST.
            let after = if f.name == "spawn" {
                let ret = f.params.len() - 1;
                format!(
                    "\n (if (i32.eqz (i32.load8_u (i32.wrap_i64 (local.get $a{ret})))) (then (global.set $last (i64.load offset=8 (i32.wrap_i64 (local.get $a{ret}))))))"
                )
            } else {
                String::new()
            };
            Op {
                name: format!("{}.{}", f.interface, f.name),
                params: f.params.to_vec(),
                has_return_pointer: f.result_size > 0,
                takes_program: matches!(f.name, "spawn" | "hibernate"),
                body: format!("(call ${}.{}{args}){drops}{after}", f.interface, f.name),
            }
        })
        .collect();
    ops.push(Op {
        name: "grow".into(),
        params: vec![CoreType::I64],
        has_return_pointer: false,
        takes_program: false,
        body: "(drop (memory.grow (i32.wrap_i64 (i64.rem_u (local.get $a0) (i64.const 64)))))"
            .into(),
    });
    ops.push(Op {
        name: "store".into(),
        params: vec![CoreType::I64, CoreType::I64],
        has_return_pointer: false,
        takes_program: false,
        body: format!(
            "(i64.store (i32.add (i32.const {SCRATCH}) (i32.and (i32.wrap_i64 (local.get $a0)) (i32.const 0xff8))) (local.get $a1))"
        ),
    });
    ops
}

/// The interpreter module, as WebAssembly text.
pub fn wat() -> String {
    let ops = ops();
    let max_args = ops.iter().map(|o| o.params.len()).max().unwrap_or(0);
    let imports = vm_abi::wat_imports();
    let data: String = PRELUDE_DATA
        .iter()
        .map(|(at, bytes)| {
            let text: String = bytes.iter().map(|b| format!("\\{b:02x}")).collect();
            format!("(data (i32.const {}) \"{text}\")\n", PRELUDE + at)
        })
        .collect();
    let locals: String = (0..max_args)
        .map(|i| format!("(local $a{i} i64) "))
        .collect();
    // Loads each argument, replacing SELF with the caller's id.
    let loads: String = (0..max_args)
        .map(|i| {
            format!(
                "(local.set $a{i} (i64.load offset={off} (local.get $p)))
                 (if (i64.eq (local.get $a{i}) (i64.const {SELF})) (then (local.set $a{i} (local.get $self))))
                 (if (i64.eq (local.get $a{i}) (i64.const {LAST})) (then (local.set $a{i} (global.get $last))))
                 (if (i64.eq (local.get $a{i}) (i64.const {PARENT})) (then (local.set $a{i} (global.get $parent))))\n",
                off = 3 + 8 * i
            )
        })
        .collect();
    // One block per op, innermost first; br_table picks the op's block.
    let n = ops.len();
    let labels: String = (0..n).map(|i| format!("$op{i} ")).collect();
    // Leaving block $opI runs op I's call: op 0's block is innermost.
    let mut nested = format!("(br_table {labels}$op{} (local.get $op))", n - 1);
    for (i, op) in ops.iter().enumerate() {
        nested = format!(
            "(block $op{i} {nested})\n {body}\n (local.set $len (i32.const {len})) (br $done_call)",
            body = op.body,
            len = op.params.len()
        );
    }
    format!(
        r#"(module
{imports}
(import "wasi_snapshot_preview1" "args_sizes_get" (func $args_sizes_get (param i32 i32) (result i32)))
(import "wasi_snapshot_preview1" "args_get" (func $args_get (param i32 i32) (result i32)))
(memory (export "memory") 4)
(global $last (mut i64) (i64.const 0))
(global $parent (mut i64) (i64.const 0))
{data}
(func $run (param $p i32) (param $end i32)
  (local $op i32) (local $repeat i32) (local $len i32) (local $self i64) {locals}
  (local.set $self (call $process.self-id))
  (block $finished
    (loop $next
      (br_if $finished (i32.gt_u (i32.add (local.get $p) (i32.const 3)) (local.get $end)))
      (local.set $op (i32.rem_u (i32.load8_u (local.get $p)) (i32.const {n})))
      (local.set $repeat (i32.load16_u offset=1 (local.get $p)))
      {loads}
      (loop $again
        (block $done_call
          {nested})
        (local.set $repeat (i32.sub (local.get $repeat) (i32.const 1)))
        (br_if $again (i32.gt_s (local.get $repeat) (i32.const 0))))
      (local.set $p (i32.add (local.get $p) (i32.add (i32.const 3) (i32.shl (local.get $len) (i32.const 3)))))
      (br $next))))
(func $nibble (param $c i32) (result i32)
  (if (result i32) (i32.le_u (local.get $c) (i32.const 57))
    (then (i32.sub (local.get $c) (i32.const 48)))
    (else (i32.sub (local.get $c) (i32.const 87)))))
(func (export "_start") (local $text i32) (local $len i32) (local $i i32)
  ;; argv[1]: the program in hexadecimal
  (drop (call $args_sizes_get (i32.const 0) (i32.const 4)))
  (if (i32.lt_u (i32.load (i32.const 0)) (i32.const 2)) (then (return)))
  (if (i32.gt_u (i32.load (i32.const 4)) (i32.const 0x20000)) (then unreachable))
  (drop (call $args_get (i32.const 16) (i32.const {ARGS})))
  (local.set $text (i32.load (i32.const 20)))
  (local.set $len (i32.shr_u (i32.sub (i32.sub (i32.load (i32.const 4)) (i32.sub (local.get $text) (i32.const {ARGS}))) (i32.const 1)) (i32.const 1)))
  (if (i32.gt_u (local.get $len) (i32.const 0x8000)) (then unreachable))
  (block $decoded (loop $hex
    (br_if $decoded (i32.ge_u (local.get $i) (local.get $len)))
    (i32.store8 (i32.add (i32.const {PROGRAM}) (local.get $i))
      (i32.or
        (i32.shl (call $nibble (i32.load8_u (i32.add (local.get $text) (i32.shl (local.get $i) (i32.const 1))))) (i32.const 4))
        (call $nibble (i32.load8_u offset=1 (i32.add (local.get $text) (i32.shl (local.get $i) (i32.const 1)))))))
    (local.set $i (i32.add (local.get $i) (i32.const 1)))
    (br $hex)))
  (call $run (i32.const {PROGRAM}) (i32.add (i32.const {PROGRAM}) (local.get $len))))
(func (export "child") (local $len i32)
  ;; its init message: the rest of a program (or a hibernation state)
  (call $mailbox.receive (i32.const 0) (i32.const 0) (i32.const 8) (i32.const 1) (i64.const 0) (i32.const 64))
  (if (i32.load8_u (i32.const 64)) (then (return)))
  (global.set $parent (i64.load (i32.const 88)))
  (local.set $len (i32.load (i32.const 96)))
  (if (i32.gt_u (local.get $len) (i32.const 0x8000)) (then (return)))
  (call $mailbox.read (i32.const {PROGRAM}) (local.get $len) (i32.const 64))
  (call $run (i32.const {PROGRAM}) (i32.add (i32.const {PROGRAM}) (local.get $len))))
)"#
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_interpreter_is_a_valid_module() {
        wat::parse_str(super::wat()).unwrap_or_else(|e| panic!("{e}"));
    }
}
