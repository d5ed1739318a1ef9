//! `scenarios server`: a counter written as a `vm_sdk::server::Server`:
//! calls, casts, a failing init, a registered name, a reply deferred until
//! a down arrives, stopping, crashing, and an exit signal from its starter.

use serde::{Deserialize, Serialize};
use vm_sdk::mailbox::Event;
use vm_sdk::process::{self, spawn, ExitReason, Process};
use vm_sdk::request::{ReplyTo, Request, RequestError};
use vm_sdk::server::{self, Info, Named, Next, Server, ServerRef, StartError};
use vm_sdk::Mailbox;

struct Counter {
    n: u64,
    /// A `Watch` call waiting for its process's down.
    watching: Option<Request<CounterCall, u64>>,
}

#[derive(Debug, Serialize, Deserialize)]
enum CounterCall {
    Get,
    Add(u64),
    /// Replies (with the count so far) once `pid` has ended.
    Watch(u64),
    Crash,
    Stop,
    /// Dropped without a reply.
    Ignore,
}

impl Server for Counter {
    type Arg = u64;
    type Call = CounterCall;
    type Reply = u64;
    type Cast = u64;

    fn init(n: u64) -> Result<Self, vm_sdk::Failure> {
        if n == 13 {
            return Err("unlucky".into());
        }
        process::trap_exits(true);
        Ok(Counter { n, watching: None })
    }

    fn handle_call(&mut self, request: Request<CounterCall, u64>) -> Next {
        match request.body() {
            CounterCall::Get => request.reply(self.n),
            CounterCall::Add(_) => {
                // The body taken apart, owned, and the reply sent after.
                let (CounterCall::Add(k), reply) = request.into_parts() else {
                    unreachable!("matched above")
                };
                self.n += k;
                reply.reply(self.n);
            }
            CounterCall::Ignore => drop(request),
            CounterCall::Watch(pid) => {
                let _watched = Process::<()>::from_id(*pid).monitor();
                self.watching = Some(request);
            }
            CounterCall::Crash => panic!("asked to crash"),
            CounterCall::Stop => {
                request.reply(self.n);
                return Next::Stop("asked to stop".into());
            }
        }
        Next::Continue
    }

    fn handle_cast(&mut self, add: u64) -> Next {
        self.n += add;
        Next::Continue
    }

    fn handle_info(&mut self, info: Info) -> Next {
        if let (Info::Down(_), Some(request)) = (info, self.watching.take()) {
            request.reply(self.n);
        }
        Next::Continue
    }

    fn terminate(&mut self, reason: &ExitReason) {
        println!("terminate: {reason:?}");
    }
}

/// A counter that hibernates between messages: its state is serialized
/// while it sleeps and read back when a message wakes it.
#[derive(Serialize, Deserialize)]
struct Sleepy {
    n: u64,
    wakes: u32,
}

impl Server for Sleepy {
    type Arg = u64;
    type Call = ();
    type Reply = (u64, u32);
    type Cast = u64;

    fn init(n: u64) -> Result<Self, vm_sdk::Failure> {
        Ok(Sleepy { n, wakes: 0 })
    }

    fn handle_call(&mut self, request: Request<(), (u64, u32)>) -> Next {
        self.wakes += 1;
        request.reply((self.n, self.wakes));
        Next::Hibernate
    }

    fn handle_cast(&mut self, add: u64) -> Next {
        self.wakes += 1;
        self.n += add;
        Next::Hibernate
    }
}

/// A server whose casts carry their own reply types.
struct Typed;

#[derive(Serialize, Deserialize)]
enum TypedCast {
    Len(String, ReplyTo<usize>),
    Upper(String, ReplyTo<String>),
}

impl Server for Typed {
    type Arg = ();
    type Call = ();
    type Reply = ();
    type Cast = TypedCast;

    fn init((): ()) -> Result<Self, vm_sdk::Failure> {
        Ok(Typed)
    }

    fn handle_call(&mut self, request: Request<(), ()>) -> Next {
        request.reply(());
        Next::Continue
    }

    fn handle_cast(&mut self, cast: TypedCast) -> Next {
        match cast {
            TypedCast::Len(text, reply) => reply.reply(text.len()),
            TypedCast::Upper(text, reply) => reply.reply(text.to_uppercase()),
        }
        Next::Continue
    }
}

/// Holds a call (0) unanswered until the next (1), which first answers
/// the one it holds, late.
struct Late(Option<ReplyTo<u32>>);

impl Server for Late {
    type Arg = ();
    type Call = u32;
    type Reply = u32;
    type Cast = ();

    fn init((): ()) -> Result<Self, vm_sdk::Failure> {
        Ok(Late(None))
    }

    fn handle_call(&mut self, request: Request<u32, u32>) -> Next {
        let (body, reply) = request.into_parts();
        if body == 0 {
            self.0 = Some(reply);
        } else {
            if let Some(held) = self.0.take() {
                held.reply(7);
            }
            reply.reply(8);
        }
        Next::Continue
    }
}

