//! Collecting figures into medians, and printing them as a table, as
//! `BENCH` lines and as BENCHMARKS.md.

use std::collections::BTreeMap;
use std::fmt::Write;

/// Which implementation produced a figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Impl {
    Vm,
    /// The VM on a runtime with one worker thread (`vm run --threads 1`).
    VmOneThread,
    Erlang,
    /// tokio's default, multi-thread runtime.
    Tokio,
    /// tokio's current-thread runtime.
    TokioOneThread,
}

impl Impl {
    pub fn name(self) -> &'static str {
        match self {
            Impl::Vm => "vm",
            Impl::VmOneThread => "vm-1thread",
            Impl::Erlang => "erlang",
            Impl::Tokio => "tokio",
            Impl::TokioOneThread => "tokio-1thread",
        }
    }
}

/// One measurement, or (from [`summarize`]) the median of several.
#[derive(Debug, Clone)]
pub struct Figure {
    pub name: String,
    pub which: Impl,
    pub value: f64,
    pub unit: &'static str,
    /// The lowest and highest of the rounds a median was taken over.
    pub range: (f64, f64),
    /// How many rounds the median was taken over.
    pub rounds: usize,
}

impl Figure {
    pub fn new(name: impl Into<String>, which: Impl, value: f64, unit: &'static str) -> Figure {
        Figure {
            name: name.into(),
            which,
            value,
            unit,
            range: (value, value),
            rounds: 1,
        }
    }
}

/// The median of each (benchmark, implementation) over the rounds, with
/// the lowest and highest round.
pub fn summarize(figures: &[Figure]) -> Vec<Figure> {
    let mut groups: BTreeMap<(String, Impl), (Vec<f64>, &'static str)> = BTreeMap::new();
    for f in figures {
        groups
            .entry((f.name.clone(), f.which))
            .or_insert_with(|| (Vec::new(), f.unit))
            .0
            .push(f.value);
    }
    let order = |name: &str| {
        ORDER
            .iter()
            .position(|n| name.starts_with(n))
            .unwrap_or(ORDER.len())
    };
    let mut out: Vec<Figure> = groups
        .into_iter()
        .map(|((name, which), (mut values, unit))| {
            values.sort_by(f64::total_cmp);
            Figure {
                name,
                which,
                value: values[values.len() / 2],
                unit,
                range: (values[0], values[values.len() - 1]),
                rounds: values.len(),
            }
        })
        .collect();
    out.sort_by(|a, b| (order(&a.name), &a.name, a.which).cmp(&(order(&b.name), &b.name, b.which)));
    out
}

const ORDER: &[&str] = &[
    "spawn",
    "pingpong",
    "wake",
    "remote-pingpong",
    "remote-spawn",
    "nodedown",
    "ring",
    "counting",
    "idle",
    "hibernated",
    "conns",
    "echo",
    "hostcall",
    "plugincall",
];

fn find<'t>(table: &'t [Figure], name: &str, which: Impl) -> Option<&'t Figure> {
    table.iter().find(|f| f.name == name && f.which == which)
}

fn lookup(table: &[Figure], name: &str, which: Impl) -> Option<f64> {
    find(table, name, which).map(|f| f.value)
}

/// A figure's lowest and highest round, as `low–high`.
fn spread(f: Option<&Figure>) -> String {
    match f {
        Some(f) if f.rounds > 1 => format!("{:.3}–{:.3}", f.range.0, f.range.1),
        Some(f) => format!("{:.3} (one round)", f.value),
        None => "—".to_string(),
    }
}

/// Each benchmark's lowest and highest round per implementation, so a
/// reader can tell a real difference from this machine's noise.
fn spread_rows(table: &[Figure]) -> Vec<[String; 5]> {
    names(table)
        .into_iter()
        .map(|(name, unit)| {
            let [v, e, t] =
                [Impl::Vm, Impl::Erlang, Impl::Tokio].map(|w| spread(find(table, &name, w)));
            [name, unit.to_string(), v, e, t]
        })
        .collect()
}

