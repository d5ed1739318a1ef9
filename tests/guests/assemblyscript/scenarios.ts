// The cross-language scenarios of tests/guests/SCENARIOS.md, through the
// SDK's public API: `scenarios NAME` prints the transcript that
// tests/tests/sdk_scenarios.rs pins for C and AssemblyScript alike.
// Processes synchronise with messages and monitors, never with sleeps.
import {
  Process, Mailbox, Message, ExitReason, Request, Result, TcpListener, TcpStream, ReadHalf, Resource, Writer, Reader,
  receive, spawn, hibernate, request, trapExits, demonitor, unregister, cancelTimer, takeHandle,
  statusName, print, eprint, exit, args, MessageKinds, DOWN, SocketEvent,
  selfNode, nodesUp, nodeName, monitorNode, demonitorNode, nodeId, registerGlobal, lookupGlobal, unregisterGlobal,
  spawnOn,
} from "../../../sdk-assemblyscript/assembly/index";
import { net_read } from "../../../sdk-assemblyscript/assembly/abi";

// ---- helpers ----

function text(s: string): Uint8Array {
  return new Writer().str(s).finish();
}

/** A received text message's string. */
function textOf(m: Result<Message>): string {
  if (!m.isOk) return fail<string>("no message: " + m.error.message);
  return new Reader(m.value.data).str();
}

function fail<T = void>(why: string): T {
  eprint("scenarios: " + why);
  return exit<T>(why);
}

/** "ok", or the name of the call's failure (as the transcripts print it). */
function outcome<T>(r: Result<T>): string {
  return r.isOk ? "ok" : r.error.name;
}

/** An exit reason as the transcripts print it: the text only for `exit`. */
function describe(reason: ExitReason | null): string {
  if (reason == null) return "none";
  return reason.kind == ExitReason.EXIT ? "exit \"" + reason.text + "\"" : reason.name;
}

function started<M>(p: Result<Process<M>>): Process<M> {
  if (!p.isOk) return fail<Process<M>>("spawn failed: " + p.error.message);
  return p.value;
}

