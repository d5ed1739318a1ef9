//! Rust, C and AssemblyScript processes exchange typed messages: a Rust
//! process loads the C and AssemblyScript modules at run time, spawns them,
//! and checks their replies (tests/guests/rust/polyglot).

use vm_reference::ExitReason;
use vm_tests::{run_file, rust_guest};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_c_and_assemblyscript_transform_a_typed_message_field_by_field() {
    let run = run_file(&rust_guest("polyglot"), &["transform"])
        .await
        .unwrap();
    assert_eq!(run.outcome.reason, ExitReason::Normal, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        "rust: all six fields transformed as expected\n\
         c: all six fields transformed as expected\n\
         c: garbage gets a decode error: true\n\
         assemblyscript: all six fields transformed as expected\n\
         assemblyscript: garbage gets a decode error: true\n\
         c: lengths: 2^32+1 refused, 2^31 refused, 6 of 5 bytes refused, 5 of 5 bytes read as Ok(5)\n\
         assemblyscript: lengths: 2^32+1 refused, 2^31 refused, 6 of 5 bytes refused, 5 of 5 bytes read as Ok(5)\n\
         assemblyscript: a lone surrogate arrives as Ok(\"a\u{fffd}b\")\n\
         assemblyscript: selective receive by tag: true\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_and_assemblyscript_codecs_reproduce_postcard_bytes_for_random_values() {
    // Each seed drives 250 random values (edge integers, multi-byte UTF-8,
    // lengths across the one-byte varint boundary) through both languages'
    // decoders and encoders; the bytes must come back unchanged.
    for seed in [1u64, 0x5eed, 0xdead_beef, 2026] {
        let run = run_file(
            &rust_guest("polyglot"),
            &["codec", &seed.to_string(), "250"],
        )
        .await
        .unwrap();
        assert_eq!(run.outcome.reason, ExitReason::Normal, "{}", run.stderr);
        assert_eq!(
            run.stdout, "c: 250/250 identical\nassemblyscript: 250/250 identical\n",
            "seed {seed}"
        );
    }
}
