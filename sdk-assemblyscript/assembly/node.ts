// The nodes of a cluster and names across it (ABI 1.8; `vm run --cluster`).
// A process id's top 16 bits are its node's slot; outside a cluster the VM
// is node 0, named "local", alone.

import {
  node_self_node, node_up, node_name, node_monitor_node, node_demonitor_node, global_register, global_lookup,
  global_unregister, node_spawn_on, SpawnOptions as SpawnFlags,
} from "./abi";
import { Process, ENTRY, Start } from "./process";
import { RET, ok, utf8 } from "./call";
import { Mailbox } from "./mailbox";
import { Result, failed } from "./result";

/** The node process `id` runs on. */
export function nodeOf(id: u64): u32 {
  return <u32>(id >> 48);
}

/** The id that names node `slot` itself: the sender of its monitor's down. */
export function nodeId(slot: u32): u64 {
  return (<u64>slot) << 48;
}

/** This process's node. */
export function selfNode(): u32 {
  return node_self_node();
}

/** The slots of the nodes up now, this one first. */
export function nodesUp(): Result<u32[]> {
  let cap = 16;
  while (true) {
    const buf = new StaticArray<u32>(cap);
    node_up(<u32>changetype<usize>(buf), <u32>cap, RET);
    if (!ok(4)) return failed<u32[]>();
    const n = load<u32>(RET, 4);
    if (n <= <u32>cap) {
      const out = new Array<u32>(n);
      for (let i: u32 = 0; i < n; i++) out[i] = buf[i];
      return Result.ok<u32[]>(out);
    }
    cap = <i32>n;
  }
}

/** Node `slot`'s name (its --node); fails with NOT_FOUND if it is not up. */
export function nodeName(slot: u32): Result<string> {
  let cap = 64;
  while (true) {
    const buf = new ArrayBuffer(cap);
    node_name(slot, <u32>changetype<usize>(buf), <u32>cap, RET);
    if (!ok(4)) return failed<string>();
    const full = load<u32>(RET, 4);
    if (full <= <u32>cap) return Result.ok<string>(String.UTF8.decodeUnsafe(changetype<usize>(buf), full));
    cap = <i32>full;
  }
}

/**
 * Erlang's monitor_node: when node `slot` goes down (at once if it is not
 * up), a down message tagged with the returned reference arrives from
 * nodeId(slot), reason noconnection. This process's own node never goes
 * down while it lives.
 */
export function monitorNode(slot: u32): u64 {
  return node_monitor_node(slot);
}

/** Stops a node monitor; no down for it arrives after. */
export function demonitorNode(reference: u64): void {
  node_demonitor_node(reference);
}

/**
 * `spawn` on node `slot` (Erlang's spawn(Node, ...)): the module travels
 * there by its hash and runs under that node's limits; no handles cross.
 * Fails if refused: PERMISSION_DENIED if that node does not accept spawns
 * from this one or this module (vm run --accept-spawn-from NODE
 * --accept-module HASH, or '*'), NOT_FOUND if it is not up.
 */
export function spawnOn<C, M>(slot: u32, fn: (capture: C, mailbox: Mailbox<M>) => void, capture: C, link: bool = false): Result<Process<M>> {
  const start = Start.of<C, M>(fn, capture);
  const entry = utf8(ENTRY);
  node_spawn_on(slot, 0, changetype<usize>(entry), entry.byteLength, start.start, start.init.dataStart, start.init.length,
    link ? SpawnFlags.LINK : 0, RET);
  return ok(8) ? Result.ok<Process<M>>(new Process<M>(load<u64>(RET, 8))) : failed<Process<M>>();
}

/**
 * Registers process `id` (of this node) under the global name `name`,
 * Erlang's global: one holder across the cluster, freed when it ends or
 * its node goes down. Fails with ALREADY_REGISTERED, NOT_FOUND,
 * INVALID_ARGUMENT (another node's process) or UNREACHABLE.
 */
export function registerGlobal(name: string, id: u64): Result<void> {
  const n = utf8(name);
  global_register(changetype<usize>(n), n.byteLength, id, RET);
  return ok(1) ? Result.done() : failed<void>();
}

/** The process holding the global name `name`, taken to accept `T`
 * (bytes by default); fails with NOT_FOUND, or UNREACHABLE. */
export function lookupGlobal<T = Uint8Array>(name: string): Result<Process<T>> {
  const n = utf8(name);
  global_lookup(changetype<usize>(n), n.byteLength, RET);
  return ok(8) ? Result.ok<Process<T>>(new Process<T>(load<u64>(RET, 8))) : failed<Process<T>>();
}

/** Removes the global name `name`, whoever holds it; fails with NOT_FOUND
 * if no live process held it. */
export function unregisterGlobal(name: string): Result<void> {
  const n = utf8(name);
  global_unregister(changetype<usize>(n), n.byteLength, RET);
  return ok(1) ? Result.done() : failed<void>();
}
