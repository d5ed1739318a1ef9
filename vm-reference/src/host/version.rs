//! `vm:host/version`: the ABI version served, and the last error's text.

use super::{bytes_mut, memory, spec, Ctx};
use crate::process::ProcessState;
use vm_abi::ABI_VERSION;
use wasmtime::Linker;

pub(crate) fn add(linker: &mut Linker<ProcessState>) -> wasmtime::Result<()> {
    let m = spec("version", "abi-version").module;
    linker.func_wrap(m, "abi-version", |mut caller: Ctx<'_>, ret: u32| -> wasmtime::Result<()> {
            super::not_in_realloc(&caller)?;
        let (mem, _) = memory(&mut caller)?;
        let Ok(out) = bytes_mut(mem, ret, 12).and_then(|o| if ret.is_multiple_of(4) { Ok(o) } else { Err(vm_abi::ErrorCode::OutOfBounds) }) else {
            wasmtime::bail!("version.abi-version: return pointer {ret} is not a 4-byte aligned address in memory");
        };
        let (major, minor, patch) = ABI_VERSION;
        out[0..4].copy_from_slice(&major.to_le_bytes());
        out[4..8].copy_from_slice(&minor.to_le_bytes());
        out[8..12].copy_from_slice(&patch.to_le_bytes());
        Ok(())
    })?;
    linker.func_wrap(
        m,
        "last-error",
        |mut caller: Ctx<'_>, dst: u32, len: u32| -> wasmtime::Result<u32> {
            super::not_in_realloc(&caller)?;
            let (mem, state) = memory(&mut caller)?;
            let text = state.last_error.as_bytes();
            let n = text.len().min(len as usize);
            match bytes_mut(mem, dst, n as u32) {
                Ok(out) => out.copy_from_slice(&text[..n]),
                Err(_) => wasmtime::bail!(
                    "version.last-error: buffer at {dst} of {len} bytes lies outside memory"
                ),
            }
            Ok(text.len() as u32)
        },
    )?;
    Ok(())
}
