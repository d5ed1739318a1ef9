//! Plugins served by another process over NATS (`vm run --remote-plugin
//! kv@1 --cluster nats://…`; the protocol is `vm_plugin_remote`'s). The
//! VM asks a server for the plugin's WIT as it is built, and makes it a
//! [`vm_plugin::Plugin`] whose functions each send one request: so the
//! guest's imports are checked against that WIT before the guest runs,
//! exactly as for a local plugin, and a call's failure ends the calling
//! process alone, with a reason naming the function.
//!
//! A process's state of the plugin is a session: a caller name no other
//! process has, and the server that holds its state on the other side
//! (its first call goes to any server, the later ones to that one). When
//! the process's state goes, the servers are told (`ended`), so they free
//! theirs.

use crate::plugin::{native_type, PluginError};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use vm_abi::plugin::Package;
use vm_cluster::async_nats;
use vm_plugin::{wire, Function, Handler, Outcome, Plugin, State, Type};
use vm_plugin_remote::{Subjects, CALLER, FUNCTION, OUTCOME, SERVER};

/// A remote plugin to use: its name and major version, and how long a
/// call may take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemotePlugin {
    /// The plugin's name (`kv`).
    pub name: String,
    /// Its major version.
    pub major: u32,
    /// How long one call may take before the calling process ends.
    pub deadline: Duration,
    /// The most calls of it in flight at once, from all processes: a call
    /// past it ends its caller.
    pub max_in_flight: usize,
}

impl RemotePlugin {
    /// The default deadline of a call.
    pub const DEADLINE: Duration = Duration::from_secs(5);
    /// The default bound on calls in flight.
    pub const MAX_IN_FLIGHT: usize = 1024;

    /// `NAME@MAJOR` (`kv@1`), with the default deadline.
    pub fn parse(spec: &str) -> Result<RemotePlugin, String> {
        let bad = || format!("`{spec}` is not NAME@MAJOR (kv@1)");
        let (name, major) = spec.split_once('@').ok_or_else(bad)?;
        let major = major.parse().map_err(|_| bad())?;
        let valid = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !valid {
            return Err(bad());
        }
        Ok(RemotePlugin {
            name: name.to_owned(),
            major,
            deadline: RemotePlugin::DEADLINE,
            max_in_flight: RemotePlugin::MAX_IN_FLIGHT,
        })
    }
}

/// What every session of a plugin shares: the connection, and what names
/// its callers.
struct Link {
    connection: vm_cluster::Connection,
    subjects: Subjects,
    label: String,
    /// Unique among this connection's callers; the connection's own inbox
    /// makes the names unique among VMs.
    next_caller: AtomicU64,
    prefix: String,
    deadline: Duration,
    /// The minor version whose servers it calls (the newest any answered
    /// with).
    minor: u32,
    /// Calls in flight, bounded.
    in_flight: tokio::sync::Semaphore,
    max_in_flight: usize,
}

/// A process's state of a remote plugin.
struct Session {
    link: Arc<Link>,
    caller: String,
    /// The server that holds this caller's state, once one answered.
    server: Arc<Mutex<Option<String>>>,
}

impl Drop for Session {
    fn drop(&mut self) {
        // Its servers free its state; sent on the connection's runtime,
        // since a process's state goes wherever it ends.
        let client = self.link.connection.client().clone();
        let (subject, caller) = (self.link.subjects.ended(), self.caller.clone());
        self.link.connection.runtime().spawn(async move {
            let mut headers = async_nats::HeaderMap::new();
            headers.insert(CALLER, caller.as_str());
            let _ = client
                .publish_with_headers(subject, headers, "".into())
                .await;
        });
    }
}

