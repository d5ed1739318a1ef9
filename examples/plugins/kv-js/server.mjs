// The kv plugin (examples/plugins/kv/kv.wit) served over NATS by
// JavaScript, written from the wire format in abi/README.md ("Remote
// plugins") alone: the VM cannot tell it from the Rust server.
//
//   node server.mjs nats://127.0.0.1:4222
//   vm run --cluster nats://127.0.0.1:4222 --remote-plugin kv@1 kv-guest.wasm

import { connect, headers } from "nats";
import { readFileSync } from "node:fs";

const url = process.argv[2] ?? "nats://127.0.0.1:4222";
const prefix = "vm";
const wit = readFileSync(new URL("../kv/kv.wit", import.meta.url), "utf8");
const [major, minor] = [1, 0];
const maxCallers = 10000;

// ---- The value encoding ------------------------------------------------
// Types: "bool", "u32", "s64", "string", ["list", "u8"], ["option", T],
// ["result", OK, ERR] (null for a missing side).

// Strict, and a leading U+FEFF is a character like any other.
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

class Reader {
  constructor(bytes) {
    this.bytes = bytes;
    this.at = 0;
  }
  byte() {
    if (this.at >= this.bytes.length) throw new Error("the bytes end inside a value");
    return this.bytes[this.at++];
  }
  unsigned(bits) {
    let n = 0n;
    for (let shift = 0n; ; shift += 7n) {
      if (shift >= BigInt(bits)) throw new Error(`an unsigned LEB128 over ${bits} bits`);
      const b = this.byte();
      n |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) {
        if (n >> BigInt(bits) !== 0n) throw new Error(`an unsigned LEB128 over ${bits} bits`);
        return n;
      }
    }
  }
  signed(bits) {
    let n = 0n;
    for (let shift = 0n; ; shift += 7n) {
      if (shift >= BigInt(bits)) throw new Error(`a signed LEB128 over ${bits} bits`);
      const b = this.byte();
      n |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) {
        if (b & 0x40) n -= 1n << (shift + 7n);
        const limit = 1n << BigInt(bits - 1);
        if (n < -limit || n >= limit) throw new Error(`a signed LEB128 over ${bits} bits`);
        return n;
      }
    }
  }
  length() {
    const n = Number(this.unsigned(32));
    // Checked against what is left before anything is made of it.
    if (n > this.bytes.length - this.at) throw new Error("the bytes end inside a value");
    return n;
  }
  take(n) {
    const out = this.bytes.subarray(this.at, this.at + n);
    this.at += n;
    return out;
  }
  value(type) {
    if (type === "bool") {
      const b = this.byte();
      if (b > 1) throw new Error(`a bool of ${b}`);
      return b === 1;
    }
    if (type === "u32") return Number(this.unsigned(32));
    if (type === "s64") return this.signed(64);
    if (type === "string") return utf8.decode(this.take(this.length()));
    if (type[0] === "list" && type[1] === "u8") return Uint8Array.from(this.take(this.length()));
    throw new Error(`no decoder for ${JSON.stringify(type)}`);
  }
}

function unsigned(n, out) {
  n = BigInt(n);
  do {
    let b = Number(n & 0x7fn);
    n >>= 7n;
    if (n !== 0n) b |= 0x80;
    out.push(b);
  } while (n !== 0n);
}

function signed(n, out) {
  n = BigInt(n);
  for (;;) {
    const b = Number(n & 0x7fn);
    n >>= 7n;
    const done = (n === 0n && (b & 0x40) === 0) || (n === -1n && (b & 0x40) !== 0);
    out.push(done ? b : b | 0x80);
    if (done) return;
  }
}

function encode(type, v, out) {
  if (type === "bool") out.push(v ? 1 : 0);
  else if (type === "u32") unsigned(v, out);
  else if (type === "s64") signed(v, out);
  else if (type === "string") {
    const bytes = new TextEncoder().encode(v);
    unsigned(bytes.length, out);
    for (const b of bytes) out.push(b);
  } else if (type[0] === "list" && type[1] === "u8") {
    unsigned(v.length, out);
    for (const b of v) out.push(b);
  } else if (type[0] === "option") {
    if (v === null) out.push(0);
    else {
      out.push(1);
      encode(type[1], v, out);
    }
  } else if (type[0] === "result") {
    // { ok: value } or { err: value }
    const [tag, side] = "ok" in v ? [0, type[1]] : [1, type[2]];
    out.push(tag);
    if (side !== null) encode(side, tag === 0 ? v.ok : v.err, out);
  } else throw new Error(`no encoder for ${JSON.stringify(type)}`);
  return out;
}

