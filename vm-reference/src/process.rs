//! A process: one instance of a module with its own memory, mailbox and
//! handles, running as one task on the VM's scheduler (`scheduler.rs`).
//!
//! The task instantiates the module, calls its entry point, and on every
//! poll first checks the signals in the process's inbox: a kill, or an exit
//! signal from a link when the process does not trap exits, ends it by
//! dropping the running call (wasm is preempted by epoch interruption, so even
//! a busy loop yields). However it ends, [`Node::exit`] then notifies links and
//! monitors, and a crash is reported on the VM's stderr.

use crate::handle::{HandleTable, Resource};
use crate::mailbox::Message;
use crate::module::Module;
use crate::node::{Node, ProcessEntry};
use crate::signal::ExitReason;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;
use tokio::sync::oneshot;
use wasmtime::{Memory, Store, UpdateDeadline};
use wasmtime_wasi::p1::WasiP1Ctx;

/// How a process starts.
#[derive(Clone)]
pub(crate) enum Start {
    /// A command module's `_start` (WASI), as the root process.
    Command,
    /// An export taking no argument or one `i32` (`takes_arg`), resolved
    /// with [`crate::module::Module::entry`].
    Export {
        /// The export.
        export: wasmtime::ModuleExport,
        /// Whether it takes `arg`.
        takes_arg: bool,
        /// The `i32` it is given, if it takes one.
        arg: u32,
    },
}

/// What a process that hibernates wakes with: where its fresh instance
/// starts, and its init message (its state and resources), charged to the
/// process while it sleeps.
pub(crate) struct Hibernation {
    pub start: Start,
    pub init: Message,
}

/// The longest text `version.last-error` keeps, in bytes.
const MAX_LAST_ERROR: usize = 1024;

/// The error `process.hibernate` raises to unwind the guest; the
/// [`Hibernation`] is in the process's state.
#[derive(Debug)]
pub(crate) struct HibernateRequest;

impl fmt::Display for HibernateRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("process hibernated")
    }
}

impl std::error::Error for HibernateRequest {}

/// The error `process.exit` raises to unwind the guest.
#[derive(Debug)]
pub(crate) struct ExitRequest(pub ExitReason);

impl fmt::Display for ExitRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "process exited ({})", self.0)
    }
}

impl std::error::Error for ExitRequest {}

/// The error raised when a process's memory would exceed its limit.
#[derive(Debug)]
pub(crate) struct MemoryLimitExceeded {
    pub limit: usize,
    pub desired: usize,
}

impl fmt::Display for MemoryLimitExceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "memory limit exceeded: the process asked for {} bytes of linear memory in all (its own and its plugins'), over its limit of {} bytes (raise it with --max-memory)",
            self.desired, self.limit
        )
    }
}

impl std::error::Error for MemoryLimitExceeded {}

/// Enforces `--max-memory` over every linear memory in the process's
/// store, its plugins' included, with an error that says so rather than a
/// bare failed `memory.grow`. A store's memories live as long as it does,
/// so the sum only grows until the store goes (a new one starts at 0).
pub(crate) struct MemoryLimiter {
    pub limit: usize,
    /// Bytes of linear memory the store holds.
    held: usize,
    /// The last growth allowed, taken back if it then fails.
    last: usize,
}

impl MemoryLimiter {
    /// A limiter for a fresh store.
    pub fn new(limit: usize) -> MemoryLimiter {
        MemoryLimiter {
            limit,
            held: 0,
            last: 0,
        }
    }
}

impl wasmtime::ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _max: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let grows = desired.saturating_sub(current);
        let total = self.held.saturating_add(grows);
        if total > self.limit {
            return Err(wasmtime::Error::new(MemoryLimitExceeded {
                limit: self.limit,
                desired: total,
            }));
        }
        self.held = total;
        self.last = grows;
        Ok(true)
    }

    /// Takes back the growth [`memory_growing`](Self::memory_growing) just
    /// allowed. (wasmtime reports a failure without asking first only for
    /// custom page sizes, which the engine turns off; were it to, `last`
    /// would be the previous growth, so it is taken once and saturates.)
    fn memory_grow_failed(&mut self, _error: wasmtime::Error) -> wasmtime::Result<()> {
        self.held = self.held.saturating_sub(std::mem::take(&mut self.last));
        Ok(())
    }

    fn table_growing(
        &mut self,
        _current: usize,
        _desired: usize,
        _max: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(true)
    }
}