fn names(table: &[Figure]) -> Vec<(String, &'static str)> {
    let mut seen: Vec<(String, &'static str)> = Vec::new();
    for f in table {
        if !seen.iter().any(|(n, _)| n == &f.name) {
            seen.push((f.name.clone(), f.unit));
        }
    }
    seen
}

fn cell(v: Option<f64>) -> String {
    v.map_or_else(|| "—".to_string(), |v| format!("{v:.3}"))
}

fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b != 0.0 => format!("{:.2}", a / b),
        _ => "—".to_string(),
    }
}

/// Each benchmark's row: name, unit, the three medians and the two ratios.
fn rows(table: &[Figure]) -> Vec<[String; 7]> {
    names(table)
        .into_iter()
        .map(|(name, unit)| {
            let v = lookup(table, &name, Impl::Vm);
            let e = lookup(table, &name, Impl::Erlang);
            let t = lookup(table, &name, Impl::Tokio);
            [
                name,
                unit.to_string(),
                cell(v),
                cell(e),
                cell(t),
                ratio(v, e),
                ratio(v, t),
            ]
        })
        .collect()
}

const HEADER: [&str; 7] = [
    "benchmark",
    "unit",
    "vm",
    "erlang",
    "tokio",
    "vm/erlang",
    "vm/tokio",
];

/// A plain-text table for the terminal.
pub fn table(table: &[Figure]) -> String {
    let line = |r: &[&str]| {
        format!(
            "{:<24} {:>6} {:>14} {:>14} {:>14} {:>10} {:>10}\n",
            r[0], r[1], r[2], r[3], r[4], r[5], r[6]
        )
    };
    let mut out = line(&HEADER);
    for r in rows(table) {
        out += &line(&r.each_ref().map(String::as_str));
    }
    out += "\n";
    for r in thread_rows(table) {
        out += &line(&r.each_ref().map(String::as_str));
    }
    out
}

const THREAD_HEADER: [&str; 7] = [
    "benchmark",
    "unit",
    "vm-1thread",
    "tokio-1thread",
    "vm-1thread/vm",
    "tokio-1thread/tokio",
    "vm-1thread/tokio-1thread",
];

/// Each runtime on one thread beside its default, for the benchmarks
/// measured both ways (the header row first).
fn thread_rows(table: &[Figure]) -> Vec<[String; 7]> {
    let mut out = vec![THREAD_HEADER.map(String::from)];
    for (name, unit) in names(table) {
        let one = lookup(table, &name, Impl::VmOneThread);
        let tokio_one = lookup(table, &name, Impl::TokioOneThread);
        if one.is_none() && tokio_one.is_none() {
            continue;
        }
        let v = lookup(table, &name, Impl::Vm);
        let t = lookup(table, &name, Impl::Tokio);
        out.push([
            name,
            unit.to_string(),
            cell(one),
            cell(tokio_one),
            ratio(one, v),
            ratio(tokio_one, t),
            ratio(one, tokio_one),
        ]);
    }
    out
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines().next().map(|l| {
                l.split_whitespace()
                    .nth(1)
                    .unwrap_or("0")
                    .parse::<u64>()
                    .unwrap_or(0)
            })
        })
        .map(|kb| format!("{:.1} GiB", kb as f64 / 1024.0 / 1024.0))
        .unwrap_or_default();
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    format!("{cores} cores ({cpu}), {mem} of memory, Linux")
}

