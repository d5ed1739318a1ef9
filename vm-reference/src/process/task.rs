//! A process's task: it acts on the signals in the process's inbox
//! before each poll, runs the process's instance (or holds it hibernated),
//! and when it ends, tells everyone who needs to know.

use super::instance::{execute, new_store, Ended};
use super::{Outcome, ProcessState, Start, WAKE_SLOT_WAIT};
use crate::module::Module;
use crate::node::{Node, ProcessEntry};
use crate::signal::ExitReason;
use std::future::Future;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;
use tokio::sync::oneshot;

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
    let state = ProcessState::new(&node, &entry, &module, args);
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
        let step = std::future::poll_fn(|cx| match entry.poll_end(cx) {
            Poll::Ready(reason) => Poll::Ready(Err(reason)),
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
                state.process.push_front(h.init);
                phase = Phase::Running(Box::pin(execute(
                    new_store(&node, *state),
                    module.clone(),
                    h.start,
                    WAKE_SLOT_WAIT,
                )));
            }
            Err(reason) => {
                let status = if reason.is_normal() { 0 } else { 1 };
                break Outcome { reason, status };
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signal::Control;

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
