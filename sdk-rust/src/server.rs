//! Servers: a process that holds state and answers calls and casts, as
//! OTP's `gen_server` does, without a hand-written receive loop.
//!
//! Implement [`Server`] for the state, start it with [`start`] (or
//! [`start_link`], or [`Start`] for a name, a link, hibernation), and talk
//! to it through the [`ServerRef`] that returns, or by name through
//! [`Named`]:
//!
//! ```no_run
//! use vm_sdk::request::Request;
//! use vm_sdk::server::{self, Next, Server};
//!
//! struct Counter(u64);
//!
//! impl Server for Counter {
//!     type Arg = u64;
//!     type Call = ();
//!     type Reply = u64;
//!     type Cast = u64;
//!
//!     fn init(start: u64) -> Result<Self, vm_sdk::Failure> {
//!         Ok(Counter(start))
//!     }
//!     fn handle_call(&mut self, request: Request<(), u64>) -> Next {
//!         request.reply(self.0);
//!         Next::Continue
//!     }
//!     fn handle_cast(&mut self, add: u64) -> Next {
//!         self.0 += add;
//!         Next::Continue
//!     }
//! }
//!
//! let counter = server::start::<Counter>(40).unwrap();
//! counter.cast(2);
//! assert_eq!(counter.call(()).unwrap(), 42);
//! ```
//!
//! On the wire a call is a [`Request`] (a data message with tag 0) and a
//! cast a data message tagged [`CAST_TAG`], so a C or AssemblyScript
//! process calls a Rust server with its own SDK's request function. A data
//! message of any other tag is never taken for a call: it reaches
//! [`Server::handle_info`]. (A reply that comes after its call gave up
//! waiting never arrives at all: the caller forgets its tag, as OTP drops
//! it with the call's alias.)
//! Monitors' `down` messages, `exit` messages (when the server traps
//! exits) and any other data message reach [`Server::handle_info`]. An exit
//! signal from the process that started the server ends it, after
//! [`Server::terminate`], with the same reason, as in OTP; so does a
//! handler returning [`Next::Stop`].
//!
//! # Where it differs from OTP's `gen_server`
//!
//! - **A crash runs no `terminate`.** A panic in a handler (or in `init`)
//!   ends the process at once: WebAssembly guests are built with
//!   `panic = "abort"`, so nothing unwinds to a `terminate` that OTP would
//!   call with the crash's reason. The process ends with reason `trap` and
//!   the panic's message and place (`panicked at src/main.rs:12:5: …`),
//!   which links, monitors and supervisors see. Keep what must outlive a
//!   crash outside the server's memory (another process, a socket's peer),
//!   or end deliberately with [`Next::Stop`], which does run `terminate`.
//! - **`terminate` runs for a stop and for the starter's exit signal**,
//!   not for other exit signals a server that traps exits receives: those
//!   reach [`Server::handle_info`] as [`Info::Exit`], and the handler
//!   decides (OTP likewise only calls `terminate` for its parent's exit).
//! - **Calls are data messages**: tag 0 is a call, [`CAST_TAG`] a cast,
//!   and there is no `system` message protocol (no `sys:get_state`, no
//!   code change).

use crate::abi::{message_kinds, MessageKind};
use crate::ack::Acked;
use crate::error::{DecodeError, Error, Failure};
use crate::exit::{exit_reason, Down, Exit, ExitReason};
use crate::mailbox::{fresh_tag, receive_with};
use crate::message::decode_received;
use crate::process::{self, self_id, Process, Spawn};
use crate::request::{ReplyTo, Request, RequestError};
use crate::Mailbox;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::marker::PhantomData;
use std::time::Duration;

/// The tag a cast is sent with (a call is a [`Request`], tagged 0).
pub const CAST_TAG: u64 = 1;

