// Processes: spawning, typed references, links, monitors, exit signals,
// kill, sleep, and the registry and timers that name and reach them.

import {
  process_self_id, process_spawn, process_load_module, process_link, process_unlink, process_monitor,
  process_demonitor, process_hibernate, process_kill, process_send_exit, process_trap_exits, process_sleep, mailbox_send, registry_register,
  registry_lookup, registry_unregister, timer_send_after, timer_send_after_with_handles, timer_cancel, SpawnOptions,
  ErrorCode,
} from "./abi";
import { failWith, statusOf } from "./status";
import { RET, ok, utf8 } from "./call";
import { Writer } from "./codec";
import { Resource, handleList, moved } from "./handle";

/** The bytes of a message: bytes as they are, anything else encoded by its type. */
function encodeMessage<M>(message: M): Uint8Array {
  if (message instanceof Uint8Array) return message;
  return new Writer().value<M>(message).finish();
}

/**
 * A process, by id, that accepts messages of type `M`. `Process` (bytes)
 * sends bytes as they are (see `Writer`); `Process<T>` for any other `T`
 * encodes each message with `Writer.value<T>` (see codec.ts), as Rust's
 * `Process<T>` does, so a Rust process with a mailbox of `T` decodes it.
 *
 * ```ts
 * const counter = new Process<u32>(id);
 * counter.send(7);
 * ```
 */
export class Process<M = Uint8Array> {
  constructor(public readonly id: u64) {}

  /** This process (accepting bytes; see `typed`). */
  static self(): Process<Uint8Array> {
    return new Process<Uint8Array>(process_self_id());
  }

  /** The same process, accepting `T`. Only what this side sends is checked;
   * the receiver's decode reports a mismatch. */
  typed<T>(): Process<T> {
    return new Process<T>(this.id);
  }

  /** Sends a message with a tag; sending to a process that ended is not an error. */
  send(message: M, tag: u64 = 0): bool {
    const data = encodeMessage<M>(message);
    mailbox_send(this.id, tag, data.dataStart, data.length, 0, 0, RET);
    return ok(1);
  }

  /**
   * Sends bytes, moving the listed handles to the receiver: resources
   * (streams, halves, listeners) or raw handle numbers. On success the
   * resources hold no handle any more; on failure nothing moved.
   */
  sendHandles<H = u32>(data: Uint8Array, handles: H[], tag: u64 = 0): bool {
    const list = handleList<H>(handles);
    mailbox_send(this.id, tag, data.dataStart, data.length, list.dataStart, list.length, RET);
    if (!ok(1)) return false;
    moved<H>(handles);
    return true;
  }

  /** Links with the process; false (status not-found) if it has ended. */
  link(): bool {
    process_link(this.id, RET);
    return ok(1);
  }

  unlink(): void {
    process_unlink(this.id);
  }

  /** Monitors the process; returns the reference its down message carries (its tag). */
  monitor(): u64 {
    return process_monitor(this.id);
  }

  /** Ends the process with reason `killed`, which it cannot trap. */
  kill(): void {
    process_kill(this.id);
  }

  /**
   * Sends the process an exit signal (Erlang's `exit/2`): if it traps exits
   * it receives an exit message from this process; otherwise it ends with
   * reason `exit` and this text. An empty reason is normal, which a process
   * that does not trap exits ignores.
   */
  exit(reason: string): void {
    const r = utf8(reason);
    process_send_exit(this.id, changetype<usize>(r), r.byteLength);
  }

  /** Registers the process under `name`. */
  register(name: string): bool {
    const n = utf8(name);
    registry_register(changetype<usize>(n), n.byteLength, this.id, RET);
    return ok(1);
  }

  /** The process registered under `name`, or null (status not-found). */
  static lookup(name: string): Process<Uint8Array> | null {
    const n = utf8(name);
    registry_lookup(changetype<usize>(n), n.byteLength, RET);
    return ok(8) ? new Process<Uint8Array>(load<u64>(RET, 8)) : null;
  }

  /** Sends a message after `delayMs`; returns the timer reference (for cancelTimer). */
  sendAfter(message: M, delayMs: u64, tag: u64 = 0): u64 {
    const data = encodeMessage<M>(message);
    return timer_send_after(this.id, tag, data.dataStart, data.length, delayMs * 1_000_000);
  }