/// The state of one process, kept in its wasmtime `Store`.
pub(crate) struct ProcessState {
    pub id: u64,
    pub node: Arc<Node>,
    pub entry: Arc<ProcessEntry>,
    pub module: Module,
    /// Its mailbox, the monitors it set and the tags it forgot: the
    /// kernel's rules for them.
    pub process: vm_kernel::process::Process<Resource>,
    /// The message the last receive selected, its read cursor, and its
    /// resources not yet taken.
    pub current: Option<(Message, usize)>,
    pub current_resources: Vec<Option<Resource>>,
    pub handles: HandleTable,
    /// The WASI context, made on the first WASI call: most spawned processes
    /// never make one, and an idle process should not pay for it. Boxed, so
    /// a process without one carries a pointer rather than its 384 bytes.
    wasi: Option<Box<WasiP1Ctx>>,
    /// The command-line arguments WASI reports (empty: the module's name).
    args: Vec<String>,
    pub limiter: MemoryLimiter,
    pub memory: Option<Memory>,
    pub last_error: String,
    /// Set by `process.hibernate` as it unwinds the guest (boxed: every
    /// process's state carries the field, few ever hibernate).
    pub hibernation: Option<Box<Hibernation>>,
    /// The process's plugin instances, by plugin index, each made on the
    /// process's first call to it.
    pub plugins: Vec<Option<Box<crate::plugin::PluginInstance>>>,
    /// Each wasm plugin instance's own WASI context, by plugin index: it
    /// shares the process's output and nothing else (no descriptors, no
    /// sockets, no files).
    plugin_wasi: Vec<Option<Box<WasiP1Ctx>>>,
    /// The plugin whose code is running (its WASI calls reach its own
    /// context), or `None` while the guest's is.
    pub running_plugin: Option<usize>,
    /// Set while a `cabi_realloc` allocates for a plugin call, when no
    /// import may be called (the canonical ABI's `may_leave`).
    pub allocating: bool,
    /// An import was called while a `cabi_realloc` allocated.
    pub left_realloc: bool,
}

impl ProcessState {
    /// Records the text of a failed call for `version.last-error`.
    /// The text is cut to [`MAX_LAST_ERROR`] bytes: it may quote what the
    /// guest passed.
    pub fn fail(&mut self, code: vm_abi::ErrorCode, text: impl Into<String>) -> vm_abi::ErrorCode {
        let mut text = text.into();
        if text.len() > MAX_LAST_ERROR {
            let mut at = MAX_LAST_ERROR - crate::signal::TRUNCATED.len();
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            text.truncate(at);
            text.push_str(crate::signal::TRUNCATED);
        }
        self.last_error = text;
        code
    }

    /// The WASI context of whatever code is running: the guest's, or the
    /// running plugin's own.
    pub fn wasi(&mut self) -> &mut WasiP1Ctx {
        if self.allocating {
            self.left_realloc = true;
        }
        if let Some(index) = self.running_plugin {
            if self.plugin_wasi.len() <= index {
                self.plugin_wasi.resize_with(index + 1, || None);
            }
            let node = &self.node;
            return self.plugin_wasi[index]
                .get_or_insert_with(|| Box::new(node.plugin_wasi_ctx(index)));
        }
        let (node, module, args) = (&self.node, &self.module, &self.args);
        self.wasi
            .get_or_insert_with(|| Box::new(node.wasi_ctx(module, args)))
    }

    /// Lets go of what the instance held as the process hibernates: its
    /// current message (and any handle it did not take), handles it did
    /// not name (nothing could reach them), an init message it never
    /// received (the new state supersedes it, so a process that hibernates
    /// again at once cannot pile them up), and its wasm plugin instances
    /// (they lived in the old store: the next call after waking makes fresh
    /// ones, as after a spawn; native plugins' states stay).
    fn fall_asleep(&mut self) {
        // Only the guest's own code hibernates: no plugin runs, no
        // allocation for a plugin call is under way.
        debug_assert!(self.running_plugin.is_none() && !self.allocating);
        self.current = None;
        self.current_resources.clear();
        self.handles.retain_only(&[]);
        self.memory = None;
        crate::plugin::forget_instances(&mut self.plugins);
        self.plugin_wasi.clear();
        let id = self.id;
        self.process.mailbox.purge(&self.entry.inbox, |m| {
            m.kind == vm_abi::MessageKind::Init && m.sender == id
        });
    }

