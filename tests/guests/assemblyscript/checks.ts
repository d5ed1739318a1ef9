// Checks of the AssemblyScript SDK's own behaviour (tests/tests/assemblyscript_sdk.rs
// runs `checks NAME` and pins what it prints or how it ends):
//
//   abort-stack-overflow  recurses until the shadow stack overflows: the abort
//                         handler must end the process with its message, not
//                         recurse into a second overflow
//   abort-out-of-memory   aborts with a message as large as the memory left:
//                         the handler must not allocate to report it
//   read-failure          a failed `mailbox.read` for the rest of a large
//                         message makes receive return null with the status
//   long-error            lastError() returns a VM text longer than 256 bytes whole
//   sdk-error             after an SDK-level failure, lastError() describes it,
//                         not the VM's previous failure
//   close                 every resource closes, and closing releases it
//   moved                 a resource that moved holds handle 0 and fails with
//                         invalid-handle
//   typed                 typed processes, exit reasons, resolve, socket options
//   late-reply            a reply that comes after its request gave up is dropped
import {
  Process, ExitReason, Module, TcpListener, TcpStream, Writer, Reader,
  receive, spawn, takeHandle, lastStatus, lastError, statusName, print, eprint, exit, args,
  resolve, abiVersion, sdkAbiVersion, MessageKinds, ShutdownHow, Request, request,
} from "../../../sdk-assemblyscript/assembly/index";
import { mailbox_read } from "../../../sdk-assemblyscript/assembly/abi";
import * as mailbox from "../../../sdk-assemblyscript/assembly/mailbox";

function status(): string {
  return statusName(lastStatus());
}

function check(what: string, ok: bool): void {
  print(what + ": " + (ok ? "ok" : "FAILED (" + status() + ": " + lastError() + ")"));
}

// ---- aborts ----

class Node {
  constructor(public next: Node | null, public label: string) {}
}

/** Holds managed values across each call, so every level takes shadow-stack slots. */
function deep(n: i32, node: Node | null): i32 {
  const a = new Node(node, "a");
  const b = new Node(a, "b");
  const c = new Node(b, "c");
  return deep(n + 1, c) + a.label.length + b.label.length + c.label.length;
}

function abortStackOverflow(): void {
  print("recursing");
  deep(0, null);
}

function abortOutOfMemory(): void {
  // Fill the memory the process may have with one string, leaving too little
  // for a copy of it: an abort handler that concatenates cannot report it.
  let text = "x";
  while (text.length < (4 << 20)) text += text;
  print("aborting with " + text.length.toString() + " characters");
  assert(false, text);
}

// ---- mailbox ----

function failingRead(dst: u32, len: u32, ret: usize): void {
  // A buffer outside memory: the VM refuses it, with its own text.
  mailbox_read(0xffff_fff0, len, ret);
}

function readFailure(): void {
  const big = new Uint8Array(1000).fill(7);
  Process.self().send(big);
  mailbox.readCall = failingRead;
  const m = receive();
  print("receive: " + (m == null ? "null, " + status() + ": " + lastError() : m.data.length.toString() + " bytes, the last " + m.data[999].toString()));
}

// ---- errors ----

function longError(): void {
  let host = "";
  for (let i = 0; i < 30; i++) host += "abcdefghi.";
  host += "example";
  const s = TcpStream.connect(host + ":80");
  print("connect: " + (s == null ? status() : "connected"));
  const text = lastError();
  print("text: " + text.length.toString() + " bytes, ends with the host: " + text.endsWith("--allow-net " + host + "` (or --allow-net '*')").toString());
}

function sdkError(): void {
  // A VM failure first, with its text...
  if (Process.lookup("nobody") != null) exit("nobody is registered");
  print("vm: " + status() + ": " + lastError());
  // ...then failures the SDK finds itself.
  Process.self().send(new Uint8Array(3).fill(0xff));
  const m = receive()!;
  const n = m.decode<u32>();
  print("decode: " + (n == null ? status() + ": " + lastError() : n.value.toString()));
  if (Process.lookup("nobody") != null) exit("nobody is registered");
  const silent = TcpListener.bind("127.0.0.1:0")!;
  const pair = TcpStream.connect(silent.localAddress()!)!;
  const chunk = new Uint8Array(64 * 1024);
  while (pair.tryWrite(chunk) > 0) {}
  print("tryWrite: " + status() + ": " + lastError());
  print("setWriteTimeout(0): " + (pair.setWriteTimeout(0) ? "ok" : status() + ": " + lastError()));
}

