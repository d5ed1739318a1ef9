//! The smallest app: the root process spawns a greeter and waits for it.

use vm_sdk::process::{self, spawn};
use vm_sdk::Mailbox;

fn main() {
    println!("hello from the root process {}", process::self_id());
    let greeter = spawn(String::from("world"), |name, mailbox: Mailbox<u64>| {
        let parent = mailbox.receive().expect("the root sends its id");
        println!("hello, {name}, from process {}", process::self_id());
        vm_sdk::Process::<()>::from_id(parent).send(());
    });
    greeter.send(process::self_id());
    Mailbox::<()>::this()
        .receive()
        .expect("the greeter answers");
    println!("goodbye");
}
