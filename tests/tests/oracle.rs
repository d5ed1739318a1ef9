//! Erlang as the oracle of the signal semantics: generated scenarios of
//! spawn, link, unlink, monitor, demonitor, exit signals (`normal`, `kill`
//! and others), trapping exits, sends, receives with and without a match,
//! names, and processes ending normally or by crash run on BEAM
//! (`tests/oracle/oracle.escript`), on the kernel alone (`vm_kernel`'s
//! Rust actors, `oracle/on_kernel.rs`) and on the whole VM, through the
//! ABI (`tests/guests/rust/oracle`), and their traces must be identical. A
//! mismatch shrinks to a minimal scenario. The language, the trace and
//! the differences kept on purpose are in `tests/oracle/README.md`.
//!
//! The suite runs 1,000 scenarios on the kernel and 100 through the VM
//! (each from `ORACLE_SEED`, default fixed); `ORACLE_CASES` sets both
//! counts, and `cargo xtask oracle --cases N --seed S` runs more.

#[path = "oracle/on_kernel.rs"]
mod on_kernel;

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use std::convert::Infallible;
use std::fmt;
use std::sync::Arc;
use vm_kernel::Kernel;
use vm_reference::{ExitReason, Module, Vm};
use vm_tests::{root, rust_guest, test_vm};

/// The reasons a step may use: `normal`, `kill` (untrappable when sent),
/// and two others.
const REASONS: [&str; 4] = ["normal", "kill", "boom", "shutdown"];
const NAMES: [&str; 2] = ["n0", "n1"];

