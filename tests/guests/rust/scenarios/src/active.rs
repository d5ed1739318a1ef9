//! `scenarios active`: a read half whose reads arrive as messages
//! (Erlang's `{active, once}`), to a session process that hibernates
//! between them and wakes for each, and then the peer's end.

use std::io::{Read, Write};
use std::sync::atomic::{AtomicU32, Ordering};
use vm_sdk::net::{OwnedReadHalf, SocketEvent, TcpListener, TcpStream};
use vm_sdk::process::{self, spawn, Process, Spawn};
use vm_sdk::Mailbox;

/// The tag the session's socket events carry.
const SOCKET: u64 = 7;

/// A session between events: its read half, and whom it reports to.
type Session = (OwnedReadHalf, Process<String>);

/// Asleep until its socket has something; reports each event, asks for
/// the next, and hibernates again until the end.
fn session((read, report): Session, m: Mailbox<SocketEvent>) {
    // Counts the runs of this instance: a process that really hibernated
    // wakes in a fresh one, where it starts again from 0.
    static RUNS: AtomicU32 = AtomicU32::new(0);
    let fresh = RUNS.fetch_add(1, Ordering::Relaxed) == 0;
    let (_, event) = m.receive_tagged(&[SOCKET], None).unwrap();
    let line = match &event {
        SocketEvent::Data(bytes) => format!("woke for {:?}", String::from_utf8_lossy(bytes)),
        other => format!("woke for {other:?}"),
    };
    let line = format!("{line} (in a fresh instance: {fresh})");
    report.send(line);
    if event == SocketEvent::Closed {
        return;
    }
    read.set_active_once(SOCKET).unwrap();
    process::hibernate((read, report), session);
}

pub fn scenario() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut client = TcpStream::connect(listener.local_addr().unwrap().to_string()).unwrap();
    let (stream, _) = listener.accept().unwrap();
    let (mut read, _write) = stream.into_split();

    // Active once: the first read arrives as a message; then the half is
    // passive and reads as before.
    read.set_active_once(SOCKET).unwrap();
    client.write_all(b"ping").unwrap();
    let events = Mailbox::<SocketEvent>::this();
    println!("as a message: {:?}", events.receive_tagged(&[SOCKET], None));
    // Passive again for every call, not only reads.
    println!("then its peer's address: {}", read.peer_addr().is_ok());
    client.write_all(b"pong").unwrap();
    let mut buf = [0u8; 4];
    read.read_exact(&mut buf).unwrap();
    println!("passive again, read: {:?}", String::from_utf8_lossy(&buf));

    // While active, a read fails and the half cannot move.
    read.set_active(2, SOCKET).unwrap();
    println!(
        "a read while active: {:?}",
        read.read(&mut buf).map_err(|e| e.kind())
    );
    let refused = Spawn::new()
        .start(read, |_read: OwnedReadHalf, _: Mailbox<()>| {})
        .unwrap_err();
    println!(
        "moving it while active: {}",
        refused.error.message().contains("active read half")
    );
    let read = refused.capture;

    // A session that hibernates between events and wakes for each.
    let _session = spawn_session(read, Process::<String>::this());
    let reports = Mailbox::<String>::this();
    for text in ["one", "two"] {
        client.write_all(text.as_bytes()).unwrap();
        println!("{}", reports.receive().unwrap());
    }
    drop(client);
    println!("{}", reports.receive().unwrap());
}

/// Starts the session with `read`, passive while it moves, active once the
/// session holds it.
fn spawn_session(read: OwnedReadHalf, report: Process<String>) -> Process<SocketEvent> {
    read.set_passive().unwrap();
    spawn(
        (read, report),
        |(read, report): Session, m: Mailbox<SocketEvent>| {
            read.set_active_once(SOCKET).unwrap();
            session((read, report), m)
        },
    )
}

/// `scenarios active-flood`: a read half active for every read, whose owner
/// takes none of them until told (on a second connection), so the events
/// pile up to the VM's bound; the reader then waits for room, and every
/// byte arrives once the owner drains its mailbox. Answers on the second
/// connection with the count and a checksum of what arrived.
pub fn flood() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    println!("listening on {}", listener.local_addr().unwrap());
    let (firehose, _) = listener.accept().unwrap();
    let (mut control, _) = listener.accept().unwrap();
    let (read, _write) = firehose.into_split();
    read.set_active(u32::MAX, SOCKET).unwrap();
    let mut go = [0u8; 3];
    control.read_exact(&mut go).unwrap();
    assert_eq!(&go, b"go\n");
    let inbox = Mailbox::<SocketEvent>::this();
    let (mut count, mut sum) = (0u64, 0u64);
    loop {
        match inbox.receive_tagged(&[SOCKET], None).unwrap().1 {
            SocketEvent::Data(bytes) => {
                for b in bytes {
                    count += 1;
                    sum = sum.wrapping_mul(31).wrapping_add(u64::from(b));
                }
            }
            SocketEvent::Closed => break,
            SocketEvent::Error(e) => panic!("the firehose failed: {e}"),
        }
    }
    writeln!(control, "received {count} bytes, checksum {sum}").unwrap();
}
