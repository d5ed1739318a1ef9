// The cross-language scenarios of tests/guests/SCENARIOS.md, through the
// SDK's public API: `scenarios NAME` prints the transcript that
// tests/tests/sdk_scenarios.rs pins for C and AssemblyScript alike.
// Processes synchronise with messages and monitors, never with sleeps.
import {
  Process, Message, ExitReason, Request, TcpListener, TcpStream, ReadHalf, Resource, Writer, Reader,
  receive, spawn, hibernate, request, lastDown, trapExits, demonitor, unregister, cancelTimer, takeHandle,
  lastStatus, lastError, statusName, print, eprint, exit, args, MessageKinds, DOWN, SocketEvent,
  selfNode, nodesUp, nodeName, monitorNode, demonitorNode, nodeId, registerGlobal, lookupGlobal, unregisterGlobal,
  spawnOn,
} from "../../../sdk-assemblyscript/assembly/index";
import { net_read } from "../../../sdk-assemblyscript/assembly/abi";

// ---- helpers ----

function text(s: string): Uint8Array {
  return new Writer().str(s).finish();
}

/** A received text message's string. */
function textOf(m: Message | null): string {
  if (m == null) fail("no message: " + lastError());
  return new Reader(m!.data).str();
}

function fail(why: string): void {
  eprint("scenarios: " + why);
  exit(why);
}

/** An exit reason as the transcripts print it: the text only for `exit`. */
function describe(reason: ExitReason | null): string {
  if (reason == null) return "none";
  return reason.kind == ExitReason.EXIT ? "exit \"" + reason.text + "\"" : reason.name;
}

function status(): string {
  return statusName(lastStatus());
}

function started(p: Process | null): Process {
  if (p == null) fail("spawn failed: " + lastError());
  return p!;
}

/** Receives the down of monitor `ref`. */
function down(ref: u64): Message {
  const m = receive([ref], MessageKinds.DOWN);
  if (m == null) fail("no down: " + lastError());
  return m!;
}

function go(p: Process): void {
  p.send(new Uint8Array(0));
}

/** The root's id, from a capture. */
function parentOf(capture: Uint8Array): Process {
  return new Process(new Reader(capture).u64());
}

function me(): Uint8Array {
  return new Writer().u64(Process.self().id).finish();
}

const NONE = new Uint8Array(0);

// ---- processes ----

function waitThenReturn(_: Uint8Array): void {
  receive();
}

function waitThenTrap(_: Uint8Array): void {
  receive();
  unreachable();
}

function waitThenExitCustom(_: Uint8Array): void {
  receive();
  exit("custom reason");
}

function waitThenExitBye2(_: Uint8Array): void {
  receive();
  exit("bye2");
}

function receiveForever(_: Uint8Array): void {
  while (true) receive();
}

function trapNow(_: Uint8Array): void {
  unreachable();
}

function exitBye(_: Uint8Array): void {
  exit("bye");
}

function middle(_: Uint8Array): void {
  // Go first: the root's monitor is in place before anything here ends.
  receive();
  started(spawn(trapNow, NONE, true));
  receiveForever(NONE);
}

function echo(_: Uint8Array): void {
  while (true) {
    const m = receive();
    if (m != null) new Process(m.sender).send(m.data);
  }
}

function trapper(capture: Uint8Array): void {
  const parent = parentOf(capture);
  trapExits(true);
  parent.send(text("trapping"));
  const m = receive([], MessageKinds.EXIT);
  if (m == null) fail("no exit message");
  parent.send(text("from parent: " + (m!.sender == parent.id).toString() + " " + describe(m!.reason())));
}

let spins: u64 = 0;

function busy(_: Uint8Array): void {
  while (true) spins++;
}

function registeredWorker(capture: Uint8Array): void {
  if (!Process.self().register("worker")) fail("register worker: " + lastError());
  parentOf(capture).send(text("registered"));
  receive();
}

function doubler(_: Uint8Array): void {
  while (true) {
    const m = receive();
    if (m == null) continue;
    const req = Request.decode<u32>(m);
    if (req == null) continue;
    if (req.body == 0) unreachable();
    req.reply<u32>(req.body * 2);
  }
}