/// What a server does after handling a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Wait for the next message.
    Continue,
    /// End: [`Server::terminate`] runs, then the process exits with this
    /// reason (an abnormal end, which links see; empty is a normal one, as
    /// [`Next::StopNormal`] says better).
    Stop(String),
    /// End normally (OTP's `{stop, normal, State}`): [`Server::terminate`]
    /// runs, then the process ends with reason `normal`, which ends no
    /// linked process.
    StopNormal,
    /// Wait for the next message hibernated (OTP's `{noreply, State,
    /// hibernate}`): the process gives up its instance and memory, keeping
    /// the state serialized, and wakes for the next message. Only a server
    /// started with [`start_hibernating`] (its state serializable) can; any
    /// other waits awake, as with [`Next::Continue`].
    Hibernate,
    /// Wait for the next message as the server waited for this one:
    /// hibernated if this message woke it from hibernation, awake
    /// otherwise. What the default [`Server::handle_cast`] and
    /// [`Server::handle_info`] return, so a message a server ignores (a
    /// stray `down`, say) does not keep a hibernated server awake.
    Same,
}

impl Next {
    /// [`Next::Stop`] with any error or text as the reason.
    pub fn stop(reason: impl std::fmt::Display) -> Next {
        Next::Stop(reason.to_string())
    }

    /// Stops with reason `shutdown: TERM`, OTP's `{stop, {shutdown, Term},
    /// State}`: an orderly end that says why, for which a supervisor does
    /// not restart a transient child (see [`ExitReason::is_shutdown`]).
    pub fn shutdown(term: impl std::fmt::Display) -> Next {
        Next::Stop(format!("shutdown: {term}"))
    }
}

/// A message for [`Server::handle_info`]: anything but a call or a cast.
#[derive(Debug)]
pub enum Info {
    /// A process the server monitors ended.
    Down(Down),
    /// A linked process ended (the server traps exits), or sent it an exit
    /// signal; one from the process that started it never arrives here.
    Exit(Exit),
    /// A data message that is neither a call nor a cast of this server's
    /// types; it keeps its bytes and the resources it carried.
    Other(DecodeError),
}

/// The behaviour of a server: its state and how it answers. Every message
/// type is serde-encoded, so callers can be in other processes, or other
/// languages.
pub trait Server: Sized {
    /// What the server is started with.
    type Arg: Serialize + DeserializeOwned;
    /// A call's body.
    type Call: Serialize + DeserializeOwned;
    /// A call's reply.
    type Reply: Serialize + DeserializeOwned;
    /// A cast: a message that gets no reply.
    type Cast: Serialize + DeserializeOwned;

    /// Builds the state. [`start`] returns once it has; an `Err` makes
    /// [`start`] fail with [`StartError::Init`] and ends the process
    /// normally (so a caller linked by [`start_link`] is not ended by it).
    ///
    /// # Errors
    /// Why the server cannot start.
    fn init(arg: Self::Arg) -> Result<Self, Failure>;

    /// Answers a call. Reply with [`Request::reply`], now or later: the
    /// request can be kept (or sent to another process) and answered from
    /// there, as OTP's `noreply` and `gen_server:reply` do.
    fn handle_call(&mut self, request: Request<Self::Call, Self::Reply>) -> Next;

    /// Handles a cast. By default, ignores it ([`Next::Same`]).
    fn handle_cast(&mut self, cast: Self::Cast) -> Next {
        let _ = cast;
        Next::Same
    }

    /// Handles a down, an exit or another message. By default, ignores it
    /// ([`Next::Same`]: a hibernated server it woke sleeps again).
    fn handle_info(&mut self, info: Info) -> Next {
        let _ = info;
        Next::Same
    }

    /// Runs before the server ends through [`Next::Stop`] or its starter's
    /// exit signal, with the reason it ends with.
    fn terminate(&mut self, reason: &ExitReason) {
        let _ = reason;
    }
}

/// A running server, by process: cheap to copy and serializable, so it can
/// be sent to other processes.
pub struct ServerRef<S: Server> {
    process: Process<Request<S::Call, S::Reply>>,
    _server: PhantomData<fn() -> S>,
}

