//! The plugin benchmarks as a guest: a module that imports sixteen plugins
//! (kv and `plugin:p1` … `plugin:p15`, which the harness makes), so that
//! every process spawned from it could call them.
//!
//! - `spawn N`: as bench-guest's spawn; the spawned processes never call a
//!   plugin, so the VM makes no plugin instance for them.
//! - `call N`: kv's `count`, N times: the cost of a plugin call, beside
//!   bench-guest's `hostcall`.

use std::time::Instant;
use vm_sdk::process::spawn;
use vm_sdk::{Mailbox, Process};

#[link(wasm_import_module = "plugin:kv/store@1")]
unsafe extern "C" {
    #[link_name = "count"]
    fn kv_count() -> i32;
}

/// Declares the fifteen other plugins' imports and a function that calls
/// each once.
macro_rules! plugins {
    ($($module:literal => $name:ident),*) => {
        $(
            #[link(wasm_import_module = $module)]
            unsafe extern "C" {
                #[link_name = "noop"]
                fn $name() -> i32;
            }
        )*
        fn call_every_plugin() -> i32 {
            // SAFETY: the imports take nothing and return a number.
            unsafe { 0 $(+ $name())* + kv_count() }
        }
    };
}

plugins!(
    "plugin:p1/api@1" => p1, "plugin:p2/api@1" => p2, "plugin:p3/api@1" => p3,
    "plugin:p4/api@1" => p4, "plugin:p5/api@1" => p5, "plugin:p6/api@1" => p6,
    "plugin:p7/api@1" => p7, "plugin:p8/api@1" => p8, "plugin:p9/api@1" => p9,
    "plugin:p10/api@1" => p10, "plugin:p11/api@1" => p11, "plugin:p12/api@1" => p12,
    "plugin:p13/api@1" => p13, "plugin:p14/api@1" => p14, "plugin:p15/api@1" => p15
);

fn spawn_bench(n: u32) -> f64 {
    let me = Process::<()>::this();
    let mailbox = Mailbox::<()>::this();
    let t = Instant::now();
    for _ in 0..n {
        spawn(me, |parent, _: Mailbox<()>| parent.send(()));
        mailbox.receive().unwrap();
    }
    t.elapsed().as_nanos() as f64 / n as f64 / 1000.0
}

fn call(n: u32) -> f64 {
    let t = Instant::now();
    let mut acc = 0i32;
    for _ in 0..n {
        // SAFETY: `count` takes nothing and returns a number.
        acc = acc.wrapping_add(std::hint::black_box(unsafe { kv_count() }));
    }
    std::hint::black_box(acc);
    t.elapsed().as_nanos() as f64 / n as f64
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: u32 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1000);
    let (value, unit) = match args.get(1).map(String::as_str) {
        Some("spawn") => (spawn_bench(n), "us"),
        Some("call") => (call(n), "ns"),
        // Calls every plugin once: proves the imports link and are kept.
        Some("every") => (call_every_plugin() as f64, "calls"),
        _ => {
            eprintln!("usage: bench-plugins (spawn|call|every) N");
            std::process::exit(64);
        }
    };
    println!("RESULT {value:.3} {unit}");
}
