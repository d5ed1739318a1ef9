//! A compiled module the VM can spawn processes from.
//!
//! Loading checks the module against the ABI (see [`crate::compat`]), compiles
//! it once and pre-links it once (`InstancePre`), so spawning a process does
//! no per-module work.

use crate::budget::{Budget, Charge};
use crate::compat::{Incompatibility, ModuleInfo};
use crate::process::ProcessState;
use crate::sync::lock;
use crate::LoadError;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use wasmtime::{Engine, InstancePre, Linker, ModuleExport};

/// A loaded module: cheap to clone, shared by every process spawned from it.
#[derive(Clone)]
pub struct Module(pub(crate) Arc<LoadedModule>);

impl std::fmt::Debug for Module {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Module")
            .field("name", &self.0.name)
            .finish()
    }
}

pub(crate) struct LoadedModule {
    pub name: String,
    pub pre: InstancePre<ProcessState>,
    pub info: ModuleInfo,
    pub memory: Option<ModuleExport>,
    /// Every export a process can start at, sorted by name: a spawn finds
    /// its entry by binary search, with no lock and no hashing.
    entries: Vec<Entry>,
    /// What its compiled code costs the process that loaded it with
    /// `process.load-module`, for as long as the module lives.
    charge: OnceLock<Charge>,
    /// What it holds in the host's memory: its code and data.
    size: usize,
    /// Its bytes as loaded, kept on a node of a cluster so that
    /// `node.spawn-on` can ship it to another node.
    source: OnceLock<Source>,
}

/// A module's bytes as loaded (before any plugin's transform), to ship.
pub(crate) struct Source {
    /// The bytes.
    pub bytes: Arc<[u8]>,
    /// Their SHA-256.
    pub digest: [u8; 32],
    /// The plugins they import from (a transform here may add imports
    /// another node's does not).
    pub plugins: Vec<vm_kernel::remote::PluginNeed>,
}

/// Modules loaded with `process.load-module`, by their bytes' SHA-256, for
/// as long as something holds them: loading the same bytes again compiles
/// nothing and costs nothing more.
#[derive(Default)]
pub(crate) struct ModuleCache {
    modules: Mutex<HashMap<[u8; 32], Weak<LoadedModule>>>,
}

impl ModuleCache {
    /// The module `bytes` make, from the cache or compiled now (off the
    /// scheduler's threads) and charged to `payer`, with its bytes if
    /// `keep_source` (to ship to other nodes).
    pub async fn load(
        &self,
        node: &crate::node::Node,
        payer: &Arc<Budget>,
        name: String,
        bytes: Arc<[u8]>,
        keep_source: bool,
    ) -> Result<Module, LoadError> {
        use sha2::Digest;
        let key: [u8; 32] = sha2::Sha256::digest(&bytes).into();
        if let Some(m) = lock(&self.modules).get(&key).and_then(Weak::upgrade) {
            return Ok(Module(m));
        }
        // Its bytes are held while it compiles: charged as they are, so that
        // many processes cannot make the VM compile more than their budgets.
        let compiling = payer.charge(bytes.len()).map_err(|r| {
            LoadError::Refused(r.explain(&format!("compiling a module of {} bytes", bytes.len())))
        })?;
        let (engine, linker, plugins) = (
            node.engine.clone(),
            node.linker.clone(),
            node.plugins.to_vec(),
        );
        let source = bytes.clone();
        let module = tokio::task::spawn_blocking(move || {
            Module::load(&engine, &linker, &plugins, &name, &source)
        })
        .await
        .map_err(|e| LoadError::Malformed {
            name: "the module".into(),
            reason: format!("compiling it failed inside the VM: {e}"),
        })??;
        // Its bytes too, when they are kept to ship; what compiling held
        // is given back first, so the two are not counted at once.
        drop(compiling);
        let kept = if keep_source { bytes.len() } else { 0 };
        let charge = payer.charge(module.0.size + kept).map_err(|r| {
            LoadError::Refused(r.explain(&format!(
                "keeping a compiled module of {} bytes",
                module.0.size + kept
            )))
        })?;
        if keep_source {
            module.keep_source(bytes);
        }
        let _ = module.0.charge.set(charge);
        let mut modules = lock(&self.modules);
        if modules.len() >= 64 {
            modules.retain(|_, m| m.strong_count() > 0);
        }
        modules.insert(key, Arc::downgrade(&module.0));
        Ok(module)
    }

    /// The module whose bytes have this SHA-256, if something holds it.
    pub fn get(&self, digest: &[u8; 32]) -> Option<Module> {
        lock(&self.modules)
            .get(digest)
            .and_then(Weak::upgrade)
            .map(Module)
    }

    /// How many modules the cache holds alive.
    pub fn len(&self) -> usize {
        lock(&self.modules)
            .values()
            .filter(|m| m.strong_count() > 0)
            .count()
    }
}

/// An export a process can start at: a function of type `() -> ()` or
/// `(i32) -> ()`.
struct Entry {
    name: Box<str>,
    export: ModuleExport,
    takes_arg: bool,
}

/// The module's entry points, sorted by name.
fn entries(module: &wasmtime::Module) -> Vec<Entry> {
    let mut entries: Vec<Entry> = module
        .exports()
        .filter_map(|e| {
            let f = e.ty().func()?.clone();
            if f.results().len() != 0 {
                return None;
            }
            let takes_arg = match f.params().collect::<Vec<_>>().as_slice() {
                [] => false,
                [wasmtime::ValType::I32] => true,
                _ => return None,
            };
            Some(Entry {
                name: e.name().into(),
                export: module.get_export_index(e.name())?,
                takes_arg,
            })
        })
        .collect();
    entries.sort_unstable_by(|a, b| a.name.cmp(&b.name));
    entries
}

