//! Compatibility fixtures: a guest frozen at ABI 1.0 keeps running; guests
//! built for a newer ABI are refused before they run, with an error that names
//! the import, both versions and what to do.

use vm_reference::{ExitReason, LoadError, ModuleInfo, Vm};
use vm_tests::{fixture, run_file};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_built_for_abi_1_0_keeps_running() {
    let run = run_file(&fixture("abi-1.0-guest.wasm"), &[]).await.unwrap();
    assert_eq!(run.outcome.reason, ExitReason::Normal, "{run:?}");
    assert_eq!(run.stdout, "abi 1.0 fixture ok\n");
}

fn load_error(name: &str) -> String {
    let vm = Vm::builder().build().unwrap();
    match vm.load_file(fixture(name)) {
        Err(e @ LoadError::Incompatible { .. }) => e.to_string(),
        other => panic!("{name}: expected an incompatibility, got {other:?}"),
    }
}

/// The ABI version this VM serves, as its messages write it.
fn served() -> String {
    let (major, minor, patch) = vm_abi::ABI_VERSION;
    format!("{major}.{minor}.{patch}")
}

#[test]
fn a_guest_needing_a_newer_minor_is_refused_naming_the_function_and_versions() {
    let text = load_error("abi-1.99-guest.wasm");
    assert!(text.contains("`vm:host/process@1.teleport`"), "{text}");
    assert!(text.contains("built for ABI 1.99.0"), "{text}");
    assert!(text.contains("this VM serves"), "{text}");
    assert!(text.contains(&served()), "{text}");
    assert!(text.contains("run it on a newer VM"), "{text}");
    // The function it does share is not reported.
    assert!(!text.contains("self-id"), "{text}");
}

#[test]
fn a_guest_needing_a_newer_major_is_refused_before_it_runs() {
    let text = load_error("abi-2.0-guest.wasm");
    assert!(text.contains("`vm:host/process@2.self-id`"), "{text}");
    assert!(text.contains("major version 2"), "{text}");
    assert!(text.contains(&format!("serves ABI {}", served())), "{text}");
    assert!(text.contains("a VM that serves ABI 2.x"), "{text}");
}

#[test]
fn inspect_reads_the_required_version_from_imports_and_the_marker() {
    let info = |name: &str| ModuleInfo::read(&std::fs::read(fixture(name)).unwrap()).unwrap();
    let old = info("abi-1.0-guest.wasm");
    assert_eq!(old.required_version(), Some((1, 0, 0)));
    assert_eq!(old.built_for(), Some((1, 0, 0)));
    assert!(old.check().is_empty());
    assert_eq!(
        info("abi-1.99-guest.wasm").required_version(),
        Some((1, 99, 0))
    );
    assert_eq!(
        info("abi-2.0-guest.wasm").required_version(),
        Some((2, 0, 0))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_built_with_wit_bindgen_from_abi_wit_runs() {
    // tests/guests/rust/wit-guest uses no SDK: wit-bindgen generated its
    // imports from abi/wit, naming them `vm:host/process@1.4.0`.
    let run = run_file(&vm_tests::rust_guest("wit-guest"), &[])
        .await
        .unwrap();
    assert_eq!(run.outcome.reason, ExitReason::Normal, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        format!(
            "abi {}\n\
             MessageKind::Data from the child (true): hello from a wit-bindgen process\n\
             the child ended: MessageKind::Down (reason code 0)\n\
             an unknown handle: Some(ErrorCode {{ code: 0, name: \"invalid-handle\", message: \"The handle is not (or no longer) owned by this process: never\\n            issued, dropped, or moved away in a message.\" }})\n",
            served()
        )
    );
}

#[test]
fn full_version_import_modules_follow_the_same_minor_rules() {
    let module = |import: &str| {
        wat::parse_str(format!(
            "(module (import \"{import}\" \"self-id\" (func (result i64))) \
                     (import \"vm:host/process@1.99.0\" \"teleport\" (func)) \
                     (memory (export \"memory\") 1) (func (export \"_start\")))"
        ))
        .unwrap()
    };
    let vm = Vm::builder().build().unwrap();
    let text = match vm.load("newer", &module("vm:host/process@1.0.0")) {
        Err(e @ LoadError::Incompatible { .. }) => e.to_string(),
        other => panic!("expected an incompatibility, got {other:?}"),
    };
    // The function it shares is fine in either form; the one this VM lacks
    // is refused, naming the version the module names.
    assert!(text.contains("`vm:host/process@1.99.0.teleport`"), "{text}");
    assert!(text.contains("built for ABI 1.99.0"), "{text}");
    assert!(!text.contains("self-id"), "{text}");
    let info = ModuleInfo::read(&module("vm:host/process@1.0.0")).unwrap();
    assert_eq!(info.built_for(), Some((1, 99, 0)));
}
