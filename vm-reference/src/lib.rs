//! The reference VM for the `vm:host` ABI: an actor runtime for WebAssembly
//! guests, as a library first and the `vm` command second.
//!
//! A process is one wasm instance with its own linear memory and mailbox,
//! running as a task on the VM's own worker threads, which keep a chain of
//! messages on one core. Processes share nothing; they spawn, link,
//! monitor and message each other through the host ABI (see `abi/README.md`).
//!
//! The VM is a layer on the actor kernel, crate `vm_kernel` (processes,
//! mailboxes, links, monitors, exit signals, names, timers, budgets and
//! the scheduler, knowing nothing of wasm): this crate adds modules,
//! stores and instances, the host functions (`host/`, one module per ABI
//! interface) and plugins, and the `vm` command sits above it.
//!
//! Whatever the VM holds because of a guest (messages, timers, captures,
//! links, monitors, names, handles, loaded modules, hibernation states) is
//! charged to the process that asked for it, against its budget
//! ([`VmBuilder::max_mailbox`]) and the VM's ([`VmBuilder::max_host_memory`]);
//! [`Vm::host_memory_held`] shows the sum, which is 0 once every process
//! has ended.
//!
//! ```no_run
//! # async fn demo() -> Result<(), vm_reference::VmError> {
//! let vm = vm_reference::Vm::builder().max_memory(32 << 20).build()?;
//! let module = vm.load_file("app.wasm")?;
//! let outcome = vm.run(&module, &["app.wasm"]).await?;
//! println!("the root process ended: {}", outcome.reason);
//! # Ok(()) }
//! ```

pub mod app_config;
pub mod compat;
mod config;
mod guest_tests;
mod handle;
mod host;
mod mailbox;
mod map_limit;
mod module;
mod native_library;
mod net_policy;
mod node;
mod plugin;
mod process;
mod resolver;
pub mod template;

// The kernel's layers, by the names the wasm side has always used.
use vm_kernel::{budget, signal, sync};

pub use app_config::AppConfig;
pub use compat::{Incompatibility, ModuleInfo};
pub use config::{parse_size, Config, Output};
pub use guest_tests::{has_guest_tests, run_guest_tests, TestOptions};
pub use module::Module;
pub use net_policy::{NetPolicy, NetRule};
pub use plugin::{PluginError, WIT_SECTION as PLUGIN_WIT_SECTION};
pub use process::Outcome;
pub use resolver::{Lookup, Resolver, SystemResolver};
pub use signal::ExitReason;

use node::{Node, SpawnRequest};
use process::Start;
use std::path::Path;
use std::sync::Arc;
use wasmtime::{Engine, InstanceAllocationStrategy, Linker, PoolingAllocationConfig};

/// Why a module could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("cannot read {path}: {error}")]
    Read {
        /// The path given.
        path: String,
        /// The I/O error.
        error: std::io::Error,
    },
    /// The bytes are not a valid WebAssembly module.
    #[error("{name} is not a valid WebAssembly module: {reason}")]
    Malformed {
        /// The module's name.
        name: String,
        /// What the parser or compiler said.
        reason: String,
    },
    /// A native plugin's module transform refused the module.
    #[error("{name} could not be loaded: plugin {plugin}'s module transform failed: {reason}")]
    Transform {
        /// The module's name.
        name: String,
        /// The plugin whose transform failed.
        plugin: String,
        /// What it said.
        reason: String,
    },
    /// Keeping the compiled module would take the loading process's budget
    /// (`--max-mailbox`) or the VM's (`--max-host-memory`) past its limit.
    #[error("{0}")]
    Refused(String),
    /// The module needs something this VM does not serve.
    #[error("{}", compat::incompatible_text(name, problems))]
    Incompatible {
        /// The module's name.
        name: String,
        /// Each reason, naming the import.
        problems: Vec<Incompatibility>,
    },
}

