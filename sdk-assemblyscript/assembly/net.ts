// TCP: listeners, streams, and streams split into a ReadHalf and a WriteHalf,
// each a Resource that can be moved to another process (sendHandles, spawn's
// handles, sendAfterWithHandles). A ReadHalf has no write method and a
// WriteHalf no read method. The names follow the Rust SDK's (tokio's):
// `tryWrite` writes without waiting, timeouts and TCP_NODELAY are the
// socket's own (they move with it), `peek` reads without taking the bytes.
//
// Calls that can fail return a Result (see the top of index.ts): a count,
// an address, a stream, or nothing (`Result<void>`). Times are
// milliseconds; a negative timeout means none (wait without limit).

import {
  net_resolve, net_bind, net_accept, net_connect, net_read, net_peek, net_write, net_try_write, net_shutdown,
  net_local_address, net_peer_address, net_split, net_reunite, net_set_timeout, net_timeout, net_set_nodelay,
  net_nodelay, net_set_active, ShutdownHow, Direction, ErrorCode, HandleKind,
} from "./abi";
import { Reader, Writer } from "./codec";
import { Message, takeHandleAs } from "./mailbox";
import { RET, ok, utf8, hasTimeout, nanos } from "./call";
import { Resource } from "./handle";
import { Result, VmError, failed } from "./result";
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

function address(handle: u32, peer: bool): Result<string> {
  queried = handle;
  const a = peer
    ? text((dst: u32, len: u32): void => net_peer_address(queried, dst, len, RET))
    : text((dst: u32, len: u32): void => net_local_address(queried, dst, len, RET));
  return a != null ? Result.ok<string>(a) : failed<string>();
}

// The name being resolved (kept alive by resolve's local while it is used).
let resolvingPtr: usize = 0;
let resolvingLen: i32 = 0;

/**
 * The addresses `host` resolves to ("db.internal", "db.internal:5432", or
 * an IP, returned as is), looked up by the VM, as "IP:PORT" texts. The VM
 * looks a name up only if its `--allow-net` rules could permit it;
 * otherwise it fails with PERMISSION_DENIED, and no query leaves the
 * machine.
 */
export function resolve(host: string): Result<string[]> {
  const name = utf8(host);
  resolvingPtr = changetype<usize>(name);
  resolvingLen = name.byteLength;
  const all = text((dst: u32, len: u32): void => net_resolve(resolvingPtr, resolvingLen, dst, len, RET));
  if (all == null) return failed<string[]>();
  const out = new Array<string>();
  const lines = all.split("\n");
  for (let i = 0; i < lines.length; i++) if (lines[i].length > 0) out.push(lines[i]);
  return Result.ok<string[]>(out);
}

