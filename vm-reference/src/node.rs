//! The node: every live process, the name registry, timers and id counters
//! of one VM.
//!
//! Process ids carry the node in their top 16 bits (0 for now), so that ids
//! stay unique when several VMs exchange messages.

use crate::config::{Config, Output};
use crate::mailbox::{Inbox, Mailbox, Message, Payload};
use crate::module::Module;
use crate::process::{self, Control, ExitReason, Launch, Outcome, Start};
use crate::scheduler::Scheduler;
use crate::sync::lock;
use crate::table::ProcessTable;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;
use vm_abi::MessageKind;
use wasmtime::{Engine, Linker};
use wasmtime_wasi::WasiCtxBuilder;

/// The shared part of a process: how to reach it, and who is related to it.
pub(crate) struct ProcessEntry {
    pub id: u64,
    /// Where messages and signals for the process arrive.
    pub inbox: Inbox,
    trap_exits: AtomicBool,
    relations: Mutex<Relations>,
    /// The epoch tick at which the process last resumed (its task was
    /// polled): its time slice counts from there, not from when it last
    /// yielded, so a process that waited longer than a slice is not
    /// preempted the moment it wakes.
    resumed_at: AtomicU64,
}

#[derive(Default)]
struct Relations {
    alive: bool,
    /// Linked processes. An exit signal from one is acted on only if the
    /// link is still here when the signal is handled, so after `unlink`
    /// nothing from that link arrives.
    links: HashSet<u64>,
    /// Monitors on this process: reference → watching process. Removed by
    /// `demonitor`, when the watcher ends, and (all) when this process ends.
    monitors: HashMap<u64, u64>,
    names: Vec<String>,
    /// Timers that will send to this process, by reference: cancelled when
    /// it ends (as OTP cancels a timer whose target has gone).
    timers: HashMap<u64, PendingTimer>,
}

/// A timer on its way to a process: what it counts against the target's
/// mailbox, and its task, once started (dropping it cancels the timer).
struct PendingTimer {
    cost: usize,
    task: Option<async_task::Task<()>>,
}

/// The most names one process may hold: names are the VM's to keep, so
/// their number and length are bounded.
pub(crate) const MAX_NAMES: usize = 16;
/// The longest name, in bytes.
pub(crate) const MAX_NAME_LEN: usize = 255;

impl ProcessEntry {
    /// The entry of a live process with nothing queued and no relations.
    pub fn new(id: u64) -> ProcessEntry {
        ProcessEntry {
            id,
            inbox: Inbox::default(),
            trap_exits: AtomicBool::new(false),
            resumed_at: AtomicU64::new(0),
            relations: Mutex::new(Relations {
                alive: true,
                ..Relations::default()
            }),
        }
    }

    /// Removes the link to `other`; whether it was there.
    pub fn take_link(&self, other: u64) -> bool {
        lock(&self.relations).links.remove(&other)
    }

    pub fn traps_exits(&self) -> bool {
        self.trap_exits.load(Ordering::Relaxed)
    }

    pub fn set_trap_exits(&self, on: bool) -> bool {
        self.trap_exits.swap(on, Ordering::Relaxed)
    }

    /// Notes that the process resumes running at epoch tick `now`.
    pub fn resume(&self, now: u64) {
        self.resumed_at.store(now, Ordering::Relaxed);
    }

    /// Whether the process has run for a whole time slice (an epoch tick
    /// passed since it resumed).
    pub fn slice_used(&self, now: u64) -> bool {
        now > self.resumed_at.load(Ordering::Relaxed)
    }
}

/// What to spawn.
pub(crate) struct SpawnRequest {
    pub module: Module,
    pub start: Start,
    pub capture: Option<(u64, Payload, Vec<crate::handle::Resource>)>,
    pub link: Option<u64>,
    pub args: Vec<String>,
    pub done: Option<oneshot::Sender<Outcome>>,
}

