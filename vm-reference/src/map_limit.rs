//! Explaining the kernel's limit on memory mappings (`vm.max_map_count`).
//!
//! Each process slot costs the kernel memory mappings, because guard pages
//! and copy-on-write images split the pool into separate regions: measured
//! on Linux, about two per slot when the pool is reserved and four more per
//! live process. Linux's default limit (65,530) therefore holds about 10,000
//! processes, and past it `mmap` fails with ENOMEM, which on its own says
//! nothing useful. These texts say what happened and what to run.

/// Mappings each slot of the pool costs when the VM starts.
const PER_SLOT: u64 = 2;
/// Mappings each live process adds.
const PER_PROCESS: u64 = 4;
/// Room for the VM itself (code, heap, threads).
const BASE: u64 = 10_000;

/// Whether `e` is the kernel refusing memory (ENOMEM).
pub(crate) fn is_out_of_memory(e: &wasmtime::Error) -> bool {
    let text = format!("{e:#}");
    text.contains("os error 12") || text.contains("Cannot allocate memory")
}

fn max_map_count() -> String {
    std::fs::read_to_string("/proc/sys/vm/max_map_count")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .map_or_else(|| "an unknown number of".to_string(), |n| n.to_string())
}

/// Why reserving a pool of `slots` failed, and what to do.
pub(crate) fn pool_advice(slots: u32) -> String {
    let needed = u64::from(slots) * (PER_SLOT + PER_PROCESS) + BASE;
    format!(
        "reserving room for {slots} processes needs up to {needed} memory mappings, and the kernel allows {} \
         (vm.max_map_count); raise it with `sudo sysctl -w vm.max_map_count={}`, or lower --max-instances (which is --max-processes unless given; hibernated processes need no instance)",
        max_map_count(),
        needed.next_power_of_two()
    )
}

/// Why a new process could not be mapped while `live` processes run in a
/// pool of `slots`, and what to do.
pub(crate) fn spawn_advice(live: usize, slots: u32) -> String {
    let needed = u64::from(slots) * (PER_SLOT + PER_PROCESS) + BASE;
    format!(
        "the kernel refused memory for a new process with {live} processes alive: it allows {} memory mappings \
         (vm.max_map_count) and {slots} processes need up to {needed}; raise it with `sudo sysctl -w vm.max_map_count={}`",
        max_map_count(),
        needed.next_power_of_two()
    )
}
