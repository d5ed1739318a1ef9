//! A process that stores a key in kv, hibernates, and looks the key up
//! when it wakes: what a plugin's state does across hibernation. A wasm
//! plugin's instance lived in the store the process gave up, so the key is
//! gone; a native plugin's state is the host's, so it stays.

vm_sdk::plugin!("../../../../examples/plugins/kv/kv.wit");

use vm_sdk::process::{hibernate, spawn, Process};
use vm_sdk::Mailbox;

fn sleeper(root: Process<String>, _: Mailbox<()>) {
    kv::store::set("before", b"sleep");
    root.send("stored".into());
    hibernate(root, |root: Process<String>, m: Mailbox<()>| {
        let _ = m.receive();
        let found = kv::store::get("before").map(|v| String::from_utf8_lossy(&v).into_owned());
        root.send(format!("after waking: {found:?}"));
    });
}

fn main() {
    let me = Process::<String>::this();
    let inbox = Mailbox::<String>::this();
    let s = spawn(me, sleeper);
    println!("{}", inbox.receive().unwrap());
    // Wake it once it has hibernated: the message waits in its mailbox
    // if it has not yet.
    s.send(());
    println!("{}", inbox.receive().unwrap());
}
