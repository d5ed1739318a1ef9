// What AssemblyScript's runtime would otherwise import from `env`: abort and
// trace, implemented on the VM and WASI, so modules import only `vm:host/*`
// and `wasi_snapshot_preview1`. asconfig.json routes them here with `use`.

import { process_exit } from "./abi";

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

/** Ends this process with a reason (an empty reason is a normal exit). */
export function exit(reason: string): void {
  const bytes = String.UTF8.encode(reason, false, String.UTF8.ErrorMode.REPLACE);
  process_exit(changetype<usize>(bytes), bytes.byteLength);
  unreachable();
}

/** @internal `abort`, for asconfig's `use`: ends the process with the message as its reason. */
export function vmAbort(message: string | null, file: string | null, line: u32, column: u32): void {
  const text = "abort: " + (message ? message : "") + " at " + (file ? file : "?") + ":" + line.toString() + ":" + column.toString();
  eprint(text);
  exit(text);
}

/** @internal `trace`, for asconfig's `use`: prints to stderr. */
export function vmTrace(message: string, n: i32 = 0, a0: f64 = 0, a1: f64 = 0, a2: f64 = 0, a3: f64 = 0, a4: f64 = 0): void {
  let text = "trace: " + message;
  const args = [a0, a1, a2, a3, a4];
  for (let i = 0; i < n && i < 5; i++) text += " " + args[i].toString();
  eprint(text);
}
