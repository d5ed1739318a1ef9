// What AssemblyScript's runtime would otherwise import from `env`: abort and
// trace, implemented on the VM and WASI, so modules import only `vm:host/*`
// and `wasi_snapshot_preview1`. asconfig.json routes them here with `use`.

import { process_exit, process_panic } from "./abi";

// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "fd_write")
declare function fd_write(fd: u32, iovs: usize, iovs_len: u32, written: usize): u16;

// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "args_sizes_get")
declare function args_sizes_get(argc: usize, size: usize): u16;
// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "args_get")
declare function args_get(argv: usize, buf: usize): u16;

const IOV: usize = memory.data(16, 4);

/** The process's command-line arguments (the root's come from `vm run … -- ARGS`). */
export function args(): string[] {
  const sizes = memory.data(8, 4);
  args_sizes_get(sizes, sizes + 4);
  const argc = load<u32>(sizes);
  const argv = new Uint32Array(argc);
  const buf = new Uint8Array(load<u32>(sizes + 4));
  args_get(argv.dataStart, buf.dataStart);
  const out = new Array<string>();
  for (let i: u32 = 0; i < argc; i++) out.push(String.UTF8.decodeUnsafe(argv[i] as usize, buf.dataStart + buf.length - (argv[i] as usize), true));
  return out;
}

function write(fd: u32, text: string): void {
  const bytes = String.UTF8.encode(text, false, String.UTF8.ErrorMode.REPLACE);
  store<u32>(IOV, changetype<usize>(bytes));
  store<u32>(IOV, bytes.byteLength as u32, 4);
  fd_write(fd, IOV, 1, IOV + 8);
}

/** Prints a line to stdout. */
export function print(text: string): void {
  write(1, text + "\n");
}

/** Prints a line to stderr. */
export function eprint(text: string): void {
  write(2, text + "\n");
}

/**
 * Ends this process with a reason (an empty reason is a normal exit): its
 * links and monitors see `exit` and the text, not a crash (`trap`, which a
 * `throw` gives). It never returns. AssemblyScript 0.28 has no `never`
 * type, and its flow analysis ends a branch only at `return` or `throw`,
 * so `return exit(...)` is how a branch ends with it; the type parameter
 * (void by default) makes that fit a function of any return type:
 *
 * ```ts
 * const listener = TcpListener.bind(address);
 * if (!listener.isOk) return exit("cannot listen: " + listener.error.toString());
 * function parse(s: string): u32 {
 *   if (s.length == 0) return exit<u32>("an empty number");
 *   return U32.parseInt(s);
 * }
 * ```
 */
export function exit<T = void>(reason: string): T {
  const bytes = String.UTF8.encode(reason, false, String.UTF8.ErrorMode.REPLACE);
  process_exit(changetype<usize>(bytes), bytes.byteLength);
  unreachable();
  return never<T>();
}

/** @internal Ends this process as a crash (reason `trap`, as an abort), with
 * `text` as its reason, printed to stderr first as aborts are. */
export function crash<T = void>(text: string): T {
  eprint(text);
  const bytes = String.UTF8.encode(text, false, String.UTF8.ErrorMode.REPLACE);
  process_panic(changetype<usize>(bytes), bytes.byteLength);
  unreachable();
  return never<T>();
}

/** A value of any type for the type checker, after a call that never returns. */
function never<T>(): T {
  if (isVoid<T>()) return;
  if (isReference<T>()) return changetype<T>(<usize>0);
  // @ts-ignore: a number or a bool
  return <T>0;
}

/** Where the abort handler builds its text: static memory, because an abort
 * may come from a full heap or an overflowed stack, where allocating would
 * fail again or abort again ("stack overflow") without end. */
const ABORT_SIZE: usize = 1024;
const ABORT: usize = memory.data((ABORT_SIZE + 1) as i32); // and a newline
let abortLen: usize = 0;

function abortByte(b: u32): void {
  store<u8>(ABORT + abortLen++, b as u8);
}

