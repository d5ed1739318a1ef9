//! `vm-fuzz` (run it as `cargo xtask fuzz`): generated cases against the
//! whole ABI, in batches, until `--cases` have run or `--time` has passed.
//! A failure prints its seed, a minimized case and the command that
//! reproduces it, and exits 1.

use clap::Parser;
use std::time::{Duration, Instant};
use vm_fuzz::case::Case;
use vm_fuzz::Harness;

#[derive(Parser)]
#[command(about = "Fuzz the vm:host ABI with generated guests")]
struct Args {
    /// How many cases to run.
    #[arg(long, default_value_t = 10_000)]
    cases: u64,
    /// The first case's seed (case k has seed SEED + k).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Stop after this many seconds, whatever --cases says.
    #[arg(long)]
    time: Option<u64>,
    /// Cases run at once.
    #[arg(long, default_value_t = 32)]
    batch: u64,
}

fn resident_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

fn main() -> anyhow::Result<std::process::ExitCode> {
    let args = Args::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async {
        let mut harness = Harness::new()?;
        let started = Instant::now();
        let deadline = args.time.map(|t| started + Duration::from_secs(t));
        let mut next_report = started + Duration::from_secs(10);
        let mut done = 0u64;
        let mut baseline = None;
        while done < args.cases && deadline.is_none_or(|d| Instant::now() < d) {
            let n = args.batch.min(args.cases - done);
            let batch: Vec<Case> = (0..n)
                .map(|k| Case::generate(args.seed.wrapping_add(done + k)))
                .collect();
            if let Err(finding) = harness.run_batch(&batch).await {
                eprintln!("FAILED after {done} cases: {finding}");
                let (case, minimized) = vm_fuzz::culprit(&batch).await;
                match minimized {
                    Some(m) => {
                        eprintln!("{m}");
                        eprintln!(
                            "reproduce: cargo xtask fuzz --seed {} --cases 1",
                            case.seed
                        );
                    }
                    None => eprintln!(
                        "no case fails alone; reproduce the batch: cargo xtask fuzz --seed {} --cases {n} --batch {n}",
                        batch[0].seed
                    ),
                }
                return Ok(std::process::ExitCode::FAILURE);
            }
            done += n;
            // The first batches warm the allocator: the baseline is taken after them.
            if done >= 20 * args.batch && baseline.is_none() {
                baseline = Some(resident_kib());
            }
            if Instant::now() >= next_report {
                next_report += Duration::from_secs(10);
                let secs = started.elapsed().as_secs_f64();
                println!(
                    "{done} cases in {secs:.0} s ({:.0}/s), resident {} KiB",
                    done as f64 / secs,
                    resident_kib()
                );
            }
        }
        let secs = started.elapsed().as_secs_f64();
        println!(
            "ok: {done} cases (seeds {}..{}) in {secs:.1} s, {:.0} cases/s, 0 VM panics; resident {} KiB (after warm-up {} KiB)",
            args.seed,
            args.seed.wrapping_add(done),
            done as f64 / secs,
            resident_kib(),
            baseline.unwrap_or(0)
        );
        Ok(std::process::ExitCode::SUCCESS)
    })
}
