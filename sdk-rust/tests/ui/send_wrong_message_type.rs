// A Process<u32> accepts only u32 messages.
use vm_sdk::Process;

fn main() {
    let counter: Process<u32> = Process::from_id(1);
    counter.send("one");
}