  /**
   * Sends bytes and handles after `delayMs`. The handles leave this process
   * now (the resources hold none after) and reach the target when the timer
   * fires; if it is cancelled or the target ends first, they are closed.
   * Returns the timer reference, or 0 (see lastStatus) if a handle is not
   * this process's (then nothing moved).
   */
  sendAfterWithHandles<H = u32>(data: Uint8Array, handles: H[], delayMs: u64, tag: u64 = 0): u64 {
    const list = handleList<H>(handles);
    timer_send_after_with_handles(this.id, tag, data.dataStart, data.length, list.dataStart, list.length, delayMs * 1_000_000, RET);
    if (!ok(8)) return 0;
    moved<H>(handles);
    return load<u64>(RET, 8);
  }
}

/** Removes a registered name. */
export function unregister(name: string): bool {
  const n = utf8(name);
  registry_unregister(changetype<usize>(n), n.byteLength, RET);
  return ok(1);
}

/** Cancels a timer; true if it had not fired. */
export function cancelTimer(timer: u64): bool {
  return timer_cancel(timer);
}

/** @internal The name of the export spawned functions start through. */
export const ENTRY = "vm_as_entry_0_1";

/**
 * Starts `fn` in a new process of this module; it receives a copy of
 * `capture`. `fn` must be a top-level function (not a closure). `handles`
 * (resources, or raw handle numbers) move to the new process, which takes
 * them with `takeHandle(0)`, ... before its first receive; on success the
 * resources hold no handle any more. Returns null (see lastStatus) if the
 * VM refuses, and then nothing moved.
 */
export function spawn<H = u32>(fn: (capture: Uint8Array) => void, capture: Uint8Array, link: bool = false, handles: H[] = []): Process<Uint8Array> | null {
  const entry = utf8(ENTRY);
  const list = handleList<H>(handles);
  // A top-level function's reference is static data, at the same address in
  // every instance of this module.
  const index = changetype<usize>(fn) as u32;
  process_spawn(0, changetype<usize>(entry), entry.byteLength, index, capture.dataStart, capture.length,
    list.dataStart, list.length, link ? SpawnOptions.LINK : 0, RET);
  if (!ok(8)) return null;
  moved<H>(handles);
  return new Process<Uint8Array>(load<u64>(RET, 8));
}

/**
 * Hibernates this process (Erlang's `erlang:hibernate/3`): it gives up its
 * instance, stack and memory, keeping its id, mailbox, links, monitors,
 * names and handles. When a message arrives (at once if one is queued),
 * `fn` runs in a fresh instance with `state` as its capture; `handles`
 * move with it, as with `spawn`. Never returns.
 */
export function hibernate<H = u32>(fn: (capture: Uint8Array) => void, state: Uint8Array, handles: H[] = []): void {
  const entry = utf8(ENTRY);
  const list = handleList<H>(handles);
  process_hibernate(changetype<usize>(entry), entry.byteLength, changetype<usize>(fn) as u32, state.dataStart, state.length,
    list.dataStart, list.length);
  unreachable();
}

/** A module loaded at run time, to spawn processes from (any language). */
export class Module extends Resource {
  constructor(handle: u32) {
    super(handle);
  }

  /** Compiles WebAssembly bytes; null (see lastStatus) if they are invalid or incompatible. */
  static load(bytes: Uint8Array): Module | null {
    process_load_module(bytes.dataStart, bytes.length, RET);
    return ok(4) ? new Module(load<u32>(RET, 4)) : null;
  }

  /** Starts export `entry` (taking no argument, or an i32 that gets `arg`); its init message carries `init`. */
  spawn(entry: string, init: Uint8Array, arg: u32 = 0, link: bool = false): Process<Uint8Array> | null {
    if (this.handle == 0) {
      // Handle 0 names this process's own module in process.spawn.
      failWith(statusOf(ErrorCode.INVALID_HANDLE), "the module was closed; load it again to spawn from it");
      return null;
    }
    const e = utf8(entry);
    process_spawn(this.handle, changetype<usize>(e), e.byteLength, arg, init.dataStart, init.length, 0, 0,
      link ? SpawnOptions.LINK : 0, RET);
    return ok(8) ? new Process<Uint8Array>(load<u64>(RET, 8)) : null;
  }

  /** The same as `close`. */
  drop(): void {
    this.close();
  }
}

/** Whether exits of linked processes arrive as messages; returns the previous setting. */
export function trapExits(enabled: bool): bool {
  return process_trap_exits(enabled);
}

/** Stops a monitor: no down for it arrives after this (one already queued is removed). */
export function demonitor(reference: u64): void {
  process_demonitor(reference);
}

/** Suspends this process (not the VM). */
export function sleep(ms: u64): void {
  process_sleep(ms * 1_000_000);
}