/// Connects to the cluster's NATS server, asks a server of `wanted` for
/// its WIT, and makes the plugin whose functions call it; named as it is
/// loaded (`kv@1 (remote)`).
pub(crate) fn load(
    wanted: &RemotePlugin,
    cluster: Option<&vm_cluster::Config>,
) -> Result<(String, Plugin), PluginError> {
    let source = format!("{}@{} (remote)", wanted.name, wanted.major);
    let fail = |problem: String, hint: &str| PluginError {
        plugin: source.clone(),
        problem,
        hint: hint.to_owned(),
    };
    let Some(config) = cluster else {
        return Err(fail(
            "needs a NATS server to reach its servers through".into(),
            "give --cluster nats://HOST:PORT",
        ));
    };
    let connection = vm_cluster::Connection::open(config, "plugins")
        .map_err(|e| fail(e.to_string(), "check --cluster and its credentials"))?;
    let subjects = Subjects::new(&config.prefix, &wanted.name, wanted.major);
    let client = connection.client().clone();
    let asked = {
        // On the connection's own runtime: the VM may be built inside
        // another (a test's).
        let (tx, rx) = std::sync::mpsc::channel();
        let (subject, deadline) = (subjects.wit(), wanted.deadline);
        connection.runtime().spawn(async move {
            let _ = tx.send(gather(&client, subject, deadline).await);
        });
        rx.recv()
            .map_err(|_| fail("the NATS connection's thread ended".into(), ""))?
    };
    let wits = match asked {
        Ok(wits) if !wits.is_empty() => wits,
        Ok(_) => {
            return Err(fail(
                format!("no server serves it (no one answers on {})", subjects.wit()),
                "start one (vm_plugin_remote::serve), or drop --remote-plugin",
            ))
        }
        Err(e) => return Err(fail(format!("its servers did not say what it is: {e}"), "")),
    };
    // The newest minor its servers serve: calls go to that minor's.
    // An answer that is no WIT of this plugin is passed over (a faulty
    // server must not keep every VM from starting), and said.
    let mut newest: Option<(Package, String)> = None;
    let mut wrong = Vec::new();
    for wit in wits {
        let package = match Package::parse(&source, &wit) {
            Ok(p) if p.name == wanted.name && p.version.0 == wanted.major => p,
            Ok(p) => {
                wrong.push(format!("one serves {} instead", p.package_name()));
                continue;
            }
            Err(e) => {
                wrong.push(format!("one's WIT is not a plugin package: {e:#}"));
                continue;
            }
        };
        if let Some(problem) = too_deep(&package) {
            wrong.push(problem);
            continue;
        }
        if newest
            .as_ref()
            .is_none_or(|(p, _)| package.version > p.version)
        {
            newest = Some((package, wit));
        }
    }
    for w in &wrong {
        tracing::warn!("plugin {source}: a server passed over: {w}");
    }
    let Some((package, wit)) = newest else {
        return Err(fail(
            format!(
                "no server of it answered with its WIT: {}",
                wrong.join("; ")
            ),
            "a fault in its servers",
        ));
    };
    let link = Arc::new(Link {
        minor: package.version.1,
        in_flight: tokio::sync::Semaphore::new(wanted.max_in_flight),
        max_in_flight: wanted.max_in_flight,
        subjects,
        label: format!("plugin:{}", wanted.name),
        next_caller: AtomicU64::new(0),
        prefix: {
            let inbox = connection.client().new_inbox();
            inbox.rsplit('.').next().unwrap_or("vm").to_owned()
        },
        deadline: wanted.deadline,
        connection,
    });
    let mut functions = Vec::new();
    for iface in &package.interfaces {
        for f in &iface.functions {
            let params: Vec<Type> = f.param_types.iter().map(|(_, t)| native_type(t)).collect();
            let result = f.result_type.as_ref().map(native_type);
            functions.push(Function {
                name: format!("{}.{}", iface.name, f.name),
                handler: handler(
                    &link,
                    format!("{}.{}", iface.name, f.name),
                    params.clone(),
                    result.clone(),
                ),
                params,
                result,
            });
        }
    }
    let sessions = link.clone();
    let new_state = move || -> State {
        let n = sessions.next_caller.fetch_add(1, Ordering::Relaxed);
        Box::new(Session {
            caller: format!("{}-{n}", sessions.prefix),
            link: sessions.clone(),
            server: Arc::default(),
        })
    };
    Ok((source, Plugin::from_functions(wit, new_state, functions)))
}

