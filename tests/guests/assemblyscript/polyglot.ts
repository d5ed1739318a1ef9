// Services a Rust process spawns from this module to check that
// AssemblyScript and Rust agree on postcard, field by field (the same
// protocol as tests/guests/c/polyglot.c):
//
//   serve_echo:      decode each Sample and encode it again, unchanged;
//   serve_transform: decode each Sample and reply with a transformation.
//
// struct Sample { count: u32, delta: i64, name: String, bytes: Vec<u8>,
//                 note: Option<String>, shape: Shape }
// enum Shape { Point, Circle(u32), Rect { w: u32, h: u32 } }
import { Process, Reader, Request, Writer, receive, MessageKinds, eprint, request, DOWN, ExitReason } from "../../../sdk-assemblyscript/assembly/index";

class Sample {
  count: u32 = 0;
  delta: i64 = 0;
  name: string = "";
  bytes: Uint8Array = new Uint8Array(0);
  note: string | null = null;
  shape: u32 = 0;
  a: u32 = 0;
  b: u32 = 0;
}

function decode(data: Uint8Array): Sample | null {
  const r = new Reader(data);
  const s = new Sample();
  s.count = r.u32();
  s.delta = r.i64();
  s.name = r.str();
  s.bytes = r.bytes();
  if (r.option()) s.note = r.str();
  s.shape = r.variant();
  if (s.shape == 1) s.a = r.u32();
  else if (s.shape == 2) {
    s.a = r.u32();
    s.b = r.u32();
  } else if (s.shape != 0) return null;
  return r.finish() ? s : null;
}

function encode(s: Sample): Uint8Array {
  const w = new Writer().u32(s.count).i64(s.delta).str(s.name).bytes(s.bytes).option(s.note != null);
  const note = s.note;
  if (note != null) w.str(note);
  w.variant(s.shape);
  if (s.shape >= 1) w.u32(s.a);
  if (s.shape == 2) w.u32(s.b);
  return w.finish();
}

function transform(s: Sample): Sample {
  const t = new Sample();
  t.count = s.count + 1;
  t.delta = s.delta - 1;
  let upper = "";
  for (let i = 0; i < s.name.length; i++) {
    const c = s.name.charCodeAt(i);
    upper += String.fromCharCode(c >= 97 && c <= 122 ? c - 32 : c);
  }
  t.name = upper;
  t.bytes = new Uint8Array(s.bytes.length);
  for (let i = 0; i < s.bytes.length; i++) t.bytes[i] = s.bytes[s.bytes.length - 1 - i];
  const note = s.note;
  t.note = note != null ? note + "!" : "none";
  if (s.shape == 0) {
    t.shape = 1;
    t.a = 1;
  } else if (s.shape == 1) {
    t.shape = 2;
    t.a = s.a;
    t.b = s.a;
  }
  return t;
}

function serve(doTransform: bool): void {
  receive({ kinds: MessageKinds.INIT });
  while (true) {
    const received = receive();
    if (!received.isOk) return;
    const m = received.value;
    const s = decode(m.data);
    const reply = new Process(m.sender);
    if (s == null) reply.send(new Uint8Array(0), 0);
    else reply.send(encode(doTransform ? transform(s) : s), m.tag);
  }
}

/** Decodes each message as a sequence length and replies with it (a u32),
 * or with an empty reply tagged 0 if it does not decode (too long a varint,
 * or more than the bytes left). */
export function serve_len(): void {
  receive({ kinds: MessageKinds.INIT });
  while (true) {
    const received = receive();
    if (!received.isOk) return;
    const m = received.value;
    const r = new Reader(m.data);
    const n = r.len_();
    const reply = new Process(m.sender);
    if (r.error) reply.send(new Uint8Array(0), 0);
    else reply.send(new Writer().u32(n as u32).finish(), m.tag);
  }
}

/** Replies to each message with a string holding a lone surrogate, which
 * UTF-8 cannot carry: it must go out as U+FFFD, not as WTF-8 bytes that
 * other languages' decoders reject. */
export function serve_surrogate(): void {
  receive({ kinds: MessageKinds.INIT });
  while (true) {
    const received = receive();
    if (!received.isOk) return;
    const m = received.value;
    const lone = "a" + String.fromCharCode(0xd800) + "b";
    new Process(m.sender).send(new Writer().str(lone).finish(), m.tag);
  }
}

export function serve_echo(): void {
  serve(false);
}

export function serve_transform(): void {
  serve(true);
}

/** Receives by tag: the tag-2 message first, although the tag-1 one came
 * first and stays queued; replies (tag 3) with the first byte of each, in
 * the order received. */
export function serve_selective(): void {
  receive({ kinds: MessageKinds.INIT });
  const secondResult = receive({ tags: [2] });
  const firstResult = receive({ tags: [1, 5] });
  if (!secondResult.isOk || !firstResult.isOk) return;
  const second = secondResult.value;
  const first = firstResult.value;
  const out = new Uint8Array(2);
  out[0] = second.data.length > 0 ? second.data[0] : 0;
  out[1] = first.data.length > 0 ? first.data[0] : 0;
  new Process(second.sender).send(out, 3);
}

export function _start(): void {
  eprint("polyglot.wasm is spawned by other processes at serve_echo or serve_transform");
}

/** Calls a Rust server (vm_sdk::server) with `request`: its init message is
 * postcard (server: u64, reply_to: u64, n: u32); it sends `reply_to` the
 * reply (a u32), or 0xfffffffd if the server had ended (down, noproc). */
export function call_server(): void {
  const init = receive({ kinds: MessageKinds.INIT }).value;
  const r = new Reader(init.data);
  const server = new Process<Request<u32, u32>>(r.u64());
  const replyTo = new Process<u32>(r.u64());
  const n = r.u32();
  let result: u32 = 0xffffffff;
  const reply = request(server, n);
  if (reply.isOk) result = reply.value;
  else {
    const reason = reply.error.reason;
    if (reply.error.status == DOWN && reason != null && reason.kind == ExitReason.NOPROC) result = 0xfffffffd;
  }
  replyTo.send(result);
}
