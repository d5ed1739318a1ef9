//! Two VMs joined over NATS: `cluster-server` prints its id and answers
//! pings (or crashes when asked); `cluster-client ID N MODE` links to and
//! monitors that server on the other node, sends N pings, checks the pongs
//! come back in order, and prints how the server's end reaches it (MODE
//! `crash`: it asks the server to crash; `wait`: it prints `ready` and
//! waits, for the test to kill the server's node).

use crate::show;
use serde::{Deserialize, Serialize};
use vm_sdk::mailbox::Event;
use vm_sdk::process::{self, Process};
use vm_sdk::Mailbox;

#[derive(Serialize, Deserialize)]
enum Call {
    Ping { from: u64, seq: u32 },
    Crash,
}

pub fn server() {
    println!("server {}", Process::<Call>::this().id());
    let calls: Mailbox<Call> = Mailbox::this();
    loop {
        match calls.receive().unwrap() {
            Call::Ping { from, seq } => Process::<u32>::from_id(from).send(seq),
            Call::Crash => panic!("asked to crash"),
        }
    }
}

pub fn client(server: u64, pings: u32, mode: &str) {
    process::trap_exits(true);
    let server = Process::<Call>::from_id(server);
    server.link().unwrap();
    let _monitor = server.monitor();
    let me = Process::<u32>::this().id();
    for seq in 0..pings {
        server.send(Call::Ping { from: me, seq });
    }
    let pongs: Mailbox<u32> = Mailbox::this();
    let in_order = (0..pings).all(|seq| pongs.receive().unwrap() == seq);
    println!("{pings} pongs, in order: {in_order}");
    match mode {
        "crash" => server.send(Call::Crash),
        _ => println!("ready"),
    }
    for _ in 0..2 {
        match pongs.receive_event(None).unwrap() {
            Event::Exit(e) => println!("exit {}", show(&e.reason)),
            Event::Down(d) => println!("down {}", show(&d.reason)),
            Event::Message(m) => println!("message {m}"),
        }
    }
}
