//! A process's state, kept in its wasmtime `Store`: its handles, its own
//! side of the kernel (mailbox, monitors), its WASI context and plugins,
//! and the limiter that holds its memories to `--max-memory`.

use super::Hibernation;
use crate::handle::{HandleTable, Resource};
use crate::mailbox::Message;
use crate::module::Module;
use crate::node::{Node, ProcessEntry};
use std::fmt;
use std::sync::Arc;
use wasmtime::Memory;
use wasmtime_wasi::p1::WasiP1Ctx;

/// The longest text `version.last-error` keeps, in bytes.
const MAX_LAST_ERROR: usize = 1024;

/// The error raised when a process's memory would exceed its limit.
#[derive(Debug)]
pub(crate) struct MemoryLimitExceeded {
    pub limit: usize,
    pub desired: usize,
}

impl fmt::Display for MemoryLimitExceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "memory limit exceeded: the process asked for {} bytes of linear memory in all (its own and its plugins'), over its limit of {} bytes (raise it with --max-memory)",
            self.desired, self.limit
        )
    }
}

impl std::error::Error for MemoryLimitExceeded {}

/// Enforces `--max-memory` over every linear memory in the process's
/// store, its plugins' included, with an error that says so rather than a
/// bare failed `memory.grow`. A store's memories live as long as it does,
/// so the sum only grows until the store goes (a new one starts at 0).
pub(crate) struct MemoryLimiter {
    pub limit: usize,
    /// Bytes of linear memory the store holds.
    held: usize,
    /// The last growth allowed, taken back if it then fails.
    last: usize,
}

impl MemoryLimiter {
    /// A limiter for a fresh store.
    pub fn new(limit: usize) -> MemoryLimiter {
        MemoryLimiter {
            limit,
            held: 0,
            last: 0,
        }
    }
}

impl wasmtime::ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _max: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let grows = desired.saturating_sub(current);
        let total = self.held.saturating_add(grows);
        if total > self.limit {
            return Err(wasmtime::Error::new(MemoryLimitExceeded {
                limit: self.limit,
                desired: total,
            }));
        }
        self.held = total;
        self.last = grows;
        Ok(true)
    }

    /// Takes back the growth `memory_growing` just
    /// allowed. (wasmtime reports a failure without asking first only for
    /// custom page sizes, which the engine turns off; were it to, `last`
    /// would be the previous growth, so it is taken once and saturates.)
    fn memory_grow_failed(&mut self, _error: wasmtime::Error) -> wasmtime::Result<()> {
        self.held = self.held.saturating_sub(std::mem::take(&mut self.last));
        Ok(())
    }

    fn table_growing(
        &mut self,
        _current: usize,
        _desired: usize,
        _max: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(true)
    }
}

/// The state of one process, kept in its wasmtime `Store`.
pub(crate) struct ProcessState {
    pub id: u64,
    pub node: Arc<Node>,
    pub entry: Arc<ProcessEntry>,
    pub module: Module,
    /// Its mailbox, the monitors it set and the tags it forgot: the
    /// kernel's rules for them.
    pub process: vm_kernel::process::Process<Resource>,
    /// The message the last receive selected, its read cursor, and its
    /// resources not yet taken.
    pub current: Option<(Message, usize)>,
    pub current_resources: Vec<Option<Resource>>,
    /// What the last receive closed because the message before it still
    /// held them untaken, for the error of a take that comes too late.
    pub closed_untaken: Option<String>,
    pub handles: HandleTable,
    /// The WASI context, made on the first WASI call: most spawned processes
    /// never make one, and an idle process should not pay for it. Boxed, so
    /// a process without one carries a pointer rather than its 384 bytes.
    wasi: Option<Box<WasiP1Ctx>>,
    /// The command-line arguments WASI reports (empty: the module's name).
    args: Vec<String>,
    pub limiter: MemoryLimiter,
    pub memory: Option<Memory>,
    pub last_error: String,
    /// Set by `process.hibernate` as it unwinds the guest (boxed: every
    /// process's state carries the field, few ever hibernate).
    pub hibernation: Option<Box<Hibernation>>,
    /// The process's plugin instances, by plugin index, each made on the
    /// process's first call to it.
    pub plugins: Vec<Option<Box<crate::plugin::PluginInstance>>>,
    /// Each wasm plugin instance's own WASI context, by plugin index: it
    /// shares the process's output and nothing else (no descriptors, no
    /// sockets, no files).
    plugin_wasi: Vec<Option<Box<WasiP1Ctx>>>,
    /// The plugin whose code is running (its WASI calls reach its own
    /// context), or `None` while the guest's is.
    pub running_plugin: Option<usize>,
    /// Set while a `cabi_realloc` allocates for a plugin call, when no
    /// import may be called (the canonical ABI's `may_leave`).
    pub allocating: bool,
    /// An import was called while a `cabi_realloc` allocated.
    pub left_realloc: bool,
}

