//! Spawning on another node (ABI 1.8 `node.spawn-on`). The module goes by
//! its SHA-256 through a JetStream object store (`PREFIX_modules`, one
//! object per module, named by the digest in hexadecimal, chunked, so any
//! size crosses), and the ask is a NATS request on
//! `PREFIX.spawn.TO_NAME.TO_SLOT.FROM_NAME` (the sender in the subject, as
//! for frames, and the spawner's slot held by that name), answered with
//! the new process's id or why not.
//!
//! A node starts nothing unless told to: `accept_spawn_from` names the
//! nodes it takes spawns from, `accept_modules` the modules (by digest),
//! `*` any. The check comes before the module is fetched; the bytes
//! fetched are checked against their digest; the embedder
//! ([`Spawner`]) compiles and starts them under its own limits.

use crate::bindings::Bindings;
use crate::peers::Peers;
use crate::transport::Subjects;
use crate::Config;
use async_nats::jetstream::{self, object_store};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::sync::{mpsc, oneshot};
use vm_abi::ErrorCode;
use vm_kernel::remote::{RemoteSpawn, SpawnFuture, SpawnRefused};

/// The embedder's side: starts a process another node asked for.
pub trait Spawner: Send + Sync + 'static {
    /// Compiles `request.module` (its digest checked) and starts the
    /// process; its id, or why not. `request.module` is empty when
    /// [`Spawner::knows`] said the module is loaded here already.
    fn spawn(&self, request: RemoteSpawn) -> SpawnFuture;

    /// Whether the module with this SHA-256 is loaded here, so that a
    /// spawn of it fetches nothing.
    fn knows(&self, digest: &[u8; 32]) -> bool;

    /// Charges `bytes`, a module about to be fetched, to the embedder's
    /// bounds for as long as the returned value lives (until the module is
    /// handed to [`Spawner::spawn`], which charges it as it compiles it),
    /// or refuses.
    fn hold(&self, bytes: usize) -> Result<Box<dyn std::any::Any + Send>, SpawnRefused>;
}

/// The largest module fetched for another node (the embedder's own
/// bounds apply to compiling it as well).
const MAX_MODULE: usize = 256 << 20;

/// How long a node waits for another's answer, fetching and compiling
/// included; the answering node gives up on an ask as old.
const ANSWER_WITHIN: Duration = Duration::from_secs(30);

/// What an ask adds to its capture and entry at most.
const ASK_OVERHEAD: usize = 128;

/// How many asks from other nodes a node answers at once (each may fetch
/// and compile a module).
const ANSWERING: usize = 4;

/// An ask, as it crosses (postcard).
#[derive(Debug, Serialize, Deserialize)]
struct SpawnAsk {
    digest: [u8; 32],
    entry: String,
    arg: u32,
    capture: Vec<u8>,
    spawner: u64,
    link: bool,
}

/// The answer, as it crosses (postcard).
#[derive(Debug, Serialize, Deserialize)]
enum SpawnAnswer {
    Started(u64),
    Refused { code: u8, text: String },
}

/// An ask from a process of this node, with where its answer goes.
pub(crate) type Ask = (u16, RemoteSpawn, oneshot::Sender<Result<u64, SpawnRefused>>);

