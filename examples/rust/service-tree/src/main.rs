//! A small service tree, and what happens when parts of it are killed.
//!
//! ```text
//! app (supervisor, one-for-one)
//! ├── kv       a registered key-value server
//! └── workers  (supervisor, one-for-one)
//!     ├── worker-1
//!     └── worker-2   workers answer jobs by asking kv
//! ```
//!
//! The root process kills the kv server, a worker, and the workers'
//! supervisor in turn, and shows that each comes back (the kv server
//! without the state it had: a restart starts afresh, as in OTP). A
//! restarted child may find its registered name still held by the process
//! that is ending; the supervisor then tries the start again shortly, and
//! `which_children` answers once it has succeeded.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use vm_sdk::process::Process;
use vm_sdk::request::Request;
use vm_sdk::server::{Next, Server, ServerRef};
use vm_sdk::supervisor::{self, ChildSpec, Spec, Strategy, Supervise, SupervisorRef};

/// The key-value server.
struct Kv(HashMap<String, String>);

#[derive(Serialize, Deserialize)]
enum KvCall {
    Put(String, String),
    Get(String),
}

impl Server for Kv {
    type Arg = ();
    type Call = KvCall;
    type Reply = Option<String>;
    type Cast = ();

    fn init((): ()) -> Result<Self, vm_sdk::Failure> {
        println!("kv: started, empty");
        Ok(Kv(HashMap::new()))
    }

    fn handle_call(&mut self, request: Request<KvCall, Option<String>>) -> Next {
        let reply = match request.body() {
            KvCall::Put(k, v) => self.0.insert(k.clone(), v.clone()),
            KvCall::Get(k) => self.0.get(k).cloned(),
        };
        request.reply(reply);
        Next::Continue
    }
}

/// A worker: a job is a key, answered with its value shouted.
struct Worker;

impl Server for Worker {
    type Arg = String;
    type Call = String;
    type Reply = String;
    type Cast = ();

    fn init(_name: String) -> Result<Self, vm_sdk::Failure> {
        Ok(Worker)
    }

    fn handle_call(&mut self, request: Request<String, String>) -> Next {
        let kv = ServerRef::<Kv>::lookup("kv");
        let value = kv.and_then(|kv| kv.call(KvCall::Get(request.body().clone())).ok());
        let answer = match value {
            Some(Some(v)) => v.to_uppercase(),
            _ => "(nothing)".into(),
        };
        request.reply(answer);
        Next::Continue
    }
}

struct App;

impl Supervise for App {
    type Arg = ();

    fn init((): ()) -> Spec {
        Spec::new(Strategy::OneForOne)
            .child(ChildSpec::server::<Kv>("kv", ()))
            .child(ChildSpec::new("workers", || {
                Ok(supervisor::start_link::<Workers>(())?)
            }))
    }
}

struct Workers;

impl Supervise for Workers {
    type Arg = ();

    fn init((): ()) -> Spec {
        Spec::new(Strategy::OneForOne)
            .child(ChildSpec::server::<Worker>("worker-1", "worker-1".into()))
            .child(ChildSpec::server::<Worker>("worker-2", "worker-2".into()))
    }
}

fn kv() -> ServerRef<Kv> {
    ServerRef::lookup("kv").expect("kv is registered")
}

fn job(worker: &str, key: &str) -> String {
    let w = ServerRef::<Worker>::lookup(worker).expect("the worker is registered");
    w.call(key.to_string()).expect("the worker answers")
}

/// Kills `process` and waits until it has ended.
fn kill(process: Process<()>) {
    let monitor = process.monitor();
    process.kill();
    monitor.wait(None).expect("a down");
}

fn workers(app: SupervisorRef<App>) -> SupervisorRef<Workers> {
    let children = app.which_children().expect("the app answers");
    SupervisorRef::from_id(children[1].process.expect("workers run"))
}

fn main() {
    let app = supervisor::start::<App>(()).expect("the tree starts");
    kv().call(KvCall::Put("greeting".into(), "hello".into()))
        .unwrap();
    println!("main: worker-1 answers {}", job("worker-1", "greeting"));

    println!("main: killing worker-1");
    kill(ServerRef::<Worker>::lookup("worker-1").unwrap().process());
    // Answered once its supervisor has restarted it.
    workers(app).which_children().unwrap();
    println!("main: worker-1 answers {}", job("worker-1", "greeting"));

    println!("main: killing kv");
    kill(kv().process());
    app.which_children().unwrap();
    println!("main: worker-2 answers {}", job("worker-2", "greeting"));

    println!("main: killing the workers' supervisor");
    kill(workers(app).process());
    let restarted = workers(app);
    restarted.which_children().unwrap();
    println!("main: worker-2 answers {}", job("worker-2", "greeting"));

    let monitor = app.process().monitor();
    app.process().exit("shutdown");
    let reason = monitor.wait(None).unwrap().reason;
    let left = ["kv", "worker-1", "worker-2"]
        .iter()
        .filter(|n| Process::<()>::lookup(n).is_some())
        .count();
    println!("main: the tree shut down ({reason:?}); {left} services left");
}