/** Receives the down of monitor `ref`. */
function down(ref: u64): Message {
  const m = receive({ tags: [ref], kinds: MessageKinds.DOWN });
  if (!m.isOk) return fail<Message>("no down: " + m.error.message);
  return m.value;
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

function waitThenReturn(_: Uint8Array, _mailbox: Mailbox<Uint8Array>): void {
  receive();
}

function waitThenTrap(_: Uint8Array, _mailbox: Mailbox<Uint8Array>): void {
  receive();
  unreachable();
}

function waitThenExitCustom(_: Uint8Array, _mailbox: Mailbox<Uint8Array>): void {
  receive();
  exit("custom reason");
}

function waitThenExitBye2(_: Uint8Array, _mailbox: Mailbox<Uint8Array>): void {
  receive();
  exit("bye2");
}

function receiveForever(_: Uint8Array, _mailbox: Mailbox<Uint8Array>): void {
  while (true) receive();
}

function trapNow(_: Uint8Array, _mailbox: Mailbox<Uint8Array>): void {
  unreachable();
}

function exitBye(_: Uint8Array, _mailbox: Mailbox<Uint8Array>): void {
  exit("bye");
}

function middle(_: Uint8Array, _mailbox: Mailbox<Uint8Array>): void {
  // Go first: the root's monitor is in place before anything here ends.
  receive();
  started(spawn(trapNow, NONE, { link: true }));
  receiveForever(NONE, _mailbox);
}

function echo(_: Uint8Array, _mailbox: Mailbox<Uint8Array>): void {
  while (true) {
    const m = receive();
    if (m.isOk) new Process(m.value.sender).send(m.value.data);
  }
}

function trapper(capture: Uint8Array, _mailbox: Mailbox<Uint8Array>): void {
  const parent = parentOf(capture);
  trapExits(true);
  parent.send(text("trapping"));
  const m = receive({ kinds: MessageKinds.EXIT });
  if (!m.isOk) return fail("no exit message");
  parent.send(text("from parent: " + (m.value.sender == parent.id).toString() + " " + describe(m.value.reason())));
}

let spins: u64 = 0;

function busy(_: Uint8Array, _mailbox: Mailbox<Uint8Array>): void {
  while (true) spins++;
}

function registeredWorker(capture: Uint8Array, _mailbox: Mailbox<Uint8Array>): void {
  const registered = Process.self().register("worker");
  if (!registered.isOk) return fail("register worker: " + registered.error.message);
  parentOf(capture).send(text("registered"));
  receive();
}

function doubler(_: Uint8Array, mailbox: Mailbox<Request<u32, u32>>): void {
  while (true) {
    const req = mailbox.receive();
    if (!req.isOk) continue;
    if (req.value.body == 0) unreachable();
    req.value.reply(req.value.body * 2);
  }
}

function halfReader(capture: Uint8Array, _mailbox: Mailbox<Uint8Array>): void {
  const half = new ReadHalf(takeHandle(0).value);
  const got = readExactly(half, 5);
  parentOf(capture).send(text(got));
}

// ---- scenarios ----

function monitorScenario(): void {
  const cases: ((c: Uint8Array, m: Mailbox<Uint8Array>) => void)[] = [waitThenReturn, waitThenTrap, waitThenExitCustom];
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
  const none = receive({ tags: [m1], kinds: MessageKinds.DOWN, timeoutMs: 0 });
  print("demonitored: " + (!none.isOk ? none.error.name : "a down") + " after the other monitor's " + describe(other.reason()));
}

function linksScenario(): void {
  const m = started(spawn(middle, NONE));
  const watching = m.monitor();
  go(m);
  print("middle ended: " + describe(down(watching).reason()));
  print("parent still alive");

  trapExits(true);
  const c = started(spawn(exitBye, NONE, { link: true }));
  const exited = receive({ kinds: MessageKinds.EXIT });
  if (!exited.isOk) return fail("no exit message");
  print("trapped exit from child: " + (exited.value.sender == c.id).toString() + " " + describe(exited.value.reason()));

  const l = started(spawn(waitThenExitBye2, NONE, { link: true }));
  const ref = l.monitor();
  l.unlink();
  go(l);
  down(ref);
  const after = receive({ kinds: MessageKinds.EXIT, timeoutMs: 0 });
  print("after unlink: " + (!after.isOk ? after.error.name : describe(after.value.reason())));

  trapExits(false);
  print("link to ended: " + outcome(c.link()));

  trapExits(true);
  const linked = c.link();
  const noproc = receive({ kinds: MessageKinds.EXIT });
  print("link to ended while trapping: " + outcome(linked) + " then " + (!noproc.isOk ? noproc.error.name : describe(noproc.value.reason())));
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
  const echoed = receive<u32>();
  print("normal ignored: still answers " + (echoed.isOk ? echoed.value.body.toString() : echoed.error.message));

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
  const registered = self.register("root");
  if (!registered.isOk) return fail("register root: " + registered.error.message);
  const root = Process.lookup("root");
  print("lookup root: " + (root.isOk && root.value.id == self.id).toString());
  print("second register: " + outcome(self.register("root")));

  const w = started(spawn(registeredWorker, me()));
  print("worker " + textOf(receive()));
  const worker = Process.lookup("worker");
  print("lookup worker: " + (worker.isOk && worker.value.id == w.id).toString());

  const ref = w.monitor();
  go(w);
  down(ref);
  const gone = Process.lookup("worker");
  print("after worker ended: " + (!gone.isOk ? gone.error.name : "still there"));

  const unregistered = unregister("root");
  if (!unregistered.isOk) return fail("unregister root: " + unregistered.error.message);
  print("unregister twice: " + outcome(unregister("root")));
}

function timerScenario(): void {
  const self = Process.self();
  const late = self.sendAfter(text("late"), 50);
  const early = receive({ timeoutMs: 0 });
  print("before: " + (!early.isOk ? early.error.name : textOf(early)));
  print("after: " + textOf(receive()));

  print("cancelled: " + cancelTimer(self.sendAfter(text("never"), 30)).toString());
  self.sendAfter(text("later"), 60);
  print("then: " + textOf(receive()));
  const more = receive({ timeoutMs: 100 });
  print("nothing else: " + (!more.isOk ? more.error.name : textOf(more)));

  print("cancel after firing: " + cancelTimer(late).toString());
}

/** A failed request as the transcripts print it: a down with its reason, or the status. */
function requestFailure<T>(r: Result<T>): string {
  const e = r.error;
  if (e.status == DOWN) return "down " + describe(e.reason);
  return e.name;
}

function requestScenario(): void {
  Process.self<u32>().send(999);
  const s = started(spawn(doubler, NONE));
  const reply = request(s, <u32>21);
  print("21 * 2 = " + (!reply.isOk ? requestFailure(reply) : reply.value.toString()));
  const left = receive();
  if (!left.isOk) return fail("nothing left");
  const n = left.value.decode<u32>();
  print("left in the mailbox: " + (!n.isOk ? n.error.message : n.value.toString()));

  const silent = started(spawn(receiveForever, NONE)).typed<Request<u32, u32>>();
  const none = request(silent, <u32>1, { timeoutMs: 50 });
  print("no reply: " + (!none.isOk ? requestFailure(none) : none.value.toString()));

  const crashed = request(s, <u32>0);
  print("server crashed: " + (!crashed.isOk ? requestFailure(crashed) : crashed.value.toString()));
  const gone = request(s, <u32>5);
  print("server gone: " + (!gone.isOk ? requestFailure(gone) : gone.value.toString()));

  const stray = receive({ kinds: MessageKinds.DOWN, timeoutMs: 0 });
  print("no stray downs: " + (!stray.isOk ? stray.error.name : "a down"));
}

/** Reads until `n` bytes have arrived (or the stream ends). */
function readExactly<S extends Resource>(s: S, n: i32): string {
  const buf = new Uint8Array(n);
  let got = 0;
  while (got < n) {
    // @ts-ignore: streams and read halves both read
    const k: Result<i32> = s.read(buf.subarray(got));
    if (!k.isOk || k.value <= 0) break;
    got += k.value;
  }
  return String.UTF8.decodeUnsafe(buf.dataStart, got as usize);
}

function bytes(s: string): Uint8Array {
  return Uint8Array.wrap(String.UTF8.encode(s));
}

function connected(listener: TcpListener): TcpStream[] {
  const a = TcpStream.connect(listener.localAddress().value);
  if (!a.isOk) return fail<TcpStream[]>("connect: " + a.error.message);
  const b = listener.accept();
  if (!b.isOk) return fail<TcpStream[]>("accept: " + b.error.message);
  return [a.value, b.value];
}

function halvesScenario(): void {
  const bound = TcpListener.bind("127.0.0.1:0");
  if (!bound.isOk) return fail("bind: " + bound.error.message);
  const listener = bound.value;
  const ab = connected(listener);
  const b = ab[1];
  const a = ab[0].split();
  if (!a.isOk) return fail("split: " + a.error.message);
  const ar = a.value.read;
  const aw = a.value.write;
  const arNumber = ar.handle;
  started(spawn(halfReader, me(), { handles: [ar] }));
  b.writeAll(bytes("hello"));
  print("read half in another process: " + textOf(receive()));

  aw.writeAll(bytes("world"));
  print("write half: " + readExactly(b, 5));

  print("addresses: " + (aw.localAddress().value == b.peerAddress().value && aw.peerAddress().value == b.localAddress().value).toString());

  aw.shutdown();
  const buf = new Uint8Array(16);
  const eof = b.read(buf);
  print("after shutdown: " + (eof.isOk && eof.value == 0 ? "end of stream" : "more bytes"));

  const ret = memory.data(8, 4);
  net_read(arNumber, buf.dataStart as u32, buf.length as u32, 0, 0, ret);
  print("moved handle: " + (load<u8>(ret) == 0 ? "ok" : statusName(load<u8>(ret, 4) + 1)));

  const cd = connected(listener);
  const c = cd[0].split().value;
  const d = cd[1].split().value;
  const mismatched = c.read.reunite(d.write);
  print("mismatched reunite: " + outcome(mismatched));
  const rejoined = c.read.reunite(c.write);
  print("reunited: " + outcome(rejoined));
  const joined = rejoined.value;

  const chunk = new Uint8Array(64 * 1024);
  let tried = joined.tryWrite(chunk);
  while (tried.isOk && tried.value > 0) tried = joined.tryWrite(chunk);
  print("try_write on a full buffer: " + outcome(tried));
  const n = joined.write(chunk, 50);
  print("write timeout: " + (!n.isOk ? n.error.name : n.value.toString() + " bytes"));

  const ef = connected(listener);
  const e = ef[0];
  ef[1].writeAll(bytes("peek"));
  const peeked = new Uint8Array(4);
  let p = e.peek(peeked);
  while (p.isOk && p.value < 4) p = e.peek(peeked);
  print("peek then read: " + String.UTF8.decodeUnsafe(peeked.dataStart, 4) + " " + readExactly(e, 4));
  print("silent peer: " + outcome(e.read(buf, 20)));

  const gh = connected(listener);
  const timer = Process.self().sendAfterWithHandles(NONE, [gh[0]], 1);
  if (!timer.isOk) return fail("timer: " + timer.error.message);
  receive();
  const g = new TcpStream(takeHandle(0).value);
  g.writeAll(bytes("via timer"));
  print("stream through a timer: " + readExactly(gh[1], 9));
}

// ---- nodes and global names (ABI 1.8), outside a cluster ----

function nodeLocal(): void {
  const up = nodesUp().value;
  const own = nodeName(selfNode()).value;
  print("self " + selfNode().toString() + ", " + up.length.toString() + " up: " + up[0].toString() +
    ", named " + own + " (" + own.length.toString() + ")");
  const none = nodeName(7);
  print("node 7 name: " + (!none.isOk ? none.error.name : none.value));
  const watch = monitorNode(7);
  const down = receive({ tags: [watch], kinds: MessageKinds.DOWN }).value;
  const reason = ExitReason.decode(down.data);
  print("node 7 down at once: " + reason.name + ", from its id: " + (down.sender == nodeId(7) ? "1" : "0"));
  demonitorNode(monitorNode(selfNode()));
  const me = Process.self().id;
  registerGlobal("g", me);
  print("global again: " + outcome(registerGlobal("g", me)));
  print("global is not the registry: " + outcome(Process.lookup("g")));
  const global = lookupGlobal("g");
  print("lookup global: " + (global.isOk && global.value.id == me ? "1" : "0"));
  print("another node's process: " + outcome(registerGlobal("h", nodeId(3) | 1)));
  unregisterGlobal("g");
  const afterLookup = outcome(lookupGlobal("g"));
  print("after unregister: " + afterLookup + ", again: " + outcome(unregisterGlobal("g")));
  print("spawn on node 5: " + outcome(spawnOn(5, nodeLocalChild, NONE)));
}

function nodeLocalChild(_capture: Uint8Array, _mailbox: Mailbox<Uint8Array>): void {}

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
    if (!m.isOk) return fail("receiving a call: " + m.error.message);
    const r = new Reader(m.value.data);
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
  receiveForever(NONE, new Mailbox<Uint8Array>());
}

