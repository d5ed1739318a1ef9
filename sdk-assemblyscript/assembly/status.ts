// Statuses: what a failed call reports. Fallible functions return null (or a
// negative count) and record the status; `lastStatus()` and `lastError()`
// read it, as errno does in C.

import { ErrorCode, version_last_error } from "./abi";

/** 0 means success; otherwise 1 + an ABI error code, or an SDK status below. */
export type Status = i32;
export const OK: Status = 0;
/** A message did not decode as the expected type. */
export const DECODE: Status = 1000;

let last: Status = OK;

/** The status of the last call that failed. */
export function lastStatus(): Status {
  return last;
}

/** @internal Records a raw ABI error code. */
export function fail(code: u8): void {
  last = (code as i32) + 1;
}

/** @internal Records an SDK status. */
export function failWith(status: Status): void {
  last = status;
}

/** The VM's explanation of the last failed call. */
export function lastError(): string {
  const buf = new Uint8Array(256);
  const full = version_last_error(buf.dataStart as u32, buf.length as u32);
  return String.UTF8.decodeUnsafe(buf.dataStart, min(full, buf.length as u32) as usize);
}

const NAMES: string[] = [
  "invalid-handle", "out-of-bounds", "invalid-argument", "timeout", "not-found",
  "already-registered", "module-invalid", "module-incompatible", "permission-denied", "limit-reached",
  "connection-refused", "connection-reset", "address-in-use", "unreachable", "not-paired", "io",
];

/** A status's name ("timeout", "decode", ...). */
export function statusName(s: Status): string {
  if (s == OK) return "ok";
  if (s == DECODE) return "decode";
  if (s > 0 && s - 1 < NAMES.length) return NAMES[s - 1];
  return "unknown";
}

/** The status for an ABI error code. */
export function statusOf(code: u8): Status {
  return (code as i32) + 1;
}

// Keep the generated enum reachable for users of this module.
export { ErrorCode };
