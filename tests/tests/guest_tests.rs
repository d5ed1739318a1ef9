//! `#[vm_sdk::test]`: tests inside a guest, run by `vm test` each in a
//! process of its own, reported as libtest reports them.

use std::time::Duration;
use vm_reference::{run_guest_tests, TestOptions};
use vm_tests::{guest_tests_module, test_vm};

/// The report for `args`, with the timing blanked, and whether all passed.
async fn report(args: &[&str]) -> (String, bool) {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let mut options = TestOptions::from_args(&args).unwrap();
    options.timeout = Duration::from_secs(2);
    let mut out = Vec::new();
    let passed = run_guest_tests(test_vm(), &guest_tests_module(), &options, &mut out)
        .await
        .unwrap();
    let text = String::from_utf8(out).unwrap();
    let text = match text.rfind("finished in ") {
        Some(i) => format!("{}finished in Ts\n\n", &text[..i]),
        None => text,
    };
    (text, passed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_test_runs_in_its_own_process_and_fails_alone() {
    let (text, passed) = report(&[]).await;
    assert!(!passed);
    let lines: Vec<&str> = text.lines().filter(|l| l.starts_with("test ")).collect();
    assert_eq!(
        lines,
        [
            "test tests::a_process_answers ... ok",
            "test tests::adds ... ok",
            "test tests::does_not_panic ... FAILED",
            "test tests::fails_an_assertion ... FAILED",
            "test tests::hangs ... FAILED",
            "test tests::ignored ... ignored",
            "test tests::panics_as_it_should ... ok",
            "test tests::panics_with_other_words ... FAILED",
            "test tests::registers_a_name_first ... ok",
            "test tests::registers_a_name_second ... ok",
            "test result: FAILED. 5 passed; 4 failed; 1 ignored; 0 measured; 0 filtered out; finished in Ts",
        ]
    );
    // A failure shows what the test printed and why it failed.
    for expected in [
        "assertion `left == right` failed: arithmetic",
        "the test did not panic, as #[should_panic] expects",
        "the test ran past the timeout of 2s and was killed",
        "does not contain the expected text \"the right words\"",
    ] {
        assert!(text.contains(expected), "{expected}: {text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_and_ignored_follow_libtest() {
    let (text, passed) = report(&["--nocapture", "adds", "--test-threads", "1"]).await;
    assert!(passed, "{text}");
    assert!(text.starts_with("\nrunning 1 test\ntest tests::adds ... ok\n"));
    assert!(
        text.contains("test result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 9 filtered out")
    );

    let (text, passed) = report(&["--ignored"]).await;
    assert!(!passed, "the ignored test panics when it runs: {text}");
    assert!(text.contains("test tests::ignored ... FAILED"), "{text}");
    assert!(
        text.contains("0 passed; 1 failed; 0 ignored; 0 measured; 9 filtered out"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nocapture_and_show_output_show_what_passing_tests_printed() {
    let test = "panics_as_it_should";
    // Captured by default: a test that passes prints nothing.
    let (text, passed) = report(&[test]).await;
    assert!(passed, "{text}");
    assert!(!text.contains("boom"), "{text}");
    // --nocapture: its output as it ends, then its result line.
    let (text, _) = report(&["--nocapture", test]).await;
    let (said, result) = (
        text.find("boom").expect("the panic's message"),
        text.find("test tests::panics_as_it_should ... ok").unwrap(),
    );
    assert!(said < result, "{text}");
    // --show-output: libtest's "successes" section after the run.
    let (text, _) = report(&["--show-output", test]).await;
    assert!(
        text.contains("\nsuccesses:\n\n---- tests::panics_as_it_should stdout ----\n")
            && text.contains("boom")
            && text.contains("successes:\n    tests::panics_as_it_should\n"),
        "{text}"
    );
}