impl<S: Server> Clone for ServerRef<S> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<S: Server> Copy for ServerRef<S> {}

impl<S: Server> PartialEq for ServerRef<S> {
    fn eq(&self, other: &Self) -> bool {
        self.id() == other.id()
    }
}

impl<S: Server> Eq for ServerRef<S> {}

impl<S: Server> std::hash::Hash for ServerRef<S> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.id().hash(state)
    }
}

impl<S: Server> std::fmt::Debug for ServerRef<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ServerRef({})", self.id())
    }
}

impl<S: Server> Serialize for ServerRef<S> {
    fn serialize<Z: serde::Serializer>(&self, s: Z) -> Result<Z::Ok, Z::Error> {
        self.id().serialize(s)
    }
}

impl<'de, S: Server> Deserialize<'de> for ServerRef<S> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        u64::deserialize(d).map(Self::from_id)
    }
}

impl<S: Server> ServerRef<S> {
    /// The server with process id `id`, expected to run `S`.
    pub fn from_id(id: u64) -> Self {
        ServerRef {
            process: Process::from_id(id),
            _server: PhantomData,
        }
    }

    /// The server registered under `name`, expected to run `S`.
    pub fn lookup(name: &str) -> Option<Self> {
        Process::<()>::lookup(name).map(|p| Self::from_id(p.id()))
    }

    /// The server's process id.
    pub fn id(&self) -> u64 {
        self.process.id()
    }

    /// The server's process, to link, monitor, kill or send it an exit
    /// signal.
    pub fn process(&self) -> Process<()> {
        Process::from_id(self.id())
    }

    /// Calls the server and waits for its reply, at most
    /// [`DEFAULT_CALL_TIMEOUT`] (OTP's five seconds), monitoring it
    /// meanwhile.
    ///
    /// # Errors
    /// [`RequestError::Down`] with its exit reason if the server ends first
    /// (`NoProc` if it had already), [`RequestError::NoReply`] if it drops
    /// the request unanswered, [`RequestError::Timeout`], or
    /// [`RequestError::Decode`].
    pub fn call(&self, call: S::Call) -> Result<S::Reply, RequestError> {
        self.process.request_timeout(call, DEFAULT_CALL_TIMEOUT)
    }

    /// [`call`](Self::call), giving up after `timeout`.
    ///
    /// # Errors
    /// As [`call`](Self::call).
    pub fn call_timeout(&self, call: S::Call, timeout: Duration) -> Result<S::Reply, RequestError> {
        self.process.request_timeout(call, timeout)
    }

    /// [`call`](Self::call) without a timeout: waits until the server
    /// replies, drops the request or ends.
    ///
    /// # Errors
    /// As [`call`](Self::call), but never [`RequestError::Timeout`].
    pub fn call_infinity(&self, call: S::Call) -> Result<S::Reply, RequestError> {
        self.process.request(call)
    }

    /// A typed call through a cast ([`Process::ask`]): `make` wraps a
    /// [`ReplyTo<R>`] in one of the server's casts, and
    /// [`Server::handle_cast`] answers through it, so each cast carries its
    /// own reply type. Waits at most [`DEFAULT_CALL_TIMEOUT`].
    ///
    /// # Errors
    /// As [`ServerRef::call`].
    pub fn ask<R: DeserializeOwned>(
        &self,
        make: impl FnOnce(ReplyTo<R>) -> S::Cast,
    ) -> Result<R, RequestError> {
        self.ask_timeout(make, DEFAULT_CALL_TIMEOUT)
    }

    /// [`ServerRef::ask`], giving up after `timeout`.
    ///
    /// # Errors
    /// As [`ServerRef::call`].
    pub fn ask_timeout<R: DeserializeOwned>(
        &self,
        make: impl FnOnce(ReplyTo<R>) -> S::Cast,
        timeout: Duration,
    ) -> Result<R, RequestError> {
        Process::<S::Cast>::from_id(self.id()).ask_tagged(make, CAST_TAG, Some(timeout))
    }

