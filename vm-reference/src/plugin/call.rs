//! One call from a guest: its arguments read and checked, the plugin
//! called by its kind, its result handed to the guest.

use super::component::call_component;
use super::core::{call_core, CoreCall};
use super::instance::Instance;
use super::layout::lay_out;
use super::native::{native_values, panic_text, CatchUnwind};
use super::{Arg, Kind, LoadedPlugin, Reply};
use crate::process::ProcessState;
use vm_abi::plugin::{ResultLayout, Value};
use wasmtime::{Caller, Func, Memory, Val};

impl LoadedPlugin {
    /// Checks the return pointer and reads the arguments: the guest's
    /// memory, the return pointer (if the result has one), the arguments.
    pub(super) fn prepare(
        &self,
        caller: &mut Caller<'_, ProcessState>,
        f: &vm_abi::plugin::Function,
        label: &str,
        params: &[Val],
    ) -> wasmtime::Result<(Memory, Option<u32>, Vec<Arg>)> {
        let caller = &*caller;
        let Some(guest_memory) = caller.data().memory else {
            wasmtime::bail!(
                "{label}: the module exports no memory named `memory`, which plugin calls need"
            );
        };
        // The return pointer is checked before anything happens, so a bad
        // one costs the plugin nothing.
        let ret = match &f.layout {
            ResultLayout::Area { size, align, .. } if f.has_return_pointer() => {
                let ret = params
                    .last()
                    .and_then(Val::i32)
                    .expect("typed by the linker") as u32;
                let fits = (ret as u64 + *size as u64) <= guest_memory.data_size(caller) as u64;
                if !ret.is_multiple_of(*align) || !fits {
                    wasmtime::bail!("{label}: return pointer {ret} lies outside memory or is not {align}-byte aligned");
                }
                Some(ret)
            }
            _ => None,
        };
        let mut args = Vec::with_capacity(f.params.len());
        let mut at = 0;
        for (name, value) in &f.params {
            match value {
                Value::Scalar(_) => {
                    args.push(Arg::Word(params[at]));
                    at += 1;
                }
                Value::String | Value::Bytes => {
                    let ptr = params[at].i32().expect("typed") as u32;
                    let len = params[at + 1].i32().expect("typed") as u32;
                    at += 2;
                    let data = guest_memory.data(caller);
                    let Ok(bytes) = crate::host::bytes(data, ptr, len) else {
                        wasmtime::bail!("{label}: argument `{name}` at {ptr} with length {len} lies outside memory");
                    };
                    if *value == Value::String {
                        if let Err(e) = std::str::from_utf8(bytes) {
                            wasmtime::bail!("{label}: argument `{name}` is not UTF-8: {e}");
                        }
                    }
                    args.push(Arg::Bytes(bytes.to_vec()));
                }
            }
        }
        Ok((guest_memory, ret, args))
    }

