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
        if caller.data().allocating.is_some() {
            return Err(wasmtime::Error::new(super::ImportInRealloc));
        }
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
        self.charge_state(&mut caller, plugin)?;
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

    /// Calls a wasm plugin's function, making the process's instance first
    /// if it has none.
    async fn call_wasm(
        &self,
        caller: &mut Caller<'_, ProcessState>,
        iface: usize,
        func: usize,
        label: &str,
        args: Vec<Arg>,
    ) -> wasmtime::Result<Reply> {
        let f = &self.package.interfaces[iface].functions[func];
        let instance = self.instance(caller).await?;
        match (&self.kind, instance) {
            (
                Kind::Core {
                    realloc, exports, ..
                },
                Instance::Core { instance, memory },
            ) => {
                let (export, post) = &exports[iface][func];
                let call = CoreCall {
                    instance,
                    memory,
                    realloc: realloc.as_ref(),
                    export,
                    post: post.as_ref(),
                };
                call_core(caller, call, f, label, args).await
            }
            (Kind::Component { exports, .. }, Instance::Component(instance)) => {
                call_component(caller, instance, &exports[iface][func], f, label, args).await
            }
            _ => unreachable!("an instance is of its plugin's kind"),
        }
    }

    /// Calls a native plugin's function with the process's state.
    async fn call_native(
        &self,
        caller: &mut Caller<'_, ProcessState>,
        plugin: &vm_plugin::Plugin,
        function: &vm_plugin::Function,
        f: &vm_abi::plugin::Function,
        label: &str,
        args: Vec<Arg>,
    ) -> wasmtime::Result<Reply> {
        let values = native_values(f, args);
        let state = self.native_state(caller, plugin)?;
        let outcome = match &function.handler {
            vm_plugin::Handler::Sync(handler) => {
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| handler(state, values)))
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
        self.charge_state(caller, plugin)?;
        match outcome {
            Ok(Ok(returned)) => lay_out(f, returned)
                .map_err(|why| wasmtime::format_err!("{label} {why} (a fault in the plugin)")),
            Ok(Err(why)) => wasmtime::bail!("{label} failed: {why}"),
            Err(why) => wasmtime::bail!("{label} {why}"),
        }
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
        let reply = match &self.kind {
            Kind::Native { plugin, functions } => {
                let function = &plugin.functions()[functions[iface][func]];
                self.call_native(&mut caller, plugin, function, f, label, args)
                    .await?
            }
            _ => {
                // The plugin's own code runs (instantiation, its realloc,
                // the function, its post-return): its WASI calls reach its
                // own context.
                caller.data_mut().running_plugin = Some(self.index);
                let reply = self.call_wasm(&mut caller, iface, func, label, args).await;
                caller.data_mut().running_plugin = None;
                reply?
            }
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
                        let to = allocate(
                            &mut caller,
                            (guest_realloc, guest_memory),
                            len,
                            label,
                            "the module's",
                        )
                        .await?;
                        let dest =
                            crate::host::bytes_mut(guest_memory.data_mut(&mut caller), to, len)
                                .expect("checked by allocate");
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

/// Calls a `cabi_realloc` (`whose`: "the module's" or "the plugin's") for
/// `len` fresh bytes, and checks they lie in `memory`. No import may be
/// called meanwhile (see [`super::forbid_imports_in_realloc`]).
pub(super) async fn allocate(
    caller: &mut Caller<'_, ProcessState>,
    (realloc, memory): (Func, Memory),
    len: u32,
    label: &str,
    whose: &str,
) -> wasmtime::Result<u32> {
    let fault = if whose == "the plugin's" {
        " (a fault in the plugin)"
    } else {
        ""
    };
    let realloc = realloc
        .typed::<(u32, u32, u32, u32), u32>(&*caller)
        .map_err(|_| {
            wasmtime::format_err!(
                "{label}: {whose} cabi_realloc is not of type (i32, i32, i32, i32) -> i32, so a plugin call cannot pass it a string or list"
            )
        })?;
    caller.data_mut().allocating = Some(0);
    let to = realloc.call_async(&mut *caller, (0, 0, 1, len)).await;
    let state = caller.data_mut();
    state.allocating = None;
    state.left_realloc = false;
    let to = to.map_err(|e| {
        if let Some(limit) = e.downcast_ref::<crate::process::MemoryLimitExceeded>() {
            return wasmtime::format_err!("{label}: {limit}");
        }
        // A WASI exit from inside it arrives as the import it was (the hook
        // traps as the call returns), after the call's effect.
        wasmtime::format_err!(
            "{label}: {whose} cabi_realloc failed: {}{fault}",
            super::reason(&e)
        )
    })?;
    if crate::host::bytes(memory.data(&*caller), to, len).is_err() {
        wasmtime::bail!(
            "{label}: {whose} cabi_realloc gave {to} for {len} bytes, outside its memory{fault}"
        );
    }
    Ok(to)
}
