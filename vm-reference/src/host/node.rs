//! `vm:host/node` (1.8): which node this is, which others are up, and
//! monitors on nodes. Outside a cluster the VM is node 0, named `local`,
//! alone.

use super::{bytes_mut, memory, spec, write_result, write_text, Ctx};
use crate::handle::Resource;
use crate::module::Module;
use crate::process::ProcessState;
use std::sync::Arc;
use vm_abi::{spawn_options, ErrorCode};
use vm_kernel::remote::{RemoteSpawn, SpawnRefused};
use wasmtime::Linker;

/// What a node outside a cluster is called.
const LOCAL_NAME: &str = "local";

pub(crate) fn add(linker: &mut Linker<ProcessState>) -> wasmtime::Result<()> {
    let m = spec("node", "self-node").module;
    linker.func_wrap(m, "self-node", |caller: Ctx<'_>| -> wasmtime::Result<u32> {
        super::not_in_realloc(&caller)?;
        Ok(u32::from(caller.data().node.node()))
    })?;
    let up = spec("node", "up");
    linker.func_wrap(
        m,
        "up",
        move |mut caller: Ctx<'_>, dst: u32, count: u32, ret: u32| -> wasmtime::Result<()> {
            super::not_in_realloc(&caller)?;
            let (mem, state) = memory(&mut caller)?;
            let mut slots = vec![state.node.node()];
            slots.extend(state.node.nodes().into_iter().map(|(slot, _)| slot));
            let result = write_slots(mem, dst, count, &slots).map_err(|code| {
                state.fail(
                    code,
                    format!("the node list at {dst} for {count} slots lies outside memory or is not 4-byte aligned"),
                )
            });
            write_result(mem, up, ret, result)
        },
    )?;
    let name = spec("node", "name");
    linker.func_wrap(
        m,
        "name",
        move |mut caller: Ctx<'_>,
              node: u32,
              dst: u32,
              len: u32,
              ret: u32|
              -> wasmtime::Result<()> {
            super::not_in_realloc(&caller)?;
            let (mem, state) = memory(&mut caller)?;
            let found = if node == u32::from(state.node.node()) {
                Some(state.node.name().unwrap_or(LOCAL_NAME).to_string())
            } else {
                state
                    .node
                    .nodes()
                    .into_iter()
                    .find(|(slot, _)| u32::from(*slot) == node)
                    .map(|(_, name)| name)
            };
            let result = match found {
                Some(text) => write_text(mem, dst, len, &text).map_err(|code| {
                    state.fail(
                        code,
                        format!("the name buffer at {dst} with length {len} lies outside memory"),
                    )
                }),
                None => Err(state.fail(ErrorCode::NotFound, format!("node {node} is not up"))),
            };
            write_result(mem, name, ret, result)
        },
    )?;
    let spawn_on = spec("node", "spawn-on");
    linker.func_wrap_async(
        m,
        "spawn-on",
        move |mut caller: Ctx<'_>,
              (node, module, entry_ptr, entry_len, arg, cap_ptr, cap_len, options, ret): (
            u32,
            u32,
            u32,
            u32,
            u32,
            u32,
            u32,
            u32,
            u32,
        )| {
            Box::new(async move {
                super::not_in_realloc(&caller)?;
                let (mem, state) = memory(&mut caller)?;
                let asked = spawn_request(
                    state,
                    mem,
                    module,
                    (entry_ptr, entry_len),
                    arg,
                    (cap_ptr, cap_len),
                    options,
                );
                let (module, request) = match asked {
                    Ok(r) => r,
                    Err(code) => return write_result(mem, spawn_on, ret, Err::<u64, _>(code)),
                };
                let here = state.node.clone();
                let started = match u16::try_from(node) {
                    Ok(slot) if slot == here.node() => {
                        let payer = state.entry.budget().clone();
                        crate::remote_spawn::start(&here, &payer, module, &request)
                    }
                    // Before the module is stored for it: a node not up
                    // (not heard yet, or declared down) is refused at once.
                    Ok(slot) if !here.is_up(slot) => Err(SpawnRefused {
                        code: ErrorCode::NotFound,
                        text: format!("node {node} is not up"),
                    }),
                    Ok(slot) => here.spawn_on(slot, request).await,
                    Err(_) => Err(SpawnRefused {
                        code: ErrorCode::NotFound,
                        text: format!("node {node} is not up"),
                    }),
                };
                let (mem, state) = memory(&mut caller)?;
                let result = started.map_err(|r| {
                    state.fail(r.code, format!("spawning on node {node}: {}", r.text))
                });
                write_result(mem, spawn_on, ret, result)
            })
        },
    )?;
    linker.func_wrap(
        m,
        "monitor-node",
        |mut caller: Ctx<'_>, node: u32| -> wasmtime::Result<u64> {
            super::not_in_realloc(&caller)?;
            // A slot past 16 bits names no node: it is not up, so the down
            // comes at once (as for any node that is not up), from the
            // node id the slot's low bits make.
            let slot = u16::try_from(node).unwrap_or(u16::MAX);
            match caller.data_mut().process.monitor_node(slot) {
                Ok(reference) => Ok(reference),
                Err(r) => wasmtime::bail!(
                    "node.monitor-node: limit-reached: {}",
                    r.explain(&format!("monitoring node {node}"))
                ),
            }
        },
    )?;
    linker.func_wrap(
        m,
        "demonitor-node",
        |mut caller: Ctx<'_>, reference: u64| -> wasmtime::Result<()> {
            super::not_in_realloc(&caller)?;
            caller.data_mut().process.demonitor(reference);
            Ok(())
        },
    )?;
    Ok(())
}

