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
    // `cargo test` runs its #[vm_sdk::test] on the VM, through the runner
    // its .cargo/config.toml names (here the `vm` of this checkout).
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let report = vm_tests::cargo_test_on_vm(&dir, &[]);
    assert!(
        report.contains("test tests::the_greeter_greets_by_name ... ok")
            && report.contains("test result: ok. 1 passed"),
        "{report}"
    );
    // The app builds no WIT parser: vm_sdk::plugin! is a feature it has not
    // asked for, and the macro says how to ask.
    let tree = std::process::Command::new(&cargo)
        .current_dir(&dir)
        .args([
            "tree",
            "--quiet",
            "--target",
            "all",
            "--edges",
            "normal,build",
        ])
        .output()
        .unwrap();
    let tree = String::from_utf8_lossy(&tree.stdout);
    assert!(
        tree.contains("vm-sdk-macros") && !tree.contains("wit-parser"),
        "{tree}"
    );
    let main = dir.join("src/main.rs");
    let mut source = std::fs::read_to_string(&main).unwrap();
    source.push_str("\nvm_sdk::plugin!(\"kv.wit\");\n");
    std::fs::write(&main, source).unwrap();
    let refused = std::process::Command::new(&cargo)
        .current_dir(&dir)
        .args(["build", "--release", "--quiet", "--target-dir"])
        .arg(&target)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success()
            && stderr.contains("vm_sdk::plugin! needs vm-sdk's `plugin` feature"),
        "{stderr}"
    );
    // A second `vm new` with the same name does not overwrite it.
    let again = vm_reference::template::create("rust", "my-app", &parent).unwrap_err();
    assert!(again
        .to_string()
        .ends_with("already exists; choose another name or remove it"));
    std::fs::remove_dir_all(&parent).unwrap();
}

fn fresh_dir(tag: &str) -> std::path::PathBuf {
    let parent = std::env::temp_dir().join(format!("vm-template-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&parent);
    std::fs::create_dir_all(&parent).unwrap();
    parent
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_c_template_builds_with_its_script_and_runs() {
    let parent = fresh_dir("c");
    let dir = vm_reference::template::create("c", "c-app", &parent).unwrap();
    let status = std::process::Command::new("./build.sh")
        .current_dir(&dir)
        .status()
        .unwrap();
    assert!(status.success());
    let run = run_file(&dir.join("c-app.wasm"), &["Ada"]).await.unwrap();
    assert_eq!(run.outcome.reason, ExitReason::Normal, "{}", run.stderr);
    assert_eq!(run.stdout, "hello, Ada!\n");
    std::fs::remove_dir_all(&parent).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_assemblyscript_template_builds_with_npm_and_runs() {
    let parent = fresh_dir("as");
    let dir = vm_reference::template::create("assemblyscript", "as-app", &parent).unwrap();
    for args in [
        &["install", "--no-audit", "--no-fund"][..],
        &["run", "build"],
    ] {
        let out = std::process::Command::new("npm")
            .current_dir(&dir)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "npm {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let run = run_file(&dir.join("as-app.wasm"), &["Ada"]).await.unwrap();
    assert_eq!(run.outcome.reason, ExitReason::Normal, "{}", run.stderr);
    assert_eq!(run.stdout, "hello, Ada!\n");
    std::fs::remove_dir_all(&parent).unwrap();
}
