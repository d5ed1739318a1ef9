//! Supervisors: a process that starts children, watches them through
//! links, and restarts them by a policy, as OTP's `supervisor` does.
//!
//! Implement [`Supervise`] to describe the children (each a [`ChildSpec`]:
//! how to start it, when to restart it, how to shut it down), the
//! [`Strategy`] and the restart intensity, then start it with [`start`] or
//! [`start_link`]. A supervisor can be another supervisor's child.
//!
//! ```no_run
//! use vm_sdk::supervisor::{self, ChildSpec, Spec, Strategy, Supervise};
//! # use vm_sdk::server::{self, Next, Server};
//! # struct Worker;
//! # impl Server for Worker {
//! #     type Arg = (); type Call = (); type Reply = (); type Cast = ();
//! #     fn init(_: ()) -> Result<Self, vm_sdk::Failure> { Ok(Worker) }
//! #     fn handle_call(&mut self, r: vm_sdk::request::Request<(), ()>) -> Next { r.reply(()); Next::Continue }
//! # }
//!
//! struct Tree;
//!
//! impl Supervise for Tree {
//!     type Arg = ();
//!     fn init((): ()) -> Spec {
//!         Spec::new(Strategy::OneForOne)
//!             .child(ChildSpec::server::<Worker>("worker", ()))
//!     }
//! }
//!
//! let tree = supervisor::start::<Tree>(()).unwrap();
//! assert_eq!(tree.which_children().unwrap().len(), 1);
//! ```
//!
//! How it differs from OTP: a child is linked by the supervisor after its
//! start function returns its process id (so any spawn works, though a
//! child started linked is the one whose every end is seen as it was: see
//! [`ChildSpec::new`]); a restart
//! that fails is tried again 10 ms later rather than at once (a registered
//! name is often still held by the process that is ending), each try
//! counting against the intensity; and the supervisor answers one call,
//! [`SupervisorRef::which_children`].

use crate::abi::{message_kinds, MessageKind};
use crate::ack::Acked;
use crate::error::{Error, Failure};
use crate::exit::{exit_reason, ExitReason};
use crate::mailbox::{fresh_tag, receive_with};
use crate::message::decode_received;
use crate::process::{self, self_id, Process, Spawn};
use crate::request::{Request, RequestError};
use crate::Mailbox;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::marker::PhantomData;
use std::time::{Duration, Instant};

/// When a child that ended is started again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Restart {
    /// Always.
    Permanent,
    /// Only if it ended abnormally (not `normal`, `shutdown` or
    /// `shutdown: …`: see [`ExitReason::is_shutdown`]).
    Transient,
    /// Never: it is forgotten when it ends (or is stopped for a sibling's
    /// restart), and `which_children` no longer lists it.
    Temporary,
}

/// Which children a restart takes with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// Only the child that ended.
    OneForOne,
    /// Every child: the others are shut down, then all start again in order.
    OneForAll,
    /// The child that ended and those started after it.
    RestForOne,
}

/// How a child is stopped (for a restart of its siblings, or when the
/// supervisor ends).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shutdown {
    /// An exit signal with reason `shutdown`; if the child has not ended
    /// within the time, it is killed.
    Timeout(Duration),
    /// An exit signal with reason `shutdown`, and as long a wait as the
    /// child takes: the default for a child that is a supervisor, as in
    /// OTP, so its own children shut down in order however long they take.
    Infinity,
    /// Killed at once.
    Kill,
}

/// How long a worker child has to shut down before it is killed, by
/// default: five seconds, as in OTP.
pub const DEFAULT_SHUTDOWN: Duration = Duration::from_secs(5);

/// The function that starts a child, in the supervisor's process; it
/// returns the child's process id, or why it could not start.
pub type StartFn = Box<dyn FnMut() -> Result<u64, String>>;

/// A child: its name, how to start it, when to restart it and how to stop it.
pub struct ChildSpec {
    name: String,
    start: StartFn,
    restart: Restart,
    shutdown: Shutdown,
}

