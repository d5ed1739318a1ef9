//! Two processes hit a typed ball back and forth.
//!
//! `vm run ping-pong.wasm -- 5` plays five rounds (three by default). The
//! ball's type comes from examples/messages.wit (`vm bindgen`), which the C
//! and AssemblyScript ping-pong examples share, so players in different
//! languages understand each other.

mod messages;

use messages::{Ball, Ping, Pong};
use vm_sdk::process::{spawn, Process};
use vm_sdk::Mailbox;

fn main() {
    let rounds: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(3);
    let pong = spawn((), |(), mailbox: Mailbox<Ball>| {
        while let Ok(ball) = mailbox.receive() {
            if let Ball::Ping(Ping { n, reply_to }) = ball {
                println!("pong: got ping {n}");
                Process::<Ball>::from_id(reply_to).send(Ball::Pong(Pong { n }));
            }
        }
    });
    let me = Process::<Ball>::this();
    let mailbox = Mailbox::<Ball>::this();
    for n in 1..=rounds {
        pong.send(Ball::Ping(Ping {
            n,
            reply_to: me.id(),
        }));
        match mailbox.receive() {
            Ok(Ball::Pong(Pong { n: back })) => println!("ping: got pong {back}"),
            other => panic!("expected a pong, got {other:?}"),
        }
    }
    println!(
        "done: {rounds} round trips between processes {} and {}",
        me.id(),
        pong.id()
    );
}
