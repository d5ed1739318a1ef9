// TCP: listeners, streams, and streams split into a ReadHalf and a WriteHalf,
// each a Resource that can be moved to another process (sendHandles, spawn's
// handles, sendAfterWithHandles). A ReadHalf has no write method and a
// WriteHalf no read method. The names follow the Rust SDK's (tokio's):
// `tryWrite` writes without waiting, timeouts and TCP_NODELAY are the
// socket's own (they move with it), `peek` reads without taking the bytes.
//
// Fallible calls return null, -1 or false and record the status (lastStatus).
// Times are milliseconds; a negative timeout means none (wait without limit).

import {
  net_resolve, net_bind, net_accept, net_connect, net_read, net_peek, net_write, net_try_write, net_shutdown,
  net_local_address, net_peer_address, net_split, net_reunite, net_set_timeout, net_timeout, net_set_nodelay,
  net_nodelay, net_set_active, ShutdownHow, Direction, ErrorCode,
} from "./abi";
import { Reader } from "./codec";
import { Message } from "./mailbox";
import { RET, ok, utf8, hasTimeout, nanos } from "./call";
import { Resource } from "./handle";
import { DECODE, WOULD_BLOCK, failWith, statusOf } from "./status";

/** Calls a text query (addresses, resolve) with a buffer, again with a larger one if the text did not fit. */
function text(query: (dst: u32, len: u32) => void): string | null {
  let buf = new Uint8Array(64);
  query(buf.dataStart as u32, buf.length as u32);
  if (!ok(4)) return null;
  let full = load<u32>(RET, 4);
  if (full > (buf.length as u32)) {
    buf = new Uint8Array(full);
    query(buf.dataStart as u32, full);
    if (!ok(4)) return null;
    full = min(load<u32>(RET, 4), full);
  }
  return String.UTF8.decodeUnsafe(buf.dataStart, full as usize);
}

// Closures cannot capture in AssemblyScript: the handle an address query is for.
let queried: u32 = 0;

function address(handle: u32, peer: bool): string | null {
  queried = handle;
  return peer
    ? text((dst: u32, len: u32): void => net_peer_address(queried, dst, len, RET))
    : text((dst: u32, len: u32): void => net_local_address(queried, dst, len, RET));
}

// The name being resolved (kept alive by resolve's local while it is used).
let resolvingPtr: usize = 0;
let resolvingLen: i32 = 0;

/**
 * The addresses `host` resolves to ("db.internal", "db.internal:5432", or
 * an IP, returned as is), looked up by the VM, as "IP:PORT" texts. The VM
 * looks a name up only if its `--allow-net` rules could permit it;
 * otherwise null with status permission-denied, and no query leaves the
 * machine.
 */
export function resolve(host: string): string[] | null {
  const name = utf8(host);
  resolvingPtr = changetype<usize>(name);
  resolvingLen = name.byteLength;
  const all = text((dst: u32, len: u32): void => net_resolve(resolvingPtr, resolvingLen, dst, len, RET));
  if (all == null) return null;
  const out = new Array<string>();
  const lines = all.split("\n");
  for (let i = 0; i < lines.length; i++) if (lines[i].length > 0) out.push(lines[i]);
  return out;
}

/** Reads (or peeks) into `buf`; the count (0 at end-of-stream), or -1 (see lastStatus). */
function readHandle(h: u32, buf: Uint8Array, timeoutMs: i64, peek: bool): i32 {
  if (peek) net_peek(h, buf.dataStart as u32, buf.length as u32, hasTimeout(timeoutMs), nanos(timeoutMs), RET);
  else net_read(h, buf.dataStart as u32, buf.length as u32, hasTimeout(timeoutMs), nanos(timeoutMs), RET);
  return ok(4) ? load<u32>(RET, 4) as i32 : -1;
}

/** Writes what the send buffer takes now: the count, 0 when full, -1 on error. */
function tryWriteRaw(h: u32, data: Uint8Array, from: i32): i32 {
  net_try_write(h, data.dataStart + from, data.length - from, RET);
  return ok(4) ? load<u32>(RET, 4) as i32 : -1;
}