/// Errors of the embedding API.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum VmError {
    /// Loading a module failed.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The engine could not be configured.
    #[error("cannot set up the engine: {0}")]
    Engine(String),
    /// The process limit was reached: a root process could not start.
    #[error("{0} processes are alive, the VM's limit: no other can start (raise it with --max-processes)")]
    ProcessLimit(u32),
    /// The root process was dropped before it ended (the VM shut down).
    #[error("the root process was lost before it ended: the VM shut down under it")]
    Lost,
    /// A plugin could not be loaded.
    #[error(transparent)]
    Plugin(#[from] PluginError),
    /// [`Vm::run_export`] was given an export the module lacks, or one
    /// that is not of type `() -> ()`.
    #[error("the module has no export `{0}` of type () -> ()")]
    NoEntry(String),
    /// [`Vm::run`] was given a module that is not an app: it exports no
    /// `_start`.
    #[error("{name} is not an app: {why}")]
    NotAnApp {
        /// The module's name.
        name: String,
        /// What it is instead, and what to do.
        why: String,
    },
}

/// Builds a [`Vm`]; every setting has a safe default.
#[derive(Clone, Default)]
pub struct VmBuilder {
    config: Config,
    /// Plugins to load: the name each is loaded under, and its bytes (or
    /// the path to read them from).
    plugins: Vec<(String, PluginSource)>,
}

#[derive(Clone)]
enum PluginSource {
    Bytes(Vec<u8>),
    File(std::path::PathBuf),
    Native(Arc<vm_plugin::Plugin>),
    Library(std::path::PathBuf),
}

/// A plugin read and ready to check: wasm bytes, or a native plugin.
enum ReadPlugin {
    Wasm(Vec<u8>),
    Native(Arc<vm_plugin::Plugin>),
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

    /// Creates the VM.
    ///
    /// # Errors
    /// Fails when wasmtime rejects the configuration (for example a pool
    /// larger than the address space allows).
    pub fn build(self) -> Result<Vm, VmError> {
        let config = self.config;
        let plugins = read_plugins(self.plugins)?;
        let plugin_count = plugins.len();
        let components = plugins.iter().any(|(_, p)| match p {
            // A component in the text format is one too.
            ReadPlugin::Wasm(bytes) => {
                wat::parse_bytes(bytes).is_ok_and(|b| wasmparser::Parser::is_component(&b))
            }
            ReadPlugin::Native(_) => false,
        });
        let native = plugins
            .iter()
            .any(|(_, p)| matches!(p, ReadPlugin::Native(_)));
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
        Ok(Vm { node })
    }
}

