//! The suite's share of the fuzzer: a few thousand generated cases against
//! the whole ABI, each batch checked (no VM panic, nothing left held, a
//! fresh process still runs). `cargo xtask fuzz` runs as many as you like;
//! `FUZZING.md` records a long run.

use vm_fuzz::case::Case;
use vm_fuzz::Harness;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_thousand_generated_cases_leave_the_vm_whole() {
    let mut harness = Harness::new().unwrap();
    // A seed of its own each day would find more, but a suite must repeat:
    // the long runs vary the seed.
    for first in (0..3000u64).step_by(32) {
        let batch: Vec<Case> = (first..first + 32).map(Case::generate).collect();
        if let Err(finding) = harness.run_batch(&batch).await {
            let (case, minimized) = vm_fuzz::culprit(&batch).await;
            panic!(
                "{finding}\nreproduce: cargo xtask fuzz --seed {} --cases 1\n{}",
                case.seed,
                minimized.map_or_else(|| "(fails only with its batch)".into(), |m| m.to_string())
            );
        }
    }
}
