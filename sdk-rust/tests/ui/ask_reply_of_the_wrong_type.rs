// Each message names its reply type through its ReplyTo, so a caller that
// expects another type does not compile: no impossible match arms.
use serde::{Deserialize, Serialize};
use vm_sdk::request::ReplyTo;
use vm_sdk::Process;

#[derive(Serialize, Deserialize)]
enum Kv {
    Count(ReplyTo<u64>),
}

fn main() {
    let kv = Process::<Kv>::from_id(1);
    let _name: String = kv.ask(Kv::Count, None).unwrap();
}
