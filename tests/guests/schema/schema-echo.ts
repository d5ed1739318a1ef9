// Decodes each message as an `everything` (everything.wit, through the
// generated everything.ts) and replies with its encoding, tagged as the
// request was; a message that does not decode gets an empty reply tagged 0.
// The Rust polyglot guest sends it postcard's bytes for random values and
// malformed ones (tests/tests/cross_language.rs).
import { Process, MessageKinds, receive } from "../../../sdk-assemblyscript/assembly/index";
import { Everything } from "./everything";

export function serve_everything(): void {
  receive({ kinds: MessageKinds.INIT });
  while (true) {
    const m = receive();
    if (!m.isOk) return;
    const message = m.value;
    const value = Everything.fromBytes(message.data);
    const reply = new Process(message.sender);
    if (!value.isOk) reply.send(new Uint8Array(0), 0);
    else reply.send(value.value.toBytes(), message.tag);
  }
}

export function _start(): void {}
