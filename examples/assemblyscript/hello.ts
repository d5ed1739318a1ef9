// The smallest app: the root process spawns a greeter and waits for it.
//
// An app exports `_start` (the root process's entry) and re-exports the SDK's
// spawn entry. Top-level code runs in every process, so keep it to
// declarations.
import { Process, Writer, Reader, receive, spawn, print, exit, lastError } from "../../sdk-assemblyscript/assembly/index";

function greeter(capture: Uint8Array): void {
  const r = new Reader(capture);
  const name = r.str();
  const parent = new Process(r.u64());
  print("hello, " + name + ", from process " + Process.self().id.toString());
  parent.send(new Uint8Array(0));
}

export function _start(): void {
  print("hello from the root process " + Process.self().id.toString());
  if (spawn(greeter, new Writer().str("world").u64(Process.self().id).finish()) == null) {
    exit("spawn failed: " + lastError());
  }
  receive();
  print("goodbye");
}
