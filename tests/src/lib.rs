//! Shared helpers for the end-to-end tests: building guests with their real
//! toolchains (once per test binary) and running them on the VM in-process.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use vm_reference::{NetRule, Outcome, Vm, VmBuilder};

pub mod nats;

/// The repository root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// Builds every guest (Rust, C, AssemblyScript) with `cargo xtask build-guests`,
/// the one place that knows how; it skips what is up to date.
fn build_guests() -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(&cargo)
        .current_dir(root())
        .args(["run", "--quiet", "--package", "xtask", "--", "build-guests"])
        .output()
        .context("running cargo xtask build-guests")?;
    if !out.status.success() {
        bail!(
            "building the guests failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

fn guests_built() {
    static BUILT: OnceLock<Result<(), String>> = OnceLock::new();
    if let Err(e) = BUILT.get_or_init(|| build_guests().map_err(|e| format!("{e:#}"))) {
        panic!("{e}");
    }
}

/// The `vm` command of this checkout (`target/debug/vm`), built once per
/// test binary.
pub fn vm_command() -> PathBuf {
    static BUILT: OnceLock<bool> = OnceLock::new();
    let built = BUILT.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        Command::new(cargo)
            .current_dir(root())
            .args([
                "build",
                "--quiet",
                "--package",
                "vm-reference",
                "--bin",
                "vm",
            ])
            .status()
            .is_ok_and(|s| s.success())
    });
    assert!(*built, "building the vm command failed");
    root().join("target/debug/vm")
}

/// The path of a Rust guest app's module, building the guests first (once
/// per test binary).
pub fn rust_guest(name: &str) -> PathBuf {
    guests_built();
    root()
        .join("target/guests/wasm32-wasip1/release")
        .join(format!("{name}.wasm"))
}

/// The `#[vm_sdk::test]` guest's test module, as `cargo test --no-run`
/// builds it (tests/guests/rust/guest-tests).
pub fn guest_tests_module() -> PathBuf {
    guests_built();
    root().join("target/guests/tests/guest-tests.wasm")
}

/// The path of a C guest's module (`hello`, `polyglot`, ...).
pub fn c_guest(name: &str) -> PathBuf {
    guests_built();
    root().join("target/guests/c").join(format!("{name}.wasm"))
}

/// The path of an AssemblyScript guest's module (`hello`, `polyglot`, ...).
pub fn as_guest(name: &str) -> PathBuf {
    guests_built();
    root().join("target/guests/as").join(format!("{name}.wasm"))
}

/// What every language's hello example prints.
pub const HELLO_TRANSCRIPT: &str =
    "hello from the root process 1\nhello, world, from process 2\ngoodbye\n";

/// What every language's ping-pong example prints for `rounds` rounds.
pub fn ping_pong_transcript(rounds: u32) -> String {
    let mut out = String::new();
    for n in 1..=rounds {
        out += &format!("pong: got ping {n}\nping: got pong {n}\n");
    }
    out + &format!("done: {rounds} round trips between processes 1 and 2\n")
}

/// A test fixture's path.
pub fn fixture(name: &str) -> PathBuf {
    root().join("tests/fixtures").join(name)
}

/// What a run produced.
#[derive(Debug)]
pub struct Run {
    /// How the root process ended.
    pub outcome: Outcome,
    /// Everything guests printed to stdout.
    pub stdout: String,
    /// Everything guests printed to stderr.
    pub stderr: String,
}

/// A VM builder that captures output, with a small pool suited to tests.
pub fn test_vm() -> VmBuilder {
    Vm::builder().capture_output().max_processes(256)
}

/// Runs a module file as the root process on a fresh VM.
pub async fn run_file(path: &Path, args: &[&str]) -> Result<Run> {
    run_file_on(test_vm(), path, args).await
}

/// Runs a module file as the root process on a VM built from `builder`.
pub async fn run_file_on(builder: VmBuilder, path: &Path, args: &[&str]) -> Result<Run> {
    let vm = builder.build()?;
    let module = vm.load_file(path)?;
    let mut argv = vec![path.file_name().unwrap().to_str().unwrap()];
    argv.extend_from_slice(args);
    let outcome = vm.run(&module, &argv).await?;
    Ok(Run {
        outcome,
        stdout: vm.captured_stdout(),
        stderr: vm.captured_stderr(),
    })
}

