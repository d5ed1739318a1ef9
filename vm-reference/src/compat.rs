//! What a module needs from the VM, read without compiling it, and whether
//! this VM can provide it.
//!
//! A guest's required ABI version is the newest `@since` among its `vm:host`
//! imports; the SDKs also leave a marker (custom section `vm:abi`) naming the
//! ABI they were built against, which makes refusals more helpful. Checking
//! happens before instantiation, so an incompatible guest never runs.

use std::fmt;
use vm_abi::plugin::{Package, Series};
use vm_abi::Version;
use vm_abi::{CoreType, ABI_VERSION, MARKER_SECTION, MODULE_PREFIX};
use wasmparser::{Parser, Payload, TypeRef, ValType};

/// The import module of WASI preview 1, which the VM provides.
pub const WASI_MODULE: &str = "wasi_snapshot_preview1";

/// One function a module imports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Import {
    /// Import module (`vm:host/process@1`).
    pub module: String,
    /// Import name (`spawn`).
    pub name: String,
    /// Core parameter types, or `None` for a non-function import or one
    /// whose signature uses types outside `i32`/`i64`.
    pub params: Option<Vec<CoreType>>,
    /// Core result types.
    pub results: Vec<CoreType>,
}

/// What a module needs, as read from its bytes.
#[derive(Debug, Clone, Default)]
pub struct ModuleInfo {
    /// Every import, in order.
    pub imports: Vec<Import>,
    /// Versions named in the SDK marker section.
    pub markers: Vec<(u32, u32, u32)>,
    /// Plugin versions named in the marker section, by plugin name (`kv`).
    pub plugin_markers: Vec<(String, (u32, u32, u32))>,
    /// The plugin package the module carries in a `vm:plugin` section
    /// (`plugin:kv@1.0.0`), if it is a plugin rather than an app.
    pub plugin: Option<String>,
    /// Plugin functions' WIT types as the guest's bindings saw them, by
    /// import (`plugin:kv/store@1`, `get`): `func(string) -> option<string>`.
    pub plugin_types: Vec<(String, String, String)>,
    /// Exported function names.
    pub exports: Vec<String>,
}

/// Why a module cannot run on this VM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incompatibility {
    /// `module.name` of the offending import.
    pub import: String,
    /// What is wrong, in plain words.
    pub problem: String,
    /// What to do about it.
    pub hint: String,
}

impl fmt::Display for Incompatibility {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "import `{}`: {} ({})",
            self.import, self.problem, self.hint
        )
    }
}

fn version(v: (u32, u32, u32)) -> String {
    format!("{}.{}.{}", v.0, v.1, v.2)
}

