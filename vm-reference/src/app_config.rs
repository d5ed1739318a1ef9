//! `vm.toml`: what an app needs from the VM, in one place beside its code.
//!
//! `vm run` and `vm test` (and so `cargo run` and `cargo test`, whose
//! runner is `vm test`) read the first `vm.toml` in the directory they start
//! in or one above it, as cargo finds `Cargo.toml`. Each key is the
//! `vm run` flag of the same name; a flag given on the command line wins
//! over the file's value, and lists (plugins, grants) add to it. Paths are
//! relative to the file. `--no-config` reads none.
//!
//! A file can load native code and grant the network, so one that someone
//! else could have written is not read: it must belong to the user running
//! the VM (or to root), and neither it nor its directory may be writable by
//! others (as git refuses a repository another user owns). Such a file is
//! skipped with a warning, and the search goes on above it.
//!
//! ```toml
//! plugins = ["plugins/kv.wasm"]
//! native-plugins = []
//! allow-net = ["127.0.0.1:6379"]
//! max-memory = "128M"
//! ```

use crate::net_policy::NetRule;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The file's name.
pub const FILE_NAME: &str = "vm.toml";

/// An app's `vm.toml`, read and checked.
#[derive(Debug, Clone, Default)]
pub struct AppConfig {
    /// Where it was read from.
    pub path: PathBuf,
    /// `--plugin`, each resolved against the file's directory.
    pub plugins: Vec<PathBuf>,
    /// `--native-plugin`, resolved likewise.
    pub native_plugins: Vec<PathBuf>,
    /// `--allow-net`.
    pub allow_net: Vec<NetRule>,
    /// `--max-memory`, in bytes.
    pub max_memory: Option<usize>,
    /// `--max-stack`, in bytes.
    pub max_stack: Option<usize>,
    /// `--max-mailbox`, in bytes.
    pub max_mailbox: Option<usize>,
    /// `--max-host-memory`, in bytes.
    pub max_host_memory: Option<usize>,
    /// `--max-sockets`.
    pub max_sockets: Option<u32>,
    /// `--max-processes`.
    pub max_processes: Option<u32>,
    /// `--max-instances`.
    pub max_instances: Option<u32>,
    /// `--max-plugin-instances`.
    pub max_plugin_instances: Option<u32>,
    /// `--threads`.
    pub threads: Option<u16>,
}

/// The file as written: sizes as numbers or text (`"64M"`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct Written {
    #[serde(default)]
    plugins: Vec<String>,
    #[serde(default)]
    native_plugins: Vec<String>,
    #[serde(default)]
    allow_net: Vec<String>,
    max_memory: Option<Size>,
    max_stack: Option<Size>,
    max_mailbox: Option<Size>,
    max_host_memory: Option<Size>,
    max_sockets: Option<u32>,
    max_processes: Option<u32>,
    max_instances: Option<u32>,
    max_plugin_instances: Option<u32>,
    threads: Option<u16>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Size {
    Bytes(u64),
    Text(String),
}

impl AppConfig {
    /// The first `vm.toml` in `start` or a directory above it, read; `None`
    /// when there is none.
    ///
    /// # Errors
    /// The file cannot be read, is not TOML, has a key that is not a flag
    /// (naming it), or a value a flag would refuse.
    pub fn find(start: &Path) -> anyhow::Result<Option<AppConfig>> {
        for dir in start.ancestors() {
            let path = dir.join(FILE_NAME);
            if !path.is_file() {
                continue;
            }
            match untrusted(&path) {
                None => return AppConfig::read(&path).map(Some),
                Some(why) => eprintln!("vm: warning: not reading {}: {why}", path.display()),
            }
        }
        Ok(None)
    }

    /// Reads the `vm.toml` at `path`.
    ///
    /// # Errors
    /// As [`AppConfig::find`].
    pub fn read(path: &Path) -> anyhow::Result<AppConfig> {
        use anyhow::Context;
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        AppConfig::parse(path, &text)
    }

