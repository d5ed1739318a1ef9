// A spawned function's capture crosses into another process, so it must be serializable.
use vm_sdk::{spawn, Mailbox};

struct Connection;

fn main() {
    spawn(Connection, |_conn, _mailbox: Mailbox<()>| {});
}
