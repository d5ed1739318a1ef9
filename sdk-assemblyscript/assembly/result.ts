// Results: what every call of the SDK that can fail returns (see the top of
// index.ts). AssemblyScript cannot catch an exception (a `throw` ends the
// process) and has no `u64 | null`, so a failure is a value, as in Rust:
// `Result<T>` holds either what the call returned or a `VmError` saying why
// it failed, and `Result<void>` is the result of a call with nothing to
// return.

import { ExitReason } from "./exit";
import { Message } from "./mailbox";
import { crash } from "./runtime";
import { Status, lastError, lastStatus, statusName } from "./status";

/**
 * Why a call failed. `status` is one of the statuses status.ts exports
 * (compare it with them by name: `e.status == TIMEOUT`), `name` its name
 * ("timeout", "not-found", "down", ...) and `message` the VM's or the SDK's
 * explanation. It is an `Error`, so `toString()` gives "NAME: MESSAGE" and
 * `throw result.error` ends the process as a crash with that text.
 */
export class VmError extends Error {
  constructor(
    /** The status: OK never; 1 + an ABI error code, or one of the SDK's (DECODE, DOWN, ...). */
    public readonly status: Status,
    message: string,
    /** For DOWN (a request's server ended first): why it ended. */
    public readonly reason: ExitReason | null = null,
    /** For DECODE from a receive: the message that did not decode, whole
     * (bytes, tag, sender, and its handles still to take). */
    public readonly received: Message<Uint8Array> | null = null,
  ) {
    super(message);
    this.name = statusName(status);
  }
}

/**
 * What a call that can fail returns: `isOk`, then `value` (what it
 * returned) or `error` (why it failed).
 *
 * ```ts
 * const counter = Process.lookup<Request<Op, u64>>("counter");
 * if (!counter.isOk) return exit("no counter: " + counter.error.toString());
 * const n = request(counter.value, Op.get());
 * print(n.isOk ? n.value.toString() : n.error.toString());
 * ```
 *
 * Reading `value` of a failed result ends the process as a crash (reason
 * `trap`) with the error, as Rust's `unwrap` does; `valueOr` gives a
 * fallback instead.
 */
export class Result<T = void> {
  // The value lives in one of two untyped slots so that `Result<void>` is
  // a type too (a field of type `void` is not): a reference (kept alive by
  // the garbage collector through `ref`), or a number's bits.
  private bits: u64 = 0;
  private ref: Object | null = null;
  private failure: VmError | null = null;

  /** A success holding `value`. */
  static ok<T>(value: T): Result<T> {
    const r = new Result<T>();
    if (isReference<T>()) r.ref = changetype<Object | null>(value);
    else if (isFloat<T>()) r.bits = sizeof<T>() == 4 ? <u64>reinterpret<u32>(<f32>value) : reinterpret<u64>(<f64>value);
    // @ts-ignore: an integer or a bool
    else r.bits = <u64>value;
    return r;
  }

  /** The success of a call with nothing to return (one shared object). */
  static done(): Result<void> {
    let d = done;
    if (d == null) done = d = new Result<void>();
    return d;
  }

  /** A failure. */
  static err<T>(error: VmError): Result<T> {
    const r = new Result<T>();
    r.failure = error;
    return r;
  }

  /** Whether the call succeeded. */
  get isOk(): bool {
    return this.failure == null;
  }

  /** Why the call failed; reading it when the call succeeded ends the process (a crash). */
  get error(): VmError {
    const e = this.failure;
    if (e == null) return crash<VmError>("Result.error was read, but the call succeeded");
    return e;
  }

  /** What the call returned; reading it when the call failed ends the
   * process as a crash, with the error as its reason. */
  get value(): T {
    const e = this.failure;
    if (e != null) return crash<T>("the value of a failed call was read: " + e.toString());
    return this.unchecked();
  }

  /** What the call returned, or `fallback` if it failed. */
  valueOr(fallback: T): T {
    return this.failure == null ? this.unchecked() : fallback;
  }

  /** "ok", or the error ("NAME: MESSAGE"). */
  toString(): string {
    const e = this.failure;
    return e == null ? "ok" : e.toString();
  }

  private unchecked(): T {
    if (isVoid<T>()) return;
    if (isReference<T>()) return changetype<T>(this.ref);
    if (isFloat<T>()) {
      // @ts-ignore: f32
      if (sizeof<T>() == 4) return <T>reinterpret<f32>(<u32>this.bits);
      // @ts-ignore: f64
      return <T>reinterpret<f64>(this.bits);
    }
    // @ts-ignore: an integer or a bool
    return <T>this.bits;
  }
}

let done: Result<void> | null = null;

/** @internal The failure the last call recorded (lastStatus, lastError), as a result. */
export function failed<T>(): Result<T> {
  return Result.err<T>(new VmError(lastStatus(), lastError()));
}
