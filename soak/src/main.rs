//! `vm-soak` (run it as `cargo xtask soak --minutes M`): one VM runs a real
//! workload for M minutes, and its memory is watched.
//!
//! The workload, all at once on one VM with the kv plugin loaded:
//! - `sleepy-echo`, a TCP echo server whose sessions hibernate between
//!   lines, under 16 real clients that connect, echo 5 lines and close,
//!   over and over;
//! - the `supervisor` scenario (a supervision tree whose children crash and
//!   are restarted), run again and again as a root process;
//! - the kv guest calling its plugin, again and again.
//!
//! Every report interval it prints the resident memory, what the host holds
//! for guests, processes, timers, monitors and open file descriptors, and
//! the work done. At the end it fits a line to resident memory after the
//! first interval and fails if the slope is above `--max-slope-kib` per
//! minute, or if anything is still held once the workload is stopped.

use anyhow::{bail, Context, Result};
use clap::Parser;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use vm_reference::{ExitReason, NetRule, Vm};
use vm_tests::{kv_plugin, rust_guest};

#[derive(Parser)]
#[command(about = "Run a real workload on one VM and watch its memory")]
struct Args {
    /// How long to run.
    #[arg(long, default_value_t = 60)]
    minutes: u64,
    /// Seconds between reports (60: one a minute).
    #[arg(long, default_value_t = 60)]
    report_every: u64,
    /// The steepest growth of resident memory allowed, in KiB per minute.
    #[arg(long, default_value_t = 1024)]
    max_slope_kib: u64,
}

/// Work done so far.
#[derive(Default)]
struct Counts {
    echoed_lines: AtomicU64,
    connections: AtomicU64,
    supervisor_runs: AtomicU64,
    plugin_runs: AtomicU64,
}

fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

/// How many sockets the VM has open (compiled modules add memory-image
/// descriptors of their own, once each: not a leak).
fn open_sockets() -> usize {
    fd_targets()
        .iter()
        .filter(|t| t.starts_with("socket:"))
        .count()
}

