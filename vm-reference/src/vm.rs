//! [`Vm`]: a running VM, as its embedder sees it.

use crate::config::Output;
use crate::module::Module;
use crate::node::{Node, SpawnRequest};
use crate::process::{Outcome, Start};
use crate::VmBuilder;
use crate::{Incompatibility, LoadError, ModuleInfo, VmError};
use std::path::Path;
use std::sync::Arc;

/// A running VM: loads modules and runs processes on its own worker threads
/// (sharing one tokio runtime for its processes' I/O and timers), so it
/// works from any async runtime, or none.
///
/// Dropping the VM kills every process it still runs.
pub struct Vm {
    pub(crate) node: Arc<Node>,
    /// Its membership of a cluster, left when the VM is dropped.
    pub(crate) cluster: Option<Box<vm_cluster::Cluster>>,
}

impl Drop for Vm {
    fn drop(&mut self) {
        self.node.kill_all();
        if let Some(cluster) = self.cluster.take() {
            cluster.leave();
        }
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
        let module = Module::load(
            &self.node.engine,
            &self.node.linker,
            &self.node.plugins,
            name,
            &binary,
        )?;
        if self.node.cluster_name.get().is_some() {
            // Kept to ship to other nodes (`node.spawn-on`).
            module.keep_source(binary.into_owned().into());
        }
        Ok(module)
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
        self.node.kill(self.node.node_id(), id);
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
