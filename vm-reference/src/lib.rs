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

mod active_read;
pub mod app_config;
mod builder;
pub mod compat;
mod config;
mod engine;
mod guest_memory;
mod guest_tests;
mod handle;
mod host;
mod line_output;
mod mailbox;
mod map_limit;
mod module;
mod native_library;
mod net_policy;
mod node;
mod plugin;
mod process;
mod remote_plugin;
mod remote_spawn;
mod resolver;
pub mod template;
mod vm;

// The kernel's layers, by the names the wasm side has always used.
use vm_kernel::{budget, signal, sync};

pub use app_config::AppConfig;
pub use builder::VmBuilder;
pub use compat::{Incompatibility, ModuleInfo};
pub use config::{parse_size, Config, Output};
pub use guest_tests::{has_guest_tests, run_guest_tests, TestOptions};
pub use module::Module;
pub use net_policy::{NetPolicy, NetRule};
pub use plugin::{PluginError, WIT_SECTION as PLUGIN_WIT_SECTION};
pub use process::Outcome;
pub use remote_plugin::RemotePlugin;
pub use resolver::{Lookup, Resolver, SystemResolver};
pub use signal::ExitReason;
pub use vm::Vm;
pub use vm_cluster::Config as ClusterConfig;

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
    /// The VM could not join its cluster (`--cluster`).
    #[error("{0}")]
    Cluster(String),
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
