//! `vm:host/node` (1.8): which node this is, which others are up, and
//! monitors on nodes. Outside a cluster the VM is node 0, named `local`,
//! alone.

use super::{bytes_mut, memory, spec, write_result, write_text, Ctx};
use crate::process::ProcessState;
use vm_abi::ErrorCode;
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

/// Writes as many of `slots` as `count` holds to `dst`, as `u32`s; how many
/// there are.
fn write_slots(mem: &mut [u8], dst: u32, count: u32, slots: &[u16]) -> Result<u32, ErrorCode> {
    if !dst.is_multiple_of(4) {
        return Err(ErrorCode::OutOfBounds);
    }
    let n = slots.len().min(count as usize);
    let out = bytes_mut(mem, dst, (n * 4) as u32)?;
    for (chunk, slot) in out.chunks_exact_mut(4).zip(slots) {
        chunk.copy_from_slice(&u32::from(*slot).to_le_bytes());
    }
    Ok(slots.len() as u32)
}
