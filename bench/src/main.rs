//! `vm-bench`: each benchmark three ways — the VM with Rust guests, Erlang/OTP,
//! and native Rust on tokio — run alternately in one invocation on one
//! machine, reported as medians and ratios. Run it with `cargo xtask bench`.
//!
//! ```text
//! vm-bench [--quick] [--markdown FILE]   run everything
//! vm-bench load ADDR CONNS MSGS          TCP load generator (run as a child process)
//! ```

mod erlang;
mod native;
mod report;
mod vm;

use anyhow::{bail, Context, Result};
use report::{Figure, Impl};
use std::path::PathBuf;

/// Sizes of one run of each benchmark.
#[derive(Debug, Clone, Copy)]
pub struct Sizes {
    spawn: u32,
    pingpong: u32,
    ring_hops: u32,
    counting: u32,
    hostcall: u32,
    idle: &'static [u32],
    echo_msgs: u32,
    rounds: usize,
}

const FULL: Sizes = Sizes {
    spawn: 20_000,
    pingpong: 100_000,
    ring_hops: 100_000,
    counting: 1_000_000,
    hostcall: 10_000_000,
    idle: &[10_000, 100_000],
    echo_msgs: 500,
    rounds: 5,
};

const QUICK: Sizes = Sizes {
    spawn: 2_000,
    pingpong: 10_000,
    ring_hops: 10_000,
    counting: 100_000,
    hostcall: 1_000_000,
    idle: &[10_000],
    echo_msgs: 50,
    rounds: 1,
};

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
    let quick = args.iter().any(|a| a == "--quick");
    let markdown = args
        .iter()
        .position(|a| a == "--markdown")
        .and_then(|i| args.get(i + 1))
        .map(PathBuf::from);
    let sizes = if quick { QUICK } else { FULL };
    let erlang = erlang::Erlang::prepare().context("preparing the Erlang benchmarks")?;
    let mut figures: Vec<Figure> = Vec::new();
    for round in 0..sizes.rounds {
        eprintln!("round {} of {}", round + 1, sizes.rounds);
        // Alternate which implementation goes first, so warm-up and thermal
        // drift do not favour one.
        let mut order = [Impl::Vm, Impl::Erlang, Impl::Tokio];
        order.rotate_left(round % 3);
        for which in order {
            let result = match which {
                Impl::Vm => vm::run_all(&sizes),
                Impl::Erlang => erlang.run_all(&sizes),
                Impl::Tokio => native::run_all(&sizes),
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
        let command = if quick {
            "cargo xtask bench --quick"
        } else {
            "cargo xtask bench"
        };
        std::fs::write(&path, report::markdown(&table, command, &sizes))?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}
