//! The VM's actor kernel: processes and what relates them, with Erlang's
//! semantics, knowing nothing of wasm.
//!
//! A [`Kernel`] owns the process table and the [`scheduler`], starts
//! processes (each a future its embedder supplies), delivers messages and
//! records exits. Each relation between processes is a module of its own:
//! [`links`] (links, monitors and exit signals), [`registry`] (names) and
//! [`timers`] (`send_after`); [`entry`] is the part of a process others can
//! reach, [`mailbox`] its queue with selective receive, [`process`] the
//! side only the process touches (its receive, links, monitors), [`budget`]
//! what the host holds for it, and [`signal`] why it ends. [`actor`] runs
//! processes written in Rust.
//!
//! What runs inside a process is the embedder's: the reference VM runs a
//! wasm instance there, the kernel's own tests and the Erlang oracle run
//! plain Rust. Messages carry bytes and, besides them, attachments of the
//! embedder's type `R` (the VM's handles), of which the kernel only knows
//! their cost ([`Attachment`]).
//!
//! Process ids carry their node in their top 16 bits (0 for a kernel on
//! its own), so that ids stay unique when several VMs exchange messages:
//! [`remote`] is where another node attaches.

#![warn(missing_docs)]

pub mod actor;
pub mod budget;
pub mod entry;
pub mod global;
pub mod links;
pub mod mailbox;
pub mod message;
pub mod process;
pub mod registry;
pub mod remote;
pub mod scheduler;
pub mod signal;
pub mod sync;
pub mod table;
pub mod timers;

pub use budget::{Budget, Charge, HostBudget, Refusal};
pub use entry::ProcessEntry;
pub use mailbox::{Inbox, Mailbox, Refused};
pub use message::{Attachment, Filter, Message, Payload};
pub use signal::{Control, ExitReason};

use scheduler::Scheduler;
use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use sync::lock;
use table::ProcessTable;

/// The bounds a kernel keeps.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// How many processes may live at once.
    pub max_processes: u32,
    /// What the host may hold for one process, in bytes (`--max-mailbox`).
    pub max_mailbox: usize,
    /// What the host may hold for every process together, in bytes
    /// (`--max-host-memory`).
    pub max_host_memory: usize,
    /// How many worker threads run processes.
    pub worker_threads: usize,
}

/// One VM's live processes and what relates them.
///
/// Processes' tasks hold their kernel: kill them ([`Kernel::shutdown`],
/// [`Kernel::kill_all`]) before letting go of it, as the VM does when it
/// is dropped, or the kernel and its workers live on with them.
pub struct Kernel<R> {
    limits: Limits,
    processes: ProcessTable<ProcessEntry<R>>,
    /// The VM-wide bound on what the host holds for processes.
    host: Arc<HostBudget>,
    registry: registry::Names,
    /// Global names this node's processes hold ([`global`]).
    globals: registry::Names,
    /// Pending timers' targets and setters, by timer reference (the timer
    /// itself is kept with its target).
    timers: Mutex<HashMap<u64, (u64, u64)>>,
    /// How many monitors are in place, over all processes.
    monitor_count: AtomicUsize,
    /// Told whenever the last live process ends.
    all_ended: tokio::sync::Notify,
    /// Work outside any process that still holds what processes paid for:
    /// exits giving back what their process held, timers firing. "Every
    /// process has ended" waits for these too ([`InFlight`]).
    in_flight: AtomicUsize,
    /// How many [`Kernel::shutdown`]s are under way: a process started
    /// meanwhile is killed as it starts, so killing every process cannot be
    /// outrun by one that spawns without pause.
    closing: AtomicUsize,
    next_id: AtomicU64,
    next_ref: AtomicU64,
    scheduler: Scheduler,
    /// The node slot and the way to other nodes, once joined to a cluster.
    remote: OnceLock<remote::Attached>,
    /// Monitors local processes hold on processes of other nodes:
    /// reference → (watcher, target), for the `down` a node's loss sends.
    remote_monitors: Mutex<HashMap<u64, (u64, u64)>>,
    /// Monitors on nodes (ABI 1.8): reference → (node, watcher).
    node_monitors: Mutex<HashMap<u64, (u16, u64)>>,
}

