//! A line echo server whose connections sleep whole between lines: each
//! connection is one session process that holds both halves of its socket
//! and hibernates (no instance, no memory: about 1.5 KiB) with its read
//! half active once (Erlang's `{active, once}`), so the next bytes arrive
//! as a message that wakes it. A chat member, a device, a player: state
//! that waits for rare messages need not stay awake, nor need its socket.
//!
//! `vm run --allow-net 127.0.0.1 sleepy-echo.wasm -- 127.0.0.1:7002`
//! (port 0 picks a free port). The first line printed is the bound
//! address; each line a client sends comes back as `N: line`, N counting
//! that connection's lines.

use serde::{Deserialize, Serialize};
use std::io::Write;
use vm_sdk::net::{OwnedReadHalf, OwnedWriteHalf, SocketEvent, TcpListener, TcpStream};
use vm_sdk::process::{hibernate, Spawn};
use vm_sdk::Mailbox;

/// The tag the socket's events carry.
const SOCKET: u64 = 1;

/// What a session keeps while it sleeps: its socket, how many lines it
/// echoed, and the start of a line not yet ended.
#[derive(Serialize, Deserialize)]
struct Session {
    input: OwnedReadHalf,
    out: OwnedWriteHalf,
    lines: u64,
    partial: Vec<u8>,
}

/// Wakes for its socket's next bytes, echoes each whole line, asks for the
/// next bytes, and sleeps again; ends when the client does.
fn session(mut s: Session, inbox: Mailbox<SocketEvent>) {
    let bytes = match inbox.receive_tagged(&[SOCKET], None) {
        Ok((_, SocketEvent::Data(bytes))) => bytes,
        // The client is gone, or the socket failed: the session ends, and
        // its socket closes.
        Ok(_) | Err(_) => return,
    };
    for b in bytes {
        s.partial.push(b);
        if b == b'\n' {
            s.lines += 1;
            let answer = [format!("{}: ", s.lines).as_bytes(), &s.partial].concat();
            s.partial.clear();
            if s.out.write_all(&answer).is_err() {
                return;
            }
        }
    }
    if s.input.set_active_once(SOCKET).is_err() {
        return;
    }
    hibernate(s, session)
}

/// Starts a connection's session, asleep until its first bytes.
fn serve(stream: TcpStream) {
    let (input, out) = stream.into_split();
    let state = Session {
        input,
        out,
        lines: 0,
        partial: Vec::new(),
    };
    let started = Spawn::new().start(state, |s: Session, _: Mailbox<SocketEvent>| {
        // Active in the process that owns it (an active half cannot move).
        if s.input.set_active_once(SOCKET).is_ok() {
            hibernate(s, session)
        }
    });
    if let Err(refused) = started {
        eprintln!("sleepy-echo: {}; closing that connection", refused.error);
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
