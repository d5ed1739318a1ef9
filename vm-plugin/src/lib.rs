//! Native plugins for the vm:host VM: host functions written in Rust (or C),
//! declared by a plugin's WIT (`plugin:NAME@MAJOR.MINOR.PATCH`, the same
//! package a wasm plugin implements), so a guest cannot tell which kind it
//! got.
//!
//! A plugin is a [`Plugin`]: its WIT text, how to make a process's state
//! (on the process's first call), and a typed function per WIT function,
//! sync or async:
//!
//! ```
//! use vm_plugin::Plugin;
//! use std::collections::BTreeMap;
//!
//! const WIT: &str = "package plugin:kv@1.0.0;
//! interface store {
//!     @since(version = 1.0.0) set: func(key: string, value: list<u8>);
//!     @since(version = 1.0.0) get: func(key: string) -> option<list<u8>>;
//! }";
//!
//! let plugin = Plugin::builder(WIT, BTreeMap::<String, Vec<u8>>::new)
//!     .func("store.set", |store, (key, value): (String, Vec<u8>)| {
//!         store.insert(key, value);
//!     })
//!     .func("store.get", |store, (key,): (String,)| store.get(&key).cloned())
//!     .build();
//! assert_eq!(plugin.functions().len(), 2);
//! ```
//!
//! Functions take and return the whole of WIT: Rust's own types for
//! scalars, strings, lists, tuples, options and results, and for records,
//! variants, enums and flags types declared with [`wit_record!`],
//! [`wit_variant!`], [`wit_enum!`] and [`wit_flags!`].
//!
//! Run it in-process with `vm_reference::Vm::builder().native_plugin(plugin)`
//! (the VM checks each function against the WIT when it is built), or
//! export it from a `cdylib` with [`export_native_plugin!`] and load it with
//! `vm run --native-plugin libkv.so`. Native code runs outside the sandbox:
//! it can do anything the VM's process can.
//!
//! This crate depends on nothing, wasmtime least of all: the types that
//! cross into the VM are its own.

mod declare;
pub mod ffi;
mod value;
pub mod wire;

#[doc(hidden)]
pub use declare::position as __position;
pub use ffi::{FfiPlugin, FfiReturn, FfiStr, FfiValue, ABI_VERSION, ENTRY_SYMBOL};
#[doc(hidden)]
pub use value::kebab;
pub use value::{Args, Ret, Side, Type, Value, WitValue};

use std::any::Any;
use std::future::Future;
use std::pin::Pin;

/// A process's state of a plugin, as the VM holds it.
pub type State = Box<dyn Any + Send>;

/// What a call of a plugin function gives: its result (`None` for a
/// function without one), or why it failed (which ends the calling process
/// with that reason).
pub type Outcome = Result<Option<Value>, String>;

/// A boxed future of an async plugin function.
pub type BoxFuture = Pin<Box<dyn Future<Output = Outcome> + Send>>;

type SyncFn = Box<dyn Fn(&mut State, Vec<Value>) -> Outcome + Send + Sync>;
type AsyncFn = Box<dyn Fn(&mut State, Vec<Value>) -> BoxFuture + Send + Sync>;

/// How a function runs.
pub enum Handler {
    /// To completion, on the calling process's thread.
    Sync(SyncFn),
    /// As a future the calling process awaits; other processes run
    /// meanwhile.
    Async(AsyncFn),
}

/// One function of a plugin: its WIT path, its types, and its body.
pub struct Function {
    /// `INTERFACE.FUNCTION` (`store.get`).
    pub name: String,
    /// Parameter types, in order.
    pub params: Vec<Type>,
    /// The result type, if it has one.
    pub result: Option<Type>,
    /// The body.
    pub handler: Handler,
}

/// A native plugin: its WIT, its per-process state, its functions.
pub struct Plugin {
    wit: String,
    new_state: Box<dyn Fn() -> State + Send + Sync>,
    functions: Vec<Function>,
    transform: Option<Box<Transform>>,
    state_size: Option<Box<StateSize>>,
}

/// Measures a process's state: the bytes of the host's memory it holds.
pub type StateSize = dyn Fn(&State) -> usize + Send + Sync;

