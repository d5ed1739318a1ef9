//! Scenarios the end-to-end tests run: `vm run scenarios.wasm -- NAME`.
//! Each prints what it observed, one fact per line, for exact assertions.

use std::time::Duration;
use vm_sdk::abi::ErrorCode;
use vm_sdk::mailbox::{Event, Exit};
use vm_sdk::process::{self, spawn, spawn_link, ExitReason, Module, Process, Spawn};
use vm_sdk::request::{Request, RequestError};
use vm_sdk::{Mailbox, ReceiveError};

const SHORT: Duration = Duration::from_millis(50);
/// For checks that something is absent: a receive that does not wait, made
/// after an event that proves the absent thing had its chance to arrive.
const NOW: Duration = Duration::ZERO;

mod active;
mod cluster;
mod hibernation;
mod server;
mod supervisor;

fn main() {
    let name = std::env::args().nth(1).unwrap_or_default();
    match name.as_str() {
        "monitor" => monitor(),
        "links" => links(),
        "kill" => kill(),
        "preemption" => preemption(),
        "registry" => registry(),
        "timer" => timer(),
        "request" => request(),
        "selective" => selective(),
        "decode-error" => decode_error(),
        "message-sizes" => message_sizes(),
        "memory-hog" => memory_hog(),
        "stack" => stack(
            std::env::args()
                .nth(2)
                .and_then(|d| d.parse().ok())
                .unwrap_or(u64::MAX),
        ),
        "load-module" => load_module(),
        "exit" => process::exit("the root chose to stop"),
        "spawn-storm" => spawn_storm(),
        "process-limit" => process_limit(),
        "until-refused" => until_refused(),
        "net-errors" => net_errors(&std::env::args().nth(2).unwrap_or_default()),
        "net-names" => net_names(&std::env::args().nth(2).unwrap_or_default()),
        "accept-reset" => accept_reset(),
        "mailbox-flood" => mailbox_flood(),
        "timers-of-the-dead" => timers_of_the_dead(),
        "name-limits" => name_limits(),
        "monitor-churn" => monitor_churn(),
        "send-exit" => send_exit(),
        "server" => server::scenario(),
        "cluster-server" => cluster::server(),
        "cluster-client" => {
            let arg = |i: usize| std::env::args().nth(i).unwrap_or_default();
            cluster::client(arg(2).parse().unwrap(), arg(3).parse().unwrap(), &arg(4))
        }
        "doubler" => cluster::doubler(),
        "ask" => {
            let arg = |i: usize| std::env::args().nth(i).unwrap_or_default();
            cluster::ask(arg(2).parse().unwrap(), arg(3).parse().unwrap())
        }
        "ask-hasher" => cluster::ask_hasher(&std::env::args().nth(2).unwrap_or_default()),
        "global-race" => cluster::global_race(&std::env::args().nth(2).unwrap_or_default()),
        "node-local" => cluster::node_local(),
        "global-holder" => cluster::global_holder(&std::env::args().nth(2).unwrap_or_default()),
        "global-taker" => cluster::global_taker(&std::env::args().nth(2).unwrap_or_default()),
        "spawn-on" => {
            let arg = |i: usize| std::env::args().nth(i).unwrap_or_default();
            cluster::spawn_on(
                arg(2).parse().unwrap(),
                arg(3).parse().unwrap(),
                arg(4).parse().unwrap(),
            )
        }
        "supervisor" => supervisor::scenario(),
        "hibernate" => hibernation::scenario(),
        "hibernate-same" => hibernation::same(),
        "hibernate-sleeper" => hibernation::registered_sleeper(),
        "hibernate-waker" => hibernation::waker(),
        "hibernate-many" => hibernation::many(
            std::env::args()
                .nth(2)
                .and_then(|n| n.parse().ok())
                .unwrap_or(100),
        ),
        "abi-version" => {
            let (major, minor, patch) = vm_sdk::abi_version();
            println!(
                "serves {major}.{minor}.{patch}, built for {:?}",
                vm_sdk::abi::ABI_VERSION
            );
        }
        "socket-moves" => socket_moves(),
        "active" => active::scenario(),
        "active-flood" => active::flood(),
        "encode-listener" => {
            // A resource moves only inside a message; encoding one alone
            // panics, saying so in the SDK's words.
            let listener = vm_sdk::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let _ = vm_sdk::message::encode(&listener);
        }
        other => {
            eprintln!("unknown scenario `{other}`");
            std::process::exit(64);
        }
    }
}

