//! The node: one VM's live processes and what relates them. It owns the
//! process table and the scheduler, starts processes, delivers messages and
//! records exits; each relation between processes is a module of its own:
//! [`links`] (links, monitors and exit signals), [`registry`] (names),
//! [`timers`] (`send_after`), and [`epoch`] (the clock that preempts
//! running wasm). [`entry`] is the part of a process others can reach.
//!
//! Process ids carry the node in their top 16 bits (0 for now), so that ids
//! stay unique when several VMs exchange messages.

mod entry;
mod epoch;
mod links;
mod registry;
mod timers;

pub(crate) use entry::ProcessEntry;
pub(crate) use links::{exit_message, LinkError, EXIT_FROM_LINK, LINK_COST};
pub(crate) use registry::{RegisterError, MAX_NAME_LEN};

use crate::budget::{Budget, Charge, HostBudget};
use crate::config::{Config, Output};
use crate::mailbox::{Mailbox, Message, Refused};
use crate::module::Module;
use crate::process::{self, Launch, Outcome, Start};
use crate::scheduler::Scheduler;
use crate::signal::{Control, ExitReason};
use crate::sync::lock;
use crate::table::ProcessTable;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;
use wasmtime::{Engine, Linker};
use wasmtime_wasi::WasiCtxBuilder;

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
    pub engine: Engine,
    pub linker: Linker<process::ProcessState>,
    pub config: Config,
    processes: ProcessTable<ProcessEntry>,
    /// The VM-wide bound on what the host holds for guests.
    pub(crate) host: Arc<HostBudget>,
    /// Modules processes loaded, by content.
    pub(crate) modules: crate::module::ModuleCache,
    registry: Mutex<HashMap<String, registry::Name>>,
    /// Pending timers' targets and setters, by timer reference (the timer
    /// itself is kept with its target).
    timers: Mutex<HashMap<u64, (u64, u64)>>,
    /// How many monitors are in place, over all processes.
    monitor_count: AtomicUsize,
    /// How many processes have an instance (hibernated ones have none).
    pub(crate) instances: AtomicUsize,
    /// Told whenever an instance ends.
    pub(crate) instance_ended: tokio::sync::Notify,
    /// How many woken processes wait for a slot of a full instance pool.
    pub(crate) waiting_for_instance: AtomicUsize,
    /// Told whenever the last live process ends.
    all_ended: tokio::sync::Notify,
    /// Processes gone from the table whose exit is still giving back what
    /// they held: "every process has ended" waits for these too.
    exiting: AtomicUsize,
    /// How many [`Node::shutdown`]s are under way: a process spawned
    /// meanwhile is killed as it starts, so killing every process cannot be
    /// outrun by one that spawns without pause.
    closing: AtomicUsize,
    next_id: AtomicU64,
    next_ref: AtomicU64,
    stop_ticker: Arc<AtomicBool>,
    ticker: std::thread::Thread,
    /// Epoch ticks so far, counted beside the engine's epoch (which
    /// wasmtime does not expose).
    ticks: Arc<AtomicU64>,
    scheduler: Scheduler,
    /// The plugins guests may import, in the order they were given.
    pub plugins: Vec<Arc<crate::plugin::LoadedPlugin>>,
    /// How many plugin instances may live at once (`--max-plugin-instances`).
    pub plugin_instance_limit: u32,
    /// How many plugin instances live now.
    pub(crate) plugin_instances: AtomicU32,
    /// How many plugin instances were ever made.
    pub(crate) plugin_instantiations: AtomicU64,
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
        let host = HostBudget::new(config.max_host_memory);
        let scheduler = Scheduler::new(config.worker_threads())?;
        let stop_ticker = Arc::new(AtomicBool::new(false));
        let ticks = Arc::new(AtomicU64::new(0));
        let ticker = epoch::start_ticker(&engine, &config, &scheduler, &stop_ticker, &ticks)?;
        scheduler.set_idle_watcher(ticker.clone());
        Ok(Arc::new(Node {
            engine,
            linker,
            config,
            processes: ProcessTable::default(),
            host,
            modules: Default::default(),
            registry: Mutex::new(HashMap::new()),
            timers: Mutex::new(HashMap::new()),
            monitor_count: AtomicUsize::new(0),
            instances: AtomicUsize::new(0),
            instance_ended: tokio::sync::Notify::new(),
            waiting_for_instance: AtomicUsize::new(0),
            all_ended: tokio::sync::Notify::new(),
            exiting: AtomicUsize::new(0),
            closing: AtomicUsize::new(0),
            next_id: AtomicU64::new(1),
            next_ref: AtomicU64::new(1 << 63),
            stop_ticker,
            ticker,
            ticks,
            scheduler,
            plugins,
            plugin_instance_limit,
            plugin_instances: AtomicU32::new(0),
            plugin_instantiations: AtomicU64::new(0),
        }))
    }

    /// Epoch ticks so far (one per preemption interval).
    pub fn epoch(&self) -> u64 {
        self.ticks.load(Ordering::Relaxed)
    }

    /// A fresh reference for monitors, timers and `mailbox.fresh-tag`: one
    /// sequence from the upper half of the tag space, so a reference never
    /// equals another, nor a small tag a program chose itself.
    pub fn fresh_ref(&self) -> u64 {
        self.next_ref.fetch_add(1, Ordering::Relaxed)
    }

    pub fn get(&self, id: u64) -> Option<Arc<ProcessEntry>> {
        self.processes.get(id)
    }

    /// A fresh budget for a process, within the VM's.
    pub fn new_budget(&self) -> Arc<Budget> {
        Budget::new(self.config.max_mailbox, &self.host)
    }

    pub fn process_count(&self) -> usize {
        self.processes.len()
    }

    /// Reserves room for one more process under `--max-processes`; false
    /// at the limit. A reservation is used by [`Node::spawn`] or given back
    /// with [`Node::unreserve`].
    pub fn reserve(&self) -> bool {
        self.processes.reserve(self.config.max_processes as usize)
    }

    /// Gives back a reservation for a spawn that will not happen.
    pub fn unreserve(&self) {
        self.processes.unreserve();
    }

    /// Starts a process, for which room was [reserved](Node::reserve), and
    /// returns its id. The process is in the table (and linked, if asked)
    /// before this returns, so a message sent to it right away is not lost.
    pub fn spawn(self: &Arc<Node>, req: SpawnRequest) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let entry = Arc::new(ProcessEntry::new(id, self.new_budget()));
        if let Some(init) = req.capture {
            entry.inbox.push_charged(init);
        }
        self.processes.insert(entry.id, entry.clone());
        // After the insert: a shutdown that began before it either saw the
        // entry in the table (and kills it) or is seen here.
        if self.closing.load(Ordering::SeqCst) > 0 {
            entry.inbox.signal(Control::Kill);
        }
        if let Some((parent, charge)) = req.link {
            // The parent is calling us, so it is alive; link both ways.
            self.link_child(parent, &entry, charge);
        }
        let launch = Launch {
            node: self.clone(),
            entry,
            module: req.module,
            start: req.start,
            mailbox: Mailbox::default(),
            args: req.args,
            done: req.done,
        };
        self.scheduler.spawn(process::run(launch)).detach();
        id
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
            Output::Inherit => {
                b.inherit_stdout().inherit_stderr();
            }
            Output::Capture { stdout, stderr } => {
                b.stdout(stdout.clone()).stderr(stderr.clone());
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

    /// Sends one of the VM's own messages (a `down`, a timer's); a missing
    /// process is not an error (Erlang semantics).
    pub fn send(&self, target: u64, m: Message) {
        let _ = self.deliver(target, m, false);
    }

    /// Sends a guest's message; a missing process is not an error (Erlang
    /// semantics). The message is given back if it would take the VM past
    /// its bound (`--max-host-memory`).
    pub fn send_from_guest(&self, target: u64, m: Message) -> Result<(), Box<Refused>> {
        self.deliver(target, m, true)
    }

    fn deliver(&self, target: u64, m: Message, sent_by_guest: bool) -> Result<(), Box<Refused>> {
        // Woken outside the table's lock.
        let waker = self
            .processes
            .with(target, |p| p.inbox.enqueue(m, sent_by_guest));
        if let Some(Ok(Some(w))) = &waker {
            w.wake_by_ref();
        }
        match waker {
            Some(Err(refused)) => Err(refused),
            _ => Ok(()),
        }
    }

    /// Loads a module for a process (`process.load-module`), charged to
    /// `payer` unless the same bytes are loaded already.
    pub async fn load_module(
        &self,
        payer: &Arc<Budget>,
        name: String,
        bytes: Vec<u8>,
    ) -> Result<Module, crate::LoadError> {
        self.modules
            .load(
                &self.engine,
                &self.linker,
                &self.plugins,
                payer,
                name,
                bytes,
            )
            .await
    }

    /// What the host holds for every guest now, in bytes.
    pub fn host_held(&self) -> usize {
        self.host.held()
    }

    /// Ends `target` with reason `killed`, which it cannot trap.
    pub fn kill(&self, target: u64) {
        if let Some(p) = self.get(target) {
            p.inbox.signal(Control::Kill);
        }
    }

    /// Kills every process and waits until all have ended (processes
    /// spawned meanwhile are killed too).
    pub async fn shutdown(&self) {
        /// Ends the shutdown's count, however it ends (its future may be
        /// dropped while it waits).
        struct Closing<'a>(&'a AtomicUsize);
        impl Drop for Closing<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::SeqCst);
            }
        }
        // Before the table is read, so a spawn the reading misses sees it.
        self.closing.fetch_add(1, Ordering::SeqCst);
        let _closing = Closing(&self.closing);
        loop {
            let ended = self.all_ended.notified();
            tokio::pin!(ended);
            // Registered before the count is read, so no end is missed.
            ended.as_mut().enable();
            self.kill_all();
            if self.all_gone() {
                return;
            }
            ended.await;
        }
    }

    /// Kills every process (used when the VM is dropped).
    pub fn kill_all(&self) {
        for p in self.processes.all() {
            p.inbox.signal(Control::Kill);
        }
    }

    /// Records that `entry` ended: signals links, sends down messages, frees
    /// its names, and removes it from the table.
    pub fn exit(&self, entry: &ProcessEntry, reason: &ExitReason) {
        let relations = {
            let mut r = lock(&entry.relations);
            r.alive = false;
            std::mem::take(&mut *r)
        };
        self.exiting.fetch_add(1, Ordering::SeqCst);
        entry.inbox.close();
        self.processes.remove(entry.id);
        self.forget_names(entry.id, &relations.names);
        // Its timers go (their messages and charges with them) before
        // anyone hears of the end.
        self.forget_timers(relations.timers.keys());
        drop(relations.timers);
        self.cancel_set_timers(relations.set_timers);
        let reason = &reason.clone().capped();
        self.signal_links(entry.id, relations.links, reason);
        self.notify_monitors(entry.id, relations.monitors, reason);
        // Last, so whoever waits for every process to end finds all they
        // held given back.
        self.exiting.fetch_sub(1, Ordering::SeqCst);
        if self.all_gone() {
            self.all_ended.notify_waiters();
        }
    }

    /// Whether no process is alive and none is still ending.
    fn all_gone(&self) -> bool {
        self.processes.len() == 0 && self.exiting.load(Ordering::SeqCst) == 0
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

    /// A link is charged to the process that asked for it (both sides'
    /// records), once however often it asks, until it is undone; past its
    /// budget the link is refused and the other side is charged nothing.
    #[test]
    fn a_link_is_charged_to_the_process_that_asked_until_it_is_undone() {
        let vm = crate::Vm::builder()
            .capture_output()
            .max_mailbox(2 * LINK_COST + 10)
            .build()
            .unwrap();
        let node = &vm.node;
        let entry = |id| {
            assert!(node.reserve());
            let e = Arc::new(ProcessEntry::new(id, node.new_budget()));
            node.processes.insert(id, e.clone());
            e
        };
        let (a, b) = (entry(1001), entry(1002));
        let _c = entry(1003);
        let _d = entry(1004);
        node.link(1001, 1002).unwrap();
        node.link(1001, 1002).unwrap();
        assert_eq!((a.budget().held(), b.budget().held()), (LINK_COST, 0));
        node.link(1001, 1003).unwrap();
        assert!(matches!(node.link(1001, 1004), Err(LinkError::Refused(_))));
        node.unlink(1002, 1001);
        assert_eq!(a.budget().held(), LINK_COST);
        node.link(1001, 1004).unwrap();
        for id in 1001..=1004 {
            node.processes.remove(id);
        }
    }

    /// Linking again to a process linked at its spawn is nothing, even once
    /// it has ended: the exit signal on its way carries its real reason,
    /// and a `noproc` must not overtake it (a supervisor linking a child
    /// its start function spawn-linked took a normal end for a crash).
    #[test]
    fn linking_again_to_a_linked_process_that_ended_is_not_noproc() {
        let vm = crate::Vm::builder().capture_output().build().unwrap();
        let node = &vm.node;
        let entry = |id| {
            assert!(node.reserve());
            let e = Arc::new(ProcessEntry::new(id, node.new_budget()));
            node.processes.insert(id, e.clone());
            e
        };
        let (parent, child) = (entry(2001), entry(2002));
        node.link_child(parent.id, &child, Charge::none());
        node.exit(&child, &ExitReason::Normal);
        // Its exit signal waits for the parent, which has not handled it.
        assert!(node.link(parent.id, child.id).is_ok());
        // Once handled, the link is gone, and a new one is noproc.
        assert!(parent.take_link(child.id));
        assert!(matches!(
            node.link(parent.id, child.id),
            Err(LinkError::NoProc)
        ));
        node.processes.remove(parent.id);
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
