//! `vm-bench`: each benchmark three ways — the VM with Rust guests, Erlang/OTP,
//! and native Rust on tokio — run alternately in one invocation on one
//! machine, reported as medians and ratios. Run it with `cargo xtask bench`.
//!
//! ```text
//! vm-bench [--markdown FILE]             run everything (and write BENCHMARKS.md)
//! vm-bench --quick                        everything, small and once: a smoke check
//! vm-bench [--quick] --only NAME[,NAME] [--rounds N]
//!                                         run some benchmarks (spawn, pingpong,
//!                                         ring, counting, hostcall, wake, echo,
//!                                         idle, hibernated)
//! vm-bench load ADDR CONNS MSGS          TCP load generator (run as a child process)
//! vm-bench idle (vm|vm-hibernated|tokio) N
//!                                         N idle (or hibernated) processes in a fresh process (ditto)
//! vm-bench serve (vm|tokio)               the echo server alone, until killed (for profiling)
//! ```

mod erlang;
mod native;
mod report;
mod vm;

use anyhow::{bail, Context, Result};
use report::{Figure, Impl};
use std::path::PathBuf;

/// What one invocation runs: the size of each benchmark, how many rounds,
/// and which benchmarks.
#[derive(Debug, Clone)]
pub struct Sizes {
    spawn: u32,
    pingpong: u32,
    ring_hops: u32,
    counting: u32,
    hostcall: u32,
    idle: &'static [u32],
    /// Hibernated process counts (`hibernated-N`).
    hibernated: &'static [u32],
    /// Idle connection counts (`conns-N`, `conns-reader-N`).
    conns: &'static [u32],
    echo_msgs: u32,
    rounds: usize,
    /// The benchmarks to run; empty runs them all.
    only: Vec<String>,
}

/// Every benchmark's name, as `--only` takes it.
const BENCHMARKS: &[&str] = &[
    "spawn",
    "pingpong",
    "ring",
    "counting",
    "hostcall",
    "wake",
    "plugins",
    "echo",
    "idle",
    "hibernated",
    "conns",
    "remote-pingpong",
    "remote-spawn",
    "remote-plugin",
    "nodedown",
];

impl Sizes {
    /// Whether this invocation runs `benchmark`.
    pub fn runs(&self, benchmark: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|b| b == benchmark)
    }

    /// The idle counts to run (none when `idle` is not selected).
    pub fn idle_counts(&self) -> &'static [u32] {
        if self.runs("idle") {
            self.idle
        } else {
            &[]
        }
    }
}

const FULL: Sizes = Sizes {
    spawn: 20_000,
    pingpong: 100_000,
    ring_hops: 100_000,
    counting: 1_000_000,
    hostcall: 10_000_000,
    idle: &[10_000, 100_000, 250_000],
    hibernated: &[100_000, 1_000_000],
    conns: &[10_000],
    echo_msgs: 500,
    rounds: 5,
    only: Vec::new(),
};

const QUICK: Sizes = Sizes {
    spawn: 2_000,
    pingpong: 10_000,
    ring_hops: 10_000,
    counting: 100_000,
    hostcall: 1_000_000,
    // Small enough for Linux's default vm.max_map_count.
    idle: &[2_000],
    hibernated: &[2_000],
    conns: &[1_000],
    echo_msgs: 50,
    rounds: 1,
    only: Vec::new(),
};

/// Raises `vm.max_map_count` for the run when the largest idle benchmark
/// needs more memory mappings than the kernel allows (each VM process slot
/// costs about six) and this user may change it; restores it when dropped.
struct MapCount {
    original: Option<u64>,
    /// What BENCHMARKS.md should say about it.
    note: Option<String>,
}

const MAX_MAP_COUNT: &str = "/proc/sys/vm/max_map_count";

impl MapCount {
    fn raise_for(processes: u32) -> MapCount {
        let current = std::fs::read_to_string(MAX_MAP_COUNT)
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok());
        // About six mappings per process slot, and room for the VM itself.
        let needed = (u64::from(processes) * 6 + 10_000).next_power_of_two();
        let unchanged = MapCount {
            original: None,
            note: None,
        };
        let Some(current) = current.filter(|&c| c < needed) else {
            return unchanged;
        };
        match std::fs::write(MAX_MAP_COUNT, needed.to_string()) {
            Ok(()) => {
                eprintln!("raised vm.max_map_count from {current} to {needed} for this run; it is restored at the end");
                MapCount {
                    original: Some(current),
                    note: Some(format!(
                        "vm.max_map_count was raised from {current} to {needed} for the run (`sysctl -w vm.max_map_count={needed}`), as a deployment holding {processes} processes would"
                    )),
                }
            }
            Err(e) => {
                eprintln!("vm.max_map_count is {current} and {processes} idle VM processes need about {needed} ({e}); the VM says so and those figures are missing");
                MapCount {
                    note: Some(format!("vm.max_map_count was {current} and could not be raised, so idle counts needing more than that are missing")),
                    ..unchanged
                }
            }
        }
    }
}