impl<R: Attachment> Kernel<R> {
    /// A kernel with no process, and its worker threads.
    pub fn new(limits: Limits) -> std::io::Result<Arc<Kernel<R>>> {
        Ok(Arc::new(Kernel {
            limits,
            processes: ProcessTable::default(),
            host: HostBudget::new(limits.max_host_memory),
            registry: Mutex::new(HashMap::new()),
            globals: Mutex::new(HashMap::new()),
            timers: Mutex::new(HashMap::new()),
            monitor_count: AtomicUsize::new(0),
            all_ended: tokio::sync::Notify::new(),
            in_flight: AtomicUsize::new(0),
            closing: AtomicUsize::new(0),
            next_id: AtomicU64::new(1),
            next_ref: AtomicU64::new(1 << 63),
            scheduler: Scheduler::new(limits.worker_threads)?,
            remote: OnceLock::new(),
            remote_monitors: Mutex::new(HashMap::new()),
            node_monitors: Mutex::new(HashMap::new()),
        }))
    }

    /// The bounds the kernel keeps.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The worker threads that run processes (and timers).
    pub fn scheduler(&self) -> &Scheduler {
        &self.scheduler
    }

    /// The VM-wide bound on what the host holds for processes.
    pub fn host(&self) -> &Arc<HostBudget> {
        &self.host
    }

    /// A fresh reference for monitors, timers and `mailbox.fresh-tag`: one
    /// sequence from the upper half of the tag space, so a reference never
    /// equals another, nor a small tag a program chose itself.
    pub fn fresh_ref(&self) -> u64 {
        self.next_ref.fetch_add(1, Ordering::Relaxed)
    }

    /// The live process `id`.
    pub fn get(&self, id: u64) -> Option<Arc<ProcessEntry<R>>> {
        self.processes.get(id)
    }

    /// A fresh budget for a process, within the VM's.
    pub fn new_budget(&self) -> Arc<Budget> {
        Budget::new(self.limits.max_mailbox, &self.host)
    }

    /// How many processes live.
    pub fn process_count(&self) -> usize {
        self.processes.len()
    }

    /// Reserves room for one more process under [`Limits::max_processes`];
    /// false at the limit. A reservation is used by [`Kernel::start`] or
    /// given back with [`Kernel::unreserve`].
    pub fn reserve(&self) -> bool {
        self.processes.reserve(self.limits.max_processes as usize)
    }

    /// Gives back a reservation for a spawn that will not happen.
    pub fn unreserve(&self) {
        self.processes.unreserve();
    }

