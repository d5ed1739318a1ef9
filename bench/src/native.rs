//! The benchmarks in native Rust on tokio (tasks and channels), the TCP echo
//! server they are compared with, and the TCP load generator.

use crate::report::{Figure, Impl};
use crate::Sizes;
use anyhow::{Context, Result};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

fn current_thread_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

/// Runs a benchmark as a tokio user writes one: inside a task. Driven
/// from `block_on` instead, on the main thread of a multi-thread runtime,
/// every reply would cross to a worker thread and back through a
/// park/unpark, and the figures would be those of that hand-off (measured:
/// ping-pong 7.3–11.4 µs from `block_on`, 0.23–0.52 µs in a task).
fn in_task<F>(rt: &tokio::runtime::Runtime, bench: F) -> F::Output
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    rt.block_on(async { tokio::spawn(bench).await.expect("the benchmark task") })
}

/// This process's memory as the OS counts it, for the idle benchmark.
#[derive(Debug, Clone, Copy)]
pub struct MemorySample {
    /// Resident set (`VmRSS` in /proc/self/status), bytes.
    rss: u64,
    /// Proportional set size (`Pss` in /proc/self/smaps_rollup), bytes:
    /// resident memory with each shared page divided among its mappings, so
    /// a page of a module's data that every instance maps counts once.
    pss: u64,
    /// Page tables (`VmPTE`), bytes: kernel memory the process's mappings
    /// cost, which neither RSS nor PSS counts.
    page_tables: u64,
}

impl MemorySample {
    pub fn now() -> MemorySample {
        MemorySample {
            rss: kib_field("/proc/self/status", "VmRSS:") * 1024,
            pss: kib_field("/proc/self/smaps_rollup", "Pss:") * 1024,
            page_tables: kib_field("/proc/self/status", "VmPTE:") * 1024,
        }
    }

    /// What each of `n` processes added since `before`, in KiB.
    pub fn per_process(self, before: MemorySample, n: u32) -> IdleFigures {
        let per = |after: u64, before: u64| after.saturating_sub(before) as f64 / n as f64 / 1024.0;
        IdleFigures {
            rss: per(self.rss, before.rss),
            pss: per(self.pss, before.pss),
            page_tables: per(self.page_tables, before.page_tables),
        }
    }
}

/// Memory per idle process, in KiB.
#[derive(Debug, Clone, Copy)]
pub struct IdleFigures {
    pub rss: f64,
    pub pss: f64,
    pub page_tables: f64,
}

const IDLE_KEYS: [&str; 3] = ["IDLE_RSS_KIB", "IDLE_PSS_KIB", "IDLE_PT_KIB"];

impl IdleFigures {
    /// Prints the figures for [`idle_in_child`] to read.
    pub fn print(&self) {
        for (key, value) in IDLE_KEYS.iter().zip([self.rss, self.pss, self.page_tables]) {
            println!("{key} {value:.3}");
        }
    }

    /// The figures of `NAME-N`, `NAME-N-pss` and `NAME-N-pt`.
    pub fn named(&self, name: &str, n: u32, which: Impl) -> Vec<Figure> {
        vec![
            Figure::new(format!("{name}-{n}"), which, self.rss, "KiB"),
            Figure::new(format!("{name}-{n}-pss"), which, self.pss, "KiB"),
            Figure::new(format!("{name}-{n}-pt"), which, self.page_tables, "KiB"),
        ]
    }

    /// The figures of `idle-N`, `idle-N-pss` and `idle-N-pt`.
    pub fn figures(&self, n: u32, which: Impl) -> Vec<Figure> {
        self.named("idle", n, which)
    }
}

/// The memory the kernel says is available for new allocations, in KiB.
pub fn mem_available_kib() -> Option<u64> {
    Some(kib_field("/proc/meminfo", "MemAvailable:")).filter(|&k| k > 0)
}

