//! How a VM is configured: limits, capabilities and where output goes.

use crate::resolver::{Resolver, SystemResolver};
use std::sync::Arc;
use std::time::Duration;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;

/// Where guests' stdout and stderr go.
#[derive(Clone)]
pub enum Output {
    /// The VM's own stdout and stderr.
    Inherit,
    /// Nowhere: what guests write (and the VM's crash reports) is dropped,
    /// as to `/dev/null`, for an embedder that watches outcomes instead.
    Discard,
    /// Buffers shared by all processes, read with [`crate::Vm::captured_stdout`]
    /// and [`crate::Vm::captured_stderr`].
    Capture {
        /// What guests write to stdout.
        stdout: MemoryOutputPipe,
        /// What guests write to stderr.
        stderr: MemoryOutputPipe,
    },
}

/// VM settings; build one with [`crate::Vm::builder`].
#[derive(Clone)]
pub struct Config {
    /// Linear-memory limit per process, in bytes.
    pub max_memory: usize,
    /// Stack limit per process for its wasm code, in bytes: calls nested
    /// deeper trap.
    pub max_stack: usize,
    /// What the host may hold for one process, in bytes: its unreceived
    /// messages and exit signals, the timers it set, the captures of
    /// children not yet started, its links, monitors, names it registered,
    /// handles, modules it loaded and hibernation state. A process whose
    /// mailbox would grow past it ends; its own request past it is refused
    /// (see `abi/README.md`).
    pub max_mailbox: usize,
    /// What the host may hold for all processes together, in bytes: the
    /// sum of every process's charges (see [`Config::max_mailbox`]).
    pub max_host_memory: usize,
    /// How many socket handles (listeners, streams, halves) one process
    /// may hold.
    pub max_sockets: u32,
    /// How many processes may be alive at once, hibernated ones included.
    pub max_processes: u32,
    /// How many processes may have an instance at once (the size of the
    /// instance pool, and what `vm.max_map_count` must allow); `None`: as
    /// many as [`Config::max_processes`]. A hibernated process has none.
    pub max_instances: Option<u32>,
    /// A process's time slice: running wasm yields to the scheduler once
    /// an interval has passed since the process last resumed (time spent
    /// waiting does not count).
    pub preemption_interval: Duration,
    /// Where output goes.
    pub output: Output,
    /// Which network addresses processes may use (none by default).
    pub net: crate::NetPolicy,
    /// Looks up the host names the network policy permits.
    pub resolver: Arc<dyn Resolver>,
    /// Worker threads running processes (0: one per core).
    pub threads: usize,
    /// How many plugin instances may live at once, over all processes
    /// (each process that calls a plugin has its own). `None`: as many as
    /// [`Config::max_processes`] when plugins are loaded, none otherwise.
    pub max_plugin_instances: Option<u32>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_memory: 64 << 20,
            max_stack: 256 << 10,
            max_mailbox: 64 << 20,
            max_host_memory: crate::budget::default_host_limit(),
            max_sockets: 1024,
            max_processes: 10_000,
            max_instances: None,
            preemption_interval: Duration::from_millis(1),
            output: Output::Inherit,
            net: crate::NetPolicy::default(),
            resolver: Arc::new(SystemResolver),
            threads: 0,
            max_plugin_instances: None,
        }
    }
}

impl Config {
    /// How many processes may have an instance at once.
    pub fn instance_limit(&self) -> u32 {
        self.max_instances
            .unwrap_or(self.max_processes)
            .min(self.max_processes)
    }

    /// How many plugin instances may live at once, with `plugins` loaded.
    pub fn plugin_instance_limit(&self, plugins: usize) -> u32 {
        match (self.max_plugin_instances, plugins) {
            (Some(n), _) => n,
            (None, 0) => 0,
            (None, _) => self.max_processes,
        }
    }

    /// How many worker threads to start: [`Config::threads`], or one per core.
    pub fn worker_threads(&self) -> usize {
        match self.threads {
            0 => std::thread::available_parallelism().map_or(1, usize::from),
            n => n,
        }
    }
}

/// Parses a size such as `64M`, `1G`, `512K` or `1048576` (bytes).
///
/// ```
/// assert_eq!(vm_reference::parse_size("64M"), Ok(64 << 20));
/// assert!(vm_reference::parse_size("lots").is_err());
/// ```
///
/// # Errors
/// Returns a message naming the accepted forms.
pub fn parse_size(s: &str) -> Result<usize, String> {
    let t = s.trim();
    let (digits, mult) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let mult = match c.to_ascii_uppercase() {
                'K' => 1 << 10,
                'M' => 1 << 20,
                'G' => 1 << 30,
                _ => return Err(format!("`{s}`: the unit must be K, M or G")),
            };
            (&t[..i], mult)
        }
        _ => (t, 1),
    };
    let n: usize = digits.trim().parse().map_err(|_| {
        format!("`{s}` is not a size; write bytes or a number with K, M or G (64M)")
    })?;
    n.checked_mul(mult)
        .ok_or_else(|| format!("`{s}` is too large"))
}
