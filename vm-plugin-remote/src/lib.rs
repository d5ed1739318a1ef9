//! Serves a [`vm_plugin::Plugin`] to VMs over NATS request/reply, so the
//! same plugin code runs in-process, as a shared library, or in a process
//! of its own, on another machine, in any number of copies, and can crash
//! without touching a VM.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let client = async_nats::connect("nats://127.0.0.1:4222").await?;
//! let server = vm_plugin_remote::serve(client, kv_native::plugin(), Default::default()).await?;
//! server.wait().await;
//! # Ok(()) }
//! ```
//!
//! # The protocol
//!
//! A plugin `plugin:NAME@MAJOR.MINOR.PATCH` is served on subjects under
//! `PREFIX.plugin.NAME.MAJOR` (`PREFIX` is `vm` unless told otherwise):
//!
//! | subject | who listens | request | reply |
//! | --- | --- | --- | --- |
//! | `….wit` | the servers of each minor version, one of each answers | empty | the plugin's WIT text; header `Vm-Server` |
//! | `….MINOR.call` | the servers of that minor, one answers | a call (below) | its outcome (below) |
//! | `….server.SERVER` | that server | a call, from a caller it served before | its outcome |
//! | `….ended` | every server | (a message, no reply) header `Vm-Caller` | — |
//!
//! Servers of several minor versions may run side by side: a VM gathers
//! the WIT of each and uses the newest (its calls go to that minor's
//! servers).
//!
//! A call carries the headers `Vm-Function` (`INTERFACE.FUNCTION`, as in
//! the WIT) and `Vm-Caller` (1 to 128 bytes naming the calling process's
//! state: every call of one process carries the same, and no other process
//! has it), and its arguments in the value encoding of [`vm_plugin::wire`],
//! typed by the function's parameters. The reply carries `Vm-Server` (the
//! server's id: a caller sends its later calls to `….server.SERVER`, where
//! its state is) and `Vm-Outcome`:
//!
//! - `ok`: the payload is the function's result in the value encoding
//!   (empty if it has none). A WIT `result`'s error is an ordinary result.
//! - `failed`: the function failed; the payload is why (UTF-8).
//! - `refused`: the server did not run the call; the payload is why: an
//!   unknown function, arguments that are not its parameters, too many
//!   callers or calls at once.
//!
//! Each caller has its own state, made by the plugin on its first call
//! and kept until `….ended` names it (a VM sends that when the process's
//! state goes, as it drops a local plugin's), or until it has gone unused
//! for [`Options::idle`] (a VM that crashed says nothing). A caller named
//! by `ended` makes no state again (the last 65,536 are remembered): a
//! call of its still on the way is refused. `ended` sent as a request is
//! answered once the state is gone. A result too large for one NATS
//! message (headers included) is `failed`, saying so. A server holds at most
//! [`Options::max_callers`] states and runs at most
//! [`Options::max_in_flight`] calls at once; a call beyond either is
//! refused. NATS's `max_payload` bounds every message.

#![warn(missing_docs)]

use async_nats::HeaderMap;
use futures_util::{FutureExt, StreamExt};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use vm_plugin::{wire, Handler, Plugin, State};

/// The header naming a call's function.
pub const FUNCTION: &str = "Vm-Function";
/// The header naming a call's caller.
pub const CALLER: &str = "Vm-Caller";
/// The header naming the server that answered.
pub const SERVER: &str = "Vm-Server";
/// The header giving a call's outcome: `ok`, `failed` or `refused`.
pub const OUTCOME: &str = "Vm-Outcome";
/// The longest caller name.
pub const MAX_CALLER: usize = 128;

/// How a server serves.
#[derive(Debug, Clone)]
pub struct Options {
    /// What the subjects start with (`vm`).
    pub prefix: String,
    /// The most callers whose states it holds at once.
    pub max_callers: usize,
    /// The most calls it runs at once.
    pub max_in_flight: usize,
    /// How long a caller's state is kept unused: a VM that ends without
    /// saying so (it crashed, or its `ended` was lost) frees its callers'
    /// states this long after their last call.
    pub idle: std::time::Duration,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            prefix: "vm".into(),
            max_callers: 10_000,
            max_in_flight: 256,
            idle: std::time::Duration::from_secs(3600),
        }
    }
}

