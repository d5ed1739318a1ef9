// The mailbox: selective receive of tagged messages, and what they carry
// (bytes, typed values, exit reasons, handles).
//
// ```ts
// function counter(start: u64, mailbox: Mailbox<u64>): void {
//   let total = start;
//   while (true) {
//     const n = mailbox.receive({ timeoutMs: 1000 });  // Result<u64>
//     if (!n.isOk) return;                             // timeout, or not a u64
//     total += n.value;
//   }
// }
// // Any kind, and the envelope: a down of monitor `ref`.
// const down = receive({ tags: [ref], kinds: MessageKinds.DOWN });
// if (down.isOk) print(down.value.reason()!.toString());
// ```

import { mailbox_receive_into, mailbox_read, mailbox_take_handle, mailbox_take_handle_as, mailbox_fresh_tag, MessageKind, MessageKinds, EnvelopeLayout } from "./abi";
import { RET, ok, hasTimeout, nanos } from "./call";
import { Reader, isBytes } from "./codec";
import { ExitReason } from "./exit";
import { Result, VmError, failed } from "./result";
import { crash } from "./runtime";
import { DECODE, TRUNCATED, failWith } from "./status";

const ENV: usize = memory.data(48, 8);
/** Where the VM copies a message's first bytes in the receive call itself, so
 * a small message takes one call; `mailbox.read` fetches the rest. */
const HEAD_SIZE: u32 = 256;
const HEAD: usize = memory.data(HEAD_SIZE);

/**
 * What a receive waits for. Every field has a default, so an object literal
 * names only what it changes: `receive({ tags: [ref], kinds:
 * MessageKinds.DOWN, timeoutMs: 100 })`.
 */
export class ReceiveOptions {
  /** Only messages with one of these tags; empty (the default): any tag. */
  tags: u64[] = [];
  /** The kinds to take, MessageKinds flags or'ed: DATA (the default), EXIT
   * and DOWN for signals, INIT for a spawned process's init message. */
  kinds: u8 = MessageKinds.DATA;
  /** How long to wait, in milliseconds: < 0 (the default) without limit,
   * 0 to take only what is queued already. */
  timeoutMs: i64 = -1;
}

/** A received message: its envelope, its bytes and, for a data (or init)
 * message, its body decoded as an `M`. */
export class Message<M = Uint8Array> {
  constructor(
    /** MessageKind: DATA, EXIT, DOWN or INIT. */
    public readonly kind: u8,
    /** The tag it was sent with (a down's: the monitor's reference). */
    public readonly tag: u64,
    /** The sending process's id (an exit's or down's: the process that ended). */
    public readonly sender: u64,
    /** Its bytes as they arrived. */
    public readonly data: Uint8Array,
    /** How many handles came with it (take them with takeHandle before the next receive). */
    public readonly handles: u32,
    private readonly decoded: M,
  ) {}

  /** The body of a data (or init) message, as an `M`. An exit or down
   * message has none (read `reason()`): reading it ends the process. */
  get body(): M {
    if (this.kind != MessageKind.DATA && this.kind != MessageKind.INIT) {
      return crash<M>("Message.body was read on a message of kind " + this.kind.toString() + ", which has no body; read reason()");
    }
    return this.decoded;
  }

  /** Decodes the bytes as a `T` (see codec.ts), or fails with DECODE if
   * they do not decode or bytes are left over. A `Uint8Array` is the
   * bytes as they are, as `Process<Uint8Array>.send` sends them. */
  decode<T>(): Result<T> {
    return decodeMessage<T>(this.data, this.sender, this.tag);
  }

  /** The exit reason a `down` or `exit` message carries; null for other kinds. */
  reason(): ExitReason | null {
    if (this.kind != MessageKind.DOWN && this.kind != MessageKind.EXIT) return null;
    return ExitReason.decode(this.data);
  }
}

/** @internal Decodes a message's bytes as a `T`; the failure says whose message it was. */
export function decodeMessage<T>(data: Uint8Array, sender: u64, tag: u64): Result<T> {
  // Bytes are sent as they are (Process<Uint8Array>), so they arrive so.
  if (isReference<T>()) {
    if (isBytes<T>()) return Result.ok<T>(changetype<T>(data));
  }
  const r = new Reader(data);
  const value = r.value<T>();
  if (!r.finish()) {
    const text = "a message from process " + sender.toString() + " (tag " + tag.toString() + ", "
      + data.length.toString() + " bytes) does not decode as " + nameof<T>();
    failWith(DECODE, text);
    return Result.err<T>(new VmError(DECODE, text));
  }
  return Result.ok<T>(value);
}

/**
 * Waits for the oldest message whose kind is in `options.kinds` and, if
 * `options.tags` is not empty, whose tag is listed; others stay queued.
 * A data (or init) message's body is decoded as an `M` (bytes by default).
 * Fails with TIMEOUT when `options.timeoutMs` passes first, TRUNCATED if
 * the message's bytes could not be read whole (it is gone), or DECODE if
 * its body is not an `M` (the error's `received` holds the message).
 */