function halfReader(capture: Uint8Array): void {
  const half = new ReadHalf(takeHandle(0));
  const got = readExactly(half, 5);
  parentOf(capture).send(text(got));
}

// ---- scenarios ----

function monitorScenario(): void {
  const cases: ((c: Uint8Array) => void)[] = [waitThenReturn, waitThenTrap, waitThenExitCustom];
  const labels = ["normal", "crash", "custom"];
  let first: Process | null = null;
  for (let i = 0; i < cases.length; i++) {
    const w = started(spawn(cases[i], NONE));
    if (i == 0) first = w;
    const ref = w.monitor();
    go(w);
    const d = down(ref);
    print(labels[i] + ": " + describe(d.reason()) + " " + (d.sender == w.id ? "from it" : "from someone else"));
  }
  print("ended: " + describe(down(first!.monitor()).reason()));

  const w = started(spawn(waitThenReturn, NONE));
  const m1 = w.monitor();
  const m2 = w.monitor();
  demonitor(m1);
  go(w);
  const other = down(m2);
  const none = receive([m1], MessageKinds.DOWN, 0);
  print("demonitored: " + (none == null ? status() : "a down") + " after the other monitor's " + describe(other.reason()));
}

function linksScenario(): void {
  const m = started(spawn(middle, NONE));
  const watching = m.monitor();
  go(m);
  print("middle ended: " + describe(down(watching).reason()));
  print("parent still alive");

  trapExits(true);
  const c = started(spawn(exitBye, NONE, true));
  const exited = receive([], MessageKinds.EXIT);
  if (exited == null) fail("no exit message");
  print("trapped exit from child: " + (exited!.sender == c.id).toString() + " " + describe(exited!.reason()));

  const l = started(spawn(waitThenExitBye2, NONE, true));
  const ref = l.monitor();
  l.unlink();
  go(l);
  down(ref);
  const after = receive([], MessageKinds.EXIT, 0);
  print("after unlink: " + (after == null ? status() : describe(after.reason())));

  trapExits(false);
  print("link to ended: " + (c.link() ? "ok" : status()));

  trapExits(true);
  const linked = c.link();
  const noproc = receive([], MessageKinds.EXIT);
  print("link to ended while trapping: " + (linked ? "ok" : status()) + " then " + (noproc == null ? status() : describe(noproc.reason())));
  trapExits(false);
}

function exitsScenario(): void {
  const w = started(spawn(receiveForever, NONE));
  const ref = w.monitor();
  w.exit("shutdown");
  print("not trapping: " + describe(down(ref).reason()));

  const e = started(spawn(echo, NONE)).typed<u32>();
  e.exit("");
  e.send(7);
  const echoed = receive();
  if (echoed == null) fail("no echo");
  const n = echoed!.decode<u32>();
  print("normal ignored: still answers " + (n == null ? lastError() : n.value.toString()));

  const t = started(spawn(trapper, me()));
  print(textOf(receive()));
  t.exit("please stop");
  print("trapped: " + textOf(receive()));

  const b = started(spawn(busy, NONE));
  const bref = b.monitor();
  b.kill();
  print("killed: " + describe(down(bref).reason()));
}

function registryScenario(): void {
  const self = Process.self();
  if (!self.register("root")) fail("register root: " + lastError());
  const root = Process.lookup("root");
  print("lookup root: " + (root != null && root.id == self.id).toString());
  print("second register: " + (self.register("root") ? "ok" : status()));

  const w = started(spawn(registeredWorker, me()));
  print("worker " + textOf(receive()));
  const worker = Process.lookup("worker");
  print("lookup worker: " + (worker != null && worker.id == w.id).toString());

  const ref = w.monitor();
  go(w);
  down(ref);
  const gone = Process.lookup("worker");
  print("after worker ended: " + (gone == null ? status() : "still there"));

  if (!unregister("root")) fail("unregister root: " + lastError());
  print("unregister twice: " + (unregister("root") ? "ok" : status()));
}

