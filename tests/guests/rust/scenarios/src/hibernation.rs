//! `scenarios hibernate`: processes that hibernate between messages keep
//! their id, name, links, monitors and sockets, and wake for messages and
//! exit signals.

use std::io::{Read, Write};
use std::time::Duration;
use vm_sdk::mailbox::{Event, Exit};
use vm_sdk::net::{TcpListener, TcpStream};
use vm_sdk::process::{self, hibernate, spawn, ExitReason, Process};
use vm_sdk::Mailbox;

/// Adds what it is sent to its count, answers with the sum, hibernates.
fn counter(count: u32, m: Mailbox<(u32, Process<u32>)>) {
    let (n, reply) = m.receive().unwrap();
    reply.send(count + n);
    hibernate(count + n, counter);
}

/// Spawns a linked child that crashes on go, tells the root its id, and
/// hibernates.
fn linked_sleeper(root: Process<u64>, _: Mailbox<()>) {
    let child = process::spawn_link((), |(), m: Mailbox<()>| {
        let _ = m.receive();
        panic!("the child crashes");
    });
    root.send(child.id());
    hibernate((), |(), m: Mailbox<()>| {
        let _ = m.receive();
    });
}

/// Traps exits, hibernates, and reports the exit message it wakes with.
fn trapping_sleeper(root: Process<String>, _: Mailbox<()>) {
    process::trap_exits(true);
    root.send("asleep".into());
    hibernate(root, |root: Process<String>, m: Mailbox<()>| {
        let text = match m.receive_event(None) {
            Ok(Event::Exit(Exit { reason, .. })) => format!("woke with an exit: {reason:?}"),
            other => format!("woke with {other:?}"),
        };
        root.send(text);
    });
}

/// Sets a timer to itself, hibernates, and reports what woke it: a wake-up
/// timeout, as `erlang:hibernate/3` users get with `erlang:send_after`.
fn timed_sleeper(root: Process<String>, _: Mailbox<String>) {
    Process::<String>::this().send_after("tick".into(), Duration::from_millis(20));
    hibernate(root, |root: Process<String>, m: Mailbox<String>| {
        root.send(format!("woke for its own timer: {}", m.receive().unwrap()));
    });
}

/// Holds a stream across hibernation: each message wakes it to echo one
/// line.
fn echo_line(stream: TcpStream, m: Mailbox<()>) {
    let _ = m.receive();
    let mut stream = stream;
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while stream.read(&mut byte).unwrap() == 1 {
        line.push(byte[0]);
        if byte[0] == b'\n' {
            break;
        }
    }
    stream.write_all(&line).unwrap();
    hibernate(stream, echo_line);
}

pub fn scenario() {
    let me = Process::<u32>::this();
    let c = spawn(0, counter);
    c.register("counter").unwrap();
    let sums: Vec<u32> = (1..=3)
        .map(|n| {
            c.send((n, me));
            Mailbox::<u32>::this().receive().unwrap()
        })
        .collect();
    println!("woke for each message, state kept: {sums:?}");
    println!(
        "its name and id kept: {}",
        Process::<()>::lookup("counter").map(|p| p.id()) == Some(c.id())
    );
    let monitor = c.monitor();
    c.kill();
    println!(
        "killed while hibernated: {:?}",
        monitor.wait(None).unwrap().reason
    );

    let root = Process::<u64>::this();
    let sleeper = spawn(root, linked_sleeper);
    let watch = sleeper.monitor();
    let child = Process::<()>::from_id(Mailbox::<u64>::this().receive().unwrap());
    child.send(());
    let reason = watch.wait(None).unwrap().reason;
    println!(
        "a hibernated process linked to a crash ends with it: {}",
        matches!(reason, ExitReason::Trap(_))
    );

    let root = Process::<String>::this();
    let texts = Mailbox::<String>::this();
    let trapper = spawn(root, trapping_sleeper);
    assert_eq!(texts.receive().unwrap(), "asleep");
    trapper.exit("please wake");
    println!("{}", texts.receive().unwrap());
    spawn(root, timed_sleeper);
    println!("{}", texts.receive().unwrap());

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (served, _) = listener.accept().unwrap();
    let handler = spawn(served, echo_line);
    let mut echoed = Vec::new();
    for line in ["first\n", "second\n"] {
        client.write_all(line.as_bytes()).unwrap();
        handler.send(());
        let mut buf = vec![0u8; line.len()];
        client.read_exact(&mut buf).unwrap();
        echoed.push(String::from_utf8(buf).unwrap());
    }
    println!("a socket held across hibernation echoes: {echoed:?}");
}

