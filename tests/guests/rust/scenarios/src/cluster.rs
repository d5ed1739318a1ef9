//! Two VMs joined over NATS: `cluster-server` prints its id and answers
//! pings (or crashes when asked); `cluster-client ID N MODE` links to and
//! monitors that server on the other node, sends N pings, checks the pongs
//! come back in order, and prints how the server's end reaches it (MODE
//! `crash`: it asks the server to crash; `wait`: it prints `ready` and
//! waits, for the test to kill the server's node).

use crate::show;
use serde::{Deserialize, Serialize};
use vm_sdk::mailbox::Event;
use vm_sdk::node::Node;
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
        while !Node::up().contains(&node) {
            process::sleep(std::time::Duration::from_millis(10));
        }
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