    /// Sends a cast; it is not an error if the server has ended.
    ///
    /// # Panics
    /// As [`Process::send`].
    pub fn cast(&self, cast: S::Cast) {
        Process::<S::Cast>::from_id(self.id()).send_tagged(cast, CAST_TAG);
    }
}

/// How long [`ServerRef::call`] and [`Named::call`] wait for a reply: five
/// seconds, as OTP's `gen_server:call`.
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// A server by its registered name, as OTP's `gen_server:call(Name, …)`:
/// each call or cast looks the name up, so it reaches whichever process
/// holds the name now (a server its supervisor restarted, too).
pub struct Named<S: Server> {
    name: String,
    _server: PhantomData<fn() -> S>,
}

impl<S: Server> Clone for Named<S> {
    fn clone(&self) -> Self {
        Named::new(&self.name)
    }
}

impl<S: Server> std::fmt::Debug for Named<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Named({:?})", self.name)
    }
}

impl<S: Server> PartialEq for Named<S> {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl<S: Server> Eq for Named<S> {}

impl<S: Server> Named<S> {
    /// The server registered as `name` (expected to run `S`), whenever it is
    /// called.
    pub fn new(name: &str) -> Self {
        Named {
            name: name.to_string(),
            _server: PhantomData,
        }
    }

    /// The name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The process that holds the name now, if one does.
    pub fn whereis(&self) -> Option<ServerRef<S>> {
        ServerRef::lookup(&self.name)
    }

    /// Calls whoever holds the name, as [`ServerRef::call`].
    ///
    /// # Errors
    /// [`RequestError::Down`] with [`ExitReason::NoProc`] when no process
    /// holds the name, else as [`ServerRef::call`].
    pub fn call(&self, call: S::Call) -> Result<S::Reply, RequestError> {
        self.call_timeout(call, DEFAULT_CALL_TIMEOUT)
    }

    /// [`call`](Self::call), giving up after `timeout`.
    ///
    /// # Errors
    /// As [`call`](Self::call).
    pub fn call_timeout(&self, call: S::Call, timeout: Duration) -> Result<S::Reply, RequestError> {
        match self.whereis() {
            Some(server) => server.call_timeout(call, timeout),
            None => Err(RequestError::Down(ExitReason::NoProc)),
        }
    }

    /// [`call`](Self::call) without a timeout.
    ///
    /// # Errors
    /// As [`call`](Self::call), but never [`RequestError::Timeout`].
    pub fn call_infinity(&self, call: S::Call) -> Result<S::Reply, RequestError> {
        match self.whereis() {
            Some(server) => server.call_infinity(call),
            None => Err(RequestError::Down(ExitReason::NoProc)),
        }
    }

    /// [`ServerRef::ask`] to whoever holds the name.
    ///
    /// # Errors
    /// As [`Named::call`].
    pub fn ask<R: DeserializeOwned>(
        &self,
        make: impl FnOnce(ReplyTo<R>) -> S::Cast,
    ) -> Result<R, RequestError> {
        match self.whereis() {
            Some(server) => server.ask(make),
            None => Err(RequestError::Down(ExitReason::NoProc)),
        }
    }

    /// Sends a cast to whoever holds the name; nothing if no one does.
    ///
    /// # Panics
    /// As [`Process::send`].
    pub fn cast(&self, cast: S::Cast) {
        if let Some(server) = self.whereis() {
            server.cast(cast);
        }
    }
}

/// Why [`start`] failed.
pub enum StartError<A> {
    /// The VM refused the spawn (`limit-reached`, say); `arg` is given
    /// back, with any resources in it still owned by the caller.
    Refused {
        /// Why.
        error: Error,
        /// The argument.
        arg: A,
    },
    /// [`Server::init`] failed with this text, or the name was taken.
    Init(String),
    /// The process ended before its `init` returned.
    Down(ExitReason),
}

impl<A> std::fmt::Display for StartError<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StartError::Refused { error, .. } => write!(f, "the VM refused the spawn: {error}"),
            StartError::Init(why) => write!(f, "the server's init failed: {why}"),
            StartError::Down(reason) => write!(f, "the server ended in its init: {reason:?}"),
        }
    }
}

