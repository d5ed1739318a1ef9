//! [`VmBuilder`]: a VM's settings and plugins, checked and loaded into a
//! running [`Vm`](crate::Vm).

use crate::config::{Config, Output};
use crate::engine::{engine, explain_engine_error, MIN_STACK};
use crate::net_policy::NetRule;
use crate::node::Node;
use crate::resolver::Resolver;
use crate::Vm;
use crate::{host, native_library, plugin, process};
use crate::{PluginError, VmError};
use std::path::Path;
use std::sync::Arc;
use wasmtime::{Engine, Linker};

/// Builds a [`Vm`]; every setting has a safe default.
#[derive(Clone, Default)]
pub struct VmBuilder {
    config: Config,
    /// Plugins to load: the name each is loaded under, and its bytes (or
    /// the path to read them from).
    plugins: Vec<(String, PluginSource)>,
    /// The cluster to join, if any: without one the VM touches no network
    /// of its own.
    cluster: Option<vm_cluster::Config>,
}

#[derive(Clone)]
enum PluginSource {
    Bytes(Vec<u8>),
    File(std::path::PathBuf),
    Native(Arc<vm_plugin::Plugin>),
    Library(std::path::PathBuf),
    Remote(crate::RemotePlugin),
}

/// A plugin read and ready to check: wasm bytes, or a native plugin
/// (`remote`: its functions send requests to a server).
enum ReadPlugin {
    Wasm(Vec<u8>),
    Native(Arc<vm_plugin::Plugin>, bool),
}

impl VmBuilder {
    /// Linear-memory limit per process in bytes (default 64 MiB). A process
    /// that grows past it traps with a reason naming the limit.
    pub fn max_memory(mut self, bytes: usize) -> Self {
        self.config.max_memory = bytes;
        self
    }

    /// Stack limit per process for its wasm code in bytes (default
    /// 256 KiB). A process whose calls nest deeper traps with a reason naming
    /// the limit; the VM and other processes carry on.
    pub fn max_stack(mut self, bytes: usize) -> Self {
        self.config.max_stack = bytes;
        self
    }

    /// What the host may hold for one process, in bytes (default 64 MiB):
    /// its unreceived messages and exit signals (each message counts its
    /// bytes, about 100 bytes of bookkeeping and about 100 per handle it
    /// carries), and what it asked for: timers it set until they fire,
    /// captures of children until they start, links, monitors, names it
    /// registered, handles, modules it loaded, its hibernation state. A send
    /// that would pass the receiver's limit still succeeds, but its message
    /// is dropped and the receiver ends with a trap reason naming the limit,
    /// as Erlang's `max_heap_size` ends a process; a process's own request
    /// past its limit is refused with `limit-reached`.
    pub fn max_mailbox(mut self, bytes: usize) -> Self {
        self.config.max_mailbox = bytes;
        self
    }

    /// What the host may hold for all processes together, in bytes
    /// (default: a quarter of the machine's memory): the sum of every
    /// process's charges (see [`VmBuilder::max_mailbox`]). The process whose
    /// request or send would pass it is refused with `limit-reached` (or
    /// ends, where the call has no error to return); the others go on.
    pub fn max_host_memory(mut self, bytes: usize) -> Self {
        self.config.max_host_memory = bytes;
        self
    }

    /// How many socket handles (listeners, streams, halves) one process may
    /// hold (default 1,024); past it, `accept`, `connect`, `listen`, `split`
    /// and taking a socket from a message fail with `limit-reached`.
    pub fn max_sockets(mut self, n: u32) -> Self {
        self.config.max_sockets = n;
        self
    }

    /// How many processes may be alive at once, hibernated ones included
    /// (default 10,000).
    pub fn max_processes(mut self, n: u32) -> Self {
        self.config.max_processes = n;
        self
    }

    /// How many processes may have an instance at once (default: as many
    /// as [`VmBuilder::max_processes`]): the instance pool's size, which
    /// `vm.max_map_count` must allow. Hibernated processes have no
    /// instance, so a VM holding many of them needs a pool only for those
    /// awake. A process that would start past it ends with a
    /// `limit-reached` reason naming `--max-instances`; a hibernated one
    /// woken while the pool is full waits for a slot, up to
    /// 5 seconds, before it ends so.
    pub fn max_instances(mut self, n: u32) -> Self {
        self.config.max_instances = Some(n);
        self
    }

    /// Worker threads running processes (default 0: one per core). A chain
    /// of messages stays on one worker at any count; more workers run more
    /// busy processes in parallel.
    pub fn threads(mut self, n: usize) -> Self {
        self.config.threads = n;
        self
    }

    /// Grants network access to addresses the rule matches (see [`NetRule`]);
    /// without any, the network is denied.
    pub fn allow_net(mut self, rule: NetRule) -> Self {
        self.config.net.rules.push(rule);
        self
    }