    /// Makes `m` the current message, its first `read` bytes already copied
    /// out (the next `mailbox.read` continues from there).
    pub fn set_current(&mut self, mut m: Message, read: usize) {
        self.current_resources.clear();
        self.current_resources
            .extend(std::mem::take(&mut m.resources).into_iter().map(Some));
        self.current = Some((m, read));
    }
}

/// Component plugins reach WASI 0.2 through their own WASI context (see
/// [`ProcessState::wasi`]).
impl wasmtime_wasi::WasiView for ProcessState {
    fn ctx(&mut self) -> wasmtime_wasi::WasiCtxView<'_> {
        self.wasi().ctx()
    }
}

/// What the root process's caller learns when it ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Why it ended.
    pub reason: ExitReason,
    /// The exit status a command should return: 0 for a normal exit, the WASI
    /// exit status when the guest chose one, 1 otherwise.
    pub status: i32,
}

pub(crate) struct Launch {
    pub node: Arc<Node>,
    pub entry: Arc<ProcessEntry>,
    pub module: Module,
    pub start: Start,
    pub args: Vec<String>,
    pub done: Option<oneshot::Sender<Outcome>>,
}

/// Ends a process in the node's books if its task is dropped before it
/// finishes, which happens only when the VM panics inside one of its host
/// calls (a bug in the VM): the process exits with a trap reason that says
/// so, its links and monitors hear of it, and the rest of the VM goes on.
struct Unfinished {
    node: Arc<Node>,
    entry: Arc<ProcessEntry>,
    done: Option<oneshot::Sender<Outcome>>,
    finished: bool,
}

impl Unfinished {
    /// The process finished: hand back the root's reply channel, if any.
    fn finish(mut self) -> Option<oneshot::Sender<Outcome>> {
        self.finished = true;
        self.done.take()
    }
}

impl Drop for Unfinished {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let outcome = Outcome {
            reason: ExitReason::Trap(
                "the VM failed inside a host call; this is a bug in the VM (its stderr has the panic)".into(),
            ),
            status: 1,
        };
        self.node.exit(&self.entry, &outcome.reason);
        if let Some(done) = self.done.take() {
            let _ = done.send(outcome);
        }
    }
}

