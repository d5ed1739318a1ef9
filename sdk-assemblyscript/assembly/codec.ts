// The postcard codec: the message format every SDK shares. Varints for
// integers (zigzag for signed; u8 and i8 as one byte), bool as a byte, floats
// little-endian, bytes and strings as a varint length then the bytes,
// sequences as a varint count, options as 0 or 1 then the value, enums as a
// varint variant index then the fields, structs as their fields in order.
// A Reader never reads past its input: it sets `error` instead.
//
// `Writer.value<T>` and `Reader.value<T>` encode any of these by type: bool,
// integers, floats, string, Uint8Array (bytes), arrays (sequences), nullable
// references (options), and classes that implement `encode(w: Writer): void`
// and `decode(r: Reader): void` (with a constructor that takes no
// arguments). Typed processes (`Process<M>`) and requests use them, and
// `encode<T>(value)` / `decode<T>(bytes)` do for a whole message.
//
// A Writer cannot fail; a Reader marks its `error` flag and reads on
// (returning zeros), so a decoder reads every field and checks once, with
// `finish()`. Whole values decode with `decode<T>`, which returns a
// Result as every other call that can fail.

import { Result, VmError } from "./result";
import { DECODE, failWith } from "./status";

/** A whole value's bytes: `Writer.value<T>`'s, or bytes as they are. */
export function encode<T>(value: T): Uint8Array {
  if (isReference<T>()) {
    if (isBytes<T>()) return changetype<Uint8Array>(value);
  }
  return new Writer().value<T>(value).finish();
}

/** Decodes `bytes` as exactly one `T` (bytes as they are for a
 * `Uint8Array`); fails with DECODE if they do not decode or bytes are left
 * over. */
export function decode<T>(bytes: Uint8Array): Result<T> {
  if (isReference<T>()) {
    if (isBytes<T>()) return Result.ok<T>(changetype<T>(bytes));
  }
  const r = new Reader(bytes);
  const value = r.value<T>();
  if (!r.finish()) {
    const text = bytes.length.toString() + " bytes do not decode as " + nameof<T>();
    failWith(DECODE, text);
    return Result.err<T>(new VmError(DECODE, text));
  }
  return Result.ok<T>(value);
}

/** @internal Whether `T` is `Uint8Array`: bytes travel as they are. Test
 * `isReference<T>()` first, in an `if` of its own, so that the branch is
 * not compiled for numbers (a call is not a compile-time constant). */
export function isBytes<T>(): bool {
  if (isReference<T>()) return idof<NonNullable<T>>() == idof<Uint8Array>();
  return false;
}

/** Encodes values into a growing buffer. */
export class Writer {
  private buf: Uint8Array = new Uint8Array(64);
  private len: i32 = 0;

  private reserve(n: i32): void {
    if (this.len + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.len + n) cap *= 2;
    const bigger = new Uint8Array(cap);
    bigger.set(this.buf.subarray(0, this.len));
    this.buf = bigger;
  }

  u8(v: u8): Writer {
    this.reserve(1);
    this.buf[this.len++] = v;
    return this;
  }

  i8(v: i8): Writer {
    return this.u8(v as u8);
  }

  bool(v: bool): Writer {
    return this.u8(v ? 1 : 0);
  }

  /** u16, u32 and u64 (a varint). */
  u64(v: u64): Writer {
    do {
      let byte = (v & 0x7f) as u8;
      v >>= 7;
      if (v != 0) byte |= 0x80;
      this.u8(byte);
    } while (v != 0);
    return this;
  }

  u32(v: u32): Writer {
    return this.u64(v as u64);
  }

  /** i16, i32 and i64 (a zigzag varint). */
  i64(v: i64): Writer {
    return this.u64(((v << 1) ^ (v >> 63)) as u64);
  }

  i32(v: i32): Writer {
    return this.i64(v as i64);
  }

  f32(v: f32): Writer {
    const bits = reinterpret<u32>(v);
    for (let i = 0; i < 4; i++) this.u8(((bits >> (8 * i)) & 0xff) as u8);
    return this;
  }