    /// Looks up the host names processes use with `resolver` instead of the
    /// system's. Only names the [`NetRule`]s permit are ever looked up.
    pub fn resolver(mut self, resolver: impl Resolver) -> Self {
        self.config.resolver = Arc::new(resolver);
        self
    }

    /// Collects all guests' stdout and stderr in memory instead of printing
    /// them; read them with [`Vm::captured_stdout`] and [`Vm::captured_stderr`].
    pub fn capture_output(mut self) -> Self {
        let pipe = || wasmtime_wasi::p2::pipe::MemoryOutputPipe::new(64 << 20);
        self.config.output = Output::Capture {
            stdout: pipe(),
            stderr: pipe(),
        };
        self
    }

    /// Drops what guests write to stdout and stderr, and the VM's crash
    /// reports (for an embedder that watches outcomes, or a long run whose
    /// output no one reads).
    pub fn discard_output(mut self) -> Self {
        self.config.output = Output::Discard;
        self
    }

    /// Loads a plugin (a core module carrying its WIT, see `abi/README.md`)
    /// whose functions guests may import; `name` names it in errors.
    /// Checked when the VM is built.
    pub fn plugin(mut self, name: &str, bytes: impl Into<Vec<u8>>) -> Self {
        self.plugins
            .push((name.to_string(), PluginSource::Bytes(bytes.into())));
        self
    }

    /// Loads a plugin from a file, named by its file name (`vm run
    /// --plugin`). Read and checked when the VM is built.
    pub fn plugin_file(mut self, path: impl AsRef<Path>) -> Self {
        let path = path.as_ref();
        let name = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        self.plugins
            .push((name, PluginSource::File(path.to_path_buf())));
        self
    }

    /// Runs a native plugin in-process: Rust functions (sync or async) with
    /// per-process state, declared by the plugin's WIT (see the `vm-plugin`
    /// crate). When the VM is built, each function is checked against the
    /// WIT: a missing or mistyped one fails [`VmBuilder::build`] naming it.
    /// Native code runs outside the sandbox; a panic in it ends the calling
    /// process alone, with the panic's message.
    pub fn native_plugin(mut self, plugin: vm_plugin::Plugin) -> Self {
        let name = vm_abi::plugin::Package::parse("native plugin", plugin.wit())
            .map(|p| format!("{} (in-process)", p.package_name()))
            .unwrap_or_else(|_| "in-process plugin".into());
        self.plugins
            .push((name, PluginSource::Native(Arc::new(plugin))));
        self
    }

    /// Uses a plugin served by other processes over NATS (`vm run
    /// --remote-plugin kv@1`; see `vm_plugin_remote`): the VM asks one of
    /// its servers for its WIT when it is built (so [`VmBuilder::build`]
    /// fails if none answers), checks guests' imports against it as for
    /// any plugin, and sends each call as one request, which ends the
    /// calling process if it fails or takes longer than the plugin's
    /// deadline. Needs [`VmBuilder::cluster`]: the plugin is reached
    /// through that NATS server.
    pub fn remote_plugin(mut self, plugin: crate::RemotePlugin) -> Self {
        let name = format!("{}@{} (remote)", plugin.name, plugin.major);
        self.plugins.push((name, PluginSource::Remote(plugin)));
        self
    }

    /// Loads a native plugin from a shared library through its versioned C
    /// ABI (`vm run --native-plugin`; see the `vm-plugin` crate and
    /// `sdk-c/include/vm_native_plugin.h`). The library runs in the VM's
    /// process, outside the sandbox: load only code you trust.
    pub fn native_plugin_file(mut self, path: impl AsRef<Path>) -> Self {
        let path = path.as_ref();
        self.plugins.push((
            path.display().to_string(),
            PluginSource::Library(path.to_path_buf()),
        ));
        self
    }

    /// How many plugin instances may live at once, over all processes
    /// (default: as many as processes, when plugins are loaded). A call
    /// that would make one more fails, ending the calling process with a
    /// `limit-reached` reason naming `--max-plugin-instances`.
    pub fn max_plugin_instances(mut self, n: u32) -> Self {
        self.config.max_plugin_instances = Some(n);
        self
    }

    /// Joins the cluster `config` names when the VM is built (`vm run
    /// --cluster`): its processes reach those of the other nodes, and a
    /// node's loss fires links and monitors with `noconnection`.
    pub fn cluster(mut self, config: vm_cluster::Config) -> Self {
        self.cluster = Some(config);
        self
    }

