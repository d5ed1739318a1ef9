//! The kv plugin as a core module. wit-bindgen exports the functions of
//! `kv.wit` under the canonical ABI's names (with `cabi_realloc` and the
//! post-return functions); the WIT itself travels in the module's
//! `vm:plugin` section, where the VM reads what the plugin provides.
//!
//! The VM makes one instance of the plugin per process that calls it, so
//! the store below is that process's own.

use std::cell::RefCell;

#[path = "../../store.rs"]
mod store;

wit_bindgen::generate!({
    path: "../kv.wit",
    world: "plugin",
});

/// The plugin's WIT, which the VM checks guests against.
#[used]
#[link_section = "vm:plugin"]
static WIT: [u8; include_bytes!("../../kv.wit").len()] = *include_bytes!("../../kv.wit");

thread_local! {
    static STORE: RefCell<store::Store> = const { RefCell::new(store::Store::new()) };
}

struct Kv;

impl exports::plugin::kv::store::Guest for Kv {
    fn set(key: String, value: Vec<u8>) {
        STORE.with_borrow_mut(|s| s.insert(key, value));
    }

    fn get(key: String) -> Option<Vec<u8>> {
        STORE.with_borrow(|s| s.get(&key).cloned())
    }

    fn remove(key: String) -> bool {
        STORE.with_borrow_mut(|s| s.remove(&key).is_some())
    }

    fn count() -> u32 {
        STORE.with_borrow(|s| s.len() as u32)
    }

    fn increment(key: String, by: i64) -> Result<i64, String> {
        STORE.with_borrow_mut(|s| store::increment(s, key, by))
    }
}

export!(Kv);