function timerScenario(): void {
  const self = Process.self();
  const late = self.sendAfter(text("late"), 50);
  const early = receive([], MessageKinds.DATA, 0);
  print("before: " + (early == null ? status() : textOf(early)));
  print("after: " + textOf(receive()));

  print("cancelled: " + cancelTimer(self.sendAfter(text("never"), 30)).toString());
  self.sendAfter(text("later"), 60);
  print("then: " + textOf(receive()));
  const more = receive([], MessageKinds.DATA, 100);
  print("nothing else: " + (more == null ? status() : textOf(more)));

  print("cancel after firing: " + cancelTimer(late).toString());
}

function requestFailure(): string {
  if (lastStatus() == DOWN) return "down " + describe(lastDown());
  return status();
}

function requestScenario(): void {
  Process.self().typed<u32>().send(999);
  const s = started(spawn(doubler, NONE)).typed<u32>();
  const reply = request<u32, u32>(s, 21);
  print("21 * 2 = " + (reply == null ? requestFailure() : reply.value.toString()));
  const left = receive();
  if (left == null) fail("nothing left");
  const n = left!.decode<u32>();
  print("left in the mailbox: " + (n == null ? lastError() : n.value.toString()));

  const silent = started(spawn(receiveForever, NONE)).typed<u32>();
  const none = request<u32, u32>(silent, 1, 50);
  print("no reply: " + (none == null ? requestFailure() : none.value.toString()));

  const crashed = request<u32, u32>(s, 0);
  print("server crashed: " + (crashed == null ? requestFailure() : crashed.value.toString()));
  const gone = request<u32, u32>(s, 5);
  print("server gone: " + (gone == null ? requestFailure() : gone.value.toString()));

  const stray = receive([], MessageKinds.DOWN, 0);
  print("no stray downs: " + (stray == null ? status() : "a down"));
}

/** Reads until `n` bytes have arrived (or the stream ends). */
function readExactly<S extends Resource>(s: S, n: i32): string {
  const buf = new Uint8Array(n);
  let got = 0;
  while (got < n) {
    // @ts-ignore: streams and read halves both read
    const k: i32 = s.read(buf.subarray(got));
    if (k <= 0) break;
    got += k;
  }
  return String.UTF8.decodeUnsafe(buf.dataStart, got as usize);
}

function bytes(s: string): Uint8Array {
  return Uint8Array.wrap(String.UTF8.encode(s));
}

function connected(listener: TcpListener): TcpStream[] {
  const a = TcpStream.connect(listener.localAddress()!);
  if (a == null) fail("connect: " + lastError());
  const b = listener.accept();
  if (b == null) fail("accept: " + lastError());
  return [a!, b!];
}

function halvesScenario(): void {
  const listener = TcpListener.bind("127.0.0.1:0");
  if (listener == null) fail("bind: " + lastError());
  const ab = connected(listener!);
  const b = ab[1];
  const a = ab[0].split();
  if (a == null) fail("split: " + lastError());
  const ar = a!.read;
  const aw = a!.write;
  const arNumber = ar.handle;
  started(spawn(halfReader, me(), false, [ar]));
  b.writeAll(bytes("hello"));
  print("read half in another process: " + textOf(receive()));

  aw.writeAll(bytes("world"));
  print("write half: " + readExactly(b, 5));

  print("addresses: " + (aw.localAddress()! == b.peerAddress()! && aw.peerAddress()! == b.localAddress()!).toString());

  aw.shutdown();
  const buf = new Uint8Array(16);
  print("after shutdown: " + (b.read(buf) == 0 ? "end of stream" : "more bytes"));

  const ret = memory.data(8, 4);
  net_read(arNumber, buf.dataStart as u32, buf.length as u32, 0, 0, ret);
  print("moved handle: " + (load<u8>(ret) == 0 ? "ok" : statusName(load<u8>(ret, 4) + 1)));

  const cd = connected(listener!);
  const c = cd[0].split()!;
  const d = cd[1].split()!;
  const mismatched = c.read.reunite(d.write);
  print("mismatched reunite: " + (mismatched == null ? status() : "ok"));
  const rejoined = c.read.reunite(c.write);
  print("reunited: " + (rejoined == null ? status() : "ok"));

  const chunk = new Uint8Array(64 * 1024);
  while (rejoined!.tryWrite(chunk) > 0) {}
  print("try_write on a full buffer: " + status());
  const n = rejoined!.write(chunk, 50);
  print("write timeout: " + (n < 0 ? status() : n.toString() + " bytes"));

  const ef = connected(listener!);
  const e = ef[0];
  ef[1].writeAll(bytes("peek"));
  const peeked = new Uint8Array(4);
  let p = 0;
  while (p >= 0 && p < 4) p = e.peek(peeked);
  print("peek then read: " + String.UTF8.decodeUnsafe(peeked.dataStart, 4) + " " + readExactly(e, 4));
  print("silent peer: " + (e.read(buf, 20) < 0 ? status() : "bytes"));

  const gh = connected(listener!);
  if (Process.self().sendAfterWithHandles(NONE, [gh[0]], 1) == 0) fail("timer: " + lastError());
  receive();
  const g = new TcpStream(takeHandle(0));
  g.writeAll(bytes("via timer"));
  print("stream through a timer: " + readExactly(gh[1], 9));
}