#[derive(Clone, Debug)]
enum Step {
    Link(usize, usize),
    Unlink(usize, usize),
    Monitor(usize, usize),
    Demonitor(usize, usize),
    Exit(usize, usize, &'static str),
    Trap(usize, bool),
    Send(usize, usize, u32),
    Recv(usize, Option<u32>),
    End(usize, &'static str),
    Crash(usize),
    Register(usize, &'static str),
    Unregister(usize, &'static str),
    SendName(usize, &'static str, u32),
    Spawn(usize, bool),
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Link(a, b) => write!(f, "link {a} {b}"),
            Step::Unlink(a, b) => write!(f, "unlink {a} {b}"),
            Step::Monitor(a, b) => write!(f, "monitor {a} {b}"),
            Step::Demonitor(a, k) => write!(f, "demonitor {a} {k}"),
            Step::Exit(a, b, r) => write!(f, "exit {a} {b} {r}"),
            Step::Trap(a, on) => write!(f, "trap {a} {}", if *on { "on" } else { "off" }),
            Step::Send(a, b, v) => write!(f, "send {a} {b} {v}"),
            Step::Recv(a, None) => write!(f, "recv {a}"),
            Step::Recv(a, Some(v)) => write!(f, "recv {a} {v}"),
            Step::End(a, r) => write!(f, "end {a} {r}"),
            Step::Crash(a) => write!(f, "crash {a}"),
            Step::Register(a, n) => write!(f, "register {a} {n}"),
            Step::Unregister(a, n) => write!(f, "unregister {a} {n}"),
            Step::SendName(a, n, v) => write!(f, "sendname {a} {n} {v}"),
            Step::Spawn(a, link) => {
                write!(f, "spawn {a} {}", if *link { "link" } else { "nolink" })
            }
        }
    }
}

#[derive(Clone, Debug)]
struct Scenario {
    actors: usize,
    steps: Vec<Step>,
}

impl Scenario {
    /// The scenario's lines.
    fn lines(&self) -> Vec<String> {
        std::iter::once(format!("actors {}", self.actors))
            .chain(self.steps.iter().map(Step::to_string))
            .collect()
    }
}

/// Leaves out what the VM does differently on purpose (tests/oracle/README.md
/// and abi/README.md list it):
/// - a second name for an actor that has one (Erlang allows one name per
///   process; the VM several);
/// - `unlink` by an actor that has trapped exits: the VM also removes an
///   `exit` message from the link already queued, which Erlang leaves.
fn within_the_shared_semantics(mut s: Scenario) -> Scenario {
    let mut named = vec![false; s.actors + 2];
    let mut trapped = vec![false; s.actors + 2];
    s.steps.retain(|step| match *step {
        Step::Register(a, _) if named[a] => false,
        Step::Register(a, _) => {
            named[a] = true;
            true
        }
        Step::Trap(a, true) => {
            trapped[a] = true;
            true
        }
        Step::Unlink(a, _) => !trapped[a],
        _ => true,
    });
    s
}

/// A step among `actors` actors: the first ones and up to two that steps
/// spawn (a step naming one not spawned yet does nothing).
fn step(actors: usize) -> impl Strategy<Value = Step> {
    let actors = actors + 2;
    let a = 0..actors;
    let reason = prop::sample::select(&REASONS[..]);
    let name = prop::sample::select(&NAMES[..]);
    prop_oneof![
        3 => (a.clone(), 0..actors).prop_map(|(a, b)| Step::Link(a, b)),
        1 => (a.clone(), 0..actors).prop_map(|(a, b)| Step::Unlink(a, b)),
        2 => (a.clone(), 0..actors).prop_map(|(a, b)| Step::Monitor(a, b)),
        1 => (a.clone(), 0..4usize).prop_map(|(a, k)| Step::Demonitor(a, k)),
        3 => (a.clone(), 0..actors, reason.clone()).prop_map(|(a, b, r)| Step::Exit(a, b, r)),
        2 => (a.clone(), any::<bool>()).prop_map(|(a, on)| Step::Trap(a, on)),
        3 => (a.clone(), 0..actors, 0..3u32).prop_map(|(a, b, v)| Step::Send(a, b, v)),
        3 => (a.clone(), prop::option::of(0..3u32)).prop_map(|(a, v)| Step::Recv(a, v)),
        1 => (a.clone(), reason).prop_map(|(a, r)| Step::End(a, r)),
        1 => a.clone().prop_map(Step::Crash),
        1 => (a.clone(), name.clone()).prop_map(|(a, n)| Step::Register(a, n)),
        1 => (a.clone(), name.clone()).prop_map(|(a, n)| Step::Unregister(a, n)),
        1 => (a.clone(), name, 0..3u32).prop_map(|(a, n, v)| Step::SendName(a, n, v)),
        2 => (a, any::<bool>()).prop_map(|(a, link)| Step::Spawn(a, link)),
    ]
}

fn scenario() -> impl Strategy<Value = Scenario> {
    (2..=4usize)
        .prop_flat_map(|actors| {
            prop::collection::vec(step(actors), 1..=12)
                .prop_map(move |steps| Scenario { actors, steps })
        })
        .prop_map(within_the_shared_semantics)
}

/// BEAM's traces of `scenarios`, from one run of the escript.
fn on_beam(scenarios: &[Scenario]) -> Vec<String> {
    let dir = root().join("target/oracle");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!("scenarios-{}.txt", std::process::id()));
    let text: String = scenarios
        .iter()
        .map(|s| s.lines().join("\n") + "\n\n")
        .collect();
    std::fs::write(&file, text).unwrap();
    let out = std::process::Command::new("escript")
        .arg(root().join("tests/oracle/oracle.escript"))
        .arg(&file)
        .output()
        .expect("escript runs (cargo xtask setup installs erlang-base)");
    let _ = std::fs::remove_file(&file);
    assert!(
        out.status.success(),
        "the Erlang oracle failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let traces: Vec<String> = stdout
        .split("===\n")
        .take(scenarios.len())
        .map(str::to_string)
        .collect();
    assert_eq!(traces.len(), scenarios.len(), "{stdout}");
    traces
}

/// Where a scenario runs besides BEAM.
enum Runner {
    /// The kernel alone, its processes Rust actors.
    Kernel(Arc<Kernel<Infallible>>),
    /// The whole VM, the oracle guest interpreting the scenario.
    Vm(Vm, Module),
}

impl Runner {
    fn name(&self) -> &'static str {
        match self {
            Runner::Kernel(_) => "the kernel",
            Runner::Vm(..) => "the VM",
        }
    }

    async fn run(&self, scenario: &Scenario) -> String {
        match self {
            Runner::Kernel(kernel) => on_kernel::run(kernel, scenario.lines()).await,
            Runner::Vm(vm, module) => on_vm(vm, module, scenario).await,
        }
    }
}

/// The VM's trace of `scenario`, run by the oracle guest as a root process;
/// every process it left is gone before this returns.
async fn on_vm(vm: &Vm, module: &Module, scenario: &Scenario) -> String {
    let before = vm.captured_stdout().len();
    let text = scenario.lines().join(";");
    let outcome = vm.run(module, &["oracle", &text]).await.unwrap();
    vm.kill_all().await;
    assert_eq!(
        outcome.reason,
        ExitReason::Normal,
        "the oracle guest failed on\n{}\n{}",
        scenario.lines().join("\n"),
        vm.captured_stderr()
    );
    vm.captured_stdout()[before..].to_string()
}

/// A number from the environment (decimal, or hex with `0x`), or `default`
/// if it is not set; a value that is not a number fails the test.
fn setting(name: &str, default: u64) -> u64 {
    let Ok(value) = std::env::var(name) else {
        return default;
    };
    let parsed = match value.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => value.parse(),
    };
    parsed.unwrap_or_else(|_| panic!("{name}={value} is not a number"))
}

/// Shrinks `tree`'s scenario while BEAM and `runner` still disagree on
/// it, as proptest's runner does: simpler while it fails, back a little
/// when it passes.
async fn shrink(
    runner: &Runner,
    mut tree: impl ValueTree<Value = Scenario>,
) -> (Scenario, String, String) {
    let differs = |s: Scenario| async move {
        let beam = on_beam(std::slice::from_ref(&s)).remove(0);
        let ours = runner.run(&s).await;
        (beam != ours).then_some((s, beam, ours))
    };
    let mut smallest = differs(tree.current())
        .await
        .expect("the mismatch repeats when run alone");
    if !tree.simplify() {
        return smallest;
    }
    for _ in 0..400 {
        match differs(tree.current()).await {
            Some(found) => {
                smallest = found;
                if !tree.simplify() {
                    break;
                }
            }
            None => {
                if !tree.complicate() {
                    break;
                }
            }
        }
    }
    smallest
}

/// Runs `ORACLE_CASES` scenarios (else `default_cases`) from `ORACLE_SEED`
/// on BEAM and on `runner`, and fails with the smallest scenario on which
/// they differ.
async fn agree_with_erlang(runner: Runner, default_cases: u64) {
    let cases = setting("ORACLE_CASES", default_cases) as usize;
    let seed = setting("ORACLE_SEED", 0x0a11_ce5e_ed00_0001);
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let mut rng = TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &bytes),
    );
    let strategy = scenario();
    let trees: Vec<_> = (0..cases)
        .map(|_| strategy.new_tree(&mut rng).unwrap())
        .collect();
    let scenarios: Vec<Scenario> = trees.iter().map(ValueTree::current).collect();
    let beam = on_beam(&scenarios);
    let name = runner.name();
    for (i, (scenario, expected)) in scenarios.iter().zip(&beam).enumerate() {
        let ours = runner.run(scenario).await;
        if &ours != expected {
            eprintln!(
                "scenario {i} differs:\n{}\n\nErlang:\n{expected}\n{name}:\n{ours}",
                scenario.lines().join("\n")
            );
            let tree = trees.into_iter().nth(i).unwrap();
            let (smallest, beam, ours) = shrink(&runner, tree).await;
            panic!(
                "scenario {i} of seed {seed:#x} differs from Erlang on {name}; shrunk to\n\n{}\n\nErlang:\n{beam}\n{name}:\n{ours}\n(reproduce: cargo xtask oracle --cases {} --seed {seed})",
                smallest.lines().join("\n"),
                i + 1
            );
        }
    }
    println!(
        "oracle: {cases} scenarios from seed {seed:#x}: {name} agreed with Erlang on every one"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kernel_agrees_with_erlang_on_generated_signal_scenarios() {
    agree_with_erlang(Runner::Kernel(on_kernel::kernel()), 1000).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_vm_agrees_with_erlang_on_generated_signal_scenarios() {
    let vm = test_vm().build().unwrap();
    let module = vm.load_file(rust_guest("oracle")).unwrap();
    agree_with_erlang(Runner::Vm(vm, module), 100).await;
}
