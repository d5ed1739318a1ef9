//! A chat over TCP whose rooms live on different nodes of a cluster.
//!
//! Each node listens for clients and keeps the rooms named on its command
//! line, each a process registered under a global name (`room:NAME`), so
//! a client on any node finds a room wherever it lives:
//!
//! ```text
//! vm run --cluster nats://127.0.0.1:4222 --node a --allow-net 127.0.0.1 \
//!     cluster-chat.wasm -- 127.0.0.1:7000 lobby
//! vm run --cluster nats://127.0.0.1:4222 --node b --allow-net 127.0.0.1 \
//!     cluster-chat.wasm -- 127.0.0.1:7001 dev
//! ```
//!
//! A client's first line is its name; `/join ROOM` moves it to a room (on
//! whichever node), and every other line is said there. Per client, a
//! reader process owns the socket's read half and a session process the
//! write half and the client's place: the session monitors its room and
//! the room monitors its members, so when a node goes down (links and
//! monitors fire `noconnection`) rooms forget the clients that were there
//! and clients hear that their room is gone.

use serde::{Deserialize, Serialize};
use std::io::{BufRead, BufReader, Write};
use vm_sdk::mailbox::Event;
use vm_sdk::net::{OwnedReadHalf, OwnedWriteHalf, TcpListener};
use vm_sdk::node::Node;
use vm_sdk::process::{spawn, Monitor, Process, Spawn};
use vm_sdk::Mailbox;

/// What a room hears.
#[derive(Serialize, Deserialize)]
enum Room {
    Join {
        session: Process<Session>,
        name: String,
    },
    Say {
        session: u64,
        text: String,
    },
    Leave {
        session: u64,
    },
}

/// What a client's session hears: from its reader, and from its room.
#[derive(Serialize, Deserialize)]
enum Session {
    /// A line the client typed.
    Input(String),
    /// The client is gone.
    Closed,
    /// A line for the client.
    Line(String),
}

/// The global name of room `name`.
fn global_name(name: &str) -> String {
    format!("room:{name}")
}

/// A room: forwards what each member says to the others, and forgets a
/// member that leaves or ends (its session's monitor fires), wherever it
/// runs.
fn room(name: String, mailbox: Mailbox<Room>) {
    struct Member {
        session: Process<Session>,
        name: String,
        monitor: Monitor,
    }
    let here = Node::this().name().unwrap_or_default();
    let mut members: Vec<Member> = Vec::new();
    let tell_all = |members: &[Member], line: String| {
        for m in members {
            m.session.send(Session::Line(line.clone()));
        }
    };
    loop {
        match mailbox.receive_event(None) {
            Ok(Event::Message(Room::Join { session, name: who })) => {
                tell_all(&members, format!("* {who} joined {name}"));
                session.send(Session::Line(format!(
                    "* joined {name} on node {here}, {} here",
                    members.len() + 1
                )));
                let monitor = session.monitor();
                members.push(Member {
                    session,
                    name: who,
                    monitor,
                });
            }
            Ok(Event::Message(Room::Say { session, text })) => {
                let Some(from) = members.iter().find(|m| m.session.id() == session) else {
                    continue;
                };
                let line = format!("[{name}] {}: {text}", from.name);
                for m in members.iter().filter(|m| m.session.id() != session) {
                    m.session.send(Session::Line(line.clone()));
                }
            }
            Ok(Event::Message(Room::Leave { session })) => {
                if let Some(i) = members.iter().position(|m| m.session.id() == session) {
                    let gone = members.remove(i);
                    gone.monitor.demonitor();
                    tell_all(&members, format!("* {} left {name}", gone.name));
                }
            }
            Ok(Event::Down(down)) => {
                if let Some(i) = members.iter().position(|m| m.session.id() == down.process) {
                    let gone = members.remove(i);
                    tell_all(
                        &members,
                        format!("* {} is gone from {name}: {:?}", gone.name, down.reason),
                    );
                }
            }
            Ok(Event::Exit(_)) | Err(_) => {}
        }
    }
}

