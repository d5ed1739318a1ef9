//! Two VMs joined over NATS: `cluster-server` prints its id and answers
//! pings (or crashes when asked); `cluster-client ID N MODE` links to and
//! monitors that server on the other node, sends N pings, checks the pongs
//! come back in order, and prints how the server's end reaches it (MODE
//! `crash`: it asks the server to crash; `wait`: it prints `ready` and
//! waits, for the test to kill the server's node; `stop`: see [`stop`]).

use crate::show;
use serde::{Deserialize, Serialize};
use vm_sdk::mailbox::Event;
use vm_sdk::node::Node;
use vm_sdk::process::{self, ExitReason, Process, Spawn};
use vm_sdk::request::{Request, RequestError};
use vm_sdk::Mailbox;

#[derive(Debug, Serialize, Deserialize)]
enum Call {
    Ping { from: u64, seq: u32 },
    Crash,
}

pub fn server() {
    println!("server {}", Process::<Call>::this().id());
    let calls: Mailbox<Call> = Mailbox::this();
    loop {
        match calls.receive().unwrap() {
            Call::Ping { from, seq } => {
                // What `stop` sends around a verdict is worth a line.
                if seq >= STALE {
                    println!("ping {seq}");
                }
                Process::<u32>::from_id(from).send(seq)
            }
            Call::Crash => panic!("asked to crash"),
        }
    }
}

/// The first ping number `stop` sends while the server's node stands
/// still, and the one it sends once that node is back.
const STALE: u32 = 1_000_000;
const FRESH: u32 = 2_000_000;