  f64(v: f64): Writer {
    const bits = reinterpret<u64>(v);
    for (let i = 0; i < 8; i++) this.u8(((bits >> (8 * (i as u64))) & 0xff) as u8);
    return this;
  }

  /** Bytes as they are, without a length (the rest of a message). */
  raw(data: Uint8Array): Writer {
    this.reserve(data.length);
    this.buf.set(data, this.len);
    this.len += data.length;
    return this;
  }

  bytes(data: Uint8Array): Writer {
    this.u64(data.length as u64);
    this.reserve(data.length);
    this.buf.set(data, this.len);
    this.len += data.length;
    return this;
  }

  /** A string as UTF-8; a lone surrogate (which UTF-8 cannot carry)
   * becomes U+FFFD, so every decoder accepts the bytes. */
  str(s: string): Writer {
    return this.bytes(Uint8Array.wrap(String.UTF8.encode(s, false, String.UTF8.ErrorMode.REPLACE)));
  }

  /** A sequence's length. */
  len_(count: i32): Writer {
    return this.u64(count as u64);
  }

  option(present: bool): Writer {
    return this.bool(present);
  }

  variant(index: u32): Writer {
    return this.u64(index as u64);
  }

  /** Encodes `v` by its type (see the top of this file). */
  value<T>(v: T): Writer {
    if (isBoolean<T>()) return this.bool(v as bool);
    if (isInteger<T>()) {
      if (sizeof<T>() == 1) return this.u8(v as u8);
      if (isSigned<T>()) return this.i64(v as i64);
      return this.u64(v as u64);
    }
    if (isFloat<T>()) return sizeof<T>() == 4 ? this.f32(v as f32) : this.f64(v as f64);
    if (isNullable<T>()) {
      if (v == null) return this.option(false);
      this.option(true);
      return this.value<NonNullable<T>>(changetype<NonNullable<T>>(v));
    }
    if (isString<T>()) return this.str(changetype<string>(v));
    if (v instanceof Uint8Array) return this.bytes(v);
    if (isArray<T>()) {
      // @ts-ignore: an array's length and elements
      const n = v.length;
      this.len_(n);
      // @ts-ignore: an array's elements
      for (let i = 0; i < n; i++) this.value<valueof<T>>(v[i]);
      return this;
    }
    // @ts-ignore: a message class encodes itself
    v.encode(this);
    return this;
  }

