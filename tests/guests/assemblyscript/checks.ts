// Checks of the AssemblyScript SDK's own behaviour (tests/tests/assemblyscript_sdk.rs
// runs `checks NAME` and pins what it prints or how it ends):
//
//   abort-stack-overflow  recurses until the shadow stack overflows: the abort
//                         handler must end the process with its message, not
//                         recurse into a second overflow
//   abort-out-of-memory   aborts with a message as large as the memory left:
//                         the handler must not allocate to report it
//   read-failure          a failed `mailbox.read` for the rest of a large
//                         message makes receive fail with the status
//   long-error            an error's text longer than 256 bytes comes whole
//   sdk-error             after an SDK-level failure, the error (and
//                         lastError()) describes it, not the VM's previous failure
//   close                 every resource closes, and closing releases it
//   moved                 a resource that moved holds handle 0 and fails with
//                         invalid-handle
//   typed                 typed processes, exit reasons, resolve, socket options
//   late-reply            a reply that comes after its request gave up is dropped
//   statuses              every status's number and name (the table every SDK shares)
//   typed-take            a handle taken as the class it is; another kind is refused
//   results               every kind of call reports a failure as a Result,
//                         and `return exit<T>(...)` ends a branch of any type
//   crash-reasons         what a monitor sees of a `throw`, of `exit`, and of
//                         reading the value of a failed call
import {
  Process, Mailbox, Message, ExitReason, Module, Result, VmError, TcpListener, TcpStream, Writer, Reader,
  ReadHalf, WriteHalf,
  receive, spawn, takeHandle, lastStatus, lastError, statusName, print, eprint, exit, args,
  resolve, abiVersion, sdkAbiVersion, MessageKinds, ShutdownHow, Request, request, unregister,
  NOT_FOUND, ALREADY_REGISTERED, TIMEOUT, DECODE,
} from "../../../sdk-assemblyscript/assembly/index";
import { mailbox_read } from "../../../sdk-assemblyscript/assembly/abi";
import * as mailbox from "../../../sdk-assemblyscript/assembly/mailbox";

/** "ok", or the name of the call's failure. */
function outcome<T>(r: Result<T>): string {
  return r.isOk ? "ok" : r.error.name;
}

function check<T>(what: string, r: Result<T>): void {
  print(what + ": " + (r.isOk ? "ok" : "FAILED (" + r.error.toString() + ")"));
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
  print("receive: " + (!m.isOk ? "failed, " + m.error.toString() : m.value.data.length.toString() + " bytes, the last " + m.value.data[999].toString()));
}

// ---- errors ----

function longError(): void {
  let host = "";
  for (let i = 0; i < 30; i++) host += "abcdefghi.";
  host += "example";
  const s = TcpStream.connect(host + ":80");
  print("connect: " + outcome(s));
  const text = s.error.message;
  print("text: " + text.length.toString() + " bytes, ends with the host: " + text.endsWith("--allow-net " + host + "` (or --allow-net '*')").toString()
    + ", lastError() the same: " + (lastError() == text).toString());
}

/** An error, and whether lastStatus() and lastError() say the same. */
function described(e: VmError): string {
  return e.toString() + (e.status == lastStatus() && e.message == lastError() ? "" : " (lastError() says otherwise: " + lastError() + ")");
}

function sdkError(): void {
  // A VM failure first, with its text...
  const nobody = Process.lookup("nobody");
  if (nobody.isOk) return exit("nobody is registered");
  print("vm: " + described(nobody.error));
  // ...then failures the SDK finds itself.
  Process.self().send(new Uint8Array(3).fill(0xff));
  const n = receive().value.decode<u32>();
  print("decode: " + (!n.isOk ? described(n.error) : n.value.toString()));
  if (Process.lookup("nobody").isOk) return exit("nobody is registered");
  const silent = TcpListener.bind("127.0.0.1:0").value;
  const pair = TcpStream.connect(silent.localAddress().value).value;
  const chunk = new Uint8Array(64 * 1024);
  let written = pair.tryWrite(chunk);
  while (written.isOk) written = pair.tryWrite(chunk);
  print("tryWrite: " + described(written.error));
  const zero = pair.setWriteTimeout(0);
  print("setWriteTimeout(0): " + (zero.isOk ? "ok" : described(zero.error)));
}

