// A TCP echo server with one process per connection:
//     vm run --allow-net 127.0.0.1 echo-server.wasm -- 127.0.0.1:7000
// (port 0 picks a free port). The first line printed is the bound address.
import { TcpListener, TcpStream, spawn, takeHandle, print, eprint, exit, lastError, args } from "../../sdk-assemblyscript/assembly/index";

function echo(_capture: Uint8Array): void {
  // The stream moved here with the spawn; take it before any receive.
  const stream = new TcpStream(takeHandle(0));
  const buf = new Uint8Array(16 * 1024);
  while (true) {
    const n = stream.read(buf);
    if (n <= 0) return;
    if (!stream.writeAll(buf.subarray(0, n))) return;
  }
}

export function _start(): void {
  const argv = args();
  const address = argv.length > 1 ? argv[1] : "127.0.0.1:0";
  const listener = TcpListener.bind(address);
  if (listener == null) {
    eprint("echo-server: cannot listen on " + address + ": " + lastError());
    exit("cannot listen");
  }
  print("listening on " + listener!.localAddress()!);
  while (true) {
    const stream = listener!.accept();
    if (stream == null) continue;
    // At the VM's process limit the spawn fails and the stream stays ours:
    // close that connection and go on serving the others.
    if (spawn<TcpStream>(echo, new Uint8Array(0), false, [stream]) == null) {
      eprint("echo-server: " + lastError() + "; closing that connection");
      stream.close();
    }
  }
}