  /** The encoded bytes. */
  finish(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

/** Decodes values; any malformed or missing input sets `error`. */
export class Reader {
  pos: i32 = 0;
  error: bool = false;

  constructor(private data: Uint8Array) {}

  u8(): u8 {
    if (this.error || this.pos >= this.data.length) {
      this.error = true;
      return 0;
    }
    return this.data[this.pos++];
  }

  i8(): i8 {
    return this.u8() as i8;
  }

  bool(): bool {
    const b = this.u8();
    if (b > 1) this.error = true;
    return b == 1;
  }

  /** A varint of at most `bits` bits. */
  private varint(bits: i32): u64 {
    let v: u64 = 0;
    const maxBytes = (bits + 6) / 7;
    for (let i = 0; i < maxBytes; i++) {
      const byte = this.u8();
      if (this.error) return 0;
      const shift = 7 * i;
      const part = (byte & 0x7f) as u64;
      if (shift + 7 > bits && (part >> ((bits - shift) as u64)) != 0) break;
      v |= part << (shift as u64);
      if ((byte & 0x80) == 0) return v;
    }
    this.error = true;
    return 0;
  }

  u16(): u16 {
    return this.varint(16) as u16;
  }

  u32(): u32 {
    return this.varint(32) as u32;
  }

  u64(): u64 {
    return this.varint(64);
  }

  private unzigzag(v: u64): i64 {
    return ((v >> 1) as i64) ^ -((v & 1) as i64);
  }

  i16(): i16 {
    return this.unzigzag(this.varint(16)) as i16;
  }

  i32(): i32 {
    return this.unzigzag(this.varint(32)) as i32;
  }

  i64(): i64 {
    return this.unzigzag(this.varint(64));
  }

  f32(): f32 {
    let bits: u32 = 0;
    for (let i = 0; i < 4; i++) bits |= (this.u8() as u32) << (8 * i);
    return reinterpret<f32>(bits);
  }

  f64(): f64 {
    let bits: u64 = 0;
    for (let i = 0; i < 8; i++) bits |= (this.u8() as u64) << (8 * (i as u64));
    return reinterpret<f64>(bits);
  }

  bytes(): Uint8Array {
    const n = this.varint(64);
    if (this.error || n > ((this.data.length - this.pos) as u64)) {
      this.error = true;
      return new Uint8Array(0);
    }
    const out = this.data.slice(this.pos, this.pos + (n as i32));
    this.pos += n as i32;
    return out;
  }

  /** The bytes left, as they are (the rest of a message). */
  rest(): Uint8Array {
    if (this.error) return new Uint8Array(0);
    const out = this.data.slice(this.pos);
    this.pos = this.data.length;
    return out;
  }

  str(): string {
    const b = this.bytes();
    if (this.error) return "";
    if (!validUtf8(b)) {
      this.error = true;
      return "";
    }
    return String.UTF8.decode(b.buffer, false);
  }

  /** A sequence's length: a 32-bit varint, and no more elements than
   * bytes left (each takes at least one), so a short hostile message cannot
   * make a decoder allocate much. */
  len_(): i32 {
    const n = this.varint(32);
    if (this.error || n > ((this.data.length - this.pos) as u64)) {
      this.error = true;
      return 0;
    }
    return n as i32;
  }

  option(): bool {
    return this.bool();
  }

  variant(): u32 {
    return this.u32();
  }

  /** Decodes a `T` (see the top of this file); check `finish()` or `error` after. */
  value<T>(): T {
    if (isBoolean<T>()) return this.bool() as T;
    if (isInteger<T>()) {
      if (sizeof<T>() == 1) return this.u8() as T;
      if (isSigned<T>()) return this.unzigzag(this.varint(sizeof<T>() * 8)) as T;
      return this.varint(sizeof<T>() * 8) as T;
    }
    if (isFloat<T>()) return (sizeof<T>() == 4 ? this.f32() : this.f64()) as T;
    if (isNullable<T>()) {
      if (!this.option()) return changetype<T>(0);
      return this.value<NonNullable<T>>() as T;
    }
    if (isString<T>()) return changetype<T>(this.str());
    if (idof<T>() == idof<Uint8Array>()) return changetype<T>(this.bytes());
    if (isArray<T>()) {
      const n = this.len_();
      const out = instantiate<T>(0);
      // @ts-ignore: an array's elements
      for (let i = 0; i < n && !this.error; i++) out.push(this.value<valueof<T>>());
      return out;
    }
    const out = instantiate<T>();
    // @ts-ignore: a message class decodes itself
    out.decode(this);
    return out;
  }

  /** Whether everything decoded and all input was used. */
  finish(): bool {
    return !this.error && this.pos == this.data.length;
  }
}

function validUtf8(s: Uint8Array): bool {
  let i = 0;
  const n = s.length;
  while (i < n) {
    const c = s[i] as u32;
    let extra = 0;
    let cp: u32 = 0;
    if (c < 0x80) {
      i++;
      continue;
    } else if ((c & 0xe0) == 0xc0) {
      extra = 1;
      cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      extra = 2;
      cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      extra = 3;
      cp = c & 0x07;
    } else return false;
    if (extra > n - i - 1) return false;
    for (let k = 1; k <= extra; k++) {
      const b = s[i + k] as u32;
      if ((b & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (b & 0x3f);
    }
    const minimum: u32 = extra == 1 ? 0x80 : extra == 2 ? 0x800 : 0x10000;
    if (cp < minimum || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += extra + 1;
  }
  return true;
}
