// The vm:host SDK for AssemblyScript: processes (typed or not), mailboxes,
// exit reasons, request/reply, registry, timers, TCP with split halves, and
// the postcard codec shared with Rust and C.
//
// Compile with the asconfig.json beside this file (extend it), which exports
// the start function as `_start`, and routes abort and trace to this SDK so
// modules import nothing from `env`.

export * from "./status";
export * from "./codec";
export { Resource } from "./handle";
export * from "./exit";
export * from "./process";
export { Message, Decoded, receive, takeHandle, freshTag } from "./mailbox";
export * from "./request";
export * from "./net";
export * from "./version";
export * from "./node";
export { print, eprint, exit, args } from "./runtime";
export { MessageKind, MessageKinds, ShutdownHow, Direction } from "./abi";

import { receive } from "./mailbox";
import { MessageKinds } from "./abi";
import { exit } from "./runtime";

/**
 * @internal Every process started with `spawn` begins here, with a reference
 * to its function; its capture is the init message.
 */
export function vm_as_entry_0_1(fn: u32): void {
  const init = receive([], MessageKinds.INIT, -1);
  if (init == null) exit("vm_as_entry: no init message");
  changetype<(capture: Uint8Array) => void>(fn)(init!.data);
}
