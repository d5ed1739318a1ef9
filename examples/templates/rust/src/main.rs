//! A new app for the vm:host VM. Build and run it with
//!
//!     cargo build --release
//!     vm run target/wasm32-wasip1/release/{{name}}.wasm -- world

use serde::{Deserialize, Serialize};
use vm_sdk::process::{spawn, Process};
use vm_sdk::Mailbox;

/// What the greeter process accepts.
#[derive(Serialize, Deserialize)]
struct Greet {
    name: String,
    reply_to: Process<String>,
}

fn main() {
    let name = std::env::args().nth(1).unwrap_or_else(|| "world".into());
    let greeter = spawn((), |(), mailbox: Mailbox<Greet>| {
        while let Ok(Greet { name, reply_to }) = mailbox.receive() {
            reply_to.send(format!("hello, {name}!"));
        }
    });
    greeter.send(Greet { name, reply_to: Process::this() });
    let greeting = Mailbox::<String>::this().receive().expect("the greeter replies");
    println!("{greeting}");
}