/// Counting panics anywhere in the process: a panic inside the VM is a bug
/// even when the VM survives it (the process it served ends with a reason
/// that says so).
pub mod panics {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Once;

    static PANICS: AtomicUsize = AtomicUsize::new(0);

    /// What a test's own plugin code puts in a panic it means to raise
    /// (a native plugin that panics on purpose): such panics are not the
    /// VM's, and are not counted.
    pub const DELIBERATE: &str = "(deliberately)";

    /// Counts every panic from now on, on any thread, before the default
    /// hook reports it, but those whose message holds [`DELIBERATE`].
    pub fn watch() {
        static HOOK: Once = Once::new();
        HOOK.call_once(|| {
            let report = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                let message = info
                    .payload()
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| info.payload().downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                if !message.contains(DELIBERATE) {
                    PANICS.fetch_add(1, Ordering::SeqCst);
                }
                report(info);
            }));
        });
    }

    /// How many panics there were since the last call, starting again at 0.
    pub fn take() -> usize {
        PANICS.swap(0, Ordering::SeqCst)
    }
}

/// Runs WebAssembly text as the root process on a fresh VM.
pub async fn run_wat(wat: &str) -> Result<Run> {
    let vm = test_vm().build()?;
    let module = vm.load("test.wat", wat.as_bytes())?;
    let outcome = vm.run(&module, &["test.wat"]).await?;
    Ok(Run {
        outcome,
        stdout: vm.captured_stdout(),
        stderr: vm.captured_stderr(),
    })
}

