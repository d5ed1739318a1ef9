//! What the C SDK's types make the compiler refuse: each case is a short
//! program compiled (syntax and types only) with the flags the README
//! gives, `-Wall -Wextra -Werror -Wpedantic`, beside the right spelling of
//! the same thing, which must compile, so a refusal is never a typo's.

use std::path::PathBuf;
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// Compiles `body` inside a function after `#include <vm.h>` (and any
/// generated `headers`, from examples/c or tests/guests/c); the compiler's
/// diagnostics on failure.
fn compile(prelude: &str, body: &str) -> Result<(), String> {
    let dir = std::env::temp_dir().join(format!("vm-c-compile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let file = dir.join(format!("case{n}.c"));
    std::fs::write(
        &file,
        format!("#include <vm.h>\n{prelude}\nvoid case_under_test(void);\nvoid case_under_test(void) {{\n{body}\n}}\n"),
    )
    .unwrap();
    let out = Command::new("clang")
        .args(["--target=wasm32-wasi", "--sysroot=/usr", "-std=c11"])
        .args(["-Wall", "-Wextra", "-Wpedantic", "-Werror", "-fsyntax-only"])
        .arg("-I")
        .arg(root().join("sdk-c/include"))
        .arg("-I")
        .arg(root().join("examples/c"))
        .arg("-I")
        .arg(root().join("tests/guests/c"))
        .arg(&file)
        .output()
        .expect("clang runs (cargo xtask setup installs it)");
    let _ = std::fs::remove_file(&file);
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// `right` compiles and `wrong` is refused with a diagnostic containing `says`.
fn refused(prelude: &str, right: &str, wrong: &str, says: &str) {
    if let Err(e) = compile(prelude, right) {
        panic!("the right spelling does not compile:\n{right}\n{e}");
    }
    match compile(prelude, wrong) {
        Ok(()) => panic!("compiled, but must be refused:\n{wrong}"),
        Err(e) => assert!(e.contains(says), "refused, but not for `{says}`:\n{e}"),
    }
}

const RECEIVE: &str = "uint8_t buf[16]; vm_message_t m;";

#[test]
fn a_message_kind_where_a_set_of_kinds_goes_is_a_compile_error() {
    refused(
        "",
        &format!(
            "{RECEIVE} (void)vm_receive(0, 0, VM_MESSAGE_KINDS_DOWN, 0, buf, sizeof buf, &m);"
        ),
        &format!("{RECEIVE} (void)vm_receive(0, 0, VM_MESSAGE_KIND_DOWN, 0, buf, sizeof buf, &m);"),
        "vm_message_kinds_t",
    );
}

#[test]
fn sets_of_several_kinds_are_named_and_a_misspelt_kind_is_refused() {
    refused(
        "",
        &format!(
            "{RECEIVE} (void)vm_receive(0, 0, VM_MESSAGE_KINDS(DATA, DOWN, EXIT, INIT), 0, buf, sizeof buf, &m);\n\
             (void)vm_receive(0, 0, vm_message_kinds_union(VM_MESSAGE_KINDS_DATA, VM_MESSAGE_KINDS_EXIT), 0, buf, sizeof buf, &m);"
        ),
        &format!("{RECEIVE} (void)vm_receive(0, 0, VM_MESSAGE_KINDS(DATA, DWON), 0, buf, sizeof buf, &m);"),
        "VM_MESSAGE_KINDS_DWON_BIT",
    );
    // The old spelling of a union, bits or'ed, is refused too: a set is not a number.
    refused(
        "",
        &format!("{RECEIVE} (void)vm_receive(0, 0, VM_MESSAGE_KINDS(DATA, DOWN), 0, buf, sizeof buf, &m);"),
        &format!("{RECEIVE} (void)vm_receive(0, 0, VM_MESSAGE_KINDS_DATA | VM_MESSAGE_KINDS_DOWN, 0, buf, sizeof buf, &m);"),
        "invalid operands",
    );
}
