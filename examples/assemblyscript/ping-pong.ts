// Two processes hit a typed ball back and forth (`vm run ping-pong.wasm -- 5`).
//
// The ball's type comes from examples/messages.wit: `vm bindgen
// messages.wit --lang assemblyscript` generated messages.ts, and the Rust
// and C ping-pong examples use types generated from the same file, so
// players in different languages understand each other. A generated class
// goes straight into a typed `Process<Ball>` and out of `Message.decode`.
import { Process, receive, spawn, print, eprint, exit, args, lastError } from "../../sdk-assemblyscript/assembly/index";
import { Ball, BallKind, Ping, Pong } from "./messages";

function player(_capture: Uint8Array): void {
  while (true) {
    const m = receive();
    if (m == null) return;
    const decoded = m.decode<Ball>();
    if (decoded == null || decoded.value.kind != BallKind.Ping) continue;
    const ping = decoded.value.ping!;
    print("pong: got ping " + ping.n.toString());
    const pong = new Pong();
    pong.n = ping.n;
    new Process<Ball>(ping.replyTo).send(Ball.pong(pong));
  }
}

export function _start(): void {
  const argv = args();
  const rounds: u32 = argv.length > 1 ? U32.parseInt(argv[1]) : 3;
  const spawned = spawn(player, new Uint8Array(0));
  if (spawned == null) exit("spawn failed: " + lastError());
  const other = spawned!.typed<Ball>();
  const me = Process.self().id;
  for (let n: u32 = 1; n <= rounds; n++) {
    const ping = new Ping();
    ping.n = n;
    ping.replyTo = me;
    other.send(Ball.ping(ping));
    const m = receive();
    const ball = m != null ? Ball.fromBytes(m.data) : null;
    if (ball == null || ball.kind != BallKind.Pong) {
      eprint("expected a pong");
      exit("expected a pong");
      return;
    }
    print("ping: got pong " + ball.pong!.n.toString());
  }
  print("done: " + rounds.toString() + " round trips between processes " + me.toString() + " and " + other.id.toString());
}