/// A guest running in the background on a VM of its own, for tests that
/// talk to it (over TCP) or watch the VM while it runs.
pub struct Running {
    /// The VM it runs on.
    pub vm: Arc<Vm>,
    task: tokio::task::JoinHandle<Result<Outcome, vm_reference::VmError>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Running {
    /// Starts module `path` as the root process on a VM built from
    /// `builder`, with `args` after its name.
    pub fn start(builder: VmBuilder, path: &Path, args: &[&str]) -> Running {
        let vm = Arc::new(builder.build().unwrap());
        let module = vm.load_file(path).unwrap();
        let runner = vm.clone();
        let mut argv = vec!["guest".to_string()];
        argv.extend(args.iter().map(|a| a.to_string()));
        let task = tokio::spawn(async move {
            let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
            runner.run(&module, &argv).await
        });
        Running { vm, task }
    }

    /// Waits (at most ten seconds) for a line of stdout that starts with
    /// `prefix`, and returns the rest of it.
    pub async fn line_after(&self, prefix: &str) -> String {
        wait_for(|| {
            let out = self.vm.captured_stdout();
            let line = out.lines().find_map(|l| l.strip_prefix(prefix))?;
            Some(line.to_string())
        })
        .await
    }

    /// Whether the root process has ended.
    pub fn ended(&self) -> bool {
        self.task.is_finished()
    }

    /// Waits (at most ten seconds) for the root process to end.
    pub async fn outcome(mut self) -> Outcome {
        tokio::time::timeout(Duration::from_secs(10), &mut self.task)
            .await
            .expect("the guest did not end in time")
            .expect("the guest's task")
            .expect("the root process ran")
    }
}

/// A server app running on its own VM (with the network granted for
/// 127.0.0.1), and the address it printed on its first line.
pub struct Server {
    /// The VM it runs on.
    pub vm: Arc<Vm>,
    /// The address from its `listening on ADDRESS` line.
    pub address: String,
    /// The running server.
    pub running: Running,
}

/// Starts a server module with `127.0.0.1:0` as its argument and waits for
/// the address it prints.
pub async fn start_server(path: &Path) -> Server {
    start_server_on(test_vm().max_processes(1024), path, &["127.0.0.1:0"]).await
}

/// Starts a module on a VM built from `builder` (with the network granted
/// for 127.0.0.1), and waits for the address it prints on a `listening on
/// ADDRESS` line.
pub async fn start_server_on(builder: VmBuilder, path: &Path, args: &[&str]) -> Server {
    let builder = builder.allow_net(NetRule::parse("127.0.0.1").unwrap());
    let running = Running::start(builder, path, args);
    let address = running.line_after("listening on ").await;
    Server {
        vm: running.vm.clone(),
        address,
        running,
    }
}

/// Runs `cargo test --release` in `dir` (with `args`, for example a
/// package), building into `target/guests` and running the tests with this
/// checkout's `vm test`, as an app's `.cargo/config.toml` does; returns
/// libtest's report, after checking that every test passed.
pub fn cargo_test_on_vm(dir: &Path, args: &[&str]) -> String {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let tested = Command::new(cargo)
        .current_dir(dir)
        .args(["test", "--release", "--quiet"])
        .args(args)
        .arg("--target-dir")
        .arg(root().join("target/guests"))
        .env(
            "CARGO_TARGET_WASM32_WASIP1_RUNNER",
            format!("{} test", vm_command().display()),
        )
        .output()
        .expect("cargo runs");
    let report = String::from_utf8_lossy(&tested.stdout).into_owned();
    assert!(
        tested.status.success(),
        "{report}{}",
        String::from_utf8_lossy(&tested.stderr)
    );
    report
}

/// Polls `f` until it yields a value (at most ten seconds).
pub async fn wait_for<T>(f: impl FnMut() -> Option<T>) -> T {
    match poll_for(f).await {
        Some(v) => v,
        None => panic!("timed out waiting"),
    }
}

/// Polls `f` until it yields a value, for at most ten seconds: `None` if
/// it did not, for a caller that says what it waited for.
pub async fn poll_for<T>(mut f: impl FnMut() -> Option<T>) -> Option<T> {
    for _ in 0..1000 {
        if let Some(v) = f() {
            return Some(v);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    None
}

/// 100 concurrent clients each send 8 KiB in 1 KiB writes and must get every
/// byte back; then every connection's process must end.
pub async fn echo_100_clients(server: &Server) {
    let clients = (0..100u32).map(|c| {
        let address = server.address.clone();
        tokio::spawn(async move {
            let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
            let sent: Vec<u8> = (0..8 * 1024u32)
                .map(|i| (i.wrapping_mul(31) ^ c) as u8)
                .collect();
            let (mut r, mut w) = stream.split();
            let write = async {
                for chunk in sent.chunks(1024) {
                    w.write_all(chunk).await.unwrap();
                }
                w.shutdown().await.unwrap();
            };
            let mut received = Vec::new();
            let read = r.read_to_end(&mut received);
            let ((), n) = tokio::join!(write, read);
            n.unwrap();
            assert_eq!(received, sent, "client {c}");
        })
    });
    for c in clients.collect::<Vec<_>>() {
        c.await.unwrap();
    }
    // Each connection's process ends when its client closes; the root stays.
    wait_for(|| (server.vm.process_count() == 1).then_some(())).await;
}

/// A client of the chat examples (examples/rust/chat, examples/c/chat.c),
/// over a real TCP connection: it joins with its name, says lines, and
/// reads what the room sends it.
pub struct ChatClient {
    /// What the room sends, line by line.
    pub lines: tokio::io::Lines<tokio::io::BufReader<tokio::net::tcp::OwnedReadHalf>>,
    /// The connection's write half, for writes of the test's own.
    pub write: tokio::net::tcp::OwnedWriteHalf,
}

impl ChatClient {
    /// Connects to `address` and sends `name` as the first line.
    pub async fn join(address: &str, name: &str) -> ChatClient {
        let stream = tokio::net::TcpStream::connect(address).await.unwrap();
        ChatClient::join_over(stream, name).await
    }

    /// Sends `name` as the first line over a stream the caller connected
    /// (with socket options of its own). Small writes go at once
    /// (TCP_NODELAY), so a line written in pieces arrives in pieces.
    pub async fn join_over(stream: tokio::net::TcpStream, name: &str) -> ChatClient {
        stream.set_nodelay(true).unwrap();
        let (r, mut write) = stream.into_split();
        write
            .write_all(format!("{name}\n").as_bytes())
            .await
            .unwrap();
        ChatClient {
            lines: tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(r)),
            write,
        }
    }

    /// Sends `text` as a line.
    pub async fn say(&mut self, text: &str) {
        self.write
            .write_all(format!("{text}\n").as_bytes())
            .await
            .unwrap();
    }

    /// The next line (at most ten seconds away): `None` at the end of the
    /// stream, an error if the connection was reset.
    pub async fn next_line(&mut self) -> std::io::Result<Option<String>> {
        tokio::time::timeout(Duration::from_secs(10), self.lines.next_line())
            .await
            .expect("the chat sent nothing for ten seconds")
    }

    /// The next line, which must come (within ten seconds).
    pub async fn next(&mut self) -> String {
        self.next_line()
            .await
            .unwrap()
            .expect("a line, not the end of the stream")
    }
}

/// The conversation every chat example holds (the Rust one and the C one
/// serve the same protocol): three clients exchange 40 lines, each heard in
/// order by the others; a client that vanishes halfway through a line
/// disturbs no one; and when clients leave, their processes end and their
/// sockets close on the VM's side, none left half-open.
pub async fn chat_conversation(server: &Server) {
    let count = || server.vm.process_count();
    // The root and the room.
    assert_eq!(count(), 2);
    let mut ada = ChatClient::join(&server.address, "ada").await;
    let mut bob = ChatClient::join(&server.address, "bob").await;
    let mut cy = ChatClient::join(&server.address, "cy").await;
    // A reader and a writer per client; a reader exists only after its
    // client joined the room, so all three are members now.
    wait_for(|| (count() == 8).then_some(())).await;
    assert_eq!(open_connections(&server.address).len(), 3);

    for i in 0..20 {
        ada.say(&format!("a{i}")).await;
        bob.say(&format!("b{i}")).await;
    }
    let (mut from_ada, mut from_bob) = (Vec::new(), Vec::new());
    for _ in 0..40 {
        let line = cy.next().await;
        match line.split_once(": ") {
            Some(("ada", text)) => from_ada.push(text.to_string()),
            Some(("bob", text)) => from_bob.push(text.to_string()),
            _ => panic!("unexpected line {line:?}"),
        }
    }
    let expected = |p: &str| (0..20).map(|i| format!("{p}{i}")).collect::<Vec<_>>();
    assert_eq!(from_ada, expected("a"));
    assert_eq!(from_bob, expected("b"));
    for i in 0..20 {
        assert_eq!(ada.next().await, format!("bob: b{i}"));
        assert_eq!(bob.next().await, format!("ada: a{i}"));
    }

    // A client that vanishes halfway through a line disturbs no one.
    let mut dee = ChatClient::join(&server.address, "dee").await;
    wait_for(|| (count() == 10).then_some(())).await;
    dee.write.write_all(b"half a mess").await.unwrap();
    drop(dee);
    until_open_connections(&server.address, 3).await;
    wait_for(|| (count() == 8).then_some(())).await;
    ada.say("still here").await;
    assert_eq!(bob.next().await, "ada: still here");
    assert_eq!(cy.next().await, "ada: still here");

    // Every process of a departed client ends, and its socket closes: none
    // is left half-open (CLOSE_WAIT) behind a process that lives on.
    drop(ada);
    drop(bob);
    until_open_connections(&server.address, 1).await;
    cy.write.shutdown().await.unwrap();
    assert_eq!(cy.next_line().await.unwrap(), None);
    until_open_connections(&server.address, 0).await;
    wait_for(|| (count() == 2).then_some(())).await;
}

/// The TCP connections accepted on `address`'s port that this machine still
/// holds open (a process has a descriptor for each), by state as Linux's
/// /proc/net/tcp gives it: "ESTABLISHED", "CLOSE_WAIT" (the peer has gone
/// and the socket was not closed), ... A server's tests run it in this
/// process, so these are the server's. Sockets closed already (in
/// TIME_WAIT, or sending their last bytes) are no one's, and not counted.
pub fn open_connections(address: &str) -> Vec<&'static str> {
    let port = address
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse::<u16>().ok())
        .expect("an address with a port");
    let mut open = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for row in text.lines().skip(1) {
            // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode ...
            let fields: Vec<&str> = row.split_whitespace().collect();
            let (Some(local), Some(state), Some(inode)) =
                (fields.get(1), fields.get(3), fields.get(9))
            else {
                continue;
            };
            let local_port = local
                .rsplit_once(':')
                .and_then(|(_, p)| u16::from_str_radix(p, 16).ok());
            // 0A is LISTEN; an inode of 0, a socket no descriptor holds.
            if local_port == Some(port) && *state != "0A" && *inode != "0" {
                open.push(match *state {
                    "01" => "ESTABLISHED",
                    "02" => "SYN_SENT",
                    "03" => "SYN_RECV",
                    "04" => "FIN_WAIT1",
                    "05" => "FIN_WAIT2",
                    "06" => "TIME_WAIT",
                    "07" => "CLOSE",
                    "08" => "CLOSE_WAIT",
                    "09" => "LAST_ACK",
                    "0B" => "CLOSING",
                    _ => "UNKNOWN",
                });
            }
        }
    }
    open
}