/// Acknowledges, then hibernates until told to answer.
fn sleeper(root: Process<u32>, _: Mailbox<()>) {
    root.send(1);
    hibernate(root, |root: Process<u32>, m: Mailbox<()>| {
        let _ = m.receive();
        root.send(2);
    });
}

/// `scenarios hibernate-many N`: N processes hibernate; the root says
/// `ready` once all have acknowledged and then waits for ever, so the test
/// can count the VM's instances while they sleep.
pub fn many(n: u32) {
    let me = Process::<u32>::this();
    let inbox = Mailbox::<u32>::this();
    // One after another: at most two are awake at once (one going to
    // sleep, the next one starting), so a VM whose instance pool is tiny
    // holds them all.
    for _ in 0..n {
        spawn(me, sleeper);
        assert_eq!(inbox.receive().unwrap(), 1);
    }
    println!("ready");
    let _ = inbox.receive();
}

/// A hibernating server that counts what it ignores: each call sends the
/// server a stray message (so one is queued, in order, before the next
/// call) and hibernates.
#[derive(serde::Serialize, serde::Deserialize)]
struct Dozer {
    ignored: u32,
}

/// Messages handled by this instance of the module: 0 in a fresh one.
static HANDLED_HERE: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

impl vm_sdk::server::Server for Dozer {
    type Arg = ();
    type Call = ();
    /// What it ignored so far, and whether the call is the first message
    /// its instance handles (it was asleep when the call came).
    type Reply = (u32, bool);
    type Cast = ();

    fn init((): ()) -> Result<Self, vm_sdk::Failure> {
        Ok(Dozer { ignored: 0 })
    }

    fn handle_call(
        &mut self,
        request: vm_sdk::request::Request<(), (u32, bool)>,
    ) -> vm_sdk::server::Next {
        let first = HANDLED_HERE.fetch_add(1, std::sync::atomic::Ordering::Relaxed) == 0;
        Process::<u8>::this().send_tagged(0, 99);
        request.reply((self.ignored, first));
        vm_sdk::server::Next::Hibernate
    }

    fn handle_info(&mut self, _: vm_sdk::server::Info) -> vm_sdk::server::Next {
        HANDLED_HERE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.ignored += 1;
        vm_sdk::server::Next::Same
    }
}

/// `scenarios hibernate-same`: a message a hibernated server ignores
/// (`Next::Same`) leaves it asleep, so the next call wakes a fresh
/// instance.
pub fn same() {
    let dozer = vm_sdk::server::Start::<Dozer>::new(())
        .hibernating()
        .start()
        .unwrap();
    for call in 1..=3 {
        let (ignored, asleep) = dozer.call(()).unwrap();
        println!(
            "call {call}: {ignored} ignored before it; the first its instance handles: {asleep}"
        );
    }
}

/// `scenarios hibernate-sleeper`: registers as `sleeper`, hibernates, and
/// says what woke it.
pub fn registered_sleeper() {
    Process::<String>::this().register("sleeper").unwrap();
    hibernate((), |(), m: Mailbox<String>| {
        println!("the sleeper woke for {:?}", m.receive().unwrap());
    });
}

/// `scenarios hibernate-waker`: registers as `waker`, wakes `sleeper`
/// while this process holds the VM's only instance, and waits to be killed
/// (the test kills it once it sees the sleeper wait for an instance).
pub fn waker() {
    Process::<()>::this().register("waker").unwrap();
    let sleeper = Process::<String>::lookup("sleeper").expect("the sleeper is registered");
    sleeper.send("a message sent while every instance was taken".into());
    let _ = Mailbox::<()>::this().receive();
}