/** Writes some of `data` from `from`, waiting for room at most `timeoutMs`. */
function writeSome(h: u32, data: Uint8Array, from: i32, timeoutMs: i64): i32 {
  // Try without waiting (cheaper: the process is not suspended); wait for
  // room only when the send buffer is full.
  const n = tryWriteRaw(h, data, from);
  if (n != 0 || from == data.length) return n;
  net_write(h, data.dataStart + from, data.length - from, hasTimeout(timeoutMs), nanos(timeoutMs), RET);
  return ok(4) ? load<u32>(RET, 4) as i32 : -1;
}

function writeAllHandle(h: u32, data: Uint8Array, timeoutMs: i64): bool {
  let done = 0;
  while (done < data.length) {
    const n = writeSome(h, data, done, timeoutMs);
    if (n < 0) return false;
    done += n;
  }
  return true;
}

function tryWriteHandle(h: u32, data: Uint8Array): i32 {
  const n = tryWriteRaw(h, data, 0);
  if (n == 0 && data.length > 0) {
    failWith(WOULD_BLOCK, "the socket's send buffer is full; write waits for room");
    return -1;
  }
  return n;
}

function shutdownHandle(h: u32, how: u8): bool {
  net_shutdown(h, how, RET);
  return ok(1);
}

function setTimeoutHandle(h: u32, direction: u8, ms: i64): bool {
  if (ms == 0) {
    // The ABI's 0 would clear it; std refuses a zero timeout too.
    failWith(statusOf(ErrorCode.INVALID_ARGUMENT), "a timeout of 0 ms would never wait; pass -1 for none, or use tryWrite");
    return false;
  }
  net_set_timeout(h, direction, nanos(ms), RET);
  return ok(1);
}

/** The socket's timeout in ms (rounded up): -1 if none (what the setters
 * take for none), -2 on error (see lastStatus). */
function timeoutOf(h: u32, direction: u8): i64 {
  net_timeout(h, direction, RET);
  if (!ok(8)) return -2;
  const ns = load<u64>(RET, 8);
  if (ns == 0) return -1;
  return ns > (I64.MAX_VALUE as u64) - 999_999 ? I64.MAX_VALUE : ((ns + 999_999) / 1_000_000) as i64;
}

function setNodelayHandle(h: u32, enabled: bool): bool {
  net_set_nodelay(h, enabled, RET);
  return ok(1);
}

/** 1 if TCP_NODELAY is set, 0 if not, -1 on error. */
function nodelayOf(h: u32): i32 {
  net_nodelay(h, RET);
  return ok(1) ? load<u8>(RET, 1) as i32 : -1;
}

export class TcpListener extends Resource {
  constructor(handle: u32) {
    super(handle);
  }

  /** Binds to "IP:PORT" (port 0 picks one); null if denied or in use. */
  static bind(addr: string): TcpListener | null {
    const a = utf8(addr);
    net_bind(changetype<usize>(a), a.byteLength, RET);
    return ok(4) ? new TcpListener(load<u32>(RET, 4)) : null;
  }

  /** Waits for a connection, at most `timeoutMs`. */
  accept(timeoutMs: i64 = -1): TcpStream | null {
    net_accept(this.handle, hasTimeout(timeoutMs), nanos(timeoutMs), RET);
    return ok(4) ? new TcpStream(load<u32>(RET, 4)) : null;
  }

  localAddress(): string | null {
    return address(this.handle, false);
  }
}

/** What a stream and its halves share: the connection's two addresses. */
export abstract class Connection extends Resource {
  constructor(handle: u32) {
    super(handle);
  }

  /** The peer's address ("IP:PORT"); null (see lastStatus) on error. */
  peerAddress(): string | null {
    return address(this.handle, true);
  }