// ---- nodes and global names (ABI 1.8), outside a cluster ----

function nodeLocal(): void {
  const up = nodesUp();
  const own = nodeName(selfNode())!;
  print("self " + selfNode().toString() + ", " + up.length.toString() + " up: " + up[0].toString() +
    ", named " + own + " (" + own.length.toString() + ")");
  const none = nodeName(7);
  print("node 7 name: " + (none == null ? statusName(lastStatus()) : none));
  const watch = monitorNode(7);
  const down = receive([watch], MessageKinds.DOWN, -1)!;
  const reason = ExitReason.decode(down.data);
  print("node 7 down at once: " + reason.name + ", from its id: " + (down.sender == nodeId(7) ? "1" : "0"));
  demonitorNode(monitorNode(selfNode()));
  const me = Process.self().id;
  registerGlobal("g", me);
  registerGlobal("g", me);
  print("global again: " + statusName(lastStatus()));
  Process.lookup("g");
  print("global is not the registry: " + statusName(lastStatus()));
  print("lookup global: " + (lookupGlobal("g") == me ? "1" : "0"));
  registerGlobal("h", nodeId(3) | 1);
  print("another node's process: " + statusName(lastStatus()));
  unregisterGlobal("g");
  lookupGlobal("g");
  const afterLookup = statusName(lastStatus());
  unregisterGlobal("g");
  print("after unregister: " + afterLookup + ", again: " + statusName(lastStatus()));
  spawnOn(5, nodeLocalChild, new Uint8Array(0));
  print("spawn on node 5: " + statusName(lastStatus()));
}

function nodeLocalChild(_capture: Uint8Array): void {}

export function _start(): void {
  const argv = args();
  const name = argv.length > 1 ? argv[1] : "";
  if (name == "monitor") monitorScenario();
  else if (name == "links") linksScenario();
  else if (name == "exits") exitsScenario();
  else if (name == "registry") registryScenario();
  else if (name == "timer") timerScenario();
  else if (name == "request") requestScenario();
  else if (name == "halves") halvesScenario();
  else if (name == "hibernate") hibernateScenario();
  else if (name == "active") activeScenario();
  else if (name == "cluster-server") clusterServer();
  else if (name == "node-local") nodeLocal();
  else if (name == "doubler") doublerServer();
  else if (name == "ask") ask(argv);
  else {
    eprint(
      "usage: scenarios monitor|links|exits|registry|timer|request|halves|hibernate|active|cluster-server|node-local|doubler|ask ID N",
    );
    exit("unknown scenario '" + name + "'");
  }
}

// ---- cluster ----

/** Serves the Rust `cluster-client` scenario from another node: each
 * Call::Ping { from: u64, seq: u32 } gets `seq` back, Call::Crash ends this
 * process with an abort. Its id is its first line, for the test. */
