// A monitor is used up by demonitor: waiting on it afterwards does not
// compile (and it cannot be copied to keep a second use).
use vm_sdk::process::Process;

fn main() {
    let server = Process::<u32>::this();
    let monitor = server.monitor();
    monitor.demonitor();
    let _ = monitor.wait(None);
}
