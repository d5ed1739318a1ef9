//! A hashing plugin in Rust, run in-process by a program that embeds the
//! VM: `plugin:hash` (`../hash.wit`) without any wasm of its own, and
//! without the plugin knowing wasmtime.

use vm_plugin::Plugin;

/// The plugin's WIT.
pub const WIT: &str = include_str!("../../hash.wit");

/// FNV-1a, 64-bit.
pub fn fnv1a(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The plugin: stateless, so each process's state is `()`.
pub fn plugin() -> Plugin {
    Plugin::builder(WIT, || ())
        .func("digest.fnv1a", |_, (data,): (Vec<u8>,)| fnv1a(&data))
        .func("digest.hex", |_, (data,): (Vec<u8>,)| {
            format!("{:016x}", fnv1a(&data))
        })
        .build()
}

/// Runs `guest` as the root process of a VM with the plugin loaded;
/// returns how it ended.
pub async fn run(guest: &std::path::Path) -> Result<vm_reference::Outcome, vm_reference::VmError> {
    let vm = vm_reference::Vm::builder()
        .native_plugin(plugin())
        .build()?;
    let module = vm.load_file(guest)?;
    let name = guest.display().to_string();
    vm.run(&module, &[name.as_str()]).await
}
