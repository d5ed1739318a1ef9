//! The host side of the ABI: one module per interface, each adding its
//! functions to the linker under the import module the manifest names.
//!
//! Every argument from a guest is hostile until checked: pointers and lengths
//! are bounds-checked against the caller's memory, handles against the
//! caller's table. A bad argument fails the call with an error code (and a
//! text for `version.last-error`); only a bad *return pointer*, through which
//! no error can be reported, traps the calling process. Nothing a guest passes
//! can reach another process or the VM.

mod global;
mod handle;
mod mailbox;
mod net;
mod node;
mod process;
mod registry;
mod timer;
mod version;

pub(crate) use crate::guest_memory::{bytes, bytes_mut};
use crate::process::ProcessState;
use vm_abi::{ErrorCode, FunctionSpec};
use wasmtime::{Caller, Linker};

pub(crate) type Ctx<'a> = Caller<'a, ProcessState>;

/// Adds every `vm:host` function to the linker.
pub(crate) fn add_to_linker(linker: &mut Linker<ProcessState>) -> wasmtime::Result<()> {
    process::add(linker)?;
    mailbox::add(linker)?;
    net::add(linker)?;
    registry::add(linker)?;
    timer::add(linker)?;
    handle::add(linker)?;
    version::add(linker)?;
    node::add(linker)?;
    global::add(linker)?;
    Ok(())
}

/// Fails a host call made from inside a `cabi_realloc` the VM runs for a
/// plugin call: the canonical ABI lets a realloc only allocate, so the
/// caller ends, the reason saying so. Every host function checks it first.
pub(crate) fn not_in_realloc(caller: &Ctx<'_>) -> wasmtime::Result<()> {
    if caller.data().allocating {
        return Err(crate::plugin::import_in_realloc());
    }
    Ok(())
}

/// Why there is no process `target`: it has ended, or (one of this node's
/// ids not given yet) it never existed, which is likelier a wrong number.
pub(crate) fn no_such_process(state: &ProcessState, target: u64) -> String {
    if state.node.has_existed(target) {
        format!("process {target} has ended")
    } else {
        format!(
            "there has never been a process {target} (ids are never reused: is the number right?)"
        )
    }
}

/// The manifest entry of a function this VM implements. Panics on a name
/// the ABI lacks: that is a VM bug, caught by the linker test.
pub(crate) fn spec(interface: &str, name: &str) -> &'static FunctionSpec {
    vm_abi::FUNCTIONS
        .iter()
        .find(|f| f.interface == interface && f.name == name)
        .unwrap_or_else(|| panic!("the ABI has no function {interface}.{name}"))
}

/// The guest's memory and the process state, borrowed together.
pub(crate) fn memory<'a>(
    caller: &'a mut Ctx<'_>,
) -> wasmtime::Result<(&'a mut [u8], &'a mut ProcessState)> {
    let known = caller.data().memory;
    match known {
        Some(mem) => Ok(mem.data_and_store_mut(caller)),
        // The memory is exported, but not known yet: the module is still
        // being instantiated, so the call comes from its start function.
        None if caller.get_export("memory").is_some() => wasmtime::bail!(
            "a host call from the module's start function, which runs while the module is instantiated, before the VM can reach its memory: move the call into a function the process runs (AssemblyScript runs top-level code in the start function: make the call from `_start` or a spawned function, and keep top-level code to declarations)"
        ),
        None => {
            wasmtime::bail!("the module exports no memory named `memory`, which host calls need")
        }
    }
}

/// A UTF-8 string argument.
pub(crate) fn string(
    state: &mut ProcessState,
    mem: &[u8],
    ptr: u32,
    len: u32,
) -> Result<String, ErrorCode> {
    text(state, mem, ptr, len).map(str::to_string)
}

/// A UTF-8 string argument, borrowed from guest memory.
pub(crate) fn text<'m>(
    state: &mut ProcessState,
    mem: &'m [u8],
    ptr: u32,
    len: u32,
) -> Result<&'m str, ErrorCode> {
    let b = bytes(mem, ptr, len).map_err(|c| {
        state.fail(
            c,
            format!("string at {ptr} with length {len} lies outside memory"),
        )
    })?;
    match std::str::from_utf8(b) {
        Ok(s) => Ok(s),
        Err(e) => Err(state.fail(
            ErrorCode::InvalidArgument,
            format!("string argument is not UTF-8: {e}"),
        )),
    }
}

/// Writes `text` to `dst`, as much as `len` bytes hold, and returns its
/// full length (so the guest can ask again with room for it all).
pub(crate) fn write_text(mem: &mut [u8], dst: u32, len: u32, text: &str) -> Result<u32, ErrorCode> {
    let n = text.len().min(len as usize);
    bytes_mut(mem, dst, n as u32)?.copy_from_slice(&text.as_bytes()[..n]);
    Ok(text.len() as u32)
}

