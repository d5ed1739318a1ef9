//! `vm:host/handle`: releasing handles.

use super::{memory, spec, write_result, Ctx};
use crate::process::ProcessState;
use vm_abi::ErrorCode;
use wasmtime::Linker;

pub(crate) fn add(linker: &mut Linker<ProcessState>) -> wasmtime::Result<()> {
    let drop_spec = spec("handle", "drop");
    linker.func_wrap(
        drop_spec.module,
        "drop",
        move |mut caller: Ctx<'_>, h: u32, ret: u32| -> wasmtime::Result<()> {
            super::not_in_realloc(&caller)?;
            let (mem, state) = memory(&mut caller)?;
            let result = match state.handles.remove(h) {
                Some(_) => Ok(()),
                None => Err(state.fail(
                    ErrorCode::InvalidHandle,
                    format!("handle {h} is not owned by this process"),
                )),
            };
            write_result(mem, drop_spec, ret, result)
        },
    )?;
    Ok(())
}
