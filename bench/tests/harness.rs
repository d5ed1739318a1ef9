//! The harness runs end to end: `vm-bench --quick --only pingpong,idle`
//! prints a figure for every implementation. Speeds are not asserted here
//! (timings belong in the benchmarks, not in tests).

use std::process::Command;

#[test]
fn a_quick_run_prints_a_figure_per_implementation() {
    let out = Command::new(env!("CARGO_BIN_EXE_vm-bench"))
        .args(["--quick", "--only", "pingpong,idle"])
        .output()
        .expect("vm-bench runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let figure = |name: &str, which: &str| {
        stdout
            .lines()
            .filter_map(|l| l.strip_prefix(&format!("BENCH name={name} impl={which} value=")))
            .find_map(|rest| rest.split_whitespace().next()?.parse::<f64>().ok())
            .unwrap_or_else(|| panic!("no {name} figure for {which}:\n{stdout}\n{stderr}"))
    };
    for which in ["vm", "vm-1thread", "erlang", "tokio"] {
        assert!(figure("pingpong", which) > 0.0);
    }
    for which in ["vm", "erlang", "tokio"] {
        assert!(figure("idle-2000", which) > 0.0);
    }
    // The VM's idle processes cost page tables; the figure is there.
    assert!(figure("idle-2000-pt", "vm") > 0.0);
    // The terminal table has the ratio columns.
    assert!(stdout.contains("vm/erlang"), "{stdout}");
}
