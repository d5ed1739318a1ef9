// The smallest app: the root process spawns a greeter and waits for it.
//
// An app exports `_start` (the root process's entry); the SDK's asconfig
// fails the build of one that does not. Top-level code runs in every
// process, so keep it to declarations.
import { Mailbox, Process, Reader, Writer, spawn, print, exit } from "../../sdk-assemblyscript/assembly/index";

/** The greeter's capture: whom to greet, and whom to tell. */
class Greeting {
  name: string = "";
  parent: Process<string> = new Process<string>();

  encode(w: Writer): void {
    w.str(this.name).value(this.parent);
  }

  decode(r: Reader): void {
    this.name = r.str();
    this.parent = r.value<Process<string>>();
  }
}

function greeter(greeting: Greeting, _mailbox: Mailbox<Uint8Array>): void {
  print("hello, " + greeting.name + ", from process " + Process.self().id.toString());
  greeting.parent.send("done");
}

export function _start(): void {
  print("hello from the root process " + Process.self().id.toString());
  const greeting = new Greeting();
  greeting.name = "world";
  greeting.parent = Process.self<string>();
  const spawned = spawn(greeter, greeting);
  if (!spawned.isOk) return exit("spawn failed: " + spawned.error.toString());
  new Mailbox<string>().receive();
  print("goodbye");
}
