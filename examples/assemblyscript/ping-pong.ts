// Two processes hit a typed ball back and forth (`vm run ping-pong.wasm -- 5`).
//
// The ball is encoded exactly like the Rust example's
//     enum Ball { Ping { n: u32, reply_to: Process<Ball> }, Pong { n: u32 } }
// so an AssemblyScript process and a Rust process can play together.
import { Process, Reader, Writer, receive, spawn, print, eprint, exit, args, lastError } from "../../sdk-assemblyscript/assembly/index";

const PING: u32 = 0;
const PONG: u32 = 1;

function ping(n: u32, replyTo: u64): Uint8Array {
  return new Writer().variant(PING).u32(n).u64(replyTo).finish();
}

function pong(n: u32): Uint8Array {
  return new Writer().variant(PONG).u32(n).finish();
}

function player(_capture: Uint8Array): void {
  while (true) {
    const m = receive();
    if (m == null) return;
    const r = new Reader(m.data);
    if (r.variant() != PING) continue;
    const n = r.u32();
    const replyTo = new Process(r.u64());
    if (!r.finish()) continue;
    print("pong: got ping " + n.toString());
    replyTo.send(pong(n));
  }
}

export function _start(): void {
  const argv = args();
  const rounds: u32 = argv.length > 1 ? U32.parseInt(argv[1]) : 3;
  const other = spawn(player, new Uint8Array(0));
  if (other == null) exit("spawn failed: " + lastError());
  const me = Process.self().id;
  for (let n: u32 = 1; n <= rounds; n++) {
    other!.send(ping(n, me));
    const m = receive();
    const r = new Reader(m!.data);
    if (r.variant() != PONG) {
      eprint("expected a pong");
      exit("expected a pong");
    }
    print("ping: got pong " + r.u32().toString());
  }
  print("done: " + rounds.toString() + " round trips between processes " + me.toString() + " and " + other!.id.toString());
}