impl ModuleInfo {
    /// Reads imports, exports and markers.
    ///
    /// # Errors
    /// Returns the parser's message when the bytes are not a valid module.
    pub fn read(bytes: &[u8]) -> Result<ModuleInfo, String> {
        let mut info = ModuleInfo::default();
        // `None` for a signature with types no function lowers to (references, vectors).
        let mut types: Vec<Option<(Vec<CoreType>, Vec<CoreType>)>> = Vec::new();
        let core = |ts: &[ValType]| -> Option<Vec<CoreType>> {
            ts.iter()
                .map(|t| match t {
                    ValType::I32 => Some(CoreType::I32),
                    ValType::I64 => Some(CoreType::I64),
                    ValType::F32 => Some(CoreType::F32),
                    ValType::F64 => Some(CoreType::F64),
                    _ => None,
                })
                .collect()
        };
        for payload in Parser::new(0).parse_all(bytes) {
            match payload.map_err(|e| e.to_string())? {
                Payload::Version { encoding, .. } if encoding != wasmparser::Encoding::Module => {
                    return Err("this is a WebAssembly component; the VM runs core modules".into());
                }
                Payload::TypeSection(reader) => {
                    for ty in reader.into_iter_err_on_gc_types() {
                        let ty = ty.map_err(|e| e.to_string())?;
                        types.push(core(ty.params()).zip(core(ty.results())));
                    }
                }
                Payload::ImportSection(reader) => {
                    for imports in reader {
                        for import in imports.map_err(|e| e.to_string())? {
                            let (_, import) = import.map_err(|e| e.to_string())?;
                            let (params, results) = match import.ty {
                                TypeRef::Func(i) => match types.get(i as usize) {
                                    Some(Some((p, r))) => (Some(p.clone()), r.clone()),
                                    Some(None) => (None, Vec::new()),
                                    None => {
                                        return Err(format!(
                                            "import {} refers to a missing type",
                                            import.name
                                        ))
                                    }
                                },
                                _ => (None, Vec::new()),
                            };
                            info.imports.push(Import {
                                module: import.module.to_string(),
                                name: import.name.to_string(),
                                params,
                                results,
                            });
                        }
                    }
                }
                Payload::ExportSection(reader) => {
                    for export in reader {
                        let export = export.map_err(|e| e.to_string())?;
                        if export.kind == wasmparser::ExternalKind::Func {
                            info.exports.push(export.name.to_string());
                        }
                    }
                }
                Payload::CustomSection(section) if section.name() == crate::PLUGIN_WIT_SECTION => {
                    let text = String::from_utf8_lossy(section.data());
                    info.plugin = Some(
                        text.lines()
                            .map(str::trim)
                            .find_map(|l| l.strip_prefix("package "))
                            .map_or("a plugin's WIT", |p| p.trim_end_matches(';').trim())
                            .to_string(),
                    );
                }
                Payload::CustomSection(section) if section.name() == MARKER_SECTION => {
                    let text = String::from_utf8_lossy(section.data());
                    for line in text.split(['\n', '\0']) {
                        let line = line.trim();
                        if let Some(v) = line.strip_prefix("vm:host@").and_then(parse_version) {
                            info.markers.push(v);
                        } else if let Some((import, ty)) = line
                            .strip_prefix(PLUGIN_PREFIX)
                            .and_then(|_| line.split_once(' '))
                            .filter(|(import, _)| import.contains('#'))
                        {
                            let (module, name) = import.split_once('#').expect("checked");
                            info.plugin_types.push((
                                module.to_string(),
                                name.to_string(),
                                ty.trim().to_string(),
                            ));
                        } else if let Some((name, v)) = line
                            .strip_prefix(PLUGIN_PREFIX)
                            .and_then(|rest| rest.split_once('@'))
                            .and_then(|(name, v)| Some((name, parse_version(v)?)))
                        {
                            info.plugin_markers.push((name.to_string(), v));
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(info)
    }

    /// The ABI version the module needs (`None` if it imports nothing from
    /// `vm:host`): the newest `@since` of its `vm:host` imports. An import this
    /// VM does not know needs at least the next minor (or its own major), or
    /// the version its SDK marker names if that is newer.
    pub fn required_version(&self) -> Option<(u32, u32, u32)> {
        self.imports
            .iter()
            .filter(|i| i.module.starts_with(MODULE_PREFIX))
            .map(|i| match vm_abi::function(&i.module, &i.name) {
                Some(f) => f.since,
                None => {
                    let major = major_of(&i.module).unwrap_or(0);
                    let floor = if major == ABI_VERSION.0 {
                        (major, ABI_VERSION.1 + 1, 0)
                    } else {
                        (major, 0, 0)
                    };
                    let marked = self.markers.iter().copied().filter(|m| m.0 == major).max();
                    marked.map_or(floor, |m| m.max(floor))
                }
            })
            .max()
    }

    /// The newest ABI version named by SDK markers, or by import modules
    /// of the full form (`vm:host/process@1.4.0`, as wit-bindgen names them).
    pub fn built_for(&self) -> Option<(u32, u32, u32)> {
        let named = self
            .imports
            .iter()
            .filter(|i| i.module.starts_with(MODULE_PREFIX))
            .filter_map(|i| vm_abi::split_module(&i.module).and_then(|(_, full)| full));
        self.markers.iter().copied().chain(named).max()
    }

    /// Every reason a VM without plugins cannot run the module (empty when
    /// it can).
    pub fn check(&self) -> Vec<Incompatibility> {
        self.check_with(&[])
    }

    /// Every reason a VM with `plugins` loaded (each with the name it was
    /// loaded under) cannot run the module (empty when it can).
    pub fn check_with(&self, plugins: &[(&Package, &str)]) -> Vec<Incompatibility> {
        let served = version(ABI_VERSION);
        let built_for = self.built_for();
        let mut problems = Vec::new();
        for import in &self.imports {
            let full = format!("{}.{}", import.module, import.name);
            if import.module == WASI_MODULE {
                continue;
            }
            if import.module.starts_with(PLUGIN_PREFIX) {
                problems.extend(self.check_plugin_import(import, plugins));
                continue;
            }
            if !import.module.starts_with(MODULE_PREFIX) {
                let hint = match foreign_hint(&import.module, &import.name) {
                    Some(hint) => hint.to_string(),
                    None => format!("guests may import only `{MODULE_PREFIX}*@{}`, `{PLUGIN_PREFIX}*` (with the plugin loaded) and `{WASI_MODULE}`; build it with a VM SDK, or for WASI preview 1", ABI_VERSION.0),
                };
                problems.push(Incompatibility {
                    import: full,
                    problem: "no interface of this VM provides it".into(),
                    hint,
                });
                continue;
            };
            let major = major_of(&import.module);
            match major {
                Some(m) if m == ABI_VERSION.0 => {}
                Some(m) => {
                    let hint = if m > ABI_VERSION.0 {
                        format!("run it on a VM that serves ABI {m}.x, or rebuild it with an SDK for ABI {}", ABI_VERSION.0)
                    } else {
                        format!("rebuild it with an SDK for ABI {}", ABI_VERSION.0)
                    };
                    problems.push(Incompatibility {
                        import: full,
                        problem: format!(
                            "it needs ABI major version {m}; this VM serves ABI {served}"
                        ),
                        hint,
                    });
                    continue;
                }
                None => {
                    problems.push(Incompatibility {
                        import: full,
                        problem: "the import module does not end in `@MAJOR` or `@MAJOR.MINOR.PATCH`".into(),
                        hint: "import modules are named like `vm:host/process@1` (or `vm:host/process@1.4.0`, as wit-bindgen names them)".into(),
                    });
                    continue;
                }
            }
            let Some(spec) = vm_abi::function(&import.module, &import.name) else {
                let needs = match built_for {
                    Some(v) if v > ABI_VERSION => {
                        format!("the guest was built for ABI {}", version(v))
                    }
                    _ => "it may come from a newer minor version of the ABI".into(),
                };
                problems.push(Incompatibility {
                    import: full,
                    problem: format!(
                        "ABI {served}, which this VM serves, has no such function; {needs}"
                    ),
                    hint: "run it on a newer VM, or rebuild it with an SDK for this VM's ABI"
                        .into(),
                });
                continue;
            };
            let matches =
                import.params.as_deref() == Some(spec.params) && import.results == spec.results;
            if !matches {
                problems.push(Incompatibility {
                    import: full,
                    problem: format!(
                        "its signature is {} but ABI {served} defines {}",
                        signature(import.params.as_deref().unwrap_or(&[]), &import.results),
                        signature(spec.params, spec.results)
                    ),
                    hint: "rebuild it with an SDK generated from this ABI".into(),
                });
            }
        }
        problems
    }
}

impl ModuleInfo {
    /// The plugins the module imports from, in the order it first names
    /// them.
    pub fn plugins_needed(&self) -> Vec<PluginNeed> {
        let mut needed: Vec<PluginNeed> = Vec::new();
        for import in &self.imports {
            let Some((name, series, full)) = plugin_module(&import.module) else {
                continue;
            };
            let marked = self
                .plugin_markers
                .iter()
                .filter(|(n, v)| n == name && series.holds(*v))
                .map(|(_, v)| *v)
                .max();
            let newest = full.max(marked);
            match needed
                .iter_mut()
                .find(|n| n.name == name && n.series == series)
            {
                Some(need) => need.built_for = need.built_for.max(newest),
                None => needed.push(PluginNeed {
                    name: name.to_string(),
                    series,
                    built_for: newest,
                }),
            }
        }
        needed
    }

    fn check_plugin_import(
        &self,
        import: &Import,
        plugins: &[(&Package, &str)],
    ) -> Option<Incompatibility> {
        let full = format!("{}.{}", import.module, import.name);
        let problem = |problem: String, hint: String| {
            Some(Incompatibility {
                import: full.clone(),
                problem,
                hint,
            })
        };
        let Some((name, series, named)) = plugin_module(&import.module) else {
            return problem(
                "the import module is not of the form `plugin:NAME/INTERFACE@MAJOR` (or `@0.MINOR` for a 0.x plugin)".into(),
                "generate the plugin's bindings with `vm bindgen PLUGIN.wit`".into(),
            );
        };
        let built_for = self
            .plugin_markers
            .iter()
            .filter(|(n, v)| n == name && series.holds(*v))
            .map(|(_, v)| *v)
            .chain(named)
            .max();
        let wanted = match built_for {
            Some(v) => format!("{PLUGIN_PREFIX}{name} {}", version(v)),
            None => format!("{PLUGIN_PREFIX}{name} {series}.x"),
        };
        let same_name: Vec<&(&Package, &str)> =
            plugins.iter().filter(|(p, _)| p.name == name).collect();
        let Some((package, source)) = same_name.iter().find(|(p, _)| p.series() == series) else {
            return match same_name.first() {
                Some((p, source)) => problem(
                    format!(
                        "the guest needs {wanted}, but the loaded plugin ({source}) is {} {}, {}",
                        p.package_name(),
                        version(p.version),
                        if series.major == 0 || p.version.0 == 0 {
                            "another series (as semver says, 0.x minors differ as majors do)"
                        } else {
                            "another major version"
                        }
                    ),
                    format!("load a plugin of {PLUGIN_PREFIX}{name} {series}.x with --plugin"),
                ),
                None => problem(
                    format!("the guest needs {wanted}, which is not loaded"),
                    format!("list it in the app's vm.toml (plugins = [\"{name}.wasm\"]), read by vm run, vm test, cargo run and cargo test; or pass `--plugin {name}.wasm`, or VmBuilder::plugin"),
                ),
            };
        };
        let iface_module = format!("{PLUGIN_PREFIX}{name}/{}", interface_of(&import.module));
        let iface_module = format!("{iface_module}@{series}");
        let loaded = format!(
            "{} {} ({source})",
            package.package_name(),
            version(package.version)
        );
        let Some(f) = package
            .interface(&iface_module)
            .and_then(|i| i.functions.iter().find(|f| f.name == import.name))
        else {
            let why = match built_for {
                Some(v) if v > package.version => {
                    format!("the guest was built for {}", version(v))
                }
                _ => "it may come from a newer minor version of the plugin".into(),
            };
            return problem(
                format!("the loaded plugin, {loaded}, has no such function; {why}"),
                format!("load a newer {PLUGIN_PREFIX}{name} with --plugin, or rebuild the guest against {}", version(package.version)),
            );
        };
        // The WIT type the guest's bindings recorded, where they did: a
        // guest built for `option<string>` must not run against a plugin
        // returning `option<list<u8>>`, whose core signature is the same.
        // Keyed by series, as imports with the full version (wit-bindgen's)
        // name the same functions.
        let key = |m: &str| series_module(m).unwrap_or_else(|| m.to_string());
        let module = key(&import.module);
        let mut recorded = self
            .plugin_types
            .iter()
            .filter(|(m, n, _)| key(m) == module && *n == import.name)
            .map(|(_, _, ty)| ty);
        let first = recorded.next();
        if let Some(other) = recorded.find(|t| Some(*t) != first) {
            return problem(
                format!(
                    "the guest records two WIT types for it, `{}` and `{other}`",
                    first.expect("found before")
                ),
                "build it from one plugin WIT".into(),
            );
        }
        if let Some(ty) = first {
            let defined = f.wit_type();
            if *ty != defined {
                return problem(
                    format!(
                        "the guest was built for `{}: {ty}`, but {loaded} defines `{}: {defined}`",
                        f.name, f.name
                    ),
                    format!("generate the guest's bindings from the plugin's WIT ({PLUGIN_PREFIX}{name} {}), or load the plugin it was built for", version(package.version)),
                );
            }
        }
        let matches = import.params.as_deref() == Some(&f.import_params[..])
            && import.results == f.import_results;
        if !matches {
            return problem(
                format!(
                    "its signature is {} but {loaded} defines {}",
                    signature(import.params.as_deref().unwrap_or(&[]), &import.results),
                    signature(&f.import_params, &f.import_results)
                ),
                format!("generate the guest's bindings from the plugin's WIT ({PLUGIN_PREFIX}{name} {})", version(package.version)),
            );
        }
        if f.needs_guest_realloc() && !self.exports.iter().any(|e| e == "cabi_realloc") {
            return problem(
                "the function returns a string or list, but the module exports no `cabi_realloc` to put it in".into(),
                "the SDKs export one; a module of your own must export cabi_realloc(old_ptr, old_size, align, new_size) -> ptr".into(),
            );
        }
        None
    }
}

/// A plugin a module imports from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginNeed {
    /// The plugin's name (`kv`).
    pub name: String,
    /// The series it needs: a major version (or `0.MINOR`).
    pub series: vm_abi::plugin::Series,
    /// The newest version its import modules or markers name, if any does.
    pub built_for: Option<Version>,
}

/// The import-module prefix of plugins (`plugin:`).
pub const PLUGIN_PREFIX: &str = "plugin:";

/// A plugin import module's plugin name, series and full version (if it
/// names one): `plugin:kv/store@1` → `("kv", 1, None)`, `plugin:x/api@0.2`
/// → `("x", 0.2, None)`, `plugin:kv/store@1.2.0` → `("kv", 1, Some(1.2.0))`.
fn plugin_module(module: &str) -> Option<(&str, Series, Option<Version>)> {
    let rest = module.strip_prefix(PLUGIN_PREFIX)?;
    let (name, _) = rest.split_once('/')?;
    let (_, v) = module.rsplit_once('@')?;
    let (series, full) = Series::parse(v)?;
    Some((name, series, full))
}

/// The module that serves an import module named with a full version, as
/// wit-bindgen names them: `vm:host/process@1.4.0` → `vm:host/process@1`,
/// `plugin:kv/store@1.2.0` → `plugin:kv/store@1`, `plugin:x/api@0.2.1` →
/// `plugin:x/api@0.2`; `None` for a module named by its series already.
pub(crate) fn series_module(module: &str) -> Option<String> {
    if module.starts_with(PLUGIN_PREFIX) {
        let (base, v) = module.rsplit_once('@')?;
        let (series, full) = Series::parse(v)?;
        full.map(|_| format!("{base}@{series}"))
    } else {
        match vm_abi::split_module(module)? {
            (base, Some(_)) => Some(base.to_string()),
            _ => None,
        }
    }
}

/// The interface an import module names: `plugin:kv/store@1` → `store`.
fn interface_of(module: &str) -> &str {
    let after = module.split_once('/').map_or("", |(_, r)| r);
    after.split_once('@').map_or(after, |(i, _)| i)
}

/// The major version an import module names (`@1` or `@1.4.0`).
fn major_of(module: &str) -> Option<u32> {
    let (base, _) = vm_abi::split_module(module)?;
    base.rsplit_once('@')?.1.parse().ok()
}

/// A core signature as `(i32, i64) -> (i32)`.
pub(crate) fn signature(params: &[CoreType], results: &[CoreType]) -> String {
    let list = |ts: &[CoreType]| {
        ts.iter()
            .map(|t| match t {
                CoreType::I32 => "i32",
                CoreType::I64 => "i64",
                CoreType::F32 => "f32",
                CoreType::F64 => "f64",
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!("({}) -> ({})", list(params), list(results))
}

fn parse_version(s: &str) -> Option<(u32, u32, u32)> {
    let mut parts = s.split('.').map(|p| p.parse::<u32>().ok());
    Some((parts.next()??, parts.next()??, parts.next()??))
}

/// Why a module cannot run, as `VmError::Incompatible` says it: against
/// the ABI this VM serves, or (when every problem is a plugin's) against
/// the plugins it has loaded.
pub fn incompatible_text(name: &str, problems: &[Incompatibility]) -> String {
    let head = if problems.iter().all(|p| p.import.starts_with(PLUGIN_PREFIX)) {
        format!("{name} cannot run with the plugins this VM has loaded:")
    } else {
        format!(
            "{name} cannot run on this VM (it serves ABI vm:host {}):",
            version(ABI_VERSION)
        )
    };
    let mut text = head;
    for p in problems {
        text.push_str(&format!("\n  - {p}"));
    }
    text
}

/// Formats a version triple as `MAJOR.MINOR.PATCH`.
pub fn format_version(v: (u32, u32, u32)) -> String {
    version(v)
}

/// What to do instead, for an import AssemblyScript's standard library
/// makes of a JavaScript host (`env.*`), which no VM provides.
fn foreign_hint(module: &str, name: &str) -> Option<&'static str> {
    match (module, name) {
        ("env", n) if n.starts_with("console.") => Some(
            "AssemblyScript's `console` is a JavaScript host's: print a line with `print` (stdout) or `eprint` (stderr) from vm-host-sdk",
        ),
        ("env", "abort" | "trace") => Some(
            "AssemblyScript imports these unless its `use` option routes them elsewhere: compile with the SDK's asconfig.json (`\"extends\"` it), which routes abort and trace to the SDK",
        ),
        ("env", "seed") => Some(
            "AssemblyScript's Math.random asks a JavaScript host for its seed, which the VM is not: use a generator of your own, seeded from something the VM gives (a fresh tag, the time)",
        ),
        _ => None,
    }
}