/** Appends a string's text as UTF-8 up to `limit` bytes in all, reading its
 * UTF-16 in place (a lone surrogate becomes U+FFFD). `s` is a string's
 * address, or 0. */
function abortText(s: usize, limit: usize = ABORT_SIZE): void {
  if (s == 0) return;
  const units = load<u32>(s - 4) >> 1; // the object header's byte length
  for (let i: u32 = 0; i < units; i++) {
    let c = load<u16>(s + ((i as usize) << 1)) as u32;
    if (c >= 0xd800 && c < 0xdc00 && i + 1 < units) {
      const d = load<u16>(s + (((i + 1) as usize) << 1)) as u32;
      if (d >= 0xdc00 && d < 0xe000) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
      }
    }
    if (c >= 0xd800 && c < 0xe000) c = 0xfffd;
    // Whole characters only, so the reason stays valid UTF-8.
    const size: usize = c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
    if (abortLen + size > limit) return;
    if (c < 0x80) abortByte(c);
    else if (c < 0x800) {
      abortByte(0xc0 | (c >> 6));
      abortByte(0x80 | (c & 0x3f));
    } else if (c < 0x10000) {
      abortByte(0xe0 | (c >> 12));
      abortByte(0x80 | ((c >> 6) & 0x3f));
      abortByte(0x80 | (c & 0x3f));
    } else {
      abortByte(0xf0 | (c >> 18));
      abortByte(0x80 | ((c >> 12) & 0x3f));
      abortByte(0x80 | ((c >> 6) & 0x3f));
      abortByte(0x80 | (c & 0x3f));
    }
  }
}

function abortNumber(n: u32): void {
  let div: u32 = 1;
  while (n / div >= 10) div *= 10;
  for (; div > 0 && abortLen < ABORT_SIZE; div /= 10) abortByte(0x30 + (n / div) % 10);
}

/**
 * @internal `abort`, for asconfig's `use`: prints "abort: MESSAGE at
 * FILE:LINE:COLUMN" to stderr and ends the process as a crash (`trap`)
 * with it as the reason.
 * It allocates nothing (see ABORT).
 */
export function vmAbort(message: string | null, file: string | null, line: u32, column: u32): void {
  const m = changetype<usize>(message);
  const f = changetype<usize>(file);
  abortLen = 0;
  if (__stack_pointer < __data_end) {
    // The shadow stack's own check: its message and file name are not in
    // the module's data (asc adds them after laying the data out).
    abortText(changetype<usize>("abort: stack overflow: calls nested deeper than the shadow stack holds (recurse less deeply, or raise asc's --stackSize)"));
  } else {
    abortText(changetype<usize>("abort: "));
    // A long message leaves room for where it came from.
    abortText(m, ABORT_SIZE - 256);
    abortText(changetype<usize>(" at "));
    abortText(f != 0 ? f : changetype<usize>("?"));
    abortText(changetype<usize>(":"));
    abortNumber(line);
    abortText(changetype<usize>(":"));
    abortNumber(column);
  }
  const text = abortLen;
  store<u8>(ABORT + text, 0x0a); // a newline for stderr only
  store<u32>(IOV, ABORT as u32);
  store<u32>(IOV, (text + 1) as u32, 4);
  fd_write(2, IOV, 1, IOV + 8);
  // A crash (reason `trap`) with the text, which links, monitors and
  // supervisors see.
  process_panic(ABORT, text);
  unreachable();
}

/** @internal `trace`, for asconfig's `use`: prints to stderr. */
export function vmTrace(message: string, n: i32 = 0, a0: f64 = 0, a1: f64 = 0, a2: f64 = 0, a3: f64 = 0, a4: f64 = 0): void {
  let text = "trace: " + message;
  const args = [a0, a1, a2, a3, a4];
  for (let i = 0; i < n && i < 5; i++) text += " " + args[i].toString();
  eprint(text);
}