// ---- resources ----

function closing(): void {
  const listener = TcpListener.bind("127.0.0.1:0")!;
  const address = listener.localAddress()!;
  check("listener closes", listener.close());
  print("closed listener: handle " + listener.handle.toString() + ", accept " + (listener.accept(0) == null ? status() : "ok")
    + ", close again " + (listener.close() ? "ok" : status()));
  const again = TcpListener.bind(address);
  check("its address is free again", again != null);

  const stream = TcpStream.connect(address)!;
  const accepted = again!.accept()!;
  check("stream closes", stream.close());
  const buf = new Uint8Array(4);
  print("peer of a closed stream reads: " + accepted.read(buf).toString());
  const halves = accepted.split()!;
  check("read half closes", halves.read.close());
  check("write half closes", halves.write.close());
  const module = Module.load(wasmModule());
  if (module == null) exit("load: " + lastError());
  check("module closes", module!.close());
  print("closed module spawns: " + (module!.spawn("_start", new Uint8Array(0)) == null ? status() : "a process"));
}

/** The smallest module the VM accepts. */
function wasmModule(): Uint8Array {
  const bytes: u8[] = [0, 0x61, 0x73, 0x6d, 1, 0, 0, 0];
  const out = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) out[i] = bytes[i];
  return out;
}

function sink(_: Uint8Array): void {
  while (true) receive();
}

function movedReport(what: string, handle: u32, use: i32): void {
  print(what + ": handle " + handle.toString() + ", then " + (use < 0 ? status() : "used"));
}

function moved(): void {
  const listener = TcpListener.bind("127.0.0.1:0")!;
  const address = listener.localAddress()!;
  const other = spawn(sink, new Uint8Array(0))!;
  const buf = new Uint8Array(4);

  const sent = TcpStream.connect(address)!;
  listener.accept();
  other.sendHandles(new Uint8Array(0), [sent]);
  movedReport("sent in a message", sent.handle, sent.read(buf, 0));

  const spawned = TcpStream.connect(address)!;
  listener.accept();
  spawn(sink, new Uint8Array(0), false, [spawned]);
  movedReport("spawned with", spawned.handle, spawned.read(buf, 0));

  const split = TcpStream.connect(address)!;
  listener.accept();
  const halves = split.split()!;
  movedReport("split", split.handle, split.read(buf, 0));

  const joined = halves.read.reunite(halves.write)!;
  movedReport("reunited read half", halves.read.handle, halves.read.read(buf, 0));
  movedReport("reunited write half", halves.write.handle, halves.write.write(buf, 0));

  joined.close();
  movedReport("closed", joined.handle, joined.read(buf, 0));

  const timed = TcpStream.connect(address)!;
  listener.accept();
  other.sendAfterWithHandles(new Uint8Array(0), [timed], 1);
  movedReport("sent by a timer", timed.handle, timed.read(buf, 0));

  // A raw number list moves the handle, and the object cannot know it.
  const raw = TcpStream.connect(address)!;
  listener.accept();
  const number = raw.handle;
  other.sendHandles(new Uint8Array(0), [number]);
  print("raw list: the object still holds its number: " + (raw.handle == number).toString());
}

// ---- parity ----

class Point {
  x: i32 = 0;
  y: i32 = 0;
  label: string = "";

  encode(w: Writer): void {
    w.i32(this.x).i32(this.y).str(this.label);
  }

  decode(r: Reader): void {
    this.x = r.i32();
    this.y = r.i32();
    this.label = r.str();
  }
}

function exitWith(capture: Uint8Array): void {
  exit(String.UTF8.decodeUnsafe(capture.dataStart, capture.length));
}

/** Answers each request with its body, as bytes. */
function bytesServer(_: Uint8Array): void {
  while (true) {
    const m = receive();
    if (m == null) return;
    const req = Request.decode<Uint8Array>(m);
    if (req != null) req.reply<Uint8Array>(req.body);
  }
}

/** Holds the request it is sent until its next message (tag 2), answers
 * it, late, and tells its spawner (tag 3). */
function answersLate(_: Uint8Array): void {
  const req = Request.decode<Uint8Array>(receive([0])!)!;
  receive([2]);
  req.reply<Uint8Array>(Uint8Array.wrap(String.UTF8.encode("late")));
  new Process<Uint8Array>(req.from).send(new Uint8Array(0), 3);
}

