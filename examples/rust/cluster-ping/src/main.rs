//! Ping-pong between two VMs joined over NATS.
//!
//! On one node, `vm run --cluster nats://127.0.0.1:4222 --node a
//! cluster-ping.wasm` serves pings and prints its process id. On another,
//! `vm run --cluster nats://127.0.0.1:4222 --node b cluster-ping.wasm --
//! ID 1000` monitors that process, plays 1,000 round trips with it and
//! prints what they took; if the serving node goes away meanwhile, the
//! monitor says so (`noconnection`) instead of the pings waiting forever.
//! A process id is just a number here: it names its node, so sending to it
//! is the same call as sending to a process next door.

use serde::{Deserialize, Serialize};
use std::time::Instant;
use vm_sdk::mailbox::Event;
use vm_sdk::process::Process;
use vm_sdk::Mailbox;

#[derive(Serialize, Deserialize)]
struct Ping {
    n: u32,
    reply_to: u64,
}

fn main() {
    let mut args = std::env::args().skip(1);
    match args.next().and_then(|id| id.parse::<u64>().ok()) {
        None => serve(),
        Some(server) => {
            let rounds = args.next().and_then(|n| n.parse().ok()).unwrap_or(100);
            ping(Process::from_id(server), rounds)
        }
    }
}

/// Answers every ping with its number, to whoever asks.
fn serve() {
    let me = Process::<Ping>::this();
    println!("serving pings as process {}", me.id());
    let mailbox = Mailbox::<Ping>::this();
    while let Ok(ping) = mailbox.receive() {
        Process::<u32>::from_id(ping.reply_to).send(ping.n);
    }
}

/// Plays `rounds` round trips with `server`, watching it.
fn ping(server: Process<Ping>, rounds: u32) {
    let watch = server.monitor();
    let me = Process::<u32>::this().id();
    let mailbox = Mailbox::<u32>::this();
    let start = Instant::now();
    for n in 1..=rounds {
        server.send(Ping { n, reply_to: me });
        match mailbox.receive_event(None) {
            Ok(Event::Message(back)) if back == n => {}
            Ok(Event::Down(down)) => {
                println!(
                    "the server is gone after {} rounds: {:?}",
                    n - 1,
                    down.reason
                );
                std::process::exit(1);
            }
            other => panic!("expected pong {n}, got {other:?}"),
        }
    }
    watch.demonitor();
    let each = start.elapsed() / rounds.max(1);
    println!(
        "{rounds} round trips with process {}: {each:?} each",
        server.id()
    );
}
