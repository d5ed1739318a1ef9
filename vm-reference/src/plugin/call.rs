//! One call from a guest: its arguments read and checked, the plugin
//! called by its kind, its result handed to the guest.

use super::canon::{allocations, Lift, Lowering, Val};
use super::component::call_component;
use super::core::{call_core, CoreCall};
use super::instance::Instance;
use super::native::{from_native, native_values, panic_text, CatchUnwind};
use super::{Kind, LoadedPlugin, Reply};
use crate::process::ProcessState;
use vm_abi::plugin::Ty;
use wasmtime::{Caller, Func, Memory, Val as Core};

impl LoadedPlugin {
    /// Checks the return pointer and lifts the arguments out of the
    /// guest: its memory, the return pointer (if the result travels in
    /// memory), the arguments.
    pub(super) fn prepare(
        &self,
        caller: &mut Caller<'_, ProcessState>,
        f: &vm_abi::plugin::Function,
        label: &str,
        params: &[Core],
    ) -> wasmtime::Result<(Memory, Option<u32>, Vec<Val>)> {
        if caller.data().allocating {
            return Err(wasmtime::Error::new(super::ImportInRealloc));
        }
        let caller = &*caller;
        let Some(guest_memory) = caller.data().memory else {
            wasmtime::bail!(
                "{label}: the module exports no memory named `memory`, which plugin calls need"
            );
        };
        let mem = guest_memory.data(caller);
        // The return pointer is checked before anything happens, so a bad
        // one costs the plugin nothing.
        let ret = match &f.result_type {
            Some(t) if f.result_in_memory() => {
                let ret = params
                    .last()
                    .and_then(Core::i32)
                    .expect("typed by the linker") as u32;
                let (size, align) = (t.size(), t.align());
                if !ret.is_multiple_of(align) || crate::guest_memory::bytes(mem, ret, size).is_err()
                {
                    wasmtime::bail!("{label}: return pointer {ret} lies outside memory or is not {align}-byte aligned");
                }
                Some(ret)
            }
            _ => None,
        };
        let mut lift = Lift::new(mem.len());
        let args = if f.params_in_memory() {
            // One pointer to the arguments, a tuple in the guest's memory.
            let ptr = params[0].i32().expect("typed") as u32;
            let types = Ty::Tuple(f.param_types.iter().map(|(_, t)| t.clone()).collect());
            let (size, align) = (types.size(), types.align());
            if !ptr.is_multiple_of(align) || crate::guest_memory::bytes(mem, ptr, size).is_err() {
                wasmtime::bail!(
                    "{label}: its arguments at {ptr} ({size} bytes) lie outside memory or are not {align}-byte aligned"
                );
            }
            match lift.load(mem, &types, ptr) {
                Ok(Val::Record(args)) => args,
                Ok(_) => unreachable!("a tuple lifts to its members"),
                Err(e) => wasmtime::bail!("{label}: its arguments at {ptr}: {e}"),
            }
        } else {
            let mut flat = params.iter().cloned();
            let mut args = Vec::with_capacity(f.param_types.len());
            for (name, t) in &f.param_types {
                match lift.lift_flat(mem, t, &mut flat) {
                    Ok(v) => args.push(v),
                    Err(e) => wasmtime::bail!("{label}: argument `{name}`: {e}"),
                }
            }
            args
        };
        Ok((guest_memory, ret, args))
    }

    /// A call to a sync native function whose result needs no room in the
    /// guest's memory: no future, no fiber, as cheap as a host call gets.
    pub(super) fn call_sync(
        &self,
        mut caller: Caller<'_, ProcessState>,
        iface: usize,
        func: usize,
        params: &[Core],
        results: &mut [Core],
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
        let values = native_values(args);
        let state = self.native_state(&mut caller, plugin)?;
        let outcome =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| handler(state, values)));
        self.charge_state(&mut caller, plugin)?;
        let reply = match outcome {
            Ok(Ok(returned)) => from_native(f, returned)
                .map_err(|why| wasmtime::format_err!("{label} {why} (a fault in the plugin)"))?,
            Ok(Err(why)) => wasmtime::bail!("{label} failed: {why}"),
            Err(p) => wasmtime::bail!("{label} panicked: {}", panic_text(p)),
        };
        // Linked sync only when the result holds no string or list: it
        // needs no allocation in the guest.
        let mem = guest_memory.data_mut(&mut caller);
        hand_over(mem, f, label, reply, ret, Vec::new(), results)
    }

    /// Calls a wasm plugin's function, making the process's instance first
    /// if it has none.
    async fn call_wasm(
        &self,
        caller: &mut Caller<'_, ProcessState>,
        iface: usize,
        func: usize,
        label: &str,
        args: Vec<Val>,
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
        args: Vec<Val>,
    ) -> wasmtime::Result<Reply> {
        let values = native_values(args);
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
            Ok(Ok(returned)) => from_native(f, returned)
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
        params: &[Core],
        results: &mut [Core],
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
        // Room in the guest for each string and list the result holds.
        let mut ptrs = Vec::new();
        if let (Some(v), Some(t)) = (&reply, &f.result_type) {
            let mut needed = Vec::new();
            allocations(v, t, &mut needed);
            if !needed.is_empty() {
                let Some(guest_realloc) = caller
                    .get_export("cabi_realloc")
                    .and_then(|e| e.into_func())
                else {
                    wasmtime::bail!("{label}: the module exports no `cabi_realloc`, through which plugin calls return strings and lists");
                };
                for (align, len) in needed {
                    let to = allocate(
                        &mut caller,
                        (guest_realloc, guest_memory),
                        (align, len),
                        label,
                        "the module's",
                    )
                    .await?;
                    ptrs.push(to);
                }
            }
        }
        let mem = guest_memory.data_mut(&mut caller);
        hand_over(mem, f, label, reply, ret, ptrs, results)
    }
}