/// What each open file descriptor is (for a report of a leak).
fn fd_targets() -> Vec<String> {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| {
            d.filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
                .map(|p| p.display().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// A free port on 127.0.0.1 for the echo server (it prints its address,
/// but output is discarded in a soak: nothing may pile up).
fn free_address() -> Result<String> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.to_string())
}

/// One client: connect, echo five lines, close.
async fn echo_session(address: &str, counts: &Counts) -> Result<()> {
    let stream = tokio::net::TcpStream::connect(address).await?;
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    for n in 1..=5 {
        write.write_all(format!("line {n}\n").as_bytes()).await?;
        let echoed = lines
            .next_line()
            .await?
            .context("the server closed early")?;
        if echoed != format!("{n}: line {n}") {
            bail!("echoed {echoed:?} for line {n}");
        }
        counts.echoed_lines.fetch_add(1, Ordering::Relaxed);
    }
    drop(write);
    if lines.next_line().await?.is_some() {
        bail!("the server sent more than it was sent");
    }
    counts.connections.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

/// Least-squares slope of `ys` (one a minute apart), per minute.
fn slope(points: &[(f64, f64)]) -> f64 {
    let n = points.len() as f64;
    if n < 2.0 {
        return 0.0;
    }
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    if sxx == 0.0 {
        0.0
    } else {
        sxy / sxx
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    let args = Args::parse();
    let vm = Arc::new(
        Vm::builder()
            .discard_output()
            .max_processes(4096)
            .plugin_file(kv_plugin())
            .allow_net(NetRule::parse("127.0.0.1").map_err(anyhow::Error::msg)?)
            .build()?,
    );
    let echo = vm.load_file(rust_guest("sleepy-echo"))?;
    let scenarios = vm.load_file(rust_guest("scenarios"))?;
    let kv = vm.load_file(rust_guest("kv-guest"))?;
    let counts = Arc::new(Counts::default());
    let stop = Arc::new(AtomicBool::new(false));
    let sockets_before = open_sockets();

    let address = free_address()?;
    let server = {
        let (vm, address) = (vm.clone(), address.clone());
        tokio::spawn(async move { vm.run(&echo, &["sleepy-echo", &address]).await })
    };
    // Wait for the server to listen (its output is discarded).
    let mut tries = 0;
    while tokio::net::TcpStream::connect(&address).await.is_err() {
        tries += 1;
        if tries > 500 {
            bail!("the echo server never listened on {address}");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let mut work = Vec::new();
    for _ in 0..16 {
        let (address, counts, stop) = (address.clone(), counts.clone(), stop.clone());
        work.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                echo_session(&address, &counts).await?;
            }
            Ok::<(), anyhow::Error>(())
        }));
    }
    for (module, argv, counter) in [
        (scenarios, ["scenarios", "supervisor"], 0),
        (kv, ["kv-guest", ""], 1),
    ] {
        let (vm, counts, stop) = (vm.clone(), counts.clone(), stop.clone());
        work.push(tokio::spawn(async move {
            let argv: Vec<&str> = argv.iter().copied().filter(|a| !a.is_empty()).collect();
            while !stop.load(Ordering::Relaxed) {
                let outcome = vm.run(&module, &argv).await?;
                if outcome.reason != ExitReason::Normal {
                    bail!("{} ended: {}", argv.join(" "), outcome.reason);
                }
                let c = if counter == 0 {
                    &counts.supervisor_runs
                } else {
                    &counts.plugin_runs
                };
                c.fetch_add(1, Ordering::Relaxed);
            }
            Ok(())
        }));
    }

    let started = Instant::now();
    let every = Duration::from_secs(args.report_every.max(1));
    let end = started + Duration::from_secs(args.minutes * 60);
    let mut samples = Vec::new();
    println!("minute  resident-KiB  host-held-B  processes  timers  monitors  fds  lines  conns  supervisor-runs  plugin-runs");
    while Instant::now() < end {
        tokio::time::sleep(every.min(end.saturating_duration_since(Instant::now()))).await;
        if let Some(failed) = work.iter().position(|w| w.is_finished()) {
            let result = work.remove(failed).await?;
            result.context("a workload stopped")?;
        }
        let minute = started.elapsed().as_secs_f64() / 60.0;
        let rss = status_kib("VmRSS");
        samples.push((minute, rss as f64));
        println!(
            "{minute:6.1}  {rss:12}  {:11}  {:9}  {:6}  {:8}  {:3}  {:5}  {:5}  {:15}  {:11}",
            vm.host_memory_held(),
            vm.process_count(),
            vm.pending_timers(),
            vm.monitor_count(),
            open_fds(),
            counts.echoed_lines.load(Ordering::Relaxed),
            counts.connections.load(Ordering::Relaxed),
            counts.supervisor_runs.load(Ordering::Relaxed),
            counts.plugin_runs.load(Ordering::Relaxed),
        );
    }
    stop.store(true, Ordering::Relaxed);
    for w in work {
        w.await??;
    }
    vm.kill_all().await;
    let _ = server.await;
    // The first interval warms up (the pool, the allocator's arenas).
    let steady: Vec<(f64, f64)> = samples.iter().skip(1).copied().collect();
    let kib_per_minute = slope(&steady);
    println!(
        "resident memory slope after the first report: {kib_per_minute:.1} KiB/minute (limit {})",
        args.max_slope_kib
    );
    let held = vm.host_memory_held();
    let sockets = open_sockets();
    println!(
        "after stopping: host holds {held} bytes, {sockets} sockets open ({sockets_before} before)"
    );
    if kib_per_minute > args.max_slope_kib as f64 {
        bail!("resident memory grew {kib_per_minute:.1} KiB per minute");
    }
    if held != 0 || vm.process_count() != 0 {
        bail!("{held} bytes held, {} processes left", vm.process_count());
    }
    if sockets > sockets_before {
        bail!(
            "{sockets} sockets open, {sockets_before} before: {:?}",
            fd_targets()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_slope_of_a_line_is_its_gradient() {
        let line: Vec<(f64, f64)> = (0..10)
            .map(|m| (m as f64, 100.0 + 3.0 * m as f64))
            .collect();
        assert!((super::slope(&line) - 3.0).abs() < 1e-9);
        assert_eq!(super::slope(&[(1.0, 5.0)]), 0.0);
    }
}
