// Processes: spawning, typed references, links, monitors, exit signals,
// kill, sleep, and the registry and timers that name and reach them.

import {
  process_self_id, process_spawn, process_load_module, process_link, process_unlink, process_monitor,
  process_demonitor, process_hibernate, process_kill, process_send_exit, process_trap_exits, process_sleep, mailbox_send, registry_register,
  registry_lookup, registry_unregister, timer_send_after, timer_send_after_with_handles, timer_cancel,
  SpawnOptions as SpawnFlags, ErrorCode,
} from "./abi";
import { failWith, statusOf } from "./status";
import { RET, ok, utf8, nanosOf } from "./call";
import { Reader, Writer, encode } from "./codec";
import { Resource, handleList, moved } from "./handle";
import { Mailbox } from "./mailbox";
import { Result, failed } from "./result";
import { crash } from "./runtime";

/** The bytes of a message: bytes as they are, anything else encoded by its type. */
function encodeMessage<M>(message: M): Uint8Array {
  return encode<M>(message);
}

/**
 * A process, by id, that accepts messages of type `M`: what `spawn` and
 * `lookup` return. `Process` (bytes) sends bytes as they are (see
 * `Writer`); `Process<T>` for any other `T` encodes each message with
 * `Writer.value<T>` (see codec.ts), as Rust's `Process<T>` does, so a Rust
 * process with a mailbox of `T` decodes it. In a message it is its id (a
 * u64), as in Rust's.
 *
 * ```ts
 * const counter = new Process<u32>(id);
 * counter.send(7);
 * ```
 */
export class Process<M = Uint8Array> {
  private raw: u64;

  constructor(id: u64 = 0) {
    this.raw = id;
  }

  /** The process's id. */
  get id(): u64 {
    return this.raw;
  }

  /** This process, accepting `T` (bytes by default). */
  static self<T = Uint8Array>(): Process<T> {
    return new Process<T>(process_self_id());
  }

  /** Writes the id (a process in a message is its id, as in Rust). */
  encode(w: Writer): void {
    w.u64(this.raw);
  }

  /** Reads the id. */
  decode(r: Reader): void {
    this.raw = r.u64();
  }

  /** The same process, accepting `T`. Only what this side sends is checked;
   * the receiver's decode reports a mismatch. */
  typed<T>(): Process<T> {
    return new Process<T>(this.id);
  }

  /** Sends a message with a tag; sending to a process that ended is not an
   * error. Fails if the VM refuses it (a limit, or a node it cannot reach). */
  send(message: M, tag: u64 = 0): Result<void> {
    const data = encodeMessage<M>(message);
    mailbox_send(this.id, tag, data.dataStart, data.length, 0, 0, RET);
    return ok(1) ? Result.done() : failed<void>();
  }

  /**
   * Sends bytes, moving the listed handles to the receiver: resources
   * (streams, halves, listeners) or raw handle numbers. On success the
   * resources hold no handle any more; on failure nothing moved.
   */
  sendHandles<H = u32>(data: Uint8Array, handles: H[], tag: u64 = 0): Result<void> {
    const list = handleList<H>(handles);
    mailbox_send(this.id, tag, data.dataStart, data.length, list.dataStart, list.length, RET);
    if (!ok(1)) return failed<void>();
    moved<H>(handles);
    return Result.done();
  }

  /** Links with the process; fails (NOT_FOUND) if it has ended (while
   * trapping exits, a noproc exit message comes instead). */
  link(): Result<void> {
    process_link(this.id, RET);
    return ok(1) ? Result.done() : failed<void>();
  }

  /** Removes a link (a signal: it cannot fail). */
  unlink(): void {
    process_unlink(this.id);
  }

  /** Monitors the process; returns the reference its down message carries
   * (its tag). It cannot fail (the ABI gives it no error channel: past its
   * budget the VM ends this process instead); a process that has ended
   * sends a noproc down at once. */
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