    /// Starts a process, for which room was [reserved](Kernel::reserve),
    /// and returns its id. `init` is queued first (charged to whoever paid
    /// for it); `link` links it to its spawner, which paid that charge for
    /// the link. The process is in the table (and linked) before its task
    /// starts and before this returns, so a message sent to it right away
    /// is not lost. `run` makes its task from its entry; the task must call
    /// [`ProcessEntry::poll_end`] each time it is polled, before it runs
    /// the process (or signals never take effect), and [`Kernel::exit`]
    /// when the process ends, however it ends ([`actor`] does both).
    pub fn start<F>(
        &self,
        init: Option<Message<R>>,
        link: Option<(u64, Charge)>,
        run: impl FnOnce(Arc<ProcessEntry<R>>) -> F,
    ) -> u64
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let entry = Arc::new(ProcessEntry::new(id, self.new_budget()));
        if let Some(init) = init {
            entry.inbox.push_charged(init);
        }
        self.processes.insert(entry.id, entry.clone());
        // After the insert: a shutdown that began before it either saw the
        // entry in the table (and kills it) or is seen here.
        if self.closing.load(Ordering::SeqCst) > 0 {
            entry.inbox.signal(Control::Kill);
        }
        if let Some((parent, charge)) = link {
            if self.is_remote(parent) {
                // A spawn another node asked for: linked here, and there
                // by the signal, which goes before anything the new
                // process sends (a parent that has ended answers `noproc`).
                lock(&entry.relations).links.insert(parent, charge);
                self.post(remote::Signal::Link {
                    from: entry.id,
                    to: parent,
                });
            } else {
                // The parent is calling us, so it is alive; link both ways.
                self.link_child(parent, &entry, charge);
            }
        }
        self.scheduler.spawn(run(entry)).detach();
        id
    }

    /// Sends one of the VM's own messages (a `down`, a timer's); a missing
    /// process is not an error (Erlang semantics).
    pub fn send(&self, target: u64, m: Message<R>) {
        let _ = self.deliver(target, m, false);
    }

    /// Sends a process's message; a missing process is not an error (Erlang
    /// semantics). The message is given back if it would take the VM past
    /// its bound (`--max-host-memory`). Attachments cannot go to a process
    /// of another node ([`Kernel::is_remote`]): the embedder refuses such a
    /// send before it gets here (here they would be dropped).
    pub fn send_from_guest(&self, target: u64, m: Message<R>) -> Result<(), Box<Refused<R>>> {
        self.deliver(target, m, true)
    }

    fn deliver(
        &self,
        target: u64,
        m: Message<R>,
        sent_by_guest: bool,
    ) -> Result<(), Box<Refused<R>>> {
        if let Some((node, remote)) = self.remote_for(target) {
            let signal = remote::Signal::Message {
                from: m.sender,
                to: target,
                kind: m.kind,
                tag: m.tag,
                data: m.data.to_vec(),
            };
            return match remote.post(node, signal, sent_by_guest) {
                Err(refusal) if sent_by_guest => Err(Box::new(Refused {
                    message: m,
                    refusal,
                })),
                _ => Ok(()),
            };
        }
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

    /// What the host holds for every process now, in bytes.
    pub fn host_held(&self) -> usize {
        self.host.held()
    }

    /// Ends `target` with reason `killed`, which it cannot trap; `from`
    /// asked (the signal to another node names it).
    pub fn kill(&self, from: u64, target: u64) {
        if self.remote_for(target).is_some() {
            self.post(remote::Signal::Kill { from, to: target });
            return;
        }
        if let Some(p) = self.get(target) {
            p.inbox.signal(Control::Kill);
        }
    }

    /// Kills every process and waits until all have ended (processes
    /// started meanwhile are killed too).
    pub async fn shutdown(&self) {
        /// Ends the shutdown's count, however it ends (its future may be
        /// dropped while it waits).
        struct Closing<'a>(&'a AtomicUsize);
        impl Drop for Closing<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::SeqCst);
            }
        }
        // Before the table is read, so a start the reading misses sees it.
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
    pub fn exit(&self, entry: &ProcessEntry<R>, reason: &ExitReason) {
        let relations = {
            let mut r = lock(&entry.relations);
            r.alive = false;
            std::mem::take(&mut *r)
        };
        // Before it leaves the table, so no one finds every process gone
        // while what it held is still being given back.
        let _in_flight = self.in_flight();
        entry.inbox.close();
        self.processes.remove(entry.id);
        self.forget_names(registry::Scope::Local, entry.id, &relations.names);
        self.release_global_names(entry.id, &relations.global_names);
        if !relations.node_monitors.is_empty() {
            self.demonitor_nodes(&relations.node_monitors);
        }
        // Its timers go (their messages and charges with them) before
        // anyone hears of the end.
        self.forget_timers(relations.timers.keys());
        drop(relations.timers);
        self.cancel_set_timers(relations.set_timers);
        let reason = &reason.clone().capped();
        self.signal_links(entry.id, relations.links, reason);
        self.notify_monitors(entry.id, relations.monitors, reason);
        // `_in_flight` goes last, so whoever waits for every process to end
        // finds all they held given back.
    }

    /// Marks work that holds what processes paid for outside any process,
    /// until the mark is dropped: [`Kernel::shutdown`] waits for it.
    pub(crate) fn in_flight(&self) -> InFlight<'_, R> {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        InFlight(self)
    }

    /// Whether no process is alive and no work holds what one paid for.
    fn all_gone(&self) -> bool {
        self.processes.is_empty() && self.in_flight.load(Ordering::SeqCst) == 0
    }
}

/// Work in flight ([`Kernel::in_flight`]); dropping it tells a waiting
/// [`Kernel::shutdown`] if it was the last thing it waited for.
pub(crate) struct InFlight<'a, R: Attachment>(&'a Kernel<R>);

impl<R: Attachment> Drop for InFlight<'_, R> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
        if self.0.all_gone() {
            self.0.all_ended.notify_waiters();
        }
    }
}
