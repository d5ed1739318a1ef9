//! Processes: spawning, typed references, links, monitors, exit and sleep.
//!
//! [`spawn`] starts a function of this module in a new process with a
//! serialized capture: the function must not capture its environment (it is a
//! `fn`, not a closure over locals) and the capture must be serializable, both
//! checked at compile time. The new process gets its own memory; nothing is
//! shared. Links and monitors follow Erlang: when a linked process fails, this
//! one fails too unless it [traps exits](trap_exits); a monitor delivers a
//! [`Down`](crate::mailbox::Down) message instead.

use crate::abi::{self, spawn_options};
use crate::error::Error;
pub use crate::exit::ExitReason;
use crate::mailbox::{receive_with, Mailbox};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::marker::PhantomData;
use std::time::Duration;

/// A process that accepts messages of type `M`.
///
/// Cheap to copy, and serializable, so it can be sent to other processes.
pub struct Process<M> {
    id: u64,
    _message: PhantomData<fn(M)>,
}

impl<M> Clone for Process<M> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<M> Copy for Process<M> {}

impl<M> PartialEq for Process<M> {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}

impl<M> Eq for Process<M> {}

impl<M> std::hash::Hash for Process<M> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.id().hash(state)
    }
}

/// Ordered by process id (as Erlang orders pids), so processes can key a
/// `BTreeMap` or be sorted.
impl<M> PartialOrd for Process<M> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl<M> Ord for Process<M> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.id().cmp(&other.id())
    }
}

impl<M> std::fmt::Debug for Process<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Process({})", self.id)
    }
}

impl<M> Serialize for Process<M> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.id.serialize(s)
    }
}

impl<'de, M> Deserialize<'de> for Process<M> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        u64::deserialize(d).map(Process::from_id)
    }
}

/// The name of the export through which spawned functions start. It carries
/// the SDK's major and minor version so two SDK versions in one module do not
/// collide.
const ENTRY: &str = concat!(
    "vm_sdk_entry_",
    env!("CARGO_PKG_VERSION_MAJOR"),
    "_",
    env!("CARGO_PKG_VERSION_MINOR")
);

#[export_name = concat!("vm_sdk_entry_", env!("CARGO_PKG_VERSION_MAJOR"), "_", env!("CARGO_PKG_VERSION_MINOR"))]
extern "C" fn entry(trampoline: u32) {
    #[cfg(target_arch = "wasm32")]
    crate::exit::panic_reason::install();
    if trampoline == 0 {
        exit("vm_sdk: spawned with a null entry: not started by Spawn::start");
    }
    // SAFETY: `Spawn::start` passes the table index of a `fn()` trampoline of
    // this module. Whoever calls this export with another index reaches
    // only functions of wasm type `() -> ()` (the indirect call checks the
    // type and traps otherwise), in a process it started itself.
    let trampoline: fn() = unsafe { std::mem::transmute::<usize, fn()>(trampoline as usize) };
    trampoline();
}

/// A fingerprint of the types a spawned function takes (FNV-1a over their
/// names), carried in the init message so that the trampoline starts the
/// function only with a capture encoded for those types.
fn fingerprint<C, M>() -> u64 {
    let names = [std::any::type_name::<C>(), std::any::type_name::<M>()];
    names
        .iter()
        .flat_map(|n| n.bytes().chain([0]))
        .fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
        })
}

/// The init message of a function spawned by [`Spawn::start`]: the
/// function's table index, the fingerprint of its types, then the capture.
const INIT_HEADER: usize = 4 + 8;

/// Runs in the new process: reads the init message and calls the function.
fn trampoline<C: DeserializeOwned, M>() {
    let (function, capture) =
        receive_with(&[], abi::message_kinds::INIT, None, |envelope, bytes| {
            let Some((header, capture)) = bytes.split_at_checked(INIT_HEADER) else {
                return Err("too short");
            };
            let (index, types) = header.split_at(4);
            let index = u32::from_le_bytes(index.try_into().expect("four bytes"));
            let types = u64::from_le_bytes(types.try_into().expect("eight bytes"));
            if index == 0 || types != fingerprint::<C, M>() {
                return Err("made for another function type");
            }
            // SAFETY: the index is a `fn(C, Mailbox<M>)` of this module, as
            // `Spawn::start::<C, M>` wrote it beside the fingerprint of
            // these types, which matched. (A process of this module that
            // forged the message, fingerprint included, could start a
            // function of another type with these bytes: the fingerprint
            // guards against mistakes, such as a message from another SDK
            // version, not against the module's own code.)
            let function: fn(C, Mailbox<M>) =
                unsafe { std::mem::transmute::<usize, fn(C, Mailbox<M>)>(index as usize) };
            // Decoding takes the capture's resources from the init message.
            let capture: C = crate::message::decode(capture, 0, envelope.sender)
                .map_err(|_| "its capture does not decode")?;
            Ok((function, capture))
        })
        .expect("a spawned process starts with its init message")
        .unwrap_or_else(|why| {
            exit(&format!(
                "vm_sdk: the init message was not made by Spawn::start for this function: {why}"
            ))
        });
    function(capture, Mailbox::this());
}