    /// Creates the VM.
    ///
    /// # Errors
    /// Fails when wasmtime rejects the configuration (for example a pool
    /// larger than the address space allows).
    pub fn build(self) -> Result<Vm, VmError> {
        let config = self.config;
        let plugins = read_plugins(self.plugins, self.cluster.as_ref())?;
        let plugin_count = plugins.len();
        let components = plugins.iter().any(|(_, p)| match p {
            // A component in the text format is one too.
            ReadPlugin::Wasm(bytes) => {
                wat::parse_bytes(bytes).is_ok_and(|b| wasmparser::Parser::is_component(&b))
            }
            ReadPlugin::Native(..) => false,
        });
        let native = plugins
            .iter()
            .any(|(_, p)| matches!(p, ReadPlugin::Native(..)));
        if config.max_stack < MIN_STACK {
            return Err(VmError::Engine(format!(
                "a stack limit of {} bytes is too small: a process needs at least {MIN_STACK} (--max-stack)",
                config.max_stack
            )));
        }
        let engine = engine(
            &config,
            config.plugin_instance_limit(plugin_count),
            components,
            native,
        )
        .map_err(|e| VmError::Engine(explain_engine_error(&e, &config)))?;
        let mut linker = Linker::new(&engine);
        host::add_to_linker(&mut linker).map_err(|e| VmError::Engine(format!("{e:#}")))?;
        wasmtime_wasi::p1::add_to_linker_async(&mut linker, |s: &mut process::ProcessState| {
            s.wasi()
        })
        .map_err(|e| VmError::Engine(format!("{e:#}")))?;
        let plugins = load_plugins(&engine, &mut linker, plugins)?;
        let node = Node::new(engine, linker, config, plugins)
            .map_err(|e| VmError::Engine(format!("cannot start the VM's threads: {e}")))?;
        if let Some(c) = &self.cluster {
            let _ = node.cluster_name.set(c.name.clone());
        }
        let cluster = self
            .cluster
            .map(|mut c| {
                // Announced, so that a module needing others is refused
                // before it is shipped here, naming them.
                c.plugins = node
                    .plugins
                    .iter()
                    .map(|p| vm_cluster::Announced {
                        name: p.package.name.clone(),
                        version: p.package.version,
                        native: p.is_native(),
                    })
                    .collect();
                let spawns = Arc::new(crate::remote_spawn::Spawns::new(&node));
                vm_cluster::Cluster::join_with(&node.kernel, c, spawns).map(Box::new)
            })
            .transpose()
            .map_err(|e| VmError::Cluster(e.to_string()))?;
        Ok(Vm { node, cluster })
    }
}

/// Each plugin's name, and its bytes or native code (a shared library is
/// loaded here).
fn read_plugins(
    sources: Vec<(String, PluginSource)>,
    cluster: Option<&vm_cluster::Config>,
) -> Result<Vec<(String, ReadPlugin)>, VmError> {
    sources
        .into_iter()
        .map(|(name, source)| match source {
            PluginSource::Bytes(b) => Ok((name, ReadPlugin::Wasm(b))),
            PluginSource::Native(p) => Ok((name, ReadPlugin::Native(p, false))),
            PluginSource::Library(path) => {
                let (name, plugin) = native_library::load(&path)?;
                Ok((name, ReadPlugin::Native(Arc::new(plugin), false)))
            }
            PluginSource::Remote(wanted) => {
                let (name, plugin) = crate::remote_plugin::load(&wanted, cluster)?;
                Ok((name, ReadPlugin::Native(Arc::new(plugin), true)))
            }
            PluginSource::File(path) => std::fs::read(&path)
                .map(|b| (name, ReadPlugin::Wasm(b)))
                .map_err(|e| {
                    PluginError {
                        plugin: path.display().to_string(),
                        problem: format!("cannot be read: {e}"),
                        hint: "check the path given to --plugin".into(),
                    }
                    .into()
                }),
        })
        .collect()
}

/// Loads, checks and links each plugin; two of the same name are refused.
fn load_plugins(
    engine: &Engine,
    linker: &mut Linker<process::ProcessState>,
    sources: Vec<(String, ReadPlugin)>,
) -> Result<Vec<Arc<plugin::LoadedPlugin>>, VmError> {
    let mut plugins: Vec<Arc<plugin::LoadedPlugin>> = Vec::new();
    let mut component_linker = wasmtime::component::Linker::new(engine);
    if !sources.is_empty() {
        wasmtime_wasi::p2::add_to_linker_async(&mut component_linker)
            .map_err(|e| VmError::Engine(format!("{e:#}")))?;
    }
    for (index, (name, read)) in sources.into_iter().enumerate() {
        let loaded = match read {
            ReadPlugin::Wasm(bytes) => {
                plugin::LoadedPlugin::load(engine, linker, &component_linker, &name, &bytes, index)?
            }
            ReadPlugin::Native(native, remote) => {
                let mut loaded = plugin::LoadedPlugin::native(&name, native, index)?;
                loaded.remote = remote;
                loaded
            }
        };
        if let Some(other) = plugins
            .iter()
            .find(|p| p.package.name == loaded.package.name)
        {
            return Err(PluginError {
                plugin: name,
                problem: format!(
                    "provides {}, which {} provides already",
                    loaded.package.package_name(),
                    other.source
                ),
                hint: "load one plugin per name".into(),
            }
            .into());
        }
        plugins.push(Arc::new(loaded));
    }
    for p in &plugins {
        p.add_to_linker(engine, linker)
            .map_err(|e| VmError::Engine(format!("{e:#}")))?;
    }
    Ok(plugins)
}