pub(crate) struct Node {
    pub engine: Engine,
    pub linker: Linker<process::ProcessState>,
    pub config: Config,
    processes: ProcessTable,
    registry: Mutex<HashMap<String, u64>>,
    /// Pending timers' targets, by timer reference (the timer itself is
    /// kept with its target).
    timers: Mutex<HashMap<u64, u64>>,
    /// How many monitors are in place, over all processes.
    monitor_count: AtomicUsize,
    next_id: AtomicU64,
    next_ref: AtomicU64,
    stop_ticker: Arc<AtomicBool>,
    ticker: std::thread::Thread,
    /// Epoch ticks so far, counted beside the engine's epoch (which
    /// wasmtime does not expose).
    ticks: Arc<AtomicU64>,
    scheduler: Scheduler,
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
    ) -> std::io::Result<Arc<Node>> {
        let scheduler = Scheduler::new(config.worker_threads())?;
        let stop_ticker = Arc::new(AtomicBool::new(false));
        // Epoch ticks preempt running wasm so a busy process cannot starve others.
        let ticks = Arc::new(AtomicU64::new(0));
        let (ticker_engine, stop, ticker_ticks) =
            (engine.clone(), stop_ticker.clone(), ticks.clone());
        let tick = config.preemption_interval;
        let idle = scheduler.idle_probe();
        let ticker = std::thread::Builder::new()
            .name("vm-epoch".into())
            .spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(tick);
                    ticker_ticks.fetch_add(1, Ordering::Relaxed);
                    ticker_engine.increment_epoch();
                    // No wasm runs while every worker waits: an idle VM
                    // does not wake up every tick. A worker that wakes
                    // unparks the ticker.
                    if idle() {
                        std::thread::park();
                    }
                }
            })?
            .thread()
            .clone();
        scheduler.set_idle_watcher(ticker.clone());
        Ok(Arc::new(Node {
            engine,
            linker,
            config,
            processes: ProcessTable::default(),
            registry: Mutex::new(HashMap::new()),
            timers: Mutex::new(HashMap::new()),
            monitor_count: AtomicUsize::new(0),
            next_id: AtomicU64::new(1),
            next_ref: AtomicU64::new(1 << 63),
            stop_ticker,
            ticker,
            ticks,
            scheduler,
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
        let entry = Arc::new(ProcessEntry::new(id));
        if let Some((sender, capture, resources)) = req.capture {
            let init = Message {
                kind: MessageKind::Init,
                tag: 0,
                sender,
                data: capture,
                resources,
            };
            entry.inbox.push(init, self.config.max_mailbox);
        }
        self.processes.insert(entry.clone());
        if let Some(parent) = req.link {
            // The parent is calling us, so it is alive; link both ways.
            if let Some(p) = self.get(parent) {
                lock(&p.relations).links.insert(id);
                lock(&entry.relations).links.insert(parent);
            }
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
        let mut b = WasiCtxBuilder::new();
        match &self.config.output {
            Output::Inherit => {
                b.inherit_stdout().inherit_stderr();
            }
            Output::Capture { stdout, stderr } => {
                b.stdout(stdout.clone()).stderr(stderr.clone());
            }
        }
        if args.is_empty() {
            b.arg(module.name());
        } else {
            b.args(args);
        }
        b.build_p1()
    }

    /// Writes a report from the VM itself where guests' stderr goes.
    pub async fn report(&self, text: &str) {
        match &self.config.output {
            Output::Inherit => eprint!("{text}"),
            Output::Capture { stderr, .. } => {
                use tokio::io::AsyncWriteExt;
                let _ = stderr.clone().write_all(text.as_bytes()).await;
            }
        }
    }

    /// Sends a message; a missing process is not an error (Erlang semantics).
    pub fn send(&self, target: u64, m: Message) {
        // Woken outside the table's lock.
        let limit = self.config.max_mailbox;
        let waker = self.processes.with(target, |p| p.inbox.enqueue(m, limit));
        if let Some(Some(w)) = waker {
            w.wake();
        }
    }

    /// Links `a` (the caller) and `b`; false if `b` has ended (or never was).
    pub fn link(&self, a: u64, b: u64) -> bool {
        if a == b {
            return true;
        }
        let (Some(pa), Some(pb)) = (self.get(a), self.get(b)) else {
            return false;
        };
        {
            let mut rb = lock(&pb.relations);
            if !rb.alive {
                return false;
            }
            rb.links.insert(a);
        }
        lock(&pa.relations).links.insert(b);
        true
    }

    /// Removes the link between `a` and `b` on both sides: an exit signal
    /// from either that is still on its way is dropped when it arrives.
    pub fn unlink(&self, a: u64, b: u64) {
        for (x, y) in [(a, b), (b, a)] {
            if let Some(p) = self.get(x) {
                lock(&p.relations).links.remove(&y);
            }
        }
    }

    /// `watcher` monitors `target` under `reference`; if the target has ended
    /// the down message (reason `noproc`) is sent at once.
    pub fn monitor(&self, watcher: u64, target: u64, reference: u64) {
        if let Some(p) = self.get(target) {
            let mut r = lock(&p.relations);
            if r.alive {
                r.monitors.insert(reference, watcher);
                self.monitor_count.fetch_add(1, Ordering::Relaxed);
                return;
            }
        }
        self.send(watcher, down(reference, target, &ExitReason::NoProc));
    }

    /// Removes a monitor from its target, if both are still there.
    pub fn demonitor(&self, target: u64, reference: u64) {
        if let Some(p) = self.get(target) {
            if lock(&p.relations).monitors.remove(&reference).is_some() {
                self.monitor_count.fetch_sub(1, Ordering::Relaxed);
            }
        }
    }

    /// How many monitors are in place.
    pub fn monitor_count(&self) -> usize {
        self.monitor_count.load(Ordering::Relaxed)
    }

    /// Sends `target` an exit signal from `from` (`process.send-exit`):
    /// acted on like a linked process's exit, without a link.
    pub fn send_exit(&self, from: u64, target: u64, reason: ExitReason) {
        if let Some(p) = self.get(target) {
            p.inbox.signal(Control::Exit {
                from,
                reason,
                linked: false,
            });
        }
    }

    /// Ends `target` with reason `killed`, which it cannot trap.
    pub fn kill(&self, target: u64) {
        if let Some(p) = self.get(target) {
            p.inbox.signal(Control::Kill);
        }
    }

    /// Kills every process (used when the VM is dropped).
    pub fn kill_all(&self) {
        for p in self.processes.all() {
            p.inbox.signal(Control::Kill);
        }
    }

    /// Registers `name` for `target`. Fails with `not-found` if it has
    /// ended, `already-registered` if a live process holds the name,
    /// `invalid-argument` for a name longer than [`MAX_NAME_LEN`] and
    /// `limit-reached` if the target holds [`MAX_NAMES`] names.
    pub fn register(&self, name: &str, target: u64) -> Result<(), vm_abi::ErrorCode> {
        if name.len() > MAX_NAME_LEN {
            return Err(vm_abi::ErrorCode::InvalidArgument);
        }
        let Some(p) = self.get(target) else {
            return Err(vm_abi::ErrorCode::NotFound);
        };
        let mut registry = lock(&self.registry);
        if let Some(holder) = registry.get(name) {
            if self.get(*holder).is_some() {
                return Err(vm_abi::ErrorCode::AlreadyRegistered);
            }
        }
        let mut r = lock(&p.relations);
        if !r.alive {
            return Err(vm_abi::ErrorCode::NotFound);
        }
        if r.names.len() >= MAX_NAMES {
            return Err(vm_abi::ErrorCode::LimitReached);
        }
        r.names.push(name.to_string());
        registry.insert(name.to_string(), target);
        Ok(())
    }

    pub fn lookup(&self, name: &str) -> Option<u64> {
        lock(&self.registry).get(name).copied()
    }

    pub fn unregister(&self, name: &str) -> bool {
        let Some(id) = lock(&self.registry).remove(name) else {
            return false;
        };
        if let Some(p) = self.get(id) {
            lock(&p.relations).names.retain(|n| n != name);
        }
        true
    }

    /// Delivers `m` to `target` after `delay`; returns the timer reference.
    /// Until it fires, the message counts against the target's mailbox, and
    /// a timer that would take the mailbox past its limit ends the target,
    /// as a send would. A timer to a process that has ended (or ends before
    /// it fires) is cancelled.
    pub fn send_after(
        self: &Arc<Node>,
        target: u64,
        m: Message,
        delay: std::time::Duration,
    ) -> u64 {
        let reference = self.fresh_ref();
        let Some(entry) = self.get(target) else {
            return reference;
        };
        let cost = m.cost();
        if !entry.inbox.reserve(cost, self.config.max_mailbox) {
            return reference;
        }
        // Registered before the task starts, so a zero delay cannot fire
        // before it is; the task is filled in below. In the node's books
        // first, so that if the target ends from here on, its exit finds
        // the timer there too.
        lock(&self.timers).insert(reference, target);
        {
            let mut r = lock(&entry.relations);
            if !r.alive {
                drop(r);
                lock(&self.timers).remove(&reference);
                entry.inbox.release(cost);
                return reference;
            }
            r.timers
                .insert(reference, PendingTimer { cost, task: None });
        }
        let node = Arc::downgrade(self);
        let task = self.scheduler.spawn(async move {
            tokio::time::sleep(delay).await;
            if let Some(node) = node.upgrade() {
                node.fire_timer(target, reference, m);
            }
        });
        match lock(&entry.relations).timers.get_mut(&reference) {
            Some(pending) => pending.task = Some(task),
            // Fired (dropping a finished task does nothing), cancelled, or
            // its target ended: dropping the task cancels it and frees its
            // message now rather than after the delay.
            None => drop(task),
        }
        reference
    }

    /// Delivers a timer's message, unless it was cancelled.
    fn fire_timer(&self, target: u64, reference: u64, m: Message) {
        lock(&self.timers).remove(&reference);
        let Some(entry) = self.get(target) else {
            return;
        };
        let pending = lock(&entry.relations).timers.remove(&reference);
        if let Some(pending) = pending {
            // Dropping its own handle would cancel it: let it finish.
            if let Some(task) = pending.task {
                task.detach();
            }
            entry.inbox.push_reserved(m);
        }
    }

    /// How many timers are pending.
    pub fn timer_count(&self) -> usize {
        lock(&self.timers).len()
    }

    /// Cancels a timer; true if it had not fired.
    pub fn cancel_timer(&self, reference: u64) -> bool {
        let Some(target) = lock(&self.timers).remove(&reference) else {
            return false;
        };
        let Some(entry) = self.get(target) else {
            return false;
        };
        let pending = lock(&entry.relations).timers.remove(&reference);
        match pending {
            // Dropping the task cancels it.
            Some(pending) => {
                entry.inbox.release(pending.cost);
                true
            }
            None => false,
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
        self.processes.remove(entry.id);
        {
            let mut registry = lock(&self.registry);
            for name in &relations.names {
                if registry.get(name) == Some(&entry.id) {
                    registry.remove(name);
                }
            }
        }
        // Each linked process removes its side of the link when it handles
        // the signal (unless it unlinked first, and then ignores it).
        for linked in relations.links {
            if let Some(p) = self.get(linked) {
                p.inbox.signal(Control::Exit {
                    from: entry.id,
                    reason: reason.clone(),
                    linked: true,
                });
            }
        }
        self.monitor_count
            .fetch_sub(relations.monitors.len(), Ordering::Relaxed);
        for (reference, watcher) in relations.monitors {
            self.send(watcher, down(reference, entry.id, reason));
        }
        if !relations.timers.is_empty() {
            let mut timers = lock(&self.timers);
            for reference in relations.timers.keys() {
                timers.remove(reference);
            }
        }
        // Dropping the pending timers' tasks cancels them.
    }
}

fn down(reference: u64, process: u64, reason: &ExitReason) -> Message {
    Message {
        kind: MessageKind::Down,
        tag: reference,
        sender: process,
        data: reason.encode().into(),
        resources: Vec::new(),
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
        let entry = ProcessEntry {
            id: 1,
            inbox: Inbox::default(),
            trap_exits: AtomicBool::new(false),
            relations: Mutex::default(),
            resumed_at: AtomicU64::new(0),
        };
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