/// The module and the request a `spawn-on` names, checked here first (an
/// entry the module lacks is refused before anything crosses).
fn spawn_request(
    state: &mut ProcessState,
    mem: &[u8],
    module: u32,
    (entry_ptr, entry_len): (u32, u32),
    arg: u32,
    (cap_ptr, cap_len): (u32, u32),
    options: u32,
) -> Result<(Module, RemoteSpawn), ErrorCode> {
    let entry = super::string(state, mem, entry_ptr, entry_len)?;
    let capture = super::bytes(mem, cap_ptr, cap_len)
        .map_err(|c| {
            state.fail(
                c,
                format!("capture at {cap_ptr} of {cap_len} bytes lies outside memory"),
            )
        })?
        .to_vec();
    if options & !(spawn_options::LINK as u32) != 0 {
        return Err(state.fail(
            ErrorCode::InvalidArgument,
            format!("unknown spawn options {options:#x}"),
        ));
    }
    let module = if module == 0 {
        state.module.clone()
    } else {
        match state.handles.get(module) {
            Some(Resource::Module(m)) => m.clone(),
            _ => {
                return Err(state.fail(
                    ErrorCode::InvalidHandle,
                    format!("handle {module} is not a module owned by this process"),
                ))
            }
        }
    };
    if module.entry(&entry).is_none() {
        return Err(state.fail(
            ErrorCode::InvalidArgument,
            format!(
                "module `{}` has no export `{entry}` of type () -> () or (i32) -> ()",
                module.name()
            ),
        ));
    }
    // Kept by a node of a cluster; outside one no other node is up, and
    // this node's own slot spawns from the module itself.
    let (module_bytes, digest, plugins) = match module.source() {
        Some(s) => (s.bytes.clone(), s.digest, s.plugins.clone()),
        None => (Arc::from(&[][..]), [0; 32], Vec::new()),
    };
    let request = RemoteSpawn {
        module: module_bytes,
        digest,
        entry,
        arg,
        capture,
        spawner: state.id,
        link: options & spawn_options::LINK as u32 != 0,
        plugins,
    };
    Ok((module, request))
}

/// Writes as many of `slots` as `count` holds to `dst`, as `u32`s; how many
/// there are.
fn write_slots(mem: &mut [u8], dst: u32, count: u32, slots: &[u16]) -> Result<u32, ErrorCode> {
    if count != 0 && !dst.is_multiple_of(4) {
        return Err(ErrorCode::OutOfBounds);
    }
    let n = slots.len().min(count as usize);
    let out = bytes_mut(mem, dst, (n * 4) as u32)?;
    for (chunk, slot) in out.chunks_exact_mut(4).zip(slots) {
        chunk.copy_from_slice(&u32::from(*slot).to_le_bytes());
    }
    Ok(slots.len() as u32)
}