fn show(reason: &ExitReason) -> String {
    match reason {
        ExitReason::Trap(t) if t.contains("unreachable") => "Trap(unreachable)".into(),
        // A panic's reason without its line and column, which move as
        // this file changes: `Trap(panicked at FILE: MESSAGE)`.
        ExitReason::Trap(t) if t.starts_with("panicked at ") => {
            let (at, message) = t["panicked at ".len()..]
                .split_once(' ')
                .unwrap_or((t.as_str(), ""));
            let file = at.split(':').next().unwrap_or(at);
            format!("Trap(panicked at {file}: {message})")
        }
        other => format!("{other:?}"),
    }
}

fn monitor() {
    // Each child waits for a go-ahead, so the monitor is in place before it ends.
    let normal = spawn((), |(), m: Mailbox<()>| m.receive().unwrap());
    let crash = spawn((), |(), m: Mailbox<()>| {
        m.receive().unwrap();
        panic!("on purpose")
    });
    let custom = spawn((), |(), m: Mailbox<()>| {
        m.receive().unwrap();
        process::exit("custom reason")
    });
    for (what, p) in [("normal", normal), ("crash", crash), ("custom", custom)] {
        let monitor = p.monitor();
        p.send(());
        let down = monitor.wait(None).unwrap();
        println!(
            "{what}: {} from {}",
            show(&down.reason),
            if down.process == p.id() { "it" } else { "?" }
        );
    }
    // Monitoring a process that has already ended reports noproc at once.
    let down = normal.monitor().wait(Some(NOW)).unwrap();
    println!("ended: {}", show(&down.reason));
    // A demonitored process's end is not reported.
    // A second monitor's down proves the process has ended and its downs
    // were sent.
    let quiet = spawn((), |(), m: Mailbox<()>| m.receive().unwrap());
    let mon = quiet.monitor();
    let witness = quiet.monitor();
    let reference = mon.reference();
    mon.demonitor();
    quiet.send(());
    witness.wait(None).unwrap();
    println!(
        "demonitored: {:?}",
        vm_sdk::mailbox::receive_down(reference, Some(NOW)).err()
    );
}

fn links() {
    // A failure travels along links: the middle process does not trap exits,
    // so its linked child's crash ends it with the same reason.
    let middle = spawn((), |(), m: Mailbox<()>| {
        spawn_link((), |(), _: Mailbox<()>| panic!("child fails"));
        let _ = m.receive();
    });
    let down = middle.monitor().wait(None).unwrap();
    println!("middle ended: {}", show(&down.reason));
    // A normal exit does not.
    let parent = spawn((), |(), m: Mailbox<Process<String>>| {
        // The child's exit signal is handled before its down arrives.
        spawn_link((), |(), _: Mailbox<()>| {})
            .monitor()
            .wait(None)
            .unwrap();
        let reply_to = m.receive().unwrap();
        reply_to.send("parent still alive".into());
    });
    parent.send(Process::this());
    println!("{}", Mailbox::<String>::this().receive().unwrap());
    // Trapping exits turns the signal into a message.
    process::trap_exits(true);
    let child = spawn_link((), |(), _: Mailbox<()>| process::exit("bye"));
    match Mailbox::<()>::this().receive_event(None).unwrap() {
        Event::Exit(Exit { process, reason }) => println!(
            "trapped exit from child: {} {}",
            process == child.id(),
            show(&reason)
        ),
        other => println!("unexpected {other:?}"),
    }
    // Unlinked: no signal at all.
    let child = spawn((), |(), m: Mailbox<()>| {
        m.receive().unwrap();
        panic!("late failure");
    });
    child.link().unwrap();
    child.unlink();
    let ended = child.monitor();
    child.send(());
    ended.wait(None).unwrap();
    println!(
        "after unlink: {:?}",
        vm_sdk::mailbox::receive_exit(Some(NOW)).err()
    );
    // Linking to a process that has ended fails, or, while trapping exits,
    // delivers an exit with reason noproc.
    let ended = spawn((), |(), _: Mailbox<()>| {});
    ended.monitor().wait(None).unwrap();
    process::trap_exits(false);
    println!("link to ended: {:?}", ended.link().map_err(|e| e.code()));
    process::trap_exits(true);
    println!(
        "link to ended while trapping: {:?} then {:?}",
        ended.link().map_err(|e| e.code()),
        vm_sdk::mailbox::receive_exit(Some(NOW)).map(|e| show(&e.reason))
    );
}

