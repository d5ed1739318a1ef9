//! Uses the kv plugin through the bindings `vm bindgen kv.wit --lang rust`
//! generated (`kv.rs`): typed functions, no unsafe code.
//!
//! Run it with the plugin loaded:
//! `vm run --plugin kv_plugin.wasm kv-guest.wasm`.

mod kv;

use kv::store;
use vm_sdk::process::{self, Process};
use vm_sdk::Mailbox;

fn show(value: Option<Vec<u8>>) -> String {
    match value {
        Some(v) => String::from_utf8_lossy(&v).into_owned(),
        None => "none".into(),
    }
}

fn main() {
    store::set("greeting", b"hello, plugin");
    println!("set greeting");
    println!("get greeting: {}", show(store::get("greeting")));
    println!("get missing: {}", show(store::get("missing")));
    println!("count: {}", store::count());
    for by in [1, 2] {
        match store::increment("hits", by) {
            Ok(n) => println!("increment hits: {n}"),
            Err(e) => println!("increment hits: error: {e}"),
        }
    }
    match store::increment("greeting", 1) {
        Ok(n) => println!("increment greeting: {n}"),
        Err(e) => println!("increment greeting: error: {e}"),
    }
    println!("remove greeting: {}", store::remove("greeting"));
    println!("remove greeting: {}", store::remove("greeting"));
    println!("count: {}", store::count());
    // A child has a store of its own: the plugin's state is per process.
    let parent: Process<u32> = Process::this();
    process::spawn_link(parent, |parent: Process<u32>, _: Mailbox<()>| {
        parent.send(store::count());
    });
    let child_count = Mailbox::<u32>::this().receive().expect("a count");
    println!("child count: {child_count}");
}