/// Lowers the result into the guest: returned as one core value, or
/// written at the return pointer (its strings and lists at `ptrs`, which
/// the guest's allocator gave, in [`allocations`]' order).
fn hand_over(
    mem: &mut [u8],
    f: &vm_abi::plugin::Function,
    label: &str,
    reply: Reply,
    ret: Option<u32>,
    ptrs: Vec<u32>,
    results: &mut [Core],
) -> wasmtime::Result<()> {
    let (Some(v), Some(t)) = (reply, &f.result_type) else {
        return Ok(());
    };
    let mut lowering = Lowering {
        mem,
        ptrs: ptrs.into_iter(),
    };
    let done = match ret {
        Some(ret) => lowering.store(&v, t, ret),
        None => match scalar(&v) {
            // The common case, without an allocation.
            Some(core) => {
                results[0] = core;
                Ok(())
            }
            None => {
                let mut flat = Vec::with_capacity(1);
                let done = lowering.lower_flat(&v, t, &mut flat);
                if let Some(v) = flat.pop() {
                    results[0] = v;
                }
                done
            }
        },
    };
    done.map_err(|e| wasmtime::format_err!("{label}: its result: {e}"))
}

/// A scalar's one core value.
fn scalar(v: &Val) -> Option<Core> {
    Some(match *v {
        Val::Bool(x) => Core::I32(i32::from(x)),
        Val::U8(x) => Core::I32(i32::from(x)),
        Val::S8(x) => Core::I32(i32::from(x)),
        Val::U16(x) => Core::I32(i32::from(x)),
        Val::S16(x) => Core::I32(i32::from(x)),
        Val::U32(x) => Core::I32(x as i32),
        Val::S32(x) => Core::I32(x),
        Val::U64(x) => Core::I64(x as i64),
        Val::S64(x) => Core::I64(x),
        Val::F32(x) => Core::F32(x.to_bits()),
        Val::F64(x) => Core::F64(x.to_bits()),
        Val::Char(c) => Core::I32(u32::from(c) as i32),
        _ => return None,
    })
}

/// Calls a `cabi_realloc` (`whose`: "the module's" or "the plugin's") for
/// `len` fresh bytes aligned to `align`, and checks they lie in `memory`,
/// so aligned. No import may be
/// called meanwhile (the canonical ABI's `may_leave`): a plugin import is
/// refused as it is entered (so nothing re-enters wasm, where each nested
/// call would take a fiber stack of its own), and a WASI import, which
/// marks the state, fails the allocation once the realloc returns.
pub(super) async fn allocate(
    caller: &mut Caller<'_, ProcessState>,
    (realloc, memory): (Func, Memory),
    (align, len): (u32, u32),
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
    caller.data_mut().allocating = true;
    let to = realloc.call_async(&mut *caller, (0, 0, align, len)).await;
    let state = caller.data_mut();
    state.allocating = false;
    let left = std::mem::take(&mut state.left_realloc);
    // Whatever came of it (a WASI exit too), an import was the fault.
    let to = if left {
        Err(wasmtime::Error::new(super::ImportInRealloc))
    } else {
        to
    };
    let to = to.map_err(|e| {
        if let Some(limit) = e.downcast_ref::<crate::process::MemoryLimitExceeded>() {
            return wasmtime::format_err!("{label}: {limit}");
        }
        wasmtime::format_err!(
            "{label}: {whose} cabi_realloc failed: {}{fault}",
            super::reason(&e)
        )
    })?;
    if crate::guest_memory::bytes(memory.data(&*caller), to, len).is_err() {
        wasmtime::bail!(
            "{label}: {whose} cabi_realloc gave {to} for {len} bytes, outside its memory{fault}"
        );
    }
    if !to.is_multiple_of(align) {
        wasmtime::bail!(
            "{label}: {whose} cabi_realloc gave {to}, which is not {align}-byte aligned{fault}"
        );
    }
    Ok(to)
}