  /** Registers the process under `name`; fails with ALREADY_REGISTERED if
   * a live process holds it. */
  register(name: string): Result<void> {
    const n = utf8(name);
    registry_register(changetype<usize>(n), n.byteLength, this.id, RET);
    return ok(1) ? Result.done() : failed<void>();
  }

  /** The process registered under `name`, taken to accept `T` (bytes by
   * default); fails with NOT_FOUND if no process holds the name. */
  static lookup<T = Uint8Array>(name: string): Result<Process<T>> {
    const n = utf8(name);
    registry_lookup(changetype<usize>(n), n.byteLength, RET);
    return ok(8) ? Result.ok<Process<T>>(new Process<T>(load<u64>(RET, 8))) : failed<Process<T>>();
  }

  /** Sends a message after `delayMs`; returns the timer reference (for
   * cancelTimer). It cannot fail, as `monitor`. */
  sendAfter(message: M, delayMs: u64, tag: u64 = 0): u64 {
    const data = encodeMessage<M>(message);
    return timer_send_after(this.id, tag, data.dataStart, data.length, nanosOf(delayMs));
  }

  /**
   * Sends bytes and handles after `delayMs`. The handles leave this process
   * now (the resources hold none after) and reach the target when the timer
   * fires; if it is cancelled or the target ends first, they are closed.
   * Returns the timer reference; fails if a handle is not this process's
   * (then nothing moved).
   */
  sendAfterWithHandles<H = u32>(data: Uint8Array, handles: H[], delayMs: u64, tag: u64 = 0): Result<u64> {
    const list = handleList<H>(handles);
    timer_send_after_with_handles(this.id, tag, data.dataStart, data.length, list.dataStart, list.length, nanosOf(delayMs), RET);
    if (!ok(8)) return failed<u64>();
    moved<H>(handles);
    return Result.ok<u64>(load<u64>(RET, 8));
  }
}

/** Removes a registered name; fails with NOT_FOUND if no live process held it. */
export function unregister(name: string): Result<void> {
  const n = utf8(name);
  registry_unregister(changetype<usize>(n), n.byteLength, RET);
  return ok(1) ? Result.done() : failed<void>();
}

/** Cancels a timer; true if it had not fired. */
export function cancelTimer(timer: u64): bool {
  return timer_cancel(timer);
}

/** @internal The name of the export spawned functions start through. */
export const ENTRY = "vm_as_entry_0_1";

/** How `spawn` starts a process: `spawn(f, capture, { link: true, handles: [stream] })`. */
export class SpawnOptions {
  /** Link the new process with this one (atomically, as Erlang's spawn_link). */
  link: bool = false;
  /** Resources (streams, halves, listeners, modules) that move to the new
   * process, which takes them with `takeHandle(0)`, ... before its first
   * receive. On success they hold no handle here any more. */
  handles: Resource[] = [];
}

/** @internal How a spawned function starts: the entry export calls `start`
 * (one per capture and message type) with the init message, whose bytes are
 * the function's reference and then the capture, encoded. A top-level
 * function's reference is static data, at the same address in every
 * instance of this module, so it can cross to another instance. */
export class Start {
  constructor(
    /** The function the entry calls with the init message's bytes. */
    public readonly start: u32,
    /** The init message's bytes. */
    public readonly init: Uint8Array,
  ) {}

  /** How `fn(capture, mailbox)` starts in a new instance. */
  static of<C, M>(fn: (capture: C, mailbox: Mailbox<M>) => void, capture: C): Start {
    const start = (init: Uint8Array): void => {
      const r = new Reader(init);
      const f = r.u32();
      const c = r.value<C>();
      if (!r.finish()) return crash("a spawned process's capture does not decode as " + nameof<C>());
      changetype<(capture: C, mailbox: Mailbox<M>) => void>(f)(c, new Mailbox<M>());
    };
    const init = new Writer().u32(changetype<usize>(fn) as u32).value<C>(capture).finish();
    return new Start(changetype<usize>(start) as u32, init);
  }
}