fn kib_field(file: &str, field: &str) -> u64 {
    std::fs::read_to_string(file)
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .unwrap_or(0)
}

async fn spawn_bench(n: u32) -> f64 {
    let t = Instant::now();
    for _ in 0..n {
        let (tx, mut rx) = mpsc::unbounded_channel::<()>();
        tokio::spawn(async move {
            let _ = tx.send(());
        });
        rx.recv().await;
    }
    t.elapsed().as_nanos() as f64 / n as f64 / 1000.0
}

async fn pingpong(n: u32) -> f64 {
    let (to_pong, mut pong_rx) = mpsc::unbounded_channel::<(u32, mpsc::UnboundedSender<u32>)>();
    tokio::spawn(async move {
        while let Some((i, reply)) = pong_rx.recv().await {
            let _ = reply.send(i);
        }
    });
    let (me, mut rx) = mpsc::unbounded_channel();
    let t = Instant::now();
    for i in 0..n {
        to_pong.send((i, me.clone())).unwrap();
        rx.recv().await;
    }
    t.elapsed().as_nanos() as f64 / n as f64
}

async fn ring(hops: u32) -> f64 {
    let (first_tx, mut back) = mpsc::unbounded_channel::<u32>();
    let mut next = first_tx;
    for _ in 0..999 {
        let (tx, mut rx) = mpsc::unbounded_channel::<u32>();
        let forward = next;
        tokio::spawn(async move {
            while let Some(h) = rx.recv().await {
                let _ = forward.send(h.saturating_sub(1));
            }
        });
        next = tx;
    }
    let t = Instant::now();
    next.send(hops).unwrap();
    while let Some(h) = back.recv().await {
        if h == 0 {
            break;
        }
        next.send(h - 1).unwrap();
    }
    t.elapsed().as_nanos() as f64 / hops as f64
}

async fn counting(n: u32) -> f64 {
    let (tx, mut rx) = mpsc::unbounded_channel::<u32>();
    let (done_tx, mut done) = mpsc::unbounded_channel::<()>();
    tokio::spawn(async move {
        for _ in 0..n {
            rx.recv().await;
        }
        let _ = done_tx.send(());
    });
    let t = Instant::now();
    for i in 0..n {
        tx.send(i).unwrap();
    }
    done.recv().await;
    t.elapsed().as_nanos() as f64 / n as f64
}

async fn idle(n: u32) -> IdleFigures {
    let before = MemorySample::now();
    let mut senders = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let (tx, mut rx) = mpsc::unbounded_channel::<()>();
        tokio::spawn(async move {
            rx.recv().await;
        });
        senders.push(tx);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let figures = MemorySample::now().per_process(before, n);
    drop(senders);
    figures
}

/// A tokio echo server with a task per connection; returns its address.
pub async fn echo_server() -> Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?.to_string();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let _ = s.set_nodelay(true);
            tokio::spawn(async move {
                let mut buf = vec![0u8; 16 * 1024];
                loop {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => {
                            if s.write_all(&buf[..n]).await.is_err() {
                                return;
                            }
                        }
                    }
                }
            });
        }
    });
    Ok(addr)
}

/// `vm-bench serve tokio`: the tokio echo server, as the harness runs it,
/// until killed (for profiling it on its own).
pub fn serve() -> Result<()> {
    let rt = runtime();
    let addr = rt.block_on(echo_server())?;
    println!("listening on {addr}");
    rt.block_on(std::future::pending::<()>());
    Ok(())
}

/// Runs `vm-bench ARGS` as a separate process and reads the figures it
/// prints as `KEY value` lines.
pub fn child_figures<const N: usize>(args: &[&str], keys: [&str; N]) -> Result<[f64; N]> {
    let out = std::process::Command::new(std::env::current_exe()?)
        .args(args)
        .output()
        .with_context(|| format!("running vm-bench {}", args.join(" ")))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut figures = [0.0; N];
    for (figure, key) in figures.iter_mut().zip(keys) {
        *figure = text
            .lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix(' '))
            .with_context(|| {
                format!(
                    "no {key} from vm-bench {}: {}",
                    args.join(" "),
                    String::from_utf8_lossy(&out.stderr)
                )
            })?
            .trim()
            .parse::<f64>()?;
    }
    Ok(figures)
}