/// Where a session is: its room's name, the room, and a monitor on it.
struct Place {
    name: String,
    room: Process<Room>,
    monitor: Monitor,
}

/// A client's session: writes what it is told to the socket and keeps
/// the client's room.
fn session((mut out, name): (OwnedWriteHalf, String), mailbox: Mailbox<Session>) {
    let me = Process::<Session>::this();
    let mut place: Option<Place> = None;
    let leave = |place: &mut Option<Place>| {
        if let Some(p) = place.take() {
            p.monitor.demonitor();
            p.room.send(Room::Leave { session: me.id() });
        }
    };
    loop {
        let line = match mailbox.receive_event(None) {
            Ok(Event::Message(Session::Line(line))) => line,
            Ok(Event::Message(Session::Input(text))) => {
                match (text.strip_prefix("/join "), &place) {
                    (Some(wanted), _) => {
                        let wanted = wanted.trim();
                        match Process::<Room>::lookup_global(&global_name(wanted)) {
                            Ok(Some(room)) => {
                                leave(&mut place);
                                let monitor = room.monitor();
                                room.send(Room::Join {
                                    session: me,
                                    name: name.clone(),
                                });
                                place = Some(Place {
                                    name: wanted.to_owned(),
                                    room,
                                    monitor,
                                });
                                // The room says when the client is in.
                                continue;
                            }
                            Ok(None) => format!("* there is no room {wanted}"),
                            Err(e) => format!("* cannot look {wanted} up: {e}"),
                        }
                    }
                    (None, Some(p)) => {
                        p.room.send(Room::Say {
                            session: me.id(),
                            text,
                        });
                        continue;
                    }
                    (None, None) => "* join a room first: /join NAME".to_owned(),
                }
            }
            Ok(Event::Message(Session::Closed)) | Err(_) => break,
            Ok(Event::Down(down)) => match place.take() {
                Some(p) if p.monitor.reference() == down.monitor => {
                    format!("* room {} is gone: {:?}", p.name, down.reason)
                }
                other => {
                    place = other;
                    continue;
                }
            },
            Ok(Event::Exit(_)) => continue,
        };
        if out.write_all(format!("{line}\n").as_bytes()).is_err() {
            break;
        }
    }
    leave(&mut place);
}

/// The next complete line, without its newline; `None` at end-of-stream,
/// on an error, or for a line the client's disconnect cut off.
fn next_line(input: &mut impl BufRead) -> Option<String> {
    let mut line = String::new();
    match input.read_line(&mut line) {
        Ok(_) if line.ends_with('\n') => Some(line.trim_end_matches(['\r', '\n']).to_owned()),
        _ => None,
    }
}

/// A client's reader: its first line is its name; it starts the session
/// and hands it every further line.
fn reader((half, out): (OwnedReadHalf, OwnedWriteHalf), _: Mailbox<()>) {
    let mut input = BufReader::new(half);
    let Some(name) = next_line(&mut input) else {
        return;
    };
    // Linked: a session that crashes takes its reader along (and the
    // socket with it), and a reader that crashes its session.
    let session = match Spawn::new().link().start((out, name), session) {
        Ok(session) => session,
        Err(e) => return eprintln!("cluster-chat: no session for a client: {}", e.error),
    };
    while let Some(text) = next_line(&mut input) {
        session.send(Session::Input(text));
    }
    session.send(Session::Closed);
}

fn main() {
    let mut args = std::env::args().skip(1);
    let address = args.next().unwrap_or_else(|| "127.0.0.1:0".into());
    let listener = match TcpListener::bind(address.as_str()) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("cluster-chat: cannot listen on {address}: {e}");
            std::process::exit(1);
        }
    };
    for name in args {
        let room = spawn(name.clone(), room);
        match room.register_global(&global_name(&name)) {
            Ok(()) => println!("room {name} lives here"),
            Err(e) => {
                room.kill();
                eprintln!("cluster-chat: room {name} lives elsewhere: {e}");
            }
        }
    }
    println!(
        "listening on {}",
        listener
            .local_addr()
            .expect("a bound listener has an address")
    );
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        spawn(stream.into_split(), reader);
    }
}
