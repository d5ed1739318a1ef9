// Request/reply in the Rust SDK's wire format. A request is a data message
// whose bytes are postcard `(from: u64, tag: u64, body)`; the reply is a data
// message to `from`, tagged `tag`, holding the reply's bytes. The client
// takes a fresh tag and monitors the server while it waits (as
// `gen_server:call` does), so a server that ends, or had ended, is an error
// rather than a wait forever.
//
// ```ts
// // Server: doubles each number.
// const req = Request.decode<u32>(receive()!)!;
// req.reply<u32>(req.body * 2);
// // Client:
// const reply = request<u32, u32>(server, 21);
// if (reply != null) print(reply.value.toString());   // 42
// ```

import { MessageKind, MessageKinds, mailbox_forget_tag, process_demonitor } from "./abi";
import { RET } from "./call";
import { Reader, Writer } from "./codec";
import { ExitReason } from "./exit";
import { Decoded, Message, freshTag, receive } from "./mailbox";
import { Process } from "./process";
import { DECODE, DOWN, failWith } from "./status";

/** A request with a body of type `Q`, as a server receives it. */
export class Request<Q> {
  constructor(
    /** The requesting process. */
    public readonly from: u64,
    /** The tag its reply must carry. */
    public readonly tag: u64,
    public readonly body: Q,
  ) {}

  /** Decodes a received message as a request; null (status DECODE) if it is not one. */
  static decode<Q>(message: Message): Request<Q> | null {
    const r = new Reader(message.data);
    const from = r.u64();
    const tag = r.u64();
    // A bytes body is the rest of the message as it is, as `request` sends it.
    let body: Q;
    let whole: bool;
    if (isReference<Q>() && isBytes<Q>()) {
      body = changetype<Q>(message.data.slice(r.pos));
      whole = !r.error;
    } else {
      body = r.value<Q>();
      whole = r.finish();
    }
    if (!whole) {
      failWith(DECODE, "a message from process " + message.sender.toString() + " is not a request of " + nameof<Q>());
      return null;
    }
    return new Request<Q>(from, tag, body);
  }

  /** Answers the request with a value of type `R` (bytes are sent as they are). */
  reply<R>(value: R): bool {
    return new Process<R>(this.from).send(value, this.tag);
  }
}

let down: ExitReason | null = null;

/** Why the server of the last request that failed with status DOWN ended. */
export function lastDown(): ExitReason | null {
  return down;
}

/**
 * Sends `body` to `server` as a request and waits for the reply, at most
 * `timeoutMs` (< 0: without limit). Returns the reply decoded as `R`, or
 * null with lastStatus() timeout, DOWN (the server ended first, or had
 * ended: `lastDown()` says why) or DECODE. Other messages stay queued.
 */
export function request<Q, R>(server: Process<Q>, body: Q, timeoutMs: i64 = -1): Decoded<R> | null {
  const monitor = server.monitor();
  const tag = freshTag();
  const w = new Writer().u64(Process.self().id).u64(tag);
  if (body instanceof Uint8Array) {
    // Bytes are the body's encoding already.
    const head = w.finish();
    const data = new Uint8Array(head.length + body.length);
    data.set(head);
    data.set(body, head.length);
    server.typed<Uint8Array>().send(data);
  } else {
    server.typed<Uint8Array>().send(w.value<Q>(body).finish());
  }
  // The reply's tag and the monitor's reference come from one sequence in
  // the VM, so the two cannot be confused.
  const answer = receive([tag, monitor], MessageKinds.DATA | MessageKinds.DOWN, timeoutMs);
  if (answer != null && answer.kind == MessageKind.DOWN) {
    // The monitor fired: it is gone already.
    const reason = ExitReason.decode(answer.data);
    down = reason;
    failWith(DOWN, "the server ended before it replied: " + reason.toString());
    return null;
  }
  // Removes a down that arrived meanwhile, too.
  process_demonitor(monitor);
  if (answer == null) {
    // Timed out: a reply that comes after all (or a Rust server's "no
    // reply" signal, the tag with bit 62) is dropped by the VM, not taken
    // later for another message, as OTP drops it with its alias.
    mailbox_forget_tag(tag, RET);
    mailbox_forget_tag(tag | (1 << 62), RET);
    return null;
  }
  if (isReference<R>()) {
    // A reply of bytes is the bytes as they are.
    if (idof<R>() == idof<Uint8Array>()) return new Decoded<R>(changetype<R>(answer.data));
  }
  return answer.decode<R>();
}

/** Whether `T` is `Uint8Array`: bytes travel as they are. */
function isBytes<T>(): bool {
  if (isReference<T>()) return idof<T>() == idof<Uint8Array>();
  return false;
}