impl<A> std::fmt::Debug for StartError<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StartError::Refused { error, .. } => f
                .debug_struct("Refused")
                .field("error", error)
                .finish_non_exhaustive(),
            StartError::Init(why) => f.debug_tuple("Init").field(why).finish(),
            StartError::Down(reason) => f.debug_tuple("Down").field(reason).finish(),
        }
    }
}

impl<A> std::error::Error for StartError<A> {}

/// How to start a server, as a builder: options by name rather than by
/// position, then [`Start::start`], which waits for its [`Server::init`].
///
/// ```no_run
/// # use vm_sdk::server::{self, Next, Server};
/// # struct Store;
/// # impl Server for Store {
/// #     type Arg = u32; type Call = (); type Reply = (); type Cast = ();
/// #     fn init(_: u32) -> Result<Self, vm_sdk::Failure> { Ok(Store) }
/// #     fn handle_call(&mut self, r: vm_sdk::request::Request<(), ()>) -> Next { r.reply(()); Next::Continue }
/// # }
/// let store = server::Start::<Store>::new(64).link().name("store").start().unwrap();
/// ```
pub struct Start<S: Server> {
    arg: S::Arg,
    link: bool,
    name: Option<String>,
    entry: fn(Begin<S::Arg>, Mailbox<()>),
}

impl<S: Server> std::fmt::Debug for Start<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Start")
            .field("link", &self.link)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl<S: Server> Start<S> {
    /// A server to start with `arg`: not linked, not registered, awake
    /// between messages.
    pub fn new(arg: S::Arg) -> Self {
        Start {
            arg,
            link: false,
            name: None,
            entry: run::<S>,
        }
    }

    /// Links it to the caller (for supervision).
    pub fn link(mut self) -> Self {
        self.link = true;
        self
    }

    /// Registers it as `name` before its `init` runs ([`StartError::Init`]
    /// if the name is taken).
    pub fn name(mut self, name: &str) -> Self {
        self.name = Some(name.to_string());
        self
    }

    /// Starts it and waits for its `init`.
    ///
    /// # Errors
    /// See [`StartError`].
    pub fn start(self) -> Result<ServerRef<S>, StartError<S::Arg>> {
        start_with::<S>(self.arg, self.link, self.name, self.entry)
    }
}

impl<S: Server + Serialize + DeserializeOwned> Start<S> {
    /// Lets it hibernate: its state is serializable, so returning
    /// [`Next::Hibernate`] gives up its instance and memory until the next
    /// message.
    pub fn hibernating(mut self) -> Self {
        self.entry = run_hibernating::<S>;
        self
    }
}

/// Starts a server and waits for its [`Server::init`].
///
/// # Errors
/// See [`StartError`].
pub fn start<S: Server>(arg: S::Arg) -> Result<ServerRef<S>, StartError<S::Arg>> {
    start_with::<S>(arg, false, None, run::<S>)
}

/// [`start`], linked to the caller (for supervision).
///
/// # Errors
/// See [`StartError`].
pub fn start_link<S: Server>(arg: S::Arg) -> Result<ServerRef<S>, StartError<S::Arg>> {
    start_with::<S>(arg, true, None, run::<S>)
}

/// [`start`], registering the server under `name` before its `init` runs
/// ([`StartError::Init`] if the name is taken); optionally linked.
///
/// # Errors
/// See [`StartError`].
#[deprecated(
    note = "use server::Start::new(arg).name(name) (and .link()), whose options say what they are"
)]
pub fn start_registered<S: Server>(
    name: &str,
    arg: S::Arg,
    link: bool,
) -> Result<ServerRef<S>, StartError<S::Arg>> {
    start_with::<S>(arg, link, Some(name.to_string()), run::<S>)
}

