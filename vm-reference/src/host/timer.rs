//! `vm:host/timer`: messages sent later.

use super::{bytes, mailbox::message_from_guest, memory, spec, write_result, Ctx};
use crate::mailbox::Message;
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
            let (mem, state) = memory(&mut caller)?;
            let Ok(data) = bytes(mem, ptr, len) else {
                // No error channel in this signature: a bad buffer traps the caller.
                wasmtime::bail!(
                    "timer.send-after: data at {ptr} of {len} bytes lies outside memory"
                );
            };
            let message = Message::data(state.id, tag, data.into(), Vec::new());
            Ok(state
                .node
                .send_after(target, message, Duration::from_nanos(nanos)))
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
            let (mem, state) = memory(&mut caller)?;
            let result = message_from_guest(state, mem, tag, (ptr, len), (hptr, hlen)).map(|m| {
                state
                    .node
                    .send_after(target, m, Duration::from_nanos(nanos))
            });
            write_result(mem, with_handles, ret, result)
        },
    )?;
    linker.func_wrap(m, "cancel", |caller: Ctx<'_>, timer: u64| -> u32 {
        caller.data().node.cancel_timer(timer) as u32
    })?;
    Ok(())
}