/// A `list<u64>` argument (8-byte aligned).
pub(crate) fn list_u64(
    state: &mut ProcessState,
    mem: &[u8],
    ptr: u32,
    count: u32,
) -> Result<Vec<u64>, ErrorCode> {
    if count == 0 {
        return Ok(Vec::new());
    }
    list::<8>(state, mem, ptr, count).map(|v| v.into_iter().map(u64::from_le_bytes).collect())
}

/// A `list<u32>` argument (4-byte aligned).
pub(crate) fn list_u32(
    state: &mut ProcessState,
    mem: &[u8],
    ptr: u32,
    count: u32,
) -> Result<Vec<u32>, ErrorCode> {
    if count == 0 {
        return Ok(Vec::new());
    }
    list::<4>(state, mem, ptr, count).map(|v| v.into_iter().map(u32::from_le_bytes).collect())
}

fn list<const N: usize>(
    state: &mut ProcessState,
    mem: &[u8],
    ptr: u32,
    count: u32,
) -> Result<Vec<[u8; N]>, ErrorCode> {
    if !(ptr as usize).is_multiple_of(N) {
        return Err(state.fail(
            ErrorCode::OutOfBounds,
            format!("list at {ptr} is not {N}-byte aligned"),
        ));
    }
    let len = (count as u64) * N as u64;
    let b = u32::try_from(len)
        .map_err(|_| ErrorCode::OutOfBounds)
        .and_then(|len| bytes(mem, ptr, len))
        .map_err(|c| {
            state.fail(
                c,
                format!("list at {ptr} of {count} elements lies outside memory"),
            )
        })?;
    Ok(b.chunks_exact(N)
        .map(|c| c.try_into().expect("exact chunks"))
        .collect())
}

/// A value that can be the ok payload of a result.
pub(crate) trait Payload {
    /// Writes the value at the start of `out`.
    fn write(&self, out: &mut [u8]);
}

impl Payload for () {
    fn write(&self, _: &mut [u8]) {}
}

impl Payload for bool {
    fn write(&self, out: &mut [u8]) {
        out[0] = *self as u8;
    }
}

impl Payload for u32 {
    fn write(&self, out: &mut [u8]) {
        out[..4].copy_from_slice(&self.to_le_bytes());
    }
}

impl Payload for u64 {
    fn write(&self, out: &mut [u8]) {
        out[..8].copy_from_slice(&self.to_le_bytes());
    }
}

impl Payload for vm_abi::Halves {
    fn write(&self, out: &mut [u8]) {
        use std::mem::offset_of;
        use vm_abi::Halves as H;
        out[offset_of!(H, read)..][..4].copy_from_slice(&self.read.to_le_bytes());
        out[offset_of!(H, write)..][..4].copy_from_slice(&self.write.to_le_bytes());
    }
}

impl Payload for vm_abi::Envelope {
    fn write(&self, out: &mut [u8]) {
        use std::mem::offset_of;
        use vm_abi::Envelope as E;
        out[offset_of!(E, kind)] = self.kind;
        out[offset_of!(E, tag)..][..8].copy_from_slice(&self.tag.to_le_bytes());
        out[offset_of!(E, sender)..][..8].copy_from_slice(&self.sender.to_le_bytes());
        out[offset_of!(E, size)..][..4].copy_from_slice(&self.size.to_le_bytes());
        out[offset_of!(E, handles)..][..4].copy_from_slice(&self.handles.to_le_bytes());
    }
}

/// Writes `result<T, error-code>` through the return pointer, in the
/// canonical layout. A return pointer outside memory (or misaligned) traps
/// the caller: there is nowhere to report the error.
pub(crate) fn write_result<T: Payload>(
    mem: &mut [u8],
    spec: &FunctionSpec,
    ret: u32,
    result: Result<T, ErrorCode>,
) -> wasmtime::Result<()> {
    let align = spec.result_payload_offset.max(1);
    if !ret.is_multiple_of(align) {
        wasmtime::bail!(
            "{}.{}: return pointer {ret} is not {align}-byte aligned",
            spec.module,
            spec.name
        );
    }
    let Ok(out) = bytes_mut(mem, ret, spec.result_size) else {
        wasmtime::bail!(
            "{}.{}: return pointer {ret} lies outside memory",
            spec.module,
            spec.name
        );
    };
    out.fill(0);
    let payload = spec.result_payload_offset as usize;
    match result {
        Ok(v) => {
            out[0] = 0;
            v.write(&mut out[payload..]);
        }
        Err(code) => {
            out[0] = 1;
            out[payload] = code as u8;
        }
    }
    Ok(())
}
