//! The process scheduler: worker threads that run processes, keeping a chain
//! of messages on one core and a socket's wakes on the core that serves it.
//!
//! Each worker has a run queue and a `next` slot. A process woken by a
//! process running on a worker goes to that worker's `next` slot, so the
//! receiver of a message runs right after the sender stops, on the same core,
//! with the message still in cache (Erlang's schedulers and tokio's LIFO
//! slot do the same). What the slot held moves to the run queue, and only the
//! run queue is shared: an idle worker steals from it, never from the slot.
//! So a ring or a ping-pong stays on one core, while a backlog of runnable
//! processes spreads over every worker.
//!
//! Tokio's multi-thread scheduler has the slot too, but after three polls
//! from it in a row the next wake goes to the queue and wakes a parked
//! worker, which steals the chain: a message chain then bounces between
//! cores every few hops.
//! Here a chain runs from the slot up to `CHAIN_LIMIT` times in a row and
//! then yields to the queue without waking anyone, so processes waiting in
//! the queue still get their turn.
//!
//! The workers share one single-threaded tokio runtime for I/O and timers,
//! entered on every worker for its life, so a socket or timer belongs to no
//! worker in particular. Whichever worker runs out of work first waits in
//! the runtime's driver (tokio lets one thread at a time drive it; another
//! worker that parks meanwhile waits on its own parker). Busy workers poll
//! the driver without blocking between tasks (every `DRIVER_INTERVAL`
//! tasks) when no idle worker holds it. A readiness event thus wakes its
//! process on the worker that polled it, the idle one when there is one,
//! and wakes from elsewhere (the embedder, blocking threads) go to a shared
//! injector queue. This is tokio's own arrangement, and it keeps a socket
//! from being tied to the worker that accepted it: a worker that owned its
//! sockets would have to wake another for almost every burst of events
//! when many connections are busy.

use async_task::{Runnable, ScheduleInfo, WithInfo};
use crossbeam_deque::{Injector, Steal, Stealer, Worker};
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::rc::Rc;
use std::sync::atomic::{fence, AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::Thread;
use tokio::sync::Notify;

/// How many times in a row a worker runs its `next` slot before it takes
/// the oldest task of its queue instead.
const CHAIN_LIMIT: u32 = 64;

/// How often (in tasks run) a worker looks at the injector before its own
/// queue, so wakes from other threads are not starved by local work. A power
/// of two.
const INJECTOR_INTERVAL: u32 = 32;

/// How often (in tasks run) a busy worker polls its I/O and timer driver
/// without blocking, as tokio's own workers do. A power of two. A worker also
/// polls it after a process used up its time slice, so a busy process delays
/// sockets and timers by one slice at most.
const DRIVER_INTERVAL: u32 = 64;

/// Runs futures on a fixed set of worker threads. Dropping it stops the
/// workers once they finish the task at hand; tasks not yet run are dropped.
pub struct Scheduler {
    shared: Arc<Shared>,
}

struct Shared {
    injector: Injector<Runnable>,
    stealers: Vec<Stealer<Runnable>>,
    /// One per worker: notified to end its park.
    parkers: Vec<Notify>,
    /// Indices of parked workers.
    sleepers: Mutex<Vec<usize>>,
    sleeping: AtomicUsize,
    /// Workers looking for work; while one does, nobody needs waking.
    searching: AtomicUsize,
    shutdown: AtomicBool,
    /// A thread that sleeps while every worker is idle, unparked whenever
    /// one wakes (the epoch ticker).
    idle_watcher: OnceLock<Thread>,
}

/// A worker's own state, reachable from `schedule` on its thread.
struct Local {
    shared: Arc<Shared>,
    index: usize,
    queue: Worker<Runnable>,
    next: Cell<Option<Runnable>>,
    /// The I/O and timer driver every worker shares (see the module docs).
    /// Only workers hold it, so the last one to stop drops it, outside any
    /// runtime: a `Scheduler` may be dropped inside another async runtime
    /// (a `Vm` dropped in an embedder's task), where tokio refuses to shut
    /// a runtime down.
    runtime: Arc<tokio::runtime::Runtime>,
    /// Whether the worker is parked, so a wake it makes itself while it
    /// drives the shared driver must end the wait.
    parked: Cell<bool>,
    /// Whether a task used up its time slice since the driver last ran.
    driver_due: Cell<bool>,
}

thread_local! {
    static LOCAL: RefCell<Option<Rc<Local>>> = const { RefCell::new(None) };
}

impl Scheduler {
    /// Starts `threads` workers (at least one).
    pub fn new(threads: usize) -> std::io::Result<Scheduler> {
        let threads = threads.max(1);
        let queues: Vec<Worker<Runnable>> = (0..threads).map(|_| Worker::new_fifo()).collect();
        let shared = Arc::new(Shared {
            injector: Injector::new(),
            stealers: queues.iter().map(Worker::stealer).collect(),
            parkers: (0..threads).map(|_| Notify::new()).collect(),
            sleepers: Mutex::new(Vec::with_capacity(threads)),
            sleeping: AtomicUsize::new(0),
            searching: AtomicUsize::new(0),
            shutdown: AtomicBool::new(false),
            idle_watcher: OnceLock::new(),
        });
        let runtime = Arc::new(
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?,
        );
        let scheduler = Scheduler { shared };
        for (index, queue) in queues.into_iter().enumerate() {
            let shared = scheduler.shared.clone();
            let runtime = runtime.clone();
            // On failure, dropping `scheduler` stops the workers started.
            std::thread::Builder::new()
                .name(format!("vm-worker-{index}"))
                .spawn(move || {
                    let local = Rc::new(Local {
                        shared,
                        index,
                        queue,
                        next: Cell::new(None),
                        runtime,
                        parked: Cell::new(false),
                        driver_due: Cell::new(false),
                    });
                    let context = local.runtime.enter();
                    LOCAL.with_borrow_mut(|l| *l = Some(local.clone()));
                    local.run();
                    LOCAL.with_borrow_mut(|l| *l = None);
                    drop(context);
                })?;
        }
        Ok(scheduler)
    }

    /// A probe that tells whether every worker is parked (no process runs),
    /// for a thread that only has work while processes run.
    pub fn idle_probe(&self) -> impl Fn() -> bool + Send + 'static {
        let shared = self.shared.clone();
        move || shared.sleeping.load(Ordering::SeqCst) == shared.parkers.len()
    }

    /// Has `thread` unparked whenever a worker stops waiting (see
    /// [`Scheduler::idle_probe`]).
    pub fn set_idle_watcher(&self, thread: Thread) {
        let _ = self.shared.idle_watcher.set(thread);
    }

    /// Runs `future` on the workers; dropping the task cancels it, and
    /// detaching it lets it run to its end.
    pub fn spawn(&self, future: impl Future<Output = ()> + Send + 'static) -> async_task::Task<()> {
        let shared = self.shared.clone();
        let schedule = move |runnable, info: ScheduleInfo| shared.schedule(runnable, info);
        let (runnable, task) = async_task::Builder::new()
            // A panic ends the task, not the worker.
            .propagate_panic(true)
            .spawn(move |_| future, WithInfo(schedule));
        runnable.schedule();
        task
    }
}

