//! A new app for the vm:host VM. Build and run it with
//!
//!     cargo build --release
//!     vm run target/wasm32-wasip1/release/{{name}}.wasm -- world
//!
//! and test it with `cargo test` (each `#[vm_sdk::test]` runs on the VM, in
//! a process of its own: `.cargo/config.toml` names `vm test` as the
//! runner). Its message types are in messages.wit; `src/messages.rs` is
//! generated from it (`vm bindgen messages.wit --lang rust --out src`).

mod messages;

use messages::Greet;
use vm_sdk::process::{spawn, Process};
use vm_sdk::Mailbox;

/// Starts a process that greets each name it is sent.
fn start_greeter() -> Process<Greet> {
    spawn((), |(), mailbox: Mailbox<Greet>| {
        while let Ok(Greet { name, reply_to }) = mailbox.receive() {
            Process::<String>::from_id(reply_to).send(format!("hello, {name}!"));
        }
    })
}

/// Asks `greeter` to greet `name` and waits for the greeting.
fn greet(greeter: Process<Greet>, name: &str) -> String {
    greeter.send(Greet {
        name: name.to_string(),
        reply_to: Process::<String>::this().id(),
    });
    Mailbox::<String>::this()
        .receive()
        .expect("the greeter replies")
}

fn main() {
    let name = std::env::args().nth(1).unwrap_or_else(|| "world".into());
    println!("{}", greet(start_greeter(), &name));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[vm_sdk::test]
    fn the_greeter_greets_by_name() {
        assert_eq!(greet(start_greeter(), "Ada"), "hello, Ada!");
    }
}
