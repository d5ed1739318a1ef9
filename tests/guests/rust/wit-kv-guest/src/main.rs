//! A guest that calls the kv plugin through bindings wit-bindgen generated
//! from `examples/plugins/kv/kv.wit` (world `guest`), with no VM SDK. Its
//! imports name the full version (`plugin:kv/store@1.0.0`), and the
//! plugin's results arrive through wit-bindgen's `cabi_realloc`.

wit_bindgen::generate!({
    path: "../../../../examples/plugins/kv/kv.wit",
    world: "plugin:kv/guest",
});

use plugin::kv::store;

fn main() {
    store::set("language", b"any that wit-bindgen supports");
    let value = store::get("language").expect("the value just set");
    println!("get language: {}", String::from_utf8_lossy(&value));
    println!("get missing: {:?}", store::get("missing"));
    println!("increment n: {:?}", store::increment("n", 41));
    println!("increment language: {:?}", store::increment("language", 1));
    println!("count: {}", store::count());
}
