//! The benchmarks on this VM: the Rust guest in `bench/guest`, run in-process
//! with the embedding API, and the Rust echo-server example for TCP.

use crate::erlang::parse_result;
use crate::native::{echo_figures, echo_load, Echo, IdleFigures, MemorySample};
use crate::report::{Figure, Impl};
use crate::Sizes;
use anyhow::{Context, Result};
use std::sync::Arc;
use std::time::Duration;
use vm_reference::{NetRule, Vm};

fn guest(name: &str) -> std::path::PathBuf {
    crate::root()
        .join("target/guests/wasm32-wasip1/release")
        .join(format!("{name}.wasm"))
}

/// The VM runs processes (and their I/O) on its own worker threads; this
/// runtime waits for results and serves the harness's own timers.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a runtime")
}

/// Runs the bench guest in `mode` on `threads` workers (0: one per core).
fn run_guest(mode: &str, n: u32, threads: usize) -> Result<(f64, &'static str)> {
    runtime().block_on(async {
        let vm = Vm::builder()
            .capture_output()
            .max_processes(4096)
            // The counting benchmark's receiver may fall a million small
            // messages (about 100 MB) behind its sender: past the default
            // mailbox limit, and a queue Erlang and tokio also hold.
            .max_mailbox(256 << 20)
            .threads(threads)
            .build()?;
        let module = vm.load_file(guest("bench-guest"))?;
        let n = n.to_string();
        let outcome = vm.run(&module, &["bench", mode, &n]).await?;
        parse_result(&vm.captured_stdout())
            .with_context(|| format!("vm {mode}: {outcome:?}: {}", vm.captured_stderr()))
    })
}

/// Which kind implements kv in a plugin benchmark.
#[derive(Clone)]
enum KvKind {
    Core,
    Component,
    /// In-process native (`kv-native`, registered with the builder).
    Native,
    /// The same native plugin from its shared library.
    Library,
    /// The same native plugin served over NATS, through this server.
    Remote(String),
}

/// A VM with sixteen plugins loaded: kv (of `kind`) and fifteen small
/// ones, `plugin:p1` … `plugin:p15`, each with a `noop` that returns 1.
fn sixteen_plugins(kind: KvKind) -> vm_reference::VmBuilder {
    let builder = Vm::builder().capture_output().max_processes(4096);
    let builder = match kind {
        KvKind::Core => builder.plugin_file(guest("kv_plugin")),
        KvKind::Component => builder
            .plugin_file(crate::root().join("target/guests/wasm32-wasip2/release/kv_plugin.wasm")),
        KvKind::Native => builder.native_plugin(kv_native::plugin()),
        KvKind::Library => {
            builder.native_plugin_file(crate::root().join("target/guests/native/libkv_native.so"))
        }
        KvKind::Remote(url) => builder
            .cluster(vm_reference::ClusterConfig::new(url, "bench"))
            .remote_plugin(vm_reference::RemotePlugin::parse("kv@1").expect("a plugin spec")),
    };
    (1..=15).fold(
        builder,
        |b, i| {
            let wat = format!(
                r#"(module
                    (@custom "vm:plugin" "package plugin:p{i}@1.0.0; interface api {{ @since(version = 1.0.0) noop: func() -> u32; }}")
                    (memory (export "memory") 1)
                    (func (export "plugin:p{i}/api@1#noop") (result i32) (i32.const 1)))"#
            );
            b.plugin(&format!("p{i}.wat"), wat)
        },
    )
}

/// Runs the bench-plugins guest in `mode` on a VM with sixteen plugins.
fn run_plugins_guest(mode: &str, n: u32, kind: KvKind) -> Result<(f64, &'static str)> {
    runtime().block_on(async {
        let vm = sixteen_plugins(kind).build()?;
        let module = vm.load_file(guest("bench-plugins"))?;
        let n = n.to_string();
        let outcome = vm.run(&module, &["bench-plugins", mode, &n]).await?;
        parse_result(&vm.captured_stdout())
            .with_context(|| format!("vm plugins {mode}: {outcome:?}: {}", vm.captured_stderr()))
    })
}

