// A request/reply counter service, under a supervisor that restarts it when
// it crashes:
//     vm run counter.wasm -- [CLIENTS] [INCREMENTS]      (3 and 4 by default)
//
// The supervisor starts the counter linked to itself and traps exits, so a
// crash reaches it as a message; it restarts the counter (fresh, from 0) up
// to MAX_RESTARTS times. The counter registers the name "counter" and serves
// requests: increment by n (answered with the new value), get, and crash
// (it throws). Clients find it by name and call it with `request`, which
// monitors the server: a request to a counter that crashed, or had crashed,
// fails with why it ended instead of waiting forever. A client that sees
// that asks the supervisor for the counter that replaced it, and goes on.
//
// The root process runs two rounds of clients: one against the counter as
// started, and one whose counter it crashes first (its own request fails
// with the crash's reason); those clients each see their first request
// fail, then finish against the restarted counter. Clients report to the
// root, which prints in client order, so the transcript does not depend on
// how the processes interleave; the supervisor writes its crash reports to
// stderr. Processes wait for messages and monitors, never for time.
import {
  Mailbox, MessageKind, MessageKinds, Process, Reader, Request, Writer,
  args, eprint, exit, print, receive, request, spawn, trapExits,
} from "../../sdk-assemblyscript/assembly/index";

/** How many times in a row the supervisor restarts the counter before it gives up. */
const MAX_RESTARTS: u32 = 3;
/** How long the root and the clients wait for an answer before they give up (ms). */
const WAIT_MS: i64 = 10_000;
/** Tags of the root's messages: a client is ready, may go, reports. */
const READY: u64 = 1;
const GO: u64 = 2;
const REPORT: u64 = 3;

// ---- messages ----

/** What the counter is asked. On the wire, postcard's `enum Op {
 * Increment(u64), Get, Crash }`, so a Rust or C client could ask too. */
class Op {
  static readonly INCREMENT: u32 = 0;
  static readonly GET: u32 = 1;
  static readonly CRASH: u32 = 2;

  kind: u32 = Op.GET;
  /** How much to add, for INCREMENT. */
  n: u64 = 0;

  static increment(n: u64): Op {
    const op = new Op();
    op.kind = Op.INCREMENT;
    op.n = n;
    return op;
  }

  static get(): Op {
    return new Op();
  }

  static crash(): Op {
    const op = new Op();
    op.kind = Op.CRASH;
    return op;
  }

  encode(w: Writer): void {
    w.variant(this.kind);
    if (this.kind == Op.INCREMENT) w.u64(this.n);
  }

  decode(r: Reader): void {
    this.kind = r.variant();
    if (this.kind == Op.INCREMENT) this.n = r.u64();
    else if (this.kind > Op.CRASH) r.error = true;
  }
}

/** A counter: its mailbox takes requests of an Op, answered with the count. */
type Counter = Process<Request<Op, u64>>;
/** The supervisor: asked with the id of a counter that failed (0: none
 * yet), it answers with the id of the one running, once there is one that
 * is not that one. */
type Supervisor = Process<Request<u64, u64>>;

/** A client's capture: who it is, what to do, whom to report to. */
class Job {
  client: u32 = 0;
  increments: u32 = 0;
  /** Whether to wait for the root's go, once it has found the counter. */
  waitForGo: bool = false;
  root: Process<Report> = new Process<Report>();
  supervisor: Supervisor = new Process<Request<u64, u64>>();

  encode(w: Writer): void {
    w.u32(this.client).u32(this.increments).bool(this.waitForGo).value(this.root).value(this.supervisor);
  }

  decode(r: Reader): void {
    this.client = r.u32();
    this.increments = r.u32();
    this.waitForGo = r.bool();
    this.root = r.value<Process<Report>>();
    this.supervisor = r.value<Process<Request<u64, u64>>>();
  }
}

/** What a client tells the root when it is done. */
class Report {
  client: u32 = 0;
  answered: u32 = 0;
  /** Why each request that got no answer failed. */
  failures: string[] = [];

  encode(w: Writer): void {
    w.u32(this.client).u32(this.answered).value(this.failures);
  }

  decode(r: Reader): void {
    this.client = r.u32();
    this.answered = r.u32();
    this.failures = r.value<string[]>();
  }
}

// ---- the counter ----

function counter(_nothing: i32, mailbox: Mailbox<Request<Op, u64>>): void {
  const named = Process.self().register("counter");
  if (!named.isOk) return exit("the counter cannot take its name: " + named.error.toString());
  let count: u64 = 0;
  while (true) {
    const received = mailbox.receive();
    if (!received.isOk) {
      eprint("counter: " + received.error.toString());
      continue;
    }
    const req = received.value;
    const op = req.body;
    if (op.kind == Op.INCREMENT) {
      count += op.n;
      req.reply(count);
    } else if (op.kind == Op.GET) {
      req.reply(count);
    } else {
      // A crash: the process ends with reason `trap`, which its supervisor
      // (through the link) and its callers (through their monitors) see.
      throw new Error("asked to crash");
    }
  }
}

// ---- the supervisor ----

/** Starts a counter linked to this process; it is up once it answers (it
 * takes its name before it serves). */
function startCounter(): Counter {
  const started = spawn(counter, 0, { link: true });
  if (!started.isOk) return exit<Counter>("the supervisor cannot start the counter: " + started.error.toString());
  const up = request(started.value, Op.get(), { timeoutMs: WAIT_MS });
  if (!up.isOk) return exit<Counter>("the counter did not start: " + up.error.toString());
  return started.value;
}