impl ProcessState {
    /// The state of process `entry` of `module` as it starts: no handles,
    /// nothing received, no WASI context or plugin instance yet.
    pub fn new(
        node: &Arc<Node>,
        entry: &Arc<ProcessEntry>,
        module: &Module,
        args: Vec<String>,
    ) -> ProcessState {
        ProcessState {
            id: entry.id,
            node: node.clone(),
            entry: entry.clone(),
            module: module.clone(),
            process: vm_kernel::process::Process::new(node.kernel.clone(), entry.clone()),
            current: None,
            current_resources: Vec::new(),
            closed_untaken: None,
            handles: HandleTable::new(entry.budget().clone(), node.config.max_sockets),
            wasi: None,
            args,
            limiter: MemoryLimiter::new(node.config.max_memory),
            memory: None,
            last_error: String::new(),
            hibernation: None,
            plugins: Vec::new(),
            plugin_wasi: Vec::new(),
            running_plugin: None,
            allocating: false,
            left_realloc: false,
        }
    }

    /// Records the text of a failed call for `version.last-error`.
    /// The text is cut to [`MAX_LAST_ERROR`] bytes: it may quote what the
    /// guest passed.
    pub fn fail(&mut self, code: vm_abi::ErrorCode, text: impl Into<String>) -> vm_abi::ErrorCode {
        let mut text = text.into();
        if text.len() > MAX_LAST_ERROR {
            let mut at = MAX_LAST_ERROR - crate::signal::TRUNCATED.len();
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            text.truncate(at);
            text.push_str(crate::signal::TRUNCATED);
        }
        self.last_error = text;
        code
    }

    /// The WASI context of whatever code is running: the guest's, or the
    /// running plugin's own.
    pub fn wasi(&mut self) -> &mut WasiP1Ctx {
        if self.allocating {
            self.left_realloc = true;
        }
        if let Some(index) = self.running_plugin {
            if self.plugin_wasi.len() <= index {
                self.plugin_wasi.resize_with(index + 1, || None);
            }
            let node = &self.node;
            return self.plugin_wasi[index]
                .get_or_insert_with(|| Box::new(node.plugin_wasi_ctx(index)));
        }
        let (node, module, args) = (&self.node, &self.module, &self.args);
        self.wasi
            .get_or_insert_with(|| Box::new(node.wasi_ctx(module, args)))
    }

    /// Lets go of what the instance held as the process hibernates: its
    /// current message (and any handle it did not take), handles it did
    /// not name (nothing could reach them), an init message it never
    /// received (the new state supersedes it, so a process that hibernates
    /// again at once cannot pile them up), and its wasm plugin instances
    /// (they lived in the old store: the next call after waking makes fresh
    /// ones, as after a spawn; native plugins' states stay).
    pub(super) fn fall_asleep(&mut self) {
        // Only the guest's own code hibernates: no plugin runs, no
        // allocation for a plugin call is under way.
        debug_assert!(self.running_plugin.is_none() && !self.allocating);
        self.current = None;
        self.current_resources.clear();
        self.handles.retain_only(&[]);
        self.memory = None;
        crate::plugin::forget_instances(&mut self.plugins);
        // An idle process keeps no WASI context: the next call after waking
        // makes a fresh one, and an unfinished line goes out now.
        self.wasi = None;
        self.plugin_wasi.clear();
        let id = self.id;
        self.process
            .purge(|m| m.kind == vm_abi::MessageKind::Init && m.sender == id);
    }

    /// Makes `m` the current message, its first `read` bytes already copied
    /// out (the next `mailbox.read` continues from there).
    pub fn set_current(&mut self, mut m: Message, read: usize) {
        let untaken: Vec<&'static str> = self
            .current_resources
            .iter()
            .flatten()
            .map(Resource::kind)
            .collect();
        self.closed_untaken = match (&self.current, untaken.is_empty()) {
            (Some((before, _)), false) => Some(format!(
                "the message before it (tag {}, from process {}) carried {} that no take-handle took before this receive, which closed {}",
                before.tag,
                before.sender,
                untaken.join(", "),
                if untaken.len() == 1 { "it" } else { "them" }
            )),
            _ => None,
        };
        self.current_resources.clear();
        self.current_resources
            .extend(std::mem::take(&mut m.resources).into_iter().map(Some));
        self.current = Some((m, read));
    }
}

/// Component plugins reach WASI 0.2 through their own WASI context (see
/// [`ProcessState::wasi`]).
impl wasmtime_wasi::WasiView for ProcessState {
    fn ctx(&mut self) -> wasmtime_wasi::WasiCtxView<'_> {
        self.wasi().ctx()
    }
}