export function receive<M = Uint8Array>(options: ReceiveOptions = {}): Result<Message<M>> {
  return receiveWith<M>(options.tags, options.kinds, options.timeoutMs);
}

/** @internal `receive` with the options as arguments. */
export function receiveWith<M>(tags: u64[], kinds: u8, timeoutMs: i64): Result<Message<M>> {
  mailbox_receive_into(tags.dataStart, tags.length, kinds, hasTimeout(timeoutMs), nanos(timeoutMs), HEAD as u32, HEAD_SIZE, ENV);
  if (load<u8>(ENV) != 0) {
    store<u8>(RET, 1);
    store<u8>(RET, load<u8>(ENV, 8), 8);
    ok(8);
    return failed<Message<M>>();
  }
  const e = ENV + 8;
  const size = load<u32>(e + EnvelopeLayout.SIZE);
  const data = new Uint8Array(size);
  memory.copy(data.dataStart, HEAD, min(size, HEAD_SIZE));
  if (size > HEAD_SIZE && !readRest(data, HEAD_SIZE)) return failed<Message<M>>();
  const kind = load<u8>(e + EnvelopeLayout.KIND);
  const tag = load<u64>(e + EnvelopeLayout.TAG);
  const sender = load<u64>(e + EnvelopeLayout.SENDER);
  const handles = load<u32>(e + EnvelopeLayout.HANDLES);
  if (kind != MessageKind.DATA && kind != MessageKind.INIT) {
    return Result.ok<Message<M>>(new Message<M>(kind, tag, sender, data, handles, zero<M>()));
  }
  const body = decodeMessage<M>(data, sender, tag);
  if (!body.isOk) {
    const raw = new Message<Uint8Array>(kind, tag, sender, data, handles, data);
    return Result.err<Message<M>>(new VmError(DECODE, body.error.message, null, raw));
  }
  return Result.ok<Message<M>>(new Message<M>(kind, tag, sender, data, handles, body.value));
}

/**
 * A process's mailbox, typed by the messages it takes: what every spawned
 * function gets beside its capture (`function f(capture: C, mailbox:
 * Mailbox<M>)`), so that `spawn(f, capture)` returns a `Process<M>`. The
 * root process makes its own (`new Mailbox<M>()`).
 */
export class Mailbox<M = Uint8Array> {
  /** Waits for the next data message (of `options.tags`, at most
   * `options.timeoutMs`; `options.kinds` is DATA here) and returns its
   * body. Fails as `receive` does. */
  receive(options: ReceiveOptions = {}): Result<M> {
    const m = receiveWith<M>(options.tags, MessageKinds.DATA, options.timeoutMs);
    if (!m.isOk) return Result.err<M>(m.error);
    return Result.ok<M>(m.value.body);
  }

  /** Waits as the free `receive` does (any kinds in `options`) and returns
   * the whole message: tag, sender, handles, an exit's or down's reason. */
  receiveMessage(options: ReceiveOptions = {}): Result<Message<M>> {
    return receiveWith<M>(options.tags, options.kinds, options.timeoutMs);
  }
}

/** A zero value of any type, for the body of a message that has none. */
function zero<T>(): T {
  if (isReference<T>()) return changetype<T>(<usize>0);
  // @ts-ignore: a number or a bool
  return <T>0;
}

/** @internal The call that copies the rest of a message (`mailbox.read`);
 * a test substitutes one that fails, to check that receive reports it. */
export let readCall: (dst: u32, len: u32, ret: usize) => void = (dst: u32, len: u32, ret: usize): void => {
  mailbox_read(dst, len, ret);
};

/** Reads the current message's bytes from `from` to the end of `data`. */
function readRest(data: Uint8Array, from: u32): bool {
  let done = from;
  const size = data.length as u32;
  while (done < size) {
    readCall((data.dataStart as u32) + done, size - done, RET);
    if (!ok(4)) return false;
    const n = load<u32>(RET, 4);
    if (n == 0) {
      failWith(TRUNCATED, "the message ended after " + done.toString() + " of its " + size.toString() + " bytes");
      return false;
    }
    done += n;
  }
  return true;
}

/** Takes handle number `index` of the last received message (wrap it:
 * `new TcpStream(takeHandle(0).value)`); fails if there is none. */
export function takeHandle(index: u32): Result<u32> {
  mailbox_take_handle(index, RET);
  return ok(4) ? Result.ok<u32>(load<u32>(RET, 4)) : failed<u32>();
}

/** Takes handle number `index` of the last received message only if it is
 * of `kind` (`HandleKind.WRITE_HALF`, …; ABI 1.9): one of another kind fails
 * with INVALID_ARGUMENT, the error naming what it is, and stays in the
 * message. `TcpStream.take(0)`, `ReadHalf.take(0)` and their siblings take
 * one as the class it is. */
export function takeHandleAs(index: u32, kind: u8): Result<u32> {
  mailbox_take_handle_as(index, kind, RET);
  return ok(4) ? Result.ok<u32>(load<u32>(RET, 4)) : failed<u32>();
}

/** A tag never returned before, for request/reply. */
export function freshTag(): u64 {
  return mailbox_fresh_tag();
}
