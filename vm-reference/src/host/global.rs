//! `vm:host/global` (1.8): names across a cluster, as Erlang's `global`
//! (see `vm_kernel::global`). Each call may ask the cluster's store over
//! NATS, so it waits without holding a worker.

use super::registry::register_error;
use super::{memory, spec, string, write_result, Ctx};
use crate::node::MAX_NAME_LEN;
use crate::process::ProcessState;
use vm_abi::ErrorCode;
use wasmtime::Linker;

pub(crate) fn add(linker: &mut Linker<ProcessState>) -> wasmtime::Result<()> {
    let register = spec("global", "register");
    linker.func_wrap_async(
        register.module,
        "register",
        move |mut caller: Ctx<'_>, (ptr, len, target, ret): (u32, u32, u64, u32)| {
            Box::new(async move {
                super::not_in_realloc(&caller)?;
                let (mem, state) = memory(&mut caller)?;
                let name = match name_arg(state, mem, ptr, len) {
                    Ok(n) => n,
                    Err(code) => return write_result(mem, register, ret, Err::<(), _>(code)),
                };
                let (node, payer) = (state.node.clone(), state.entry.budget().clone());
                let done = node.register_global(&name, target, &payer).await;
                let (mem, state) = memory(&mut caller)?;
                let result = done.map_err(|e| register_error(state, &name, target, e));
                write_result(mem, register, ret, result)
            })
        },
    )?;
    let lookup = spec("global", "lookup");
    linker.func_wrap_async(
        lookup.module,
        "lookup",
        move |mut caller: Ctx<'_>, (ptr, len, ret): (u32, u32, u32)| {
            Box::new(async move {
                super::not_in_realloc(&caller)?;
                let (mem, state) = memory(&mut caller)?;
                let name = match name_arg(state, mem, ptr, len) {
                    Ok(n) => n,
                    Err(code) => return write_result(mem, lookup, ret, Err::<u64, _>(code)),
                };
                let node = state.node.clone();
                let found = node.lookup_global(&name).await;
                let (mem, state) = memory(&mut caller)?;
                let result = match found {
                    Ok(Some(holder)) => Ok(holder),
                    Ok(None) => Err(state.fail(
                        ErrorCode::NotFound,
                        format!("no live process holds the global name `{name}`"),
                    )),
                    Err(why) => Err(unreachable(state, &name, &why)),
                };
                write_result(mem, lookup, ret, result)
            })
        },
    )?;
    let unregister = spec("global", "unregister");
    linker.func_wrap_async(
        unregister.module,
        "unregister",
        move |mut caller: Ctx<'_>, (ptr, len, ret): (u32, u32, u32)| {
            Box::new(async move {
                super::not_in_realloc(&caller)?;
                let (mem, state) = memory(&mut caller)?;
                let name = match name_arg(state, mem, ptr, len) {
                    Ok(n) => n,
                    Err(code) => return write_result(mem, unregister, ret, Err::<(), _>(code)),
                };
                let node = state.node.clone();
                let removed = node.unregister_global(&name).await;
                let (mem, state) = memory(&mut caller)?;
                let result = match removed {
                    Ok(true) => Ok(()),
                    Ok(false) => Err(state.fail(
                        ErrorCode::NotFound,
                        format!("no live process held the global name `{name}`"),
                    )),
                    Err(why) => Err(unreachable(state, &name, &why)),
                };
                write_result(mem, unregister, ret, result)
            })
        },
    )?;
    Ok(())
}

/// A name argument, refused before it is copied if it is longer than any
/// name can be.
fn name_arg(state: &mut ProcessState, mem: &[u8], ptr: u32, len: u32) -> Result<String, ErrorCode> {
    if len as usize > MAX_NAME_LEN {
        return Err(state.fail(
            ErrorCode::InvalidArgument,
            format!("a name is at most {MAX_NAME_LEN} bytes; this one has {len}"),
        ));
    }
    string(state, mem, ptr, len)
}

fn unreachable(state: &mut ProcessState, name: &str, why: &str) -> ErrorCode {
    state.fail(
        ErrorCode::Unreachable,
        format!("asking the cluster about the global name `{name}`: {why}"),
    )
}
