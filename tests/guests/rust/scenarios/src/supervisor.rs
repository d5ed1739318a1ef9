//! `scenarios supervisor`: trees of registered workers under
//! `vm_sdk::supervisor`, parts of which are killed; each line says what
//! the supervisor restarted.

use std::time::Duration;
use vm_sdk::process::{self, spawn, spawn_link, ExitReason, Process};
use vm_sdk::request::Request;
use vm_sdk::server::{self, Next, Server, ServerRef};
use vm_sdk::supervisor::{
    self, Child, ChildSpec, Restart, Shutdown, Spec, Strategy, Supervise, SupervisorRef,
};
use vm_sdk::Mailbox;

/// A registered worker that answers pings and can be asked to stop.
struct Worker;

impl Server for Worker {
    type Arg = ();
    type Call = u8;
    type Reply = ();
    type Cast = ();

    fn init((): ()) -> Result<Self, vm_sdk::Failure> {
        Ok(Worker)
    }

    /// 1 asks it to stop normally, 2 to shut down with a term.
    fn handle_call(&mut self, request: Request<u8, ()>) -> Next {
        let stop = *request.body();
        request.reply(());
        match stop {
            1 => Next::StopNormal,
            2 => Next::shutdown("done"),
            _ => Next::Continue,
        }
    }
}

fn worker(name: &'static str) -> ChildSpec {
    ChildSpec::server::<Worker>(name, ())
}

fn strategy(code: u8) -> Strategy {
    match code {
        0 => Strategy::OneForOne,
        1 => Strategy::OneForAll,
        _ => Strategy::RestForOne,
    }
}

/// Three workers, `w1`–`w3`, under a strategy; `max` restarts a minute.
struct Three;

impl Supervise for Three {
    type Arg = (u8, u32);

    fn init((code, max): (u8, u32)) -> Spec {
        Spec::new(strategy(code))
            .intensity(max, Duration::from_secs(60))
            .child(worker("w1"))
            .child(worker("w2"))
            .child(worker("w3"))
    }
}

/// One child of each restart policy.
struct Policies;

impl Supervise for Policies {
    type Arg = ();

    fn init((): ()) -> Spec {
        Spec::new(Strategy::OneForOne)
            .child(worker("permanent"))
            .child(worker("transient").restart(Restart::Transient))
            .child(worker("transient-done").restart(Restart::Transient))
            .child(worker("temporary").restart(Restart::Temporary))
    }
}

/// A supervisor whose child is another supervisor (of `w1`).
struct Outer;

impl Supervise for Outer {
    type Arg = ();

    fn init((): ()) -> Spec {
        Spec::new(Strategy::OneForOne).child(ChildSpec::new("inner", || {
            Ok(supervisor::start_link::<Inner>(())?)
        }))
    }
}

struct Inner;

impl Supervise for Inner {
    type Arg = ();

    fn init((): ()) -> Spec {
        Spec::new(Strategy::OneForOne).child(announced("w1"))
    }
}

/// A worker that tells the process registered as `watcher` its name once it
/// has started: what the root waits for after it kills something.
struct Announcer;

impl Server for Announcer {
    type Arg = String;
    type Call = ();
    type Reply = ();
    type Cast = ();

    fn init(name: String) -> Result<Self, vm_sdk::Failure> {
        if let Some(watcher) = Process::<String>::lookup("watcher") {
            watcher.send(name);
        }
        Ok(Announcer)
    }

    fn handle_call(&mut self, request: Request<(), ()>) -> Next {
        request.reply(());
        Next::Continue
    }
}

fn announced(name: &'static str) -> ChildSpec {
    ChildSpec::server::<Announcer>(name, name.to_string())
}

/// A child whose second start fails: its first restart must be retried.
struct Flaky;

impl Supervise for Flaky {
    type Arg = ();

    fn init((): ()) -> Spec {
        let mut starts = 0;
        Spec::new(Strategy::OneForOne).child(ChildSpec::new("flaky", move || {
            starts += 1;
            if starts == 2 {
                return Err("not yet".into());
            }
            Ok(server::Start::<Announcer>::new("flaky".into())
                .link()
                .name("flaky")
                .start()?)
        }))
    }
}

/// Waits for the announcement of `name`.
fn announced_again(name: &str) {
    let got = Mailbox::<String>::this()
        .receive()
        .expect("an announcement");
    assert_eq!(got, name);
}

/// The tag of the stubborn child's "trapping now".
const STUBBORN_READY: u64 = 77;

/// A child that traps exits and ignores them: shut down only by a kill.
struct Stubborn;

impl Supervise for Stubborn {
    type Arg = ();

    fn init((): ()) -> Spec {
        Spec::new(Strategy::OneForOne).child(
            ChildSpec::new("stubborn", || {
                // It traps exits before the start function returns.
                let me = Process::<()>::this();
                let child = spawn(me, |supervisor, m: Mailbox<()>| {
                    process::trap_exits(true);
                    supervisor.send_tagged((), STUBBORN_READY);
                    loop {
                        let _ = m.receive_event(None);
                    }
                });
                Mailbox::<()>::this().receive_tagged(&[STUBBORN_READY], None)?;
                Ok(child)
            })
            .shutdown(Shutdown::Timeout(Duration::from_millis(50))),
        )
    }
}

/// A transient child, linked at its spawn as a start function should link
/// it, that ends normally before its start function returns (a brief job).
struct Brief;

impl Supervise for Brief {
    type Arg = ();