pub fn client(server: u64, pings: u32, mode: &str) {
    process::trap_exits(true);
    let server = Process::<Call>::from_id(server);
    if mode != "stop" {
        server.link().unwrap();
    }
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
        "stop" => return stop(server, &pongs),
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

/// After `ready`, the test stops the server's node (`SIGSTOP`). Once a
/// ping goes unanswered for 250 ms (well within the bound of 900 ms), the client sends pings from
/// [`STALE`] on, one each 20 ms, until its monitor says `noconnection`.
/// When the test lets the node go on (`SIGCONT`) and it is heard again,
/// the client monitors the server afresh and pings it with [`FRESH`]: the
/// server, which prints every ping from [`STALE`] on, must print only
/// that one, since nothing sent to a node before its verdict is delivered
/// after it.
fn stop(server: Process<Call>, pongs: &Mailbox<u32>) {
    let me = Process::<u32>::this().id();
    println!("ready");
    let mut probe = 0;
    loop {
        probe += 1;
        server.send(Call::Ping {
            from: me,
            seq: probe,
        });
        match pongs.receive_timeout(std::time::Duration::from_millis(250)) {
            Ok(_) => continue,
            Err(_) => break,
        }
    }
    let mut stale = STALE;
    let down = loop {
        match pongs.receive_event(Some(std::time::Duration::from_millis(20))) {
            Err(_) => {
                server.send(Call::Ping {
                    from: me,
                    seq: stale,
                });
                stale += 1;
            }
            Ok(Event::Down(d)) => break d,
            Ok(Event::Message(n)) if n < STALE => {}
            Ok(other) => println!("before the verdict: {other:?}"),
        }
    };
    println!(
        "down {}, after {} stale pings",
        show(&down.reason),
        stale - STALE
    );
    wait_up(server.node());
    let _again = server.monitor();
    server.send(Call::Ping {
        from: me,
        seq: FRESH,
    });
    loop {
        match pongs.receive_event(None).unwrap() {
            // Answers to probes the server had before it stood still.
            Event::Message(n) if n < STALE => {}
            Event::Message(n) => return println!("after: pong {n}"),
            other => return println!("after: {other:?}"),
        }
    }
}

/// `doubler`: starts a process that serves requests, from other nodes
/// too (each `u32` body doubled, and a body of 0 traps), prints its id
/// for the test, and waits for good (so the node stays up when the
/// doubler crashes).
pub fn doubler() {
    let doubler = process::spawn((), |(), requests: Mailbox<Request<u32, u32>>| {
        while let Ok(r) = requests.receive() {
            let n = *r.body();
            if n == 0 {
                std::process::abort();
            }
            r.reply(n * 2);
        }
    });
    println!("doubler {}", doubler.id());
    let _ = Mailbox::<()>::this().receive();
}

/// `ask ID N`: N requests (1..N) to the doubler ID, on another node, and
/// whether each reply is its body doubled; then one that crashes it, and
/// one after it has ended. Failures print as C's and AssemblyScript's do.
pub fn ask(server: u64, n: u32) {
    let server = Process::<Request<u32, u32>>::from_id(server);
    let doubled = (1..=n).all(|i| server.request(i).ok() == Some(i * 2));
    println!("{n} replies, each doubled: {doubled}");
    let failure = |r: Result<u32, RequestError>| match r {
        Ok(n) => n.to_string(),
        Err(RequestError::Down(ExitReason::Trap(_))) => "down trap".into(),
        Err(RequestError::Down(ExitReason::NoProc)) => "down noproc".into(),
        Err(other) => format!("{other:?}"),
    };
    println!("server crashed: {}", failure(server.request(0)));
    println!("server gone: {}", failure(server.request(5)));
}

/// `ask-hasher WORD`: prints this node's slot, waits (30 s at most) until
/// a process is registered under the global name `hasher` (on the node
/// with the hash plugin, which this one lacks), and asks it to hash WORD.
pub fn ask_hasher(word: &str) {
    println!("node {}", Node::this().slot());
    for _ in 0..3000 {
        if let Ok(Some(hasher)) = Process::<Request<String, String>>::lookup_global("hasher") {
            let hex = hasher.request(word.to_owned()).unwrap();
            let node = hasher.node().name().unwrap_or_default();
            return println!("{word} hashed on node {node}: {hex}");
        }
        process::sleep(std::time::Duration::from_millis(10));
    }
    panic!("no hasher was registered within 30 s");
}

/// `global-race NAME`: this node takes the global name NAME if it can,
/// prints who holds it, and, if another node won, waits for that node to
/// go down (a node monitor) and tries again; then waits for good.
pub fn global_race(name: &str) {
    let me = Process::<()>::this();
    println!("node {}", Node::this().slot());
    let won = claim(&me, name);
    let holder = Process::<()>::lookup_global(name)
        .unwrap()
        .expect("someone holds the name");
    let node = holder.node();
    println!("holder on node {}", node.slot());
    if !won {
        // Its monitor fires at once on a node this one has not heard yet.
        wait_up(node);
        let down = node.monitor().wait(None).unwrap();
        println!(
            "node {} down: {}, from its id: {}",
            node.slot(),
            show(&down.reason),
            down.process == node.id()
        );
        claim(&me, name);
    }
    let _ = Mailbox::<()>::this().receive();
}

fn claim(me: &Process<()>, name: &str) -> bool {
    match me.register_global(name) {
        Ok(()) => println!("won"),
        Err(e) => println!("lost {}", e.code().map_or("?", |c| c.name())),
    }
    Process::<()>::lookup_global(name).unwrap().map(|p| p.id()) == Some(me.id())
}

/// `node-local`: the node and global calls on a VM outside a cluster.
pub fn node_local() {
    let this = Node::this();
    println!(
        "self {} up {:?} name {:?}",
        this.slot(),
        Node::up(),
        this.name()
    );
    println!("node 7 name {:?}", Node::from_slot(7).name());
    let watch = Node::from_slot(7).monitor();
    let down = watch.wait(None).unwrap();
    println!(
        "node 7 down at once: {}, from its id: {}",
        show(&down.reason),
        down.process == Node::from_slot(7).id()
    );
    // This node's own monitor never fires; demonitor takes it away.
    let own = this.monitor();
    own.demonitor();
    let me = Process::<()>::this();
    me.register_global("g").unwrap();
    let again = me.register_global("g").unwrap_err();
    println!("global again: {:?}", again.code());
    println!(
        "global is not the registry: {:?}",
        Process::<()>::lookup("g").map(|p| p.id())
    );
    println!(
        "lookup global: {}",
        Process::<()>::lookup_global("g").unwrap().map(|p| p.id()) == Some(me.id())
    );
    let other = Process::<()>::from_id(Node::from_slot(3).id() | 1);
    println!(
        "another node's process: {:?}",
        other.register_global("h").map_err(|e| e.code())
    );
    vm_sdk::global::unregister("g").unwrap();
    println!(
        "after unregister: {:?}, again: {:?}",
        Process::<()>::lookup_global("g").unwrap().map(|p| p.id()),
        vm_sdk::global::unregister("g").map_err(|e| e.code())
    );
}

/// `spawn-on OPEN CLOSED TIGHT`: starts processes on node OPEN (which accepts
/// them) and asks node CLOSED (which does not), printing what happens:
/// a child of this module that says where it runs and crashes over its
/// link, a module of more than one NATS message shipped and run there
/// (until killed),
/// and CLOSED's refusal.
pub fn spawn_on(open: u32, closed: u32, tight: u32) {
    process::trap_exits(true);
    let (open, closed, tight) = (
        Node::from_slot(open),
        Node::from_slot(closed),
        Node::from_slot(tight),
    );
    for node in [open, closed, tight] {
        wait_up(node);
    }
    let me = Process::<(u32, u64)>::this().id();
    let child = Spawn::new()
        .on(open)
        .link()
        .start(me, |parent: u64, orders: Mailbox<Call>| {
            let here = Node::this();
            Process::<(u32, u64)>::from_id(parent)
                .send((here.slot(), Process::<Call>::this().id()));
            if let Ok(Call::Crash) = orders.receive() {
                panic!("asked to crash on node {}", here.slot());
            }
        })
        .unwrap_or_else(|e| panic!("{}", e.error));
    println!("child on its node: {}", child.node() == open);
    let replies: Mailbox<(u32, u64)> = Mailbox::this();
    let (slot, id) = replies.receive().unwrap();
    println!(
        "it runs on node {}: {}",
        slot,
        slot == open.slot() && id == child.id()
    );
    child.send(Call::Crash);
    match replies.receive_event(None).unwrap() {
        Event::Exit(e) => println!("its crash over the link: {}", show(&e.reason)),
        other => println!("unexpected: {other:?}"),
    }
    // A module larger than one NATS message (1 MiB): a function and 2 MiB
    // of custom section.
    let big = big_module(2 << 20);
    let module = process::Module::load(&big).unwrap();
    let far = Spawn::new()
        .on(open)
        .start_export::<()>(&module, "run", 0, &[])
        .unwrap();
    // It runs until killed: its monitor says `killed`, not `noproc`.
    let watch = far.monitor();
    far.kill();
    let down = watch.wait(None).unwrap();
    println!(
        "a module of {} bytes ran on node {}: {}",
        big.len(),
        far.node().slot() == open.slot(),
        show(&down.reason)
    );
    // TIGHT takes the module but holds at most 1 MiB for one: it refuses
    // before it fetches the module.
    match Spawn::new()
        .on(tight)
        .start_export::<()>(&module, "run", 0, &[])
    {
        Ok(p) => println!("tight node started {}", p.id()),
        Err(e) => println!(
            "tight node: {:?}, before fetching: {}",
            e.code(),
            e.message().contains("fetching a module of 2097199 bytes")
        ),
    }
    match Spawn::new().on(closed).start((), |(), _: Mailbox<()>| {}) {
        Ok(p) => println!("closed node started {}", p.id()),
        Err(e) => println!(
            "refused: {:?}, names the flag: {}",
            e.error.code(),
            e.error.message().contains("--accept-spawn-from")
        ),
    }
}

/// A module whose export `run` loops for ever, padded to `pad` bytes more.
fn big_module(pad: usize) -> Vec<u8> {
    fn leb(mut n: usize, out: &mut Vec<u8>) {
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(byte);
                return;
            }
            out.push(byte | 0x80);
        }
    }
    let mut m = vec![0, 0x61, 0x73, 0x6d, 1, 0, 0, 0];
    m.extend_from_slice(&[1, 4, 1, 0x60, 0, 0]); // type () -> ()
    m.extend_from_slice(&[3, 2, 1, 0]); // one function of it
    m.extend_from_slice(&[7, 7, 1, 3, b'r', b'u', b'n', 0, 0]); // export "run"
    m.extend_from_slice(&[10, 9, 1, 7, 0, 0x03, 0x40, 0x0c, 0, 0x0b, 0x0b]); // loop {}
    m.push(0); // a custom section "pad"
    leb(1 + 3 + pad, &mut m);
    m.extend_from_slice(&[3, b'p', b'a', b'd']);
    m.resize(m.len() + pad, 0);
    m
}

/// Waits until this node has heard `node` (30 s at most).
fn wait_up(node: Node) {
    for _ in 0..3000 {
        if Node::up().contains(&node) {
            return;
        }
        process::sleep(std::time::Duration::from_millis(10));
    }
    panic!("node {} was not heard within 30 s", node.slot());
}

/// `global-holder NAME`: takes the global name NAME, says `holding`, and
/// ends normally at its first message.
pub fn global_holder(name: &str) {
    Process::<u32>::this().register_global(name).unwrap();
    println!("holding");
    let _ = Mailbox::<u32>::this().receive();
}

/// `global-taker NAME`: monitors NAME's holder (on another node), tells it
/// to end, and takes the name the moment its `down` arrives: the holder's
/// node frees the name before it sends the down.
pub fn global_taker(name: &str) {
    let holder = Process::<u32>::lookup_global(name)
        .unwrap()
        .expect("the name is held");
    let watch = holder.monitor();
    holder.send(1);
    let down = watch.wait(None).unwrap();
    println!("down {}", show(&down.reason));
    match Process::<()>::this().register_global(name) {
        Ok(()) => println!("taken at once after its down"),
        Err(e) => println!("lost {}", e),
    }
}
