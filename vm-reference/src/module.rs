//! A compiled module the VM can spawn processes from.
//!
//! Loading checks the module against the ABI (see [`crate::compat`]), compiles
//! it once and pre-links it once (`InstancePre`), so spawning a process does
//! no per-module work.

use crate::compat::{Incompatibility, ModuleInfo};
use crate::process::ProcessState;
use crate::LoadError;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
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
    pub module: wasmtime::Module,
    pub pre: InstancePre<ProcessState>,
    pub info: ModuleInfo,
    pub memory: Option<ModuleExport>,
    /// Entry points already resolved: export name → (export, takes an i32 argument).
    pub entries: Mutex<HashMap<String, Option<(ModuleExport, bool)>>>,
}

impl Module {
    /// Checks, compiles and pre-links a module.
    pub(crate) fn load(
        engine: &Engine,
        linker: &Linker<ProcessState>,
        name: &str,
        bytes: &[u8],
    ) -> Result<Module, LoadError> {
        let info = ModuleInfo::read(bytes).map_err(|reason| LoadError::Malformed {
            name: name.to_string(),
            reason,
        })?;
        let problems: Vec<Incompatibility> = info.check();
        if !problems.is_empty() {
            return Err(LoadError::Incompatible {
                name: name.to_string(),
                problems,
            });
        }
        let module = wasmtime::Module::new(engine, bytes).map_err(|e| LoadError::Malformed {
            name: name.to_string(),
            reason: format!("{e:#}"),
        })?;
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
        Ok(Module(Arc::new(LoadedModule {
            name: name.to_string(),
            module,
            pre,
            info,
            memory,
            entries: Mutex::new(HashMap::new()),
        })))
    }

    /// The name the module was loaded under (its file name for the CLI).
    pub fn name(&self) -> &str {
        &self.0.name
    }

    /// The ABI version the module needs, from its imports.
    pub fn required_abi(&self) -> Option<(u32, u32, u32)> {
        self.0.info.required_version()
    }

    /// Resolves an entry export: `None` if it is missing or its signature is
    /// neither `() -> ()` nor `(i32) -> ()`.
    pub(crate) fn entry(&self, name: &str) -> Option<(ModuleExport, bool)> {
        let mut cache = self.0.entries.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(hit) = cache.get(name) {
            return *hit;
        }
        let resolved = self.0.module.get_export(name).and_then(|ty| {
            let f = ty.func()?.clone();
            if f.results().len() != 0 {
                return None;
            }
            let params: Vec<_> = f.params().collect();
            let takes_arg = match params.as_slice() {
                [] => false,
                [wasmtime::ValType::I32] => true,
                _ => return None,
            };
            Some((self.0.module.get_export_index(name)?, takes_arg))
        });
        cache.insert(name.to_string(), resolved);
        resolved
    }
}
