// A new app for the vm:host VM. Build and run it with
//     npm install && npm run build && vm run {{name}}.wasm -- world
//
// `_start` is the root process; top-level code runs in every process, so
// keep it to declarations. The SDK's spawn entry is exported through its
// asconfig.json, which this app's extends.
import { Process, Reader, Writer, receive, spawn, print, args, exit, lastError } from "vm-host-sdk/assembly/index";

function greeter(capture: Uint8Array): void {
  const r = new Reader(capture);
  const name = r.str();
  const parent = new Process(r.u64());
  if (!r.finish()) exit("a malformed capture");
  parent.send(new Writer().str("hello, " + name + "!").finish());
}

export function _start(): void {
  const argv = args();
  const name = argv.length > 1 ? argv[1] : "world";
  if (spawn(greeter, new Writer().str(name).u64(Process.self().id).finish()) == null) {
    exit("spawn failed: " + lastError());
  }
  const reply = receive();
  print(new Reader(reply!.data).str());
}
