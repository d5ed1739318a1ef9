//! Templates for new apps, one per guest language: `vm new rust my-app`.
//!
//! The files live in `examples/templates/` and are compiled into the VM, so
//! `vm new` works without the source tree. Until the SDKs are published,
//! generated projects depend on the SDK of the checkout this VM was built from.

use std::path::{Path, PathBuf};

/// A template file: its path in the new project and its text, in which
/// `{{name}}` and the SDK paths (`{{sdk_path}}`, `{{sdk_c_path}}`,
/// `{{sdk_as_path}}`) are replaced.
struct File {
    path: &'static str,
    text: &'static str,
}

const RUST: &[File] = &[
    File {
        path: "Cargo.toml",
        text: include_str!("../../examples/templates/rust/Cargo.toml.tmpl"),
    },
    File {
        path: ".cargo/config.toml",
        text: include_str!("../../examples/templates/rust/.cargo/config.toml"),
    },
    File {
        path: "src/main.rs",
        text: include_str!("../../examples/templates/rust/src/main.rs"),
    },
];

const C: &[File] = &[
    File {
        path: "main.c",
        text: include_str!("../../examples/templates/c/main.c"),
    },
    File {
        path: "build.sh",
        text: include_str!("../../examples/templates/c/build.sh"),
    },
];

const ASSEMBLYSCRIPT: &[File] = &[
    File {
        path: "app.ts",
        text: include_str!("../../examples/templates/assemblyscript/app.ts"),
    },
    File {
        path: "asconfig.json",
        text: include_str!("../../examples/templates/assemblyscript/asconfig.json"),
    },
    File {
        path: "package.json",
        text: include_str!("../../examples/templates/assemblyscript/package.json"),
    },
];

/// Every template's `vm.toml`: what the app needs from the VM (plugins,
/// grants, limits), read by `vm run` and `vm test`.
const APP_CONFIG: &str = include_str!("../../examples/templates/vm.toml");

/// Every template's message types; `vm new` writes it and the code
/// `vm bindgen` generates from it for the language.
const MESSAGES: &str = include_str!("../../examples/templates/messages.wit");

/// The languages `vm new` has templates for.
pub const LANGUAGES: &[&str] = &["rust", "c", "assemblyscript"];

/// Why a project could not be created.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// No template for the language.
    #[error("there is no template for `{0}`; choose one of: {langs}", langs = LANGUAGES.join(", "))]
    UnknownLanguage(String),
    /// The name cannot be a package name.
    #[error(
        "`{0}` is not a valid app name: use letters, digits, `-` and `_`, starting with a letter"
    )]
    BadName(String),
    /// The directory exists.
    #[error("{0} already exists; choose another name or remove it")]
    Exists(PathBuf),
    /// Writing failed.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// Creates `parent/name` from the template for `language`; returns its path.
///
/// # Errors
/// An unknown language, an invalid name, an existing directory, or an I/O error.
pub fn create(language: &str, name: &str, parent: &Path) -> Result<PathBuf, TemplateError> {
    let (files, lang, messages_dir) = match language {
        "rust" => (RUST, vm_bindgen::Lang::Rust, "src"),
        "c" => (C, vm_bindgen::Lang::C, "."),
        "assemblyscript" => (ASSEMBLYSCRIPT, vm_bindgen::Lang::AssemblyScript, "."),
        other => return Err(TemplateError::UnknownLanguage(other.to_string())),
    };
    let valid = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid {
        return Err(TemplateError::BadName(name.to_string()));
    }
    let dir = parent.join(name);
    if dir.exists() {
        return Err(TemplateError::Exists(dir));
    }
    let sdk = |dir: &str| {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(dir);
        path.canonicalize().unwrap_or(path).display().to_string()
    };
    for f in files {
        let path = dir.join(f.path);
        let text = f
            .text
            .replace("{{name}}", name)
            .replace("{{sdk_path}}", &sdk("sdk-rust"))
            .replace("{{sdk_c_path}}", &sdk("sdk-c"))
            .replace("{{sdk_as_path}}", &sdk("sdk-assemblyscript"));
        let write = |p: &Path| {
            std::fs::create_dir_all(p.parent().expect("template paths have a parent"))?;
            std::fs::write(p, &text)?;
            if p.extension().is_some_and(|e| e == "sh") {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755))?;
            }
            Ok::<(), std::io::Error>(())
        };
        write(&path).map_err(|source| TemplateError::Write {
            path: path.clone(),
            source,
        })?;
    }
    // The message types, and the language's code for them.
    let wit = Path::new("messages.wit");
    let schema = vm_bindgen::Schema::from_str(wit, MESSAGES).expect("the template's WIT is valid");
    let generated = vm_bindgen::generate(wit, &schema, lang, &vm_bindgen::Options::default())
        .expect("the template's WIT generates");
    for (path, text) in [
        (
            dir.join(crate::app_config::FILE_NAME),
            APP_CONFIG.to_string(),
        ),
        (dir.join(wit), MESSAGES.to_string()),
        (
            dir.join(messages_dir).join(generated.file_name),
            generated.contents,
        ),
    ] {
        std::fs::write(&path, text).map_err(|source| TemplateError::Write { path, source })?;
    }
    Ok(dir)
}