    /// A call to a sync native function whose result needs no room in the
    /// guest's memory: no future, no fiber, as cheap as a host call gets.
    pub(super) fn call_sync(
        &self,
        mut caller: Caller<'_, ProcessState>,
        iface: usize,
        func: usize,
        params: &[Val],
        results: &mut [Val],
    ) -> wasmtime::Result<()> {
        let f = &self.package.interfaces[iface].functions[func];
        let label = self.labels[iface][func].as_str();
        let Kind::Native { plugin, functions } = &self.kind else {
            unreachable!("only native functions are linked sync")
        };
        let vm_plugin::Handler::Sync(handler) = &plugin.functions()[functions[iface][func]].handler
        else {
            unreachable!("only sync functions are linked sync")
        };
        let (guest_memory, ret, args) = self.prepare(&mut caller, f, label, params)?;
        let values = native_values(f, args);
        let state = self.native_state(&mut caller, plugin)?;
        let outcome =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| handler(state, values)));
        let reply = match outcome {
            Ok(Ok(returned)) => lay_out(f, returned)
                .map_err(|why| wasmtime::format_err!("{label} {why} (a fault in the plugin)"))?,
            Ok(Err(why)) => wasmtime::bail!("{label} failed: {why}"),
            Err(p) => wasmtime::bail!("{label} panicked: {}", panic_text(p)),
        };
        match reply {
            Reply::Nothing => {}
            Reply::Flat(v) => results[0] = v,
            Reply::Area(area, copied) => {
                debug_assert!(copied.is_empty(), "linked sync only without lists");
                let ret = ret.expect("an area has a return pointer");
                let Ok(dest) = crate::host::bytes_mut(
                    guest_memory.data_mut(&mut caller),
                    ret,
                    area.len() as u32,
                ) else {
                    wasmtime::bail!("{label}: return pointer {ret} lies outside memory");
                };
                dest.copy_from_slice(&area);
            }
        }
        Ok(())
    }

    /// One call from a guest: read the arguments, call the plugin, hand the
    /// result over.
    pub(super) async fn call(
        &self,
        mut caller: Caller<'_, ProcessState>,
        iface: usize,
        func: usize,
        params: &[Val],
        results: &mut [Val],
    ) -> wasmtime::Result<()> {
        let f = &self.package.interfaces[iface].functions[func];
        let label = self.labels[iface][func].as_str();
        let (guest_memory, ret, args) = self.prepare(&mut caller, f, label, params)?;
        let instance = match &self.kind {
            Kind::Native { .. } => Instance::Native,
            _ => self.instance(&mut caller).await?,
        };
        let reply = match (&self.kind, instance) {
            (
                Kind::Core {
                    realloc, exports, ..
                },
                Instance::Core { instance, memory },
            ) => {
                let (export, post) = &exports[iface][func];
                call_core(
                    &mut caller,
                    CoreCall {
                        instance,
                        memory,
                        realloc: realloc.as_ref(),
                        export,
                        post: post.as_ref(),
                    },
                    f,
                    label,
                    args,
                )
                .await?
            }
            (Kind::Component { exports, .. }, Instance::Component(instance)) => {
                call_component(&mut caller, instance, &exports[iface][func], f, label, args).await?
            }
            (Kind::Native { plugin, functions }, Instance::Native) => {
                let values = native_values(f, args);
                let function = &plugin.functions()[functions[iface][func]];
                let state = self.native_state(&mut caller, plugin)?;
                let outcome = match &function.handler {
                    vm_plugin::Handler::Sync(handler) => {
                        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                            handler(state, values)
                        }))
                        .map_err(|p| format!("panicked: {}", panic_text(p)))
                    }
                    vm_plugin::Handler::Async(handler) => {
                        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                            handler(state, values)
                        })) {
                            Ok(future) => CatchUnwind(future).await,
                            Err(p) => Err(format!("panicked: {}", panic_text(p))),
                        }
                    }
                };
                match outcome {
                    Ok(Ok(returned)) => lay_out(f, returned).map_err(|why| {
                        wasmtime::format_err!("{label} {why} (a fault in the plugin)")
                    })?,
                    Ok(Err(why)) => wasmtime::bail!("{label} failed: {why}"),
                    Err(why) => wasmtime::bail!("{label} {why}"),
                }
            }
            _ => unreachable!("an instance is of its plugin's kind"),
        };
        match reply {
            Reply::Nothing => Ok(()),
            Reply::Flat(v) => {
                results[0] = v;
                Ok(())
            }
            Reply::Area(mut area, copied) => {
                if !copied.is_empty() {
                    let Some(guest_realloc) = caller
                        .get_export("cabi_realloc")
                        .and_then(|e| e.into_func())
                    else {
                        wasmtime::bail!("{label}: the module exports no `cabi_realloc`, through which plugin calls return strings and lists");
                    };
                    for (o, bytes) in copied {
                        let len = bytes.len() as u32;
                        let to = allocate(&mut caller, guest_realloc, 1, len).await?;
                        let Ok(dest) =
                            crate::host::bytes_mut(guest_memory.data_mut(&mut caller), to, len)
                        else {
                            wasmtime::bail!(
                                "{label}: the module's cabi_realloc gave {to}, outside its memory"
                            );
                        };
                        dest.copy_from_slice(&bytes);
                        area[o..o + 4].copy_from_slice(&to.to_le_bytes());
                    }
                }
                let ret = ret.expect("an area has a return pointer");
                let size = area.len() as u32;
                let Ok(dest) =
                    crate::host::bytes_mut(guest_memory.data_mut(&mut caller), ret, size)
                else {
                    wasmtime::bail!("{label}: return pointer {ret} lies outside memory");
                };
                dest.copy_from_slice(&area);
                Ok(())
            }
        }
    }
}

/// Calls a `cabi_realloc` for `len` fresh bytes.
pub(super) async fn allocate(
    caller: &mut Caller<'_, ProcessState>,
    realloc: Func,
    align: u32,
    len: u32,
) -> wasmtime::Result<u32> {
    let realloc = realloc
        .typed::<(u32, u32, u32, u32), u32>(&*caller)
        .map_err(|_| {
            wasmtime::format_err!(
                "its cabi_realloc is not of type (i32, i32, i32, i32) -> i32, so a plugin call cannot return a string or list to it"
            )
        })?;
    realloc.call_async(&mut *caller, (0, 0, align, len)).await
}
