//! `vm`: run, inspect and start guest apps on the reference VM.

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use vm_reference::{compat, ModuleInfo, Vm};

#[derive(Parser)]
#[command(
    name = "vm",
    version,
    about = "The reference VM for vm:host WebAssembly actors"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a module's `_start` as the root process; the exit status follows it.
    /// The app's `vm.toml` (here or in a directory above) gives defaults
    /// for every flag below.
    Run {
        #[command(flatten)]
        vm: VmOptions,
        /// The module to run.
        module: PathBuf,
        /// Arguments for the guest (after `--`).
        #[arg(last = true)]
        args: Vec<String>,
    },
    /// Print the ABI version a module needs, its imports by interface, and
    /// whether this VM can run it.
    Inspect {
        /// Load a wasm plugin (a core module or a component carrying its
        /// WIT in a `vm:plugin` section) whose functions the module may
        /// import as `plugin:NAME/…`. Repeatable.
        #[arg(long = "plugin", value_name = "FILE")]
        plugins: Vec<PathBuf>,
        /// Load a native plugin from a shared library (its C-ABI entry
        /// `vm_native_plugin_v1`). Repeatable. NATIVE CODE RUNS OUTSIDE THE
        /// SANDBOX, in the VM's process, with all of its rights: load only
        /// libraries you trust.
        #[arg(long = "native-plugin", value_name = "LIB")]
        native_plugins: Vec<PathBuf>,
        /// The module to inspect.
        module: PathBuf,
    },
    /// Run the tests a guest declares with `#[vm_sdk::test]` (a module
    /// built by `cargo test`), each in a process of its own, and report as
    /// libtest does (exit status 101 if one fails). libtest's arguments
    /// (filters, --ignored, --include-ignored, --exact) follow the module.
    /// A module without tests runs as `vm run` runs it, with the arguments
    /// as its own, so `runner = "vm test"` in .cargo/config.toml serves both
    /// `cargo test` and `cargo run`.
    Test {
        /// How long a test may run before it is killed and fails (seconds).
        #[arg(long, value_name = "SECS", default_value_t = 60)]
        timeout: u64,
        #[command(flatten)]
        vm: VmOptions,
        /// The test module.
        module: PathBuf,
        /// libtest's arguments.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Generate a guest's bindings from a WIT file, for Rust, C or
    /// AssemblyScript: typed messages, or a plugin's functions.
    ///
    /// From a file of message types (records, variants, enums): types that
    /// encode postcard's bytes, so the three languages exchange them as
    /// messages. From a plugin's WIT (`package plugin:NAME@MAJOR.MINOR.PATCH;`):
    /// typed functions over the plugin's imports, for a guest that calls
    /// it.
    Bindgen {
        /// The WIT file: message types, or a plugin's package.
        wit: PathBuf,
        /// The language: rust, c or assemblyscript.
        #[arg(long)]
        lang: vm_bindgen::Lang,
        /// The directory to write the file to (named after the WIT file).
        #[arg(long, default_value = ".")]
        out: PathBuf,
        /// AssemblyScript: where the SDK's `Writer` and `Reader` are imported from.
        #[arg(
            long,
            value_name = "PATH",
            default_value = "vm-host-sdk/assembly/index"
        )]
        assemblyscript_sdk: String,
    },
    /// Print the NATS server configuration's `permissions` block for the
    /// user a cluster node named NAME logs in as: it publishes only as
    /// itself, hears only what is sent to it, and cannot move a slot's
    /// claim (see "Running a cluster" in the README).
    NatsPermissions {
        /// The node's name (its --node).
        name: String,
    },
    /// Start a new app from a template (languages: rust, c, assemblyscript).
    New {
        /// The guest language.
        language: String,
        /// The app's name, also its directory.
        name: String,
    },
}

