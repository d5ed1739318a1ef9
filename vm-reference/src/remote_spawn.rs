//! Processes started for `node.spawn-on` (ABI 1.8): those another node
//! asks this one for (through [`Spawns`], the cluster's
//! [`vm_cluster::Spawner`]), and those a process asks of its own node.
//! Either way the process runs under this node's limits and network
//! rules, as one it spawned itself.

use crate::budget::Budget;
use crate::mailbox::{Message, Payload};
use crate::module::Module;
use crate::node::{Node, SpawnRequest, LINK_COST};
use crate::process::Start;
use crate::sync::lock;
use crate::LoadError;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, Weak};
use vm_abi::{ErrorCode, MessageKind};
use vm_kernel::remote::{RemoteSpawn, SpawnFuture, SpawnRefused};

/// The cluster's way to start processes here.
pub(crate) struct Spawns {
    node: Weak<Node>,
    /// The modules other nodes spawned from last, kept loaded (a spawn
    /// of one fetches and compiles nothing), the newest at the back.
    recent: Arc<Mutex<VecDeque<Module>>>,
}

/// How many modules shipped from other nodes a node keeps loaded.
const RECENT: usize = 16;

impl Spawns {
    /// Starts the processes other nodes ask `node` for.
    pub fn new(node: &Arc<Node>) -> Spawns {
        Spawns {
            node: Arc::downgrade(node),
            recent: Arc::default(),
        }
    }
}

impl vm_cluster::Spawner for Spawns {
    fn knows(&self, digest: &[u8; 32]) -> bool {
        self.node
            .upgrade()
            .is_some_and(|node| node.modules.get(digest).is_some())
    }

    fn hold(&self, bytes: usize) -> Result<Box<dyn std::any::Any + Send>, SpawnRefused> {
        let node = self
            .node
            .upgrade()
            .ok_or_else(|| refused(ErrorCode::Unreachable, "the VM is stopping"))?;
        // A budget of its own: the VM-wide bound, and --max-mailbox per
        // module (which its compiling needs anyway).
        match node.new_budget().charge(bytes) {
            Ok(charge) => Ok(Box::new(charge)),
            Err(r) => Err(refused(
                ErrorCode::LimitReached,
                r.explain(&format!("fetching a module of {bytes} bytes")),
            )),
        }
    }

    fn spawn(&self, request: RemoteSpawn) -> SpawnFuture {
        let node = self.node.upgrade();
        let recent = self.recent.clone();
        Box::pin(async move {
            let node = node.ok_or_else(|| refused(ErrorCode::Unreachable, "the VM is stopping"))?;
            let payer = node.new_budget();
            if request.module.is_empty() {
                // Loaded here already (`knows` said so): no compiling.
                let module = node.modules.get(&request.digest).ok_or_else(|| {
                    refused(
                        ErrorCode::Unreachable,
                        "the module was unloaded here while it was asked for; ask again",
                    )
                })?;
                return start(&node, &payer, module, &request);
            }
            let name = format!(
                "module {} from process {}",
                request.digest[..6]
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<String>(),
                request.spawner
            );
            let module = node
                .load_module(&payer, name, request.module.clone())
                .await
                .map_err(|e| {
                    let code = match e {
                        LoadError::Incompatible { .. } => ErrorCode::ModuleIncompatible,
                        LoadError::Refused(_) => ErrorCode::LimitReached,
                        _ => ErrorCode::ModuleInvalid,
                    };
                    refused(code, e.to_string())
                })?;
            {
                let mut recent = lock(&recent);
                if recent.len() >= RECENT {
                    recent.pop_front();
                }
                recent.push_back(module.clone());
            }
            start(&node, &payer, module, &request)
        })
    }
}

fn refused(code: ErrorCode, text: impl Into<String>) -> SpawnRefused {
    SpawnRefused {
        code,
        text: text.into(),
    }
}

/// Starts `request`'s process from `module` here, its capture and link
/// charged to `payer`; its id.
pub(crate) fn start(
    node: &Arc<Node>,
    payer: &Arc<Budget>,
    module: Module,
    request: &RemoteSpawn,
) -> Result<u64, SpawnRefused> {
    let Some((export, takes_arg)) = module.entry(&request.entry) else {
        return Err(refused(
            ErrorCode::InvalidArgument,
            format!(
                "module `{}` has no export `{}` of type () -> () or (i32) -> ()",
                module.name(),
                request.entry
            ),
        ));
    };
    if !node.reserve() {
        return Err(refused(
            ErrorCode::LimitReached,
            format!(
                "{} processes are alive, the VM's limit (raise it with --max-processes)",
                node.config.max_processes
            ),
        ));
    }
    let mut init = Message::new(
        MessageKind::Init,
        request.spawner,
        0,
        Payload::from_slice(&request.capture),
        Vec::new(),
    );
    let charged = payer.charge(init.cost()).and_then(|capture| {
        let link = match request.link {
            true => Some((request.spawner, payer.charge(LINK_COST)?)),
            false => None,
        };
        Ok((capture, link))
    });
    let link = match charged {
        Ok((capture, link)) => {
            init.charge = capture;
            link
        }
        Err(r) => {
            node.unreserve();
            let what = format!("spawning with a capture of {} bytes", request.capture.len());
            return Err(refused(ErrorCode::LimitReached, r.explain(&what)));
        }
    };
    Ok(node.spawn(SpawnRequest {
        module,
        start: Start::Export {
            export,
            takes_arg,
            arg: request.arg,
        },
        capture: Some(init),
        link,
        args: Vec::new(),
        done: None,
    }))
}
