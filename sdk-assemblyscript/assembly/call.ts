// The return area raw calls write their results to, and the check that turns
// a failed result into a recorded status.

import { fail } from "./status";

/** @internal A return area for raw calls (results are at most 16 bytes). */
export const RET: usize = memory.data(16, 8);

/** @internal The ok flag of a result at RET; records the error otherwise. */
export function ok(payloadOffset: usize): bool {
  if (load<u8>(RET) == 0) return true;
  fail(load<u8>(RET + payloadOffset));
  return false;
}

/** @internal Text as UTF-8 (a lone surrogate becomes U+FFFD). */
export function utf8(s: string): ArrayBuffer {
  return String.UTF8.encode(s, false, String.UTF8.ErrorMode.REPLACE);
}

/** @internal Milliseconds (< 0: none) as the ABI's optional nanoseconds. */
export function hasTimeout(ms: i64): u32 {
  return ms >= 0 ? 1 : 0;
}

/** @internal See hasTimeout. */
export function nanos(ms: i64): u64 {
  return ms < 0 ? 0 : nanosOf(ms as u64);
}

/** @internal Milliseconds as nanoseconds, saturating: a huge wait or delay waits
 * (practically) forever instead of wrapping to a short one. */
export function nanosOf(ms: u64): u64 {
  return ms > U64.MAX_VALUE / 1_000_000 ? U64.MAX_VALUE : ms * 1_000_000;
}