/// Runs a process to its end, then tells everyone who needs to know.
pub(crate) async fn run(launch: Launch) {
    let Launch {
        node,
        entry,
        module,
        start,
        args,
        done,
    } = launch;
    let id = entry.id;
    let unfinished = Unfinished {
        node: node.clone(),
        entry: entry.clone(),
        done,
        finished: false,
    };
    let state = ProcessState {
        id,
        node: node.clone(),
        entry: entry.clone(),
        module: module.clone(),
        process: vm_kernel::process::Process::new(node.kernel.clone(), entry.clone()),
        current: None,
        current_resources: Vec::new(),
        handles: HandleTable::new(entry.budget().clone(), node.config.max_sockets),
        wasi: None,
        args,
        limiter: MemoryLimiter::new(node.config.max_memory),
        memory: None,
        last_error: String::new(),
        hibernation: None,
        plugins: Vec::new(),
        plugin_wasi: Vec::new(),
        running_plugin: None,
        allocating: false,
        left_realloc: false,
    };
    // Boxed so that dropping it below really drops the store.
    let mut phase = Phase::Running(Box::pin(execute(
        new_store(&node, state),
        module.clone(),
        start,
        Duration::ZERO,
    )));
    let outcome = loop {
        // Signals first, so a kill stops even a process that never waits; the
        // poll also registers the task for the next message or signal.
        let step = std::future::poll_fn(|cx| match entry.inbox.poll_signal(cx) {
            Poll::Ready(signal) => Poll::Ready(Err(signal)),
            Poll::Pending => match &mut phase {
                Phase::Running(execution) => {
                    entry.resume(node.epoch());
                    execution.as_mut().poll(cx).map(|ended| Ok(Some(ended)))
                }
                // A hibernated process wakes for any message but a down
                // for a monitor it no longer holds (demonitored while the
                // down was on its way), which a receive would drop anyway.
                Phase::Hibernating(state) => {
                    if state.process.has_receivable() {
                        Poll::Ready(Ok(None))
                    } else {
                        Poll::Pending
                    }
                }
                Phase::Woken => unreachable!("a woken process runs again before it is polled"),
            },
        })
        .await;
        match step {
            Ok(Some(Ended::Exit(outcome))) => break outcome,
            Ok(Some(Ended::Hibernate(state))) => {
                phase = Phase::Hibernating(state);
                // Yield between instances: a process that hibernates as
                // soon as it wakes must not hold its worker.
                YieldOnce(false).await;
            }
            Ok(None) => {
                let Phase::Hibernating(mut state) = std::mem::replace(&mut phase, Phase::Woken)
                else {
                    unreachable!("only a hibernated process wakes")
                };
                let h = state
                    .hibernation
                    .take()
                    .expect("a hibernated process holds how to wake");
                // Charged since it hibernated, until the new instance
                // receives it.
                state.process.mailbox.push_front(h.init);
                phase = Phase::Running(Box::pin(execute(
                    new_store(&node, *state),
                    module.clone(),
                    h.start,
                    WAKE_SLOT_WAIT,
                )));
            }
            Err(signal) => {
                if let Some(reason) = entry.handle_signal(signal) {
                    let status = if reason.is_normal() { 0 } else { 1 };
                    break Outcome { reason, status };
                }
            }
        }
    };
    // Drop the instance (and its handles) before announcing the exit, so
    // resources are released by the time anyone hears of it.
    drop(phase);
    // Like Erlang's error reports: a crash is never silent, even when no
    // link or monitor hears of it. A chosen exit or a kill is not a crash,
    // and the root's caller reports the root's end (`vm run` prints it).
    // Reported before links and monitors hear of it, so whoever learns of
    // the crash finds the report already written.
    if let (None, ExitReason::Trap(why)) = (&unfinished.done, &outcome.reason) {
        node.report(&format!("vm: process {id} crashed: {why}\n"))
            .await;
    }
    // What the task still holds goes before the exit is announced, so that
    // whoever hears of it finds the module and its charge released.
    drop(module);
    let done = unfinished.finish();
    let outcome = Outcome {
        reason: outcome.reason.capped(),
        ..outcome
    };
    node.exit(&entry, &outcome.reason);
    if let Some(done) = done {
        let _ = done.send(outcome);
    }
}