/** A request that gave up waiting forgets its reply: one that comes after
 * is dropped, not left for a later receive. */
function lateReply(): void {
  const server = spawn(answersLate, new Uint8Array(0))!;
  const answer = request<Uint8Array, Uint8Array>(server.typed<Uint8Array>(), new Uint8Array(0), 20);
  print("a request that gives up: " + (answer == null ? statusName(lastStatus()) : "answered"));
  server.typed<Uint8Array>().send(new Uint8Array(0), 2);
  receive([3]);
  print("its late reply left over: " + (receive([], MessageKinds.DATA, 0) != null ? "yes" : "no"));
}

function typed(): void {
  const server = spawn(bytesServer, new Uint8Array(0))!;
  const echoed = request<Uint8Array, Uint8Array>(server.typed<Uint8Array>(), Uint8Array.wrap(String.UTF8.encode("raw bytes")));
  print("a bytes request between two processes: " + (echoed == null ? status() : String.UTF8.decode(echoed.value.buffer)));

  const self = Process.self();
  const points = self.typed<Point>();
  const p = new Point();
  p.x = -3;
  p.y = 4;
  p.label = "here";
  points.send(p);
  const got = receive()!.decode<Point>();
  print("point: " + (got == null ? status() : got.value.x.toString() + "," + got.value.y.toString() + " " + got.value.label));
  self.typed<string[]>().send(["a", "b"]);
  const list = receive()!.decode<string[]>();
  print("strings: " + (list == null ? status() : list.value.join("+")));
  self.typed<string | null>().send(null);
  const none = receive()!.decode<string | null>();
  print("option: " + (none == null ? status() : none.value == null ? "none" : "some"));

  const w = spawn(exitWith, Uint8Array.wrap(String.UTF8.encode("why")))!;
  const d = receive([w.monitor()], MessageKinds.DOWN)!;
  const reason = d.reason()!;
  print("exit reason: " + reason.toString() + " (kind " + reason.kind.toString() + " == EXIT: " + (reason.kind == ExitReason.EXIT).toString() + ")");

  const addrs = resolve("localhost:8080");
  print("resolve localhost:8080: " + (addrs == null ? status() : addrs.length > 0 && addrs.every((a: string) => a.endsWith(":8080")) ? "loopback addresses" : addrs.join(",")));
  const denied = resolve("example.com");
  print("resolve example.com: " + (denied == null ? status() : "resolved"));

  const listener = TcpListener.bind("127.0.0.1:0")!;
  const stream = TcpStream.connect(listener.localAddress()!)!;
  listener.accept();
  print("nodelay: " + stream.nodelay().toString() + ", then " + (stream.setNodelay(false) ? stream.nodelay().toString() : status()));
  stream.setReadTimeout(1500);
  stream.setWriteTimeout(20);
  const halves = stream.split()!;
  print("timeouts move to the halves: read " + halves.read.readTimeout().toString() + " ms, write " + halves.write.writeTimeout().toString() + " ms");
  halves.read.setReadTimeout(-1);
  print("a cleared timeout reads as " + halves.read.readTimeout().toString() + ", as the setter takes it");
  print("halves' addresses: " + (halves.read.localAddress()! == halves.write.localAddress()!).toString()
    + ", peer " + (halves.read.peerAddress()! == listener.localAddress()!).toString());
  check("read half shuts down", halves.read.shutdown());
  check("write half shuts down", halves.write.shutdown());
  print("shutdown how: " + ShutdownHow.BOTH.toString());
  print("abi: vm " + abiVersion().toString() + ", sdk " + sdkAbiVersion().toString() + ", served: " + abiVersion().serves(sdkAbiVersion()).toString());
}

export function _start(): void {
  const argv = args();
  const name = argv.length > 1 ? argv[1] : "";
  if (name == "abort-stack-overflow") abortStackOverflow();
  else if (name == "abort-out-of-memory") abortOutOfMemory();
  else if (name == "read-failure") readFailure();
  else if (name == "long-error") longError();
  else if (name == "sdk-error") sdkError();
  else if (name == "close") closing();
  else if (name == "moved") moved();
  else if (name == "typed") typed();
  else if (name == "late-reply") lateReply();
  else {
    eprint("usage: checks abort-stack-overflow|abort-out-of-memory|read-failure|long-error|sdk-error|close|moved|typed|late-reply");
    exit("unknown check '" + name + "'");
  }
}