// ---- resources ----

function closing(): void {
  const listener = TcpListener.bind("127.0.0.1:0").value;
  const address = listener.localAddress().value;
  check("listener closes", listener.close());
  print("closed listener: handle " + listener.handle.toString() + ", accept " + outcome(listener.accept(0))
    + ", close again " + outcome(listener.close()));
  const again = TcpListener.bind(address);
  check("its address is free again", again);

  const stream = TcpStream.connect(address).value;
  const accepted = again.value.accept().value;
  check("stream closes", stream.close());
  const buf = new Uint8Array(4);
  print("peer of a closed stream reads: " + accepted.read(buf).value.toString());
  const halves = accepted.split().value;
  check("read half closes", halves.read.close());
  check("write half closes", halves.write.close());
  const loaded = Module.load(wasmModule());
  if (!loaded.isOk) return exit("load: " + loaded.error.toString());
  const module = loaded.value;
  check("module closes", module.close());
  const spawned = module.spawn("_start", new Uint8Array(0));
  print("closed module spawns: " + (!spawned.isOk ? spawned.error.name : "a process"));
}

/** The smallest module the VM accepts. */
function wasmModule(): Uint8Array {
  const bytes: u8[] = [0, 0x61, 0x73, 0x6d, 1, 0, 0, 0];
  const out = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) out[i] = bytes[i];
  return out;
}

function sink(_: Uint8Array, _mailbox: Mailbox<Uint8Array>): void {
  while (true) receive();
}

function movedReport(what: string, handle: u32, use: Result<i32>): void {
  print(what + ": handle " + handle.toString() + ", then " + (!use.isOk ? use.error.name : "used"));
}

function moved(): void {
  const listener = TcpListener.bind("127.0.0.1:0").value;
  const address = listener.localAddress().value;
  const other = spawn(sink, new Uint8Array(0)).value;
  const buf = new Uint8Array(4);

  const sent = TcpStream.connect(address).value;
  listener.accept();
  other.sendHandles(new Uint8Array(0), [sent]);
  movedReport("sent in a message", sent.handle, sent.read(buf, 0));

  const spawned = TcpStream.connect(address).value;
  listener.accept();
  spawn(sink, new Uint8Array(0), { handles: [spawned] });
  movedReport("spawned with", spawned.handle, spawned.read(buf, 0));

  const split = TcpStream.connect(address).value;
  listener.accept();
  const halves = split.split().value;
  movedReport("split", split.handle, split.read(buf, 0));

  const joined = halves.read.reunite(halves.write).value;
  movedReport("reunited read half", halves.read.handle, halves.read.read(buf, 0));
  movedReport("reunited write half", halves.write.handle, halves.write.write(buf, 0));

  joined.close();
  movedReport("closed", joined.handle, joined.read(buf, 0));

  const timed = TcpStream.connect(address).value;
  listener.accept();
  other.sendAfterWithHandles(new Uint8Array(0), [timed], 1);
  movedReport("sent by a timer", timed.handle, timed.read(buf, 0));

  // A raw number list moves the handle, and the object cannot know it.
  const raw = TcpStream.connect(address).value;
  listener.accept();
  const number = raw.handle;
  other.sendHandles(new Uint8Array(0), [number]);
  print("raw list: the object still holds its number: " + (raw.handle == number).toString());
}