impl Drop for Scheduler {
    fn drop(&mut self) {
        self.shared.shutdown.store(true, Ordering::SeqCst);
        for parker in &self.shared.parkers {
            parker.notify_one();
        }
        // Tasks still queued hold the shared state through their wakers:
        // cancel them, or the two would keep each other alive.
        while !self.shared.injector.is_empty() {
            drop(self.shared.injector.steal());
        }
    }
}

impl Shared {
    fn schedule(self: &Arc<Shared>, runnable: Runnable, info: ScheduleInfo) {
        let mut runnable = Some(runnable);
        // Off a worker (or while its thread ends), the injector takes it.
        let _ = LOCAL.try_with(|local| match &*local.borrow() {
            Some(local) if Arc::ptr_eq(&local.shared, self) => {
                if let Some(r) = runnable.take() {
                    local.push(r, info.woken_while_running);
                }
            }
            _ => {}
        });
        if let Some(runnable) = runnable {
            self.injector.push(runnable);
            self.wake_one();
        }
    }

    /// Wakes a parked worker for work just queued, unless one is already
    /// looking.
    fn wake_one(&self) {
        // Pairs with the fence in `park`: either this sees the sleeper, or
        // the sleeper's last look sees the work.
        fence(Ordering::SeqCst);
        if self.sleeping.load(Ordering::SeqCst) == 0 || self.searching.load(Ordering::SeqCst) > 0 {
            return;
        }
        let woken = {
            let mut sleepers = crate::sync::lock(&self.sleepers);
            let woken = sleepers.pop();
            if woken.is_some() {
                self.sleeping.fetch_sub(1, Ordering::SeqCst);
            }
            woken
        };
        if let Some(i) = woken {
            self.parkers[i].notify_one();
        }
    }

    /// Takes work from the injector or another worker's queue.
    fn steal(&self, local: &Local) -> Option<Runnable> {
        loop {
            let mut retry = false;
            match self.injector.steal_batch_and_pop(&local.queue) {
                Steal::Success(r) => return Some(r),
                Steal::Retry => retry = true,
                Steal::Empty => {}
            }
            let n = self.stealers.len();
            for k in 1..n {
                match self.stealers[(local.index + k) % n].steal_batch_and_pop(&local.queue) {
                    Steal::Success(r) => return Some(r),
                    Steal::Retry => retry = true,
                    Steal::Empty => {}
                }
            }
            if !retry {
                return None;
            }
        }
    }
}

