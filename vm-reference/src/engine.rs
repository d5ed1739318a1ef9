//! The wasmtime engine a VM runs its processes on: the instance pool,
//! stacks, memory reservations and epoch interruption, sized from the
//! VM's settings.

use crate::config::Config;
use crate::map_limit;
use wasmtime::{Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// Says what to do when the engine cannot be set up; the usual cause is a
/// pool larger than `vm.max_map_count` allows.
pub(crate) fn explain_engine_error(e: &wasmtime::Error, config: &Config) -> String {
    let text = format!("{e:#}");
    if map_limit::is_out_of_memory(e) {
        format!(
            "{text}: {}",
            map_limit::pool_advice(config.instance_limit())
        )
    } else {
        text
    }
}

/// The smallest stack limit a process can start with.
pub(crate) const MIN_STACK: usize = 4 << 10;

/// Stack room for the host functions a process calls, above its own
/// `max_stack` of wasm frames.
const HOST_STACK: usize = 128 << 10;

/// Stack room for host functions when native plugins are loaded: their
/// code runs on the calling process's stack, and overflowing it aborts the
/// VM (address space only: pages untouched cost nothing).
const NATIVE_HOST_STACK: usize = 1 << 20;

/// Core instances, memories and tables a component plugin's instance may
/// hold (a wit-bindgen component has its module and a few small shims).
const SLOTS_PER_COMPONENT: u32 = 8;

/// The engine for `config`, with room for `plugin_instances` plugin
/// instances (`components`: some are components; `native`: native plugins
/// run on processes' stacks).
pub(crate) fn engine(
    config: &Config,
    plugin_instances: u32,
    components: bool,
    native: bool,
) -> wasmtime::Result<Engine> {
    let mut pool = PoolingAllocationConfig::new();
    // Plugin instances live in their process's store: they take instance,
    // memory and table slots.
    let per_plugin = if components { SLOTS_PER_COMPONENT } else { 1 };
    let instances = config
        .instance_limit()
        .saturating_add(plugin_instances.saturating_mul(per_plugin));
    pool.total_core_instances(instances)
        .total_memories(instances)
        .total_tables(instances)
        // A call into a plugin runs on a stack of its own (wasmtime's
        // call_async from a host function), one at a time per process.
        .total_stacks(config.instance_limit().saturating_add(plugin_instances))
        .total_component_instances(if components { plugin_instances } else { 0 })
        .max_memory_size(config.max_memory)
        // Spawn-heavy loads free slots constantly, and each madvise that
        // decommits a freed slot costs a TLB shootdown on every core: batch
        // them, keep each table's first pages (a table is small) resident,
        // and reset only the memory pages a process dirtied (PAGEMAP_SCAN,
        // where the kernel has it) up to a 192 KiB prefix, where guests
        // built with a small stack keep their hot pages.
        .decommit_batch_size(64)
        .table_keep_resident(8 << 10)
        .linear_memory_keep_resident(192 << 10)
        .pagemap_scan(wasmtime::Enabled::Auto);
    let mut c = wasmtime::Config::new();
    c.epoch_interruption(true)
        // Pinned off: with custom page sizes wasmtime may report a failed
        // growth it never asked the limiter about, which the memory
        // limiter's books (`MemoryLimiter`) do not expect.
        .wasm_custom_page_sizes(false)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool))
        // Small reservations: the pool holds one per process slot.
        .memory_reservation(config.max_memory as u64)
        .memory_guard_size(64 << 10)
        .memory_reservation_for_growth(0)
        .memory_init_cow(true)
        // A process's wasm code and the host functions it calls share one
        // stack per process. Small stacks, not wasmtime's 2 MiB, let several
        // share a page-table page: an idle process cost 8.6 KiB of page
        // tables with 2 MiB stacks and 5.3 KiB with 384 KiB (VmPTE, 10,000
        // idle processes).
        .max_wasm_stack(config.max_stack)
        .async_stack_size(
            config.max_stack
                + if native {
                    NATIVE_HOST_STACK
                } else {
                    HOST_STACK
                },
        );
    // For profiling: perf reads /tmp/perf-PID.map to name JIT-compiled
    // guest functions.
    if std::env::var_os("VM_PERFMAP").is_some() {
        c.profiler(wasmtime::ProfilingStrategy::PerfMap);
    }
    Engine::new(&c)
}