impl Drop for MapCount {
    fn drop(&mut self) {
        if let Some(original) = self.original {
            if let Err(e) = std::fs::write(MAX_MAP_COUNT, original.to_string()) {
                eprintln!("could not restore vm.max_map_count to {original}: {e}");
            }
        }
    }
}

/// The repository root (bench/ is one level down).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("load") {
        let [addr, conns, msgs] = &args[1..] else {
            bail!("usage: vm-bench load ADDR CONNS MSGS")
        };
        return native::load_generator(addr, conns.parse()?, msgs.parse()?);
    }
    if args.first().map(String::as_str) == Some("idle") {
        let usage = "usage: vm-bench idle (vm|vm-hibernated|tokio) N";
        let [implementation, n] = &args[1..] else {
            bail!(usage)
        };
        let n = n.parse().context(usage)?;
        return match implementation.as_str() {
            "vm" => vm::idle_child(n, false),
            "vm-hibernated" => vm::idle_child(n, true),
            "tokio" => {
                native::idle_child(n);
                Ok(())
            }
            _ => bail!(usage),
        };
    }
    if args.first().map(String::as_str) == Some("idle-conns") {
        let usage = "usage: vm-bench idle-conns (active|reader) N";
        let [design, n] = &args[1..] else {
            bail!(usage)
        };
        let n = n.parse().context(usage)?;
        return match design.as_str() {
            "active" => vm::idle_connections_child(n, true),
            "reader" => vm::idle_connections_child(n, false),
            _ => bail!(usage),
        };
    }
    if args.first().map(String::as_str) == Some("serve") {
        return match args.get(1).map(String::as_str) {
            Some("vm") => vm::serve(),
            Some("tokio") => native::serve(),
            _ => bail!("usage: vm-bench serve (vm|tokio)"),
        };
    }
    let quick = args.iter().any(|a| a == "--quick");
    let markdown = args
        .iter()
        .position(|a| a == "--markdown")
        .and_then(|i| args.get(i + 1))
        .map(PathBuf::from);
    let option = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .map(|i| {
                args.get(i + 1)
                    .with_context(|| format!("{name} needs a value"))
            })
            .transpose()
    };
    if quick && markdown.is_some() {
        bail!("BENCHMARKS.md comes from a full run: --quick only prints its figures");
    }
    let mut sizes = if quick { QUICK } else { FULL };
    if let Some(only) = option("--only")? {
        sizes.only = only.split(',').map(str::to_string).collect();
        if let Some(unknown) = sizes
            .only
            .iter()
            .find(|b| !BENCHMARKS.contains(&b.as_str()))
        {
            bail!(
                "unknown benchmark {unknown:?}; the benchmarks are {}",
                BENCHMARKS.join(", ")
            );
        }
        if markdown.is_some() {
            bail!("BENCHMARKS.md comes from a run of every benchmark: drop --only or --markdown");
        }
    }
    if let Some(rounds) = option("--rounds")? {
        sizes.rounds = rounds.parse().context("--rounds takes a number")?;
    }
    let erlang = erlang::Erlang::prepare().context("preparing the Erlang benchmarks")?;
    // Before any benchmark, for the capacity estimate in BENCHMARKS.md.
    let available_kib = native::mem_available_kib();
    let largest_idle = sizes.idle_counts().iter().copied().max().unwrap_or(0);
    let map_count = MapCount::raise_for(largest_idle);
    let mut figures: Vec<Figure> = Vec::new();
    for round in 0..sizes.rounds {
        eprintln!("round {} of {}", round + 1, sizes.rounds);
        // Alternate which implementation goes first, so warm-up and thermal
        // drift do not favour one.
        let mut order = [Impl::Vm, Impl::Erlang, Impl::Tokio];
        order.rotate_left(round % 3);
        for which in order {
            let result = match which {
                // The one-thread figures come from the VM's own runs.
                Impl::Vm | Impl::VmOneThread => vm::run_all(&sizes),
                Impl::Erlang => erlang.run_all(&sizes),
                // Both of tokio's runtimes from one run.
                Impl::Tokio | Impl::TokioOneThread => native::run_all(&sizes),
            };
            match result {
                Ok(fs) => figures.extend(fs),
                Err(e) => eprintln!("{which:?}: {e:#}"),
            }
        }
    }
    let table = report::summarize(&figures);
    for row in &table {
        println!(
            "BENCH name={} impl={} value={:.3} unit={}",
            row.name,
            row.which.name(),
            row.value,
            row.unit
        );
    }
    println!("\n{}", report::table(&table));
    if let Some(path) = markdown {
        let command = "cargo xtask bench";
        std::fs::write(
            &path,
            report::markdown(
                &table,
                command,
                &sizes,
                map_count.note.as_deref(),
                available_kib,
            ),
        )?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}