fn busy_loop((): (), _: Mailbox<()>) {
    let mut x: u64 = 0;
    loop {
        x = std::hint::black_box(x.wrapping_add(1));
    }
}

fn kill() {
    // Killed once it is surely running its loop.
    let busy = spawn(Process::<()>::this(), |parent, m: Mailbox<()>| {
        parent.send(());
        busy_loop((), m);
    });
    let mon = busy.monitor();
    Mailbox::<()>::this().receive().unwrap();
    busy.kill();
    println!("killed: {}", show(&mon.wait(None).unwrap().reason));
    // Killing an ended process is not an error.
    busy.kill();
    println!("second kill: ok");
}

/// Spawns unlinked children that wait forever, as fast as it can (past
/// the process limit, it keeps trying), until the VM kills it.
fn spawn_storm() {
    loop {
        let _ = Spawn::new().start((), |(), m: Mailbox<()>| {
            let _ = m.receive();
        });
    }
}

fn preemption() {
    // More busy processes than the VM has threads: the rest still run.
    let busy: Vec<_> = (0..4).map(|_| spawn((), busy_loop)).collect();
    let echo = spawn((), |(), m: Mailbox<Request<u32, u32>>| {
        while let Ok(r) = m.receive() {
            let n = *r.body();
            r.reply(n + 1);
        }
    });
    let mut n = 0;
    for _ in 0..20 {
        n = echo.request(n).unwrap();
    }
    println!("echoed 20 times beside 4 busy loops: {n}");
    for b in busy {
        b.kill();
    }
}

fn registry() {
    let me = Process::<String>::this();
    me.register("root").unwrap();
    println!(
        "lookup root: {}",
        Process::<String>::lookup("root") == Some(me)
    );
    let err = me.register("root").unwrap_err();
    println!("second register: {:?}", err.code());
    let worker = spawn((), |(), m: Mailbox<()>| {
        Process::<()>::this().register("worker").unwrap();
        Process::<String>::lookup("root")
            .unwrap()
            .send("worker registered".into());
        m.receive().unwrap();
    });
    println!("{}", Mailbox::<String>::this().receive().unwrap());
    println!(
        "lookup worker: {}",
        Process::<()>::lookup("worker") == Some(worker)
    );
    let mon = worker.monitor();
    worker.send(());
    mon.wait(None).unwrap();
    println!("after worker ended: {:?}", Process::<()>::lookup("worker"));
    vm_sdk::registry::unregister("root").unwrap();
    println!(
        "unregister twice: {:?}",
        vm_sdk::registry::unregister("root").map_err(|e| e.code())
    );
}

fn timer() {
    let me = Process::<String>::this();
    let mailbox = Mailbox::<String>::this();
    me.send_after("late".into(), Duration::from_millis(20));
    println!(
        "before: {:?}",
        mailbox.receive_timeout(Duration::ZERO).err()
    );
    println!(
        "after: {:?}",
        mailbox.receive_timeout(Duration::from_secs(5))
    );
    let t = me.send_after("never".into(), Duration::from_millis(20));
    println!("cancelled: {}", t.cancel());
    // A later timer's message proves the cancelled one's time has passed.
    me.send_after("later".into(), Duration::from_millis(40));
    println!(
        "then: {:?}",
        mailbox.receive_timeout(Duration::from_secs(5))
    );
    println!("nothing else: {:?}", mailbox.receive_timeout(NOW).err());
}

fn request() {
    let doubler = spawn((), |(), m: Mailbox<Request<u32, u32>>| {
        while let Ok(r) = m.receive() {
            let n = *r.body();
            r.reply(n * 2);
        }
    });
    // An unrelated message waiting in the mailbox is not taken as the reply.
    Process::<u32>::this().send(999);
    println!("21 * 2 = {}", doubler.request(21).unwrap());
    println!(
        "left in the mailbox: {}",
        Mailbox::<u32>::this().receive().unwrap()
    );
    let silent = spawn((), |(), m: Mailbox<Request<u32, u32>>| {
        let _keep_unanswered = m.receive();
        let _ = m.receive();
    });
    println!("no reply: {:?}", silent.request_timeout(1, SHORT).err());
    // The server is monitored while the request waits.
    let crashing = spawn((), |(), m: Mailbox<Request<u32, u32>>| {
        // Held while it crashes (dropped, it would tell the requester it
        // gets no reply).
        let _request = m.receive();
        panic!("on purpose");
    });
    println!(
        "server crashed: {:?}",
        crashing.request(1).map_err(|e| match e {
            RequestError::Down(reason) => show(&reason),
            other => format!("{other:?}"),
        })
    );
    println!("server gone: {:?}", crashing.request(1).err());
}