/**
 * Starts `fn(capture, mailbox)` in a new process of this module and returns
 * it, typed by what its mailbox takes:
 *
 * ```ts
 * function counter(start: u64, mailbox: Mailbox<u64>): void { ... }
 * const c = spawn(counter, <u64>0, { link: true });   // Result<Process<u64>>
 * if (c.isOk) c.value.send(5);
 * ```
 *
 * `fn` must be a top-level function (not a closure). The capture travels
 * encoded (`Writer.value<C>`: numbers, strings, bytes, arrays, codec
 * classes such as `vm bindgen`'s, processes), so the new process gets a
 * copy. Fails if the VM refuses (LIMIT_REACHED at its process limit), and
 * then nothing moved.
 */
export function spawn<C, M>(fn: (capture: C, mailbox: Mailbox<M>) => void, capture: C, options: SpawnOptions = {}): Result<Process<M>> {
  const start = Start.of<C, M>(fn, capture);
  const entry = utf8(ENTRY);
  const handles = options.handles;
  const list = handleList<Resource>(handles);
  process_spawn(0, changetype<usize>(entry), entry.byteLength, start.start, start.init.dataStart, start.init.length,
    list.dataStart, list.length, options.link ? SpawnFlags.LINK : 0, RET);
  if (!ok(8)) return failed<Process<M>>();
  moved<Resource>(handles);
  return Result.ok<Process<M>>(new Process<M>(load<u64>(RET, 8)));
}

/**
 * Hibernates this process (Erlang's `erlang:hibernate/3`): it gives up its
 * instance, stack and memory, keeping its id, mailbox, links, monitors and
 * names; every handle it owns that is not in `handles` is closed, as is its
 * current message. When a message arrives (at once if one is queued),
 * `fn(state, mailbox)` runs in a fresh instance, `state` a copy as a
 * spawn's capture is; `handles` move with it, as with `spawn`. Never
 * returns (`return hibernate(...)` ends a branch).
 */
export function hibernate<S, M>(fn: (state: S, mailbox: Mailbox<M>) => void, state: S, handles: Resource[] = []): void {
  const start = Start.of<S, M>(fn, state);
  const entry = utf8(ENTRY);
  const list = handleList<Resource>(handles);
  process_hibernate(changetype<usize>(entry), entry.byteLength, start.start, start.init.dataStart, start.init.length,
    list.dataStart, list.length);
  unreachable();
}

/** A module loaded at run time, to spawn processes from (any language). */
export class Module extends Resource {
  constructor(handle: u32) {
    super(handle);
  }

  /** Compiles WebAssembly bytes; fails with MODULE_INVALID or
   * MODULE_INCOMPATIBLE (the error says why). */
  static load(bytes: Uint8Array): Result<Module> {
    process_load_module(bytes.dataStart, bytes.length, RET);
    return ok(4) ? Result.ok<Module>(new Module(load<u32>(RET, 4))) : failed<Module>();
  }

  /** Starts export `entry` (taking no argument, or an i32 that gets `arg`),
   * in any language; its init message carries `init` as it is. The process
   * is taken to accept `M` (bytes by default). */
  spawn<M = Uint8Array>(entry: string, init: Uint8Array, arg: u32 = 0, options: SpawnOptions = {}): Result<Process<M>> {
    if (this.handle == 0) {
      // Handle 0 names this process's own module in process.spawn.
      failWith(statusOf(ErrorCode.INVALID_HANDLE), "the module was closed; load it again to spawn from it");
      return failed<Process<M>>();
    }
    const e = utf8(entry);
    const handles = options.handles;
    const list = handleList<Resource>(handles);
    process_spawn(this.handle, changetype<usize>(e), e.byteLength, arg, init.dataStart, init.length,
      list.dataStart, list.length, options.link ? SpawnFlags.LINK : 0, RET);
    if (!ok(8)) return failed<Process<M>>();
    moved<Resource>(handles);
    return Result.ok<Process<M>>(new Process<M>(load<u64>(RET, 8)));
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
  process_sleep(nanosOf(ms));
}