/// Why a plugin cannot be served.
#[derive(Debug)]
pub enum ServeError {
    /// Its WIT names no `plugin:NAME@MAJOR.MINOR.PATCH` package.
    NotAPlugin(String),
    /// NATS refused a subscription.
    Nats(String),
}

impl std::fmt::Display for ServeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ServeError::NotAPlugin(why) => write!(f, "not a plugin's WIT: {why}"),
            ServeError::Nats(e) => write!(f, "NATS: {e}"),
        }
    }
}

impl std::error::Error for ServeError {}

/// A plugin's name, major and minor version, from its WIT's
/// `package plugin:NAME@MAJOR.MINOR.PATCH;`.
pub fn package_of(wit: &str) -> Result<(String, u32, u32), String> {
    let package = wit
        .lines()
        .map(str::trim)
        .find_map(|l| l.strip_prefix("package "))
        .ok_or("no `package` line")?;
    let package = package.trim_end_matches(';').trim();
    let (name, version) = package
        .strip_prefix("plugin:")
        .and_then(|p| p.split_once('@'))
        .ok_or_else(|| format!("`{package}` is not plugin:NAME@VERSION"))?;
    let numbers: Vec<u32> = version
        .split('.')
        .map(|n| n.parse().ok())
        .collect::<Option<_>>()
        .filter(|n: &Vec<u32>| n.len() == 3)
        .ok_or_else(|| format!("`{version}` is not MAJOR.MINOR.PATCH"))?;
    let (major, minor) = (numbers[0], numbers[1]);
    let valid = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    if !valid(name) {
        return Err(format!("`{name}` is not a plugin's name"));
    }
    Ok((name.to_owned(), major, minor))
}

/// The subjects of plugin `name`, major `major`, under `prefix`.
#[derive(Debug, Clone)]
pub struct Subjects {
    base: String,
}

impl Subjects {
    /// Those of plugin `name`@`major` under `prefix`.
    pub fn new(prefix: &str, name: &str, major: u32) -> Subjects {
        Subjects {
            base: format!("{prefix}.plugin.{name}.{major}"),
        }
    }
    /// Where its WIT is asked for.
    pub fn wit(&self) -> String {
        format!("{}.wit", self.base)
    }
    /// Where a first call to a server of minor version `minor` goes.
    pub fn call(&self, minor: u32) -> String {
        format!("{}.{minor}.call", self.base)
    }
    /// Where a caller's later calls go, to the server with its state.
    pub fn call_on(&self, server: &str) -> String {
        format!("{}.server.{server}", self.base)
    }
    /// Where a caller's end is told.
    pub fn ended(&self) -> String {
        format!("{}.ended", self.base)
    }
}