/// Options for starting a process; [`spawn`] and [`spawn_link`] cover the
/// common cases.
///
/// ```no_run
/// use vm_sdk::process::Spawn;
/// let worker = Spawn::new().link().start((), |(), mailbox: vm_sdk::Mailbox<u32>| {
///     let n = mailbox.receive().unwrap();
///     println!("got {n}");
/// })?;
/// worker.send(7);
/// # Ok::<(), vm_sdk::process::SpawnError<()>>(())
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Spawn<'a> {
    link: bool,
    module: Option<&'a Module>,
    node: Option<crate::node::Node>,
}

impl<'a> Spawn<'a> {
    /// Default options: not linked, this module.
    pub fn new() -> Self {
        Self::default()
    }

    /// Link the new process to this one before it runs.
    pub fn link(mut self) -> Self {
        self.link = true;
        self
    }

    /// Start the process on `node` (ABI 1.8, Erlang's `spawn(Node, …)`):
    /// the module travels there by its hash, and the process runs under
    /// that node's limits. That node must accept it (`vm run
    /// --accept-spawn-from NODE --accept-module HASH`, or `*`), or the
    /// start fails with `permission-denied`; `not-found` if it is not up.
    /// Handles cannot cross nodes: a capture holding one fails with
    /// `invalid-argument`, and nothing moves.
    ///
    /// ```no_run
    /// use vm_sdk::node::Node;
    /// use vm_sdk::process::Spawn;
    /// let there = Node::up().into_iter().find(|n| *n != Node::this()).expect("another node");
    /// let worker = Spawn::new().on(there).link().start(7u32, |n, _: vm_sdk::Mailbox<()>| {
    ///     println!("{n} on node {}", vm_sdk::node::Node::this().slot());
    /// });
    /// ```
    pub fn on(mut self, node: crate::node::Node) -> Self {
        self.node = Some(node);
        self
    }

    fn options(&self) -> u8 {
        if self.link {
            spawn_options::LINK
        } else {
            0
        }
    }

    /// Starts `function` with `capture` in a new process of this module.
    ///
    /// ```no_run
    /// use vm_sdk::abi::ErrorCode;
    /// use vm_sdk::process::Spawn;
    /// let greeting = String::from("hello");
    /// match Spawn::new().start(greeting, |text, _: vm_sdk::Mailbox<()>| println!("{text}")) {
    ///     Ok(_) => {}
    ///     // At the process limit: the capture comes back, resources and all.
    ///     Err(refused) if refused.error.code() == Some(ErrorCode::LimitReached) => {
    ///         println!("not now: {}", refused.capture);
    ///     }
    ///     Err(refused) => panic!("{}", refused.error),
    /// }
    /// ```
    ///
    /// # Errors
    /// Fails when the VM refuses (for example at its process limit); the
    /// error gives the capture back, with every resource in it still owned
    /// by this process.
    pub fn start<C, M>(
        self,
        capture: C,
        function: fn(C, Mailbox<M>),
    ) -> Result<Process<M>, SpawnError<C>>
    where
        C: Serialize + DeserializeOwned,
    {
        // Resources in the capture (a stream, say) move with it.
        let mut header = [0u8; INIT_HEADER];
        header[..4].copy_from_slice(&(function as usize as u32).to_le_bytes());
        header[4..].copy_from_slice(&fingerprint::<C, M>().to_le_bytes());
        let trampoline = trampoline::<C, M> as fn() as usize as u32;
        let spawned = crate::handle::with_encoded(&header, &capture, |init, handles| {
            self.raw(0, ENTRY, trampoline, init, handles)
        });
        match spawned {
            Ok(id) => {
                drop(capture);
                Ok(Process::from_id(id))
            }
            Err(error) => {
                // The VM moved nothing: the resources are still ours.
                crate::handle::restore(&capture);
                Err(SpawnError { error, capture })
            }
        }
    }