impl std::fmt::Debug for ChildSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChildSpec")
            .field("name", &self.name)
            .field("restart", &self.restart)
            .field("shutdown", &self.shutdown)
            .finish_non_exhaustive()
    }
}

/// What a child's start function returns: a process, a server or a
/// supervisor (or a process id).
pub trait ChildProcess {
    /// Its process id.
    fn process_id(&self) -> u64;

    /// How such a child is shut down unless its spec says otherwise:
    /// [`DEFAULT_SHUTDOWN`] for a worker, [`Shutdown::Infinity`] for a
    /// supervisor.
    fn default_shutdown() -> Shutdown
    where
        Self: Sized,
    {
        Shutdown::Timeout(DEFAULT_SHUTDOWN)
    }
}

impl ChildProcess for u64 {
    fn process_id(&self) -> u64 {
        *self
    }
}

impl<M> ChildProcess for Process<M> {
    fn process_id(&self) -> u64 {
        self.id()
    }
}

impl<S: crate::server::Server> ChildProcess for crate::server::ServerRef<S> {
    fn process_id(&self) -> u64 {
        self.id()
    }
}

impl<S> ChildProcess for SupervisorRef<S> {
    fn process_id(&self) -> u64 {
        self.id()
    }

    fn default_shutdown() -> Shutdown {
        Shutdown::Infinity
    }
}

impl ChildSpec {
    /// A permanent child, shut down as its kind is by default (a worker
    /// given [`DEFAULT_SHUTDOWN`], a supervisor as long as it takes). `start`
    /// returns the child (a [`ChildProcess`]: a process, server or
    /// supervisor) or why it could not start, a [`Failure`] that `?` makes
    /// from any error:
    /// `ChildSpec::new("workers", || Ok(supervisor::start_link::<Workers>(())?))`.
    ///
    /// Start the child linked (`spawn_link`, `Start::link`, `start_link`),
    /// as OTP requires: then however soon it ends, the supervisor hears its
    /// real reason. One started unlinked is linked once `start` returns,
    /// and if it has ended by then the supervisor hears only `noproc`,
    /// which it takes for a crash.
    pub fn new<P: ChildProcess>(
        name: &str,
        mut start: impl FnMut() -> Result<P, Failure> + 'static,
    ) -> Self {
        ChildSpec {
            name: name.to_string(),
            start: Box::new(move || {
                start()
                    .map(|p| p.process_id())
                    .map_err(Failure::into_message)
            }),
            restart: Restart::Permanent,
            shutdown: P::default_shutdown(),
        }
    }

    /// A child that is server `S`, started with a copy of `arg` and
    /// registered as `name` (so [`crate::server::Named`] reaches it across
    /// restarts): [`ChildSpec::new`] without the start function's
    /// boilerplate.
    pub fn server<S>(name: &str, arg: S::Arg) -> Self
    where
        S: crate::server::Server + 'static,
        S::Arg: Clone + 'static,
    {
        ChildSpec::server_with::<S>(name, arg, |start| start)
    }

    /// A child that is server `S`, started with a copy of `arg`, linked,
    /// registered as `name`, and as `options` says.
    fn server_with<S>(
        name: &str,
        arg: S::Arg,
        options: fn(crate::server::Start<S>) -> crate::server::Start<S>,
    ) -> Self
    where
        S: crate::server::Server + 'static,
        S::Arg: Clone + 'static,
    {
        let registered = name.to_string();
        ChildSpec::new(name, move || {
            let start = crate::server::Start::<S>::new(arg.clone())
                .link()
                .name(&registered);
            Ok(options(start).start()?)
        })
    }