/** `ask ID N`: N requests (1..N) to the doubler ID, on another node, and
 * whether each reply is its body doubled; then one that crashes it, and
 * one after it has ended. */
function ask(argv: string[]): void {
  if (argv.length < 4) return exit("usage: scenarios ask ID N");
  const server = new Process<Request<u32, u32>>(U64.parseInt(argv[2]));
  const n = U32.parseInt(argv[3]);
  let doubled = true;
  for (let i: u32 = 1; i <= n; i++) {
    const reply = request(server, i);
    doubled = doubled && reply.isOk && reply.value == i * 2;
  }
  print(n.toString() + " replies, each doubled: " + doubled.toString());
  const crashed = request(server, <u32>0);
  print("server crashed: " + (!crashed.isOk ? requestFailure(crashed) : crashed.value.toString()));
  const gone = request(server, <u32>5);
  print("server gone: " + (!gone.isOk ? requestFailure(gone) : gone.value.toString()));
}

// ---- active ----

/** Receives the socket event tagged `tag` and says what it is. */
function printEvent(what: string, tag: u64): void {
  const e = receive<SocketEvent>({ tags: [tag] });
  if (!e.isOk) return fail("decoding the event: " + e.error.message);
  const event = e.value.body;
  if (event.kind == SocketEvent.DATA) print(what + ": data " + String.UTF8.decode(event.data.buffer));
  else if (event.kind == SocketEvent.CLOSED) print(what + ": closed");
  else print(what + ": error");
}

