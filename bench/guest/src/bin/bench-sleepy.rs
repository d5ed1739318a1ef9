//! Idle connections, as the benchmark `conns` holds them: a line echo
//! server whose connections sleep between lines, in two designs.
//!
//! - `bench-sleepy active`: one session per connection holding both
//!   halves, hibernated with its read half active once (the socket's next
//!   bytes wake it): nothing of the connection stays awake.
//! - `bench-sleepy reader`: a reader process per connection, awake in a
//!   blocking read, and a session holding the write half, hibernated
//!   (the design before active sockets).
//!
//! Prints `listening on ADDR`, then serves until killed.

use serde::{Deserialize, Serialize};
use std::io::{Read, Write};
use vm_sdk::net::{OwnedReadHalf, OwnedWriteHalf, SocketEvent, TcpListener, TcpStream};
use vm_sdk::process::{hibernate, Process, Spawn};
use vm_sdk::Mailbox;

const SOCKET: u64 = 1;

#[derive(Serialize, Deserialize)]
struct Whole {
    input: OwnedReadHalf,
    out: OwnedWriteHalf,
    lines: u64,
}

fn whole(mut s: Whole, inbox: Mailbox<SocketEvent>) {
    let Ok((_, SocketEvent::Data(bytes))) = inbox.receive_tagged(&[SOCKET], None) else {
        return;
    };
    s.lines += bytes.iter().filter(|&&b| b == b'\n').count() as u64;
    if s.out.write_all(&bytes).is_err() || s.input.set_active_once(SOCKET).is_err() {
        return;
    }
    hibernate(s, whole)
}

#[derive(Serialize, Deserialize)]
enum Line {
    Text(Vec<u8>),
    End,
}

#[derive(Serialize, Deserialize)]
struct Writer {
    out: OwnedWriteHalf,
    lines: u64,
}

fn writer(mut s: Writer, inbox: Mailbox<Line>) {
    if let Ok(Line::Text(line)) = inbox.receive() {
        s.lines += 1;
        if s.out.write_all(&line).is_ok() {
            hibernate(s, writer)
        }
    }
}

fn reader((mut input, session): (OwnedReadHalf, Process<Line>), _: Mailbox<()>) {
    let mut buf = [0u8; 4096];
    while let Ok(n @ 1..) = input.read(&mut buf) {
        session.send(Line::Text(buf[..n].to_vec()));
    }
    session.send(Line::End);
}

fn serve(stream: TcpStream, active: bool) {
    let (input, out) = stream.into_split();
    if active {
        let state = Whole {
            input,
            out,
            lines: 0,
        };
        let _ = Spawn::new().start(state, |s: Whole, _: Mailbox<SocketEvent>| {
            if s.input.set_active_once(SOCKET).is_ok() {
                hibernate(s, whole)
            }
        });
    } else {
        let state = Writer { out, lines: 0 };
        let Ok(session) =
            Spawn::new().start(state, |s: Writer, _: Mailbox<Line>| hibernate(s, writer))
        else {
            return;
        };
        let _ = Spawn::new().start((input, session), reader);
    }
}

fn main() {
    let active = std::env::args().nth(1).as_deref() == Some("active");
    let listener = TcpListener::bind("127.0.0.1:0").expect("a port");
    println!("listening on {}", listener.local_addr().expect("bound"));
    for stream in listener.incoming().flatten() {
        serve(stream, active);
    }
}