/// What the VM may use and load, for `vm run` and `vm test`: each flag
/// also a key of the app's `vm.toml` (see `vm_reference::app_config`).
#[derive(clap::Args)]
struct VmOptions {
    /// Read no `vm.toml`: only the flags given here count.
    #[arg(long)]
    no_config: bool,
    /// Linear-memory limit per process, its plugins' memories included
    /// (bytes, or with K, M, G; default 64M).
    #[arg(long, value_name = "SIZE", value_parser = vm_reference::parse_size)]
    max_memory: Option<usize>,
    /// Stack limit per process for its wasm code (bytes, or with K, M, G;
    /// default 256K). Deeper calls trap the process.
    #[arg(long, value_name = "SIZE", value_parser = vm_reference::parse_size)]
    max_stack: Option<usize>,
    /// What the VM may hold for one process (bytes, or with K, M, G;
    /// default 64M): its unreceived messages and exit signals, and what it
    /// asked for (timers until they fire, captures until the child starts,
    /// links, monitors, names, handles, loaded modules, hibernation state,
    /// native plugin states). A process whose mailbox would grow past it
    /// ends with a trap reason naming this flag; its own request past it
    /// fails with `limit-reached`.
    #[arg(long, value_name = "SIZE", value_parser = vm_reference::parse_size)]
    max_mailbox: Option<usize>,
    /// What the VM may hold for all processes together (bytes, or with
    /// K, M, G; default: a quarter of the machine's memory). The process
    /// whose request or send would pass it gets `limit-reached` (or
    /// ends, where the call has no error to return); the others go on.
    #[arg(long, value_name = "SIZE", value_parser = vm_reference::parse_size)]
    max_host_memory: Option<usize>,
    /// How many sockets (listeners, streams, halves) one process may hold
    /// (default 1024).
    #[arg(long, value_name = "N")]
    max_sockets: Option<u32>,
    /// How many processes may be alive at once, hibernated ones included
    /// (default 10000).
    #[arg(long, value_name = "N")]
    max_processes: Option<u32>,
    /// How many processes may have an instance at once (default:
    /// --max-processes): the instance pool, which vm.max_map_count must
    /// allow. Hibernated processes need none, so a VM holding millions of
    /// them needs a pool only for those awake; one woken while the pool is
    /// full waits up to 5 s for a slot.
    #[arg(long, value_name = "N")]
    max_instances: Option<u32>,
    /// Worker threads running processes (default: one per core). A chain
    /// of messages stays on one worker; idle workers take over queued
    /// processes.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    threads: Option<u16>,
    /// Grant network access: a host (127.0.0.1, localhost), host:port, a
    /// CIDR range (10.0.0.0/8) or `*`. Repeat or separate with commas.
    #[arg(long, value_name = "RULE", value_delimiter = ',', value_parser = vm_reference::NetRule::parse)]
    allow_net: Vec<vm_reference::NetRule>,
    /// Load a wasm plugin (a core module or a component carrying its WIT in
    /// a `vm:plugin` section) whose functions guests may import as
    /// `plugin:NAME/…`. Repeatable.
    #[arg(long = "plugin", value_name = "FILE")]
    plugins: Vec<PathBuf>,
    /// Load a native plugin from a shared library (its C-ABI entry
    /// `vm_native_plugin_v1`). Repeatable. NATIVE CODE RUNS OUTSIDE THE
    /// SANDBOX, in the VM's process, with all of its rights: load only
    /// libraries you trust.
    #[arg(long = "native-plugin", value_name = "LIB")]
    native_plugins: Vec<PathBuf>,
    /// How many plugin instances and native plugin states may live at once
    /// (each process that calls a plugin has its own; default:
    /// --max-processes). A call past it ends the calling process with
    /// `limit-reached`.
    #[arg(long, value_name = "N")]
    max_plugin_instances: Option<u32>,
    /// Join a cluster of VMs through this NATS server (nats://HOST:PORT,
    /// or tls://HOST:PORT to require TLS; the server needs JetStream, -js):
    /// processes reach the processes of the other nodes, and a node's loss
    /// fires links and monitors with `noconnection`. Without it the VM
    /// touches no network of its own.
    #[arg(long, value_name = "URL")]
    cluster: Option<String>,
    /// This node's name in the cluster: letters, digits, `-` and `_`, at
    /// most 64 (default: the host's name and the VM's process id). It is
    /// in the NATS subjects the node publishes on, so that NATS
    /// permissions can keep a node from speaking as another.
    #[arg(long, value_name = "NAME", requires = "cluster")]
    node: Option<String>,
    /// How often this node says it is alive, in milliseconds (default
    /// 1000); a node silent for three intervals is declared down.
    #[arg(long, value_name = "MS", requires = "cluster", value_parser = clap::value_parser!(u64).range(1..))]
    heartbeat_ms: Option<u64>,
    /// A NATS credentials file for joining the cluster (a user and
    /// password go in the URL: nats://USER:PASSWORD@HOST:PORT).
    #[arg(long, value_name = "FILE", requires = "cluster")]
    nats_creds: Option<PathBuf>,
    /// The CA certificate (PEM) that signed the NATS server's, when the
    /// system does not trust it; TLS is then required.
    #[arg(long, value_name = "FILE", requires = "cluster")]
    nats_ca: Option<PathBuf>,
    /// This node's client certificate (PEM), for a NATS server that
    /// verifies its clients (with --nats-key); TLS is then required.
    #[arg(long, value_name = "FILE", requires_all = ["cluster", "nats_key"])]
    nats_cert: Option<PathBuf>,
    /// The key (PEM) of --nats-cert.
    #[arg(long, value_name = "FILE", requires = "nats_cert")]
    nats_key: Option<PathBuf>,
    /// Use a plugin served by other processes over the cluster's NATS
    /// server (NAME@MAJOR, e.g. kv@1): its WIT comes from a server as the
    /// VM starts, and each call is one request. Repeatable.
    #[arg(
        long = "remote-plugin",
        value_name = "NAME@MAJOR",
        requires = "cluster"
    )]
    remote_plugins: Vec<String>,
    /// How long one call of a remote plugin may take before the calling
    /// process ends, in milliseconds (default 5000).
    #[arg(long, value_name = "MS", requires = "remote_plugins", value_parser = clap::value_parser!(u64).range(1..))]
    remote_plugin_deadline_ms: Option<u64>,
    /// The most calls of each remote plugin in flight at once, from all
    /// processes (default 1024); a call past it ends its caller.
    #[arg(long, value_name = "N", requires = "remote_plugins", value_parser = clap::value_parser!(u64).range(1..))]
    remote_plugin_max_in_flight: Option<u64>,
    /// Start processes other nodes ask for (`spawn_on`) when the asking
    /// node has this name (`*`: any); repeat or separate with commas.
    /// Without it, this node starts none.
    #[arg(long, value_name = "NODE", requires = "cluster", value_delimiter = ',')]
    accept_spawn_from: Vec<String>,
    /// ... and only of this module, by the SHA-256 of its bytes in
    /// hexadecimal (`*`: any; `sha256sum app.wasm` prints it); repeat or
    /// separate with commas.
    #[arg(long, value_name = "HASH", requires = "cluster", value_delimiter = ',')]
    accept_module: Vec<String>,
}

