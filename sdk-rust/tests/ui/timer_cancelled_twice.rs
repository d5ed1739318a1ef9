// A timer is used up by cancel: cancelling it twice does not compile.
use std::time::Duration;
use vm_sdk::process::Process;

fn main() {
    let me = Process::<u32>::this();
    let timer = me.send_after(7, Duration::from_secs(1));
    timer.cancel();
    timer.cancel();
}
