//! The node: the actor [`Kernel`] (processes, mailboxes, links, monitors,
//! names, timers, budgets and the scheduler, which knows nothing of wasm)
//! with what running wasm adds to it: the engine and linker, the
//! instance pool's count, the loaded modules and plugins, the process's
//! WASI context, and [`epoch`] (the clock that preempts running wasm).
//!
//! A node is its kernel too (it dereferences to it), so the host functions
//! reach links, monitors and names the way the kernel defines them.

mod epoch;

pub(crate) use vm_kernel::links::{LinkError, LINK_COST};
pub(crate) use vm_kernel::registry::{RegisterError, MAX_NAME_LEN};

use crate::budget::{Budget, Charge};
use crate::config::{Config, Output};
use crate::handle::Resource;
use crate::line_output::{LineOutput, Sink};
use crate::mailbox::Message;
use crate::module::Module;
use crate::process::{self, Launch, Outcome, Start};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::oneshot;
use vm_kernel::Kernel;
use wasmtime::{Engine, Linker};
use wasmtime_wasi::WasiCtxBuilder;

/// The part of a process others can reach, carrying this VM's handles.
pub(crate) type ProcessEntry = vm_kernel::ProcessEntry<Resource>;

/// What to spawn.
pub(crate) struct SpawnRequest {
    pub module: Module,
    pub start: Start,
    /// The init message (its capture and handles), charged to the spawner
    /// until the child takes it.
    pub capture: Option<Message>,
    /// The spawner to link to, and what it paid for the link.
    pub link: Option<(u64, Charge)>,
    pub args: Vec<String>,
    pub done: Option<oneshot::Sender<Outcome>>,
}

pub(crate) struct Node {
    /// The processes and what relates them.
    pub kernel: Arc<Kernel<Resource>>,
    pub engine: Engine,
    pub linker: Linker<process::ProcessState>,
    pub config: Config,
    /// Modules processes loaded, by content.
    pub(crate) modules: crate::module::ModuleCache,
    /// How many processes have an instance (hibernated ones have none).
    pub(crate) instances: AtomicUsize,
    /// Told whenever an instance ends.
    pub(crate) instance_ended: tokio::sync::Notify,
    /// How many woken processes wait for a slot of a full instance pool.
    pub(crate) waiting_for_instance: AtomicUsize,
    stop_ticker: Arc<AtomicBool>,
    ticker: std::thread::Thread,
    /// Epoch ticks so far, counted beside the engine's epoch (which
    /// wasmtime does not expose).
    ticks: Arc<AtomicU64>,
    /// The plugins guests may import, in the order they were given.
    pub plugins: Vec<Arc<crate::plugin::LoadedPlugin>>,
    /// How many plugin instances may live at once (`--max-plugin-instances`).
    pub plugin_instance_limit: u32,
    /// How many plugin instances live now.
    pub(crate) plugin_instances: AtomicU32,
    /// How many plugin instances were ever made.
    pub(crate) plugin_instantiations: AtomicU64,
    /// Its name in a cluster (`--node`), once it joined one.
    pub(crate) cluster_name: std::sync::OnceLock<String>,
}

impl std::ops::Deref for Node {
    type Target = Kernel<Resource>;

    fn deref(&self) -> &Kernel<Resource> {
        &self.kernel
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.stop_ticker.store(true, Ordering::Relaxed);
        self.ticker.unpark();
    }
}

impl Node {
    /// Starts the node's worker threads and its epoch ticker.
    pub fn new(
        engine: Engine,
        linker: Linker<process::ProcessState>,
        config: Config,
        plugins: Vec<Arc<crate::plugin::LoadedPlugin>>,
    ) -> std::io::Result<Arc<Node>> {
        let plugin_instance_limit = config.plugin_instance_limit(plugins.len());
        let kernel = Kernel::new(vm_kernel::Limits {
            max_processes: config.max_processes,
            max_mailbox: config.max_mailbox,
            max_host_memory: config.max_host_memory,
            worker_threads: config.worker_threads(),
        })?;
        let stop_ticker = Arc::new(AtomicBool::new(false));
        let ticks = Arc::new(AtomicU64::new(0));
        let scheduler = kernel.scheduler();
        let ticker = epoch::start_ticker(&engine, &config, scheduler, &stop_ticker, &ticks)?;
        scheduler.set_idle_watcher(ticker.clone());
        Ok(Arc::new(Node {
            kernel,
            engine,
            linker,
            config,
            modules: Default::default(),
            instances: AtomicUsize::new(0),
            instance_ended: tokio::sync::Notify::new(),
            waiting_for_instance: AtomicUsize::new(0),
            stop_ticker,
            ticker,
            ticks,
            plugins,
            plugin_instance_limit,
            plugin_instances: AtomicU32::new(0),
            plugin_instantiations: AtomicU64::new(0),
            cluster_name: std::sync::OnceLock::new(),
        }))
    }

    /// Its name in a cluster, if it joined one.
    pub fn name(&self) -> Option<&str> {
        self.cluster_name.get().map(String::as_str)
    }

    /// Epoch ticks so far (one per preemption interval).
    pub fn epoch(&self) -> u64 {
        self.ticks.load(Ordering::Relaxed)
    }

