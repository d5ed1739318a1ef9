//! A TCP key-value server: a store under a supervisor, and a session per
//! connection that sleeps whole while its client is idle.
//!
//! ```text
//! main      binds, prints `listening on ADDRESS`, accepts
//! app       supervisor, one-for-one
//! └── store a server registered as "store", reached by name
//! session   one per connection, hibernated between commands
//! ```
//!
//! `vm run --allow-net 127.0.0.1 kv-server.wasm -- 127.0.0.1:7003` (port 0
//! picks a free port). Clients speak lines:
//!
//! | command            | answer                                         |
//! | ------------------ | ---------------------------------------------- |
//! | `SET key value…`   | `OK` (the value is the rest of the line)       |
//! | `GET key`          | `VALUE value` or `NONE`                        |
//! | `DEL key`          | `DELETED` or `NONE`                            |
//! | `COUNT`            | `COUNT n`, the number of keys                  |
//! | `CRASH`            | `CRASHED reason`: the store panics on purpose, |
//! |                    | so you can watch its supervisor restart it     |
//! | anything else      | `ERROR why`                                    |
//!
//! A restarted store starts empty, as an OTP server does; connections live
//! on, since sessions reach the store by its name ([`Named`]), whichever
//! process holds it. Each request to the store is a typed ask: a
//! [`StoreCast`] carries a [`ReplyTo`] of its own answer's type.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::io::Write;
use vm_sdk::net::{OwnedReadHalf, OwnedWriteHalf, SocketEvent, TcpListener, TcpStream};
use vm_sdk::process::{hibernate, Spawn};
use vm_sdk::request::{ReplyTo, Request, RequestError};
use vm_sdk::server::{Named, Next, Server};
use vm_sdk::supervisor::{self, ChildSpec, Spec, Strategy, Supervise, SupervisorRef};
use vm_sdk::{Failure, Mailbox};

/// The store's registered name.
const STORE: &str = "store";
/// The tag a socket's events carry.
const SOCKET: u64 = 1;
/// The longest line a client may send.
const MAX_LINE: usize = 64 * 1024;

/// The store: keys to values, in one process.
struct Store(HashMap<String, String>);

/// What a session asks the store; each carries where its answer goes.
#[derive(Serialize, Deserialize)]
enum StoreCast {
    Set(String, String, ReplyTo<()>),
    Get(String, ReplyTo<Option<String>>),
    Del(String, ReplyTo<bool>),
    Count(ReplyTo<u64>),
    /// Panics, on purpose (the `CRASH` command).
    Crash(ReplyTo<()>),
}

impl Server for Store {
    type Arg = ();
    /// The store takes no untyped calls: every request is a [`StoreCast`].
    type Call = ();
    type Reply = ();
    type Cast = StoreCast;

    fn init((): ()) -> Result<Self, Failure> {
        eprintln!("kv-server: the store starts, empty");
        Ok(Store(HashMap::new()))
    }

    fn handle_call(&mut self, request: Request<(), ()>) -> Next {
        request.reply(());
        Next::Continue
    }

    fn handle_cast(&mut self, cast: StoreCast) -> Next {
        match cast {
            StoreCast::Set(key, value, reply) => {
                self.0.insert(key, value);
                reply.reply(());
            }
            StoreCast::Get(key, reply) => reply.reply(self.0.get(&key).cloned()),
            StoreCast::Del(key, reply) => reply.reply(self.0.remove(&key).is_some()),
            StoreCast::Count(reply) => reply.reply(self.0.len() as u64),
            StoreCast::Crash(_) => panic!("the store was asked to crash"),
        }
        Next::Continue
    }
}

/// The application's tree: the store, restarted whenever it fails.
struct App;

impl Supervise for App {
    type Arg = ();

    fn init((): ()) -> Spec {
        Spec::new(Strategy::OneForOne).child(ChildSpec::server::<Store>(STORE, ()))
    }
}

/// A client's command, parsed from its line.
#[derive(Debug, PartialEq, Eq)]
enum Command<'a> {
    Set(&'a str, &'a str),
    Get(&'a str),
    Del(&'a str),
    Count,
    Crash,
}

/// Reads one line (without its end) as a command.
fn parse<'a>(line: &'a str) -> Result<Command<'a>, String> {
    let (verb, rest) = line.split_once(' ').unwrap_or((line, ""));
    let key = |rest: &'a str| -> Result<&'a str, String> {
        match rest {
            "" => Err(format!("{verb} needs a key")),
            k if k.contains(' ') => Err(format!("{verb} takes one key, without spaces")),
            k => Ok(k),
        }
    };
    match verb {
        "SET" => match rest.split_once(' ') {
            Some((k, v)) if !k.is_empty() => Ok(Command::Set(k, v)),
            _ => Err("SET needs a key and a value".into()),
        },
        "GET" => key(rest).map(Command::Get),
        "DEL" => key(rest).map(Command::Del),
        "COUNT" if rest.is_empty() => Ok(Command::Count),
        "CRASH" if rest.is_empty() => Ok(Command::Crash),
        "COUNT" | "CRASH" => Err(format!("{verb} takes nothing after it")),
        _ => Err(format!("unknown command {verb:?}")),
    }
}

/// What a connection keeps while it sleeps.
#[derive(Serialize, Deserialize)]
struct Session {
    input: OwnedReadHalf,
    out: OwnedWriteHalf,
    /// The start of a line not yet ended.
    partial: Vec<u8>,
    app: SupervisorRef<App>,
}