fn wait_then_return((): (), m: Mailbox<()>) {
    let _ = m.receive();
}

/// Waits for `server`'s process to end; its reason.
fn ended(monitor: vm_sdk::process::Monitor) -> ExitReason {
    monitor.wait(None).expect("a down").reason
}

pub fn scenario() {
    let counter = server::start::<Counter>(40).unwrap();
    counter.cast(2);
    println!("call after cast: {:?}", counter.call(CounterCall::Get));
    // A message shaped as a call but not tagged as one (a late reply, say)
    // reaches handle_info, never taken for a call: this "stop" stops nothing.
    Process::<(u64, u64, CounterCall)>::from_id(counter.id())
        .send_tagged((Process::<()>::this().id(), 5, CounterCall::Stop), 99);
    println!(
        "a stray message of a call's shape: {:?}",
        counter.call(CounterCall::Get)
    );

    match server::start::<Counter>(13) {
        Err(StartError::Init(why)) => println!("init failed: {why}"),
        other => println!("init: {other:?}"),
    }

    let named = server::Start::<Counter>::new(1)
        .name("counter")
        .start()
        .unwrap();
    let found = ServerRef::<Counter>::lookup("counter").expect("registered");
    println!(
        "registered: {:?} (same process: {})",
        found.call(CounterCall::Add(1)),
        found.id() == named.id()
    );
    println!(
        "name taken: {}",
        matches!(
            server::Start::<Counter>::new(1).name("counter").start(),
            Err(StartError::Init(_))
        )
    );

    println!(
        "a request dropped unanswered: {:?}",
        counter.call(CounterCall::Ignore)
    );

    // By name: each call finds whoever holds the name now.
    let by_name = Named::<Counter>::new("counter");
    println!("by name: {:?}", by_name.call(CounterCall::Get));

    let worker = spawn((), wait_then_return);
    worker.send(());
    println!(
        "reply deferred until a down: {:?}",
        counter.call(CounterCall::Watch(worker.id()))
    );

    let watch = counter.process().monitor();
    let stopped = counter.call(CounterCall::Stop);
    // After the down: the server's terminate has printed by then.
    println!("stop: {stopped:?}, then {:?}", ended(watch));
    println!(
        "call to a stopped server: {:?}",
        counter.call(CounterCall::Get)
    );

    let watch = named.process().monitor();
    let crashed = named.call(CounterCall::Crash);
    println!(
        "crash: {}",
        matches!(crashed, Err(RequestError::Down(ExitReason::Trap(_))))
    );
    let _ = ended(watch);
    println!(
        "by name, none holding it: {:?}",
        by_name.call(CounterCall::Get)
    );
    let again = server::Start::<Counter>::new(7)
        .name("counter")
        .start()
        .unwrap();
    println!(
        "by name, a new holder: {:?} (new process: {})",
        by_name.call(CounterCall::Get),
        by_name.whereis() == Some(again) && again != named
    );
    again.process().kill();

    // A supervisor's shutdown: it traps exits, so the link reports the end.
    process::trap_exits(true);
    let linked = server::start_link::<Counter>(0).unwrap();
    let watch = linked.process().monitor();
    linked.process().exit("shutdown");
    println!("shut down by its starter: {:?}", ended(watch));
    match Mailbox::<()>::this().receive_event(None) {
        Ok(Event::Exit(exit)) => println!("its link reports: {:?}", exit.reason),
        other => println!("expected an exit, got {other:?}"),
    }
    process::trap_exits(false);

    let sleepy = server::Start::<Sleepy>::new(40)
        .name("sleepy")
        .hibernating()
        .start()
        .unwrap();
    sleepy.cast(1);
    sleepy.cast(1);
    println!(
        "a hibernating server keeps its state across wakes: {:?}",
        ServerRef::<Sleepy>::lookup("sleepy").unwrap().call(())
    );
    sleepy.process().kill();

    let typed = server::start::<Typed>(()).unwrap();
    println!(
        "typed asks: {:?} {:?}",
        typed.ask(|r| TypedCast::Len("four".into(), r)),
        typed.ask(|r| TypedCast::Upper("up".into(), r))
    );
    typed.process().kill();

    // A reply that comes after its call gave up is dropped (as OTP's alias
    // drops it), not left for a later receive: see "nothing left over".
    let late = server::start::<Late>(()).unwrap();
    println!(
        "a call that gave up: {:?}; the next: {:?}",
        late.call_timeout(0, std::time::Duration::from_millis(20)),
        late.call(1)
    );
    late.process().kill();

    // Nothing else reached the root: no acknowledgement, reply or down.
    let left = Mailbox::<()>::this().receive_event(Some(std::time::Duration::ZERO));
    println!(
        "nothing left over: {}",
        matches!(left, Err(vm_sdk::ReceiveError::Timeout))
    );
}