/// Waits (at most ten seconds) until exactly `n` connections accepted on
/// `address` are held open ([`open_connections`]); fails naming the states
/// of those open otherwise.
pub async fn until_open_connections(address: &str, n: usize) {
    if poll_for(|| (open_connections(address).len() == n).then_some(()))
        .await
        .is_none()
    {
        panic!(
            "expected {n} connections held open on {address}, found {:?}",
            open_connections(address)
        );
    }
}

/// The kv plugin as a core module (examples/plugins/kv/core-module).
pub fn kv_plugin() -> PathBuf {
    rust_guest("kv_plugin")
}

/// What every language's kv guest prints (examples/plugins/kv).
pub const KV_TRANSCRIPT: &str = "set greeting
get greeting: hello, plugin
get missing: none
count: 1
increment hits: 1
increment hits: 3
increment greeting: error: greeting holds `hello, plugin`, not a number
remove greeting: true
remove greeting: false
count: 1
child count: 0
";

/// The kv plugin as a component (the same crate built for wasm32-wasip2).
pub fn kv_component() -> PathBuf {
    guests_built();
    root().join("target/guests/wasm32-wasip2/release/kv_plugin.wasm")
}

/// The shapes plugin (records, variants, enums, flags, tuples, lists of
/// records; examples/plugins/shapes) as a core module and as a component.
pub fn shapes_plugins() -> [PathBuf; 2] {
    guests_built();
    ["wasm32-wasip1", "wasm32-wasip2"]
        .map(|t| root().join(format!("target/guests/{t}/release/shapes_plugin.wasm")))
}