  /** This end's address ("IP:PORT"); null (see lastStatus) on error. */
  localAddress(): string | null {
    return address(this.handle, false);
  }
}

export class TcpStream extends Connection {
  constructor(handle: u32) {
    super(handle);
  }

  /** Connects to an address (trying each address a name resolves to). */
  static connect(addr: string, timeoutMs: i64 = -1): TcpStream | null {
    const a = utf8(addr);
    net_connect(changetype<usize>(a), a.byteLength, hasTimeout(timeoutMs), nanos(timeoutMs), RET);
    return ok(4) ? new TcpStream(load<u32>(RET, 4)) : null;
  }

  /** Reads into `buf`; the count (0 at end-of-stream), or -1 (see lastStatus).
   * Without a timeout, waits as long as the socket's read timeout. */
  read(buf: Uint8Array, timeoutMs: i64 = -1): i32 {
    return readHandle(this.handle, buf, timeoutMs, false);
  }

  /** As `read`, but the bytes stay in the socket for the next read. */
  peek(buf: Uint8Array, timeoutMs: i64 = -1): i32 {
    return readHandle(this.handle, buf, timeoutMs, true);
  }

  /** Writes some of `data`, waiting for room at most `timeoutMs` (or the
   * socket's write timeout); the count, or -1 (status timeout, ...). */
  write(data: Uint8Array, timeoutMs: i64 = -1): i32 {
    return writeSome(this.handle, data, 0, timeoutMs);
  }

  /** Writes all of `data`; each wait for room lasts at most `timeoutMs`. */
  writeAll(data: Uint8Array, timeoutMs: i64 = -1): bool {
    return writeAllHandle(this.handle, data, timeoutMs);
  }

  /** Writes what the send buffer takes now, without waiting; -1 with status
   * WOULD_BLOCK when it is full. */
  tryWrite(data: Uint8Array): i32 {
    return tryWriteHandle(this.handle, data);
  }

  shutdown(how: u8 = ShutdownHow.BOTH): bool {
    return shutdownHandle(this.handle, how);
  }

  /** How long reads without a timeout of their own wait (< 0: without
   * limit; 0 is refused). The socket's option: it moves with the stream,
   * and `split` gives it to the read half. */
  setReadTimeout(ms: i64): bool {
    return setTimeoutHandle(this.handle, Direction.READ, ms);
  }

  /** The read timeout in ms; -1 if none, -2 on error. */
  readTimeout(): i64 {
    return timeoutOf(this.handle, Direction.READ);
  }

  /** How long writes without a timeout of their own wait for room (see setReadTimeout). */
  setWriteTimeout(ms: i64): bool {
    return setTimeoutHandle(this.handle, Direction.WRITE, ms);
  }

  /** The write timeout in ms; -1 if none, -2 on error. */
  writeTimeout(): i64 {
    return timeoutOf(this.handle, Direction.WRITE);
  }

  /** Sets TCP_NODELAY (on for every stream the VM makes; false lets the kernel coalesce small writes). */
  setNodelay(enabled: bool): bool {
    return setNodelayHandle(this.handle, enabled);
  }

  /** 1 if TCP_NODELAY is set, 0 if not, -1 on error. */
  nodelay(): i32 {
    return nodelayOf(this.handle);
  }

  /** Splits the stream (using it up) into halves; null on error (the stream is kept). */
  split(): Halves | null {
    net_split(this.handle, RET);
    if (!ok(4)) return null;
    this.release();
    return new Halves(new ReadHalf(load<u32>(RET, 4)), new WriteHalf(load<u32>(RET, 8)));
  }
}

export class Halves {
  constructor(public readonly read: ReadHalf, public readonly write: WriteHalf) {}
}

/** The reading half of a split stream; it sees end-of-stream when the peer closes its side. */
export class ReadHalf extends Connection {
  constructor(handle: u32) {
    super(handle);
  }

  read(buf: Uint8Array, timeoutMs: i64 = -1): i32 {
    return readHandle(this.handle, buf, timeoutMs, false);
  }

