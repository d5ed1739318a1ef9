// Why processes end: the reason `down` and `exit` messages carry, one byte
// (normal, exit, trap, killed, noproc, noconnection) and then UTF-8 text.

import { ExitReason as Code } from "./abi";

/** Why a process ended. Compare `kind` with the constants. */
export class ExitReason {
  /** It returned from its function. */
  static readonly NORMAL: u8 = Code.NORMAL;
  /** It called `exit` with a reason, or was sent an exit signal with one. */
  static readonly EXIT: u8 = Code.EXIT;
  /** It crashed: a `throw` or a failed `assert` (text `abort: MESSAGE at
   * FILE:LINE:COLUMN`, as the SDK's abort handler reports them), reading the
   * value of a failed Result, `unreachable`, a memory limit, a Rust panic.
   * A deliberate `exit(reason)` is EXIT instead. */
  static readonly TRAP: u8 = Code.TRAP;
  /** It was killed. */
  static readonly KILLED: u8 = Code.KILLED;
  /** It did not exist when it was linked or monitored. */
  static readonly NOPROC: u8 = Code.NOPROC;
  /** It was on another node, and the connection to that node went down (ABI 1.7). */
  static readonly NOCONNECTION: u8 = Code.NOCONNECTION;

  constructor(
    /** NORMAL, EXIT, TRAP, KILLED, NOPROC or NOCONNECTION (a code a newer VM added reads as TRAP). */
    public readonly kind: u8,
    /** The reason given to `exit`, or why it trapped; "" for the others. */
    public readonly text: string,
  ) {}

  /** Decodes the bytes of a `down` or `exit` message. */
  static decode(bytes: Uint8Array): ExitReason {
    if (bytes.length == 0) return new ExitReason(ExitReason.TRAP, "an empty exit reason");
    const code = bytes[0];
    const text = String.UTF8.decodeUnsafe(bytes.dataStart + 1, bytes.length - 1);
    if (code > ExitReason.NOCONNECTION) return new ExitReason(ExitReason.TRAP, "unknown exit reason " + code.toString() + ": " + text);
    return new ExitReason(code, text);
  }

  /** The kind's name: "normal", "exit", "trap", "killed", "noproc" or "noconnection". */
  get name(): string {
    const k = this.kind;
    return k == ExitReason.NORMAL ? "normal" : k == ExitReason.EXIT ? "exit" : k == ExitReason.TRAP ? "trap" : k == ExitReason.KILLED ? "killed" : k == ExitReason.NOPROC ? "noproc" : "noconnection";
  }

  /** "normal", "exit: TEXT", "trap: TEXT", "killed", "noproc" or "noconnection". */
  toString(): string {
    return this.kind == ExitReason.EXIT || this.kind == ExitReason.TRAP ? this.name + ": " + this.text : this.name;
  }
}