impl VmOptions {
    /// A VM builder from these flags over the app's `vm.toml`, if one is
    /// found from the current directory up: a flag wins over the file, and
    /// lists add to it.
    fn builder(self) -> Result<vm_reference::VmBuilder> {
        let cwd = std::env::current_dir().context("reading the current directory")?;
        let file = if self.no_config {
            vm_reference::AppConfig::default()
        } else {
            vm_reference::AppConfig::find(&cwd)?.unwrap_or_default()
        };
        let plugins: Vec<PathBuf> = file.plugins.into_iter().chain(self.plugins).collect();
        let native: Vec<PathBuf> = file
            .native_plugins
            .into_iter()
            .chain(self.native_plugins)
            .collect();
        let mut b = with_plugins(Vm::builder(), &plugins, &native)
            .max_memory(self.max_memory.or(file.max_memory).unwrap_or(64 << 20))
            .max_stack(self.max_stack.or(file.max_stack).unwrap_or(256 << 10))
            .max_mailbox(self.max_mailbox.or(file.max_mailbox).unwrap_or(64 << 20))
            .max_sockets(self.max_sockets.or(file.max_sockets).unwrap_or(1024))
            .max_processes(self.max_processes.or(file.max_processes).unwrap_or(10_000))
            .threads(self.threads.or(file.threads).map_or(0, usize::from));
        if let Some(bytes) = self.max_host_memory.or(file.max_host_memory) {
            b = b.max_host_memory(bytes);
        }
        if let Some(n) = self.max_plugin_instances.or(file.max_plugin_instances) {
            b = b.max_plugin_instances(n);
        }
        if let Some(n) = self.max_instances.or(file.max_instances) {
            b = b.max_instances(n);
        }
        for spec in &self.remote_plugins {
            let mut wanted = vm_reference::RemotePlugin::parse(spec)
                .map_err(|e| anyhow::anyhow!("--remote-plugin: {e}"))?;
            if let Some(ms) = self.remote_plugin_deadline_ms {
                wanted.deadline = std::time::Duration::from_millis(ms);
            }
            if let Some(n) = self.remote_plugin_max_in_flight {
                wanted.max_in_flight = n as usize;
            }
            b = b.remote_plugin(wanted);
        }
        if let Some(url) = self.cluster {
            let name = self.node.unwrap_or_else(|| {
                // A name is one token of NATS subjects: a host name's dots
                // become dashes.
                let host = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
                let host: String = host
                    .trim()
                    .chars()
                    .map(|c| {
                        if c.is_ascii_alphanumeric() || c == '_' {
                            c
                        } else {
                            '-'
                        }
                    })
                    .take(40)
                    .collect();
                format!("{host}-{}", std::process::id())
            });
            let mut c = vm_reference::ClusterConfig::new(url, name);
            if let Some(ms) = self.heartbeat_ms {
                c.heartbeat = std::time::Duration::from_millis(ms);
            }
            c.credentials = self.nats_creds;
            c.tls_ca = self.nats_ca;
            c.tls_client = self.nats_cert.zip(self.nats_key);
            c.accept_spawn_from = self.accept_spawn_from;
            c.accept_modules = self
                .accept_module
                .into_iter()
                .map(|h| h.to_ascii_lowercase())
                .collect();
            b = b.cluster(c);
        }
        Ok(file
            .allow_net
            .into_iter()
            .chain(self.allow_net)
            .fold(b, |b, rule| b.allow_net(rule)))
    }
}

