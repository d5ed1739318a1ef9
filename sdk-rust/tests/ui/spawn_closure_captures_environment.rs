// A spawned function runs in another process's memory: it cannot borrow or
// move this process's locals, only receive them through the capture.
use vm_sdk::{spawn, Mailbox};

fn main() {
    let greeting = String::from("hello");
    spawn((), move |(), _mailbox: Mailbox<()>| println!("{greeting}"));
}