/// The echo plugin of the tests (tests/guests/echo.wit: each function
/// returns what it was given) as a core module and as a component.
pub fn echo_plugins() -> [PathBuf; 2] {
    guests_built();
    ["wasm32-wasip1", "wasm32-wasip2"]
        .map(|t| root().join(format!("target/guests/{t}/release/echo_plugin.wasm")))
}

/// What each echo guest prints when every value came back unchanged.
pub const ECHO_TRANSCRIPT: &str = "scalars: ok
mixed: ok
flags: ok
bag: ok
wide: ok
small: ok
repeat: ok
";

/// What each shapes guest prints (examples/plugins/shapes), with every
/// kind of the plugin.
pub const SHAPES_TRANSCRIPT: &str = "area circle: 12.5664
area triangle: 6
area empty: 0
[é] wheel: circle at (1, 2) of radius 2, ft, filled+bold
bounds: Some(((-1.0, 0.0), (4.0, 4.0)))
bounds of nothing: None
convert 10 m: Ok(32.8084)
convert -1 ft: Err(\"a length cannot be negative (-1)\")
[p] plot: polygon of 4 corners, m, dashed
area square: 9
";

/// A native plugin's shared library, as `cargo xtask build-guests` builds
/// it (`libkv_native.so`, `libhash.so`, …).
pub fn native_library(name: &str) -> PathBuf {
    guests_built();
    root().join("target/guests/native").join(name)
}