function activeScenario(): void {
  const bound = TcpListener.bind("127.0.0.1:0");
  if (!bound.isOk) return fail("bind: " + bound.error.message);
  const pair = connected(bound.value);
  const client = pair[0];
  const halves = pair[1].split();
  if (!halves.isOk) return fail("split: " + halves.error.message);
  const r = halves.value.read;
  const tag: u64 = 7;
  const active = r.setActive(1, tag);
  if (!active.isOk) return fail("setActive: " + active.error.message);
  client.writeAll(bytes("ping"));
  printEvent("as a message", tag);
  client.writeAll(bytes("pong"));
  print("passive again, read: " + readExactly(r, 4));
  r.setActive(2, tag);
  const buf = new Uint8Array(4);
  print("a read while active: " + outcome(r.read(buf, 0)));
  client.close();
  printEvent("then", tag);
}

// ---- hibernate ----

/** Its state: the count so far and the root's id. Adds each number it is
 * sent to the count, answers with the sum, and hibernates again. */
function counter(state: Uint8Array, _mailbox: Mailbox<Uint8Array>): void {
  const r = new Reader(state);
  let count = r.u32();
  const root = new Process<u32>(r.u64());
  const m = receive();
  if (!m.isOk) return;
  count += new Reader(m.value.data).u32();
  root.send(count);
  hibernate(counter, new Writer().u32(count).u64(root.id).finish());
}

function hibernateScenario(): void {
  const c = started(spawn(counter, new Writer().u32(0).u64(Process.self().id).finish()));
  let line = "woke for each message, state kept:";
  for (let n: u32 = 1; n <= 3; n++) {
    c.send(new Writer().u32(n).finish());
    line += " " + new Reader(receive().value.data).u32().toString();
  }
  print(line);
  const monitor = c.monitor();
  c.kill();
  print("killed while hibernated: " + describe(down(monitor).reason()));
}
