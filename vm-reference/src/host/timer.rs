//! `vm:host/timer`: messages sent later.

use super::{bytes, list_u32, mailbox::message_from_guest, memory, spec, write_result, Ctx};
use crate::mailbox::{Message, Refused};
use crate::process::ProcessState;
use std::time::Duration;
use wasmtime::Linker;

pub(crate) fn add(linker: &mut Linker<ProcessState>) -> wasmtime::Result<()> {
    let m = spec("timer", "send-after").module;
    linker.func_wrap(
        m,
        "send-after",
        |mut caller: Ctx<'_>,
         target: u64,
         tag: u64,
         ptr: u32,
         len: u32,
         nanos: u64|
         -> wasmtime::Result<u64> {
            super::not_in_realloc(&caller)?;
            let (mem, state) = memory(&mut caller)?;
            let Ok(data) = bytes(mem, ptr, len) else {
                // No error channel in this signature: a bad buffer traps the caller.
                wasmtime::bail!(
                    "timer.send-after: data at {ptr} of {len} bytes lies outside memory"
                );
            };
            let message = Message::data(state.id, tag, data.into(), Vec::new());
            // No error channel in this signature: past the limit, the
            // setter ends.
            state
                .node
                .kernel
                .send_after(&state.entry, target, message, Duration::from_nanos(nanos))
                .map_err(|refused| {
                    wasmtime::format_err!(
                        "timer.send-after: limit-reached: {}",
                        refused.refusal.explain(&format!(
                            "setting a timer of {} bytes",
                            refused.message.data.len()
                        ))
                    )
                })
        },
    )?;
    let with_handles = spec("timer", "send-after-with-handles");
    linker.func_wrap(
        m,
        "send-after-with-handles",
        move |mut caller: Ctx<'_>,
              target: u64,
              tag: u64,
              ptr: u32,
              len: u32,
              hptr: u32,
              hlen: u32,
              nanos: u64,
              ret: u32|
              -> wasmtime::Result<()> {
            super::not_in_realloc(&caller)?;
            let (mem, state) = memory(&mut caller)?;
            let handles = list_u32(state, mem, hptr, hlen);
            let to_another_node = hlen > 0 && state.node.is_remote(target);
            let result = if to_another_node {
                Err(state.fail(
                    vm_abi::ErrorCode::InvalidArgument,
                    format!("process {target:#x} is on another node, and handles (sockets, modules) cannot leave theirs: no timer was set, nothing moved"),
                ))
            } else {
                message_from_guest(state, mem, tag, (ptr, len), (hptr, hlen))
            };
            let result = result.and_then(|m| {
                    let delay = Duration::from_nanos(nanos);
                    let (node, setter) = (state.node.clone(), state.entry.clone());
                    node.kernel
                        .send_after(&setter, target, m, delay)
                        .map_err(|refused| {
                            let Refused {
                                message: mut m,
                                refusal: r,
                            } = *refused;
                            // Nothing is lost: the handles go back where they were.
                            let handles = handles.unwrap_or_default();
                            for (h, res) in handles.iter().zip(m.resources.drain(..)) {
                                state.handles.restore(*h, res);
                            }
                            let text =
                                r.explain(&format!("setting a timer of {} bytes", m.data.len()));
                            state.fail(vm_abi::ErrorCode::LimitReached, text)
                        })
                });
            write_result(mem, with_handles, ret, result)
        },
    )?;
    linker.func_wrap(
        m,
        "cancel",
        |caller: Ctx<'_>, timer: u64| -> wasmtime::Result<u32> {
            super::not_in_realloc(&caller)?;
            Ok(caller.data().node.cancel_timer(timer) as u32)
        },
    )?;
    Ok(())
}