/// The echo figures of one run.
pub struct Echo {
    /// Messages per second over all connections.
    pub throughput: f64,
    /// 99th-percentile round trip, µs.
    pub p99: f64,
    /// CPU time this process (the server) spent per message, µs: user and
    /// system time together, so the kernel's TCP work counts too.
    pub cpu_per_message: f64,
}

/// Runs `vm-bench load` (100 connections, `msgs` each) against a server in
/// this process at `addr`; the load generator is a separate process, so this
/// process's CPU time over the run is the server's.
pub fn echo_load(addr: &str, msgs: u32) -> Result<Echo> {
    let before = cpu_seconds()?;
    let [throughput, p99] = child_figures(
        &["load", addr, "100", &msgs.to_string()],
        ["THROUGHPUT", "P99_US"],
    )?;
    let cpu = cpu_seconds()? - before;
    Ok(Echo {
        throughput,
        p99,
        cpu_per_message: cpu * 1e6 / (100.0 * f64::from(msgs)),
    })
}

/// User plus system CPU time of this process so far, in seconds, from
/// `/proc/self/stat` (in clock ticks, which Linux fixes at 100 per second
/// for user space).
fn cpu_seconds() -> Result<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    // Fields after the command name, which is in parentheses and may
    // contain spaces; utime and stime are the 14th and 15th fields.
    let after = stat
        .rsplit_once(')')
        .context("unexpected /proc/self/stat")?
        .1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| -> Result<f64> {
        Ok(fields
            .get(i)
            .context("unexpected /proc/self/stat")?
            .parse::<f64>()?)
    };
    Ok((ticks(11)? + ticks(12)?) / 100.0)
}

/// The figures of an echo run, for `implementation`.
pub fn echo_figures(e: &Echo, implementation: Impl) -> [Figure; 3] {
    [
        Figure::new("echo-throughput", implementation, e.throughput, "msg/s"),
        Figure::new("echo-p99", implementation, e.p99, "us"),
        Figure::new("echo-cpu", implementation, e.cpu_per_message, "us"),
    ]
}

/// Measures `n` idle processes of `implementation` (`vm` or `tokio`) in a
/// fresh `vm-bench idle` process: in the harness's own process, memory freed
/// by earlier benchmarks is reused and hides part of the cost.
pub fn idle_in_child(implementation: &str, n: u32) -> Result<IdleFigures> {
    let [rss, pss, page_tables] =
        child_figures(&["idle", implementation, &n.to_string()], IDLE_KEYS)?;
    Ok(IdleFigures {
        rss,
        pss,
        page_tables,
    })
}

/// `vm-bench idle tokio N`: prints the figures [`idle_in_child`] reads.
pub fn idle_child(n: u32) {
    in_task(&runtime(), idle(n)).print();
}

/// The load generator: CONNS connections, each sending MSGS messages of
/// 1 KiB and reading each echo before the next.
pub fn load_generator(addr: &str, conns: u32, msgs: u32) -> Result<()> {
    runtime().block_on(async {
        let t = Instant::now();
        let tasks: Vec<_> = (0..conns)
            .map(|c| {
                let addr = addr.to_string();
                tokio::spawn(async move {
                    let mut s = tokio::net::TcpStream::connect(&addr).await?;
                    s.set_nodelay(true)?;
                    let msg = vec![(c % 251) as u8; 1024];
                    let mut back = vec![0u8; 1024];
                    let mut latencies = Vec::with_capacity(msgs as usize);
                    for _ in 0..msgs {
                        let t = Instant::now();
                        s.write_all(&msg).await?;
                        s.read_exact(&mut back).await?;
                        latencies.push(t.elapsed().as_nanos() as u64);
                        anyhow::ensure!(back == msg, "the echo differs");
                    }
                    anyhow::Ok(latencies)
                })
            })
            .collect();
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await??);
        }
        let elapsed = t.elapsed().as_secs_f64();
        all.sort_unstable();
        let p99 = all[(all.len() * 99 / 100).min(all.len() - 1)] as f64 / 1000.0;
        println!("THROUGHPUT {:.1}", all.len() as f64 / elapsed);
        println!("P99_US {p99:.1}");
        anyhow::Ok(())
    })
}