fn selective() {
    let me = Process::<&'static str>::this();
    me.send_tagged("one", 1);
    me.send_tagged("two", 2);
    me.send_tagged("three", 3);
    let m = Mailbox::<String>::this();
    println!("{:?}", m.receive_tagged(&[3], None).unwrap());
    println!("{:?}", m.receive_tagged(&[], None).unwrap());
    println!("{:?}", m.receive_tagged(&[2, 1], None).unwrap());
    println!("{:?}", m.receive_tagged(&[1], Some(NOW)).err());
}

fn decode_error() {
    Process::<Vec<u8>>::this().send(vec![0xff, 0xfe]);
    match Mailbox::<String>::this().receive() {
        Err(e) => println!(
            "decode error keeps the bytes: {:?} from self: {}",
            e.bytes,
            e.sender == process::self_id()
        ),
        Ok(s) => println!("decoded {s:?}?"),
    }
    println!(
        "timeout: {:?}",
        Mailbox::<String>::this()
            .receive_timeout(Duration::from_millis(1))
            .err()
            == Some(ReceiveError::Timeout)
    );
}

/// Messages of every size arrive whole: small ones (read on the stack by the
/// SDK), ones at and just past that limit, and large ones, typed and raw, and
/// as a spawn's capture.
fn message_sizes() {
    let sizes = [0usize, 1, 61, 62, 63, 64, 65, 200, 70_000];
    let echo = spawn((), |(), m: Mailbox<(Vec<u8>, Process<Vec<u8>>)>| {
        while let Ok((bytes, reply_to)) = m.receive() {
            reply_to.send(bytes);
        }
    });
    let me = Process::<Vec<u8>>::this();
    for n in sizes {
        let sent: Vec<u8> = (0..n).map(|i| (i * 7 + n) as u8).collect();
        echo.send((sent.clone(), me));
        let typed = Mailbox::<Vec<u8>>::this().receive().unwrap() == sent;
        me.send_bytes(&sent, 9);
        let raw = vm_sdk::mailbox::receive_bytes(&[9], None).unwrap().bytes == sent;
        println!("{n}: typed {typed}, raw {raw}");
    }
    let capture = "x".repeat(300);
    spawn((capture, me), |(capture, me), _: Mailbox<()>| {
        me.send(capture.into_bytes());
    });
    let back = Mailbox::<Vec<u8>>::this().receive().unwrap();
    println!("capture of {} bytes", back.len());
}

fn memory_hog() {
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    loop {
        hoard.push(vec![1u8; 1 << 20]);
        println!("holding {} MiB", hoard.len());
    }
}

/// Recurses `depth` calls deep in a child process, then shows how the
/// child ended and that its caller carries on.
fn stack(depth: u64) {
    let child = spawn(depth, |depth: u64, m: Mailbox<()>| {
        m.receive().unwrap();
        println!("result: {}", recurse(std::hint::black_box(depth)));
    });
    let monitor = child.monitor();
    child.send(());
    match monitor.wait(None).unwrap().reason {
        ExitReason::Trap(why) => println!("child: {why}"),
        other => println!("child: {other:?}"),
    }
    println!("caller carries on");
}

/// A recursion the compiler cannot turn into a loop, with no locals in
/// linear memory: only the native stack grows.
#[inline(never)]
fn recurse(n: u64) -> u64 {
    if n == 0 {
        return 1;
    }
    recurse(n - 1).wrapping_mul(31).wrapping_add(n)
}

fn load_module() {
    match Module::load(b"not wasm") {
        Err(e) => println!("garbage: {:?}", e.code()),
        Ok(_) => println!("garbage loaded?"),
    }
    let wat_needs_v2 = b"\0asm\x01\0\0\0";
    match Module::load(wat_needs_v2) {
        Ok(m) => {
            let r = Spawn::new().start_export::<()>(&m, "missing", 0, b"");
            println!(
                "empty module loads; spawning a missing export: {:?}",
                r.map_err(|e| e.code() == Some(ErrorCode::InvalidArgument))
            );
        }
        Err(e) => println!("empty module: {e}"),
    }
}

