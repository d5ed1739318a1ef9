//! A chat room over TCP, built from split streams.
//!
//! Each client's stream is split: a reader process owns the read half and
//! turns lines into room messages; a writer process owns the write half and
//! writes what the room broadcasts. The room process keeps the writers and
//! forwards each line to everyone else. A client's first line is its name.
//!
//! `vm run --allow-net 127.0.0.1 chat.wasm -- 127.0.0.1:7000`
//! (port 0 picks a free port). The first line printed is the bound address.

use serde::{Deserialize, Serialize};
use std::io::{BufRead, BufReader, Write};
use vm_sdk::net::{OwnedReadHalf, OwnedWriteHalf, TcpListener};
use vm_sdk::process::{spawn, Process};
use vm_sdk::Mailbox;

/// What the room hears.
#[derive(Serialize, Deserialize)]
enum Room {
    Join {
        client: u64,
        writer: Process<Outgoing>,
    },
    Say {
        client: u64,
        name: String,
        text: String,
    },
    Leave {
        client: u64,
    },
}

/// What a writer is told.
#[derive(Serialize, Deserialize)]
enum Outgoing {
    Line(String),
    Close,
}

fn room((): (), mailbox: Mailbox<Room>) {
    let mut members: Vec<(u64, Process<Outgoing>)> = Vec::new();
    while let Ok(message) = mailbox.receive() {
        match message {
            Room::Join { client, writer } => members.push((client, writer)),
            Room::Say { client, name, text } => {
                for (_, writer) in members.iter().filter(|(c, _)| *c != client) {
                    writer.send(Outgoing::Line(format!("{name}: {text}\n")));
                }
            }
            Room::Leave { client } => {
                if let Some(i) = members.iter().position(|(c, _)| *c == client) {
                    members.remove(i).1.send(Outgoing::Close);
                }
            }
        }
    }
}

fn writer(mut half: OwnedWriteHalf, mailbox: Mailbox<Outgoing>) {
    while let Ok(Outgoing::Line(line)) = mailbox.receive() {
        if half.write_all(line.as_bytes()).is_err() {
            break;
        }
    }
    // Dropping the half shuts down writing; the socket closes once the
    // reader's half is gone too.
}

/// The next complete line, without its newline; `None` at end-of-stream, on
/// an error, or for a line the client's disconnect cut off.
fn next_line(input: &mut impl BufRead) -> Option<String> {
    let mut line = String::new();
    match input.read_line(&mut line) {
        Ok(_) if line.ends_with('\n') => Some(line.trim_end_matches(['\r', '\n']).to_string()),
        _ => None,
    }
}

fn reader((half, room, client): (OwnedReadHalf, Process<Room>, u64), _: Mailbox<()>) {
    let mut input = BufReader::new(half);
    if let Some(name) = next_line(&mut input) {
        while let Some(text) = next_line(&mut input) {
            room.send(Room::Say {
                client,
                name: name.clone(),
                text,
            });
        }
    }
    room.send(Room::Leave { client });
}

fn main() {
    let address = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".into());
    let listener = match TcpListener::bind(address.as_str()) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("chat: cannot listen on {address}: {e}");
            std::process::exit(1);
        }
    };
    let room = spawn((), room);
    // Once there is a room to join.
    println!(
        "listening on {}",
        listener
            .local_addr()
            .expect("a bound listener has an address")
    );
    for (client, stream) in (1u64..).zip(listener.incoming()) {
        let Ok(stream) = stream else { continue };
        let (read_half, write_half) = stream.into_split();
        let writer = spawn(write_half, writer);
        room.send(Room::Join { client, writer });
        spawn((read_half, room, client), reader);
    }
}