    /// [`ChildSpec::server`] for a server whose state is serializable,
    /// started so that it can hibernate ([`crate::server::Next::Hibernate`]).
    pub fn hibernating_server<S>(name: &str, arg: S::Arg) -> Self
    where
        S: crate::server::Server + Serialize + DeserializeOwned + 'static,
        S::Arg: Clone + 'static,
    {
        ChildSpec::server_with::<S>(name, arg, crate::server::Start::hibernating)
    }

    /// When it is restarted.
    pub fn restart(mut self, restart: Restart) -> Self {
        self.restart = restart;
        self
    }

    /// How it is stopped.
    pub fn shutdown(mut self, shutdown: Shutdown) -> Self {
        self.shutdown = shutdown;
        self
    }
}

/// A supervisor's children, strategy and restart intensity.
pub struct Spec {
    strategy: Strategy,
    max_restarts: u32,
    period: Duration,
    children: Vec<ChildSpec>,
}

impl Spec {
    /// No children yet; at most 3 restarts in 5 seconds (OTP's default
    /// intensity is 1 in 5).
    pub fn new(strategy: Strategy) -> Self {
        Spec {
            strategy,
            max_restarts: 3,
            period: Duration::from_secs(5),
            children: Vec::new(),
        }
    }

    /// At most `max` restarts within `period`; one more ends the
    /// supervisor (after it shuts its children down) with reason
    /// `shutdown`.
    pub fn intensity(mut self, max: u32, period: Duration) -> Self {
        self.max_restarts = max;
        self.period = period;
        self
    }

    /// Adds a child, started after the ones before it.
    pub fn child(mut self, child: ChildSpec) -> Self {
        self.children.push(child);
        self
    }
}

/// A supervisor's description.
pub trait Supervise {
    /// What the supervisor is started with.
    type Arg: Serialize + DeserializeOwned;

    /// The children, strategy and intensity; runs in the supervisor's
    /// process.
    fn init(arg: Self::Arg) -> Spec;
}

/// A running supervisor: cheap to copy and serializable.
pub struct SupervisorRef<S> {
    id: u64,
    _supervisor: PhantomData<fn() -> S>,
}

impl<S> Clone for SupervisorRef<S> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<S> Copy for SupervisorRef<S> {}

impl<S> std::fmt::Debug for SupervisorRef<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SupervisorRef({})", self.id)
    }
}

impl<S> Serialize for SupervisorRef<S> {
    fn serialize<Z: serde::Serializer>(&self, s: Z) -> Result<Z::Ok, Z::Error> {
        self.id.serialize(s)
    }
}

impl<'de, S> Deserialize<'de> for SupervisorRef<S> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        u64::deserialize(d).map(|id| SupervisorRef {
            id,
            _supervisor: PhantomData,
        })
    }
}

/// A child as [`SupervisorRef::which_children`] reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Child {
    /// Its name in the spec.
    pub name: String,
    /// Its process, if it is running.
    pub process: Option<u64>,
}

impl<S> SupervisorRef<S> {
    /// The supervisor with process id `id` (a child of another supervisor,
    /// say, from its [`which_children`](Self::which_children)).
    pub fn from_id(id: u64) -> Self {
        SupervisorRef {
            id,
            _supervisor: PhantomData,
        }
    }

    /// The supervisor's process id.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The supervisor's process, to link or monitor it. An exit signal
    /// from the process that started it stops it (its children shut down
    /// first, in reverse order); one from any other process is ignored, as
    /// a supervisor traps exits.
    pub fn process(&self) -> Process<()> {
        Process::from_id(self.id)
    }

    /// The children in start order, each with its process if running. A
    /// child's end that happened before this call (its exit signal sent to
    /// the supervisor) is dealt with first, restart included, and while a
    /// failed start waits for its retry the answer waits with it: so after
    /// killing a child, this call returns once it runs again.
    ///
    /// # Errors
    /// [`RequestError::Down`] if the supervisor has ended.
    pub fn which_children(&self) -> Result<Vec<Child>, RequestError> {
        Process::<Request<(), Vec<Child>>>::from_id(self.id).request(())
    }
}

