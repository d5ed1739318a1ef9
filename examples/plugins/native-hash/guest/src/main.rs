//! Hashes a few words with the `plugin:hash` plugin, whose bindings
//! `vm_sdk::plugin!` makes from its WIT at build time. The guest does not
//! know (or care) that the plugin is native code in the VM's process.

vm_sdk::plugin!("../hash.wit");

fn main() {
    for word in ["hello", "plugin", ""] {
        let n = hash::digest::fnv1a(word.as_bytes());
        let hex = hash::digest::hex(word.as_bytes());
        assert_eq!(format!("{n:016x}"), hex);
        println!("fnv1a({word:?}) = {hex}");
    }
}