fn process_limit() {
    // Run with a limit of 3 processes: the root and two more.
    let hold = |(), m: Mailbox<()>| m.receive().unwrap();
    let a = spawn((), hold);
    let b = spawn((), hold);
    let listener = vm_sdk::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let refused = Spawn::new()
        .start(listener, |_: vm_sdk::net::TcpListener, _: Mailbox<()>| {})
        .unwrap_err();
    let hint = if refused.error.message().contains("--max-processes") {
        "(raise it with --max-processes)"
    } else {
        "(no hint)"
    };
    println!("spawned 2, then: {:?} {hint}", refused.error.code());
    // The capture comes back, its listener still this process's.
    let listener = refused.capture;
    println!("the listener came back: {}", listener.local_addr().is_ok());
    a.send(());
    b.send(());
}

fn until_refused() {
    // Spawn linked idle processes until the VM refuses one, at spawn (the
    // process limit) or when it starts (the kernel's mapping limit), and
    // print why.
    process::trap_exits(true);
    let hold = |(), m: Mailbox<()>| {
        let _ = m.receive();
    };
    let events = Mailbox::<()>::this();
    let mut spawned = 0u32;
    let why = loop {
        match Spawn::new().link().start((), hold) {
            Ok(_) => spawned += 1,
            Err(e) => break format!("spawn refused: {:?}: {}", e.error.code(), e.error.message()),
        }
        if spawned.is_multiple_of(64) {
            if let Ok(Event::Exit(Exit { reason, .. })) = events.receive_event(Some(Duration::ZERO))
            {
                break format!("a process could not start: {reason:?}");
            }
        }
    };
    println!("after {spawned} spawns, {why}");
}

