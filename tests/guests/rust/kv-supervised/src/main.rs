//! A worker that uses kv, under a supervisor that restarts it when it
//! fails: what a remote plugin's server dying mid-call looks like to a
//! guest. The worker stores a key and reads it back; its supervisor traps
//! exits, prints each worker's end, and starts another until one ends
//! normally (at most three).

vm_sdk::plugin!("../../../../examples/plugins/kv/kv.wit");

use vm_sdk::process::{spawn_link, trap_exits, ExitReason};
use vm_sdk::Mailbox;

fn worker(generation: u32, _: Mailbox<()>) {
    kv::store::set("generation", generation.to_string().as_bytes());
    let back = kv::store::get("generation").map(|v| String::from_utf8_lossy(&v).into_owned());
    println!("worker {generation} stored and read back {back:?}");
}

fn main() {
    trap_exits(true);
    for generation in 1..=3 {
        spawn_link(generation, worker);
        let exit = vm_sdk::mailbox::receive_exit(None).expect("the worker's end");
        println!("worker {generation} ended: {:?}", exit.reason);
        if exit.reason == ExitReason::Normal {
            return;
        }
    }
}