/// `vm-bench idle vm N` (or `vm-hibernated`): prints the figures
/// `native::idle_in_child` reads.
pub fn idle_child(n: u32, hibernated: bool) -> Result<()> {
    idle(n, hibernated)?.print();
    Ok(())
}

/// Memory per idle process (hibernated ones, if `hibernated`).
fn idle(n: u32, hibernated: bool) -> Result<IdleFigures> {
    let mode = if hibernated { "hibernated" } else { "idle" };
    runtime().block_on(async {
        let mut builder = Vm::builder().capture_output().max_processes(n + 16);
        if hibernated {
            // Sleepers need no instance: a pool for the few awake.
            builder = builder.max_instances(512);
        }
        let vm = Arc::new(builder.build()?);
        let module = vm.load_file(guest("bench-guest"))?;
        let before = MemorySample::now();
        let runner = vm.clone();
        let n_text = n.to_string();
        let task =
            tokio::spawn(async move { runner.run(&module, &["bench", mode, &n_text]).await });
        let mut waited = 0;
        while !vm.captured_stdout().contains("READY") {
            anyhow::ensure!(
                !task.is_finished(),
                "the idle guest ended: {}",
                vm.captured_stderr()
            );
            anyhow::ensure!(waited < 300_000, "timed out spawning {n} idle processes");
            tokio::time::sleep(Duration::from_millis(10)).await;
            waited += 10;
        }
        // Let every spawned process reach its receive (or hibernate: then
        // only the root keeps an instance).
        while vm.process_count() < n as usize + 1 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        if hibernated {
            vm.until_instances(1).await;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        let figures = MemorySample::now().per_process(before, n);
        task.abort();
        Ok(figures)
    })
}

/// Starts `examples/rust/echo-server` on a VM in this process; returns the
/// VM, the runtime holding its root, and the address it listens on.
fn echo_server(rt: &tokio::runtime::Runtime) -> Result<(Arc<Vm>, String)> {
    let vm = Arc::new(
        Vm::builder()
            .capture_output()
            .max_processes(1024)
            .allow_net(NetRule::parse("127.0.0.1").expect("a rule"))
            .build()?,
    );
    let module = vm.load_file(guest("echo-server"))?;
    let runner = vm.clone();
    rt.spawn(async move { runner.run(&module, &["echo-server", "127.0.0.1:0"]).await });
    let addr = rt.block_on(async {
        for _ in 0..1000 {
            if let Some(a) = vm
                .captured_stdout()
                .lines()
                .next()
                .and_then(|l| l.strip_prefix("listening on "))
            {
                return Ok(a.to_string());
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        anyhow::bail!("the echo server did not start: {}", vm.captured_stderr())
    })?;
    Ok((vm, addr))
}

fn echo(msgs: u32) -> Result<Echo> {
    let rt = runtime();
    let (_vm, addr) = echo_server(&rt)?;
    echo_load(&addr, msgs)
}

/// `vm-bench serve vm`: the VM's echo server, as the harness runs it, until
/// killed (for profiling it on its own).
pub fn serve() -> Result<()> {
    let rt = runtime();
    let (_vm, addr) = echo_server(&rt)?;
    println!("listening on {addr}");
    rt.block_on(std::future::pending::<()>());
    Ok(())
}

pub fn run_all(s: &Sizes) -> Result<Vec<Figure>> {
    let mut figures = Vec::new();
    // (name, size, whether it is a chain of messages also run on one thread)
    let guests = [
        ("spawn", s.spawn, true),
        ("pingpong", s.pingpong, true),
        ("ring", s.ring_hops, true),
        ("counting", s.counting, true),
        ("hostcall", s.hostcall, false),
        ("wake", s.pingpong, false),
    ];
    for (threads, implementation) in [(0, Impl::Vm), (1, Impl::VmOneThread)] {
        for &(name, n, chain) in &guests {
            if (threads == 1 && !chain) || !s.runs(name) {
                continue;
            }
            let (v, unit) = run_guest(name, n, threads)?;
            figures.push(Figure::new(name, implementation, v, unit));
        }
    }
    if s.runs("plugins") {
        // Spawning from a module that imports sixteen plugins, on a VM
        // that loaded them: beside `spawn`, which has none.
        let (v, unit) = run_plugins_guest("spawn", s.spawn, KvKind::Core)?;
        figures.push(Figure::new("spawn-16-plugins", Impl::Vm, v, unit));
        // A plugin call of each kind, beside `hostcall`.
        for (name, kind) in [
            ("plugincall-core", KvKind::Core),
            ("plugincall-component", KvKind::Component),
            ("plugincall-native", KvKind::Native),
            ("plugincall-library", KvKind::Library),
        ] {
            let (v, unit) = run_plugins_guest("call", s.hostcall / 10, kind)?;
            figures.push(Figure::new(name, Impl::Vm, v, unit));
        }
    }
    if s.runs("echo") {
        figures.extend(echo_figures(&echo(s.echo_msgs)?, Impl::Vm));
    }
    // Last: tearing down hundreds of thousands of processes (gigabytes of
    // memory) disturbed the echo figures that followed it.
    for &n in s.idle_counts() {
        match crate::native::idle_in_child("vm", n) {
            Ok(idle) => figures.extend(idle.figures(n, Impl::Vm)),
            Err(e) => eprintln!("vm idle-{n}: {e:#}"),
        }
    }
    if s.runs("conns") {
        for &n in s.conns {
            for (design, name) in [("reader", "conns-reader"), ("active", "conns")] {
                match crate::native::idle_connections_in_child(design, n) {
                    Ok(idle) => figures.extend(idle.named(name, n, Impl::Vm)),
                    Err(e) => eprintln!("vm {name}-{n}: {e:#}"),
                }
            }
        }
    }
    if s.runs("hibernated") {
        for &n in s.hibernated {
            match crate::native::idle_in_child("vm-hibernated", n) {
                Ok(idle) => figures.extend(idle.named("hibernated", n, Impl::Vm)),
                Err(e) => eprintln!("vm hibernated-{n}: {e:#}"),
            }
        }
    }
    if s.runs("remote-plugin") {
        match remote_plugin_figures(s) {
            Ok(remote) => figures.extend(remote),
            Err(e) => eprintln!("vm remote-plugin: {e:#}"),
        }
    }
    if s.runs("remote-pingpong") || s.runs("remote-spawn") || s.runs("nodedown") {
        match remote_figures(s) {
            Ok(remote) => figures.extend(remote),
            Err(e) => eprintln!("vm remote: {e:#}"),
        }
    }
    Ok(figures)
}

/// `vm-bench idle-conns (active|reader) N`, the child's side: serves
/// `bench-sleepy` in one design, prints `ADDR address` for the parent to
/// open N connections to, waits until each connection's processes are
/// started and asleep, then prints the memory each connection holds.
pub fn idle_connections_child(n: u32, active: bool) -> Result<()> {
    use std::io::Write as _;
    let mode = if active { "active" } else { "reader" };
    runtime().block_on(async {
        let vm = Arc::new(
            Vm::builder()
                .capture_output()
                .max_processes(2 * n + 16)
                .max_instances(n + 64)
                .allow_net(NetRule::parse("127.0.0.1").expect("a rule"))
                .build()?,
        );
        let module = vm.load_file(guest("bench-sleepy"))?;
        let runner = vm.clone();
        let task = tokio::spawn(async move { runner.run(&module, &["bench-sleepy", mode]).await });
        let address = loop {
            if let Some(a) = vm
                .captured_stdout()
                .lines()
                .find_map(|l| l.strip_prefix("listening on ").map(str::to_string))
            {
                break a;
            }
            anyhow::ensure!(
                !task.is_finished(),
                "the server ended: {}",
                vm.captured_stderr()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        tokio::time::sleep(Duration::from_millis(200)).await;
        let before = MemorySample::now();
        println!("ADDR {address}");
        std::io::stdout().flush()?;
        // Each connection: one session (active), or a reader and a session.
        let per = if active { 1 } else { 2 };
        let processes = 1 + per * n as usize;
        let mut waited = 0;
        while vm.process_count() < processes {
            anyhow::ensure!(
                waited < 600_000,
                "{} of {processes} processes",
                vm.process_count()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
            waited += 10;
        }
        // Asleep: the acceptor keeps an instance, and each awake reader.
        let awake = if active { 1 } else { 1 + n as usize };
        vm.until_instances(awake).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        MemorySample::now().per_process(before, n).print();
        task.abort();
        Ok(())
    })
}

/// How many spawns the remote-spawn figure times.
pub fn remote_spawns(s: &Sizes) -> u32 {
    (s.spawn / 100).clamp(50, 1000)
}

/// How many calls the remote-plugin figures make.
pub fn remote_plugin_calls(s: &Sizes) -> u32 {
    (s.hostcall / 500).clamp(200, 5000)
}

/// kv's `count` served over NATS (`vm_plugin_remote::serve` on a thread
/// of its own, a nats-server on loopback), called from a guest in a loop;
/// beside it, as tokio's figure, the floor: the same request/reply
/// (headers and a one-byte reply) from a tokio task, with no VM in the
/// path.
fn remote_plugin_figures(s: &Sizes) -> Result<Vec<Figure>> {
    let nats = vm_tests::nats::Nats::start();
    let n = remote_plugin_calls(s);
    // The server, on a runtime of its own, as a server process would be.
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let url = nats.url.clone();
    let server = std::thread::spawn(move || {
        runtime().block_on(async move {
            let served = async {
                let client = async_nats::connect(&url).await?;
                let server = vm_plugin_remote::serve(
                    client.clone(),
                    kv_native::plugin(),
                    Default::default(),
                )
                .await?;
                // The floor's responder: a reply of kv count's size.
                let mut floor = client.subscribe("floor").await?;
                let replier = client.clone();
                let replying = tokio::spawn(async move {
                    let client = replier;
                    use futures_util::StreamExt;
                    while let Some(m) = floor.next().await {
                        if let Some(reply) = m.reply {
                            let mut headers = async_nats::HeaderMap::new();
                            headers.insert("Vm-Outcome", "ok");
                            let _ = client
                                .publish_with_headers(reply, headers, vec![0u8].into())
                                .await;
                        }
                    }
                });
                client.flush().await?;
                anyhow::Ok((server, replying))
            };
            match served.await {
                Ok(serving) => {
                    let _ = ready_tx.send(Ok(()));
                    let _ = stop_rx.await;
                    drop(serving);
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                }
            }
        })
    });
    ready_rx.recv().context("the kv server's thread")??;
    let mut figures = Vec::new();
    let (v, unit) = run_plugins_guest("call", n, KvKind::Remote(nats.url.clone()))?;
    figures.push(Figure::new("plugincall-remote", Impl::Vm, v, unit));
    // From inside a task, as a tokio program makes its requests.
    let url = nats.url.clone();
    let floor = runtime().block_on(async move { tokio::spawn(floor(url, n)).await? })?;
    figures.push(Figure::new("plugincall-remote", Impl::Tokio, floor, "ns"));
    let _ = stop_tx.send(());
    let _ = server.join();
    Ok(figures)
}

/// The floor under a remote plugin's call: `n` requests of its shape to a
/// bare responder, in turn; nanoseconds per round trip.
async fn floor(url: String, n: u32) -> Result<f64> {
    let client = async_nats::connect(&url).await?;
    let ask = || {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Vm-Function", "store.count");
        headers.insert("Vm-Caller", "floor");
        client.request_with_headers("floor", headers, Vec::new().into())
    };
    for _ in 0..n / 10 {
        ask().await?;
    }
    let start = std::time::Instant::now();
    for _ in 0..n {
        ask().await?;
    }
    Ok(start.elapsed().as_nanos() as f64 / n as f64)
}

/// Ping-pong between two nodes over NATS (a nats-server the harness
/// starts on loopback), and how long a node takes to learn that another
/// was killed (`kill -9`): the pong node is a `vm run` of its own, the
/// other this process's VM. Heartbeats every 100 ms, three missed, on both nodes.
pub fn remote_figures(s: &Sizes) -> Result<Vec<Figure>> {
    use std::io::BufRead;
    use std::process::{Command, Stdio};
    let nats = vm_tests::nats::Nats::start();
    let vm_command = crate::root().join("target/release/vm");
    let mut pong = Command::new(&vm_command)
        .args([
            "run",
            "--no-config",
            "--cluster",
            &nats.url,
            "--node",
            "pong",
        ])
        .args(["--heartbeat-ms", "100"])
        // For remote-spawn: the ping node may start its module here.
        .args(["--accept-spawn-from", "ping", "--accept-module", "*"])
        .arg(guest("bench-guest"))
        .args(["--", "pong-server"])
        .stdout(Stdio::piped())
        .spawn()
        .with_context(|| {
            format!(
                "running {} (cargo xtask bench builds it)",
                vm_command.display()
            )
        })?;
    let first = std::io::BufReader::new(pong.stdout.take().context("its output")?)
        .lines()
        .next()
        .context("the pong node printed nothing")??;
    let id = first
        .strip_prefix("PONG ")
        .with_context(|| format!("the pong node said {first:?}"))?
        .to_owned();
    let mut figures = Vec::new();
    let rt = runtime();
    let result = rt.block_on(async {
        // Both nodes as the pong node runs: 100 ms heartbeats, 3 missed.
        let mut config = vm_reference::ClusterConfig::new(nats.url.clone(), "ping");
        config.heartbeat = Duration::from_millis(100);
        let vm = Vm::builder().capture_output().cluster(config).build()?;
        let module = vm.load_file(guest("bench-guest"))?;
        if s.runs("remote-pingpong") {
            let n = (s.pingpong / 10).max(100).to_string();
            let outcome = vm
                .run(&module, &["bench", "remote-pingpong", &n, &id])
                .await?;
            let (v, unit) = parse_result(&vm.captured_stdout()).with_context(|| {
                format!("vm remote-pingpong: {outcome:?}: {}", vm.captured_stderr())
            })?;
            figures.push(Figure::new("remote-pingpong", Impl::Vm, v, unit));
        }
        if s.runs("remote-spawn") {
            let n = remote_spawns(s).to_string();
            let slot = (id.parse::<u64>()? >> 48).to_string();
            // The pong node must have heard this one (it checks who asks).
            let outcome = vm
                .run(&module, &["bench", "remote-spawn", &n, &slot])
                .await?;
            let (v, unit) = parse_result(&vm.captured_stdout()).with_context(|| {
                format!("vm remote-spawn: {outcome:?}: {}", vm.captured_stderr())
            })?;
            figures.push(Figure::new("remote-spawn", Impl::Vm, v, unit));
        }
        if s.runs("nodedown") {
            let args = ["bench", "watch", id.as_str()];
            let watch = vm.run(&module, &args);
            tokio::pin!(watch);
            // Polled: the harness has no other way to see the guest's line.
            while !vm.captured_stdout().contains("WATCHING") {
                tokio::select! {
                    outcome = &mut watch => anyhow::bail!("the watcher ended early: {outcome:?}"),
                    () = tokio::time::sleep(Duration::from_millis(1)) => {}
                }
            }
            let t0 = std::time::Instant::now();
            pong.kill()?;
            watch.await?;
            let ms = t0.elapsed().as_secs_f64() * 1000.0;
            anyhow::ensure!(
                vm.captured_stdout().contains("DOWN NoConnection"),
                "the watcher saw {}",
                vm.captured_stdout()
            );
            figures.push(Figure::new("nodedown", Impl::Vm, ms, "ms"));
        }
        anyhow::Ok(())
    });
    let _ = pong.kill();
    let _ = pong.wait();
    result.map(|()| figures)
}