  peek(buf: Uint8Array, timeoutMs: i64 = -1): i32 {
    return readHandle(this.handle, buf, timeoutMs, true);
  }

  setReadTimeout(ms: i64): bool {
    return setTimeoutHandle(this.handle, Direction.READ, ms);
  }

  readTimeout(): i64 {
    return timeoutOf(this.handle, Direction.READ);
  }

  /** Stops reading; further reads return end-of-stream. */
  shutdown(): bool {
    return shutdownHandle(this.handle, ShutdownHow.READ);
  }

  /**
   * Erlang's `{active, N}` (ABI 1.5): the next `count` reads arrive as data
   * messages tagged `tag` instead of through `read` (decode each with
   * `SocketEvent.decode`), so the process can wait for them beside its
   * other messages, and hibernate meanwhile. After them, the peer's end or
   * an error, the half is passive again; `count` 0 makes it passive now.
   * While active, reads fail (status invalid-argument) and the half cannot
   * move to another process.
   */
  setActive(count: u32, tag: u64): bool {
    net_set_active(this.handle, count, tag, RET);
    return ok(1);
  }


  /** Joins with the write half of the same stream, using both up; null
   * (status not-paired, both kept) if they are of different streams. */
  reunite(write: WriteHalf): TcpStream | null {
    net_reunite(this.handle, write.handle, RET);
    if (!ok(4)) return null;
    this.release();
    write.release();
    return new TcpStream(load<u32>(RET, 4));
  }
}


/** What an active read half delivers (`ReadHalf.setActive`). */
export class SocketEvent {
  /** Bytes read. */
  static readonly DATA: u32 = 0;
  /** The peer closed its side. */
  static readonly CLOSED: u32 = 1;
  /** Reading failed; `data` holds why (UTF-8). */
  static readonly ERROR: u32 = 2;

  constructor(
    /** DATA, CLOSED or ERROR. */
    public readonly kind: u32,
    /** The bytes read, or the error's text. */
    public readonly data: Uint8Array,
  ) {}

  /** Decodes a message an active read half sent; null (status DECODE) if it is not one. */
  static decode(message: Message): SocketEvent | null {
    const r = new Reader(message.data);
    const kind = r.variant();
    let data = new Uint8Array(0);
    if (kind == SocketEvent.DATA || kind == SocketEvent.ERROR) data = r.bytes();
    else if (kind != SocketEvent.CLOSED) r.error = true;
    if (!r.finish()) {
      failWith(DECODE, "a message from process " + message.sender.toString() + " is not a socket event");
      return null;
    }
    return new SocketEvent(kind, data);
  }

  /** The error's text, for ERROR. */
  text(): string {
    return String.UTF8.decode(this.data.buffer);
  }
}

/** The writing half of a split stream. Closing it shuts down writing. */
export class WriteHalf extends Connection {
  constructor(handle: u32) {
    super(handle);
  }

  write(data: Uint8Array, timeoutMs: i64 = -1): i32 {
    return writeSome(this.handle, data, 0, timeoutMs);
  }

  writeAll(data: Uint8Array, timeoutMs: i64 = -1): bool {
    return writeAllHandle(this.handle, data, timeoutMs);
  }

  tryWrite(data: Uint8Array): i32 {
    return tryWriteHandle(this.handle, data);
  }

  setWriteTimeout(ms: i64): bool {
    return setTimeoutHandle(this.handle, Direction.WRITE, ms);
  }

  writeTimeout(): i64 {
    return timeoutOf(this.handle, Direction.WRITE);
  }

  /** Sets TCP_NODELAY: the whole connection's option. */
  setNodelay(enabled: bool): bool {
    return setNodelayHandle(this.handle, enabled);
  }

  nodelay(): i32 {
    return nodelayOf(this.handle);
  }

  /** Shuts down writing now; the peer sees end-of-stream. */
  shutdown(): bool {
    return shutdownHandle(this.handle, ShutdownHow.WRITE);
  }
}
