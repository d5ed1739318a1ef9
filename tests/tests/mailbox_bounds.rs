//! A process cannot make the VM hold more for it than its mailbox limit:
//! flooding one that never receives ends it with a reason naming the limit,
//! while the VM's memory stays bounded and other processes carry on. In a
//! test binary of its own, so that no other test moves the memory figures.

use vm_reference::ExitReason;
use vm_tests::{run_file_on, rust_guest, test_vm};

/// A figure from /proc/self/status, in KiB.
fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"));
    line.trim().trim_end_matches("kB").trim().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flooded_mailbox_ends_its_process_and_the_vm_stays_bounded() {
    // Load the guest once first, so compiling it does not count below.
    vm_tests::run_file(&rust_guest("scenarios"), &["exit"])
        .await
        .unwrap();
    let before = status_kib("VmRSS");
    // Reset the peak resident size to the current one (Linux 4.0+).
    std::fs::write("/proc/self/clear_refs", "5").unwrap();
    // Without a bound the flooded process would never end: a deadline turns
    // that into a failure rather than a hang.
    let guest = rust_guest("scenarios");
    let flood = run_file_on(test_vm(), &guest, &["mailbox-flood"]);
    let run = tokio::time::timeout(std::time::Duration::from_secs(120), flood)
        .await
        .expect("the flooded processes never ended")
        .unwrap();
    let peak = status_kib("VmHWM");
    assert_eq!(run.outcome.reason, ExitReason::Normal, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        "flooded: mailbox limit exceeded (names the flag: true)\n\
         timers for itself: limit-reached (names the flag: true)\n\
         bystander answers: 42\n"
    );
    // 512 MiB were sent to each of the two, one after the other; the
    // default limit is 64 MiB. What the first flood freed is not always
    // reused by the second (the allocator keeps an arena per thread), so
    // the bound is three limits' worth.
    let grew = peak.saturating_sub(before);
    eprintln!("the VM grew by {grew} KiB");
    assert!(
        grew < 192 << 10,
        "the VM grew by {grew} KiB while processes were flooded"
    );
    // Each crash is reported, naming the flag.
    assert_eq!(
        run.stderr.matches("mailbox limit exceeded").count(),
        1,
        "{}",
        run.stderr
    );
    assert_eq!(
        run.stderr
            .matches("limit-reached: setting a timer of ")
            .count(),
        1,
        "{}",
        run.stderr
    );
}
