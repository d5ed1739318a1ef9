//! `vm:host/process`: spawning, links, monitors, kill, exit and sleep.

use super::{bytes, list_u32, memory, spec, text, write_result, Ctx};
use crate::handle::Resource;
use crate::mailbox::Message;
use crate::node::SpawnRequest;
use crate::node::{LinkError, LINK_COST};
use crate::process::{ExitRequest, HibernateRequest, Hibernation, ProcessState, Start};
use crate::signal::{ExitReason, MAX_REASON};
use crate::LoadError;
use std::time::Duration;
use vm_abi::{spawn_options, ErrorCode, MessageKind};
use wasmtime::Linker;

pub(crate) fn add(linker: &mut Linker<ProcessState>) -> wasmtime::Result<()> {
    let m = spec("process", "self-id").module;
    linker.func_wrap(m, "self-id", |caller: Ctx<'_>| -> wasmtime::Result<u64> {
        super::not_in_realloc(&caller)?;
        Ok(caller.data().id)
    })?;

    let spawn = spec("process", "spawn");
    linker.func_wrap(
        m,
        "spawn",
        move |mut caller: Ctx<'_>,
              module: u32,
              entry_ptr: u32,
              entry_len: u32,
              arg: u32,
              cap_ptr: u32,
              cap_len: u32,
              hptr: u32,
              hlen: u32,
              options: u32,
              ret: u32|
              -> wasmtime::Result<()> {
            super::not_in_realloc(&caller)?;
            let (mem, state) = memory(&mut caller)?;
            let result = spawn_process(
                state,
                mem,
                module,
                (entry_ptr, entry_len),
                arg,
                (cap_ptr, cap_len),
                (hptr, hlen),
                options,
            );
            write_result(mem, spawn, ret, result)
        },
    )?;

    let load = spec("process", "load-module");
    linker.func_wrap_async(
        m,
        "load-module",
        move |mut caller: Ctx<'_>, (ptr, len, ret): (u32, u32, u32)| {
            Box::new(async move {
                super::not_in_realloc(&caller)?;
                let (mem, state) = memory(&mut caller)?;
                let bytes = match bytes(mem, ptr, len) {
                    Ok(b) => b.to_vec(),
                    Err(code) => {
                        let code = state.fail(
                            code,
                            format!("module bytes at {ptr} of {len} bytes lie outside memory"),
                        );
                        return write_result(mem, load, ret, Err::<u32, _>(code));
                    }
                };
                let node = state.node.clone();
                let payer = state.entry.budget().clone();
                let name = format!("module loaded by process {}", state.id);
                let loaded = node.load_module(&payer, name, bytes.into()).await;
                let (mem, state) = memory(&mut caller)?;
                let result =
                    match loaded {
                        Ok(module) => state.handles.insert(Resource::Module(module)).map_err(
                            |(_, refusal)| {
                                let text = refusal.explain("keeping the loaded module's handle");
                                state.fail(ErrorCode::LimitReached, text)
                            },
                        ),
                        Err(e @ LoadError::Incompatible { .. }) => {
                            Err(state.fail(ErrorCode::ModuleIncompatible, e.to_string()))
                        }
                        Err(e @ LoadError::Refused(_)) => {
                            Err(state.fail(ErrorCode::LimitReached, e.to_string()))
                        }
                        Err(e) => Err(state.fail(ErrorCode::ModuleInvalid, e.to_string())),
                    };
                write_result(mem, load, ret, result)
            })
        },
    )?;

    let link = spec("process", "link");
    linker.func_wrap(
        m,
        "link",
        move |mut caller: Ctx<'_>, target: u64, ret: u32| -> wasmtime::Result<()> {
            super::not_in_realloc(&caller)?;
            let (mem, state) = memory(&mut caller)?;
            // A process trapping exits hears of an ended target as an exit.
            let result = match state.process.link(target) {
                Ok(()) => Ok(()),
                Err(LinkError::Refused(r)) => Err(state.fail(
                    ErrorCode::LimitReached,
                    r.explain(&format!("linking to process {target}")),
                )),
                Err(LinkError::NoProc) => {
                    let text = super::no_such_process(state, target);
                    Err(state.fail(ErrorCode::NotFound, text))
                }
            };
            write_result(mem, link, ret, result)
        },
    )?;
    linker.func_wrap(
        m,
        "unlink",
        |mut caller: Ctx<'_>, target: u64| -> wasmtime::Result<()> {
            super::not_in_realloc(&caller)?;
            // After unlink, nothing from the link arrives, even an exit
            // already turned into a message.
            caller.data_mut().process.unlink(target);
            Ok(())
        },
    )?;
    linker.func_wrap(
        m,
        "monitor",
        |mut caller: Ctx<'_>, target: u64| -> wasmtime::Result<u64> {
            super::not_in_realloc(&caller)?;
            // Charged to this process until its down is received or it is
            // removed. No error channel in this signature: past the limit,
            // the caller ends.
            match caller.data_mut().process.monitor(target) {
                Ok(reference) => Ok(reference),
                Err(r) => wasmtime::bail!(
                    "process.monitor: limit-reached: {}",
                    r.explain(&format!("monitoring process {target}"))
                ),
            }
        },
    )?;
    linker.func_wrap(
        m,
        "demonitor",
        |mut caller: Ctx<'_>, reference: u64| -> wasmtime::Result<()> {
            super::not_in_realloc(&caller)?;
            caller.data_mut().process.demonitor(reference);
            Ok(())
        },
    )?;
    linker.func_wrap(
        m,
        "kill",
        |caller: Ctx<'_>, target: u64| -> wasmtime::Result<()> {
            super::not_in_realloc(&caller)?;
            caller.data().node.kill(caller.data().process.id(), target);
            Ok(())
        },
    )?;
    linker.func_wrap(
        m,
        "send-exit",
        |mut caller: Ctx<'_>, target: u64, ptr: u32, len: u32| -> wasmtime::Result<()> {
            super::not_in_realloc(&caller)?;
            let (mem, state) = memory(&mut caller)?;
            let reason = match bytes(mem, ptr, len) {
                Ok([]) => ExitReason::Normal,
                // The signal is not counted against any mailbox until it
                // becomes a message: its reason is kept short.
                Ok(text) => ExitReason::Exit(
                    // As `exit` cuts it: `capped` then ends it with "… (truncated)".
                    String::from_utf8_lossy(&text[..text.len().min(MAX_REASON + 4)]).into_owned(),
                )
                .capped(),
                // No error channel in this signature: a bad buffer traps the caller.
                Err(_) => wasmtime::bail!(
                    "process.send-exit: reason at {ptr} of {len} bytes lies outside memory"
                ),
            };
            state.node.send_exit(state.id, target, reason);
            Ok(())
        },
    )?;
    linker.func_wrap(
        m,
        "trap-exits",
        |caller: Ctx<'_>, enabled: u32| -> wasmtime::Result<u32> {
            super::not_in_realloc(&caller)?;
            Ok(caller.data().entry.set_trap_exits(enabled != 0) as u32)
        },
    )?;
    linker.func_wrap(
        m,
        "exit",
        |mut caller: Ctx<'_>, ptr: u32, len: u32| -> wasmtime::Result<()> {
            super::not_in_realloc(&caller)?;
            let (mem, _) = memory(&mut caller)?;
            let reason = match bytes(mem, ptr, len) {
                Ok([]) => ExitReason::Normal,
                // Cut as it leaves the process; only what is kept is copied.
                Ok(text) => ExitReason::Exit(
                    String::from_utf8_lossy(&text[..text.len().min(MAX_REASON + 4)]).into_owned(),
                )
                .capped(),
                Err(_) => ExitReason::Trap(format!(
                    "process.exit: reason at {ptr} of {len} bytes lies outside memory"
                )),
            };
            Err(wasmtime::Error::new(ExitRequest(reason)))
        },
    )?;
    linker.func_wrap(
        m,
        "panic",
        |mut caller: Ctx<'_>, ptr: u32, len: u32| -> wasmtime::Result<()> {
            super::not_in_realloc(&caller)?;
            let (mem, _) = memory(&mut caller)?;
            let reason = match bytes(mem, ptr, len) {
                // Cut as it leaves the process; only what is kept is copied.
                Ok(text) => ExitReason::Trap(
                    String::from_utf8_lossy(&text[..text.len().min(MAX_REASON + 4)]).into_owned(),
                )
                .capped(),
                Err(_) => ExitReason::Trap(format!(
                    "process.panic: message at {ptr} of {len} bytes lies outside memory"
                )),
            };
            Err(wasmtime::Error::new(ExitRequest(reason)))
        },
    )?;
    linker.func_wrap(
        m,
        "hibernate",
        |mut caller: Ctx<'_>,
         eptr: u32,
         elen: u32,
         arg: u32,
         sptr: u32,
         slen: u32,
         hptr: u32,
         hlen: u32|
         -> wasmtime::Result<()> {
            super::not_in_realloc(&caller)?;
            let (mem, state) = memory(&mut caller)?;
            let Ok(name) = text(state, mem, eptr, elen) else {
                wasmtime::bail!("process.hibernate: {}", state.last_error);
            };
            let Some((export, takes_arg)) = state.module.entry(name) else {
                wasmtime::bail!(
                    "process.hibernate: the module has no export `{name}` of type () -> () or (i32) -> () to wake at"
                );
            };
            let Ok(data) = bytes(mem, sptr, slen) else {
                wasmtime::bail!(
                    "process.hibernate: the state at {sptr} of {slen} bytes lies outside memory"
                );
            };
            let data = crate::mailbox::Payload::from_slice(data);
            let Ok(handles) = list_u32(state, mem, hptr, hlen) else {
                wasmtime::bail!("process.hibernate: {}", state.last_error);
            };
            let resources = match state.handles.take_all(&handles) {
                Ok(r) => r,
                Err(h) => wasmtime::bail!(
                    "process.hibernate: handle {h} is not owned by this process (or is listed twice)"
                ),
            };
            // Its state and handles are charged to it while it sleeps; no
            // error channel in this signature, so past the limit it ends.
            let mut init = Message::new(MessageKind::Init, state.id, 0, data, resources);
            init.charge = match state.entry.budget().charge(init.cost()) {
                Ok(c) => c,
                Err(r) => wasmtime::bail!(
                    "process.hibernate: limit-reached: {}",
                    r.explain(&format!(
                        "hibernating with a state of {} bytes",
                        init.data.len()
                    ))
                ),
            };
            state.hibernation = Some(Box::new(Hibernation {
                start: Start::Export {
                    export,
                    takes_arg,
                    arg,
                },
                init,
            }));
            Err(wasmtime::Error::new(HibernateRequest))
        },
    )?;
    linker.func_wrap_async(m, "sleep", |caller: Ctx<'_>, (nanos,): (u64,)| {
        Box::new(async move {
            super::not_in_realloc(&caller)?;
            // Kills and exit signals still arrive: the process task watches
            // its control channel while this future is pending.
            tokio::time::sleep(Duration::from_nanos(nanos)).await;
            Ok(())
        })
    })?;
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn spawn_process(
    state: &mut ProcessState,
    mem: &[u8],
    module: u32,
    (entry_ptr, entry_len): (u32, u32),
    arg: u32,
    (cap_ptr, cap_len): (u32, u32),
    (hptr, hlen): (u32, u32),
    options: u32,
) -> Result<u64, ErrorCode> {
    let entry = text(state, mem, entry_ptr, entry_len)?;
    let capture = bytes(mem, cap_ptr, cap_len)
        .map_err(|c| {
            state.fail(
                c,
                format!("capture at {cap_ptr} of {cap_len} bytes lies outside memory"),
            )
        })
        // Copied once, straight into the init message (inline when small).
        .map(crate::mailbox::Payload::from_slice)?;
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
    // Resolved here, from the entry points the module listed when it was
    // loaded, so the new process starts without looking its entry up again.
    let Some((export, takes_arg)) = module.entry(entry) else {
        return Err(state.fail(
            ErrorCode::InvalidArgument,
            format!(
                "module `{}` has no export `{entry}` of type () -> () or (i32) -> ()",
                module.name()
            ),
        ));
    };
    let node = state.node.clone();
    let handles = super::list_u32(state, mem, hptr, hlen)?;
    // Checked and counted in one step, so spawns racing at the limit get
    // `limit-reached` rather than a failure to instantiate.
    if !node.reserve() {
        return Err(state.fail(
            ErrorCode::LimitReached,
            format!(
                "{} processes are alive, the VM's limit (raise it with --max-processes)",
                node.config.max_processes
            ),
        ));
    }
    if let Some(h) = state.handles.still_active(&handles) {
        node.unreserve();
        return Err(state.fail(
            ErrorCode::InvalidArgument,
            format!("handle {h} is an active read half, which cannot move: make it passive first (net.set-active with count 0)"),
        ));
    }
    // Last, so that a refused spawn moves nothing.
    let resources = state.handles.take_all(&handles).map_err(|h| {
        node.unreserve();
        state.fail(
            ErrorCode::InvalidHandle,
            format!("handle {h} is not owned by this process (or is listed twice)"),
        )
    })?;
    // The capture (and its handles) is the spawner's to pay for until the
    // child takes it, and so is a link it asks for, while it lasts.
    let mut init = Message::new(MessageKind::Init, state.id, 0, capture, resources);
    let budget = state.entry.budget().clone();
    let link = options & spawn_options::LINK as u32 != 0;
    let charged = budget.charge(init.cost()).and_then(|capture| {
        let link = if link {
            Some((state.id, budget.charge(LINK_COST)?))
        } else {
            None
        };
        Ok((capture, link))
    });
    let link = match charged {
        Ok((capture, link)) => {
            init.charge = capture;
            link
        }
        Err(r) => {
            node.unreserve();
            // Nothing moved: the handles go back where they were.
            for (h, res) in handles.iter().zip(init.resources.drain(..)) {
                state.handles.restore(*h, res);
            }
            let text = r.explain(&format!(
                "spawning with a capture of {} bytes",
                init.data.len()
            ));
            return Err(state.fail(ErrorCode::LimitReached, text));
        }
    };
    Ok(node.spawn(SpawnRequest {
        module,
        start: Start::Export {
            export,
            takes_arg,
            arg,
        },
        capture: Some(init),
        link,
        args: Vec::new(),
        done: None,
    }))
}