    /// Starts export `entry` of a loaded module (any language) in a new
    /// process. `entry` takes no argument or one `i32`, which gets `arg`; the
    /// process's first message (kind `init`) carries `init`.
    ///
    /// # Errors
    /// Fails when the module has no such export or the VM refuses.
    pub fn start_export<M>(
        self,
        module: &Module,
        entry: &str,
        arg: u32,
        init: &[u8],
    ) -> Result<Process<M>, Error> {
        let spawn = Spawn {
            module: Some(module),
            ..self
        };
        spawn
            .raw(module.handle, entry, arg, init, &[])
            .map(Process::from_id)
    }

    fn raw(
        self,
        module: u32,
        entry: &str,
        arg: u32,
        init: &[u8],
        handles: &[u32],
    ) -> Result<u64, Error> {
        let module = self.module.map_or(module, |m| m.handle);
        if let Some(node) = self.node {
            if !handles.is_empty() {
                return Err(Error::here(
                    abi::ErrorCode::InvalidArgument,
                    "handles cannot cross nodes: the capture holds some",
                ));
            }
            // SAFETY: every pointer is valid for the call.
            return crate::call(|ret| unsafe {
                abi::node::spawn_on(
                    node.slot(),
                    module,
                    entry.as_ptr(),
                    entry.len(),
                    arg,
                    init.as_ptr(),
                    init.len(),
                    self.options(),
                    ret,
                )
            });
        }
        // SAFETY: every pointer is valid for the call.
        crate::call(|ret| unsafe {
            abi::process::spawn(
                module,
                entry.as_ptr(),
                entry.len(),
                arg,
                init.as_ptr(),
                init.len(),
                handles.as_ptr(),
                handles.len(),
                self.options(),
                ret,
            )
        })
    }
}

/// Hibernates this process, as Erlang's `erlang:hibernate/3`: it gives up
/// its instance, stack and memory (a hibernated process costs the VM about
/// 1.3 KiB, BENCHMARKS.md), keeping its id, mailbox, links, monitors,
/// registered names and handles. When a message arrives (at once, if one
/// is queued), `function(state, mailbox)` runs in a fresh instance, as if
/// spawned with `state` as its capture: resources in `state` move with it.
/// The call stack is discarded: this never returns.
///
/// ```no_run
/// use vm_sdk::process::hibernate;
/// use vm_sdk::Mailbox;
///
/// fn wait_for_work(count: u32, mailbox: Mailbox<u32>) {
///     let job = mailbox.receive().unwrap();
///     println!("job {job}, the {}th", count + 1);
///     hibernate(count + 1, wait_for_work);
/// }
/// ```
///
/// # Panics
/// If `state`'s `Serialize` implementation fails.
pub fn hibernate<C, M>(state: C, function: fn(C, Mailbox<M>)) -> !
where
    C: Serialize + DeserializeOwned,
{
    // The instance ends here: what stdout buffered would be lost.
    let _ = std::io::Write::flush(&mut std::io::stdout());
    let mut header = [0u8; INIT_HEADER];
    header[..4].copy_from_slice(&(function as usize as u32).to_le_bytes());
    header[4..].copy_from_slice(&fingerprint::<C, M>().to_le_bytes());
    let trampoline = trampoline::<C, M> as fn() as usize as u32;
    crate::handle::with_encoded(&header, &state, |init, handles| {
        // SAFETY: every pointer is valid for the call, which does not
        // return: the VM ends this instance.
        unsafe {
            abi::process::hibernate(
                ENTRY.as_ptr(),
                ENTRY.len(),
                trampoline,
                init.as_ptr(),
                init.len(),
                handles.as_ptr(),
                handles.len(),
            )
        }
    });
    unreachable!("process.hibernate returned")
}

/// A spawn the VM refused, with the capture it would have moved.
pub struct SpawnError<C> {
    /// Why the VM refused.
    pub error: Error,
    /// The capture, given back with every resource in it still owned by
    /// this process.
    pub capture: C,
}

impl<C> std::fmt::Debug for SpawnError<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpawnError")
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