/// What a server process is started with.
#[derive(Serialize, Deserialize)]
struct Begin<A> {
    arg: A,
    starter: u64,
    ack: u64,
    name: Option<String>,
}

/// [`start`] or [`start_link`] (registered as `name`, if given) for a
/// server whose state is serializable, so that returning
/// [`Next::Hibernate`] hibernates it.
///
/// # Errors
/// See [`StartError`].
#[deprecated(note = "use server::Start::new(arg).hibernating() (and .link(), .name(name))")]
pub fn start_hibernating<S>(
    arg: S::Arg,
    link: bool,
    name: Option<&str>,
) -> Result<ServerRef<S>, StartError<S::Arg>>
where
    S: Server + Serialize + DeserializeOwned,
{
    start_with::<S>(arg, link, name.map(str::to_string), run_hibernating::<S>)
}

fn start_with<S: Server>(
    arg: S::Arg,
    link: bool,
    name: Option<String>,
    entry: fn(Begin<S::Arg>, Mailbox<()>),
) -> Result<ServerRef<S>, StartError<S::Arg>> {
    let ack = fresh_tag();
    let start = Begin {
        arg,
        starter: self_id(),
        ack,
        name,
    };
    let spawn = if link {
        Spawn::new().link()
    } else {
        Spawn::new()
    };
    let process = spawn.start(start, entry).map_err(|e| StartError::Refused {
        error: e.error,
        arg: e.capture.arg,
    })?;
    match crate::ack::wait_for_ack::<_, String>(&process, ack) {
        Acked::Ready => Ok(ServerRef::from_id(process.id())),
        Acked::Failed(why) | Acked::Unreadable(why) => Err(StartError::Init(why)),
        Acked::Down(reason) => Err(StartError::Down(reason)),
    }
}

/// What no message decodes as: a data message that is neither a call nor
/// a cast goes to [`Server::handle_info`] with its bytes.
#[derive(Deserialize)]
enum NotACall {}

/// A message as the server's loop sees it.
enum Incoming<S: Server> {
    Call(Request<S::Call, S::Reply>),
    Cast(S::Cast),
    Info(Info),
}

/// The server process: init, acknowledge, then the loop.
fn run<S: Server>(start: Begin<S::Arg>, _: Mailbox<()>) {
    let starter = start.starter;
    if let Some(state) = init::<S>(start) {
        serve(state, starter, None);
    }
}

/// [`run`] for [`start_hibernating`]: the same, able to hibernate.
fn run_hibernating<S: Server + Serialize + DeserializeOwned>(start: Begin<S::Arg>, _: Mailbox<()>) {
    let starter = start.starter;
    if let Some(state) = init::<S>(start) {
        serve(state, starter, Some(hibernate_server::<S>));
    }
}

/// Hibernates a server with its state; [`wake`] resumes it.
fn hibernate_server<S: Server + Serialize + DeserializeOwned>(state: S, starter: u64) -> ! {
    process::hibernate((state, starter), wake::<S>)
}

fn wake<S: Server + Serialize + DeserializeOwned>((state, starter): (S, u64), _: Mailbox<()>) {
    serve_from(state, starter, Some(hibernate_server::<S>), true);
}

/// Registers the server's name and runs its `init`, acknowledging to the
/// starter; the state, or `None` if it could not start.
fn init<S: Server>(start: Begin<S::Arg>) -> Option<S> {
    let starter = Process::<Result<(), String>>::from_id(start.starter);
    if let Some(name) = &start.name {
        if let Err(e) = Process::<()>::this().register(name) {
            starter.send_tagged(Err(format!("registering `{name}`: {e}")), start.ack);
            return None;
        }
    }
    match S::init(start.arg) {
        Ok(state) => {
            starter.send_tagged(Ok(()), start.ack);
            Some(state)
        }
        // A normal exit, so a caller linked by `start_link` learns why from
        // the error and is not ended by the link (as OTP 26 does).
        Err(failure) => {
            let why = failure.into_message();
            starter.send_tagged(Err(why), start.ack);
            None
        }
    }
}

