// Request/reply in the Rust SDK's wire format. A request is a data message
// whose bytes are postcard `(from: u64, tag: u64, body)`; the reply is a data
// message to `from`, tagged `tag`, holding the reply's bytes. The client
// takes a fresh tag and monitors the server while it waits (as
// `gen_server:call` does), so a server that ends, or had ended, is an error
// rather than a wait forever.
//
// A server's mailbox takes `Request<Q, R>` (a body `Q`, answered with an
// `R`), so `spawn` and `lookup` give a `Process<Request<Q, R>>`, and
// `request` takes both types from it:
//
// ```ts
// // Server: doubles each number.
// function doubler(_: u32, mailbox: Mailbox<Request<u32, u32>>): void {
//   while (true) {
//     const req = mailbox.receive();
//     if (req.isOk) req.value.reply(req.value.body * 2);
//   }
// }
// // Client:
// const server = spawn(doubler, <u32>0).value;   // Process<Request<u32, u32>>
// const reply = request(server, <u32>21);        // Result<u32>
// print(reply.isOk ? reply.value.toString() : reply.error.toString());   // 42
// ```

import { MessageKind, MessageKinds, mailbox_forget_tag, process_demonitor } from "./abi";
import { RET } from "./call";
import { Reader, Writer, isBytes } from "./codec";
import { ExitReason } from "./exit";
import { freshTag, receiveWith } from "./mailbox";
import { Process } from "./process";
import { Result, VmError } from "./result";
import { DOWN, failWith } from "./status";

/**
 * A request with a body of type `Q`, answered with an `R`, as a server
 * receives it (`Mailbox<Request<Q, R>>`, or `message.decode<Request<Q,
 * R>>()`). On the wire it is postcard `(from: u64, tag: u64, body)`, as in
 * every SDK (a `Uint8Array` body is the rest of the message as it is).
 */
export class Request<Q, R = Uint8Array> {
  /** The requesting process's id. */
  from: u64 = 0;
  /** The tag its reply must carry. */
  tag: u64 = 0;
  /** What was asked. */
  body: Q = zeroOf<Q>();

  /** Writes the request (as `request` sends it). */
  encode(w: Writer): void {
    w.u64(this.from).u64(this.tag);
    if (isReference<Q>()) {
      if (isBytes<Q>()) {
        w.raw(changetype<Uint8Array>(this.body));
        return;
      }
    }
    w.value<Q>(this.body);
  }

  /** Reads a request. */
  decode(r: Reader): void {
    this.from = r.u64();
    this.tag = r.u64();
    if (isReference<Q>()) {
      if (isBytes<Q>()) {
        this.body = changetype<Q>(r.rest());
        return;
      }
    }
    this.body = r.value<Q>();
  }

  /** Answers the request (bytes are sent as they are). */
  reply(value: R): Result<void> {
    return new Process<R>(this.from).send(value, this.tag);
  }
}

/** How `request` waits: `request(server, body, { timeoutMs: 100 })`. */
export class RequestOptions {
  /** How long to wait for the reply, in milliseconds; < 0 (the default): without limit. */
  timeoutMs: i64 = -1;
}

/**
 * Sends `body` to `server` as a request and waits for the reply, at most
 * `options.timeoutMs`, monitoring the server meanwhile (as
 * `gen_server:call` does). Returns the reply as an `R`, or fails with
 * TIMEOUT, DOWN (the server ended first, or had ended: the error's
 * `reason` says why) or DECODE. Other messages stay queued.
 */
export function request<Q, R>(server: Process<Request<Q, R>>, body: Q, options: RequestOptions = {}): Result<R> {
  const monitor = server.monitor();
  const tag = freshTag();
  const req = new Request<Q, R>();
  req.from = Process.self().id;
  req.tag = tag;
  req.body = body;
  const sent = server.send(req);
  if (!sent.isOk) {
    process_demonitor(monitor);
    return Result.err<R>(sent.error);
  }
  // The reply's tag and the monitor's reference come from one sequence in
  // the VM, so the two cannot be confused.
  const answer = receiveWith<Uint8Array>([tag, monitor], MessageKinds.DATA | MessageKinds.DOWN, options.timeoutMs);
  if (answer.isOk && answer.value.kind == MessageKind.DOWN) {
    // The monitor fired: it is gone already.
    const reason = ExitReason.decode(answer.value.data);
    const text = "the server ended before it replied: " + reason.toString();
    failWith(DOWN, text);
    return Result.err<R>(new VmError(DOWN, text, reason));
  }
  // Removes a down that arrived meanwhile, too.
  process_demonitor(monitor);
  if (!answer.isOk) {
    // Timed out: a reply that comes after all (or a Rust server's "no
    // reply" signal, the tag with bit 62) is dropped by the VM, not taken
    // later for another message, as OTP drops it with its alias.
    mailbox_forget_tag(tag, RET);
    mailbox_forget_tag(tag | (1 << 62), RET);
    return Result.err<R>(answer.error);
  }
  return answer.value.decode<R>();
}

/** A zero value of any type (a request's body before it is read). */
function zeroOf<T>(): T {
  if (isReference<T>()) return changetype<T>(<usize>0);
  // @ts-ignore: a number or a bool
  return <T>0;
}