/// Runs `command` against the store; the answer line, without its end.
fn answer(command: Command<'_>, app: SupervisorRef<App>) -> String {
    let store = Named::<Store>::new(STORE);
    let unavailable = |e: RequestError| format!("ERROR the store is unavailable: {e}");
    match command {
        Command::Set(k, v) => store
            .ask(|r| StoreCast::Set(k.into(), v.into(), r))
            .map_or_else(unavailable, |()| "OK".into()),
        Command::Get(k) => match store.ask(|r| StoreCast::Get(k.into(), r)) {
            Ok(Some(v)) => format!("VALUE {v}"),
            Ok(None) => "NONE".into(),
            Err(e) => unavailable(e),
        },
        Command::Del(k) => match store.ask(|r| StoreCast::Del(k.into(), r)) {
            Ok(true) => "DELETED".into(),
            Ok(false) => "NONE".into(),
            Err(e) => unavailable(e),
        },
        Command::Count => store
            .ask(StoreCast::Count)
            .map_or_else(unavailable, |n| format!("COUNT {n}")),
        Command::Crash => match store.ask(StoreCast::Crash) {
            Err(RequestError::Down(reason)) => {
                // The supervisor heard of the crash before this session did
                // (links fire before monitors); its answer comes after it
                // has restarted the store, so the next command finds it.
                let _ = app.which_children();
                format!("CRASHED {reason:?}")
            }
            Ok(()) => "ERROR the store did not crash".into(),
            Err(e) => unavailable(e),
        },
    }
}

/// Wakes for the socket's next bytes, answers each whole line, asks for
/// the next bytes and sleeps again; ends when the client does.
fn session(mut s: Session, inbox: Mailbox<SocketEvent>) {
    let bytes = match inbox.receive_tagged(&[SOCKET], None) {
        Ok((_, SocketEvent::Data(bytes))) => bytes,
        // The client is gone, or the socket failed: the session ends, and
        // its socket closes.
        Ok(_) | Err(_) => return,
    };
    s.partial.extend_from_slice(&bytes);
    let mut replies = Vec::new();
    while let Some(end) = s.partial.iter().position(|&b| b == b'\n') {
        let line: Vec<u8> = s.partial.drain(..=end).collect();
        let text = String::from_utf8_lossy(&line[..end]);
        let text = text.strip_suffix('\r').unwrap_or(&text);
        let reply = match parse(text) {
            Ok(command) => answer(command, s.app),
            Err(why) => format!("ERROR {why}"),
        };
        replies.extend_from_slice(reply.as_bytes());
        replies.push(b'\n');
    }
    if s.out.write_all(&replies).is_err() {
        return;
    }
    if s.partial.len() > MAX_LINE {
        let _ = writeln!(s.out, "ERROR a line is longer than {MAX_LINE} bytes");
        return;
    }
    if s.input.set_active_once(SOCKET).is_err() {
        return;
    }
    hibernate(s, session)
}

/// Starts a connection's session, asleep until its first bytes.
fn serve(stream: TcpStream, app: SupervisorRef<App>) {
    let (input, out) = stream.into_split();
    let state = Session {
        input,
        out,
        partial: Vec::new(),
        app,
    };
    let started = Spawn::new().start(state, |s: Session, _: Mailbox<SocketEvent>| {
        // Active in the process that owns it (an active half cannot move).
        if s.input.set_active_once(SOCKET).is_ok() {
            hibernate(s, session)
        }
    });
    if let Err(refused) = started {
        eprintln!("kv-server: {}; closing that connection", refused.error);
    }
}

fn main() {
    let address = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".into());
    let listener = match TcpListener::bind(address.as_str()) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("kv-server: cannot listen on {address}: {e}");
            std::process::exit(1);
        }
    };
    // Linked: if the store fails faster than the supervisor may restart it,
    // the supervisor gives up, and the server ends with it.
    let app = match supervisor::start_link::<App>(()) {
        Ok(app) => app,
        Err(e) => {
            eprintln!("kv-server: the store cannot start: {e}");
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
            Ok(stream) => serve(stream, app),
            Err(e) => eprintln!("kv-server: accept failed: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[vm_sdk::test]
    fn commands_parse_and_mistakes_are_named() {
        assert_eq!(parse("SET k a value"), Ok(Command::Set("k", "a value")));
        assert_eq!(parse("SET k "), Ok(Command::Set("k", "")));
        assert_eq!(parse("GET k"), Ok(Command::Get("k")));
        assert_eq!(parse("DEL k"), Ok(Command::Del("k")));
        assert_eq!(parse("COUNT"), Ok(Command::Count));
        assert_eq!(parse("GET"), Err("GET needs a key".into()));
        assert_eq!(
            parse("GET a b"),
            Err("GET takes one key, without spaces".into())
        );
        assert_eq!(parse("SET k"), Err("SET needs a key and a value".into()));
        assert_eq!(parse("COUNT 2"), Err("COUNT takes nothing after it".into()));
        assert_eq!(parse("PUT k v"), Err("unknown command \"PUT\"".into()));
    }

    #[vm_sdk::test]
    fn the_store_answers_and_comes_back_empty_after_a_crash() {
        let app = supervisor::start_link::<App>(()).unwrap();
        assert_eq!(answer(Command::Set("a", "1"), app), "OK");
        assert_eq!(answer(Command::Get("a"), app), "VALUE 1");
        assert_eq!(answer(Command::Count, app), "COUNT 1");
        let crashed = answer(Command::Crash, app);
        assert!(
            crashed.starts_with("CRASHED") && crashed.contains("the store was asked to crash"),
            "{crashed}"
        );
        assert_eq!(answer(Command::Get("a"), app), "NONE");
        assert_eq!(answer(Command::Del("a"), app), "NONE");
    }
}