/// A module transform: takes a guest module's bytes when the VM loads it,
/// returns the module to run instead, or why it cannot.
pub type Transform = dyn Fn(&[u8]) -> Result<Vec<u8>, String> + Send + Sync;

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin")
            .field(
                "functions",
                &self.functions.iter().map(|f| &f.name).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Plugin {
    /// Starts a plugin from its WIT text and the function that makes a
    /// process's state (called on the process's first call).
    pub fn builder<S: Send + 'static>(
        wit: impl Into<String>,
        new_state: impl Fn() -> S + Send + Sync + 'static,
    ) -> PluginBuilder<S> {
        PluginBuilder {
            plugin: Plugin {
                wit: wit.into(),
                new_state: Box::new(move || Box::new(new_state())),
                functions: Vec::new(),
                transform: None,
                state_size: None,
            },
            _state: std::marker::PhantomData,
        }
    }

    /// A plugin from functions made by other means than [`PluginBuilder`]
    /// (the VM's shared-library loader makes each one a call through the C
    /// ABI): its WIT, how to make a process's state, and the functions.
    pub fn from_functions(
        wit: impl Into<String>,
        new_state: impl Fn() -> State + Send + Sync + 'static,
        functions: Vec<Function>,
    ) -> Plugin {
        Plugin {
            wit: wit.into(),
            new_state: Box::new(new_state),
            functions,
            transform: None,
            state_size: None,
        }
    }

    /// Gives a plugin made by [`Plugin::from_functions`] its state's
    /// measure (see [`PluginBuilder::state_size`]).
    pub fn with_state_size(mut self, size: Box<StateSize>) -> Plugin {
        self.state_size = Some(size);
        self
    }

    /// Whether the plugin measures its states ([`PluginBuilder::state_size`]).
    pub fn measures_state(&self) -> bool {
        self.state_size.is_some()
    }

    /// The bytes of the host's memory `state` holds beyond its own value,
    /// as the plugin measures it (0 for a plugin that does not).
    pub fn state_size(&self, state: &State) -> usize {
        self.state_size.as_ref().map_or(0, |size| size(state))
    }

    /// The plugin's WIT text.
    pub fn wit(&self) -> &str {
        &self.wit
    }

    /// A fresh state for a process.
    pub fn new_state(&self) -> State {
        (self.new_state)()
    }

    /// The functions registered, in order.
    pub fn functions(&self) -> &[Function] {
        &self.functions
    }

    /// The plugin's module transform, if it has one.
    pub fn transform(&self) -> Option<&Transform> {
        self.transform.as_deref()
    }
}

/// Registers a plugin's functions; [`PluginBuilder::build`] ends it.
pub struct PluginBuilder<S> {
    plugin: Plugin,
    _state: std::marker::PhantomData<fn() -> S>,
}

fn state<S: 'static>(state: &mut State) -> &mut S {
    state
        .downcast_mut::<S>()
        .expect("the VM passes each function the state its plugin made")
}

impl<S: Send + 'static> PluginBuilder<S> {
    /// Registers `name` (`INTERFACE.FUNCTION`, as in the WIT) as a function
    /// that runs to completion. Its arguments are a tuple of the WIT's
    /// parameter types (`(String, Vec<u8>)` for `string, list<u8>`), its
    /// result the WIT's result type (`Option<Vec<u8>>` for
    /// `option<list<u8>>`, `Result<i64, String>` for `result<s64, string>`);
    /// records, variants, enums and flags are types declared with
    /// [`wit_record!`], [`wit_variant!`], [`wit_enum!`] and [`wit_flags!`].
    pub fn func<A: Args, R: Ret>(
        mut self,
        name: &str,
        f: impl Fn(&mut S, A) -> R + Send + Sync + 'static,
    ) -> Self {
        self.plugin.functions.push(Function {
            name: name.to_string(),
            params: A::types(),
            result: R::result_type(),
            handler: Handler::Sync(Box::new(move |s, values| {
                let args = A::from_values(values).ok_or_else(bad_arguments)?;
                Ok(f(state::<S>(s), args).into_result())
            })),
        });
        self
    }

    /// Registers `name` as an async function: `f` takes what it needs from
    /// the state (a client handle, say) and returns a future, which the
    /// calling process awaits while other processes run.
    pub fn func_async<A: Args, R: Ret, F>(
        mut self,
        name: &str,
        f: impl Fn(&mut S, A) -> F + Send + Sync + 'static,
    ) -> Self
    where
        F: Future<Output = R> + Send + 'static,
    {
        self.plugin.functions.push(Function {
            name: name.to_string(),
            params: A::types(),
            result: R::result_type(),
            handler: Handler::Async(Box::new(move |s, values| match A::from_values(values) {
                Some(args) => {
                    let future = f(state::<S>(s), args);
                    Box::pin(async move { Ok(future.await.into_result()) })
                }
                None => Box::pin(async { Err(bad_arguments()) }),
            })),
        });
        self
    }

    /// Gives the plugin a module transform: every guest module the VM
    /// loads passes through `f` first (instrumentation, call counting,
    /// metering). What it returns is validated and checked against the ABI
    /// like any module; an `Err`, or an invalid module, fails the load with
    /// a message naming the plugin. In-process plugins only.
    pub fn transform(
        mut self,
        f: impl Fn(&[u8]) -> Result<Vec<u8>, String> + Send + Sync + 'static,
    ) -> Self {
        self.plugin.transform = Some(Box::new(f));
        self
    }

    /// Says how many bytes of the host's memory a process's state holds
    /// beyond its own value (what its maps, vectors and strings own). The
    /// VM measures the state after each call and charges it to the calling
    /// process's budget (`--max-mailbox`) and the VM's (`--max-host-memory`):
    /// a call that would take either past its limit ends the caller with a
    /// reason saying so, as any other thing a process asks the VM to hold.
    /// Without it, the state is charged its own value's size alone.
    pub fn state_size(mut self, f: impl Fn(&S) -> usize + Send + Sync + 'static) -> Self {
        self.plugin.state_size = Some(Box::new(move |s| s.downcast_ref::<S>().map_or(0, &f)));
        self
    }

    /// The plugin.
    pub fn build(self) -> Plugin {
        self.plugin
    }
}

fn bad_arguments() -> String {
    "the VM passed arguments of other types than the function takes (a bug in the VM)".into()
}
