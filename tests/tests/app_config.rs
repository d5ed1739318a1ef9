//! An app's `vm.toml`: the plugins, grants and limits it needs, read by
//! `vm run` and `vm test` (so by `cargo run` and `cargo test`) from the
//! directory they start in or one above, with command-line flags winning.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use vm_tests::{kv_plugin, rust_guest, vm_command, KV_TRANSCRIPT};

/// A fresh app directory holding `vm.toml` with `config`, and a
/// subdirectory to start from.
fn app(tag: &str, config: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("vm-app-config-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("src/deeper")).unwrap();
    std::fs::write(dir.join("vm.toml"), config).unwrap();
    dir
}

fn vm_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(vm_command())
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn vm_run_and_vm_test_load_the_plugins_an_apps_vm_toml_names() {
    let guest = rust_guest("kv-guest");
    let guest = guest.to_str().unwrap();
    // Without the file, the plugin is missing.
    let plugin = kv_plugin();
    let dir = app(
        "kv",
        &format!("plugins = [{:?}]\n", plugin.to_str().unwrap()),
    );
    let out = vm_in(&dir, &["run", "--no-config", guest]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("which is not loaded"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // With it, from the app's directory or one below, as cargo runs.
    for start in [dir.clone(), dir.join("src/deeper")] {
        for command in ["run", "test"] {
            let out = vm_in(&start, &[command, guest]);
            assert!(
                out.status.success(),
                "vm {command} from {}: {}",
                start.display(),
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(String::from_utf8_lossy(&out.stdout), KV_TRANSCRIPT);
        }
    }
    // A file others may write is not read, with a warning saying why.
    use std::os::unix::fs::PermissionsExt;
    let config = dir.join("vm.toml");
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o666)).unwrap();
    let out = vm_in(&dir, &["run", guest]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("vm: warning: not reading") && stderr.contains("others may write it"),
        "{stderr}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_flag_wins_over_the_file_and_a_bad_file_is_named() {
    // A relative path, from the file's directory.
    let plugin = kv_plugin();
    let dir = app("limits", "plugins = [\"kv.wasm\"]\nmax-memory = \"2M\"\n");
    std::fs::copy(&plugin, dir.join("kv.wasm")).unwrap();
    let guest = rust_guest("kv-guest");
    let guest = guest.to_str().unwrap();
    // 2 MiB is too little for the guest and its plugin together...
    let out = vm_in(&dir, &["run", guest]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("memory limit exceeded"), "{stderr}");
    // ...and the command line's limit wins.
    let out = vm_in(&dir, &["run", "--max-memory", "64M", guest]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A key that is not a flag is named, with the file.
    std::fs::write(dir.join("vm.toml"), "plugin = [\"kv.wasm\"]\n").unwrap();
    let out = vm_in(&dir, &["run", guest]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("vm.toml: unknown field `plugin`") && stderr.contains("plugins"),
        "{stderr}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn every_template_writes_a_vm_toml_that_vm_reads() {
    let parent = std::env::temp_dir().join(format!("vm-app-config-new-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&parent);
    std::fs::create_dir_all(&parent).unwrap();
    for language in vm_reference::template::LANGUAGES {
        let dir = vm_reference::template::create(language, "app", &parent.join(language)).unwrap();
        let config = vm_reference::AppConfig::read(&dir.join("vm.toml")).unwrap();
        assert!(config.plugins.is_empty(), "{language}");
    }
    std::fs::remove_dir_all(&parent).unwrap();
}