// ---- The plugin --------------------------------------------------------

const bytes = ["list", "u8"];
const text = (b) => new TextDecoder("utf-8", { ignoreBOM: true }).decode(b);
const functions = {
  "store.set": { params: ["string", bytes], result: null, run: (s, k, v) => void s.set(k, v) },
  "store.get": { params: ["string"], result: ["option", bytes], run: (s, k) => s.get(k) ?? null },
  "store.remove": { params: ["string"], result: "bool", run: (s, k) => s.delete(k) },
  "store.count": { params: [], result: "u32", run: (s) => s.size },
  "store.increment": {
    params: ["string", "s64"],
    result: ["result", "s64", "string"],
    run: (s, key, by) => {
      const held = s.get(key);
      let now = 0n;
      if (held !== undefined) {
        const t = text(held);
        // As Rust's i64 parse: digits with a sign, within 64 bits.
        const n = /^[+-]?\d+$/.test(t) ? BigInt(t) : null;
        if (n === null || n < -(1n << 63n) || n >= 1n << 63n)
          return { err: `${key} holds \`${t}\`, not a number` };
        now = n;
      }
      const sum = now + by;
      if (sum < -(1n << 63n) || sum >= 1n << 63n) return { err: `${key}: ${now} + ${by} overflows` };
      s.set(key, new TextEncoder().encode(sum.toString()));
      return { ok: sum };
    },
  },
};

// ---- Serving ------------------------------------------------------------

const nc = await connect({ servers: url });
const base = `${prefix}.plugin.kv.${major}`;
const id = `js${process.pid}${Date.now()}`;
const states = new Map();

function answer(m) {
  const reply = (outcome, payload) => {
    const h = headers();
    h.set("Vm-Server", id);
    h.set("Vm-Outcome", outcome);
    m.respond(Uint8Array.from(payload), { headers: h });
  };
  const name = m.headers?.get("Vm-Function") ?? "";
  const caller = m.headers?.get("Vm-Caller") ?? "";
  const f = functions[name];
  if (!f) return reply("refused", new TextEncoder().encode(`the plugin has no function \`${name}\``));
  const callerBytes = new TextEncoder().encode(caller).length;
  if (callerBytes < 1 || callerBytes > 128)
    return reply("refused", new TextEncoder().encode("a call without a Vm-Caller of 1 to 128 bytes"));
  let args;
  try {
    const r = new Reader(m.data);
    args = f.params.map((t) => r.value(t));
    if (r.at !== m.data.length) throw new Error(`${m.data.length - r.at} bytes are left after the value`);
  } catch (e) {
    return reply("refused", new TextEncoder().encode(`arguments that are not \`${name}\`'s: ${e.message}`));
  }
  if (!states.has(caller)) {
    if (states.size >= maxCallers)
      return reply("refused", new TextEncoder().encode(`the server holds the states of ${maxCallers} callers already`));
    states.set(caller, new Map());
  }
  let result;
  try {
    result = f.run(states.get(caller), ...args);
  } catch (e) {
    return reply("failed", new TextEncoder().encode(`\`${name}\` threw: ${e.message}`));
  }
  reply("ok", f.result === null ? [] : encode(f.result, result, []));
}

// One bad call fails itself, never the server.
const serve = async (sub, each) => {
  for await (const m of sub) {
    try {
      each(m);
    } catch (e) {
      if (m.reply) {
        const h = headers();
        h.set("Vm-Server", id);
        h.set("Vm-Outcome", "failed");
        m.respond(new TextEncoder().encode(`the server failed: ${e.message}`), { headers: h });
      }
    }
  }
};
const queue = `${prefix}.kv.${major}.${minor}`;
serve(nc.subscribe(`${base}.wit`, { queue }), (m) => {
  const h = headers();
  h.set("Vm-Server", id);
  m.respond(new TextEncoder().encode(wit), { headers: h });
});
serve(nc.subscribe(`${base}.${minor}.call`, { queue }), answer);
serve(nc.subscribe(`${base}.server.${id}`), answer);
serve(nc.subscribe(`${base}.ended`), (m) => {
  states.delete(m.headers?.get("Vm-Caller") ?? "");
  if (m.reply) m.respond(new Uint8Array());
});
await nc.flush();
console.log(`serving plugin:kv@1 on ${url} as server ${id}`);
await nc.closed();