/// How long, after a server of one minor answered, the VM waits for the
/// servers of others: one answer of each minor comes at once from servers
/// that are up.
const GATHER_AFTER: Duration = Duration::from_millis(100);

/// The WIT texts the servers of each minor answer on `subject` with: none
/// when NATS says no one listens; else the first within `deadline`, the
/// others within [`GATHER_AFTER`] of the one before (asked again, each
/// minor's servers answering once).
async fn gather(
    client: &async_nats::Client,
    subject: String,
    deadline: Duration,
) -> Result<Vec<String>, String> {
    use futures_util::StreamExt;
    let text = |payload: &[u8]| {
        String::from_utf8(payload.to_vec())
            .map_err(|_| "a server sent a WIT that is not UTF-8".to_string())
    };
    // A request first: NATS answers "no responders" to one.
    let request = async_nats::Request::new().timeout(Some(deadline));
    let first = match client.send_request(subject.clone(), request).await {
        Ok(reply) => text(&reply.payload)?,
        Err(e) if e.kind() == async_nats::RequestErrorKind::NoResponders => return Ok(vec![]),
        Err(e) => return Err(e.to_string()),
    };
    // Then every minor's answer, to an inbox of its own.
    let inbox = client.new_inbox();
    let mut replies = client
        .subscribe(inbox.clone())
        .await
        .map_err(|e| e.to_string())?;
    client
        .publish_with_reply(subject, inbox, "".into())
        .await
        .map_err(|e| e.to_string())?;
    let mut wits = Vec::new();
    // A server answered at once already: if none does now, it went.
    let mut wait = deadline.min(GATHER_AFTER * 10);
    while let Ok(Some(reply)) = tokio::time::timeout(wait, replies.next()).await {
        wits.push(text(&reply.payload)?);
        // Bounded: a flood of answers is not read forever.
        if wits.len() >= 64 {
            break;
        }
        wait = GATHER_AFTER;
    }
    if wits.is_empty() {
        // Its servers went as it asked: the first answer stands.
        wits.push(first);
    }
    Ok(wits)
}

/// One function's body: a request to the server with the caller's state.
fn handler(link: &Arc<Link>, name: String, params: Vec<Type>, result: Option<Type>) -> Handler {
    let link = link.clone();
    Handler::Async(Box::new(move |state: &mut State, args| {
        let session = state
            .downcast_mut::<Session>()
            .expect("a remote plugin's state is a session");
        let (caller, server) = (session.caller.clone(), session.server.clone());
        let (link, name, params, result) =
            (link.clone(), name.clone(), params.clone(), result.clone());
        Box::pin(async move {
            call(
                &link,
                &name,
                &caller,
                &server,
                &params,
                result.as_ref(),
                args,
            )
            .await
        })
    }))
}