impl<C> std::fmt::Display for SpawnError<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "spawn refused: {}", self.error)
    }
}

impl<C> std::error::Error for SpawnError<C> {}

/// Starts `function` in a new process with `capture`, returning a reference
/// that accepts the function's message type.
///
/// The function cannot capture its environment; pass what it needs in
/// `capture`, which must be serializable.
///
/// # Panics
/// If the VM refuses to start the process (for example at its process limit);
/// use [`Spawn::start`] to handle that.
pub fn spawn<C, M>(capture: C, function: fn(C, Mailbox<M>)) -> Process<M>
where
    C: Serialize + DeserializeOwned,
{
    Spawn::new()
        .start(capture, function)
        .unwrap_or_else(|e| panic!("spawn failed: {}", e.error))
}

/// Like [`spawn`], and links the new process to this one first.
///
/// # Panics
/// As [`spawn`].
pub fn spawn_link<C, M>(capture: C, function: fn(C, Mailbox<M>)) -> Process<M>
where
    C: Serialize + DeserializeOwned,
{
    Spawn::new()
        .link()
        .start(capture, function)
        .unwrap_or_else(|e| panic!("spawn failed: {}", e.error))
}

impl<M> Process<M> {
    /// A reference from a raw id. Sending to it type-checks only what this
    /// side writes; the receiver's decode reports a mismatch.
    pub fn from_id(id: u64) -> Self {
        Process {
            id,
            _message: PhantomData,
        }
    }

    /// This process, accepting `M`.
    pub fn this() -> Self {
        Process::from_id(self_id())
    }

    /// The raw process id.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Links this process with `self` (see [`Spawn::link`]).
    ///
    /// # Errors
    /// `not-found` if the process has ended.
    pub fn link(&self) -> Result<(), Error> {
        // SAFETY: the return area is valid.
        crate::call(|ret| unsafe { abi::process::link(self.id, ret) })
    }

    /// Removes a link.
    pub fn unlink(&self) {
        // SAFETY: plain values.
        unsafe { abi::process::unlink(self.id) }
    }

    /// Starts monitoring the process; its end arrives as a
    /// [`Down`](crate::mailbox::Down) message.
    pub fn monitor(&self) -> Monitor {
        // SAFETY: plain values.
        let reference = unsafe { abi::process::monitor(self.id) };
        Monitor {
            reference,
            process: self.id,
        }
    }

    /// Ends the process with reason `killed`, which it cannot trap.
    pub fn kill(&self) {
        // SAFETY: plain values.
        unsafe { abi::process::kill(self.id) }
    }

    /// Sends the process an exit signal with `reason` (Erlang's `exit/2`):
    /// if it traps exits it receives an [`Exit`](crate::mailbox::Exit) from
    /// this process; otherwise it ends with [`ExitReason::Exit`] and this
    /// text. An empty reason is normal, which a process that does not trap
    /// exits ignores. Unlike [`Process::kill`], it can be trapped, so a
    /// supervisor can ask a child to shut down in order.
    ///
    /// ```no_run
    /// use vm_sdk::{spawn, Mailbox};
    /// let worker = spawn((), |(), mailbox: Mailbox<u32>| while mailbox.receive().is_ok() {});
    /// worker.exit("shutdown");
    /// ```
    pub fn exit(&self, reason: &str) {
        // SAFETY: the reason is valid for reads of its length.
        unsafe { abi::process::send_exit(self.id, reason.as_ptr(), reason.len()) }
    }
}

impl<M: Serialize> Process<M> {
    /// Sends a message. Sending to a process that has ended is not an error.
    ///
    /// # Panics
    /// If `message`'s `Serialize` implementation fails.
    pub fn send(&self, message: M) {
        self.send_tagged(message, 0)
    }

    /// Sends a message with a tag, for [`Mailbox::receive_tagged`].
    ///
    /// # Panics
    /// As [`Process::send`].
    pub fn send_tagged(&self, message: M, tag: u64) {
        crate::handle::with_encoded(&[], &message, |bytes, handles| {
            // SAFETY: the buffers are valid for the call. The handles were
            // collected from resources inside `message`, which this process
            // owns.
            crate::call(|ret| unsafe {
                abi::mailbox::send(
                    self.id,
                    tag,
                    bytes.as_ptr(),
                    bytes.len(),
                    handles.as_ptr(),
                    handles.len(),
                    ret,
                )
            })
        })
        .unwrap_or_else(|e| panic!("sending a message failed: {e}"));
        // Resources inside were marked as moved while encoding; dropping
        // them now releases nothing.
        drop(message);
    }
}