impl Local {
    fn push(&self, runnable: Runnable, yielded: bool) {
        if self.parked.replace(false) {
            // Woken by this worker's own driver while it waits there.
            self.shared.parkers[self.index].notify_one();
        }
        if yielded {
            // A process giving up its turn goes behind the others; waking a
            // worker only makes sense if there are others.
            self.driver_due.set(true);
            self.queue.push(runnable);
            if self.queue.len() > 1 {
                self.shared.wake_one();
            }
        } else if let Some(previous) = self.next.replace(Some(runnable)) {
            self.queue.push(previous);
            self.shared.wake_one();
        }
    }

    fn run(&self) {
        let shared = &*self.shared;
        let mut chain = 0u32;
        let mut ticks = 0u32;
        while !shared.shutdown.load(Ordering::Relaxed) {
            ticks = ticks.wrapping_add(1);
            if self.driver_due.take() || ticks & (DRIVER_INTERVAL - 1) == 0 {
                self.poll_driver();
            }
            let task = self.find(&mut chain, ticks).or_else(|| self.search());
            match task {
                Some(runnable) => {
                    runnable.run();
                }
                None => self.park(),
            }
        }
        // Tasks left behind are dropped (cancelled) with their queues.
        drop(self.next.take());
        while self.queue.pop().is_some() {}
    }

    /// Local work: the `next` slot (within the chain limit), else the queue,
    /// with a regular look at the injector.
    fn find(&self, chain: &mut u32, ticks: u32) -> Option<Runnable> {
        if let Some(r) = self.next.take() {
            if *chain < CHAIN_LIMIT {
                *chain += 1;
                return Some(r);
            }
            self.queue.push(r);
        }
        *chain = 0;
        if ticks & (INJECTOR_INTERVAL - 1) == 0 {
            if let Steal::Success(r) = self.shared.injector.steal() {
                return Some(r);
            }
        }
        self.queue.pop()
    }

    /// Lets the shared runtime handle the I/O events and timers that are
    /// due, without blocking; their wakes land in this worker's queues. If
    /// an idle worker drives the runtime, this returns at once: that worker
    /// handles them.
    fn poll_driver(&self) {
        self.runtime.block_on(tokio::task::yield_now());
    }

    /// Looks once for work elsewhere. It does not spin before parking:
    /// spinning does not shorten message chains, and it takes CPU from
    /// whatever shares the machine's cores.
    fn search(&self) -> Option<Runnable> {
        let shared = &*self.shared;
        shared.searching.fetch_add(1, Ordering::SeqCst);
        let found = shared.steal(self);
        shared.searching.fetch_sub(1, Ordering::SeqCst);
        found
    }

