// A TCP echo server with one process per connection:
//     vm run --allow-net 127.0.0.1 echo-server.wasm -- 127.0.0.1:7000
// (port 0 picks a free port). The first line printed is the bound address.
import { Mailbox, TcpListener, TcpStream, spawn, takeHandle, print, eprint, exit, args } from "../../sdk-assemblyscript/assembly/index";

function echo(_nothing: i32, _mailbox: Mailbox<Uint8Array>): void {
  // The stream moved here with the spawn; take it before any receive.
  const stream = new TcpStream(takeHandle(0).value);
  const buf = new Uint8Array(16 * 1024);
  while (true) {
    const n = stream.read(buf);
    if (!n.isOk || n.value == 0) return;
    if (!stream.writeAll(buf.subarray(0, n.value)).isOk) return;
  }
}

export function _start(): void {
  const argv = args();
  const address = argv.length > 1 ? argv[1] : "127.0.0.1:0";
  const bound = TcpListener.bind(address);
  if (!bound.isOk) {
    eprint("echo-server: cannot listen on " + address + ": " + bound.error.message);
    return exit("cannot listen");
  }
  const listener = bound.value;
  print("listening on " + listener.localAddress().value);
  while (true) {
    const accepted = listener.accept();
    if (!accepted.isOk) continue;
    const stream = accepted.value;
    // At the VM's process limit the spawn fails and the stream stays ours:
    // close that connection and go on serving the others.
    const spawned = spawn(echo, 0, { handles: [stream] });
    if (!spawned.isOk) {
      eprint("echo-server: " + spawned.error.message + "; closing that connection");
      stream.close();
    }
  }
}
