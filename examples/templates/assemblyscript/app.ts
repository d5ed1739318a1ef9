// A new app for the vm:host VM. Build and run it with
//     npm install && npm run build && vm run {{name}}.wasm -- world
//
// `_start` is the root process; top-level code runs in every process, so
// keep it to declarations. The SDK's spawn entry is exported through its
// asconfig.json, which this app's extends. Its message types are in
// messages.wit; messages.ts is generated from it
// (`vm bindgen messages.wit --lang assemblyscript --out .`).
import { Process, Reader, Writer, receive, spawn, print, args, exit, lastError } from "vm-host-sdk/assembly/index";
import { Greet } from "./messages";

function greeter(capture: Uint8Array): void {
  const greet = Greet.fromBytes(capture);
  if (greet == null) exit("a malformed capture");
  new Process(greet!.replyTo).send(new Writer().str("hello, " + greet!.name + "!").finish());
}

export function _start(): void {
  const argv = args();
  const greet = new Greet();
  greet.name = argv.length > 1 ? argv[1] : "world";
  greet.replyTo = Process.self().id;
  if (spawn(greeter, greet.toBytes()) == null) {
    exit("spawn failed: " + lastError());
  }
  const reply = receive();
  print(new Reader(reply!.data).str());
}