    /// Reads `vm.toml` text; `path` names it in errors, and its directory
    /// is where relative paths start.
    ///
    /// # Errors
    /// As [`AppConfig::find`].
    pub fn parse(path: &Path, text: &str) -> anyhow::Result<AppConfig> {
        let at = |e: String| anyhow::anyhow!("{}: {e}", path.display());
        let written: Written = toml::from_str(text).map_err(|e| {
            at(format!(
                "{} (each key is a `vm run` flag: plugins, native-plugins, allow-net, max-memory, max-stack, max-mailbox, max-host-memory, max-sockets, max-processes, max-instances, max-plugin-instances, threads)",
                e.message()
            ))
        })?;
        let dir = path.parent().unwrap_or(Path::new("."));
        let size = |key: &str, s: Option<Size>| -> anyhow::Result<Option<usize>> {
            match s {
                None => Ok(None),
                Some(Size::Bytes(n)) => usize::try_from(n)
                    .map(Some)
                    .map_err(|_| at(format!("{key} = {n} is too large"))),
                Some(Size::Text(t)) => crate::parse_size(&t)
                    .map(Some)
                    .map_err(|e| at(format!("{key}: {e}"))),
            }
        };
        let allow_net = written
            .allow_net
            .iter()
            .map(|r| NetRule::parse(r).map_err(|e| at(format!("allow-net: {e}"))))
            .collect::<anyhow::Result<_>>()?;
        if written.threads == Some(0) {
            return Err(at("threads must be at least 1".into()));
        }
        Ok(AppConfig {
            path: path.to_path_buf(),
            plugins: written.plugins.iter().map(|p| dir.join(p)).collect(),
            native_plugins: written.native_plugins.iter().map(|p| dir.join(p)).collect(),
            allow_net,
            max_memory: size("max-memory", written.max_memory)?,
            max_stack: size("max-stack", written.max_stack)?,
            max_mailbox: size("max-mailbox", written.max_mailbox)?,
            max_host_memory: size("max-host-memory", written.max_host_memory)?,
            max_sockets: written.max_sockets,
            max_processes: written.max_processes,
            max_instances: written.max_instances,
            max_plugin_instances: written.max_plugin_instances,
            threads: written.threads,
        })
    }
}

/// Why a `vm.toml` could have been written by someone other than the user
/// running the VM, if it could.
fn untrusted(path: &Path) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    // SAFETY: getuid has no preconditions and cannot fail.
    let me = unsafe { libc::getuid() };
    let file = std::fs::metadata(path).ok()?;
    if file.uid() != me && file.uid() != 0 {
        return Some(format!(
            "it belongs to user {}, not to you (it could load native code into your VM)",
            file.uid()
        ));
    }
    if file.mode() & 0o022 != 0 {
        return Some("others may write it (chmod go-w it)".into());
    }
    let dir = std::fs::metadata(path.parent()?).ok()?;
    // A sticky directory (/tmp) lets others add files but not replace ours.
    if dir.mode() & 0o022 != 0 && dir.mode() & 0o1000 == 0 {
        return Some("others may write its directory, and so replace it".into());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_flags_by_name_resolving_paths_beside_the_file() {
        let c = AppConfig::parse(
            Path::new("/app/vm.toml"),
            "plugins = [\"plugins/kv.wasm\"]\nmax-memory = \"2M\"\nmax-stack = 65536\nallow-net = [\"127.0.0.1\"]\n",
        )
        .unwrap();
        assert_eq!(c.plugins, [PathBuf::from("/app/plugins/kv.wasm")]);
        assert_eq!(c.max_memory, Some(2 << 20));
        assert_eq!(c.max_stack, Some(65536));
        assert_eq!(c.allow_net.len(), 1);
    }

    #[test]
    fn a_key_that_is_no_flag_or_a_bad_value_is_named() {
        let err = |text: &str| {
            AppConfig::parse(Path::new("vm.toml"), text)
                .unwrap_err()
                .to_string()
        };
        let e = err("plugin = [\"kv.wasm\"]\n");
        assert!(
            e.contains("vm.toml") && e.contains("unknown field `plugin`"),
            "{e}"
        );
        assert!(e.contains("each key is a `vm run` flag"), "{e}");
        assert!(err("max-memory = \"lots\"\n").contains("max-memory"));
        assert!(err("allow-net = [\"not a rule\"]\n").contains("allow-net"));
    }

    #[test]
    fn a_file_others_may_write_is_not_read() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("vm-toml-trust-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(FILE_NAME);
        std::fs::write(&path, "plugins = [\"x.wasm\"]\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(AppConfig::find(&dir).unwrap().is_some());
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
        assert_eq!(
            untrusted(&path).as_deref(),
            Some("others may write it (chmod go-w it)")
        );
        assert!(AppConfig::find(&dir)
            .unwrap()
            .is_none_or(|c| c.path != path));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
