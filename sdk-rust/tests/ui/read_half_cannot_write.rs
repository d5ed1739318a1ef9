// A read half only reads: writing through it does not compile.
use std::io::Write;
use vm_sdk::net::TcpStream;

fn main() {
    let stream = TcpStream::connect("127.0.0.1:80").unwrap();
    let (mut read, _write) = stream.into_split();
    read.write_all(b"hello").unwrap();
}
