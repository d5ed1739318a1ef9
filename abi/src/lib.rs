//! The host ABI of the VM: the contract between the reference VM and every
//! guest SDK.
//!
//! The ABI is written once, as WIT, in `abi/wit/` (package `vm:host`, one
//! interface per concept). This crate reads it with `wit-parser` ([`model`]),
//! emits every language's raw bindings and the VM's manifest ([`generate`]),
//! and exposes the manifest ([`FUNCTIONS`]) and the ABI's types (for example
//! [`ErrorCode`]) to the VM. `abi/README.md` is the normative document.
//!
//! ```
//! let spawn = vm_abi::function("vm:host/process@1", "spawn").unwrap();
//! assert_eq!(spawn.since, (1, 0, 0));
//! assert_eq!(vm_abi::ErrorCode::from_raw(0), Some(vm_abi::ErrorCode::InvalidHandle));
//! ```

pub mod emit_as_plugin;
pub mod emit_assemblyscript;
pub mod emit_c;
pub mod emit_c_plugin;
pub mod emit_rust;
pub mod emit_rust_plugin;
mod generated;
pub mod model;
pub mod plugin;
pub mod status;

pub use generated::*;

use anyhow::Result;
use std::path::{Path, PathBuf};

/// A core WebAssembly value type in a function's lowered signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CoreType {
    /// `i32`
    I32,
    /// `i64`
    I64,
    /// `f32` (only plugin functions use it)
    F32,
    /// `f64` (only plugin functions use it)
    F64,
}

/// One function of the ABI as the VM sees it: where it is imported from, its
/// lowered core signature, and the version it arrived in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FunctionSpec {
    /// The WIT interface (`process`).
    pub interface: &'static str,
    /// The core import module (`vm:host/process@1`).
    pub module: &'static str,
    /// The core import name (`spawn`).
    pub name: &'static str,
    /// Lowered parameter types, including a trailing return pointer if any.
    pub params: &'static [CoreType],
    /// Lowered result types.
    pub results: &'static [CoreType],
    /// The ABI version that added it.
    pub since: (u32, u32, u32),
    /// For `result<T, error-code>` returns: size of the result in memory (0 otherwise).
    pub result_size: u32,
    /// For `result<T, error-code>` returns: offset of the payload.
    pub result_payload_offset: u32,
}

/// Every function's import as WebAssembly text, named `$INTERFACE.NAME`
/// (`$process.spawn`), with its manifest signature: the raw binding for
/// guests written by hand in the text format (tests, the fuzzer).
pub fn wat_imports() -> String {
    let ty = |ts: &[CoreType]| {
        ts.iter()
            .map(|t| if *t == CoreType::I32 { "i32" } else { "i64" })
            .collect::<Vec<_>>()
            .join(" ")
    };
    FUNCTIONS
        .iter()
        .map(|f| {
            format!(
                "(import \"{}\" \"{}\" (func ${}.{} (param {}) (result {})))\n",
                f.module,
                f.name,
                f.interface,
                f.name,
                ty(f.params),
                ty(f.results)
            )
        })
        .collect()
}

/// The manifest entry for an import, if this ABI has it.
pub fn function(module: &str, name: &str) -> Option<&'static FunctionSpec> {
    let (module, _) = split_module(module)?;
    FUNCTIONS
        .iter()
        .find(|f| f.module == module && f.name == name)
}

/// A version: major, minor, patch.
pub type Version = (u32, u32, u32);

/// An import module as the VM knows it, `vm:host/IFACE@MAJOR`, and the full
/// version it named, if it named one: SDKs import `vm:host/process@1`,
/// while wit-bindgen imports `vm:host/process@1.4.0` (the package version it
/// was generated from). Both forms name the same functions; `None` for a
/// module without a version.
pub fn split_module(module: &str) -> Option<(&str, Option<Version>)> {
    let (_, version) = module.rsplit_once('@')?;
    let mut parts = version.split('.');
    let major: u32 = parts.next()?.parse().ok()?;
    let base = &module[..module.len() - version.len() + major.to_string().len()];
    match (parts.next(), parts.next(), parts.next()) {
        (None, None, None) if version == major.to_string() => Some((base, None)),
        (Some(minor), Some(patch), None) => {
            let full = (major, minor.parse().ok()?, patch.parse().ok()?);
            (version == format!("{}.{}.{}", full.0, full.1, full.2)).then_some((base, Some(full)))
        }
        _ => None,
    }
}

/// The import-module prefix shared by every interface (`vm:host/`).
pub const MODULE_PREFIX: &str = "vm:host/";

/// The name of the custom section in which SDKs record the ABI version a guest
/// was built against (lines of `vm:host@MAJOR.MINOR.PATCH`).
pub const MARKER_SECTION: &str = "vm:abi";

/// A file the generator writes, relative to the repository root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedFile {
    /// Path relative to the repository root.
    pub path: PathBuf,
    /// Full contents.
    pub contents: String,
}

/// The repository root (the parent of this crate).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("abi/ has a parent")
        .to_path_buf()
}

/// Generates every binding from the WIT in `root/abi/wit`.
///
/// # Errors
/// Fails when the WIT does not parse or leaves the subset the lowering covers.
pub fn generate(root: &Path) -> Result<Vec<GeneratedFile>> {
    let abi = model::Abi::load(&root.join("abi/wit"))?;
    let file = |path: &str, contents: String| GeneratedFile {
        path: PathBuf::from(path),
        contents,
    };
    Ok(vec![
        file("abi/src/generated.rs", rustfmt(emit_rust::manifest(&abi))?),
        file("sdk-rust/src/abi.rs", rustfmt(emit_rust::sdk(&abi))?),
        file("sdk-c/include/vm_abi.h", emit_c::header(&abi)),
        file(
            "sdk-assemblyscript/assembly/abi.ts",
            emit_assemblyscript::declarations(&abi),
        ),
        file(
            "sdk-assemblyscript/assembly/statuses.ts",
            emit_assemblyscript::statuses(&abi),
        ),
    ])
}

/// Formats Rust source with `rustfmt`, so generated files pass `cargo fmt --check`.
fn rustfmt(source: String) -> Result<String> {
    use anyhow::Context;
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new("rustfmt")
        .args(["--edition", "2021", "--emit", "stdout"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("running rustfmt (install it with `rustup component add rustfmt`)")?;
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(source.as_bytes())?;
    let out = child.wait_with_output()?;
    anyhow::ensure!(
        out.status.success(),
        "rustfmt rejected generated code: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8(out.stdout)?)
}

/// Formats Rust source with `rustfmt` when it is installed (as a user of
/// `vm bindgen` may not have it, the source is returned as it is otherwise).
pub fn format_rust(source: String) -> String {
    rustfmt(source.clone()).unwrap_or(source)
}

/// Writes the generated files under `root`, returning the paths that changed.
///
/// # Errors
/// Fails when generation fails or a file cannot be written.
pub fn write_generated(root: &Path) -> Result<Vec<PathBuf>> {
    let mut changed = Vec::new();
    for f in generate(root)? {
        let path = root.join(&f.path);
        if std::fs::read_to_string(&path).ok().as_deref() != Some(f.contents.as_str()) {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            std::fs::write(&path, &f.contents)?;
            changed.push(f.path);
        }
    }
    Ok(changed)
}
