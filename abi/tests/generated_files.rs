//! Generated bindings are committed; this fails when they drift from the WIT.

#[test]
fn committed_bindings_match_the_wit() {
    let root = vm_abi::repo_root();
    let mut stale = Vec::new();
    for file in vm_abi::generate(&root).expect("the WIT generates") {
        let committed = std::fs::read_to_string(root.join(&file.path)).unwrap_or_default();
        if committed != file.contents {
            stale.push(file.path.display().to_string());
        }
    }
    assert!(
        stale.is_empty(),
        "generated files differ from abi/wit: {stale:?}; run `cargo xtask gen` and commit"
    );
}

#[test]
fn every_function_has_a_since_no_newer_than_the_package() {
    for f in vm_abi::FUNCTIONS {
        assert!(
            f.since <= vm_abi::ABI_VERSION,
            "{}.{} since {:?}",
            f.module,
            f.name,
            f.since
        );
        assert!(f.module.starts_with(vm_abi::MODULE_PREFIX));
        assert!(f.module.ends_with(&format!("@{}", vm_abi::ABI_VERSION.0)));
    }
}

#[test]
fn results_through_the_return_pointer_follow_the_canonical_layout() {
    let spawn = vm_abi::function("vm:host/process@1", "spawn").unwrap();
    // result<u64, error-code>: discriminant byte, payload aligned to 8.
    assert_eq!((spawn.result_size, spawn.result_payload_offset), (16, 8));
    let link = vm_abi::function("vm:host/process@1", "link").unwrap();
    // result<_, error-code>: discriminant byte, then the error byte.
    assert_eq!((link.result_size, link.result_payload_offset), (2, 1));
    assert_eq!(spawn.results, &[] as &[vm_abi::CoreType]);
    assert_eq!(spawn.params.last(), Some(&vm_abi::CoreType::I32));
}

#[test]
fn import_modules_name_the_major_or_the_full_version() {
    use vm_abi::split_module;
    assert_eq!(
        split_module("vm:host/process@1"),
        Some(("vm:host/process@1", None))
    );
    assert_eq!(
        split_module("vm:host/process@1.4.0"),
        Some(("vm:host/process@1", Some((1, 4, 0))))
    );
    for odd in [
        "vm:host/process",
        "vm:host/process@1.4",
        "vm:host/process@01",
        "vm:host/process@1.4.0.1",
        "vm:host/process@x",
    ] {
        assert_eq!(split_module(odd), None, "{odd}");
    }
    assert!(vm_abi::function("vm:host/process@1.0.0", "self-id").is_some());
}