/** Reads (or peeks) into `buf`: the count (0 at end-of-stream). */
function readHandle(h: u32, buf: Uint8Array, timeoutMs: i64, peek: bool): Result<i32> {
  if (peek) net_peek(h, buf.dataStart as u32, buf.length as u32, hasTimeout(timeoutMs), nanos(timeoutMs), RET);
  else net_read(h, buf.dataStart as u32, buf.length as u32, hasTimeout(timeoutMs), nanos(timeoutMs), RET);
  return ok(4) ? Result.ok<i32>(load<u32>(RET, 4) as i32) : failed<i32>();
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

/** `writeSome` as a result. */
function writeHandle(h: u32, data: Uint8Array, timeoutMs: i64): Result<i32> {
  const n = writeSome(h, data, 0, timeoutMs);
  return n >= 0 ? Result.ok<i32>(n) : failed<i32>();
}

function writeAllHandle(h: u32, data: Uint8Array, timeoutMs: i64): Result<void> {
  let done = 0;
  while (done < data.length) {
    const n = writeSome(h, data, done, timeoutMs);
    if (n < 0) return failed<void>();
    done += n;
  }
  return Result.done();
}

function tryWriteHandle(h: u32, data: Uint8Array): Result<i32> {
  const n = tryWriteRaw(h, data, 0);
  if (n == 0 && data.length > 0) {
    const text = "the socket's send buffer is full; write waits for room";
    failWith(WOULD_BLOCK, text);
    return Result.err<i32>(new VmError(WOULD_BLOCK, text));
  }
  return n >= 0 ? Result.ok<i32>(n) : failed<i32>();
}

function shutdownHandle(h: u32, how: u8): Result<void> {
  net_shutdown(h, how, RET);
  return ok(1) ? Result.done() : failed<void>();
}

function setTimeoutHandle(h: u32, direction: u8, ms: i64): Result<void> {
  if (ms == 0) {
    // The ABI's 0 would clear it; std refuses a zero timeout too.
    const text = "a timeout of 0 ms would never wait; pass -1 for none, or use tryWrite";
    const status = statusOf(ErrorCode.INVALID_ARGUMENT);
    failWith(status, text);
    return Result.err<void>(new VmError(status, text));
  }
  net_set_timeout(h, direction, nanos(ms), RET);
  return ok(1) ? Result.done() : failed<void>();
}

/** The socket's timeout in ms (rounded up): -1 if none (what the setters
 * take for none). */
function timeoutOf(h: u32, direction: u8): Result<i64> {
  net_timeout(h, direction, RET);
  if (!ok(8)) return failed<i64>();
  const ns = load<u64>(RET, 8);
  if (ns == 0) return Result.ok<i64>(-1);
  return Result.ok<i64>(ns > (I64.MAX_VALUE as u64) - 999_999 ? I64.MAX_VALUE : ((ns + 999_999) / 1_000_000) as i64);
}

function setNodelayHandle(h: u32, enabled: bool): Result<void> {
  net_set_nodelay(h, enabled, RET);
  return ok(1) ? Result.done() : failed<void>();
}

/** Whether TCP_NODELAY is set. */
function nodelayOf(h: u32): Result<bool> {
  net_nodelay(h, RET);
  return ok(1) ? Result.ok<bool>(load<u8>(RET, 1) != 0) : failed<bool>();
}

/** A socket listening for connections. */
export class TcpListener extends Resource {
  constructor(handle: u32) {
    super(handle);
  }

  /** Takes handle number `index` of the last received message as a TCP listener
   * (ABI 1.9); another kind fails with INVALID_ARGUMENT and stays in the message. */
  static take(index: u32): Result<TcpListener> {
    const h = takeHandleAs(index, HandleKind.TCP_LISTENER);
    return h.isOk ? Result.ok<TcpListener>(new TcpListener(h.value)) : Result.err<TcpListener>(h.error);
  }

  /** Binds to "IP:PORT" (port 0 picks one); fails with PERMISSION_DENIED
   * (the error names the --allow-net rule) or ADDRESS_IN_USE. */
  static bind(addr: string): Result<TcpListener> {
    const a = utf8(addr);
    net_bind(changetype<usize>(a), a.byteLength, RET);
    return ok(4) ? Result.ok<TcpListener>(new TcpListener(load<u32>(RET, 4))) : failed<TcpListener>();
  }

  /** Waits for a connection, at most `timeoutMs`. */
  accept(timeoutMs: i64 = -1): Result<TcpStream> {
    net_accept(this.handle, hasTimeout(timeoutMs), nanos(timeoutMs), RET);
    return ok(4) ? Result.ok<TcpStream>(new TcpStream(load<u32>(RET, 4))) : failed<TcpStream>();
  }

  /** The address it listens on ("IP:PORT"). */
  localAddress(): Result<string> {
    return address(this.handle, false);
  }
}

/** What a stream and its halves share: the connection's two addresses. */
export abstract class Connection extends Resource {
  constructor(handle: u32) {
    super(handle);
  }

  /** The peer's address ("IP:PORT"). */
  peerAddress(): Result<string> {
    return address(this.handle, true);
  }

  /** This end's address ("IP:PORT"). */
  localAddress(): Result<string> {
    return address(this.handle, false);
  }
}

/** A TCP connection. */
export class TcpStream extends Connection {
  constructor(handle: u32) {
    super(handle);
  }

  /** Takes handle number `index` of the last received message as a TCP stream
   * (ABI 1.9); another kind fails with INVALID_ARGUMENT and stays in the message. */
  static take(index: u32): Result<TcpStream> {
    const h = takeHandleAs(index, HandleKind.TCP_STREAM);
    return h.isOk ? Result.ok<TcpStream>(new TcpStream(h.value)) : Result.err<TcpStream>(h.error);
  }

  /** Connects to an address (trying each address a name resolves to). */
  static connect(addr: string, timeoutMs: i64 = -1): Result<TcpStream> {
    const a = utf8(addr);
    net_connect(changetype<usize>(a), a.byteLength, hasTimeout(timeoutMs), nanos(timeoutMs), RET);
    return ok(4) ? Result.ok<TcpStream>(new TcpStream(load<u32>(RET, 4))) : failed<TcpStream>();
  }

  /** Reads into `buf`: the count, 0 at end-of-stream. Without a timeout,
   * waits as long as the socket's read timeout. */
  read(buf: Uint8Array, timeoutMs: i64 = -1): Result<i32> {
    return readHandle(this.handle, buf, timeoutMs, false);
  }

  /** As `read`, but the bytes stay in the socket for the next read. */
  peek(buf: Uint8Array, timeoutMs: i64 = -1): Result<i32> {
    return readHandle(this.handle, buf, timeoutMs, true);
  }

  /** Writes some of `data`, waiting for room at most `timeoutMs` (or the
   * socket's write timeout): the count; fails with TIMEOUT, ... */
  write(data: Uint8Array, timeoutMs: i64 = -1): Result<i32> {
    return writeHandle(this.handle, data, timeoutMs);
  }

  /** Writes all of `data`; each wait for room lasts at most `timeoutMs`. */
  writeAll(data: Uint8Array, timeoutMs: i64 = -1): Result<void> {
    return writeAllHandle(this.handle, data, timeoutMs);
  }

  /** Writes what the send buffer takes now, without waiting; fails with
   * WOULD_BLOCK when it is full. */
  tryWrite(data: Uint8Array): Result<i32> {
    return tryWriteHandle(this.handle, data);
  }

  /** Shuts down reading, writing or both (ShutdownHow). */
  shutdown(how: u8 = ShutdownHow.BOTH): Result<void> {
    return shutdownHandle(this.handle, how);
  }

  /** How long reads without a timeout of their own wait (< 0: without
   * limit; 0 is refused). The socket's option: it moves with the stream,
   * and `split` gives it to the read half. */
  setReadTimeout(ms: i64): Result<void> {
    return setTimeoutHandle(this.handle, Direction.READ, ms);
  }

  /** The read timeout in ms; -1 if none. */
  readTimeout(): Result<i64> {
    return timeoutOf(this.handle, Direction.READ);
  }

  /** How long writes without a timeout of their own wait for room (see setReadTimeout). */
  setWriteTimeout(ms: i64): Result<void> {
    return setTimeoutHandle(this.handle, Direction.WRITE, ms);
  }

  /** The write timeout in ms; -1 if none. */
  writeTimeout(): Result<i64> {
    return timeoutOf(this.handle, Direction.WRITE);
  }

  /** Sets TCP_NODELAY (on for every stream the VM makes; false lets the kernel coalesce small writes). */
  setNodelay(enabled: bool): Result<void> {
    return setNodelayHandle(this.handle, enabled);
  }

  /** Whether TCP_NODELAY is set. */
  nodelay(): Result<bool> {
    return nodelayOf(this.handle);
  }

  /** Splits the stream (using it up) into halves; on failure the stream is kept. */
  split(): Result<Halves> {
    net_split(this.handle, RET);
    if (!ok(4)) return failed<Halves>();
    this.release();
    return Result.ok<Halves>(new Halves(new ReadHalf(load<u32>(RET, 4)), new WriteHalf(load<u32>(RET, 8))));
  }
}

/** A stream's two halves, from `split`. */
export class Halves {
  constructor(
    /** The half that reads. */
    public readonly read: ReadHalf,
    /** The half that writes. */
    public readonly write: WriteHalf,
  ) {}
}

/** The reading half of a split stream; it sees end-of-stream when the peer closes its side. */
export class ReadHalf extends Connection {
  constructor(handle: u32) {
    super(handle);
  }

  /** Takes handle number `index` of the last received message as a read half
   * (ABI 1.9); another kind fails with INVALID_ARGUMENT and stays in the message. */
  static take(index: u32): Result<ReadHalf> {
    const h = takeHandleAs(index, HandleKind.READ_HALF);
    return h.isOk ? Result.ok<ReadHalf>(new ReadHalf(h.value)) : Result.err<ReadHalf>(h.error);
  }

  /** As TcpStream's `read`. */
  read(buf: Uint8Array, timeoutMs: i64 = -1): Result<i32> {
    return readHandle(this.handle, buf, timeoutMs, false);
  }

  /** As TcpStream's `peek`. */
  peek(buf: Uint8Array, timeoutMs: i64 = -1): Result<i32> {
    return readHandle(this.handle, buf, timeoutMs, true);
  }

  /** As TcpStream's `setReadTimeout`. */
  setReadTimeout(ms: i64): Result<void> {
    return setTimeoutHandle(this.handle, Direction.READ, ms);
  }

  /** The read timeout in ms; -1 if none. */
  readTimeout(): Result<i64> {
    return timeoutOf(this.handle, Direction.READ);
  }

  /** Stops reading; further reads return end-of-stream. */
  shutdown(): Result<void> {
    return shutdownHandle(this.handle, ShutdownHow.READ);
  }

  /**
   * Erlang's `{active, N}` (ABI 1.5): the next `count` reads arrive as data
   * messages tagged `tag` instead of through `read` (decode each with
   * `SocketEvent.decode`), so the process can wait for them beside its
   * other messages, and hibernate meanwhile. After them, the peer's end or
   * an error, the half is passive again; `count` 0 makes it passive now.
   * While active, reads fail (INVALID_ARGUMENT) and the half cannot move
   * to another process.
   */
  setActive(count: u32, tag: u64): Result<void> {
    net_set_active(this.handle, count, tag, RET);
    return ok(1) ? Result.done() : failed<void>();
  }

  /** Joins with the write half of the same stream, using both up; fails
   * with NOT_PAIRED (both kept) if they are of different streams. */
  reunite(write: WriteHalf): Result<TcpStream> {
    net_reunite(this.handle, write.handle, RET);
    if (!ok(4)) return failed<TcpStream>();
    this.release();
    write.release();
    return Result.ok<TcpStream>(new TcpStream(load<u32>(RET, 4)));
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
    public kind: u32 = SocketEvent.CLOSED,
    /** The bytes read, or the error's text. */
    public data: Uint8Array = new Uint8Array(0),
  ) {}

  /** Decodes a message an active read half sent; fails with DECODE if it
   * is not one. (A typed receive takes it directly too:
   * `receive<SocketEvent>({ tags: [tag] })`.) */
  static decode(message: Message): Result<SocketEvent> {
    const r = new Reader(message.data);
    const event = new SocketEvent();
    event.decode(r);
    if (!r.finish()) {
      const text = "a message from process " + message.sender.toString() + " is not a socket event";
      failWith(DECODE, text);
      return Result.err<SocketEvent>(new VmError(DECODE, text));
    }
    return Result.ok<SocketEvent>(event);
  }

  /** Reads an event (postcard's enum, as the VM sends it). */
  decode(r: Reader): void {
    this.kind = r.variant();
    this.data = new Uint8Array(0);
    if (this.kind == SocketEvent.DATA || this.kind == SocketEvent.ERROR) this.data = r.bytes();
    else if (this.kind != SocketEvent.CLOSED) r.error = true;
  }

  /** Writes the event as the VM does. */
  encode(w: Writer): void {
    w.variant(this.kind);
    if (this.kind != SocketEvent.CLOSED) w.bytes(this.data);
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

  /** Takes handle number `index` of the last received message as a write half
   * (ABI 1.9); another kind fails with INVALID_ARGUMENT and stays in the message. */
  static take(index: u32): Result<WriteHalf> {
    const h = takeHandleAs(index, HandleKind.WRITE_HALF);
    return h.isOk ? Result.ok<WriteHalf>(new WriteHalf(h.value)) : Result.err<WriteHalf>(h.error);
  }

  /** As TcpStream's `write`. */
  write(data: Uint8Array, timeoutMs: i64 = -1): Result<i32> {
    return writeHandle(this.handle, data, timeoutMs);
  }

  /** As TcpStream's `writeAll`. */
  writeAll(data: Uint8Array, timeoutMs: i64 = -1): Result<void> {
    return writeAllHandle(this.handle, data, timeoutMs);
  }

  /** As TcpStream's `tryWrite`. */
  tryWrite(data: Uint8Array): Result<i32> {
    return tryWriteHandle(this.handle, data);
  }

  /** As TcpStream's `setWriteTimeout`. */
  setWriteTimeout(ms: i64): Result<void> {
    return setTimeoutHandle(this.handle, Direction.WRITE, ms);
  }

  /** The write timeout in ms; -1 if none. */
  writeTimeout(): Result<i64> {
    return timeoutOf(this.handle, Direction.WRITE);
  }

  /** Sets TCP_NODELAY: the whole connection's option. */
  setNodelay(enabled: bool): Result<void> {
    return setNodelayHandle(this.handle, enabled);
  }

  /** Whether TCP_NODELAY is set. */
  nodelay(): Result<bool> {
    return nodelayOf(this.handle);
  }

  /** Shuts down writing now; the peer sees end-of-stream. */
  shutdown(): Result<void> {
    return shutdownHandle(this.handle, ShutdownHow.WRITE);
  }
}
