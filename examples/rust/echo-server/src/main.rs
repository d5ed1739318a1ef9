//! A TCP echo server with one process per connection.
//!
//! `vm run --allow-net 127.0.0.1 echo-server.wasm -- 127.0.0.1:7000`
//! (port 0 picks a free port). The first line printed is the bound address.

use std::io::{Read, Write};
use vm_sdk::net::{TcpListener, TcpStream};
use vm_sdk::process::Spawn;
use vm_sdk::Mailbox;

fn echo(mut stream: TcpStream, _: Mailbox<()>) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if stream.write_all(&buf[..n]).is_err() {
                    return;
                }
            }
        }
    }
}

fn main() {
    let address = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".into());
    let listener = match TcpListener::bind(address.as_str()) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("echo-server: cannot listen on {address}: {e}");
            std::process::exit(1);
        }
    };
    println!(
        "listening on {}",
        listener
            .local_addr()
            .expect("a bound listener has an address")
    );
    for stream in listener.incoming() {
        match stream {
            // The stream moves into the new process with the capture. At the
            // VM's process limit the spawn is refused and the stream comes
            // back: dropping it closes that connection, and the server goes
            // on serving the others.
            Ok(stream) => {
                if let Err(refused) = Spawn::new().start(stream, echo) {
                    eprintln!("echo-server: {}; closing that connection", refused.error);
                }
            }
            Err(e) => eprintln!("echo-server: accept failed: {e}"),
        }
    }
}
