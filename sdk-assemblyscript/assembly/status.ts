// Statuses: what a failed call reports. Fallible functions return null (or a
// negative count) and record the status; `lastStatus()` and `lastError()`
// read it, as errno does in C. A failure the SDK detects itself (a message
// that does not decode, a full send buffer) records its own text, so
// `lastError()` always describes the last failure, never an older one.

import { ErrorCode, version_last_error } from "./abi";

/** 0 means success; otherwise 1 + an ABI error code, or an SDK status below. */
export type Status = i32;
export const OK: Status = 0;
/** A message did not decode as the expected type. */
export const DECODE: Status = 1000;
/** `tryWrite` found the socket's send buffer full (tokio's `WouldBlock`). */
export const WOULD_BLOCK: Status = 1001;
/** A request's server ended before it replied (`lastDown()` says why). */
export const DOWN: Status = 1002;
/** A message or text ended before the length the VM announced. */
export const TRUNCATED: Status = 1003;

let last: Status = OK;
/** The SDK's own text for the last failure; null when the VM's applies. */
let sdkText: string | null = null;

/** The status of the last call that failed. */
export function lastStatus(): Status {
  return last;
}

/** @internal Records a raw ABI error code; the VM holds its text. */
export function fail(code: u8): void {
  last = (code as i32) + 1;
  sdkText = null;
}

/** @internal Records a failure the SDK detected, with the text that explains it. */
export function failWith(status: Status, text: string): void {
  last = status;
  sdkText = text;
}

/** The explanation of the last failed call: the SDK's, or the VM's in full. */
export function lastError(): string {
  const own = sdkText;
  if (own != null) return own;
  let buf = new Uint8Array(256);
  const full = version_last_error(buf.dataStart as u32, buf.length as u32);
  if (full > (buf.length as u32)) {
    // The VM returns the full length: ask again with room for all of it.
    buf = new Uint8Array(full);
    version_last_error(buf.dataStart as u32, full);
  }
  return String.UTF8.decodeUnsafe(buf.dataStart, min(full, buf.length as u32) as usize);
}

const NAMES: string[] = [
  "invalid-handle", "out-of-bounds", "invalid-argument", "timeout", "not-found",
  "already-registered", "module-invalid", "module-incompatible", "permission-denied", "limit-reached",
  "connection-refused", "connection-reset", "address-in-use", "unreachable", "not-paired", "io",
];

/** A status's name ("timeout", "decode", "would-block", ...). */
export function statusName(s: Status): string {
  if (s == OK) return "ok";
  if (s == DECODE) return "decode";
  if (s == WOULD_BLOCK) return "would-block";
  if (s == DOWN) return "down";
  if (s == TRUNCATED) return "truncated";
  if (s > 0 && s - 1 < NAMES.length) return NAMES[s - 1];
  return "unknown";
}

/** The status for an ABI error code. */
export function statusOf(code: u8): Status {
  return (code as i32) + 1;
}

// Keep the generated enum reachable for users of this module.
export { ErrorCode };
