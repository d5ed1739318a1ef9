//! Two processes hit a typed ball back and forth.
//!
//! `vm run ping-pong.wasm -- 5` plays five rounds (three by default).

use serde::{Deserialize, Serialize};
use vm_sdk::process::{spawn, Process};
use vm_sdk::Mailbox;

#[derive(Debug, Serialize, Deserialize)]
enum Ball {
    Ping { n: u32, reply_to: Process<Ball> },
    Pong { n: u32 },
}

fn main() {
    let rounds: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(3);
    let pong = spawn((), |(), mailbox: Mailbox<Ball>| {
        while let Ok(ball) = mailbox.receive() {
            if let Ball::Ping { n, reply_to } = ball {
                println!("pong: got ping {n}");
                reply_to.send(Ball::Pong { n });
            }
        }
    });
    let me = Process::<Ball>::this();
    let mailbox = Mailbox::<Ball>::this();
    for n in 1..=rounds {
        pong.send(Ball::Ping { n, reply_to: me });
        match mailbox.receive() {
            Ok(Ball::Pong { n: back }) => println!("ping: got pong {back}"),
            other => panic!("expected a pong, got {other:?}"),
        }
    }
    println!(
        "done: {rounds} round trips between processes {} and {}",
        me.id(),
        pong.id()
    );
}
