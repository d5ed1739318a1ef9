//! A new app for the vm:host VM. Build and run it with
//!
//!     cargo build --release
//!     vm run target/wasm32-wasip1/release/{{name}}.wasm -- world
//!
//! Its message types are in messages.wit; `src/messages.rs` is generated
//! from it (`vm bindgen messages.wit --lang rust --out src`).

mod messages;

use messages::Greet;
use vm_sdk::process::{spawn, Process};
use vm_sdk::Mailbox;

fn main() {
    let name = std::env::args().nth(1).unwrap_or_else(|| "world".into());
    let greeter = spawn((), |(), mailbox: Mailbox<Greet>| {
        while let Ok(Greet { name, reply_to }) = mailbox.receive() {
            Process::<String>::from_id(reply_to).send(format!("hello, {name}!"));
        }
    });
    greeter.send(Greet {
        name,
        reply_to: Process::<String>::this().id(),
    });
    let greeting = Mailbox::<String>::this().receive().expect("the greeter replies");
    println!("{greeting}");
}
