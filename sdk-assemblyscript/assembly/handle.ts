// Resources: what a handle names (a listener, a stream, a half, a module).
// A handle belongs to one process; sending it in a message, spawning with
// it, splitting, reuniting or closing it uses it up. The object that held it
// then holds 0, which the VM never issues, so a second use fails with
// `invalid-handle` instead of reaching whatever the number names next.

import { handle_drop } from "./abi";
import { RET, ok } from "./call";
import { Result, failed } from "./result";

/** A handle and the object that owns it. */
export abstract class Resource {
  private raw: u32;

  constructor(handle: u32) {
    this.raw = handle;
  }

  /** The handle number; 0 once it has moved or been closed. */
  get handle(): u32 {
    return this.raw;
  }

  /** @internal Gives the handle up: it has moved (or is about to be consumed). */
  release(): u32 {
    const h = this.raw;
    this.raw = 0;
    return h;
  }

  /** Releases the resource (a socket closes when nothing else holds it);
   * fails with INVALID_HANDLE if it was no longer owned (closed, or moved). */
  close(): Result<void> {
    handle_drop(this.release(), RET);
    return ok(1) ? Result.done() : failed<void>();
  }
}

/** @internal The raw handles of a list: numbers as they are, resources by their handle. */
export function handleList<H>(items: H[]): Uint32Array {
  const list = new Uint32Array(items.length);
  for (let i = 0; i < items.length; i++) {
    const item = items[i];
    if (isInteger<H>()) list[i] = item as u32;
    else if (item instanceof Resource) list[i] = item.handle;
    else ERROR("handles are u32 numbers or Resources (streams, halves, listeners, modules)");
  }
  return list;
}

/** @internal After a successful move, the resources of a list no longer hold their handles. */
export function moved<H>(items: H[]): void {
  if (isInteger<H>()) return;
  for (let i = 0; i < items.length; i++) {
    const item = items[i];
    if (item instanceof Resource) item.release();
  }
}
