//! The README's "Write one" plugin, built from the README's own text: its
//! `Cargo.toml`, WIT and `src/lib.rs` blocks (fenced with `file=PATH`) are
//! written out as a crate, built for wasm32-wasip1 as a newcomer would, and
//! the plugin is called from a guest. A snippet that stops compiling, or a
//! path that stops agreeing with another, fails here.

use std::path::PathBuf;
use std::process::Command;
use vm_reference::ExitReason;
use vm_tests::{root, test_vm};

/// The README's blocks marked `file=PATH` between "**Write one.**" and
/// "**What a plugin may do.**": each path and its text.
fn readme_files() -> Vec<(String, String)> {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let start = readme
        .find("**Write one.**")
        .expect("the README's Write one");
    let end = start
        + readme[start..]
            .find("**What a plugin may do.**")
            .expect("its end");
    let mut files = Vec::new();
    let mut lines = readme[start..end].lines();
    while let Some(line) = lines.next() {
        let Some(path) = line.strip_prefix("```").and_then(|info| {
            info.split_whitespace()
                .find_map(|w| w.strip_prefix("file="))
        }) else {
            continue;
        };
        let text: Vec<&str> = lines.by_ref().take_while(|l| *l != "```").collect();
        files.push((path.to_string(), text.join("\n") + "\n"));
    }
    files
}

#[tokio::test]
async fn the_readmes_plugin_builds_as_written_and_answers() {
    let files = readme_files();
    let paths: Vec<&str> = files.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(paths, ["Cargo.toml", "wit/textstats.wit", "src/lib.rs"]);
    // Outside the repository, as a user's crate is (inside, cargo would
    // take it for a member of the workspace); compiled into the guests'
    // target directory, so it is built once.
    let dir = std::env::temp_dir().join(format!("vm-readme-plugin-{}", std::process::id()));
    for (path, text) in &files {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    let target = root().join("target/guests");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(&dir)
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip1",
            "--target-dir",
        ])
        .arg(&target)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        out.status.success(),
        "the README's plugin does not build:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let plugin: PathBuf = target.join("wasm32-wasip1/release/textstats.wasm");
    let vm = test_vm().plugin_file(&plugin).build().unwrap();
    let guest = r#"(module
        (import "plugin:textstats/stats@1" "words" (func $words (param i32 i32) (result i32)))
        (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
        (memory (export "memory") 1)
        (data (i32.const 16) "the VM counts  four words")
        (func (export "_start") (call $exit (call $words (i32.const 16) (i32.const 25)))))"#;
    let module = vm.load("count.wat", guest.as_bytes()).unwrap();
    let outcome = vm.run(&module, &["count"]).await.unwrap();
    assert_eq!(
        (outcome.status, outcome.reason),
        (5, ExitReason::Exit("exit status 5".into())),
        "`the VM counts  four words`"
    );
    // And it is a plugin, not an app: running it says how to load it.
    let module = vm.load_file(&plugin).unwrap();
    let text = vm
        .run(&module, &["textstats"])
        .await
        .unwrap_err()
        .to_string();
    assert!(
        text.contains("textstats.wasm is not an app: it is a plugin (plugin:textstats@1.0.0)")
            && text.contains("vm run --plugin textstats.wasm app.wasm"),
        "{text}"
    );
}
