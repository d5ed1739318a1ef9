//! The native shapes plugin behind the C ABI (version 3, which carries
//! records, variants, enums and flags as trees of values):
//! `vm run --native-plugin libshapes_native_plugin.so app.wasm`.

vm_plugin::export_native_plugin!(shapes_native::plugin);
