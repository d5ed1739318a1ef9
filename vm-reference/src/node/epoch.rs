//! The epoch clock: a thread that advances wasmtime's epoch once per
//! preemption interval, so a busy process yields to others. It sleeps while
//! every worker waits (no wasm runs then), and a worker that wakes starts it
//! again.

use crate::config::Config;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use vm_kernel::scheduler::Scheduler;
use wasmtime::Engine;

/// Starts the clock; it stops once `stop` is set and the thread unparked.
/// `ticks` counts the ticks beside the engine's epoch, which wasmtime does
/// not expose.
pub(super) fn start_ticker(
    engine: &Engine,
    config: &Config,
    scheduler: &Scheduler,
    stop: &Arc<AtomicBool>,
    ticks: &Arc<AtomicU64>,
) -> std::io::Result<std::thread::Thread> {
    let (engine, stop, ticks) = (engine.clone(), stop.clone(), ticks.clone());
    let tick = config.preemption_interval;
    let idle = scheduler.idle_probe();
    let ticker = std::thread::Builder::new()
        .name("vm-epoch".into())
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(tick);
                ticks.fetch_add(1, Ordering::Relaxed);
                engine.increment_epoch();
                // No wasm runs while every worker waits: an idle VM does not
                // wake up every tick. A worker that wakes unparks the ticker.
                if idle() {
                    std::thread::park();
                }
            }
        })?;
    Ok(ticker.thread().clone())
}
