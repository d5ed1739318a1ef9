//! Tests written with `#[vm_sdk::test]`, built by `cargo test` and run by
//! `vm test` (tests/tests/guest_tests.rs checks its report): each kind of
//! outcome once, and two tests that would collide if they shared a VM's
//! state.

fn main() {
    println!("run me with `vm test` after `cargo test --no-run`");
}

#[cfg(test)]
mod tests {
    use std::time::Duration;
    use vm_sdk::process::{spawn, Process};
    use vm_sdk::Mailbox;

    #[vm_sdk::test]
    fn adds() {
        assert_eq!(2 + 2, 4);
    }

    #[vm_sdk::test]
    fn fails_an_assertion() {
        assert_eq!(2 + 2, 5, "arithmetic");
    }

    #[vm_sdk::test]
    #[should_panic]
    fn panics_as_it_should() {
        panic!("boom");
    }

    #[vm_sdk::test]
    #[should_panic(expected = "the right words")]
    fn panics_with_other_words() {
        panic!("the wrong words");
    }

    #[vm_sdk::test]
    #[should_panic]
    fn does_not_panic() {}

    #[vm_sdk::test]
    #[ignore]
    fn ignored() {
        panic!("an ignored test ran");
    }

    #[vm_sdk::test]
    fn hangs() {
        loop {
            std::hint::spin_loop();
        }
    }

    #[vm_sdk::test]
    fn a_process_answers() {
        let me = Process::<u32>::this();
        let doubler = spawn(me, |reply: Process<u32>, m: Mailbox<u32>| {
            let n = m.receive().unwrap();
            reply.send(n * 2);
        });
        doubler.send(21);
        let got = Mailbox::<u32>::this()
            .receive_timeout(Duration::from_secs(10))
            .unwrap();
        assert_eq!(got, 42);
    }

    /// Registers a name and leaves a process holding another: the next
    /// test must not see either.
    #[vm_sdk::test]
    fn registers_a_name_first() {
        Process::<()>::this().register("only-one").unwrap();
        let keeper = spawn((), |(), m: Mailbox<()>| {
            let _ = m.receive();
        });
        keeper.register("kept").unwrap();
    }

    #[vm_sdk::test]
    fn registers_a_name_second() {
        assert!(
            Process::<()>::lookup("kept").is_none(),
            "a process outlived its test"
        );
        Process::<()>::this().register("only-one").unwrap();
    }
}
