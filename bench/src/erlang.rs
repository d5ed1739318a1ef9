//! Running `bench/erlang/bench.erl` with Debian's Erlang/OTP.

use crate::report::{Figure, Impl};
use crate::Sizes;
use anyhow::{bail, Context, Result};
use std::path::PathBuf;
use std::process::Command;

pub struct Erlang {
    beam_dir: PathBuf,
}

impl Erlang {
    /// Compiles the benchmark module into target/bench-erlang.
    pub fn prepare() -> Result<Erlang> {
        let beam_dir = crate::root().join("target/bench-erlang");
        std::fs::create_dir_all(&beam_dir)?;
        let status = Command::new("erlc")
            .arg("-o")
            .arg(&beam_dir)
            .arg(crate::root().join("bench/erlang/bench.erl"))
            .status()
            .context("running erlc (cargo xtask bench installs erlang-base)")?;
        if !status.success() {
            bail!("erlc failed");
        }
        Ok(Erlang { beam_dir })
    }

    fn run(&self, mode: &str, n: u32) -> Result<(f64, &'static str)> {
        let mut erl = Command::new("erl");
        if mode == "remote_pingpong" || mode == "remote_spawn" || mode == "nodedown" {
            // A distributed node (its peer is started by the module).
            erl.args(["-name", "bench@127.0.0.1", "-setcookie", "vm-bench"]);
        }
        let out = erl
            .args(["-noshell", "+P", "2000000", "-pa"])
            .arg(&self.beam_dir)
            .args([
                "-s",
                "bench",
                "main",
                mode,
                &n.to_string(),
                "-s",
                "init",
                "stop",
            ])
            .output()
            .context("running erl")?;
        parse_result(&String::from_utf8_lossy(&out.stdout))
            .with_context(|| format!("erlang {mode}: {}", String::from_utf8_lossy(&out.stderr)))
    }

    pub fn run_all(&self, s: &Sizes) -> Result<Vec<Figure>> {
        let mut figures = Vec::new();
        for (name, mode, n) in [
            ("spawn", "spawn", s.spawn),
            ("pingpong", "pingpong", s.pingpong),
            ("ring", "ring", s.ring_hops),
            ("counting", "counting", s.counting),
            ("hostcall", "hostcall", s.hostcall),
            ("wake", "wake", s.pingpong),
            (
                "remote-pingpong",
                "remote_pingpong",
                (s.pingpong / 10).max(100),
            ),
            ("remote-spawn", "remote_spawn", crate::vm::remote_spawns(s)),
            ("nodedown", "nodedown", 1),
        ] {
            if !s.runs(name) {
                continue;
            }
            let (v, unit) = self.run(mode, n)?;
            figures.push(Figure::new(name, Impl::Erlang, v, unit));
        }
        for &n in s.idle_counts() {
            let (v, unit) = self.run("idle", n)?;
            figures.push(Figure::new(format!("idle-{n}"), Impl::Erlang, v, unit));
        }
        if s.runs("hibernated") {
            for &n in s.hibernated {
                let (v, unit) = self.run("hibernated", n)?;
                figures.push(Figure::new(
                    format!("hibernated-{n}"),
                    Impl::Erlang,
                    v,
                    unit,
                ));
            }
        }
        Ok(figures)
    }
}

/// Parses a `RESULT <value> <unit>` line.
pub fn parse_result(text: &str) -> Result<(f64, &'static str)> {
    // The last: a VM that ran several benchmarks captured each one's.
    let line = text
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("RESULT "))
        .context("no RESULT line")?;
    let mut parts = line.split_whitespace();
    let value: f64 = parts.next().context("no value")?.parse()?;
    let unit = match parts.next() {
        Some("us") => "us",
        Some("ns") => "ns",
        Some("KiB") => "KiB",
        Some("ms") => "ms",
        other => bail!("unknown unit {other:?}"),
    };
    Ok((value, unit))
}