pub fn run_all(s: &Sizes) -> Result<Vec<Figure>> {
    let mut figures = Vec::new();
    type Bench = fn(&tokio::runtime::Runtime, u32) -> f64;
    let chains: [(&str, u32, &str, Bench); 4] = [
        ("spawn", s.spawn, "us", |rt, n| in_task(rt, spawn_bench(n))),
        ("pingpong", s.pingpong, "ns", |rt, n| {
            in_task(rt, pingpong(n))
        }),
        ("ring", s.ring_hops, "ns", |rt, n| in_task(rt, ring(n))),
        ("counting", s.counting, "ns", |rt, n| {
            in_task(rt, counting(n))
        }),
    ];
    for (name, n, unit, bench) in chains {
        if s.runs(name) {
            // A fresh runtime per benchmark, as the other implementations
            // start fresh: tokio's default (multi-thread) runtime, and the
            // current-thread one beside the VM on one thread.
            figures.push(Figure::new(name, Impl::Tokio, bench(&runtime(), n), unit));
            let one = bench(&current_thread_runtime(), n);
            figures.push(Figure::new(name, Impl::TokioOneThread, one, unit));
        }
    }
    if s.runs("echo") {
        let rt = runtime();
        let addr = rt.block_on(echo_server())?;
        figures.extend(echo_figures(&echo_load(&addr, s.echo_msgs)?, Impl::Tokio));
    }
    // Last: tearing down hundreds of thousands of processes must not
    // disturb the other figures.
    for &n in s.idle_counts() {
        figures.extend(idle_in_child("tokio", n)?.figures(n, Impl::Tokio));
    }
    Ok(figures)
}

/// Memory per idle connection of `bench-sleepy` in a design (`active` or
/// `reader`), measured in a fresh child (`vm-bench idle-conns`) while this
/// process holds the N client ends, so they are not counted.
pub fn idle_connections_in_child(design: &str, n: u32) -> Result<IdleFigures> {
    use std::io::BufRead;
    let mut child = std::process::Command::new(std::env::current_exe()?)
        .args(["idle-conns", design, &n.to_string()])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .context("starting vm-bench idle-conns")?;
    let mut lines = std::io::BufReader::new(child.stdout.take().expect("piped")).lines();
    let address = loop {
        let line = lines
            .next()
            .context("the child ended before it listened")??;
        if let Some(a) = line.strip_prefix("ADDR ") {
            break a.to_string();
        }
    };
    let clients = (0..n)
        .map(|_| std::net::TcpStream::connect(&address))
        .collect::<std::io::Result<Vec<_>>>()
        .context("connecting the clients")?;
    let mut figures = [0.0; 3];
    for line in lines.map_while(Result::ok) {
        for (i, key) in IDLE_KEYS.iter().enumerate() {
            if let Some(v) = line.strip_prefix(key).and_then(|v| v.trim().parse().ok()) {
                figures[i] = v;
            }
        }
    }
    drop(clients);
    let status = child.wait()?;
    anyhow::ensure!(
        status.success(),
        "vm-bench idle-conns {design} {n} failed: {status}"
    );
    Ok(IdleFigures {
        rss: figures[0],
        pss: figures[1],
        page_tables: figures[2],
    })
}
