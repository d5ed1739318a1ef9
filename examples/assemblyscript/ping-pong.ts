// Two processes hit a typed ball back and forth (`vm run ping-pong.wasm -- 5`).
//
// The ball's type comes from examples/messages.wit: `vm bindgen
// messages.wit --lang assemblyscript` generated messages.ts, and the Rust
// and C ping-pong examples use types generated from the same file, so
// players in different languages understand each other. A generated class
// goes straight into a typed `Process<Ball>`, and out of a `Mailbox<Ball>`.
import { Mailbox, Process, spawn, print, eprint, exit, args } from "../../sdk-assemblyscript/assembly/index";
import { Ball, BallKind, Ping, Pong } from "./messages";

function player(_nothing: i32, mailbox: Mailbox<Ball>): void {
  while (true) {
    const ball = mailbox.receive();
    if (!ball.isOk || ball.value.kind != BallKind.Ping) continue;
    const ping = ball.value.ping!;
    print("pong: got ping " + ping.n.toString());
    const pong = new Pong();
    pong.n = ping.n;
    new Process<Ball>(ping.replyTo).send(Ball.pong(pong));
  }
}

export function _start(): void {
  const argv = args();
  const rounds: u32 = argv.length > 1 ? U32.parseInt(argv[1]) : 3;
  const spawned = spawn(player, 0);
  if (!spawned.isOk) return exit("spawn failed: " + spawned.error.toString());
  const other = spawned.value;
  const mailbox = new Mailbox<Ball>();
  const me = Process.self().id;
  for (let n: u32 = 1; n <= rounds; n++) {
    const ping = new Ping();
    ping.n = n;
    ping.replyTo = me;
    other.send(Ball.ping(ping));
    const ball = mailbox.receive();
    if (!ball.isOk || ball.value.kind != BallKind.Pong) {
      eprint("expected a pong");
      return exit("expected a pong");
    }
    print("ping: got pong " + ball.value.pong!.n.toString());
  }
  print("done: " + rounds.toString() + " round trips between processes " + me.toString() + " and " + other.id.toString());
}
