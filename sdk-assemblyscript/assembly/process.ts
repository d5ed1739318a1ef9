// Processes: spawning, references, links, monitors, kill, sleep, and the
// registry and timers that name and reach them.

import {
  process_self_id, process_spawn, process_load_module, process_link, process_unlink, process_monitor,
  process_demonitor, process_kill, process_trap_exits, process_sleep, mailbox_send, registry_register,
  registry_lookup, registry_unregister, timer_send_after, timer_cancel, handle_drop, SpawnOptions,
} from "./abi";
import { fail } from "./status";

/** @internal A return area for raw calls (results are at most 16 bytes). */
export const RET: usize = memory.data(16, 8);

/** @internal The ok flag of a result at RET; records the error otherwise. */
export function ok(payloadOffset: usize): bool {
  if (load<u8>(RET) == 0) return true;
  fail(load<u8>(RET + payloadOffset));
  return false;
}

function utf8(s: string): ArrayBuffer {
  return String.UTF8.encode(s, false, String.UTF8.ErrorMode.REPLACE);
}

/** A process, by id. Send it bytes (see `Writer` for typed messages). */
export class Process {
  constructor(public readonly id: u64) {}

  /** This process. */
  static self(): Process {
    return new Process(process_self_id());
  }

  /** Sends bytes with a tag; sending to a process that ended is not an error. */
  send(data: Uint8Array, tag: u64 = 0): bool {
    mailbox_send(this.id, tag, data.dataStart, data.length, 0, 0, RET);
    return ok(1);
  }

  /** Sends bytes, moving the listed handles (sockets) to the receiver. */
  sendHandles(data: Uint8Array, handles: u32[], tag: u64 = 0): bool {
    const list = new Uint32Array(handles.length);
    for (let i = 0; i < handles.length; i++) list[i] = handles[i];
    mailbox_send(this.id, tag, data.dataStart, data.length, list.dataStart, list.length, RET);
    return ok(1);
  }

  /** Links with the process; false (status not-found) if it has ended. */
  link(): bool {
    process_link(this.id, RET);
    return ok(1);
  }

  unlink(): void {
    process_unlink(this.id);
  }

  /** Monitors the process; returns the reference its down message carries. */
  monitor(): u64 {
    return process_monitor(this.id);
  }

  /** Ends the process with reason `killed`. */
  kill(): void {
    process_kill(this.id);
  }

  /** Registers the process under `name`. */
  register(name: string): bool {
    const n = utf8(name);
    registry_register(changetype<usize>(n), n.byteLength, this.id, RET);
    return ok(1);
  }

  /** The process registered under `name`, or null. */
  static lookup(name: string): Process | null {
    const n = utf8(name);
    registry_lookup(changetype<usize>(n), n.byteLength, RET);
    return ok(8) ? new Process(load<u64>(RET, 8)) : null;
  }

  /** Sends bytes after `delayMs`; returns the timer reference. */
  sendAfter(data: Uint8Array, delayMs: u64, tag: u64 = 0): u64 {
    return timer_send_after(this.id, tag, data.dataStart, data.length, delayMs * 1_000_000);
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

/** The name of the export spawned functions start through. */
const ENTRY = "vm_as_entry_0_1";

/**
 * Starts `fn` in a new process of this module; it receives a copy of
 * `capture`. `fn` must be a top-level function (not a closure). Returns null
 * (see lastStatus) if the VM refuses.
 */
export function spawn(fn: (capture: Uint8Array) => void, capture: Uint8Array, link: bool = false, handles: u32[] = []): Process | null {
  const entry = utf8(ENTRY);
  const list = new Uint32Array(handles.length);
  for (let i = 0; i < handles.length; i++) list[i] = handles[i];
  // A top-level function's reference is static data, at the same address in
  // every instance of this module.
  const index = changetype<usize>(fn) as u32;
  process_spawn(0, changetype<usize>(entry), entry.byteLength, index, capture.dataStart, capture.length,
    list.dataStart, list.length, link ? SpawnOptions.LINK : 0, RET);
  return ok(8) ? new Process(load<u64>(RET, 8)) : null;
}

/** A module loaded at run time, to spawn processes from (any language). */
export class Module {
  constructor(public readonly handle: u32) {}

  /** Compiles WebAssembly bytes; null (see lastStatus) if they are invalid or incompatible. */
  static load(bytes: Uint8Array): Module | null {
    process_load_module(bytes.dataStart, bytes.length, RET);
    return ok(4) ? new Module(load<u32>(RET, 4)) : null;
  }

  /** Starts export `entry` (taking no argument, or an i32 that gets `arg`); its init message carries `init`. */
  spawn(entry: string, init: Uint8Array, arg: u32 = 0, link: bool = false): Process | null {
    const e = utf8(entry);
    process_spawn(this.handle, changetype<usize>(e), e.byteLength, arg, init.dataStart, init.length, 0, 0,
      link ? SpawnOptions.LINK : 0, RET);
    return ok(8) ? new Process(load<u64>(RET, 8)) : null;
  }

  drop(): void {
    handle_drop(this.handle, RET);
  }
}

/** Whether exits of linked processes arrive as messages; returns the previous setting. */
export function trapExits(enabled: bool): bool {
  return process_trap_exits(enabled);
}

/** Stops a monitor. */
export function demonitor(reference: u64): void {
  process_demonitor(reference);
}

/** Suspends this process (not the VM). */
export function sleep(ms: u64): void {
  process_sleep(ms * 1_000_000);
}