/// Why [`start`] failed.
#[derive(Debug)]
pub enum StartError {
    /// The VM refused the spawn.
    Refused(Error),
    /// A child could not start: its name and why.
    Child(String, String),
    /// The supervisor ended before it had started its children.
    Down(ExitReason),
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StartError::Refused(e) => write!(f, "the VM refused the spawn: {e}"),
            StartError::Child(name, why) => write!(f, "child `{name}` did not start: {why}"),
            StartError::Down(reason) => write!(f, "the supervisor ended: {reason:?}"),
        }
    }
}

impl std::error::Error for StartError {}

/// Starts a supervisor and waits until its children have started.
///
/// # Errors
/// See [`StartError`].
pub fn start<S: Supervise>(arg: S::Arg) -> Result<SupervisorRef<S>, StartError> {
    start_with::<S>(arg, false)
}

/// [`start`], linked to the caller: the way a supervisor becomes another's
/// child.
///
/// # Errors
/// See [`StartError`].
pub fn start_link<S: Supervise>(arg: S::Arg) -> Result<SupervisorRef<S>, StartError> {
    start_with::<S>(arg, true)
}

#[derive(Serialize, Deserialize)]
struct Start<A> {
    arg: A,
    starter: u64,
    ack: u64,
}

fn start_with<S: Supervise>(arg: S::Arg, link: bool) -> Result<SupervisorRef<S>, StartError> {
    let ack = fresh_tag();
    let start = Start {
        arg,
        starter: self_id(),
        ack,
    };
    let spawn = if link {
        Spawn::new().link()
    } else {
        Spawn::new()
    };
    let process = spawn
        .start(start, run::<S>)
        .map_err(|e| StartError::Refused(e.error))?;
    match crate::ack::wait_for_ack::<_, (String, String)>(&process, ack) {
        Acked::Ready => Ok(SupervisorRef::from_id(process.id())),
        Acked::Failed((name, why)) => Err(StartError::Child(name, why)),
        Acked::Unreadable(why) => Err(StartError::Child(String::new(), why)),
        Acked::Down(reason) => Err(StartError::Down(reason)),
    }
}

/// A child's place in the running supervisor.
struct Running {
    spec: ChildSpec,
    process: Option<u64>,
    /// A temporary child that ended (or was stopped for a sibling's
    /// restart): forgotten, as OTP deletes it.
    gone: bool,
}

struct State {
    strategy: Strategy,
    max_restarts: u32,
    period: Duration,
    children: Vec<Running>,
    restarts: Vec<Instant>,
    /// Children `from..to` wait for a retry of their start.
    retry: Option<(usize, usize)>,
    /// `which_children` calls to answer once no start waits for a retry.
    waiting: Vec<Request<(), Vec<Child>>>,
}

impl State {
    /// Starts child `i` and links it; the reason it could not start.
    fn start_child(&mut self, i: usize) -> Result<(), String> {
        let child = &mut self.children[i];
        let id = (child.spec.start)()?;
        child.process = Some(id);
        // A child that already ended gets its `noproc` exit message, as any
        // child that ends does.
        let _ = Process::<()>::from_id(id).link();
        Ok(())
    }

    /// Stops child `i` (if running) by its shutdown policy, and forgets the
    /// link so its end is not taken for a crash.
    fn stop_child(&mut self, i: usize) {
        let Some(id) = self.children[i].process.take() else {
            return;
        };
        if self.children[i].spec.restart == Restart::Temporary {
            self.children[i].gone = true;
        }
        let child = Process::<()>::from_id(id);
        child.unlink();
        let monitor = child.monitor();
        match self.children[i].spec.shutdown {
            Shutdown::Kill => child.kill(),
            Shutdown::Timeout(t) => {
                child.exit("shutdown");
                if monitor.wait(Some(t)).is_ok() {
                    return;
                }
                child.kill();
            }
            Shutdown::Infinity => child.exit("shutdown"),
        }
        let _ = monitor.wait(None);
    }