    /// Waits until woken, unless work arrived while registering as a
    /// sleeper: in the shared driver, where an I/O event or timer can wake
    /// it, or, while another worker drives it, on the worker's own parker,
    /// taking the driver over if it comes free before anything wakes it.
    fn park(&self) {
        let shared = &*self.shared;
        {
            let mut sleepers = crate::sync::lock(&shared.sleepers);
            sleepers.push(self.index);
            shared.sleeping.fetch_add(1, Ordering::SeqCst);
        }
        fence(Ordering::SeqCst);
        let work_waiting = !shared.injector.is_empty()
            || shared.stealers.iter().any(|s| !s.is_empty())
            || shared.shutdown.load(Ordering::SeqCst);
        if !work_waiting {
            self.parked.set(true);
            self.runtime.block_on(shared.parkers[self.index].notified());
            self.parked.set(false);
        }
        // Woken, or never slept: make sure we are off the list.
        {
            let mut sleepers = crate::sync::lock(&shared.sleepers);
            if let Some(at) = sleepers.iter().position(|&i| i == self.index) {
                sleepers.swap_remove(at);
                shared.sleeping.fetch_sub(1, Ordering::SeqCst);
            }
        }
        if let Some(watcher) = shared.idle_watcher.get() {
            watcher.unpark();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::sync::mpsc;
    use std::time::{Duration, Instant};

    fn worker_name() -> String {
        std::thread::current().name().unwrap_or("").to_string()
    }

    /// Busy processes in a backlog spread over every worker.
    #[test]
    fn a_backlog_of_busy_tasks_uses_every_worker() {
        let s = Scheduler::new(2).unwrap();
        let (tx, rx) = mpsc::channel();
        for _ in 0..200 {
            let tx = tx.clone();
            s.spawn(async move {
                let start = Instant::now();
                while start.elapsed() < Duration::from_millis(1) {
                    std::hint::spin_loop();
                }
                tx.send(worker_name()).unwrap();
            })
            .detach();
        }
        let names: std::collections::HashSet<String> =
            (0..200).map(|_| rx.recv().unwrap()).collect();
        assert_eq!(names.len(), 2, "ran on {names:?}");
    }

    /// Two tasks waking each other in turn (a ping-pong of messages) run on
    /// the same worker, though another is free.
    #[test]
    fn a_chain_of_wakes_stays_on_one_worker() {
        let s = Scheduler::new(2).unwrap();
        let (to_b, mut b_rx) = tokio::sync::mpsc::unbounded_channel::<u32>();
        let (to_a, mut a_rx) = tokio::sync::mpsc::unbounded_channel::<u32>();
        let (done, finished) = mpsc::channel();
        let hops = 10_000;
        s.spawn(async move {
            let mut seen = HashMap::<String, u32>::new();
            while let Some(n) = b_rx.recv().await {
                *seen.entry(worker_name()).or_default() += 1;
                if n >= hops {
                    break;
                }
                to_a.send(n + 1).unwrap();
            }
            done.send(seen).unwrap();
        })
        .detach();
        s.spawn(async move {
            to_b.send(1).unwrap();
            while let Some(n) = a_rx.recv().await {
                if to_b.send(n + 1).is_err() {
                    break;
                }
            }
        })
        .detach();
        let seen = finished.recv().unwrap();
        let most = seen.values().max().copied().unwrap_or(0);
        // Not every hop: a worker that just went idle may take the chain when
        // it yields to the queue.
        assert!(most >= hops / 2 * 9 / 10, "hops per worker: {seen:?}");
    }

    /// A task that always yields does not keep others from running.
    #[test]
    fn a_task_that_keeps_yielding_does_not_starve_others() {
        let s = Scheduler::new(1).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let spinning = stop.clone();
        s.spawn(async move {
            while !spinning.load(Ordering::Relaxed) {
                tokio::task::yield_now().await;
            }
        })
        .detach();
        let (tx, rx) = mpsc::channel();
        s.spawn(async move { tx.send(()).unwrap() }).detach();
        rx.recv_timeout(Duration::from_secs(10))
            .expect("the second task ran");
        stop.store(true, Ordering::Relaxed);
    }

    /// A timer made on a worker that then stays busy still fires: an idle
    /// worker drives it (sockets and timers belong to no one worker).
    #[test]
    fn an_idle_worker_drives_the_timers_of_a_busy_one() {
        let s = Scheduler::new(2).unwrap();
        let (timer_tx, timer_rx) = mpsc::channel();
        let busy_done = Arc::new(AtomicBool::new(false));
        let done = busy_done.clone();
        s.spawn(async move {
            // Made on the worker that then stays busy.
            timer_tx
                .send(Box::pin(tokio::time::sleep(Duration::from_millis(1))))
                .unwrap();
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(1) {
                std::hint::spin_loop();
            }
            done.store(true, Ordering::SeqCst);
        })
        .detach();
        let timer = timer_rx.recv().unwrap();
        let (tx, rx) = mpsc::channel();
        s.spawn(async move {
            timer.await;
            tx.send(busy_done.load(Ordering::SeqCst)).unwrap();
        })
        .detach();
        let busy_was_done = rx.recv_timeout(Duration::from_secs(10)).unwrap();
        assert!(!busy_was_done, "the timer waited for its busy worker");
    }

    /// A scheduler dropped inside another async runtime (a `Vm` dropped
    /// in an embedder's task) stops without a panic: tokio refuses to shut
    /// a runtime down there, so the driver must not go down with it.
    #[test]
    fn a_scheduler_dropped_inside_an_async_runtime_stops_cleanly() {
        let embedder = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        embedder.block_on(async {
            for _ in 0..200 {
                let s = Scheduler::new(2).unwrap();
                let (tx, rx) = mpsc::channel();
                s.spawn(async move {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                    tx.send(()).unwrap();
                })
                .detach();
                rx.recv_timeout(Duration::from_secs(10)).unwrap();
                drop(s);
            }
        });
    }

    /// Timers and wakes from tokio's threads reach the workers.
    #[test]
    fn tasks_use_tokio_timers() {
        let s = Scheduler::new(2).unwrap();
        let (tx, rx) = mpsc::channel();
        s.spawn(async move {
            tokio::time::sleep(Duration::from_millis(5)).await;
            tx.send(worker_name()).unwrap();
        })
        .detach();
        let name = rx.recv_timeout(Duration::from_secs(10)).unwrap();
        assert!(name.starts_with("vm-worker-"), "woke on {name}");
    }
}