/// Each plugin's name, and its bytes or native code (a shared library is
/// loaded here).
fn read_plugins(
    sources: Vec<(String, PluginSource)>,
) -> Result<Vec<(String, ReadPlugin)>, VmError> {
    sources
        .into_iter()
        .map(|(name, source)| match source {
            PluginSource::Bytes(b) => Ok((name, ReadPlugin::Wasm(b))),
            PluginSource::Native(p) => Ok((name, ReadPlugin::Native(p))),
            PluginSource::Library(path) => {
                let (name, plugin) = native_library::load(&path)?;
                Ok((name, ReadPlugin::Native(Arc::new(plugin))))
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
            ReadPlugin::Native(native) => plugin::LoadedPlugin::native(&name, native, index)?,
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

/// Says what to do when the engine cannot be set up; the usual cause is a
/// pool larger than `vm.max_map_count` allows.
fn explain_engine_error(e: &wasmtime::Error, config: &Config) -> String {
    let text = format!("{e:#}");
    if map_limit::is_out_of_memory(e) {
        format!(
            "{text}: {}",
            map_limit::pool_advice(config.instance_limit())
        )
    } else {
        text
    }
}

/// The smallest stack limit a process can start with.
const MIN_STACK: usize = 4 << 10;

/// Stack room for the host functions a process calls, above its own
/// `max_stack` of wasm frames.
const HOST_STACK: usize = 128 << 10;

/// Stack room for host functions when native plugins are loaded: their
/// code runs on the calling process's stack, and overflowing it aborts the
/// VM (address space only: pages untouched cost nothing).
const NATIVE_HOST_STACK: usize = 1 << 20;

/// Core instances, memories and tables a component plugin's instance may
/// hold (a wit-bindgen component has its module and a few small shims).
const SLOTS_PER_COMPONENT: u32 = 8;

fn engine(
    config: &Config,
    plugin_instances: u32,
    components: bool,
    native: bool,
) -> wasmtime::Result<Engine> {
    let mut pool = PoolingAllocationConfig::new();
    // Plugin instances live in their process's store: they take instance,
    // memory and table slots.
    let per_plugin = if components { SLOTS_PER_COMPONENT } else { 1 };
    let instances = config
        .instance_limit()
        .saturating_add(plugin_instances.saturating_mul(per_plugin));
    pool.total_core_instances(instances)
        .total_memories(instances)
        .total_tables(instances)
        // A call into a plugin runs on a stack of its own (wasmtime's
        // call_async from a host function), one at a time per process.
        .total_stacks(config.instance_limit().saturating_add(plugin_instances))
        .total_component_instances(if components { plugin_instances } else { 0 })
        .max_memory_size(config.max_memory)
        // Spawn-heavy loads free slots constantly, and each madvise that
        // decommits a freed slot costs a TLB shootdown on every core: batch
        // them, keep each table's first pages (a table is small) resident,
        // and reset only the memory pages a process dirtied (PAGEMAP_SCAN,
        // where the kernel has it) up to a 192 KiB prefix, where guests
        // built with a small stack keep their hot pages.
        .decommit_batch_size(64)
        .table_keep_resident(8 << 10)
        .linear_memory_keep_resident(192 << 10)
        .pagemap_scan(wasmtime::Enabled::Auto);
    let mut c = wasmtime::Config::new();
    c.epoch_interruption(true)
        // Pinned off: with custom page sizes wasmtime may report a failed
        // growth it never asked the limiter about, which the memory
        // limiter's books (`MemoryLimiter`) do not expect.
        .wasm_custom_page_sizes(false)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool))
        // Small reservations: the pool holds one per process slot.
        .memory_reservation(config.max_memory as u64)
        .memory_guard_size(64 << 10)
        .memory_reservation_for_growth(0)
        .memory_init_cow(true)
        // A process's wasm code and the host functions it calls share one
        // stack per process. Small stacks, not wasmtime's 2 MiB, let several
        // share a page-table page: an idle process cost 8.6 KiB of page
        // tables with 2 MiB stacks and 5.3 KiB with 384 KiB (VmPTE, 10,000
        // idle processes).
        .max_wasm_stack(config.max_stack)
        .async_stack_size(
            config.max_stack
                + if native {
                    NATIVE_HOST_STACK
                } else {
                    HOST_STACK
                },
        );
    // For profiling: perf reads /tmp/perf-PID.map to name JIT-compiled
    // guest functions.
    if std::env::var_os("VM_PERFMAP").is_some() {
        c.profiler(wasmtime::ProfilingStrategy::PerfMap);
    }
    Engine::new(&c)
}

/// A running VM: loads modules and runs processes on its own worker threads
/// (sharing one tokio runtime for its processes' I/O and timers), so it
/// works from any async runtime, or none.
///
/// Dropping the VM kills every process it still runs.
pub struct Vm {
    node: Arc<Node>,
}

impl Drop for Vm {
    fn drop(&mut self) {
        self.node.kill_all();
    }
}

impl Vm {
    /// A builder with the default settings.
    pub fn builder() -> VmBuilder {
        VmBuilder::default()
    }

    /// Loads a module from a file.
    ///
    /// # Errors
    /// Fails when the file cannot be read, is not a module, or needs an ABI
    /// this VM does not serve (the error names each import and what to do).
    pub fn load_file(&self, path: impl AsRef<Path>) -> Result<Module, LoadError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|error| LoadError::Read {
            path: path.display().to_string(),
            error,
        })?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        self.load(&name, &bytes)
    }

    /// Loads a module from bytes (WebAssembly binary or text).
    ///
    /// # Errors
    /// As [`Vm::load_file`].
    pub fn load(&self, name: &str, bytes: &[u8]) -> Result<Module, LoadError> {
        let binary = wat::parse_bytes(bytes).map_err(|e| LoadError::Malformed {
            name: name.to_string(),
            reason: e.to_string(),
        })?;
        Module::load(
            &self.node.engine,
            &self.node.linker,
            &self.node.plugins,
            name,
            &binary,
        )
    }

    /// Every reason this VM, with its plugins, cannot run a module (empty
    /// when it can); what `vm inspect` reports.
    pub fn check(&self, info: &ModuleInfo) -> Vec<Incompatibility> {
        let offered: Vec<_> = self
            .node
            .plugins
            .iter()
            .map(|p| (&p.package, p.source.as_str()))
            .collect();
        info.check_with(&offered)
    }

    /// The plugins loaded: the name each was loaded under, the package and
    /// version it provides (`plugin:kv@1.0.0`), and its kind (`core
    /// module`, `component` or `native plugin`).
    pub fn plugins(&self) -> Vec<(String, String, &'static str)> {
        self.node
            .plugins
            .iter()
            .map(|p| (p.source.clone(), p.package.marker(), p.kind_name()))
            .collect()
    }

    /// How many plugin instances were ever made (each process that calls a
    /// plugin makes one, on its first call).
    pub fn plugin_instantiations(&self) -> u64 {
        self.node
            .plugin_instantiations
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Runs a command module's `_start` as the root process and waits for it
    /// to end. Other processes keep running until the VM is dropped.
    ///
    /// # Errors
    /// [`VmError::NotAnApp`] if the module exports no `_start` of type
    /// `() -> ()` (a plugin, a library); fails if `--max-processes`
    /// processes are alive already, or if the runtime shuts down underneath
    /// the process. A guest that traps is an [`Outcome`] with its
    /// [`ExitReason`].
    pub async fn run(&self, module: &Module, args: &[&str]) -> Result<Outcome, VmError> {
        if !matches!(module.entry("_start"), Some((_, false))) {
            let why = match &module.0.info.plugin {
                Some(package) => format!(
                    "it is a plugin ({package}), whose functions apps import; load it with `vm run --plugin {} app.wasm` (or VmBuilder::plugin) and run an app that imports it",
                    module.name()
                ),
                None => "it exports no `_start` (of type () -> ()): build a command, a Rust `bin` crate, or C or AssemblyScript with the VM SDK's template (`vm new`)".into(),
            };
            return Err(VmError::NotAnApp {
                name: module.name().to_string(),
                why,
            });
        }
        if !self.node.reserve() {
            return Err(VmError::ProcessLimit(self.node.config.max_processes));
        }
        let (done, wait) = tokio::sync::oneshot::channel();
        self.node.spawn(SpawnRequest {
            module: module.clone(),
            start: Start::Command,
            capture: None,
            link: None,
            args: args.iter().map(|a| a.to_string()).collect(),
            done: Some(done),
        });
        wait.await.map_err(|_| VmError::Lost)
    }

    /// Runs export `export` of `module` (of type `() -> ()`) as a root
    /// process and waits for it to end, as [`Vm::run`] runs `_start`.
    ///
    /// # Errors
    /// [`VmError::NoEntry`] if the module has no such export; otherwise as
    /// [`Vm::run`].
    pub async fn run_export(
        &self,
        module: &Module,
        export: &str,
        args: &[&str],
    ) -> Result<Outcome, VmError> {
        let Some((export_index, false)) = module.entry(export) else {
            return Err(VmError::NoEntry(export.to_string()));
        };
        if !self.node.reserve() {
            return Err(VmError::ProcessLimit(self.node.config.max_processes));
        }
        let (done, wait) = tokio::sync::oneshot::channel();
        self.node.spawn(SpawnRequest {
            module: module.clone(),
            start: Start::Export {
                export: export_index,
                takes_arg: false,
                arg: 0,
            },
            capture: None,
            link: None,
            args: args.iter().map(|a| a.to_string()).collect(),
            done: Some(done),
        });
        wait.await.map_err(|_| VmError::Lost)
    }

    /// Kills every process and waits until each has ended; the VM stays
    /// usable (what `vm test` does between tests).
    pub async fn kill_all(&self) {
        self.node.shutdown().await;
    }

    /// What guests wrote to stdout, if the VM captures output.
    pub fn captured_stdout(&self) -> String {
        match &self.node.config.output {
            Output::Capture { stdout, .. } => {
                String::from_utf8_lossy(&stdout.contents()).into_owned()
            }
            Output::Inherit | Output::Discard => String::new(),
        }
    }

    /// What guests wrote to stderr, if the VM captures output.
    pub fn captured_stderr(&self) -> String {
        match &self.node.config.output {
            Output::Capture { stderr, .. } => {
                String::from_utf8_lossy(&stderr.contents()).into_owned()
            }
            Output::Inherit | Output::Discard => String::new(),
        }
    }

    /// Kills every process and waits until each has ended: its resources
    /// released, its links and monitors told. Dropping the VM kills them
    /// too, but does not wait.
    pub async fn shutdown(self) {
        self.node.shutdown().await;
    }

    /// How many processes are alive.
    pub fn process_count(&self) -> usize {
        self.node.process_count()
    }

    /// How many processes have an instance: those alive and not
    /// hibernated (`process.hibernate`).
    pub fn instance_count(&self) -> usize {
        self.node
            .instances
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Waits until at most `max` processes have an instance (the others
    /// ended or hibernated).
    pub async fn until_instances(&self, max: usize) {
        loop {
            let ended = self.node.instance_ended.notified();
            tokio::pin!(ended);
            // Registered before the count is read, so no end is missed.
            ended.as_mut().enable();
            if self.instance_count() <= max {
                return;
            }
            ended.await;
        }
    }

    /// How many monitors are in place. A monitor is removed when its `down`
    /// is received, when it is demonitored, and when either process ends.
    pub fn monitor_count(&self) -> usize {
        self.node.monitor_count()
    }

    /// How many timers (`send_after`) are pending. A timer leaves the count
    /// when it fires, is cancelled, or its target ends.
    pub fn pending_timers(&self) -> usize {
        self.node.timer_count()
    }

    /// What the host holds for all processes now, in bytes: the sum of
    /// their charges, which `--max-host-memory` bounds (see
    /// [`VmBuilder::max_host_memory`]). 0 once every process has ended and
    /// their timers, names and modules are gone.
    pub fn host_memory_held(&self) -> usize {
        self.node.host_held()
    }

    /// What the host holds for process `id` now, in bytes (what
    /// `--max-mailbox` bounds); `None` if it is not alive.
    pub fn process_host_memory(&self, id: u64) -> Option<usize> {
        self.node.get(id).map(|p| p.budget().held())
    }

    /// The process registered under `name` (`registry.register`), if any.
    pub fn lookup(&self, name: &str) -> Option<u64> {
        self.node.lookup(name)
    }

    /// Kills process `id` (reason `killed`), as `process.kill` does; nothing
    /// if it has ended.
    pub fn kill(&self, id: u64) {
        self.node.kill(id);
    }

    /// How many hibernated processes, woken while every instance is
    /// taken, wait for a slot (see [`VmBuilder::max_instances`]).
    pub fn waiting_for_instance(&self) -> usize {
        self.node
            .waiting_for_instance
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// How many distinct modules loaded with `process.load-module` are
    /// alive (held by a handle or a process).
    pub fn loaded_modules(&self) -> usize {
        self.node.modules.len()
    }
}
