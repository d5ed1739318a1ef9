//! The benchmarks as a Rust guest: `vm run bench-guest.wasm -- MODE N`
//! prints one line, `RESULT <value> <unit>`, timed inside the guest.

use serde::{Deserialize, Serialize};
use std::time::Instant;
use vm_sdk::process::{self_id, Process};
use vm_sdk::{spawn, Mailbox};

#[derive(Serialize, Deserialize)]
enum Ball {
    Ping(u32, Process<Ball>),
    Pong(u32),
    Stop,
}

fn spawn_bench(n: u32) -> f64 {
    let me = Process::<()>::this();
    let mailbox = Mailbox::<()>::this();
    let t = Instant::now();
    for _ in 0..n {
        spawn(me, |parent, _: Mailbox<()>| parent.send(()));
        mailbox.receive().unwrap();
    }
    t.elapsed().as_nanos() as f64 / n as f64 / 1000.0
}

fn pingpong(n: u32) -> f64 {
    let pong = spawn((), |(), m: Mailbox<Ball>| {
        while let Ok(Ball::Ping(i, from)) = m.receive() {
            from.send(Ball::Pong(i));
        }
    });
    let me = Process::<Ball>::this();
    let mailbox = Mailbox::<Ball>::this();
    let t = Instant::now();
    for i in 0..n {
        pong.send(Ball::Ping(i, me));
        let _ = mailbox.receive().unwrap();
    }
    let elapsed = t.elapsed();
    pong.send(Ball::Stop);
    elapsed.as_nanos() as f64 / n as f64
}

/// Serves pings from other nodes until stopped, after printing its id
/// (`PONG ID`) for the harness.
fn pong_server() {
    println!("PONG {}", Process::<Ball>::this().id());
    let m = Mailbox::<Ball>::this();
    while let Ok(Ball::Ping(i, from)) = m.receive() {
        from.send(Ball::Pong(i));
    }
}

/// `pingpong` with a process of another node.
fn remote_pingpong(n: u32, pong: Process<Ball>) -> f64 {
    let me = Process::<Ball>::this();
    let mailbox = Mailbox::<Ball>::this();
    // The first round trips find the way (a NATS subscription, a session).
    for i in 0..100 {
        pong.send(Ball::Ping(i, me));
        let _ = mailbox.receive().unwrap();
    }
    let t = Instant::now();
    for i in 0..n {
        pong.send(Ball::Ping(i, me));
        let _ = mailbox.receive().unwrap();
    }
    t.elapsed().as_nanos() as f64 / n as f64
}

/// `spawn` on another node (`node.spawn-on`), each waited for: the new
/// process answers its spawner, as `spawn` measures locally. The module
/// is shipped by the first (warm-up) spawns; after them it is compiled
/// there and cached.
fn remote_spawn(n: u32, on: u32) -> f64 {
    let node = vm_sdk::node::Node::from_slot(on);
    let me = Process::<u32>::this().id();
    let acks = Mailbox::<u32>::this();
    let try_once = || {
        vm_sdk::process::Spawn::new()
            .on(node)
            .start(me, |parent: u64, _: Mailbox<()>| {
                Process::<u32>::from_id(parent).send(1)
            })
            .map(|_| {
                let _ = acks.receive().unwrap();
            })
    };
    let once = || try_once().unwrap_or_else(|e| panic!("spawn-on: {}", e.error));
    // The other node takes spawns only from nodes it has heard.
    let mut tries = 0;
    while let Err(e) = try_once() {
        tries += 1;
        assert!(tries < 300, "spawn-on: {}", e.error);
        vm_sdk::process::sleep(std::time::Duration::from_millis(10));
    }
    for _ in 0..10 {
        once();
    }
    let t = Instant::now();
    for _ in 0..n {
        once();
    }
    t.elapsed().as_nanos() as f64 / 1000.0 / n as f64
}

/// Monitors a process of another node, says so (`WATCHING`), and ends
/// when its `down` comes: the harness times that from killing its node.
fn watch(target: Process<Ball>) {
    let monitor = target.monitor();
    // A round trip proves the monitor is in place over there.
    let me = Process::<Ball>::this();
    target.send(Ball::Ping(0, me));
    let _ = Mailbox::<Ball>::this().receive().unwrap();
    println!("WATCHING");
    let down = monitor.wait(None).unwrap();
    println!("DOWN {:?}", down.reason);
}