/** A handle taken as the kind the receiver expects (ABI 1.9). */
function typedTake(): void {
  const listener = TcpListener.bind("127.0.0.1:0").value;
  const stream = TcpStream.connect(listener.localAddress().value).value;
  listener.accept();
  const halves = stream.split().value;
  Process.self<Uint8Array>().sendHandles(new Uint8Array(0), [halves.read]);
  receive<Uint8Array>({ kinds: MessageKinds.DATA });
  const wrong = WriteHalf.take(0);
  print("as a write half: " + (wrong.isOk ? "taken" : wrong.error.toString()));
  const right = ReadHalf.take(0);
  print("as a read half: " + (right.isOk ? "taken, handle set " + (right.value.handle != 0).toString() : right.error.toString()));
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

/** Waits for a go, then exits with the reason it was given. */
function exitWith(reason: string, _mailbox: Mailbox<Uint8Array>): void {
  receive();
  exit(reason);
}

/** Answers each request with its body, as bytes. */
function bytesServer(_: Uint8Array, mailbox: Mailbox<Request<Uint8Array, Uint8Array>>): void {
  while (true) {
    const req = mailbox.receive();
    if (req.isOk) req.value.reply(req.value.body);
  }
}

/** Holds the request it is sent until its next message (tag 2), answers
 * it, late, and tells its spawner (tag 3). */
function answersLate(_: Uint8Array, mailbox: Mailbox<Request<Uint8Array, Uint8Array>>): void {
  const req = mailbox.receive({ tags: [0] }).value;
  receive({ tags: [2] });
  req.reply(Uint8Array.wrap(String.UTF8.encode("late")));
  new Process<Uint8Array>(req.from).send(new Uint8Array(0), 3);
}

/** A request that gave up waiting forgets its reply: one that comes after
 * is dropped, not left for a later receive. */
function lateReply(): void {
  const server = spawn(answersLate, new Uint8Array(0)).value;
  const answer = request(server, new Uint8Array(0), { timeoutMs: 20 });
  print("a request that gives up: " + (!answer.isOk ? answer.error.name : "answered"));
  server.typed<Uint8Array>().send(new Uint8Array(0), 2);
  receive({ tags: [3] });
  print("its late reply left over: " + (receive({ timeoutMs: 0 }).isOk ? "yes" : "no"));
}

function typed(): void {
  const server = spawn(bytesServer, new Uint8Array(0)).value;
  const echoed = request(server, Uint8Array.wrap(String.UTF8.encode("raw bytes")));
  print("a bytes request between two processes: " + (!echoed.isOk ? echoed.error.name : String.UTF8.decode(echoed.value.buffer)));

  const p = new Point();
  p.x = -3;
  p.y = 4;
  p.label = "here";
  Process.self<Point>().send(p);
  const got = receive<Point>();
  print("point: " + (!got.isOk ? got.error.name : got.value.body.x.toString() + "," + got.value.body.y.toString() + " " + got.value.body.label));
  Process.self<string[]>().send(["a", "b"]);
  const list = receive<string[]>();
  print("strings: " + (!list.isOk ? list.error.name : list.value.body.join("+")));
  Process.self<string | null>().send(null);
  const none = receive<string | null>();
  print("option: " + (!none.isOk ? none.error.name : none.value.body == null ? "none" : "some"));

  const w = spawn(exitWith, "why").value;
  const ref = w.monitor();
  w.send(new Uint8Array(0));
  const d = receive({ tags: [ref], kinds: MessageKinds.DOWN }).value;
  const reason = d.reason()!;
  print("exit reason: " + reason.toString() + " (kind " + reason.kind.toString() + " == EXIT: " + (reason.kind == ExitReason.EXIT).toString() + ")");

  const addrs = resolve("localhost:8080");
  print("resolve localhost:8080: " + (!addrs.isOk ? addrs.error.name : addrs.value.length > 0 && addrs.value.every((a: string) => a.endsWith(":8080")) ? "loopback addresses" : addrs.value.join(",")));
  const denied = resolve("example.com");
  print("resolve example.com: " + (!denied.isOk ? denied.error.name : "resolved"));

  const listener = TcpListener.bind("127.0.0.1:0").value;
  const stream = TcpStream.connect(listener.localAddress().value).value;
  listener.accept();
  const before = stream.nodelay();
  const cleared = stream.setNodelay(false);
  print("nodelay: " + before.value.toString() + ", then " + (cleared.isOk ? stream.nodelay().value.toString() : cleared.error.name));
  stream.setReadTimeout(1500);
  stream.setWriteTimeout(20);
  const halves = stream.split().value;
  print("timeouts move to the halves: read " + halves.read.readTimeout().value.toString() + " ms, write " + halves.write.writeTimeout().value.toString() + " ms");
  halves.read.setReadTimeout(-1);
  print("a cleared timeout reads as " + halves.read.readTimeout().value.toString() + ", as the setter takes it");
  print("halves' addresses: " + (halves.read.localAddress().value == halves.write.localAddress().value).toString()
    + ", peer " + (halves.read.peerAddress().value == listener.localAddress().value).toString());
  check("read half shuts down", halves.read.shutdown());
  check("write half shuts down", halves.write.shutdown());
  print("shutdown how: " + ShutdownHow.BOTH.toString());
  print("abi: vm " + abiVersion().toString() + ", sdk " + sdkAbiVersion().toString() + ", served: " + abiVersion().serves(sdkAbiVersion()).toString());
}

// ---- one convention for failures ----

/** `return exit<T>(...)` ends a branch in a function of any type, so the
 * compiler narrows after it (AssemblyScript has no `never`). */
function port(text: string | null): u32 {
  if (text == null) return exit<u32>("no port");
  return U32.parseInt(text);
}

function results(): void {
  // A call with a value, failing: the error names its status.
  const nobody = Process.lookup("nobody");
  print("lookup: " + outcome(nobody) + " (NOT_FOUND: " + (nobody.error.status == NOT_FOUND).toString()
    + ", an Error: " + (nobody.error instanceof Error).toString() + ")");
  print("valueOr: " + nobody.valueOr(new Process(7)).id.toString());
  // Calls with nothing to return: Result<void>.
  const me = Process.self();
  const again = me.register("me").isOk ? me.register("me") : Result.done();
  print("register: ok, again: " + outcome(again) + " (ALREADY_REGISTERED: " + (!again.isOk && again.error.status == ALREADY_REGISTERED).toString() + ")");
  print("unregister: " + outcome(unregister("me")) + ", again: " + outcome(unregister("me")));
  // A receive, and a number.
  const none = receive({ timeoutMs: 0 });
  print("receive: " + outcome(none) + " (TIMEOUT: " + (!none.isOk && none.error.status == TIMEOUT).toString() + ")");
  Process.self().send(new Uint8Array(3).fill(0xff));
  const bad = receive<u32>();
  const kept: Message | null = bad.isOk ? null : bad.error.received;
  print("receive<u32> of 3 bad bytes: " + outcome(bad) + " (DECODE: " + (!bad.isOk && bad.error.status == DECODE).toString()
    + ", the message kept: " + (kept != null ? kept.data.length.toString() + " bytes" : "no") + ")");
  const listener = TcpListener.bind("127.0.0.1:0").value;
  const stream = TcpStream.connect(listener.localAddress().value).value;
  stream.close();
  print("read of a closed stream: " + outcome(stream.read(new Uint8Array(4))));
  print("port: " + port("8080").toString());
}

/** Waits for a go, then throws. */
function thrower(_: i32, _mailbox: Mailbox<Uint8Array>): void {
  receive();
  throw new Error("thrown on purpose");
}

/** Waits for a go, then exits. */
function exiter(_: i32, _mailbox: Mailbox<Uint8Array>): void {
  receive();
  exit("exited on purpose");
}

/** Waits for a go, then reads the value of a failed call. */
function unwrapper(_: i32, _mailbox: Mailbox<Uint8Array>): void {
  receive();
  const nobody = Process.lookup("nobody").value;
  nobody.send(new Uint8Array(0));
}

/** What a monitor sees when `fn` ends. */
function reasonOf(fn: (capture: i32, mailbox: Mailbox<Uint8Array>) => void): ExitReason {
  const p = spawn(fn, 0).value;
  const ref = p.monitor();
  p.send(new Uint8Array(0));
  return receive({ tags: [ref], kinds: MessageKinds.DOWN }).value.reason()!;
}

function crashReasons(): void {
  print("throw: " + reasonOf(thrower).toString());
  print("exit: " + reasonOf(exiter).toString());
  print("value of a failure: " + reasonOf(unwrapper).toString());
}

/** Every status's number and name, as C's `edges statuses` prints them. */
function statuses(): void {
  for (let s = 0; s <= 20; s++) print(s.toString() + " " + statusName(s));
  for (let s = 1000; s <= 1010; s++) print(s.toString() + " " + statusName(s));
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
  else if (name == "results") results();
  else if (name == "crash-reasons") crashReasons();
  else if (name == "statuses") statuses();
  else if (name == "typed-take") typedTake();
  else {
    eprint("usage: checks abort-stack-overflow|abort-out-of-memory|read-failure|long-error|sdk-error|close|moved|typed|late-reply|results|crash-reasons|statuses|typed-take");
    exit("unknown check '" + name + "'");
  }
}