fn net_errors(resetting_server: &str) {
    use std::io::{ErrorKind, Read, Write};
    use vm_sdk::abi;
    use vm_sdk::net::{TcpListener, TcpStream};

    let raw_read = |handle: u32, dst: u32, len: u32| {
        let mut ret = abi::CallResult::<u32>::uninit();
        // SAFETY: deliberately hostile arguments; the VM checks them.
        unsafe { abi::net::read(handle, dst, len, 0, 0, &mut ret) };
        ret.get().map_err(ErrorCode::from_raw)
    };
    println!(
        "denied bind: {:?}",
        TcpListener::bind("0.0.0.0:0").err().map(|e| e.kind())
    );
    println!(
        "refused: {:?}",
        TcpStream::connect("127.0.0.1:1").err().map(|e| e.kind())
    );

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut a = TcpStream::connect(addr).unwrap();
    let (b, _) = listener.accept().unwrap();
    println!("zero-length read: {:?}", a.read(&mut []).ok());
    // A read with a timeout on a silent peer times out, and the stream
    // still works: bytes written later arrive whole.
    a.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
    let mut got = [0u8; 8];
    println!("silent peer: {:?}", a.read(&mut got).map_err(|e| e.kind()));
    let mut b = b;
    b.write_all(b"late").unwrap();
    a.set_read_timeout(None).unwrap();
    println!(
        "zero timeout: {:?}",
        a.set_read_timeout(Some(Duration::ZERO))
            .map_err(|e| e.kind())
    );
    let n = a.read(&mut got).unwrap();
    println!("then: {:?}", std::str::from_utf8(&got[..n]));
    println!(
        "read past memory end: {:?}",
        raw_read(a.raw_handle(), u32::MAX - 8, 64)
    );

    // Halves of different streams are given back, still usable.
    let (a_read, a_write) = a.into_split();
    println!(
        "halves know both addresses: {}",
        a_read.local_addr().ok() == a_write.local_addr().ok()
            && a_read.peer_addr().ok() == a_write.peer_addr().ok()
            && a_read.local_addr().is_ok()
    );
    let (b_read, b_write) = b.into_split();
    let old_read = a_read.raw_handle();
    let err = a_read.reunite(b_write).unwrap_err();
    let (a_read, b_write) = (err.0, err.1);
    println!(
        "mismatched reunite keeps both: {}",
        a_read.peer_addr().is_ok() && b_write.peer_addr().is_ok()
    );
    let a = a_read.reunite(a_write).unwrap();
    println!(
        "half used after reunite: {:?}",
        raw_read(old_read, 0, 0).err()
    );
    let _ = b_read.reunite(b_write).unwrap();

    // A stream moved to another process is gone from this one.
    let moved = a.raw_handle();
    let keeper = spawn(a, |_a: TcpStream, m: Mailbox<()>| m.receive().unwrap());
    println!("moved handle: {:?}", raw_read(moved, 0, 0).err());
    keeper.send(());

    // A stream inside a message too large to encode on the stack arrives
    // once, and works: the SDK, out of room after recording the stream,
    // encodes the message again on the heap.
    let (mut near, _) = {
        let far = TcpStream::connect(addr).unwrap();
        let (near, peer) = listener.accept().unwrap();
        let text = "y".repeat(300);
        let writer = spawn((), |(), m: Mailbox<(TcpStream, String)>| {
            let (mut stream, text) = m.receive().unwrap();
            stream.write_all(text.as_bytes()).unwrap();
        });
        writer.send((far, text));
        (near, peer)
    };
    let mut got = Vec::new();
    let mut chunk = [0u8; 512];
    while got.len() < 300 {
        match near.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&chunk[..n]),
        }
    }
    println!(
        "stream in a large message: {}",
        got == "y".repeat(300).into_bytes()
    );

    // A full send buffer loses nothing: try_write says WouldBlock, and
    // write_all (which tries first, then waits for room) gets every byte out.
    let far = TcpStream::connect(addr).unwrap();
    let (mut near, _) = listener.accept().unwrap();
    let chunk = vec![7u8; 64 << 10];
    let mut queued = 0usize;
    let full = loop {
        match far.try_write(&chunk) {
            Ok(n) => queued += n,
            Err(e) => break e.kind(),
        }
    };
    println!(
        "try_write on a full buffer: {full:?} (after some bytes: {})",
        queued > 0
    );
    let more = 4usize << 20;
    spawn(
        (far, more),
        |(mut far, more): (TcpStream, usize), _: Mailbox<()>| {
            far.write_all(&vec![7u8; more]).unwrap();
        },
    );
    let (mut got, mut intact) = (0usize, true);
    let mut buf = vec![0u8; 64 << 10];
    while got < queued + more {
        match near.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                intact &= buf[..n].iter().all(|&b| b == 7);
                got += n;
            }
        }
    }
    println!("every byte arrived: {}", intact && got == queued + more);

    let mut reset = TcpStream::connect(resetting_server).unwrap();
    let mut buf = [0u8; 16];
    let outcome = reset.read(&mut buf);
    println!(
        "peer reset mid-read: {:?}",
        outcome.map_err(|e| e.kind() == ErrorKind::ConnectionReset)
    );

    // Resources in a message are never lost: a message that does not
    // decode, or is received as bytes, hands them over owned.
    let me = Process::<(u32, TcpListener)>::this();
    me.send((7, TcpListener::bind("127.0.0.1:0").unwrap()));
    let undecodable = Mailbox::<String>::this().receive().unwrap_err();
    println!(
        "an undecodable message keeps its resources: {}",
        undecodable.resources.len()
    );
    me.send((7, TcpListener::bind("127.0.0.1:0").unwrap()));
    let raw = vm_sdk::mailbox::receive_bytes(&[], Some(NOW)).unwrap();
    println!("a raw message keeps its resources: {}", raw.resources.len());
    // A reply can carry a resource.
    let server = spawn((), |(), m: Mailbox<Request<(), TcpListener>>| {
        let request = m.receive().unwrap();
        request.reply(TcpListener::bind("127.0.0.1:0").unwrap());
    });
    let listener = server.request(()).unwrap();
    println!("a reply with a listener: {}", listener.local_addr().is_ok());
}

/// Names are looked up only when a rule could permit them (the test counts
/// the lookups its resolver sees); `port` is a listener's the test runs.
fn net_names(port: &str) {
    use vm_sdk::net::{lookup_host, TcpListener, TcpStream};
    let outcome = |r: std::io::Result<String>| match r {
        Ok(text) => text,
        Err(e) => format!("{:?}", e.kind()),
    };
    let lookup = lookup_host("db.example").map(|a| format!("{a:?}"));
    println!("lookup db.example: {}", outcome(lookup));
    let connect = TcpStream::connect(format!("db.example:{port}")).map(|s| {
        let peer = s.peer_addr().map(|a| a.port().to_string());
        format!("connected to port {}", peer.unwrap_or_default())
    });
    println!("connect db.example: {}", outcome(connect));
    let bind = TcpListener::bind("db.example:0").map(|_| "bound".to_string());
    println!("bind db.example: {}", outcome(bind));
    let other = TcpStream::connect(format!("other.example:{port}")).map(|_| "connected".into());
    println!("connect other.example: {}", outcome(other));
    let literal = lookup_host("10.1.2.3:80").map(|a| format!("{a:?}"));
    println!("lookup 10.1.2.3:80: {}", outcome(literal));
    if let Err(e) = TcpStream::connect("exfiltrate.example:80") {
        println!("denied: {e}");
    }
}

