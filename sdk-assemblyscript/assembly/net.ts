// TCP: listeners, streams, and streams split into a ReadHalf and a WriteHalf,
// each a handle that can be moved to another process (sendHandles, spawn's
// handles). A ReadHalf has no write method and a WriteHalf no read method.

import {
  net_bind, net_accept, net_connect, net_read, net_write, net_try_write, net_shutdown, net_local_address, net_peer_address,
  net_split, net_reunite, handle_drop, ShutdownHow,
} from "./abi";
import { RET, ok } from "./process";

function address(handle: u32, peer: bool): string | null {
  const buf = new Uint8Array(64);
  if (peer) net_peer_address(handle, buf.dataStart as u32, 64, RET);
  else net_local_address(handle, buf.dataStart as u32, 64, RET);
  if (!ok(4)) return null;
  return String.UTF8.decodeUnsafe(buf.dataStart, min(load<u32>(RET, 4), 64) as usize);
}

function timeoutArgs(ms: i64): u64 {
  return ms >= 0 ? (ms as u64) * 1_000_000 : 0;
}

/** Reads into `buf`; returns the count (0 at end-of-stream), or -1 on error (see lastStatus). */
function readHandle(h: u32, buf: Uint8Array, timeoutMs: i64): i32 {
  net_read(h, buf.dataStart as u32, buf.length as u32, timeoutMs >= 0 ? 1 : 0, timeoutArgs(timeoutMs), RET);
  return ok(4) ? load<u32>(RET, 4) as i32 : -1;
}

function writeAllHandle(h: u32, data: Uint8Array): bool {
  let done = 0;
  while (done < data.length) {
    // Try without waiting (cheaper: the process is not suspended); wait for
    // room only when the send buffer is full.
    net_try_write(h, data.dataStart + done, data.length - done, RET);
    if (ok(4) && load<u32>(RET, 4) == 0) net_write(h, data.dataStart + done, data.length - done, 0, 0, RET);
    if (!ok(4)) return false;
    done += load<u32>(RET, 4) as i32;
  }
  return true;
}

export class TcpListener {
  constructor(public readonly handle: u32) {}

  /** Binds to "IP:PORT" (port 0 picks one); null if denied or in use. */
  static bind(addr: string): TcpListener | null {
    const a = String.UTF8.encode(addr, false, String.UTF8.ErrorMode.REPLACE);
    net_bind(changetype<usize>(a), a.byteLength, RET);
    return ok(4) ? new TcpListener(load<u32>(RET, 4)) : null;
  }

  accept(timeoutMs: i64 = -1): TcpStream | null {
    net_accept(this.handle, timeoutMs >= 0 ? 1 : 0, timeoutArgs(timeoutMs), RET);
    return ok(4) ? new TcpStream(load<u32>(RET, 4)) : null;
  }

  localAddress(): string | null {
    return address(this.handle, false);
  }
}

export class TcpStream {
  constructor(public readonly handle: u32) {}

  static connect(addr: string, timeoutMs: i64 = -1): TcpStream | null {
    const a = String.UTF8.encode(addr, false, String.UTF8.ErrorMode.REPLACE);
    net_connect(changetype<usize>(a), a.byteLength, timeoutMs >= 0 ? 1 : 0, timeoutArgs(timeoutMs), RET);
    return ok(4) ? new TcpStream(load<u32>(RET, 4)) : null;
  }

  read(buf: Uint8Array, timeoutMs: i64 = -1): i32 {
    return readHandle(this.handle, buf, timeoutMs);
  }

  writeAll(data: Uint8Array): bool {
    return writeAllHandle(this.handle, data);
  }

  shutdown(how: u8 = ShutdownHow.BOTH): bool {
    net_shutdown(this.handle, how, RET);
    return ok(1);
  }

  peerAddress(): string | null {
    return address(this.handle, true);
  }

  localAddress(): string | null {
    return address(this.handle, false);
  }

  /** Splits the stream (consuming it) into halves; null on error. */
  split(): Halves | null {
    net_split(this.handle, RET);
    if (!ok(4)) return null;
    return new Halves(new ReadHalf(load<u32>(RET, 4)), new WriteHalf(load<u32>(RET, 8)));
  }

  close(): void {
    handle_drop(this.handle, RET);
  }
}

export class Halves {
  constructor(public readonly read: ReadHalf, public readonly write: WriteHalf) {}
}

export class ReadHalf {
  constructor(public readonly handle: u32) {}

  read(buf: Uint8Array, timeoutMs: i64 = -1): i32 {
    return readHandle(this.handle, buf, timeoutMs);
  }

  /** Joins with the write half of the same stream; null (both kept) if they differ. */
  reunite(write: WriteHalf): TcpStream | null {
    net_reunite(this.handle, write.handle, RET);
    return ok(4) ? new TcpStream(load<u32>(RET, 4)) : null;
  }

  close(): void {
    handle_drop(this.handle, RET);
  }
}

export class WriteHalf {
  constructor(public readonly handle: u32) {}

  writeAll(data: Uint8Array): bool {
    return writeAllHandle(this.handle, data);
  }

  /** Dropping the write half shuts down writing. */
  close(): void {
    handle_drop(this.handle, RET);
  }
}