/// The server's loop: each message to its handler, until one stops it (or
/// hibernates it, through `hibernate`).
fn serve<S: Server>(state: S, starter: u64, hibernate: Option<fn(S, u64) -> !>) {
    serve_from(state, starter, hibernate, false);
}

/// [`serve`], `asleep` if the server was woken from hibernation (so
/// [`Next::Same`] hibernates it again after the first message).
fn serve_from<S: Server>(
    mut state: S,
    starter: u64,
    hibernate: Option<fn(S, u64) -> !>,
    mut asleep: bool,
) {
    let kinds = message_kinds::DATA | message_kinds::DOWN | message_kinds::EXIT;
    loop {
        let incoming = receive_with(&[], kinds, None, |envelope, bytes| -> Incoming<S> {
            match MessageKind::from_raw(envelope.kind) {
                Some(MessageKind::Down) => Incoming::Info(Info::Down(Down {
                    monitor: envelope.tag,
                    process: envelope.sender,
                    reason: exit_reason(bytes),
                })),
                Some(MessageKind::Exit) => Incoming::Info(Info::Exit(Exit {
                    process: envelope.sender,
                    reason: exit_reason(bytes),
                })),
                _ if envelope.tag == CAST_TAG => match decode_received(&envelope, bytes) {
                    Ok(cast) => Incoming::Cast(cast),
                    Err(e) => Incoming::Info(Info::Other(e)),
                },
                _ if envelope.tag == 0 => match decode_received(&envelope, bytes) {
                    Ok(request) => Incoming::Call(request),
                    Err(e) => Incoming::Info(Info::Other(e)),
                },
                // Neither a call (tag 0) nor a cast: a reply that came after
                // its call gave up waiting, say. It reaches handle_info as
                // it is, never taken for a call.
                _ => match decode_received::<NotACall>(&envelope, bytes) {
                    Ok(never) => match never {},
                    Err(e) => Incoming::Info(Info::Other(e)),
                },
            }
        });
        let next = match incoming {
            Ok(Incoming::Call(request)) => state.handle_call(request),
            Ok(Incoming::Cast(cast)) => state.handle_cast(cast),
            // The starter's exit signal ends the server with its reason.
            Ok(Incoming::Info(Info::Exit(exit))) if exit.process == starter => {
                state.terminate(&exit.reason);
                match exit.reason {
                    ExitReason::Normal => return,
                    ExitReason::Exit(text) | ExitReason::Trap(text) => process::exit(&text),
                    ExitReason::Killed => process::exit("killed"),
                    ExitReason::NoProc => process::exit("noproc"),
                    ExitReason::NoConnection => process::exit("noconnection"),
                }
            }
            Ok(Incoming::Info(info)) => state.handle_info(info),
            // Without a timeout, a receive fails only for a message that
            // could not be read; there is nothing left to hand over.
            Err(_) => Next::Same,
        };
        let next = match next {
            Next::Same if asleep => Next::Hibernate,
            Next::Same => Next::Continue,
            other => other,
        };
        if let (Next::Hibernate, Some(hibernate)) = (&next, hibernate) {
            hibernate(state, starter);
        }
        asleep = false;
        let next = match next {
            Next::StopNormal => Next::Stop(String::new()),
            other => other,
        };
        if let Next::Stop(reason) = next {
            let why = if reason.is_empty() {
                ExitReason::Normal
            } else {
                ExitReason::Exit(reason.clone())
            };
            state.terminate(&why);
            if reason.is_empty() {
                return;
            }
            process::exit(&reason);
        }
    }
}
