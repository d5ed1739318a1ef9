// The vm:host SDK for AssemblyScript: typed processes and mailboxes, exit
// reasons, request/reply, registry, timers, TCP with split halves, and the
// postcard codec shared with Rust and C.
//
// Errors. Every call that can fail returns a `Result<T>` (`Result<void>`
// when it has nothing to return): check `isOk`, then read `value`, or
// `error`, a `VmError` (an `Error` whose `status` is one of status.ts's
// constants, compared by name, `name` is its name and `message` the VM's or
// the SDK's explanation). There is no other convention: no null, -1, 0 or
// false for a failure. AssemblyScript cannot catch exceptions (a `throw`
// ends the process as a crash) and has no `u64 | null`, so the failure is
// a value, as in Rust; reading `value` of a failure ends the process with
// the error, as Rust's `unwrap`. Calls that cannot fail return their value
// directly: `Process.self`, `monitor`, `sendAfter`, `freshTag`, `trapExits`,
// `cancelTimer` (whether the timer had not fired), and the signals `kill`,
// `Process.exit` and `unlink`, which report nothing to the sender, as
// Erlang's do. `lastStatus()` and `lastError()` describe the last failure
// too. A Reader's sticky `error` flag is the codec's, not a call's.
//
// ```ts
// const counter = Process.lookup<Request<Op, u64>>("counter");
// if (!counter.isOk) return exit("no counter: " + counter.error.toString());
// const n = request(counter.value, Op.get());
// print(n.isOk ? n.value.toString() : "failed: " + n.error.toString());
// ```
//
// `exit(reason)` never returns: end a branch with `return exit(...)`
// (AssemblyScript 0.28 has no `never`; see its comment).
//
// Typing. `spawn(fn, capture)` starts `fn(capture: C, mailbox: Mailbox<M>)`
// and returns a `Process<M>`, which sends only `M`s; the capture travels
// encoded as a `C`. `mailbox.receive()` gives the next `M`; the free
// `receive<M>({ tags, kinds, timeoutMs })` the whole message, any kind.
// Messages encode as postcard, the bytes Rust's and C's processes use (see
// codec.ts; `vm bindgen --lang assemblyscript` generates classes from WIT).
//
// Building. An app exports `_start`, its root process, and builds with an
// asconfig.json that extends this package's (`"extends":
// "./node_modules/vm-host-sdk/asconfig.json"`). That config adds the
// SDK's entries (entry.ts: the export every spawned process starts
// through, and the plugin allocator), routes abort and trace to this SDK
// so modules import nothing from `env`, and runs start-check.js, which
// fails the build of a module without a `_start` of type `() => void` (the
// VM would refuse to run it). Top-level code runs in every process,
// spawned ones too, so keep it to declarations.

export * from "./status";
export * from "./codec";
export { Result, VmError } from "./result";
export { Resource } from "./handle";
export * from "./exit";
export * from "./process";
export { Message, Mailbox, ReceiveOptions, receive, takeHandle, takeHandleAs, freshTag } from "./mailbox";
export * from "./request";
export * from "./net";
export * from "./version";
export * from "./node";
export { print, eprint, exit, args } from "./runtime";
export { MessageKind, MessageKinds, ShutdownHow, Direction, HandleKind } from "./abi";

import { receiveWith } from "./mailbox";
import { MessageKinds } from "./abi";
import { exit } from "./runtime";

/**
 * @internal Every process started with `spawn` (or woken from `hibernate`)
 * begins here, with a reference to the function that decodes its capture
 * (`Start`); the capture is the init message.
 */
export function vm_as_entry_0_1(fn: u32): void {
  const init = receiveWith<Uint8Array>([], MessageKinds.INIT, -1);
  if (!init.isOk) return exit("vm_as_entry: no init message: " + init.error.toString());
  changetype<(init: Uint8Array) => void>(fn)(init.value.data);
}
