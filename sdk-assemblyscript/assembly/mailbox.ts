// The mailbox: selective receive of tagged messages, and what they carry
// (bytes, typed values, exit reasons, handles).

import { mailbox_receive_into, mailbox_read, mailbox_take_handle, mailbox_fresh_tag, MessageKind, MessageKinds, EnvelopeLayout } from "./abi";
import { RET, ok, hasTimeout, nanos } from "./call";
import { Reader } from "./codec";
import { ExitReason } from "./exit";
import { DECODE, TRUNCATED, failWith } from "./status";

const ENV: usize = memory.data(48, 8);
/** Where the VM copies a message's first bytes in the receive call itself, so
 * a small message takes one call; `mailbox.read` fetches the rest. */
const HEAD_SIZE: u32 = 256;
const HEAD: usize = memory.data(HEAD_SIZE);

/** A decoded value (a box, so that numbers can be absent too). */
export class Decoded<T> {
  constructor(public readonly value: T) {}
}

/** A received message. */
export class Message {
  constructor(
    /** MessageKind: DATA, EXIT, DOWN or INIT. */
    public readonly kind: u8,
    public readonly tag: u64,
    public readonly sender: u64,
    public readonly data: Uint8Array,
    /** How many handles came with it (take them with takeHandle before the next receive). */
    public readonly handles: u32,
  ) {}

  /** Decodes the bytes as a `T` (see codec.ts); null (status DECODE) if
   * they do not decode or bytes are left over. A `Uint8Array` is the
   * bytes as they are, as `Process<Uint8Array>.send` sends them. */
  decode<T>(): Decoded<T> | null {
    // Bytes are sent as they are (Process<Uint8Array>), so they arrive so.
    if (isReference<T>()) {
      if (idof<T>() == idof<Uint8Array>()) return new Decoded<T>(changetype<T>(this.data));
    }
    const r = new Reader(this.data);
    const value = r.value<T>();
    if (!r.finish()) {
      failWith(DECODE, "a message from process " + this.sender.toString() + " (tag " + this.tag.toString() + ", "
        + this.data.length.toString() + " bytes) does not decode as " + nameof<T>());
      return null;
    }
    return new Decoded<T>(value);
  }

  /** The exit reason a `down` or `exit` message carries; null for other kinds. */
  reason(): ExitReason | null {
    if (this.kind != MessageKind.DOWN && this.kind != MessageKind.EXIT) return null;
    return ExitReason.decode(this.data);
  }
}

/**
 * Waits for the oldest message whose kind is in `kinds` (MessageKinds flags)
 * and, if `tags` is not empty, whose tag is listed; others stay queued.
 * `timeoutMs` < 0 waits forever. Returns null on timeout (status timeout),
 * or if the message's bytes could not be read whole (the message is gone).
 */
export function receive(tags: u64[] = [], kinds: u8 = MessageKinds.DATA, timeoutMs: i64 = -1): Message | null {
  mailbox_receive_into(tags.dataStart, tags.length, kinds, hasTimeout(timeoutMs), nanos(timeoutMs), HEAD as u32, HEAD_SIZE, ENV);
  if (load<u8>(ENV) != 0) {
    store<u8>(RET, 1);
    store<u8>(RET, load<u8>(ENV, 8), 8);
    ok(8);
    return null;
  }
  const e = ENV + 8;
  const size = load<u32>(e + EnvelopeLayout.SIZE);
  const data = new Uint8Array(size);
  memory.copy(data.dataStart, HEAD, min(size, HEAD_SIZE));
  if (size > HEAD_SIZE && !readRest(data, HEAD_SIZE)) return null;
  return new Message(load<u8>(e + EnvelopeLayout.KIND), load<u64>(e + EnvelopeLayout.TAG),
    load<u64>(e + EnvelopeLayout.SENDER), data, load<u32>(e + EnvelopeLayout.HANDLES));
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

/** Takes handle number `index` of the last received message; 0 if there is none. */
export function takeHandle(index: u32): u32 {
  mailbox_take_handle(index, RET);
  return ok(4) ? load<u32>(RET, 4) : 0;
}

/** A tag never returned before, for request/reply. */
export function freshTag(): u64 {
  return mailbox_fresh_tag();
}
