//! `vm new rust NAME` creates an app that builds with cargo and runs.

use vm_reference::ExitReason;
use vm_tests::{root, run_file};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rust_template_builds_and_runs() {
    let parent = std::env::temp_dir().join(format!("vm-template-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&parent);
    std::fs::create_dir_all(&parent).unwrap();
    let dir = vm_reference::template::create("rust", "my-app", &parent).unwrap();
    let target = root().join("target/guests");
    let status =
        std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .current_dir(&dir)
            .args(["build", "--release", "--quiet", "--target-dir"])
            .arg(&target)
            .status()
            .unwrap();
    assert!(status.success());
    let run = run_file(&target.join("wasm32-wasip1/release/my-app.wasm"), &["Ada"])
        .await
        .unwrap();
    assert_eq!(run.outcome.reason, ExitReason::Normal, "{}", run.stderr);
    assert_eq!(run.stdout, "hello, Ada!\n");
    // A second `vm new` with the same name does not overwrite it.
    let again = vm_reference::template::create("rust", "my-app", &parent).unwrap_err();
    assert!(again
        .to_string()
        .ends_with("already exists; choose another name or remove it"));
    std::fs::remove_dir_all(&parent).unwrap();
}