function clusterServer(): void {
  print("server " + Process.self().id.toString());
  while (true) {
    const m = receive();
    if (m == null) fail("receiving a call: " + lastError());
    const r = new Reader(m!.data);
    if (r.variant() == 1) throw new Error("asked to crash");
    const from = r.u64();
    const seq = r.u32();
    if (r.error) fail("decoding a call");
    new Process<Uint8Array>(from).send(new Writer().u32(seq).finish());
  }
}

/** `doubler`: starts a doubler as `request`'s (a body of 0 traps), which
 * serves requests from other nodes too, prints its id for the test, and
 * waits for good (so the node stays up when the doubler crashes). */
function doublerServer(): void {
  print("doubler " + started(spawn(doubler, NONE)).id.toString());
  receiveForever(NONE);
}

/** `ask ID N`: N requests (1..N) to the doubler ID, on another node, and
 * whether each reply is its body doubled; then one that crashes it, and
 * one after it has ended. */
function ask(argv: string[]): void {
  if (argv.length < 4) exit("usage: scenarios ask ID N");
  const server = new Process<u32>(U64.parseInt(argv[2]));
  const n = U32.parseInt(argv[3]);
  let doubled = true;
  for (let i: u32 = 1; i <= n; i++) {
    const reply = request<u32, u32>(server, i);
    doubled = doubled && reply != null && reply.value == i * 2;
  }
  print(n.toString() + " replies, each doubled: " + doubled.toString());
  const crashed = request<u32, u32>(server, 0);
  print("server crashed: " + (crashed == null ? requestFailure() : crashed.value.toString()));
  const gone = request<u32, u32>(server, 5);
  print("server gone: " + (gone == null ? requestFailure() : gone.value.toString()));
}

// ---- active ----

/** Receives the socket event tagged `tag` and says what it is. */
function printEvent(what: string, tag: u64): void {
  const e = SocketEvent.decode(receive([tag])!);
  if (e == null) fail("decoding the event: " + lastError());
  const event = e!;
  if (event.kind == SocketEvent.DATA) print(what + ": data " + String.UTF8.decode(event.data.buffer));
  else if (event.kind == SocketEvent.CLOSED) print(what + ": closed");
  else print(what + ": error");
}

function activeScenario(): void {
  const listener = TcpListener.bind("127.0.0.1:0");
  if (listener == null) fail("bind: " + lastError());
  const pair = connected(listener!);
  const client = pair[0];
  const halves = pair[1].split();
  if (halves == null) fail("split: " + lastError());
  const r = halves!.read;
  const tag: u64 = 7;
  if (!r.setActive(1, tag)) fail("setActive: " + lastError());
  client.writeAll(bytes("ping"));
  printEvent("as a message", tag);
  client.writeAll(bytes("pong"));
  print("passive again, read: " + readExactly(r, 4));
  r.setActive(2, tag);
  const buf = new Uint8Array(4);
  r.read(buf, 0);
  print("a read while active: " + status());
  client.close();
  printEvent("then", tag);
}

// ---- hibernate ----

/** Its state: the count so far and the root's id. Adds each number it is
 * sent to the count, answers with the sum, and hibernates again. */
function counter(state: Uint8Array): void {
  const r = new Reader(state);
  let count = r.u32();
  const root = new Process<u32>(r.u64());
  const m = receive();
  if (m == null) return;
  count += new Reader(m.data).u32();
  root.send(count);
  hibernate(counter, new Writer().u32(count).u64(root.id).finish());
}

function hibernateScenario(): void {
  const c = started(spawn(counter, new Writer().u32(0).u64(Process.self().id).finish()));
  let line = "woke for each message, state kept:";
  for (let n: u32 = 1; n <= 3; n++) {
    c.send(new Writer().u32(n).finish());
    line += " " + new Reader(receive()!.data).u32().toString();
  }
  print(line);
  const monitor = c.monitor();
  c.kill();
  print("killed while hibernated: " + describe(down(monitor).reason()));
}
