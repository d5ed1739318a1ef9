//! The native-hash example's plugin offered to a cluster by the one node
//! that loads it (`--native-plugin libhash.so`), to nodes kept safe from
//! native code: `hash-service SAFE` first asks node SAFE to run a process
//! of this module (which imports the plugin) and prints the refusal, then
//! starts a process that hashes for anyone, registered under the global
//! name `hasher`, prints `hasher registered`, and waits for good. A
//! process on a safe node uses the plugin by asking it.

use vm_sdk::node::Node;
use vm_sdk::process::{self, Spawn};
use vm_sdk::request::Request;
use vm_sdk::Mailbox;

vm_sdk::plugin!("../../../../examples/plugins/native-hash/hash.wit");

fn main() {
    let safe = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .map(Node::from_slot)
        .expect("usage: hash-service SAFE_SLOT");
    // Heard first, so that its announcement is known.
    for _ in 0..3000 {
        if Node::up().contains(&safe) {
            break;
        }
        process::sleep(std::time::Duration::from_millis(10));
    }
    match Spawn::new().on(safe).start((), |(), _: Mailbox<()>| {}) {
        Ok(p) => println!("node {} ran process {}", safe.slot(), p.id()),
        Err(e) => println!("refused: {:?}: {}", e.error.code(), e.error.message()),
    }
    let hasher = process::spawn((), |(), asks: Mailbox<Request<String, String>>| {
        while let Ok(ask) = asks.receive() {
            let hex = hash::digest::hex(ask.body().as_bytes());
            ask.reply(hex);
        }
    });
    hasher.register_global("hasher").unwrap();
    println!("hasher registered");
    let _ = Mailbox::<()>::this().receive();
}