impl Module {
    /// Checks, compiles and pre-links a module.
    pub(crate) fn load(
        engine: &Engine,
        linker: &Linker<ProcessState>,
        plugins: &[std::sync::Arc<crate::plugin::LoadedPlugin>],
        name: &str,
        bytes: &[u8],
    ) -> Result<Module, LoadError> {
        // Native plugins' transforms first, in the order the plugins were
        // given: what they return is checked like any module.
        let mut transformed = None;
        let mut by = None;
        for plugin in plugins {
            let Some(transform) = plugin.transform() else {
                continue;
            };
            let input = transformed.as_deref().unwrap_or(bytes);
            let output =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| transform(input)))
                    .unwrap_or_else(|_| Err("it panicked".into()));
            match output {
                Ok(out) => {
                    transformed = Some(out);
                    by = Some(plugin.source.clone());
                }
                Err(reason) => {
                    return Err(LoadError::Transform {
                        name: name.to_string(),
                        plugin: plugin.source.clone(),
                        reason,
                    })
                }
            }
        }
        let bytes = transformed.as_deref().unwrap_or(bytes);
        let malformed = |reason: String| LoadError::Malformed {
            name: name.to_string(),
            reason: match &by {
                Some(plugin) => format!("{reason} (as plugin {plugin}'s module transform made it)"),
                None => reason,
            },
        };
        let info = ModuleInfo::read(bytes).map_err(malformed)?;
        let offered: Vec<_> = plugins
            .iter()
            .map(|p| (&p.package, p.source.as_str()))
            .collect();
        let problems: Vec<Incompatibility> = info.check_with(&offered);
        if !problems.is_empty() {
            return Err(LoadError::Incompatible {
                name: name.to_string(),
                problems,
            });
        }
        let module =
            wasmtime::Module::new(engine, bytes).map_err(|e| malformed(format!("{e:#}")))?;
        // Imports named with the full version (`vm:host/process@1.4.0`, as
        // wit-bindgen names them) get the functions of `@1` under that name:
        // a linker of their own, since the VM's is shared.
        let full_names: Vec<(String, &str)> = module
            .imports()
            .filter_map(|i| Some((crate::compat::series_module(i.module())?, i.module())))
            .collect();
        let aliased;
        let linker = if full_names.is_empty() {
            linker
        } else {
            let mut own = linker.clone();
            let mut done = std::collections::HashSet::new();
            for (base, full) in full_names {
                if done.insert(full) {
                    own.alias_module(&base, full)
                        .map_err(|e| LoadError::Incompatible {
                            name: name.to_string(),
                            problems: vec![Incompatibility {
                                import: full.into(),
                                problem: format!("{e:#}"),
                                hint: "no interface of this VM has that name".into(),
                            }],
                        })?;
                }
            }
            aliased = own;
            &aliased
        };
        let pre = linker
            .instantiate_pre(&module)
            .map_err(|e| LoadError::Incompatible {
                name: name.to_string(),
                problems: vec![Incompatibility {
                    import: "(link)".into(),
                    problem: format!("{e:#}"),
                    hint: "the module imports something this VM does not define".into(),
                }],
            })?;
        let memory = module.get_export_index("memory");
        let entries = entries(&module);
        let code = module.image_range();
        let size = (code.end as usize - code.start as usize) + bytes.len();
        Ok(Module(Arc::new(LoadedModule {
            name: name.to_string(),
            pre,
            info,
            memory,
            entries,
            charge: OnceLock::new(),
            size,
            source: OnceLock::new(),
        })))
    }

    /// The name the module was loaded under (its file name for the CLI).
    pub fn name(&self) -> &str {
        &self.0.name
    }

    /// Keeps `bytes`, which the module was loaded from, to ship it to other
    /// nodes (once; later calls do nothing).
    pub(crate) fn keep_source(&self, bytes: Arc<[u8]>) {
        use sha2::Digest;
        if self.0.source.get().is_none() {
            let digest: [u8; 32] = sha2::Sha256::digest(&bytes).into();
            // The module compiled, so its bytes read.
            let needed =
                ModuleInfo::read(&bytes).map_or_else(|_| Vec::new(), |i| i.plugins_needed());
            let plugins = needed
                .into_iter()
                .map(|n| vm_kernel::remote::PluginNeed {
                    name: n.name,
                    series: (n.series.major, n.series.minor),
                    built_for: n.built_for,
                })
                .collect();
            let _ = self.0.source.set(Source {
                bytes,
                digest,
                plugins,
            });
        }
    }

    /// The bytes it was loaded from, if kept.
    pub(crate) fn source(&self) -> Option<&Source> {
        self.0.source.get()
    }

    /// The ABI version the module needs, from its imports.
    pub fn required_abi(&self) -> Option<(u32, u32, u32)> {
        self.0.info.required_version()
    }

    /// The names of the exports a process can start at (`() -> ()` or
    /// `(i32) -> ()`), in order.
    pub fn entry_names(&self) -> impl Iterator<Item = &str> {
        self.0.entries.iter().map(|e| &*e.name)
    }

    /// Resolves an entry export: `None` if it is missing or its signature is
    /// neither `() -> ()` nor `(i32) -> ()`.
    pub(crate) fn entry(&self, name: &str) -> Option<(ModuleExport, bool)> {
        let entries = &self.0.entries;
        let at = entries.binary_search_by(|e| (*e.name).cmp(name)).ok()?;
        Some((entries[at].export, entries[at].takes_arg))
    }
}