/// Returns `Pending` once (waking itself), then `Ready`: lets the
/// scheduler run others.
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();

    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<()> {
        if self.0 {
            return Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// Where a process is: running in an instance, or hibernated with only
/// its state (between the two, for a moment, `Woken`).
enum Phase<F> {
    Running(std::pin::Pin<Box<F>>),
    /// Boxed: every process's task holds a `Phase`, and most never
    /// hibernate.
    Hibernating(Box<ProcessState>),
    Woken,
}

/// How an instance's run ended.
enum Ended {
    /// The process ends.
    Exit(Outcome),
    /// It hibernated; its state holds how to wake.
    Hibernate(Box<ProcessState>),
}

/// A store for a process's instance, with its memory limit and time slices.
fn new_store(node: &Node, mut state: ProcessState) -> Store<ProcessState> {
    // A new store holds no memory yet (a waking process's old one is gone).
    state.limiter = MemoryLimiter::new(state.limiter.limit);
    let mut store = Store::new(&node.engine, state);
    store.limiter(|s| &mut s.limiter);
    store.set_epoch_deadline(1);
    // A deadline set before the process last waited may have passed while
    // it waited: it yields only once it has run a whole slice since it
    // resumed, rather than right after waking.
    store.epoch_deadline_callback(|store| {
        let state = store.data();
        Ok(if state.entry.slice_used(state.node.epoch()) {
            UpdateDeadline::Yield(1)
        } else {
            UpdateDeadline::Continue(1)
        })
    });
    store
}

/// Takes one off the node's instance count when dropped.
struct InstanceCount(Arc<Node>);

impl Drop for InstanceCount {
    fn drop(&mut self) {
        self.0
            .instances
            .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        self.0.instance_ended.notify_waiters();
    }
}

/// How long a hibernated process that wakes to a full instance pool waits
/// for a slot before it ends with a reason naming `--max-instances` (a new
/// process does not wait: its spawner hears at once).
pub(crate) const WAKE_SLOT_WAIT: Duration = Duration::from_secs(5);

/// Takes a slot of the node's instance pool, waiting at most `wait` for
/// one to be given back. Counted before the pool is asked, so a process
/// past the limit gets a reason naming it rather than the pool's failure.
async fn take_instance_slot(node: &Arc<Node>, wait: Duration) -> wasmtime::Result<InstanceCount> {
    use std::sync::atomic::Ordering::Relaxed;
    let limit = node.config.instance_limit();
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let freed = node.instance_ended.notified();
        tokio::pin!(freed);
        // Before the count is read, so a slot given back after it is not
        // missed.
        freed.as_mut().enable();
        if node.instances.fetch_add(1, Relaxed) < limit as usize {
            return Ok(InstanceCount(node.clone()));
        }
        node.instances.fetch_sub(1, Relaxed);
        if tokio::time::Instant::now() >= deadline {
            let what = if wait.is_zero() {
                "could not start".to_string()
            } else {
                format!("could not wake within {wait:?}")
            };
            wasmtime::bail!(
                "limit-reached: {limit} processes have an instance, the VM's limit, so this one {what} (raise it with --max-instances; hibernated processes need none)"
            );
        }
        node.waiting_for_instance.fetch_add(1, Relaxed);
        tokio::select! {
            () = &mut freed => {}
            () = tokio::time::sleep_until(deadline) => {}
        }
        node.waiting_for_instance.fetch_sub(1, Relaxed);
    }
}

/// Runs a process's instance from `start`; a process that wakes from
/// hibernation (`slot_wait` non-zero) waits that long for a slot of a full
/// instance pool.
async fn execute(
    mut store: Store<ProcessState>,
    module: Module,
    start: Start,
    slot_wait: Duration,
) -> Ended {
    let mut instance_counted = None;
    let result = async {
        let node = store.data().node.clone();
        // Counted while the store lives (a hibernated process has none).
        instance_counted = Some(take_instance_slot(&node, slot_wait).await?);
        // Boxed: instantiation's future is about 1 KiB, four times the call's,
        // and would otherwise size this future for the process's whole life.
        let instance = match Box::pin(module.0.pre.instantiate_async(&mut store)).await {
            Ok(i) => i,
            Err(e) if crate::map_limit::is_out_of_memory(&e) => {
                let node = &store.data().node;
                let advice = crate::map_limit::spawn_advice(
                    node.process_count(),
                    node.config.instance_limit(),
                );
                // A new error, so the advice is the root cause classify reports.
                return Err(wasmtime::format_err!("{advice} ({e:#})"));
            }
            Err(e) => return Err(e),
        };
        if let Some(export) = &module.0.memory {
            store.data_mut().memory = instance
                .get_module_export(&mut store, export)
                .and_then(|e| e.into_memory());
        }
        match start {
            Start::Command => {
                let f = instance.get_typed_func::<(), ()>(&mut store, "_start")?;
                f.call_async(&mut store, ()).await
            }
            Start::Export {
                export,
                takes_arg,
                arg,
            } => {
                let func = instance
                    .get_module_export(&mut store, &export)
                    .and_then(|e| e.into_func())
                    .ok_or_else(|| wasmtime::format_err!("the spawn entry is not a function"))?;
                if takes_arg {
                    func.typed::<u32, ()>(&store)?
                        .call_async(&mut store, arg)
                        .await
                } else {
                    func.typed::<(), ()>(&store)?
                        .call_async(&mut store, ())
                        .await
                }
            }
        }
    }
    .await;
    let outcome = match result {
        Ok(()) => Outcome {
            reason: ExitReason::Normal,
            status: 0,
        },
        Err(e) if e.downcast_ref::<HibernateRequest>().is_some() => {
            let mut state = Box::new(store.into_data());
            state.fall_asleep();
            // Counted out once what it no longer holds is gone, so whoever
            // waits for it to sleep finds it asleep.
            drop(instance_counted);
            return Ended::Hibernate(state);
        }
        Err(e) => classify(e, store.data().node.config.max_stack),
    };
    // The store gives its slot back to the pool before the count says so:
    // a process waiting for a slot that the count lets in finds it free.
    drop(store);
    drop(instance_counted);
    Ended::Exit(outcome)
}

/// Turns the error that ended a call into an exit reason; `max_stack` is
/// the stack limit, named when the process ran out of stack.
fn classify(e: wasmtime::Error, max_stack: usize) -> Outcome {
    if let Some(exit) = e.downcast_ref::<wasmtime_wasi::I32Exit>() {
        return if exit.0 == 0 {
            Outcome {
                reason: ExitReason::Normal,
                status: 0,
            }
        } else {
            Outcome {
                reason: ExitReason::Exit(format!("exit status {}", exit.0)),
                status: exit.0,
            }
        };
    }
    if let Some(ExitRequest(reason)) = e.downcast_ref::<ExitRequest>() {
        let status = if reason.is_normal() { 0 } else { 1 };
        return Outcome {
            reason: reason.clone(),
            status,
        };
    }
    if let Some(limit) = e.downcast_ref::<MemoryLimitExceeded>() {
        return Outcome {
            reason: ExitReason::Trap(limit.to_string()),
            status: 1,
        };
    }
    // A wasm trap says what the instruction did; a host error is wrapped in
    // backtrace context, and its root cause says what the call objected to.
    let text = match e.downcast_ref::<wasmtime::Trap>() {
        Some(wasmtime::Trap::StackOverflow) => format!(
            "call stack exhausted: the process's calls nested deeper than its stack limit of {max_stack} bytes (raise it with --max-stack)"
        ),
        Some(trap) => trap.to_string(),
        None => e.root_cause().to_string(),
    };
    Outcome {
        reason: ExitReason::Trap(text),
        status: 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signal::Control;

    /// A process that wakes to a full instance pool waits for a slot (a
    /// hibernated process whose message came while every slot was taken
    /// ended, losing its state); a new one, or one that waits past its
    /// bound, ends naming the flag.
    #[tokio::test]
    async fn a_waking_process_waits_for_a_slot_of_a_full_instance_pool() {
        let vm = crate::Vm::builder()
            .capture_output()
            .max_instances(1)
            .build()
            .unwrap();
        let node = vm.node.clone();
        let held = take_instance_slot(&node, Duration::ZERO).await.unwrap();
        let refused = take_instance_slot(&node, Duration::ZERO)
            .await
            .map(|_| ())
            .unwrap_err()
            .to_string();
        assert!(
            refused.contains("so this one could not start") && refused.contains("--max-instances"),
            "{refused}"
        );
        let mut waking = Box::pin(take_instance_slot(&node, Duration::from_secs(600)));
        let first =
            std::future::poll_fn(|cx| Poll::Ready(waking.as_mut().poll(cx).is_ready())).await;
        assert!(!first, "it took a slot of a full pool");
        drop(held);
        let slot = waking.await.unwrap();
        assert_eq!(node.instances.load(std::sync::atomic::Ordering::Relaxed), 1);
        let late = take_instance_slot(&node, Duration::from_millis(1))
            .await
            .map(|_| ())
            .unwrap_err()
            .to_string();
        assert!(late.contains("could not wake within 1ms"), "{late}");
        drop(slot);
        assert_eq!(node.instances.load(std::sync::atomic::Ordering::Relaxed), 0);
    }

    /// A process whose task is dropped mid-run (what a panic in a host call
    /// does) still leaves the node's books, and its waiter learns why.
    #[tokio::test]
    async fn a_process_whose_task_is_lost_exits_with_a_reason_that_says_so() {
        let vm = crate::Vm::builder().capture_output().build().unwrap();
        let node = vm.node.clone();
        let busy = r#"(module (memory (export "memory") 1)
            (func (export "_start") (loop (br 0))))"#;
        let module = vm.load("busy.wat", busy.as_bytes()).unwrap();
        assert!(node.reserve());
        let id = node.spawn(crate::node::SpawnRequest {
            module,
            start: Start::Command,
            capture: None,
            link: None,
            args: Vec::new(),
            done: None,
        });
        let entry = node.get(id).unwrap();
        let (done, outcome) = oneshot::channel();
        drop(Unfinished {
            node: node.clone(),
            entry: entry.clone(),
            done: Some(done),
            finished: false,
        });
        let outcome = outcome.await.unwrap();
        assert_eq!(outcome.status, 1);
        assert!(
            matches!(&outcome.reason, ExitReason::Trap(t) if t.contains("bug in the VM")),
            "{outcome:?}"
        );
        assert!(node.get(id).is_none(), "still in the process table");
        // The stand-in for the lost task is still looping: stop it.
        entry.inbox.signal(Control::Kill);
    }
}