/// A connection its peer reset before it was accepted is still accepted,
/// with the peer's address. The test connects a control connection first,
/// then a connection it resets, then writes a byte on the control one.
fn accept_reset() {
    use std::io::Read;
    use vm_sdk::net::TcpListener;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    println!("listening on {}", listener.local_addr().unwrap());
    let (mut control, _) = listener.accept().unwrap();
    let mut go = [0u8; 1];
    control.read_exact(&mut go).unwrap();
    let accepted = listener.accept().map(|(_, peer)| peer.ip().is_loopback());
    println!(
        "accepted a reset connection: {:?}",
        accepted.map_err(|e| e.kind())
    );
}

/// Waits for a message no one sends, so everything else stays queued.
fn never_receive((): (), _: Mailbox<()>) {
    let _ = vm_sdk::mailbox::receive_bytes(&[0x5eed], None);
}

/// The start of a trap reason that names the mailbox limit, or the reason.
fn limit_reason(reason: &ExitReason) -> String {
    match reason {
        ExitReason::Trap(t) if t.starts_with("mailbox limit exceeded") => format!(
            "mailbox limit exceeded (names the flag: {})",
            t.contains("--max-mailbox")
        ),
        ExitReason::Trap(t) if t.contains("limit-reached") => format!(
            "limit-reached (names the flag: {})",
            t.contains("--max-mailbox")
        ),
        other => format!("{other:?}"),
    }
}

/// A process that never receives, flooded with 512 MiB, ends with a reason
/// naming the mailbox limit; so does one that sets 512 MiB of timers for
/// itself. The senders and a bystander carry on.
fn mailbox_flood() {
    let bystander = spawn((), |(), m: Mailbox<(u32, Process<u32>)>| {
        while let Ok((n, reply_to)) = m.receive() {
            reply_to.send(n + 1);
        }
    });
    let sink = spawn((), never_receive);
    let monitor = sink.monitor();
    let chunk = vec![7u8; 64 << 10];
    for _ in 0..8192 {
        sink.send_bytes(&chunk, 1);
    }
    println!(
        "flooded: {}",
        limit_reason(&monitor.wait(None).unwrap().reason)
    );

    let hoarder = spawn((), |(), _: Mailbox<()>| {
        let me = Process::<Vec<u8>>::this();
        for _ in 0..8192 {
            me.send_after(vec![7u8; 64 << 10], Duration::from_secs(3600));
        }
        never_receive((), Mailbox::this());
    });
    let monitor = hoarder.monitor();
    println!(
        "timers for itself: {}",
        limit_reason(&monitor.wait(None).unwrap().reason)
    );

    bystander.send((41, Process::this()));
    println!(
        "bystander answers: {}",
        Mailbox::<u32>::this().receive().unwrap()
    );
}

/// Timers whose target has ended are cancelled (the test checks that no
/// timer is left pending).
fn timers_of_the_dead() {
    let target = spawn((), never_receive);
    let monitor = target.monitor();
    for _ in 0..1000 {
        target.send_after((), Duration::from_secs(3600));
    }
    target.kill();
    monitor.wait(None).unwrap();
    // Set after the target ended: cancelled at once.
    target.send_after((), Duration::from_secs(3600));
    println!("target ended");
}

/// Names are at most 255 bytes; a process may hold several, each charged
/// to whoever registered it.
fn name_limits() {
    let me = Process::<()>::this();
    for i in 0..16 {
        me.register(&format!("name-{i}")).unwrap();
    }
    println!(
        "17th name: {:?}",
        me.register("one-more").map_err(|e| e.code())
    );
    println!(
        "256-byte name: {:?}",
        me.register(&"n".repeat(256)).map_err(|e| e.code())
    );
    println!(
        "255-byte name after freeing one: {:?}",
        vm_sdk::registry::unregister("name-0")
            .and_then(|()| me.register(&"n".repeat(255)))
            .map_err(|e| e.code())
    );
}

/// Monitors are freed when their down is received and when the watcher
/// ends: this process watches 2,000 short-lived processes in turn, each of
/// which watched this process. The test then finds no monitor left.
fn monitor_churn() {
    let me = Process::<()>::this();
    for _ in 0..2000 {
        let watcher = spawn(me, |root, _: Mailbox<()>| {
            root.monitor();
        });
        watcher.monitor().wait(None).unwrap();
    }
    println!("ready");
    never_receive((), Mailbox::this());
}

