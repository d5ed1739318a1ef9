// Statuses: what a failed call reports. Fallible functions return a Result
// whose error carries the status and its text (result.ts), and record them
// too; `lastStatus()` and `lastError()` read the last one, as errno does in
// C. A failure the SDK detects itself (a message
// that does not decode, a full send buffer) records its own text, so
// `lastError()` always describes the last failure, never an older one.

import { ErrorCode, version_last_error } from "./abi";
import { Status, OK } from "./statuses";

// The table (OK, TIMEOUT, DECODE, WOULD_BLOCK, DOWN, TRUNCATED, ...,
// statusName), generated from the ABI with the same numbers as C's VM_E_*.
export * from "./statuses";

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

/** The status for an ABI error code. */
export function statusOf(code: u8): Status {
  return (code as i32) + 1;
}

// Keep the generated enum reachable for users of this module.
export { ErrorCode };
