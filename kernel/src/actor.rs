//! Processes written in Rust, run on the kernel: a body is an async
//! function given its [`Actor`] and returning why the process ends. Its
//! task acts on signals exactly as a wasm process's does
//! ([`ProcessEntry::handle_signal`]), before the body runs each time, and
//! the actor's operations are the [`Process`] side's, so an actor follows
//! the same rules as a wasm process. The kernel's Erlang oracle runs its
//! scenarios with actors; a remote node's proxies can be actors too.
//!
//! ```
//! use std::convert::Infallible;
//! use vm_kernel::{actor::Actor, ExitReason, Filter, Kernel, Limits};
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let kernel = Kernel::<Infallible>::new(Limits {
//!     max_processes: 8,
//!     max_mailbox: 1 << 20,
//!     max_host_memory: 1 << 30,
//!     worker_threads: 1,
//! })
//! .unwrap();
//! let (tx, rx) = tokio::sync::oneshot::channel();
//! let echo = kernel
//!     .spawn_actor(move |mut me: Actor<Infallible>| async move {
//!         let m = me.receive(&Filter::any(), None).await.unwrap();
//!         let _ = tx.send(m.data.to_vec());
//!         ExitReason::Normal
//!     })
//!     .unwrap();
//! kernel.send(echo, vm_kernel::Message::data(0, 7, b"hi"[..].into(), Vec::new()));
//! assert_eq!(rx.await.unwrap(), b"hi");
//! # });
//! ```

use crate::budget::Refusal;
use crate::links::{LinkError, LINK_COST};
use crate::message::{Attachment, Filter, Message, Payload};
use crate::process::Process;
use crate::registry::RegisterError;
use crate::signal::ExitReason;
use crate::{Charge, Kernel, ProcessEntry};
use std::future::{poll_fn, Future};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

/// A process written in Rust: its own side, as its body sees it.
pub struct Actor<R: Attachment> {
    process: Process<R>,
}

/// Why an actor could not spawn another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpawnError {
    /// The kernel holds as many processes as it may.
    TooManyProcesses,
    /// The link would pass the spawner's budget or the VM's.
    Refused(Refusal),
}

impl<R: Attachment> Kernel<R> {
    /// Starts a process whose body is Rust; its id, or `None` when the
    /// kernel holds as many processes as it may. The body's future runs on
    /// the kernel's workers; a panic in it ends the process with a trap.
    pub fn spawn_actor<F, Fut>(self: &Arc<Self>, body: F) -> Option<u64>
    where
        F: FnOnce(Actor<R>) -> Fut + Send + 'static,
        Fut: Future<Output = ExitReason> + Send + 'static,
    {
        if !self.reserve() {
            return None;
        }
        Some(self.start_actor(None, body))
    }

    fn start_actor<F, Fut>(self: &Arc<Self>, link: Option<(u64, Charge)>, body: F) -> u64
    where
        F: FnOnce(Actor<R>) -> Fut + Send + 'static,
        Fut: Future<Output = ExitReason> + Send + 'static,
    {
        let kernel = self.clone();
        self.start(None, link, move |entry| drive(kernel, entry, body))
    }
}

/// An actor's task: its signals first, then its body, until one ends it.
async fn drive<R, F, Fut>(kernel: Arc<Kernel<R>>, entry: Arc<ProcessEntry<R>>, body: F)
where
    R: Attachment,
    F: FnOnce(Actor<R>) -> Fut,
    Fut: Future<Output = ExitReason>,
{
    // However the task ends (a panic anywhere, its future dropped), the
    // process leaves the kernel's books and its links and monitors hear.
    let mut ending = Ending {
        kernel: kernel.clone(),
        entry: entry.clone(),
        reason: None,
    };
    let actor = Actor {
        process: Process::new(kernel, entry.clone()),
    };
    let mut run = match std::panic::catch_unwind(AssertUnwindSafe(|| Box::pin(body(actor)))) {
        Ok(run) => run,
        Err(panic) => {
            ending.reason = Some(panicked(&*panic));
            return;
        }
    };
    let reason = poll_fn(|cx| {
        if let Poll::Ready(reason) = entry.poll_end(cx) {
            return Poll::Ready(reason);
        }
        match std::panic::catch_unwind(AssertUnwindSafe(|| run.as_mut().poll(cx))) {
            Ok(poll) => poll,
            Err(panic) => Poll::Ready(panicked(&*panic)),
        }
    })
    .await;
    ending.reason = Some(reason);
    // What the body held (its mailbox, its monitors) goes before anyone
    // hears of the end.
    drop(run);
}

/// The trap reason of a body that panicked, with the panic's message.
fn panicked(panic: &(dyn std::any::Any + Send)) -> ExitReason {
    let text = panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a panic without a message");
    ExitReason::Trap(format!("the actor's body panicked: {text}"))
}

/// Ends an actor's process in the kernel's books when its task ends, with
/// the reason found, or a trap if the task was lost before one was.
struct Ending<R: Attachment> {
    kernel: Arc<Kernel<R>>,
    entry: Arc<ProcessEntry<R>>,
    reason: Option<ExitReason>,
}

impl<R: Attachment> Drop for Ending<R> {
    fn drop(&mut self) {
        let reason = self.reason.take().unwrap_or_else(|| {
            ExitReason::Trap("the actor's task ended before its body did (a destructor panicked, or the kernel dropped the task)".into())
        });
        self.kernel.exit(&self.entry, &reason);
    }
}

impl<R: Attachment> Actor<R> {
    /// The actor's process id.
    pub fn id(&self) -> u64 {
        self.process.id()
    }

    /// The kernel it runs on.
    pub fn kernel(&self) -> &Arc<Kernel<R>> {
        self.process.kernel()
    }

    /// Sends `data` with `tag` to `target` (nothing happens if it has
    /// ended); refused, with nothing sent, when the VM's bound would pass.
    pub fn send(&self, target: u64, tag: u64, data: &[u8]) -> Result<(), Refusal> {
        let m = Message::data(self.id(), tag, Payload::from_slice(data), Vec::new());
        self.kernel()
            .send_from_guest(target, m)
            .map_err(|refused| refused.refusal)
    }

    /// Waits for the oldest message `filter` accepts; `None` on timeout
    /// (see [`Process::receive`]).
    pub async fn receive(
        &mut self,
        filter: &Filter,
        timeout: Option<Duration>,
    ) -> Option<Message<R>> {
        self.process.receive(filter, timeout).await
    }

    /// Sends `data` to `target` after `delay` (Erlang's
    /// `erlang:send_after`); the timer's reference, for
    /// [`Kernel::cancel_timer`].
    pub fn send_after(
        &self,
        target: u64,
        tag: u64,
        data: &[u8],
        delay: Duration,
    ) -> Result<u64, Refusal> {
        let m = Message::data(self.id(), tag, Payload::from_slice(data), Vec::new());
        self.kernel()
            .send_after(self.process.entry(), target, m, delay)
            .map_err(|refused| refused.refusal)
    }

    /// Links to `target` (see [`Process::link`]).
    pub fn link(&self, target: u64) -> Result<(), LinkError> {
        self.process.link(target)
    }

    /// Removes the link to `target` (see [`Process::unlink`]).
    pub fn unlink(&mut self, target: u64) {
        self.process.unlink(target)
    }

    /// Monitors `target`; the monitor's reference (see
    /// [`Process::monitor`]).
    pub fn monitor(&mut self, target: u64) -> Result<u64, Refusal> {
        self.process.monitor(target)
    }

    /// Monitors node `node`; the monitor's reference (see
    /// [`Process::monitor_node`]).
    pub fn monitor_node(&mut self, node: u16) -> Result<u64, Refusal> {
        self.process.monitor_node(node)
    }

    /// Registers the global name `name` for this process (see
    /// [`crate::global`]).
    pub async fn register_global(&self, name: &str) -> Result<(), RegisterError> {
        let budget = self.process.entry().budget().clone();
        self.kernel()
            .register_global(name, self.id(), &budget)
            .await
    }

    /// Removes a monitor (see [`Process::demonitor`]).
    pub fn demonitor(&mut self, reference: u64) {
        self.process.demonitor(reference)
    }

    /// Turns trapping exits on or off; whether it was on.
    pub fn trap_exits(&self, on: bool) -> bool {
        self.process.entry().set_trap_exits(on)
    }

    /// Sends `target` an exit signal with `reason` (Erlang's `exit/2`).
    pub fn send_exit(&self, target: u64, reason: ExitReason) {
        self.kernel().send_exit(self.id(), target, reason)
    }

    /// Kills `target` (Erlang's `exit(Pid, kill)`).
    pub fn kill(&self, target: u64) {
        self.kernel().kill(self.id(), target)
    }

    /// Registers `name` for this process.
    pub fn register(&self, name: &str) -> Result<(), RegisterError> {
        let budget = self.process.entry().budget().clone();
        self.kernel().register(name, self.id(), &budget)
    }

    /// Unregisters `name`; whether it was registered.
    pub fn unregister(&self, name: &str) -> bool {
        self.kernel().unregister(name)
    }

    /// The process holding `name`, if one does.
    pub fn lookup(&self, name: &str) -> Option<u64> {
        self.kernel().lookup(name)
    }

    /// Spawns an actor running `body`, linked to this one if `link` (which
    /// pays for the link); its id.
    pub fn spawn<F, Fut>(&self, link: bool, body: F) -> Result<u64, SpawnError>
    where
        F: FnOnce(Actor<R>) -> Fut + Send + 'static,
        Fut: Future<Output = ExitReason> + Send + 'static,
    {
        let kernel = self.kernel();
        if !kernel.reserve() {
            return Err(SpawnError::TooManyProcesses);
        }
        let link = if link {
            match self.process.entry().budget().charge(LINK_COST) {
                Ok(charge) => Some((self.id(), charge)),
                Err(refusal) => {
                    kernel.unreserve();
                    return Err(SpawnError::Refused(refusal));
                }
            }
        } else {
            None
        };
        Ok(kernel.start_actor(link, body))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::Limits;
    use std::convert::Infallible;

    fn kernel(max_processes: u32) -> Arc<Kernel<Infallible>> {
        Kernel::new(Limits {
            max_processes,
            max_mailbox: 1 << 20,
            max_host_memory: 1 << 30,
            worker_threads: 1,
        })
        .unwrap()
    }

    /// Runs `body` as an actor on `k` and waits for what it sends back.
    pub(crate) async fn ask<T: Send + 'static, Fut>(
        k: &Arc<Kernel<Infallible>>,
        body: impl FnOnce(Actor<Infallible>, tokio::sync::oneshot::Sender<T>) -> Fut + Send + 'static,
    ) -> T
    where
        Fut: Future<Output = ExitReason> + Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        k.spawn_actor(move |me| body(me, tx)).unwrap();
        rx.await.unwrap()
    }

    /// A body that panics ends its process with a trap, which its monitor
    /// hears; the kernel and the watcher go on.
    #[tokio::test]
    async fn a_panicking_body_ends_its_process_with_a_trap() {
        let k = kernel(8);
        let down = ask(&k, |mut me, tx| async move {
            let child = me
                .spawn(false, |_| async { panic!("a bug in the actor") })
                .unwrap();
            let reference = me.monitor(child).unwrap();
            let m = me.receive(&Filter::any(), None).await.unwrap();
            let _ = tx.send((m.tag == reference, ExitReason::decode(&m.data)));
            ExitReason::Normal
        })
        .await;
        assert!(
            matches!(&down, (true, Some(ExitReason::Trap(t))) if t.contains("panicked: a bug in the actor")),
            "{down:?}"
        );
    }

    /// At the process limit a spawn is refused and nothing is left
    /// reserved; a linked spawn's charge is the spawner's.
    #[tokio::test]
    async fn a_spawn_past_the_process_limit_is_refused() {
        let k = kernel(2);
        let (first, second, held) = ask(&k, |mut me, tx| async move {
            let forever = |mut a: Actor<Infallible>| async move {
                a.receive(&Filter::any(), None).await;
                ExitReason::Normal
            };
            let first = me.spawn(true, forever);
            let held = me.process.entry().budget().held();
            let second = me.spawn(false, forever);
            let _ = tx.send((first.is_ok(), second, held));
            me.receive(&Filter::any(), Some(Duration::ZERO)).await;
            ExitReason::Exit("done".into())
        })
        .await;
        assert!(first);
        assert_eq!(second, Err(SpawnError::TooManyProcesses));
        assert_eq!(held, LINK_COST);
    }
}
