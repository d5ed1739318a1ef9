// The mailbox: selective receive of tagged messages.

import { mailbox_receive_into, mailbox_read, mailbox_take_handle, mailbox_fresh_tag, MessageKinds, EnvelopeLayout } from "./abi";
import { RET as _RET, ok } from "./process";

const ENV: usize = memory.data(48, 8);
/** Where the VM copies a message's first bytes in the receive call itself, so
 * a small message takes one call; `mailbox.read` fetches the rest. */
const HEAD_SIZE: u32 = 256;
const HEAD: usize = memory.data(HEAD_SIZE);

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
}

/**
 * Waits for the oldest message whose kind is in `kinds` (MessageKinds flags)
 * and, if `tags` is not empty, whose tag is listed; others stay queued.
 * `timeoutMs` < 0 waits forever. Returns null on timeout.
 */
export function receive(tags: u64[] = [], kinds: u8 = MessageKinds.DATA, timeoutMs: i64 = -1): Message | null {
  const has = timeoutMs >= 0 ? 1 : 0;
  const nanos: u64 = timeoutMs >= 0 ? (timeoutMs as u64) * 1_000_000 : 0;
  mailbox_receive_into(tags.dataStart, tags.length, kinds, has, nanos, HEAD as u32, HEAD_SIZE, ENV);
  if (load<u8>(ENV) != 0) {
    store<u8>(_RET, 1);
    store<u8>(_RET, load<u8>(ENV, 8), 8);
    ok(8);
    return null;
  }
  const e = ENV + 8;
  const size = load<u32>(e + EnvelopeLayout.SIZE);
  const data = new Uint8Array(size);
  memory.copy(data.dataStart, HEAD, min(size, HEAD_SIZE));
  if (size > HEAD_SIZE) mailbox_read((data.dataStart + HEAD_SIZE) as u32, size - HEAD_SIZE, _RET);
  return new Message(load<u8>(e + EnvelopeLayout.KIND), load<u64>(e + EnvelopeLayout.TAG),
    load<u64>(e + EnvelopeLayout.SENDER), data, load<u32>(e + EnvelopeLayout.HANDLES));
}

/** Takes handle number `index` of the last received message; 0 if there is none. */
export function takeHandle(index: u32): u32 {
  mailbox_take_handle(index, _RET);
  return ok(4) ? load<u32>(_RET, 4) : 0;
}

/** A tag never returned before, for request/reply. */
export function freshTag(): u64 {
  return mailbox_fresh_tag();
}
