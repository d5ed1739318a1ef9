// A #[vm_sdk::test] runs as a process's entry: it takes nothing.
#[vm_sdk::test]
fn takes_a_number(n: u32) {
    assert!(n > 0);
}

#[vm_sdk::test(timeout = 5)]
fn has_options() {}

#[vm_sdk::test]
fn returns_a_result() -> Result<(), String> {
    Err("an Err would pass silently".into())
}

fn main() {}