function supervisor(maxRestarts: u32, mailbox: Mailbox<Request<u64, u64>>): void {
  // A linked process's end arrives as an exit message instead of ending this one.
  trapExits(true);
  let current = startCounter();
  let restarts: u32 = 0;
  // Requests for a counter other than the one running: answered at the restart.
  const waiting = new Array<Request<u64, u64>>();
  while (true) {
    const received = mailbox.receiveMessage({ kinds: MessageKinds.DATA | MessageKinds.EXIT });
    if (!received.isOk) continue;
    const message = received.value;
    if (message.kind == MessageKind.EXIT) {
      if (message.sender != current.id) continue;
      const reason = message.reason()!;
      restarts++;
      eprint("supervisor: the counter crashed (" + reason.toString() + "); restart " + restarts.toString() + " of " + maxRestarts.toString());
      if (restarts > maxRestarts) return exit("the counter crashed " + restarts.toString() + " times; the supervisor gives up");
      current = startCounter();
      for (let i = 0; i < waiting.length; i++) waiting[i].reply(current.id);
      waiting.length = 0;
    } else {
      const req = message.body;
      if (req.body != current.id) req.reply(current.id);
      else waiting.push(req);
    }
  }
}

/** The counter running now, other than `failed` (0: any), from the supervisor. */
function counterAfter(supervisor: Supervisor, failed: u64): Counter {
  const next = request(supervisor, failed, { timeoutMs: WAIT_MS });
  if (!next.isOk) return exit<Counter>("no counter from the supervisor: " + next.error.toString());
  return new Process<Request<Op, u64>>(next.value);
}

// ---- clients ----

function client(job: Job, _mailbox: Mailbox<Uint8Array>): void {
  // By name: whichever counter holds it now.
  const found = Process.lookup<Request<Op, u64>>("counter");
  let counter = found.isOk ? found.value : counterAfter(job.supervisor, 0);
  if (job.waitForGo) {
    job.root.typed<Uint8Array>().send(new Uint8Array(0), READY);
    receive({ tags: [GO] });
  }
  const report = new Report();
  report.client = job.client;
  while (report.answered < job.increments) {
    const reply = request(counter, Op.increment(1), { timeoutMs: WAIT_MS });
    if (reply.isOk) {
      report.answered++;
      continue;
    }
    // No answer: the counter ended first (the error says why). Ask the
    // supervisor for the one that replaced it, and go on with that.
    report.failures.push(reply.error.toString());
    counter = counterAfter(job.supervisor, counter.id);
  }
  job.root.send(report, REPORT);
}

/** Starts `count` clients, each making `increments` increments; with
 * `waitForGo`, returns once each has found the counter and waits for a go. */
function startClients(supervisor: Supervisor, count: u32, increments: u32, waitForGo: bool): Process<Uint8Array>[] {
  const started = new Array<Process<Uint8Array>>();
  for (let i: u32 = 1; i <= count; i++) {
    const job = new Job();
    job.client = i;
    job.increments = increments;
    job.waitForGo = waitForGo;
    job.root = Process.self<Report>();
    job.supervisor = supervisor;
    const spawned = spawn(client, job);
    if (!spawned.isOk) return exit<Process<Uint8Array>[]>("cannot start a client: " + spawned.error.toString());
    started.push(spawned.value);
  }
  if (waitForGo) {
    for (let i: u32 = 0; i < count; i++) {
      const ready = receive({ tags: [READY], timeoutMs: WAIT_MS });
      if (!ready.isOk) return exit<Process<Uint8Array>[]>("a client did not get ready: " + ready.error.toString());
    }
  }
  return started;
}

/** Waits for `count` reports and prints them in client order. */
function printReports(count: u32): void {
  const mailbox = new Mailbox<Report>();
  const reports = new Array<Report | null>(count);
  for (let i: u32 = 0; i < count; i++) {
    const report = mailbox.receive({ tags: [REPORT], timeoutMs: WAIT_MS });
    if (!report.isOk) return exit("a client did not report: " + report.error.toString());
    reports[report.value.client - 1] = report.value;
  }
  for (let i: u32 = 0; i < count; i++) {
    const r = reports[i]!;
    let line = "client " + r.client.toString() + ": " + r.answered.toString() + " increments answered";
    if (r.failures.length > 0) line += ", after " + r.failures.length.toString() + " failed: " + r.failures.join("; ");
    print(line);
  }
}

/** The count, asking the counter by name. */
function count(): string {
  const counter = Process.lookup<Request<Op, u64>>("counter");
  if (!counter.isOk) return counter.error.toString();
  const n = request(counter.value, Op.get(), { timeoutMs: WAIT_MS });
  return n.isOk ? n.value.toString() : n.error.toString();
}

export function _start(): void {
  const argv = args();
  const clients: u32 = argv.length > 1 ? U32.parseInt(argv[1]) : 3;
  const increments: u32 = argv.length > 2 ? U32.parseInt(argv[2]) : 4;

  const spawned = spawn(supervisor, MAX_RESTARTS);
  if (!spawned.isOk) return exit("cannot start the supervisor: " + spawned.error.toString());
  const sup = spawned.value;
  const first = counterAfter(sup, 0);
  print("the supervisor started the counter");

  startClients(sup, clients, increments, false);
  printReports(clients);
  print("the counter reads " + count());

  // Clients that have found the counter, and wait.
  const waiting = startClients(sup, clients, increments, true);
  const crashed = request(first, Op.crash(), { timeoutMs: WAIT_MS });
  print("the crash request: " + (crashed.isOk ? "answered " + crashed.value.toString() : "failed, " + crashed.error.toString()));
  const second = counterAfter(sup, first.id);
  print("the supervisor restarted the counter: " + (second.id != first.id ? "a new process" : "the same process"));
  for (let i = 0; i < waiting.length; i++) waiting[i].send(new Uint8Array(0), GO);
  printReports(clients);
  print("the restarted counter reads " + count());
}