/// `Process::exit`: an exit signal, trappable unlike kill.
fn send_exit() {
    let worker = spawn((), never_receive);
    let mon = worker.monitor();
    worker.exit("shutdown");
    println!("not trapping: {}", show(&mon.wait(None).unwrap().reason));

    let echo = spawn((), |(), m: Mailbox<Request<u32, u32>>| {
        while let Ok(r) = m.receive() {
            let n = *r.body();
            r.reply(n);
        }
    });
    echo.exit("");
    println!("normal ignored: still answers {:?}", echo.request(7));

    let me = Process::<String>::this();
    let trapper = spawn(me, |parent, m: Mailbox<()>| {
        process::trap_exits(true);
        parent.send("trapping".into());
        let text = match m.receive_event(None).unwrap() {
            Event::Exit(Exit { process, reason }) => {
                format!("from parent: {} {reason:?}", process == parent.id())
            }
            other => format!("unexpected {other:?}"),
        };
        parent.send(text);
    });
    let inbox = Mailbox::<String>::this();
    println!("{}", inbox.receive().unwrap());
    trapper.exit("please stop");
    println!("trapped: {}", inbox.receive().unwrap());
}

/// What a socket carries when it moves (its timeouts and `TCP_NODELAY`),
/// `peek`, and a timer that carries a stream.
fn socket_moves() {
    use std::io::{ErrorKind, Read, Write};
    use vm_sdk::net::{TcpListener, TcpStream};

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let pair = || {
        let a = TcpStream::connect(addr).unwrap();
        let (b, _) = listener.accept().unwrap();
        (a, b)
    };

    let (a, mut b) = pair();
    println!("nodelay by default: {:?}", a.nodelay().ok());
    a.set_nodelay(false).unwrap();
    a.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
    a.set_write_timeout(Some(Duration::from_secs(7))).unwrap();
    let me = Process::<String>::this();
    let inbox = Mailbox::<String>::this();
    let _child = spawn(
        (a, me),
        |(a, parent): (TcpStream, Process<String>), _: Mailbox<()>| {
            parent.send(format!(
                "moved: read {:?}, write {:?}, nodelay {:?}",
                a.read_timeout().ok(),
                a.write_timeout().ok(),
                a.nodelay().ok()
            ));
            let mut a = a;
            let mut buf = [0u8; 16];
            parent.send(format!(
                "silent peer after the move: {:?}",
                a.read(&mut buf).map_err(|e| e.kind())
            ));
            let (mut read, write) = a.into_split();
            parent.send(format!(
                "halves: read {:?}, write {:?}, write half nodelay {:?}",
                read.read_timeout().ok(),
                write.write_timeout().ok(),
                write.nodelay().ok()
            ));
            read.set_read_timeout(None).unwrap();
            parent.send("ready".into());
            let n = read.peek(&mut buf).unwrap();
            let peeked = String::from_utf8_lossy(&buf[..n]).into_owned();
            let n = read.read(&mut buf).unwrap();
            let read_after = String::from_utf8_lossy(&buf[..n]).into_owned();
            parent.send(format!("peeked {peeked:?}, then read {read_after:?}"));
        },
    );
    for _ in 0..3 {
        println!("{}", inbox.receive().unwrap());
    }
    assert_eq!(inbox.receive().unwrap(), "ready");
    b.write_all(b"hello").unwrap();
    println!("{}", inbox.receive().unwrap());

    // A stream rides a timer to its target.
    let (c, mut d) = pair();
    let streams = Process::<TcpStream>::this();
    let _timer = streams.send_after(c, Duration::from_millis(1));
    let mut c = Mailbox::<TcpStream>::this().receive().unwrap();
    c.write_all(b"via timer").unwrap();
    let mut buf = [0u8; 16];
    let n = d.read(&mut buf).unwrap();
    println!("{:?}", String::from_utf8_lossy(&buf[..n]));

    // A cancelled timer closes the stream it carried: the peer sees the end.
    let (e, mut f) = pair();
    let timer = streams.send_after(e, Duration::from_secs(3600));
    println!("cancelled: {}", timer.cancel());
    f.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    println!(
        "peer of the cancelled stream reads: {:?}",
        f.read(&mut buf)
            .map_err(|e| e.kind() == ErrorKind::TimedOut)
    );
}