/// How many idle processes of each implementation fit in `available_kib`
/// (the machine's available memory when the run began), from the largest
/// idle count measured: resident memory plus page tables per process.
fn capacity(table: &[Figure], available_kib: u64) -> Option<String> {
    let largest = table
        .iter()
        .filter_map(|f| f.name.strip_prefix("idle-")?.parse::<u64>().ok())
        .max()?;
    let mut out = format!(
        "\n## How many idle processes this machine holds\n\n\
         Memory is what runs out: {:.1} GiB was available when the run began, and each idle process \
         costs its resident memory plus its page tables (measured at {largest} processes). \
         The VM also needs about six kernel memory mappings per process, which `vm.max_map_count` must allow \
         (see the system line above).\n\n\
         | implementation | KiB per idle process | idle processes that fit |\n| --- | ---: | ---: |\n",
        available_kib as f64 / 1024.0 / 1024.0
    );
    for which in [Impl::Vm, Impl::Erlang, Impl::Tokio] {
        let Some(rss) = lookup(table, &format!("idle-{largest}"), which) else {
            continue;
        };
        let pt = lookup(table, &format!("idle-{largest}-pt"), which);
        let per = rss + pt.unwrap_or(0.0);
        let with = if pt.is_some() {
            format!(
                "{per:.1} ({rss:.1} resident + {:.1} page tables)",
                pt.unwrap_or(0.0)
            )
        } else {
            format!("{per:.1} (resident)")
        };
        let _ = writeln!(
            out,
            "| {} | {with} | about {} |",
            which.name(),
            thousands((available_kib as f64 / per) as u64 / 1000 * 1000)
        );
    }
    Some(out)
}

/// Plugin figures beside the VM's own: spawn with sixteen plugins beside
/// spawn with none, a plugin call of each kind beside a host call.
fn plugins(table: &[Figure]) -> Option<String> {
    let spawn = lookup(table, "spawn", Impl::Vm);
    let hostcall = lookup(table, "hostcall", Impl::Vm);
    let rows = [
        ("spawn-16-plugins", "spawn", spawn),
        ("plugincall-core", "hostcall", hostcall),
        ("plugincall-component", "hostcall", hostcall),
        ("plugincall-native", "hostcall", hostcall),
        ("plugincall-library", "hostcall", hostcall),
        ("plugincall-remote", "hostcall", hostcall),
    ];
    let mut out = String::from("\n## Plugins\n\nThe same run, on a VM with sixteen plugins loaded (kv of each kind and fifteen one-function plugins; `bench/guest/src/bin/bench-plugins.rs`), each figure beside the VM's own figure without plugins:\n\n| benchmark | unit | vm | beside | its figure | ratio |\n| --- | --- | ---: | --- | ---: | ---: |\n");
    let mut any = false;
    for (name, beside, base) in rows {
        let Some(f) = find(table, name, Impl::Vm) else {
            continue;
        };
        any = true;
        let _ = writeln!(
            out,
            "| {name} | {} | {:.3} | {beside} | {} | {} |",
            f.unit,
            f.value,
            cell(base),
            ratio(Some(f.value), base)
        );
    }
    any.then_some(out)
}