fn main() -> ExitCode {
    match real_main() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("vm: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Runs a command module's `_start` as the root process; the exit status
/// follows it.
fn run_command(
    builder: vm_reference::VmBuilder,
    module: &Path,
    args: Vec<String>,
) -> Result<ExitCode> {
    // The VM runs processes (and their I/O) on its own workers; this thread
    // only waits for the root process.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let vm = builder.build()?;
        let loaded = vm.load_file(module)?;
        let mut argv = vec![module.display().to_string()];
        argv.extend(args);
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        let outcome = vm.run(&loaded, &argv).await?;
        if !outcome.reason.is_normal() {
            eprintln!("vm: the root process ended abnormally: {}", outcome.reason);
        }
        Ok(ExitCode::from(outcome.status.clamp(0, 255) as u8))
    })
}

fn real_main() -> Result<ExitCode> {
    match Cli::parse().command {
        Command::Run { vm, module, args } => run_command(vm.builder()?, &module, args),
        Command::Test {
            timeout,
            vm,
            module,
            args,
        } => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let builder = vm.builder()?;
            if !vm_reference::has_guest_tests(&module)
                .with_context(|| format!("reading {}", module.display()))?
            {
                return run_command(builder, &module, args);
            }
            let mut options =
                vm_reference::TestOptions::from_args(&args).map_err(anyhow::Error::msg)?;
            options.timeout = std::time::Duration::from_secs(timeout);
            let passed = runtime.block_on(vm_reference::run_guest_tests(
                builder,
                &module,
                &options,
                &mut std::io::stdout(),
            ))?;
            Ok(if passed {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(101)
            })
        }
        Command::Bindgen {
            wit,
            lang,
            out,
            assemblyscript_sdk,
        } => {
            let options = vm_bindgen::Options { assemblyscript_sdk };
            let path = vm_bindgen::generate_file(&wit, lang, &out, &options)?;
            println!("wrote {}", path.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::NatsPermissions { name } => {
            if !vm_cluster::valid_name(&name) {
                anyhow::bail!(
                    "`{name}` cannot name a node: a node's name is 1 to {} letters, digits, `-` and `_`",
                    vm_cluster::MAX_NAME
                );
            }
            print!("{}", vm_cluster::nats_permissions("vm", &name));
            Ok(ExitCode::SUCCESS)
        }
        Command::New { language, name } => {
            let dir = vm_reference::template::create(&language, &name, Path::new("."))?;
            println!("created {}", dir.display());
            let next = match language.as_str() {
                "rust" => format!(
                    "cargo build --release && vm run target/wasm32-wasip1/release/{name}.wasm"
                ),
                "c" => format!("./build.sh && vm run {name}.wasm"),
                _ => format!("npm install && npm run build && vm run {name}.wasm"),
            };
            println!("next: cd {name} && {next}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Inspect {
            plugins,
            native_plugins,
            module,
        } => {
            let bytes = std::fs::read(&module)
                .with_context(|| format!("cannot read {}", module.display()))?;
            // WebAssembly text too, as `vm run` takes it.
            let bytes = wat::parse_bytes(&bytes).map_err(|e| {
                anyhow::anyhow!(
                    "{} is not a valid WebAssembly module: {e}",
                    module.display()
                )
            })?;
            let info = ModuleInfo::read(&bytes).map_err(|e| {
                anyhow::anyhow!(
                    "{} is not a valid WebAssembly module: {e}",
                    module.display()
                )
            })?;
            // A VM with the plugins loaded (which checks them) answers
            // whether the module runs here.
            let vm =
                with_plugins(Vm::builder().max_processes(1), &plugins, &native_plugins).build()?;
            let problems = vm.check(&info);
            print!(
                "{}",
                inspect(
                    &module.display().to_string(),
                    &info,
                    &vm.plugins(),
                    &problems
                )
            );
            Ok(if problems.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
    }
}

/// Adds each `--plugin` and `--native-plugin` to the builder.
fn with_plugins(
    builder: vm_reference::VmBuilder,
    plugins: &[PathBuf],
    native: &[PathBuf],
) -> vm_reference::VmBuilder {
    let builder = plugins.iter().fold(builder, |b, p| b.plugin_file(p));
    native.iter().fold(builder, |b, p| b.native_plugin_file(p))
}

fn inspect(
    name: &str,
    info: &ModuleInfo,
    loaded: &[(String, String, &str)],
    problems: &[vm_reference::Incompatibility],
) -> String {
    use std::collections::BTreeMap;
    use std::fmt::Write;
    let mut out = String::new();
    let v = |v: Option<(u32, u32, u32)>| {
        v.map(compat::format_version)
            .unwrap_or_else(|| "none".into())
    };
    let _ = writeln!(out, "module:         {name}");
    let _ = writeln!(
        out,
        "needs ABI:      vm:host {}",
        v(info.required_version())
    );
    let _ = writeln!(out, "built for ABI:  {}", v(info.built_for()));
    let _ = writeln!(
        out,
        "this VM serves: vm:host {}",
        compat::format_version(vm_abi::ABI_VERSION)
    );
    let mut groups: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for i in &info.imports {
        let since = vm_abi::function(&i.module, &i.name)
            .map(|f| format!(" (since {})", compat::format_version(f.since)))
            .unwrap_or_default();
        groups
            .entry(&i.module)
            .or_default()
            .push(format!("{}{since}", i.name));
    }
    let needed = info.plugins_needed();
    if !needed.is_empty() {
        let list: Vec<String> = needed
            .iter()
            .map(|need| match need.built_for {
                Some(b) => format!(
                    "plugin:{} {}.x (built for {})",
                    need.name,
                    need.series,
                    compat::format_version(b)
                ),
                None => format!("plugin:{} {}.x", need.name, need.series),
            })
            .collect();
        let _ = writeln!(out, "needs plugins:  {}", list.join(", "));
    }
    if !loaded.is_empty() {
        let list: Vec<String> = loaded
            .iter()
            .map(|(source, package, kind)| format!("{package} ({source}, a {kind})"))
            .collect();
        let _ = writeln!(out, "plugins here:   {}", list.join(", "));
    }
    let _ = writeln!(out, "imports:");
    for (module, names) in groups {
        let _ = writeln!(out, "  {module}: {}", names.join(", "));
    }
    if problems.is_empty() {
        let _ = writeln!(out, "runs here:      yes");
    } else {
        let _ = writeln!(out, "runs here:      no");
        for p in problems {
            let _ = writeln!(out, "  - {p}");
        }
    }
    out
}