impl<M> Process<M> {
    /// Sends bytes as they are, bypassing the message type: for processes
    /// that speak another encoding. Pair with [`crate::mailbox::receive_bytes`].
    pub fn send_bytes(&self, bytes: &[u8], tag: u64) {
        // Sending without handles fails only for a dead VM.
        let _ = send_bytes(self.id, tag, bytes);
    }
}

/// Sends raw bytes (already encoded) to a process.
pub(crate) fn send_bytes(target: u64, tag: u64, bytes: &[u8]) -> Result<(), Error> {
    // SAFETY: the buffers are valid for the call; no handles are moved.
    crate::call(|ret| unsafe {
        abi::mailbox::send(
            target,
            tag,
            bytes.as_ptr(),
            bytes.len(),
            std::ptr::null(),
            0,
            ret,
        )
    })
}

/// A monitor on a process, from [`Process::monitor`]. It is this process's
/// and is used up by [`Monitor::demonitor`] (or by receiving its `down`
/// message, after which it does nothing): it cannot be copied or sent.
#[derive(Debug, PartialEq, Eq)]
pub struct Monitor {
    reference: u64,
    process: u64,
}

impl Monitor {
    pub(crate) fn new(reference: u64, process: u64) -> Monitor {
        Monitor { reference, process }
    }

    /// The reference its `down` message carries (the message's tag, and
    /// [`crate::mailbox::Down::monitor`]).
    pub fn reference(&self) -> u64 {
        self.reference
    }

    /// The monitored process's id (for a node's monitor, the id that names
    /// the node, [`crate::node::Node::id`]).
    pub fn process(&self) -> u64 {
        self.process
    }

    /// Stops monitoring. After it returns no `down` for this monitor
    /// arrives: one not yet received is removed.
    pub fn demonitor(self) {
        // SAFETY: plain values.
        unsafe { abi::process::demonitor(self.reference) }
    }

    /// Waits for the monitored process to end.
    ///
    /// # Errors
    /// [`crate::ReceiveError::Timeout`] if it does not end in time.
    pub fn wait(
        &self,
        timeout: Option<Duration>,
    ) -> Result<crate::mailbox::Down, crate::ReceiveError> {
        crate::mailbox::receive_down(self.reference, timeout)
    }
}

/// A compiled module loaded at run time, for spawning processes from another
/// module (any language).
#[derive(Debug)]
pub struct Module {
    handle: u32,
}

impl Module {
    /// Compiles WebAssembly bytes; the VM checks them against its ABI first.
    ///
    /// # Errors
    /// `module-invalid` or `module-incompatible`, with the VM's explanation.
    pub fn load(bytes: &[u8]) -> Result<Module, Error> {
        // SAFETY: the buffer is valid for the call.
        let handle = crate::call(|ret| unsafe {
            abi::process::load_module(bytes.as_ptr(), bytes.len(), ret)
        })?;
        Ok(Module { handle })
    }
}

impl Drop for Module {
    fn drop(&mut self) {
        // SAFETY: plain values. The handle is ours; failure cannot happen.
        let _ = crate::call(|ret| unsafe { abi::handle::drop(self.handle, ret) });
    }
}

/// This process's id.
pub fn self_id() -> u64 {
    // SAFETY: no arguments.
    unsafe { abi::process::self_id() }
}

/// Sets whether exit signals from links arrive as messages (see
/// [`Mailbox::receive_event`]) instead of ending this process. Returns the
/// previous setting.
pub fn trap_exits(enabled: bool) -> bool {
    // SAFETY: plain values.
    unsafe { abi::process::trap_exits(enabled) }
}

/// Ends this process with a reason; linked processes that do not trap exits
/// end too.
pub fn exit(reason: &str) -> ! {
    // SAFETY: the buffer is valid; the call does not return.
    unsafe { abi::process::exit(reason.as_ptr(), reason.len()) };
    unreachable!("process.exit returned")
}

/// Suspends this process (not the VM) for `duration`.
pub fn sleep(duration: Duration) {
    // SAFETY: plain values.
    unsafe { abi::process::sleep(u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)) }
}
