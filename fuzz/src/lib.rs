//! `cargo xtask fuzz`: runs generated guests against the whole `vm:host`
//! ABI, as wasmtime fuzzes itself, and checks after every batch of cases
//! that the VM survived them whole.
//!
//! A case ([`case::Case`]) is a program of ABI calls with arguments at the
//! edges (pointers past memory, huge lengths, unknown handles and ids,
//! durations of forever, floods of the same call), run by one interpreter
//! module ([`interpreter`]) so that a case costs a process, not a
//! compilation. Children it spawns run the rest of its program.
//!
//! After each batch the [`Harness`] kills what is left and checks:
//! no panic anywhere in the VM, no process that ended with the VM's
//! "bug in the VM" reason, no process, timer, monitor or module left, the
//! host's charges back to zero (so the VM holds nothing for the cases any
//! more), and a fresh process still runs. A failure is reported with its
//! seed and a minimized case.

pub mod case;
pub mod interpreter;

use case::Case;
use std::time::Duration;
use vm_reference::{ExitReason, Module, NetRule, Vm, VmError};
use vm_tests::panics;

/// How long a batch's processes may run before they are killed: calls
/// that wait forever are the cases' business, not a finding.
const DEADLINE: Duration = Duration::from_millis(40);

/// Batches run on one VM before it is replaced: what it captures (every
/// crash report) is read after each batch, so it is kept short.
const BATCHES_PER_VM: usize = 20;

/// The VM the cases run on, with small limits so that they are reached.
fn new_vm() -> anyhow::Result<(Vm, Module, Module)> {
    let vm = Vm::builder()
        .capture_output()
        .threads(2)
        .max_processes(512)
        .max_memory(8 << 20)
        .max_mailbox(1 << 20)
        .max_host_memory(48 << 20)
        .max_sockets(8)
        .max_stack(128 << 10)
        .allow_net(NetRule::parse("127.0.0.1").map_err(anyhow::Error::msg)?)
        .build()?;
    let interpreter = vm.load("fuzz-interpreter.wat", interpreter::wat().as_bytes())?;
    let canary = vm.load(
        "canary.wat",
        br#"(module (import "vm:host/process@1" "self-id" (func $id (result i64)))
            (memory (export "memory") 1) (func (export "_start") (drop (call $id))))"#,
    )?;
    Ok((vm, interpreter, canary))
}

/// Runs batches of cases on a VM and checks it after each.
pub struct Harness {
    vm: Vm,
    interpreter: Module,
    canary: Module,
    batches: usize,
}

impl Harness {
    /// A harness with a fresh VM.
    ///
    /// # Errors
    /// If the VM or the interpreter cannot be built.
    pub fn new() -> anyhow::Result<Harness> {
        panics::watch();
        let (vm, interpreter, canary) = new_vm()?;
        Ok(Harness {
            vm,
            interpreter,
            canary,
            batches: 0,
        })
    }

    /// Runs `cases` at once, kills what is left at the deadline, and checks
    /// the VM; `Err` says what went wrong.
    pub async fn run_batch(&mut self, cases: &[Case]) -> Result<(), String> {
        // Between batches (replacing the VM, say) nothing may panic either.
        let n = panics::take();
        if n > 0 {
            return Err(format!(
                "{n} panic(s) in the VM between batches (printed above)"
            ));
        }
        let args: Vec<[String; 2]> = cases
            .iter()
            .map(|c| ["fuzz".to_string(), c.to_arg()])
            .collect();
        let argv: Vec<[&str; 2]> = args.iter().map(|[a, b]| [a.as_str(), b.as_str()]).collect();
        let runs = argv.iter().map(|a| {
            let run = self.vm.run(&self.interpreter, a);
            tokio::time::timeout(DEADLINE, run)
        });
        let outcomes = futures_join_all(runs).await;
        for outcome in outcomes.into_iter().flatten() {
            match outcome {
                Err(VmError::Lost) => return Err("a root process was lost".into()),
                // The batch's children took every slot: the limit at work.
                Err(VmError::ProcessLimit(_)) => {}
                Err(e) => return Err(format!("running the case failed: {e}")),
                Ok(o) if o.reason.to_string().contains("bug in the VM") => {
                    return Err(format!("the VM failed inside a host call: {}", o.reason))
                }
                Ok(_) => {}
            }
        }
        self.vm.kill_all().await;
        self.check().await?;
        self.batches += 1;
        if self.batches.is_multiple_of(BATCHES_PER_VM) {
            self.scan_output()?;
            let (vm, interpreter, canary) = new_vm().map_err(|e| e.to_string())?;
            (self.vm, self.interpreter, self.canary) = (vm, interpreter, canary);
        }
        Ok(())
    }

