//! A process's instance: a store with its limits, a slot of the node's
//! instance pool, the call of its entry, and what the call's end means.

use super::state::MemoryLimiter;
use super::{ExitRequest, HibernateRequest, MemoryLimitExceeded, Outcome, ProcessState, Start};
use crate::module::Module;
use crate::node::Node;
use crate::signal::ExitReason;
use std::sync::Arc;
use std::time::Duration;
use wasmtime::{Store, UpdateDeadline};

/// A store for a process's instance, with its memory limit and time slices.
pub(super) fn new_store(node: &Node, mut state: ProcessState) -> Store<ProcessState> {
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

/// How an instance's run ended.
pub(super) enum Ended {
    /// The process ends.
    Exit(Outcome),
    /// It hibernated; its state holds how to wake.
    Hibernate(Box<ProcessState>),
}

/// Runs a process's instance from `start`; a process that wakes from
/// hibernation (`slot_wait` non-zero) waits that long for a slot of a full
/// instance pool.
pub(super) async fn execute(
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
    use std::future::Future;
    use std::task::Poll;

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
}