    /// Stops every running child, the last started first.
    fn stop_all(&mut self) {
        for i in (0..self.children.len()).rev() {
            self.stop_child(i);
        }
    }

    /// Whether one more restart now stays within the intensity.
    fn may_restart(&mut self) -> bool {
        let now = Instant::now();
        let period = self.period;
        self.restarts.retain(|t| now.duration_since(*t) <= period);
        self.restarts.push(now);
        self.restarts.len() as u32 <= self.max_restarts
    }

    /// An exit message from `from`: the starter's ends the supervisor
    /// (after its children) with the same reason; a child's is handled by
    /// [`State::child_ended`]; any other is ignored.
    fn exited(&mut self, starter: u64, from: u64, reason: ExitReason) {
        if from == starter {
            self.stop_all();
            match reason {
                ExitReason::Normal => process::exit(""),
                ExitReason::Exit(text) | ExitReason::Trap(text) => process::exit(&text),
                ExitReason::Killed => process::exit("killed"),
                ExitReason::NoProc => process::exit("noproc"),
                ExitReason::NoConnection => process::exit("noconnection"),
            }
        }
        if let Some(i) = self.children.iter().position(|c| c.process == Some(from)) {
            self.child_ended(i, &reason);
        }
    }

    /// Child `i` ended with `reason`: restarts what the policy says, or
    /// ends the supervisor past its intensity.
    fn child_ended(&mut self, i: usize, reason: &ExitReason) {
        self.children[i].process = None;
        if self.children[i].spec.restart == Restart::Temporary {
            self.children[i].gone = true;
        }
        let abnormal = !reason.is_normal_or_shutdown();
        let restart = match self.children[i].spec.restart {
            Restart::Permanent => true,
            Restart::Transient => abnormal,
            Restart::Temporary => false,
        };
        if !restart {
            return;
        }
        if !self.may_restart() {
            let why = format!("child `{}` ended ({reason:?})", self.children[i].spec.name);
            self.give_up(&why);
        }
        let (from, to) = match self.strategy {
            Strategy::OneForOne => (i, i + 1),
            Strategy::OneForAll => (0, self.children.len()),
            Strategy::RestForOne => (i, self.children.len()),
        };
        for j in (from..to).rev() {
            self.stop_child(j);
        }
        self.start_range(from, to);
    }

    /// Starts the children of `from..to` that are not running, in order.
    /// One that fails (a name its previous process still holds while it
    /// ends, say) is tried again, with those after it, 10 ms later, and
    /// each try counts against the intensity.
    fn start_range(&mut self, from: usize, to: usize) {
        for j in from..to {
            if self.children[j].process.is_some() || self.children[j].gone {
                continue;
            }
            if self.start_child(j).is_err() {
                // One retry covers every start that waits, one timer at a time.
                match &mut self.retry {
                    Some((f, t)) => {
                        *f = (*f).min(j);
                        *t = (*t).max(to);
                    }
                    None => {
                        self.retry = Some((j, to));
                        let me = self_id();
                        let nanos = 10_000_000;
                        // SAFETY: an empty message; plain values.
                        unsafe {
                            crate::abi::timer::send_after(me, RETRY_TAG, [].as_ptr(), 0, nanos)
                        };
                    }
                }
                return;
            }
        }
    }

    /// Answers the `which_children` calls that wait, unless a start waits
    /// for its retry.
    fn answer(&mut self) {
        if self.retry.is_some() {
            return;
        }
        for request in self.waiting.drain(..) {
            let children = self
                .children
                .iter()
                .filter(|c| !c.gone)
                .map(|c| Child {
                    name: c.spec.name.clone(),
                    process: c.process,
                })
                .collect();
            request.reply(children);
        }
    }