    /// What must hold once a batch's processes are gone.
    async fn check(&self) -> Result<(), String> {
        let n = panics::take();
        if n > 0 {
            return Err(format!("{n} panic(s) in the VM (printed above)"));
        }
        let vm = &self.vm;
        if vm.process_count() != 0 {
            return Err(format!(
                "{} processes outlived kill_all",
                vm.process_count()
            ));
        }
        // kill_all returns once every process has ended and given back
        // what it held (timers' messages live with their records, not in
        // their tasks), so nothing may be held now.
        let held = vm.host_memory_held();
        if held != 0 {
            // Only to say which kind of bug it is: held for good (a leak),
            // or given back late, by work kill_all did not wait for.
            let mut waited = Duration::ZERO;
            while vm.host_memory_held() != 0 && waited < Duration::from_secs(1) {
                tokio::time::sleep(Duration::from_millis(10)).await;
                waited += Duration::from_millis(10);
            }
            let after = match vm.host_memory_held() {
                0 => format!("given back {waited:?} later, by work kill_all did not wait for"),
                n => format!("{n} bytes still held a second later"),
            };
            return Err(format!(
                "the host still holds {held} bytes for processes that have all ended ({after}; {} timers, {} monitors pending)",
                vm.pending_timers(),
                vm.monitor_count()
            ));
        }
        let leftovers = [
            ("timers", vm.pending_timers()),
            ("monitors", vm.monitor_count()),
            ("loaded modules", vm.loaded_modules()),
        ];
        for (what, n) in leftovers {
            if n != 0 {
                return Err(format!("{n} {what} outlived their processes"));
            }
        }
        let canary = vm
            .run(&self.canary, &["canary"])
            .await
            .map_err(|e| format!("a fresh process could not run: {e}"))?;
        if canary.reason != ExitReason::Normal {
            return Err(format!(
                "a fresh process did not run normally: {}",
                canary.reason
            ));
        }
        self.scan_output()
    }

    /// Crash reports naming a VM bug, in what the VM captured.
    fn scan_output(&self) -> Result<(), String> {
        let stderr = self.vm.captured_stderr();
        match stderr.lines().find(|l| l.contains("bug in the VM")) {
            Some(line) => Err(line.to_string()),
            None => Ok(()),
        }
    }
}

/// Polls every future to completion, concurrently, on the current task.
async fn futures_join_all<F: std::future::Future>(
    futures: impl Iterator<Item = F>,
) -> Vec<F::Output> {
    let mut pending: Vec<_> = futures.map(|f| Some(Box::pin(f))).collect();
    let mut results: Vec<Option<F::Output>> = (0..pending.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut all = true;
        for (slot, result) in pending.iter_mut().zip(results.iter_mut()) {
            if let Some(f) = slot {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => {
                        *result = Some(v);
                        *slot = None;
                    }
                    std::task::Poll::Pending => all = false,
                }
            }
        }
        if all {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    results.into_iter().flatten().collect()
}

/// Whether `case` alone, on a fresh VM, fails the checks.
pub async fn fails_alone(case: &Case) -> Option<String> {
    let mut harness = Harness::new().ok()?;
    harness.run_batch(std::slice::from_ref(case)).await.err()
}

/// The smallest case derived from `case` that still fails alone (greedy:
/// drop a call or halve a repeat while the failure stays).
pub async fn minimize(case: &Case) -> Case {
    let mut best = case.clone();
    'outer: loop {
        for smaller in best.shrinks() {
            if fails_alone(&smaller).await.is_some() {
                best = smaller;
                continue 'outer;
            }
        }
        return best;
    }
}

/// A failing case found in a batch: the first that fails alone, minimized
/// (or the whole batch's first case, if none fails alone: the failure
/// needs its neighbours).
pub async fn culprit(batch: &[Case]) -> (Case, Option<Case>) {
    for case in batch {
        if fails_alone(case).await.is_some() {
            return (case.clone(), Some(minimize(case).await));
        }
    }
    (batch[0].clone(), None)
}