    fn init((): ()) -> Spec {
        Spec::new(Strategy::OneForOne).child(
            ChildSpec::new("brief", || {
                let child = spawn_link((), |(), m: Mailbox<()>| {
                    let _ = m.receive();
                });
                child.register("brief")?;
                if let Some(watcher) = Process::<String>::lookup("watcher") {
                    watcher.send("brief".into());
                }
                let ended = child.monitor();
                child.send(());
                // Until its end has reached the supervisor's mailbox (this
                // start runs in the supervisor): its `down` comes behind
                // the exit signal of its link, which stays there for the
                // supervisor. Its name went as it ended, but the exit
                // signal may not have arrived by then.
                let _ = ended.wait(None);
                Ok(child)
            })
            .restart(Restart::Transient),
        )
    }
}

/// A supervisor whose only child cannot start.
struct Failing;

impl Supervise for Failing {
    type Arg = ();

    fn init((): ()) -> Spec {
        Spec::new(Strategy::OneForOne)
            .child(ChildSpec::new("db", || -> Result<u64, vm_sdk::Failure> {
                Err("no database".into())
            }))
    }
}

fn pid(name: &str) -> Option<u64> {
    ServerRef::<Worker>::lookup(name).map(|s| s.id())
}

/// Kills the process registered as `name` and waits until it has ended.
fn kill(name: &str) {
    let p = Process::<()>::from_id(pid(name).expect("registered"));
    let monitor = p.monitor();
    p.kill();
    monitor.wait(None).expect("a down");
}

/// Which of `names` kept their process across `f`.
fn kept(names: &[&str], f: impl FnOnce()) -> String {
    let before: Vec<Option<u64>> = names.iter().map(|n| pid(n)).collect();
    f();
    names
        .iter()
        .zip(before)
        .map(|(n, b)| {
            let now = pid(n);
            let what = match now {
                None => "gone",
                Some(_) if now == b => "kept",
                Some(_) => "restarted",
            };
            format!("{n} {what}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Shuts a supervisor down as its starter does; the reason it ended with.
fn shut_down<S>(tree: SupervisorRef<S>) -> ExitReason {
    let monitor = tree.process().monitor();
    tree.process().exit("shutdown");
    monitor.wait(None).expect("a down").reason
}

fn running(children: &[Child]) -> String {
    children
        .iter()
        .map(|c| format!("{}: {}", c.name, c.process.is_some()))
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn scenario() {
    let names = ["w1", "w2", "w3"];
    for (code, label, killed) in [
        (0, "one-for-one", "w2"),
        (1, "one-for-all", "w1"),
        (2, "rest-for-one", "w2"),
    ] {
        let tree = supervisor::start::<Three>((code, 10)).unwrap();
        let what = kept(&names, || {
            kill(killed);
            // The supervisor handles the exit before this call.
            tree.which_children().unwrap();
        });
        println!("{label}, {killed} killed: {what}");
        shut_down(tree);
    }

    let tree = supervisor::start::<Policies>(()).unwrap();
    for (name, stop) in [("permanent", 1), ("transient", 1), ("transient-done", 2)] {
        let p = ServerRef::<Worker>::lookup(name).unwrap();
        let monitor = p.process().monitor();
        p.call(stop).unwrap();
        monitor.wait(None).unwrap();
    }
    kill("temporary");
    println!(
        "after a normal stop of permanent and transient, a shutdown with a term of transient-done and a kill of temporary: {}",
        running(&tree.which_children().unwrap())
    );
    shut_down(tree);

    let tree = supervisor::start::<Three>((0, 1)).unwrap();
    let monitor = tree.process().monitor();
    kill("w1");
    // Restarted by the time the supervisor answers.
    tree.which_children().unwrap();
    kill("w1");
    println!(
        "a second restart in a minute with an intensity of 1: {:?}; w1-w3 registered: {}",
        monitor.wait(None).unwrap().reason,
        names.iter().any(|n| pid(n).is_some())
    );

    Process::<String>::this().register("watcher").unwrap();
    let outer = supervisor::start::<Outer>(()).unwrap();
    announced_again("w1");
    let inner = outer.which_children().unwrap()[0].process.unwrap();
    let what = kept(&["w1"], || {
        let p = Process::<()>::from_id(inner);
        let monitor = p.monitor();
        p.kill();
        monitor.wait(None).unwrap();
        // The old w1 may still hold its name when the new inner supervisor
        // starts one: that start is retried until it succeeds.
        announced_again("w1");
    });
    let new_inner = outer.which_children().unwrap()[0].process.unwrap();
    println!(
        "nested: inner supervisor killed: {what} (inner restarted: {})",
        new_inner != inner
    );
    println!(
        "outer shut down: {:?}; w1 registered: {}",
        shut_down(outer),
        pid("w1").is_some()
    );

    let tree = supervisor::start::<Flaky>(()).unwrap();
    announced_again("flaky");
    kill("flaky");
    announced_again("flaky");
    println!(
        "a restart that fails is retried: {}",
        running(&tree.which_children().unwrap())
    );
    shut_down(tree);

    let tree = supervisor::start::<Stubborn>(()).unwrap();
    let child = tree.which_children().unwrap()[0].process.unwrap();
    let monitor = Process::<()>::from_id(child).monitor();
    shut_down(tree);
    println!(
        "a child that ignores the shutdown signal: {:?}",
        monitor.wait(None).unwrap().reason
    );

    let tree = supervisor::start::<Brief>(()).unwrap();
    announced_again("brief");
    let children = tree.which_children().map(|c| running(&c));
    let again = Mailbox::<String>::this()
        .receive_timeout(Duration::ZERO)
        .is_ok();
    println!(
        "a transient child that ended normally before its start returned: {children:?}, started again: {again}"
    );
    shut_down(tree);

    // Not trapping exits: a failed start is an error, not this process's end.
    let failed = supervisor::start_link::<Failing>(()).map(|_| ());
    println!("start_link of a supervisor whose child fails: {failed:?}");
    println!("and its caller lives on");
}
