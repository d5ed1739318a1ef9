// A new app for the vm:host VM. Build and run it with
//     npm install && npm run build && vm run {{name}}.wasm -- world
//
// `_start` is the root process (the SDK's asconfig.json, which this app's
// extends, fails the build without it); top-level code runs in every
// process, so keep it to declarations. Its message types are in
// messages.wit; messages.ts is generated from it
// (`vm bindgen messages.wit --lang assemblyscript --out .`). Calls that can
// fail return a Result: check `isOk`, then read `value` or `error`.
import { Mailbox, Process, spawn, print, args, exit } from "vm-host-sdk/assembly/index";
import { Greet } from "./messages";

/** Greets the name in its capture, answering the process that asked. */
function greeter(greet: Greet, _mailbox: Mailbox<string>): void {
  new Process<string>(greet.replyTo).send("hello, " + greet.name + "!");
}

export function _start(): void {
  const argv = args();
  const greet = new Greet();
  greet.name = argv.length > 1 ? argv[1] : "world";
  greet.replyTo = Process.self().id;
  const spawned = spawn(greeter, greet);
  if (!spawned.isOk) return exit("spawn failed: " + spawned.error.toString());
  const reply = new Mailbox<string>().receive();
  if (!reply.isOk) return exit("no greeting: " + reply.error.toString());
  print(reply.value);
}