async fn call(
    link: &Link,
    name: &str,
    caller: &str,
    server: &Mutex<Option<String>>,
    params: &[Type],
    result: Option<&Type>,
    args: Vec<vm_plugin::Value>,
) -> Outcome {
    let client = link.connection.client();
    let Ok(_in_flight) = link.in_flight.try_acquire() else {
        return Err(format!(
            "{} calls to it are in flight already (--remote-plugin-max-in-flight)",
            link.max_in_flight
        ));
    };
    let bytes = wire::encode_all(&args, params).map_err(|e| format!("its arguments: {e}"))?;
    // NATS counts the headers too, and closes a connection that sends
    // more than `max_payload`: every process's calls would go with it.
    let limit = client.server_info().max_payload;
    let headers_size = 64 + FUNCTION.len() + name.len() + CALLER.len() + caller.len();
    if bytes.len() + headers_size > limit {
        return Err(format!(
            "arguments of {} bytes are over what one NATS message carries ({limit} bytes, headers included)",
            bytes.len()
        ));
    }
    let sticky = server.lock().expect("not poisoned").clone();
    let subject = match &sticky {
        Some(s) => link.subjects.call_on(s),
        None => link.subjects.call(link.minor),
    };
    let mut headers = async_nats::HeaderMap::new();
    headers.insert(FUNCTION, name);
    headers.insert(CALLER, caller);
    let request = async_nats::Request::new()
        .headers(headers)
        .payload(bytes.into())
        .timeout(Some(link.deadline));
    // The whole call within the deadline: the client's own timeout starts
    // only once the request is queued, which waits while NATS is away.
    let asked = tokio::time::timeout(link.deadline, client.send_request(subject, request)).await;
    let Ok(asked) = asked else {
        return Err(format!("timeout after {:?}", link.deadline));
    };
    let reply = match asked {
        Ok(reply) => reply,
        Err(e) => {
            use async_nats::RequestErrorKind as K;
            return Err(match (e.kind(), &sticky) {
                (K::NoResponders, None) => "no server serves it".to_owned(),
                (K::NoResponders, Some(s)) => {
                    format!("server {s}, which held this process's state, is gone")
                }
                (K::TimedOut, _) => format!("timeout after {:?}", link.deadline),
                _ => format!("{e}"),
            });
        }
    };
    let header = |h: &str| {
        reply
            .headers
            .as_ref()
            .and_then(|m| m.get(h))
            .map(|v| v.as_str().to_owned())
    };
    match header(SERVER) {
        Some(s) if valid_server(&s) => *server.lock().expect("not poisoned") = Some(s),
        // Without it, the next call could reach a server without this
        // process's state.
        _ => {
            return Err(format!(
                "its server's reply names no server ({SERVER}: 1 to 64 letters and digits)"
            ))
        }
    }
    let text = || {
        String::from_utf8_lossy(&reply.payload)
            .chars()
            .take(1024)
            .collect::<String>()
    };
    match header(OUTCOME).as_deref() {
        Some("ok") => match result {
            Some(t) => wire::decode(&reply.payload, t)
                .map(Some)
                .map_err(|e| format!("its server's reply is not a {}: {e}", t.wit())),
            None if reply.payload.is_empty() => Ok(None),
            None => Err("its server's reply has a value where none belongs".into()),
        },
        Some("failed") => Err(text()),
        Some("refused") => Err(format!("its server refused the call: {}", text())),
        _ => Err(format!(
            "its server's reply is no answer to a call ({} {})",
            link.label, name
        )),
    }
}

/// The deepest a remote plugin's types may nest: a value is decoded,
/// lowered and dropped by recursion on the calling process's stack.
const MAX_DEPTH: usize = 32;

/// Why `package`'s types nest too deep for a remote plugin, if they do.
fn too_deep(package: &Package) -> Option<String> {
    fn depth(t: &Type, limit: usize) -> usize {
        if limit == 0 {
            return 1;
        }
        let deepest = |ts: Vec<&Type>| {
            ts.into_iter()
                .map(|t| depth(t, limit - 1))
                .max()
                .unwrap_or(0)
        };
        1 + match t {
            Type::List(t) | Type::Option(t) => depth(t, limit - 1),
            Type::Tuple(ts) => deepest(ts.iter().collect()),
            Type::Record(fs) => deepest(fs.iter().map(|(_, t)| t).collect()),
            Type::Variant(cs) => deepest(cs.iter().filter_map(|(_, t)| t.as_ref()).collect()),
            Type::Result(ok, err) => deepest(ok.iter().chain(err.iter()).map(|t| &**t).collect()),
            _ => 0,
        }
    }
    for iface in &package.interfaces {
        for f in &iface.functions {
            let types = f
                .param_types
                .iter()
                .map(|(_, t)| t)
                .chain(f.result_type.iter());
            for t in types {
                if depth(&native_type(t), MAX_DEPTH + 1) > MAX_DEPTH {
                    return Some(format!(
                        "`{}.{}` nests types more than {MAX_DEPTH} deep",
                        iface.name, f.name
                    ));
                }
            }
        }
    }
    None
}

/// Whether `s` can be a subject's last token (a server's id).
fn valid_server(s: &str) -> bool {
    (1..=64).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric())
}
