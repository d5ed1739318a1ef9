//! `vm:host/registry`: process names.

use super::{memory, spec, string, write_result, Ctx};
use crate::node::{RegisterError, MAX_NAME_LEN};
use crate::process::ProcessState;
use vm_abi::ErrorCode;
use wasmtime::Linker;

pub(crate) fn add(linker: &mut Linker<ProcessState>) -> wasmtime::Result<()> {
    let register = spec("registry", "register");
    linker.func_wrap(
        register.module,
        "register",
        move |mut caller: Ctx<'_>,
              ptr: u32,
              len: u32,
              target: u64,
              ret: u32|
              -> wasmtime::Result<()> {
            super::not_in_realloc(&caller)?;
            let (mem, state) = memory(&mut caller)?;
            let result = string(state, mem, ptr, len).and_then(|name| {
                let payer = state.entry.budget().clone();
                state
                    .node
                    .register(&name, target, &payer)
                    .map_err(|e| register_error(state, &name, target, e))
            });
            write_result(mem, register, ret, result)
        },
    )?;
    let lookup = spec("registry", "lookup");
    linker.func_wrap(
        lookup.module,
        "lookup",
        move |mut caller: Ctx<'_>, ptr: u32, len: u32, ret: u32| -> wasmtime::Result<()> {
            super::not_in_realloc(&caller)?;
            let (mem, state) = memory(&mut caller)?;
            let result = string(state, mem, ptr, len).and_then(|name| {
                state.node.lookup(&name).ok_or_else(|| {
                    state.fail(
                        ErrorCode::NotFound,
                        format!("no process is registered as `{name}`"),
                    )
                })
            });
            write_result(mem, lookup, ret, result)
        },
    )?;
    let unregister = spec("registry", "unregister");
    linker.func_wrap(
        unregister.module,
        "unregister",
        move |mut caller: Ctx<'_>, ptr: u32, len: u32, ret: u32| -> wasmtime::Result<()> {
            super::not_in_realloc(&caller)?;
            let (mem, state) = memory(&mut caller)?;
            let result = string(state, mem, ptr, len).and_then(|name| {
                if state.node.unregister(&name) {
                    Ok(())
                } else {
                    Err(state.fail(
                        ErrorCode::NotFound,
                        format!("no process is registered as `{name}`"),
                    ))
                }
            });
            write_result(mem, unregister, ret, result)
        },
    )?;
    Ok(())
}

/// The code and text of a failed `registry.register` or `global.register`.
pub(crate) fn register_error(
    state: &mut ProcessState,
    name: &str,
    target: u64,
    e: RegisterError,
) -> ErrorCode {
    let (code, text) = match e {
        RegisterError::Taken => (
            ErrorCode::AlreadyRegistered,
            format!("`{name}` is already registered to a live process"),
        ),
        RegisterError::TooLong => (
            ErrorCode::InvalidArgument,
            format!(
                "a name is at most {MAX_NAME_LEN} bytes; this one has {}",
                name.len()
            ),
        ),
        RegisterError::Refused(r) => (
            ErrorCode::LimitReached,
            r.explain(&format!("registering `{name}`")),
        ),
        RegisterError::NotFound => (ErrorCode::NotFound, super::no_such_process(state, target)),
        RegisterError::NotLocal => (
            ErrorCode::InvalidArgument,
            format!(
                "process {target} is of node {}: a global name is registered on the holder's own node",
                target >> 48
            ),
        ),
        RegisterError::Unreachable(why) => (
            ErrorCode::Unreachable,
            format!("registering `{name}` across the cluster: {why}"),
        ),
    };
    state.fail(code, text)
}
