//! A line echo server whose sessions sleep between lines: each connection
//! gets a reader process, blocked in a read, and a session process that
//! holds the write half and hibernates (no instance, no memory: about 1.4
//! KiB) until the reader hands it a line. A chat member, a device, a
//! player: state that waits for rare messages need not stay awake.
//!
//! `vm run --allow-net 127.0.0.1 sleepy-echo.wasm -- 127.0.0.1:7002`
//! (port 0 picks a free port). The first line printed is the bound
//! address; each line a client sends comes back as `N: line`, N counting
//! that connection's lines.

use serde::{Deserialize, Serialize};
use std::io::{Read, Write};
use vm_sdk::net::{OwnedReadHalf, OwnedWriteHalf, TcpListener, TcpStream};
use vm_sdk::process::{hibernate, Process, Spawn};
use vm_sdk::Mailbox;

/// What the reader tells the session.
#[derive(Serialize, Deserialize)]
enum Line {
    /// A line, with its `\n`.
    Text(Vec<u8>),
    /// The client closed its side.
    End,
}

/// What a session keeps while it sleeps: its half of the socket and how
/// many lines it echoed.
#[derive(Serialize, Deserialize)]
struct Session {
    out: OwnedWriteHalf,
    lines: u64,
}

/// Wakes for one message, answers it, and sleeps again.
fn session(mut s: Session, inbox: Mailbox<Line>) {
    match inbox.receive() {
        Ok(Line::Text(line)) => {
            s.lines += 1;
            let answer = [format!("{}: ", s.lines).as_bytes(), &line].concat();
            if s.out.write_all(&answer).is_err() {
                return;
            }
            hibernate(s, session)
        }
        // The client is gone (or the message was not a line): the session
        // ends, and its half of the socket closes.
        Ok(Line::End) | Err(_) => {}
    }
}

/// Reads lines from the client and hands each to the session.
fn reader((mut input, session): (OwnedReadHalf, Process<Line>), _: Mailbox<()>) {
    let mut line = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        for &b in &buf[..n] {
            line.push(b);
            if b == b'\n' {
                session.send(Line::Text(std::mem::take(&mut line)));
            }
        }
    }
    session.send(Line::End);
}

/// Starts a connection's two processes.
fn serve(stream: TcpStream) {
    let (input, out) = stream.into_split();
    let started = Spawn::new().start(Session { out, lines: 0 }, |s: Session, m: Mailbox<Line>| {
        // Asleep from the start: the first line wakes it.
        let _ = &m;
        hibernate(s, session)
    });
    match started {
        Ok(session) => {
            if let Err(refused) = Spawn::new().start((input, session), reader) {
                eprintln!("sleepy-echo: {}; closing that connection", refused.error);
                session.send(Line::End);
            }
        }
        Err(refused) => eprintln!("sleepy-echo: {}; closing that connection", refused.error),
    }
}

fn main() {
    let address = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".into());
    let listener = match TcpListener::bind(address.as_str()) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("sleepy-echo: cannot listen on {address}: {e}");
            std::process::exit(1);
        }
    };
    println!(
        "listening on {}",
        listener
            .local_addr()
            .expect("a bound listener has an address")
    );
    for stream in listener.incoming() {
        match stream {
            Ok(stream) => serve(stream),
            Err(e) => eprintln!("sleepy-echo: accept failed: {e}"),
        }
    }
}