/// A plugin being served; dropping it stops taking calls (those taken
/// still answer).
pub struct Server {
    id: String,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Server {
    /// This server's id, as its replies give it.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Serves until the connection closes.
    pub async fn wait(mut self) {
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }

    /// Stops taking calls: once this returns its subscriptions are
    /// closed on the client (flush the client to have the server know).
    /// Calls it took already still run and answer.
    pub async fn stop(mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// What the server's tasks share.
struct Shared {
    plugin: Plugin,
    id: String,
    options: Options,
    states: Mutex<Callers>,
    in_flight: Arc<tokio::sync::Semaphore>,
    /// The most one message carries (NATS's `max_payload`).
    max_payload: usize,
}

/// The callers' states, and the callers that ended lately: a call of
/// theirs still on its way when their end was told makes no state again.
#[derive(Default)]
struct Callers {
    states: HashMap<String, (Arc<tokio::sync::Mutex<State>>, std::time::Instant)>,
    ended: std::collections::HashSet<String>,
    ended_order: std::collections::VecDeque<String>,
}

/// How many ended callers are remembered.
const REMEMBERED: usize = 65_536;

impl Callers {
    fn end(&mut self, caller: String) {
        self.states.remove(&caller);
        if self.ended.insert(caller.clone()) {
            self.ended_order.push_back(caller);
            if self.ended_order.len() > REMEMBERED {
                if let Some(old) = self.ended_order.pop_front() {
                    self.ended.remove(&old);
                }
            }
        }
    }

    /// Drops the states unused since `before`.
    fn expire(&mut self, before: std::time::Instant) {
        self.states.retain(|_, (_, used)| *used >= before);
    }
}

/// Serves `plugin` through `client` until the returned [`Server`] is
/// dropped (or the connection closes).
pub async fn serve(
    client: async_nats::Client,
    plugin: Plugin,
    options: Options,
) -> Result<Server, ServeError> {
    let (name, major, minor) = package_of(plugin.wit()).map_err(ServeError::NotAPlugin)?;
    let subjects = Subjects::new(&options.prefix, &name, major);
    let id = {
        // Unique enough among a plugin's servers: the inbox NATS made.
        let inbox = client.new_inbox();
        inbox.rsplit('.').next().unwrap_or("0").to_owned()
    };
    // One of each minor's servers answers.
    let queue = format!("{}.{name}.{major}.{minor}", options.prefix);
    let subscribe = |subject: String, queued: bool| {
        let (client, queue) = (client.clone(), queue.clone());
        async move {
            let s = if queued {
                client.queue_subscribe(subject, queue).await
            } else {
                client.subscribe(subject).await
            };
            s.map_err(|e| ServeError::Nats(e.to_string()))
        }
    };
    let wits = subscribe(subjects.wit(), true).await?;
    let calls = subscribe(subjects.call(minor), true).await?;
    let direct = subscribe(subjects.call_on(&id), false).await?;
    let ended = subscribe(subjects.ended(), false).await?;
    client
        .flush()
        .await
        .map_err(|e| ServeError::Nats(e.to_string()))?;
    let shared = Arc::new(Shared {
        max_payload: client.server_info().max_payload,
        in_flight: Arc::new(tokio::sync::Semaphore::new(options.max_in_flight)),
        plugin,
        id: id.clone(),
        options,
        states: Mutex::default(),
    });
    let task = tokio::spawn(async move {
        enum Incoming {
            Wit(async_nats::Message),
            Call(async_nats::Message),
            Ended(async_nats::Message),
        }
        let incoming = futures_util::stream::select_all([
            wits.map(Incoming::Wit).boxed(),
            futures_util::stream::select(calls, direct)
                .map(Incoming::Call)
                .boxed(),
            ended.map(Incoming::Ended).boxed(),
        ]);
        let mut incoming = incoming;
        let sweeping = shared.clone();
        let _sweeper = Sweeper(tokio::spawn(async move {
            let every = sweeping.options.idle / 4;
            let mut ticks = tokio::time::interval(every.max(std::time::Duration::from_millis(10)));
            loop {
                ticks.tick().await;
                if let Some(before) = std::time::Instant::now().checked_sub(sweeping.options.idle) {
                    sweeping.states.lock().unwrap().expire(before);
                }
            }
        }));
        while let Some(m) = incoming.next().await {
            match m {
                Incoming::Wit(m) => {
                    if let Some(reply) = m.reply {
                        let mut headers = HeaderMap::new();
                        headers.insert(SERVER, shared.id.as_str());
                        let wit = shared.plugin.wit().to_owned();
                        let _ = client
                            .publish_with_headers(reply, headers, wit.into())
                            .await;
                    }
                }
                Incoming::Ended(m) => {
                    if let Some(caller) = header(&m, CALLER) {
                        shared.states.lock().unwrap().end(caller);
                    }
                    // Asked as a request, it answers once the state is
                    // gone (a notice from a VM is not).
                    if let Some(reply) = m.reply {
                        let _ = client.publish(reply, "".into()).await;
                    }
                }
                Incoming::Call(m) => {
                    let Some(reply) = m.reply.clone() else {
                        continue;
                    };
                    let (client, shared) = (client.clone(), shared.clone());
                    // Each call in a task of its own: a slow one holds up
                    // no other caller's.
                    tokio::spawn(async move {
                        let (mut outcome, mut payload) = answer(&shared, &m).await;
                        // What NATS counts: headers and payload.
                        let size = payload.len() + 128 + shared.id.len();
                        if size > shared.max_payload {
                            outcome = "failed";
                            payload = format!(
                                "its result of {} bytes is over what one NATS message carries ({} bytes)",
                                payload.len(),
                                shared.max_payload
                            )
                            .into_bytes();
                        }
                        let mut headers = HeaderMap::new();
                        headers.insert(SERVER, shared.id.as_str());
                        headers.insert(OUTCOME, outcome);
                        let _ = client
                            .publish_with_headers(reply, headers, payload.into())
                            .await;
                    });
                }
            }
        }
    });
    Ok(Server {
        id,
        task: Some(task),
    })
}

/// Stops the sweep with the loop that started it.
struct Sweeper(tokio::task::JoinHandle<()>);

impl Drop for Sweeper {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn header(m: &async_nats::Message, name: &str) -> Option<String> {
    let value = m.headers.as_ref()?.get(name)?.as_str().to_owned();
    Some(value)
}

/// Runs one call: its outcome and payload.
async fn answer(shared: &Shared, m: &async_nats::Message) -> (&'static str, Vec<u8>) {
    let refused = |why: String| ("refused", why.into_bytes());
    let Ok(_permit) = shared.in_flight.clone().try_acquire_owned() else {
        return refused(format!(
            "the server runs {} calls at once already",
            shared.options.max_in_flight
        ));
    };
    let Some(name) = header(m, FUNCTION) else {
        return refused(format!("a call without {FUNCTION}"));
    };
    let caller = match header(m, CALLER) {
        Some(c) if (1..=MAX_CALLER).contains(&c.len()) => c,
        _ => {
            return refused(format!(
                "a call without a {CALLER} of 1 to {MAX_CALLER} bytes"
            ))
        }
    };
    let Some(function) = shared.plugin.functions().iter().find(|f| f.name == name) else {
        return refused(format!("the plugin has no function `{name}`"));
    };
    let args = match wire::decode_all(&m.payload, &function.params) {
        Ok(args) => args,
        Err(e) => return refused(format!("arguments that are not `{name}`'s: {e}")),
    };
    let state = {
        let mut callers = shared.states.lock().unwrap();
        if callers.ended.contains(&caller) {
            return refused(format!("caller `{caller}` has ended"));
        }
        if !callers.states.contains_key(&caller)
            && callers.states.len() >= shared.options.max_callers
        {
            return refused(format!(
                "the server holds the states of {} callers already",
                shared.options.max_callers
            ));
        }
        let now = std::time::Instant::now();
        let (state, used) = callers.states.entry(caller).or_insert_with(|| {
            (
                Arc::new(tokio::sync::Mutex::new(shared.plugin.new_state())),
                now,
            )
        });
        *used = now;
        state.clone()
    };
    // One call of a caller at a time, as in a VM.
    let mut state = state.lock().await;
    let run = async {
        match &function.handler {
            Handler::Sync(f) => f(&mut state, args),
            Handler::Async(f) => f(&mut state, args).await,
        }
    };
    // A plugin that panics fails the call, and the server goes on.
    let outcome = std::panic::AssertUnwindSafe(run)
        .catch_unwind()
        .await
        .unwrap_or_else(|panic| {
            let text = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            Err(format!("`{name}` panicked: {text}"))
        });
    match outcome {
        Ok(value) => {
            let encoded = match (&function.result, value) {
                (Some(t), Some(v)) => wire::encode_all(&[v], std::slice::from_ref(t)),
                (None, None) => Ok(Vec::new()),
                _ => Err(wire::WireError::NotOfType("its result".into())),
            };
            match encoded {
                Ok(bytes) => ("ok", bytes),
                Err(e) => (
                    "failed",
                    format!("`{name}` returned a value of another type than its WIT's: {e}")
                        .into_bytes(),
                ),
            }
        }
        Err(why) => ("failed", why.into_bytes()),
    }
}