fn ring(hops: u32, size: u32) -> f64 {
    let mut next = Process::<u32>::this();
    for _ in 0..size - 1 {
        next = spawn(next, |next: Process<u32>, m: Mailbox<u32>| {
            while let Ok(h) = m.receive() {
                next.send(h.saturating_sub(1));
            }
        });
    }
    let first = next;
    let mailbox = Mailbox::<u32>::this();
    let t = Instant::now();
    first.send(hops);
    loop {
        let h = mailbox.receive().unwrap();
        if h == 0 {
            break;
        }
        first.send(h - 1);
    }
    t.elapsed().as_nanos() as f64 / hops as f64
}

fn counting(n: u32) -> f64 {
    let counter = spawn(
        (Process::<()>::this(), n),
        |(parent, n), m: Mailbox<u32>| {
            for _ in 0..n {
                m.receive().unwrap();
            }
            parent.send(());
        },
    );
    let t = Instant::now();
    for i in 0..n {
        counter.send(i);
    }
    Mailbox::<()>::this().receive().unwrap();
    t.elapsed().as_nanos() as f64 / n as f64
}

fn hostcall(n: u32) -> f64 {
    let t = Instant::now();
    let mut acc = 0u64;
    for _ in 0..n {
        acc = acc.wrapping_add(std::hint::black_box(self_id()));
    }
    std::hint::black_box(acc);
    t.elapsed().as_nanos() as f64 / n as f64
}

fn idle(n: u32) {
    // The harness measures the VM's resident memory while these wait.
    for _ in 0..n {
        spawn((), |(), m: Mailbox<()>| {
            let _ = m.receive();
        });
    }
    println!("READY");
    let _ = Mailbox::<()>::this().receive();
}

/// Answers each caller with how many it has answered, hibernating in
/// between: every round trip wakes a fresh instance.
fn sleeper(count: u32, m: Mailbox<Process<u32>>) {
    let from = m.receive().unwrap();
    from.send(count);
    vm_sdk::process::hibernate(count + 1, sleeper);
}

/// A round trip to a process that hibernates between messages: the cost of
/// waking, beside `pingpong`'s live round trip.
fn wake(n: u32) -> f64 {
    let s = spawn(0u32, sleeper);
    let me = Process::<u32>::this();
    let inbox = Mailbox::<u32>::this();
    let t = Instant::now();
    for _ in 0..n {
        s.send(me);
        let _ = inbox.receive().unwrap();
    }
    t.elapsed().as_nanos() as f64 / n as f64
}

fn hibernated(n: u32) {
    // The harness measures the VM's memory once all of these hibernated.
    // Spawned in batches, each process acknowledging before it sleeps, so
    // at most a batch is awake at once: the VM runs this with an instance
    // pool of a few hundred slots (--max-instances), as a deployment
    // holding millions of sleepers would.
    const BATCH: u32 = 128;
    let me = Process::<()>::this();
    let acks = Mailbox::<()>::this();
    let mut spawned = 0;
    while spawned < n {
        let batch = BATCH.min(n - spawned);
        for _ in 0..batch {
            spawn(me, |root: Process<()>, _: Mailbox<()>| {
                root.send(());
                vm_sdk::process::hibernate((), |(), m: Mailbox<()>| {
                    let _ = m.receive();
                })
            });
        }
        for _ in 0..batch {
            acks.receive().unwrap();
        }
        spawned += batch;
    }
    println!("READY");
    let _ = acks.receive();
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: u32 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(10_000);
    // The ring's size: 1,000 processes unless given.
    let size: u32 = args
        .get(3)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1000)
        .max(1);
    let id =
        |i: usize| Process::<Ball>::from_id(args.get(i).and_then(|a| a.parse().ok()).unwrap_or(0));
    let (value, unit) = match args.get(1).map(String::as_str) {
        Some("pong-server") => return pong_server(),
        Some("remote-pingpong") => (remote_pingpong(n, id(3)), "ns"),
        Some("remote-spawn") => (remote_spawn(n, size), "us"),
        Some("watch") => return watch(id(2)),
        Some("spawn") => (spawn_bench(n), "us"),
        Some("pingpong") => (pingpong(n), "ns"),
        Some("ring") => (ring(n, size), "ns"),
        Some("counting") => (counting(n), "ns"),
        Some("hostcall") => (hostcall(n), "ns"),
        Some("idle") => return idle(n),
        Some("hibernated") => return hibernated(n),
        Some("wake") => (wake(n), "ns"),
        _ => {
            eprintln!(
                "usage: bench-guest (spawn|pingpong|ring|counting|hostcall|wake|idle|hibernated) N [RING_SIZE] | pong-server | remote-pingpong N ID | remote-spawn N SLOT | watch ID"
            );
            std::process::exit(64);
        }
    };
    println!("RESULT {value:.3} {unit}");
}
