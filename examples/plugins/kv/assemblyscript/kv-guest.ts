// A process and its child each use the kv plugin, through kv.ts (which `vm
// bindgen kv.wit --lang assemblyscript` generated):
//     vm run --plugin kv_plugin.wasm kv-guest.wasm
//
// Every process that calls the plugin has a store of its own, so the
// child's count does not see the parent's keys.
import { Mailbox, Process, spawn, print, exit } from "../../../../sdk-assemblyscript/assembly/index";
import { store } from "./kv";

function printGet(key: string): void {
  const value = store.get(key);
  print("get " + key + ": " + (value != null ? String.UTF8.decode(value.buffer) : "none"));
}

function printIncrement(key: string, by: i64): void {
  const sum = store.increment(key, by);
  print("increment " + key + ": " + (sum.isOk ? sum.ok.toString() : "error: " + sum.err));
}

// The child counts the keys in its own store and sends the number to the
// parent, its capture.
function child(parent: Process<u32>, _mailbox: Mailbox<Uint8Array>): void {
  parent.send(store.count());
}

export function _start(): void {
  store.set("greeting", Uint8Array.wrap(String.UTF8.encode("hello, plugin")));
  print("set greeting");
  printGet("greeting");
  printGet("missing");
  print("count: " + store.count().toString());
  printIncrement("hits", 1);
  printIncrement("hits", 2);
  printIncrement("greeting", 1);
  print("remove greeting: " + store.remove("greeting").toString());
  print("remove greeting: " + store.remove("greeting").toString());
  print("count: " + store.count().toString());

  const spawned = spawn(child, Process.self<u32>());
  if (!spawned.isOk) return exit("spawn failed: " + spawned.error.toString());
  const n = new Mailbox<u32>().receive();
  if (!n.isOk) return exit("no count from the child: " + n.error.toString());
  print("child count: " + n.value.toString());
}