    /// Starts a wasm process, for which room was
    /// [reserved](Kernel::reserve), and returns its id. The process is in
    /// the table (and linked, if asked) before this returns, so a message
    /// sent to it right away is not lost.
    pub fn spawn(self: &Arc<Node>, req: SpawnRequest) -> u64 {
        self.kernel.start(req.capture, req.link, |entry| {
            process::run(Launch {
                node: self.clone(),
                entry,
                module: req.module,
                start: req.start,
                args: req.args,
                done: req.done,
            })
        })
    }

    /// A process's WASI context: output as configured, and its arguments.
    pub fn wasi_ctx(&self, module: &Module, args: &[String]) -> wasmtime_wasi::p1::WasiP1Ctx {
        let mut b = self.wasi_output();
        if args.is_empty() {
            b.arg(module.name());
        } else {
            b.args(args);
        }
        b.build_p1()
    }

    /// A WASI context for a process's instance of plugin `index`: the
    /// process's output and nothing else (no sockets, no files, no
    /// arguments but the plugin's name), so a plugin can neither reach the
    /// guest's descriptors nor the network.
    pub fn plugin_wasi_ctx(&self, index: usize) -> wasmtime_wasi::p1::WasiP1Ctx {
        let mut b = self.wasi_output();
        b.allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false);
        if let Some(p) = self.plugins.get(index) {
            b.arg(p.package.package_name());
        }
        b.build_p1()
    }

    /// A WASI context builder whose stdout and stderr are the VM's output.
    fn wasi_output(&self) -> WasiCtxBuilder {
        let mut b = WasiCtxBuilder::new();
        match &self.config.output {
            // Every process's output goes out in whole lines (line_output).
            Output::Inherit => {
                b.stdout(LineOutput(Sink::Stdout))
                    .stderr(LineOutput(Sink::Stderr));
            }
            Output::Capture { stdout, stderr } => {
                b.stdout(LineOutput(Sink::Memory(stdout.clone())))
                    .stderr(LineOutput(Sink::Memory(stderr.clone())));
            }
            Output::Discard => {
                use wasmtime_wasi::p2::pipe::SinkOutputStream;
                b.stdout(SinkOutputStream).stderr(SinkOutputStream);
            }
        }
        b
    }

    /// Writes a report from the VM itself where guests' stderr goes.
    pub async fn report(&self, text: &str) {
        match &self.config.output {
            Output::Inherit => eprint!("{text}"),
            Output::Discard => {}
            Output::Capture { stderr, .. } => {
                use tokio::io::AsyncWriteExt;
                let _ = stderr.clone().write_all(text.as_bytes()).await;
            }
        }
    }

    /// Loads a module for a process (`process.load-module`), charged to
    /// `payer` unless the same bytes are loaded already. On a node of a
    /// cluster its bytes are kept, and charged, to ship it to other nodes
    /// (`node.spawn-on`).
    pub async fn load_module(
        &self,
        payer: &Arc<Budget>,
        name: String,
        bytes: Arc<[u8]>,
    ) -> Result<Module, crate::LoadError> {
        let keep = self.cluster_name.get().is_some();
        self.modules.load(self, payer, name, bytes, keep).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// Waits until `done` holds, failing the test after ten seconds.
    fn wait_until(what: &str, done: impl Fn() -> bool) {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !done() {
            assert!(
                std::time::Instant::now() < deadline,
                "timed out waiting for {what}"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Spawns a process that loops until killed.
    fn spawn_busy(vm: &crate::Vm) -> u64 {
        let busy = r#"(module (memory (export "memory") 1)
            (func (export "_start") (loop (br 0))))"#;
        let busy = vm.load("busy.wat", busy.as_bytes()).unwrap();
        assert!(vm.node.reserve());
        vm.node.spawn(SpawnRequest {
            module: busy,
            start: crate::process::Start::Command,
            capture: None,
            link: None,
            args: Vec::new(),
            done: None,
        })
    }

    /// A time slice counts from when the process resumed: a process that
    /// waited through several ticks has a whole slice ahead when it wakes,
    /// and has used it once a tick passes while it runs.
    #[test]
    fn a_time_slice_counts_from_when_the_process_resumed() {
        let vm = crate::Vm::builder().capture_output().build().unwrap();
        let node = &vm.node;
        // The epoch ticks only while a process runs.
        spawn_busy(&vm);
        let entry = ProcessEntry::new(1, node.new_budget());
        let tick_after = |since: u64| wait_until("an epoch tick", || node.epoch() > since);
        // Resumed, then waited through a tick: the slice is used...
        entry.resume(node.epoch());
        tick_after(node.epoch());
        assert!(entry.slice_used(node.epoch()));
        // ...but a process resuming now has all of its slice left.
        let now = node.epoch();
        entry.resume(now);
        assert!(!entry.slice_used(now));
        tick_after(now);
        assert!(entry.slice_used(node.epoch()));
    }

    /// An idle VM does not wake up every tick: the epoch clock stops while
    /// no process runs, and starts again when one does.
    #[test]
    fn the_epoch_clock_stops_while_no_process_runs() {
        let vm = crate::Vm::builder().capture_output().build().unwrap();
        let node = &vm.node;
        std::thread::sleep(Duration::from_millis(20));
        let before = node.epoch();
        std::thread::sleep(Duration::from_millis(100));
        // At most the tick that was under way when the workers went idle.
        assert!(node.epoch() <= before + 1, "{before} -> {}", node.epoch());
        spawn_busy(&vm);
        let running = node.epoch();
        wait_until("three epoch ticks", || node.epoch() >= running + 3);
    }
}