/// `1234567` as `1,234,567`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// BENCHMARKS.md, regenerated from a run.
pub fn markdown(
    table: &[Figure],
    command: &str,
    sizes: &crate::Sizes,
    system_note: Option<&str>,
    available_kib: Option<u64>,
) -> String {
    let mut out = String::from("# Benchmarks\n\nGenerated by a real run of the harness; do not edit the numbers by hand.\n\n");
    let _ = writeln!(out, "- machine: {}", machine());
    if let Some(note) = system_note {
        let _ = writeln!(out, "- system: {note}");
    }
    let _ = writeln!(out, "- command: `{command}` ({} rounds, implementations alternating; each figure is the median)", sizes.rounds);
    let _ = writeln!(out, "- implementations: **vm** = this VM (release build) running Rust guests (`bench/guest`); **erlang** = Erlang/OTP from Debian's `erlang-base` (`bench/erlang/bench.erl`); **tokio** = native Rust, tasks and channels (`bench/src/native.rs`), each benchmark run inside a task as a tokio user writes it, on tokio's default multi-thread runtime (and on its current-thread runtime below)\n");
    out.push_str(&format!(
        "| {} |\n| --- | --- | ---: | ---: | ---: | ---: | ---: |\n",
        HEADER.join(" | ")
    ));
    for r in rows(table) {
        let _ = writeln!(out, "| {} |", r.join(" | "));
    }
    let threads = thread_rows(table);
    if threads.len() > 1 {
        out.push_str("\n## One scheduler thread\n\nThe VM runs processes on its own scheduler with one worker thread per core by default (a chain of messages stays on one worker; idle workers steal only queued processes), and the table above compares it with tokio's default multi-thread runtime. The same benchmarks on one thread, in the same run: the VM with one worker (`vm run --threads 1`) and tokio's current-thread runtime, each beside its own default and beside each other:\n\n");
        let _ = writeln!(
            out,
            "| {} |\n| --- | --- | ---: | ---: | ---: | ---: | ---: |",
            threads[0].join(" | ")
        );
        for r in &threads[1..] {
            let _ = writeln!(out, "| {} |", r.join(" | "));
        }
    }
    out.push_str("\n## Spread over the rounds\n\nThe lowest and highest round behind each median above. This machine is a shared 2-core VM: where two implementations' ranges overlap, their medians' ratio is within its noise.\n\n");
    let _ = writeln!(
        out,
        "| benchmark | unit | vm | erlang | tokio |\n| --- | --- | ---: | ---: | ---: |"
    );
    for r in spread_rows(table) {
        let _ = writeln!(out, "| {} |", r.join(" | "));
    }
    if let Some(section) = available_kib.and_then(|kib| capacity(table, kib)) {
        out.push_str(&section);
    }
    if let Some(section) = plugins(table) {
        out.push_str(&section);
    }
    out.push_str(&format!(
        "\n## What each figure means\n\n\
         - **spawn**: spawn a process that sends one message back, and receive it; time per process ({} processes per run).\n\
         - **pingpong**: round trip of a small typed message between two processes ({} round trips).\n\
         - **ring**: a token passed around a ring of 1,000 processes; time per hop ({} hops).\n\
         - **counting**: one process receives {} messages from another; time per message.\n\
         - **idle-N**: resident memory (the OS's VmRSS) added per idle process, with N processes waiting in a receive, measured in a fresh process (`vm-bench idle vm|tokio N`) so memory freed by earlier benchmarks cannot hide part of it.\n\
         - **idle-N-pss**: the same as proportional set size (`Pss` in `/proc/self/smaps_rollup`), which counts a shared page once rather than once per mapping: every VM process maps its module's data pages copy-on-write from one image, and VmRSS counts those read-only pages again in each process.\n\
         - **idle-N-pt**: the kernel's page tables added per idle process (`VmPTE` in `/proc/self/status`), which neither RSS nor PSS counts: each VM process's memory and stack lie in regions of their own, and each region a process touches costs page-table pages. Add it to idle-N for what an idle process costs the machine.\n\
         - **hibernated-N** (and `-pss`, `-pt`): the same, with the N processes hibernated (`process.hibernate`): no instance, no memory of their own (`vm-bench idle vm-hibernated N`).\n\
         - **conns-reader-N / conns-N** (and `-pss`, `-pt`): memory per idle TCP connection of a line echo server holding N connections whose clients say nothing (`bench-sleepy`, `vm-bench idle-conns reader|active N`; the client ends are in the harness's process, not counted). conns-reader: a reader process per connection awake in a blocking read, beside a hibernated session with the write half (the design before active sockets). conns: one session per connection holding both halves, hibernated with its read half active once (`net.set-active`), so nothing of the connection stays awake.\n\
         - **wake**: a round trip to a process that hibernates after each answer, so every message wakes a fresh instance ({} round trips); compare with pingpong.\n\
         - **remote-pingpong**: pingpong between two nodes on this machine ({} round trips after 100 to warm up): for the VM, this process's VM and a `vm run` of its own joined over a `nats-server` on loopback (each message crosses the server); for Erlang, two nodes (`erl -name`, the second started with `peer`) with distribution over loopback TCP.\n\
         - **remote-spawn**: spawn a process on the other node that sends one message back, and receive it ({} spawns after 10 to warm up); for the VM, `node.spawn-on` (the first spawn ships the module through the object store, the rest find it compiled there); for Erlang, `spawn(Node, Fun)`. Compare with spawn.\n\
         - **nodedown**: from `kill -9` of the other node's OS process until a process watching one of its processes hears of it: the VM's monitor `down` (`noconnection`: heartbeats every 100 ms, and a node silent for one is probed, NATS answering \"no responders\" once its connection is gone); Erlang's `monitor_node` (its TCP connection closing).\n\
         - **echo-throughput / echo-p99**: 100 TCP connections each sending {} messages of 1 KiB and reading the echo; the load generator is a separate process. The vm serves with `examples/rust/echo-server` (a process per connection), tokio with a task per connection.\n\
         - **echo-cpu**: CPU time (user and system) the server's process spent per echoed message over the same run. Server and load generator share the machine's cores, so throughput moves with how the OS schedules them; this figure is the server's own cost.\n\
         - **hostcall**: the cheapest ABI call (`process.self-id`) from a guest in a loop; Erlang's figure is `self()`.\n\
         - **spawn-16-plugins**: spawn, from a module that imports sixteen plugins, on a VM that loaded them; the spawned processes never call one, so no plugin instance is made (instances are made per process, on its first call).\n\
         - **plugincall-core / -component / -native / -library**: kv's `count` (no arguments, a `u32` back) from a guest in a loop, with kv as a core module, as a component, as an in-process native plugin (`examples/plugins/kv-native`) and as that crate's shared library, after the first call made the process's instance or state.\n\
         - **plugincall-remote**: the same call with kv served over NATS (`--remote-plugin kv@1`, `vm_plugin_remote::serve` on a thread of its own, a nats-server on loopback; {} calls); tokio's figure is the floor, the same request and reply (its headers, a one-byte answer) from a tokio task with no VM in the path.\n\n\
         Lower is better except for throughput. A dash means the implementation has no such figure or the run failed (the harness prints why).\n",
        sizes.spawn, sizes.pingpong, sizes.ring_hops, sizes.counting, sizes.pingpong, (sizes.pingpong / 10).max(100), crate::vm::remote_spawns(sizes), sizes.echo_msgs, crate::vm::remote_plugin_calls(sizes)
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries_keep_the_median_and_the_range_of_the_rounds() {
        let rounds = [3.0, 1.0, 9.0, 2.0, 4.0];
        let mut figures: Vec<Figure> = rounds
            .iter()
            .map(|&v| Figure::new("ring", Impl::Vm, v, "ns"))
            .collect();
        figures.push(Figure::new("ring", Impl::Tokio, 0.5, "ns"));
        let table = summarize(&figures);
        let vm = find(&table, "ring", Impl::Vm).unwrap();
        assert_eq!((vm.value, vm.range, vm.rounds), (3.0, (1.0, 9.0), 5));
        let rows = spread_rows(&table);
        assert_eq!(rows[0][2], "1.000–9.000");
        assert_eq!(rows[0][3], "—");
        assert_eq!(rows[0][4], "0.500 (one round)");
    }

    #[test]
    fn capacity_divides_available_memory_by_resident_memory_and_page_tables() {
        let table = summarize(&[
            Figure::new("idle-10000", Impl::Vm, 30.0, "KiB"),
            Figure::new("idle-250000", Impl::Vm, 20.0, "KiB"),
            Figure::new("idle-250000-pt", Impl::Vm, 5.0, "KiB"),
            Figure::new("idle-250000", Impl::Erlang, 2.5, "KiB"),
        ]);
        let text = capacity(&table, 25_000_000).unwrap();
        assert!(text.contains("measured at 250000 processes"), "{text}");
        assert!(
            text.contains("| vm | 25.0 (20.0 resident + 5.0 page tables) | about 1,000,000 |"),
            "{text}"
        );
        assert!(
            text.contains("| erlang | 2.5 (resident) | about 10,000,000 |"),
            "{text}"
        );
        assert!(!text.contains("| tokio"), "{text}");
    }
}
