//! The kv plugin as native Rust, from the same `kv.wit` as the wasm one:
//! the same guests run with it unchanged, in-process
//! (`Vm::builder().native_plugin(kv_native::plugin())`) or from this
//! crate's shared library (`vm run --native-plugin libkv_native.so`).
//! Each process that calls it gets a store of its own, as with the wasm
//! plugin.

use vm_plugin::Plugin;

#[path = "../../kv/store.rs"]
mod store;

/// kv's WIT.
pub const WIT: &str = include_str!("../../kv/kv.wit");

/// The plugin.
pub fn plugin() -> Plugin {
    Plugin::builder(WIT, store::Store::new)
        .func("store.set", |s, (key, value): (String, Vec<u8>)| {
            s.insert(key, value);
        })
        .func("store.get", |s, (key,): (String,)| s.get(&key).cloned())
        .func("store.remove", |s, (key,): (String,)| {
            s.remove(&key).is_some()
        })
        .func("store.count", |s, (): ()| s.len() as u32)
        .func("store.increment", |s, (key, by): (String, i64)| {
            store::increment(s, key, by)
        })
        .build()
}

vm_plugin::export_native_plugin!(plugin);