fn hex(digest: &[u8; 32]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn refused(code: ErrorCode, text: impl Into<String>) -> SpawnRefused {
    SpawnRefused {
        code,
        text: text.into(),
    }
}

async fn store(
    js: &jetstream::Context,
    bucket: &str,
) -> Result<object_store::ObjectStore, SpawnRefused> {
    let unreachable = |e: String| {
        refused(
            ErrorCode::Unreachable,
            format!("the cluster's module store ({bucket}): {e}"),
        )
    };
    let store = js
        .create_object_store(object_store::Config {
            bucket: bucket.to_string(),
            ..Default::default()
        })
        .await
        .map_err(|e| unreachable(crate::streams::not_created(&format!("OBJ_{bucket}"), e)))?;
    let subjects = [format!("$O.{bucket}.C.>"), format!("$O.{bucket}.M.>")];
    crate::streams::check(js, &format!("OBJ_{bucket}"), &subjects)
        .await
        .map_err(unreachable)?;
    Ok(store)
}

/// Serves this node's asks, each in a task of its own.
pub(crate) async fn ask_others(
    client: async_nats::Client,
    subjects: Subjects,
    name: String,
    bindings: Arc<Bindings>,
    peers: Arc<std::sync::Mutex<Peers>>,
    mut asks: mpsc::UnboundedReceiver<Ask>,
) {
    let js = jetstream::new(client.clone());
    let bucket = format!("{}_modules", subjects.prefix);
    let stored = Arc::new(Stored::default());
    while let Some((node, request, answer)) = asks.recv().await {
        if let Err(missing) = check_plugins(&vm_kernel::sync::lock(&peers), node, &request) {
            let _ = answer.send(Err(missing));
            continue;
        }
        let (client, js, bucket, subjects, name, bindings, stored) = (
            client.clone(),
            js.clone(),
            bucket.clone(),
            subjects.clone(),
            name.clone(),
            bindings.clone(),
            stored.clone(),
        );
        tokio::spawn(async move {
            let asked = async {
                let to = match bindings.name_of(node).await {
                    Ok(Some(to)) if !to.is_empty() => to,
                    Ok(_) => {
                        return Err(refused(
                            ErrorCode::NotFound,
                            format!("no node holds slot {node}"),
                        ))
                    }
                    Err(e) => return Err(refused(ErrorCode::Unreachable, e)),
                };
                let subject = subjects.spawn(&to, node, &name);
                ask(&client, &js, &bucket, &stored, subject, node, request).await
            };
            let _ = answer.send(asked.await);
        });
    }
}

/// Refuses at once, naming them, to ship a module to a node whose
/// heartbeat announces none of some plugins it imports (and names the
/// nodes that have them). A node not heard yet is asked all the same: it
/// checks the module itself when it loads it.
fn check_plugins(peers: &Peers, node: u16, request: &RemoteSpawn) -> Result<(), SpawnRefused> {
    let Some((name, offered)) = peers.offers(node) else {
        return Ok(());
    };
    let lacking: Vec<String> = request
        .plugins
        .iter()
        .filter(|need| !offered.iter().any(|a| need.met_by(&a.name, a.version)))
        .map(|need| {
            let elsewhere = peers.offering(need);
            if elsewhere.is_empty() {
                need.to_string()
            } else {
                format!("{need} (node {} has it)", elsewhere.join(", node "))
            }
        })
        .collect();
    if lacking.is_empty() {
        return Ok(());
    }
    let offers = if offered.is_empty() {
        "none".to_owned()
    } else {
        let list: Vec<String> = offered.iter().map(|a| a.to_string()).collect();
        list.join(", ")
    };
    Err(refused(
        ErrorCode::ModuleIncompatible,
        format!(
            "node `{name}` lacks plugin {} that the module imports (it offers: {offers})",
            lacking.join(", plugin ")
        ),
    ))
}

/// What this node put in the module store, so a module is stored once.
#[derive(Default)]
struct Stored {
    store: tokio::sync::OnceCell<object_store::ObjectStore>,
    modules: std::sync::Mutex<std::collections::HashSet<[u8; 32]>>,
}

async fn ask(
    client: &async_nats::Client,
    js: &jetstream::Context,
    bucket: &str,
    stored: &Stored,
    subject: String,
    node: u16,
    request: RemoteSpawn,
) -> Result<u64, SpawnRefused> {
    // What one NATS message carries: the capture crosses in the ask.
    let room = client
        .server_info()
        .max_payload
        .saturating_sub(ASK_OVERHEAD);
    if request.capture.len() + request.entry.len() > room {
        return Err(refused(
            ErrorCode::LimitReached,
            format!(
                "a capture of {} bytes is over what one NATS message to node {node} carries ({room} bytes; the server's max_payload)",
                request.capture.len()
            ),
        ));
    }
    let known = vm_kernel::sync::lock(&stored.modules).contains(&request.digest);
    if !known {
        let modules = stored.store.get_or_try_init(|| store(js, bucket)).await?;
        let name = hex(&request.digest);
        if modules.info(&name).await.is_err() {
            modules
                .put(name.as_str(), &mut &request.module[..])
                .await
                .map_err(|e| {
                    refused(
                        ErrorCode::Unreachable,
                        format!("storing the module for node {node}: {e}"),
                    )
                })?;
        }
        vm_kernel::sync::lock(&stored.modules).insert(request.digest);
    }
    let ask = SpawnAsk {
        digest: request.digest,
        entry: request.entry,
        arg: request.arg,
        capture: request.capture,
        spawner: request.spawner,
        link: request.link,
    };
    let payload = postcard::to_stdvec(&ask).expect("an ask encodes");
    let request = async_nats::Request::new()
        .payload(payload.into())
        .timeout(Some(ANSWER_WITHIN));
    let message = match client.send_request(subject, request).await {
        Err(e) if e.kind() == async_nats::RequestErrorKind::NoResponders => {
            return Err(refused(
                ErrorCode::NotFound,
                format!("node {node} is not up"),
            ))
        }
        Err(e) if e.kind() == async_nats::RequestErrorKind::TimedOut => {
            return Err(refused(
                ErrorCode::Unreachable,
                format!("node {node} did not answer within {ANSWER_WITHIN:?}"),
            ))
        }
        Err(e) => {
            return Err(refused(
                ErrorCode::Unreachable,
                format!("asking node {node}: {e}"),
            ))
        }
        Ok(m) => m,
    };
    match postcard::from_bytes::<SpawnAnswer>(&message.payload) {
        Ok(SpawnAnswer::Started(pid)) if vm_kernel::remote::node_of(pid) == node => Ok(pid),
        Ok(SpawnAnswer::Refused { code, text }) => Err(refused(
            ErrorCode::from_raw(code).unwrap_or(ErrorCode::Io),
            format!("node {node}: {text}"),
        )),
        _ => Err(refused(
            ErrorCode::Io,
            format!("node {node} answered something that is not an answer to a spawn"),
        )),
    }
}

/// Answers the asks other nodes send this one.
pub(crate) async fn answer_others(
    client: async_nats::Client,
    config: Arc<Config>,
    mut asks: async_nats::Subscriber,
    spawner: Option<Arc<dyn Spawner>>,
    bindings: Arc<Bindings>,
) {
    use futures_util::StreamExt;
    let js = jetstream::new(client.clone());
    let answering = Arc::new(tokio::sync::Semaphore::new(ANSWERING));
    while let Some(message) = asks.next().await {
        // Answered only to the asking node's own inbox: an ask must not
        // make this node publish where its asker chose.
        let from = Subjects::sender(&message.subject).to_owned();
        let Some(reply) = message
            .reply
            .clone()
            .filter(|r| r.starts_with(&format!("_INBOX_{from}.")))
        else {
            continue;
        };
        let arrived = tokio::time::Instant::now();
        // Bounded: asks beyond the bound wait here, in NATS's buffer.
        let Ok(permit) = answering.clone().acquire_owned().await else {
            return;
        };
        let (client, js, config, spawner, bindings) = (
            client.clone(),
            js.clone(),
            config.clone(),
            spawner.clone(),
            bindings.clone(),
        );
        tokio::spawn(async move {
            let _permit = permit;
            if arrived.elapsed() >= ANSWER_WITHIN {
                // Its asker gave up: a process started now would be no one's.
                return;
            }
            let answer =
                match answer(&js, &config, spawner, &from, &bindings, &message.payload).await {
                    Ok(pid) => SpawnAnswer::Started(pid),
                    Err(r) => SpawnAnswer::Refused {
                        code: r.code as u8,
                        text: r.text,
                    },
                };
            let bytes = postcard::to_stdvec(&answer).expect("an answer encodes");
            let _ = client.publish(reply, bytes.into()).await;
        });
    }
}

async fn answer(
    js: &jetstream::Context,
    config: &Config,
    spawner: Option<Arc<dyn Spawner>>,
    name: &str,
    bindings: &Bindings,
    payload: &[u8],
) -> Result<u64, SpawnRefused> {
    let ask: SpawnAsk = postcard::from_bytes(payload)
        .map_err(|e| refused(ErrorCode::InvalidArgument, format!("a malformed ask: {e}")))?;
    let slot = vm_kernel::remote::node_of(ask.spawner);
    let holds = bindings
        .holds(name, slot)
        .await
        .map_err(|e| refused(ErrorCode::Unreachable, e))?;
    if !holds {
        return Err(refused(
            ErrorCode::InvalidArgument,
            format!(
                "node `{name}` asked for process {} of another node",
                ask.spawner
            ),
        ));
    }
    let accepts = |list: &[String], what: &str| list.iter().any(|a| a == "*" || a == what);
    if !accepts(&config.accept_spawn_from, name) {
        return Err(refused(
            ErrorCode::PermissionDenied,
            format!(
                "node `{}` takes no spawns from node `{name}` (start it with --accept-spawn-from {name}, or '*')",
                config.name
            ),
        ));
    }
    let digest = hex(&ask.digest);
    if !accepts(&config.accept_modules, &digest) {
        return Err(refused(
            ErrorCode::PermissionDenied,
            format!(
                "node `{}` does not run module {digest} (start it with --accept-module {digest}, or '*')",
                config.name
            ),
        ));
    }
    let Some(spawner) = spawner else {
        return Err(refused(
            ErrorCode::PermissionDenied,
            "this node runs no modules",
        ));
    };
    // The plugins it needs are checked as it loads.
    let mut request = RemoteSpawn {
        module: Arc::from(&[][..]),
        digest: ask.digest,
        entry: ask.entry,
        arg: ask.arg,
        capture: ask.capture,
        spawner: ask.spawner,
        link: ask.link,
        plugins: Vec::new(),
    };
    if spawner.knows(&ask.digest) {
        // Loaded here already: nothing to fetch (the spawner finds it by
        // its digest).
        return spawner.spawn(request).await;
    }
    let modules = store(js, &format!("{}_modules", config.prefix)).await?;
    let mut object = modules.get(&digest).await.map_err(|e| {
        refused(
            ErrorCode::NotFound,
            format!("module {digest} is not in the cluster's store: {e}"),
        )
    })?;
    let too_large = || {
        refused(
            ErrorCode::LimitReached,
            format!("module {digest} is larger than a node fetches ({MAX_MODULE} bytes)"),
        )
    };
    let size = object.info().size;
    if size > MAX_MODULE {
        return Err(too_large());
    }
    // Charged before it is read, and read no further than the size the
    // store gives (an object longer than it says is refused below).
    let held = spawner.hold(size)?;
    let mut bytes = Vec::with_capacity(size);
    (&mut object)
        .take(size as u64 + 1)
        .read_to_end(&mut bytes)
        .await
        .map_err(|e| {
            refused(
                ErrorCode::Unreachable,
                format!("fetching module {digest}: {e}"),
            )
        })?;
    if bytes.len() != size {
        let _ = modules.delete(&digest).await;
        return Err(refused(
            ErrorCode::ModuleInvalid,
            format!("the stored module {digest} is not the {size} bytes its entry says (deleted; ask again)"),
        ));
    }
    use sha2::Digest;
    let got: [u8; 32] = sha2::Sha256::digest(&bytes).into();
    if got != ask.digest {
        // Stored wrong (or by a hostile client): gone, so the next ask
        // stores it again.
        let _ = modules.delete(&digest).await;
        return Err(refused(
            ErrorCode::ModuleInvalid,
            format!("the stored module {digest} did not match its digest (deleted; ask again)"),
        ));
    }
    request.module = bytes.into();
    // From here the load charges the bytes as it compiles them.
    drop(held);
    spawner.spawn(request).await
}