    /// The retry timer fired: try the pending starts again, if the
    /// intensity allows.
    fn retry(&mut self) {
        let Some((from, to)) = self.retry.take() else {
            return;
        };
        if !self.may_restart() {
            let names: Vec<&str> = self.children[from..to]
                .iter()
                .map(|c| c.spec.name.as_str())
                .collect();
            self.give_up(&format!("children {names:?} did not start"));
        }
        self.start_range(from, to);
    }

    /// Past the restart intensity: says so on stderr (as OTP's error
    /// logger reports `reached_max_restart_intensity`), stops every child,
    /// and ends with reason `shutdown`, which its links and monitors see
    /// (and a supervisor above it handles as OTP's does).
    fn give_up(&mut self, why: &str) -> ! {
        eprintln!(
            "supervisor {}: {why}; more than {} restarts within {:?} is past its restart intensity: it stops its children and ends with reason `shutdown`",
            self_id(),
            self.max_restarts,
            self.period
        );
        self.stop_all();
        process::exit("shutdown")
    }
}

/// The tag of the message that tells the supervisor to retry a start.
const RETRY_TAG: u64 = 2;

/// A message as the supervisor's loop sees it.
enum Incoming {
    Exit(u64, ExitReason),
    WhichChildren(Request<(), Vec<Child>>),
    Retry,
    Other,
}

/// The supervisor process: start the children, acknowledge, then watch.
fn run<S: Supervise>(start: Start<S::Arg>, _: Mailbox<()>) {
    process::trap_exits(true);
    let starter = Process::<Result<(), (String, String)>>::from_id(start.starter);
    let spec = S::init(start.arg);
    let mut state = State {
        strategy: spec.strategy,
        max_restarts: spec.max_restarts,
        period: spec.period,
        children: spec
            .children
            .into_iter()
            .map(|spec| Running {
                spec,
                process: None,
                gone: false,
            })
            .collect(),
        restarts: Vec::new(),
        retry: None,
        waiting: Vec::new(),
    };
    for i in 0..state.children.len() {
        if let Err(why) = state.start_child(i) {
            let name = state.children[i].spec.name.clone();
            state.stop_all();
            // The starter learns of the failure from `start_link`'s error;
            // unlinked first, it is not also ended by this exit (as OTP's
            // `init_fail`), while monitors still see the reason.
            Process::<()>::from_id(start.starter).unlink();
            starter.send_tagged(Err((name.clone(), why.clone())), start.ack);
            process::exit(&format!("child `{name}` did not start: {why}"));
        }
    }
    starter.send_tagged(Ok(()), start.ack);
    loop {
        let incoming = receive_with(
            &[],
            message_kinds::DATA | message_kinds::EXIT,
            None,
            |envelope, bytes| match MessageKind::from_raw(envelope.kind) {
                Some(MessageKind::Exit) => Incoming::Exit(envelope.sender, exit_reason(bytes)),
                _ if envelope.tag == RETRY_TAG && envelope.sender == self_id() => Incoming::Retry,
                _ => match decode_received(&envelope, bytes) {
                    Ok(request) => Incoming::WhichChildren(request),
                    Err(_) => Incoming::Other,
                },
            },
        );
        match incoming {
            Ok(Incoming::Exit(from, reason)) => state.exited(start.starter, from, reason),
            Ok(Incoming::WhichChildren(request)) => {
                // An exit signal is handled when this process next runs, so
                // one sent before the caller's request may sit behind it:
                // deal with every exit that has arrived first.
                while let Ok((from, reason)) = receive_with(
                    &[],
                    message_kinds::EXIT,
                    Some(Duration::ZERO),
                    |envelope, bytes| (envelope.sender, exit_reason(bytes)),
                ) {
                    state.exited(start.starter, from, reason);
                }
                // While a start waits for its retry, the answer waits too.
                state.waiting.push(request);
                state.answer();
            }
            Ok(Incoming::Retry) => {
                state.retry();
                state.answer();
            }
            Ok(Incoming::Other) | Err(_) => {}
        }
    }
}
