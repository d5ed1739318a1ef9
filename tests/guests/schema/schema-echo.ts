// Decodes each message as an `everything` (everything.wit, through the
// generated everything.ts) and replies with its encoding, tagged as the
// request was; a message that does not decode gets an empty reply tagged 0.
// The Rust polyglot guest sends it postcard's bytes for random values and
// malformed ones (tests/tests/cross_language.rs).
import { Process, receive, MessageKinds } from "../../../sdk-assemblyscript/assembly/index";
import { Everything } from "./everything";

export function serve_everything(): void {
  receive([], MessageKinds.INIT);
  while (true) {
    const m = receive();
    if (m == null) return;
    const value = Everything.fromBytes(m.data);
    const reply = new Process(m.sender);
    if (value == null) reply.send(new Uint8Array(0), 0);
    else reply.send(value.toBytes(), m.tag);
  }
}

export function _start(): void {}
