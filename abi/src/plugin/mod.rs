//! Plugins as the generators and the VM see them: a WIT package
//! `plugin:NAME@MAJOR.MINOR.PATCH` read with `wit-parser` and reduced to
//! plain data: each function's WIT types ([`Ty`]), its core signatures as a
//! guest imports it and a plugin exports it, and the version that added it.
//!
//! The lowering is the canonical ABI's, for the whole of WIT (see
//! `abi/README.md`, "Plugins"); resources, futures and streams are refused.
//! A result that does not flatten to one core value is written through a
//! return pointer (the guest's import) or returned as a pointer to it (the
//! plugin's export); its strings and lists live in memory allocated by the
//! receiver's `cabi_realloc`.

mod ty;

pub use ty::{
    align_to, discriminant_size, join, Enum, Flags, Record, Ty, Variant, MAX_FLAGS,
    MAX_FLAT_PARAMS, MAX_FLAT_RESULTS,
};

use crate::model::{camel, snake};
use crate::CoreType;
use anyhow::{bail, Context, Result};
use std::path::Path;
use wit_parser::abi::{AbiVariant, WasmType};
use wit_parser::{Docs, Resolve, Stability};

/// The namespace every plugin package has (`plugin:kv`).
pub const NAMESPACE: &str = "plugin";

/// A plugin's WIT package.
#[derive(Debug, Clone)]
pub struct Package {
    /// The plugin's name (`kv` in `plugin:kv@1.0.0`).
    pub name: String,
    /// The package version.
    pub version: (u32, u32, u32),
    /// Package doc text.
    pub docs: String,
    /// Interfaces with functions, sorted by name.
    pub interfaces: Vec<Interface>,
}

/// One interface, imported by guests as one core module.
#[derive(Debug, Clone)]
pub struct Interface {
    /// WIT name (`store`).
    pub name: String,
    /// The guests' import module (`plugin:kv/store@1`).
    pub module: String,
    /// Doc text.
    pub docs: String,
    /// Functions, in declaration order.
    pub functions: Vec<Function>,
}

/// One function of a plugin.
#[derive(Debug, Clone)]
pub struct Function {
    /// WIT name, also the guest's import name (`get`).
    pub name: String,
    /// Doc text.
    pub docs: String,
    /// The version that added it (`@since`).
    pub since: (u32, u32, u32),
    /// Parameters: WIT name and type.
    pub param_types: Vec<(String, Ty)>,
    /// The result's type, if it has one.
    pub result_type: Option<Ty>,
    /// How many core values the parameters flatten to.
    pub flat_params: usize,
    /// How many core values the result flattens to.
    pub flat_result: usize,
    /// The guest's import signature: parameters (a trailing return pointer
    /// when the result travels in memory).
    pub import_params: Vec<CoreType>,
    /// The guest's import results (none, or one flat value).
    pub import_results: Vec<CoreType>,
    /// The plugin's export signature: parameters.
    pub export_params: Vec<CoreType>,
    /// The plugin's export results (a pointer to the result, when it
    /// travels in memory).
    pub export_results: Vec<CoreType>,
}

impl Function {
    /// Its WIT type without parameter names, as guests' bindings record it
    /// and the VM compares it: `func(string, list<u8>) -> option<string>`.
    pub fn wit_type(&self) -> String {
        let params: Vec<String> = self.param_types.iter().map(|(_, t)| t.wit()).collect();
        let result = self
            .result_type
            .as_ref()
            .map_or(String::new(), |t| format!(" -> {}", t.wit()));
        format!("func({}){result}", params.join(", "))
    }

    /// The core export a plugin module provides for it, for an interface
    /// imported as `module` (`plugin:kv/store@1#get`).
    pub fn export_name(&self, module: &str) -> String {
        format!("{module}#{}", self.name)
    }

    /// How many values it returns in the component model (0 or 1).
    pub fn returns_count(&self) -> usize {
        usize::from(self.result_type.is_some())
    }

    /// Whether calling it needs the guest's `cabi_realloc` (its result holds
    /// a string or list).
    pub fn needs_guest_realloc(&self) -> bool {
        self.result_type.as_ref().is_some_and(Ty::holds_list)
    }

    /// Whether calling it needs the plugin's `cabi_realloc` (a parameter
    /// holds a string or list, or the parameters travel in memory).
    pub fn needs_plugin_realloc(&self) -> bool {
        self.param_types.iter().any(|(_, t)| t.holds_list()) || self.params_in_memory()
    }

    /// Whether the parameters flatten to more than
    /// [`MAX_FLAT_PARAMS`] core values, and so travel in memory: a pointer
    /// to them in the caller's memory (the guest's import), or in memory the
    /// callee's `cabi_realloc` gives (the plugin's export).
    pub fn params_in_memory(&self) -> bool {
        self.flat_params > MAX_FLAT_PARAMS
    }

    /// Whether the result flattens to more than one core value, and so
    /// travels in memory.
    pub fn result_in_memory(&self) -> bool {
        self.flat_result > MAX_FLAT_RESULTS
    }

    /// Whether the guest's import takes a return pointer (its last
    /// parameter) to which the result is written, rather than returning it
    /// (a `result` without payloads flattens to one `i32`, its
    /// discriminant, which the import returns).
    pub fn has_return_pointer(&self) -> bool {
        self.result_in_memory()
    }
}

impl Interface {
    /// The records, variants, enums and flags its functions use, each
    /// after the types it holds (the order bindings declare them in).
    ///
    /// # Errors
    /// Fails when two different types share a name (from two interfaces),
    /// which one set of bindings cannot declare side by side.
    pub fn named_types(&self) -> Result<Vec<Ty>> {
        fn visit(t: &Ty, out: &mut Vec<Ty>) -> Result<()> {
            match t {
                Ty::List(t) | Ty::Option(t) => visit(t, out)?,
                Ty::Tuple(ts) => ts.iter().try_for_each(|t| visit(t, out))?,
                Ty::Result(ok, err) => {
                    ok.iter().chain(err).try_for_each(|t| visit(t, out))?;
                }
                Ty::Record(r) => r.fields.iter().try_for_each(|(_, t)| visit(t, out))?,
                Ty::Variant(v) => v
                    .cases
                    .iter()
                    .flat_map(|(_, t)| t)
                    .try_for_each(|t| visit(t, out))?,
                _ => {}
            }
            let Some(name) = t.name() else { return Ok(()) };
            match out.iter().find(|n| n.name() == Some(name)) {
                Some(seen) if seen == t => {}
                Some(_) => bail!("two different types are named `{name}`; rename one of them"),
                None => out.push(t.clone()),
            }
            Ok(())
        }
        let mut out = Vec::new();
        for f in &self.functions {
            for t in f.param_types.iter().map(|(_, t)| t).chain(&f.result_type) {
                visit(t, &mut out).with_context(|| format!("{}.{}", self.name, f.name))?;
            }
        }
        Ok(out)
    }
}

impl Package {
    /// Reads a plugin package from a `.wit` file or a directory of them.
    ///
    /// # Errors
    /// Fails when the WIT does not parse, is not a `plugin:` package with a
    /// version, or uses a type outside the subset (the message names the
    /// function).
    pub fn load(path: &Path) -> Result<Package> {
        let mut resolve = Resolve::new();
        let (pkg, _) = resolve
            .push_path(path)
            .with_context(|| format!("reading the WIT in {}", path.display()))?;
        Package::from_resolve(&resolve, pkg)
    }

    /// Reads a plugin package from WIT text (`origin` names it in errors).
    ///
    /// # Errors
    /// As [`Package::load`].
    pub fn parse(origin: &str, text: &str) -> Result<Package> {
        let mut resolve = Resolve::new();
        let pkg = resolve
            .push_str(origin, text)
            .with_context(|| format!("reading the WIT in {origin}"))?;
        Package::from_resolve(&resolve, pkg)
    }

    /// Whether `text` declares a plugin package (`package plugin:…`).
    pub fn is_plugin_wit(text: &str) -> bool {
        text.lines()
            .map(|l| l.trim())
            .find(|l| l.starts_with("package "))
            .is_some_and(|l| {
                l.trim_start_matches("package ")
                    .trim()
                    .starts_with("plugin:")
            })
    }

    fn from_resolve(resolve: &Resolve, pkg: wit_parser::PackageId) -> Result<Package> {
        let package = &resolve.packages[pkg];
        let full = format!("{}:{}", package.name.namespace, package.name.name);
        if package.name.namespace != NAMESPACE {
            bail!("package {full} is not a plugin: a plugin's package is named plugin:NAME@MAJOR.MINOR.PATCH");
        }
        let version =
            package.name.version.clone().with_context(|| {
                format!("package {full} needs a version: package {full}@1.0.0;")
            })?;
        if !version.pre.is_empty() || !version.build.is_empty() {
            bail!("package {full}@{version}: a plugin's version is MAJOR.MINOR.PATCH, without a pre-release or build part");
        }
        let version = (
            version.major as u32,
            version.minor as u32,
            version.patch as u32,
        );
        let name = package.name.name.clone();
        if !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            bail!("plugin name `{name}`: use lower-case letters, digits and `-`");
        }
        let mut interfaces = Vec::new();
        let mut names: Vec<&String> = package.interfaces.keys().collect();
        names.sort();
        for iname in names {
            let iface = &resolve.interfaces[package.interfaces[iname]];
            if iface.functions.is_empty() {
                continue;
            }
            let module = format!("{full}/{iname}@{}", Series::of(version));
            let mut functions = Vec::new();
            for func in iface.functions.values() {
                functions.push(
                    function(resolve, func, version)
                        .with_context(|| format!("in {full}/{iname}.{}", func.name))?,
                );
            }
            interfaces.push(Interface {
                name: iname.clone(),
                module,
                docs: docs(&iface.docs),
                functions,
            });
        }
        if interfaces.is_empty() {
            bail!("package {full} has no interface with functions: nothing to import");
        }
        Ok(Package {
            name,
            version,
            docs: docs(&package.docs),
            interfaces,
        })
    }

    /// Why no bindings can declare the package's types, if two different
    /// types share a name.
    pub fn undeclarable(&self) -> Option<String> {
        self.interfaces.iter().find_map(|i| {
            i.named_types()
                .err()
                .map(|e| format!("{}/{e:#}", self.package_name()))
        })
    }

    /// Every type the functions use that `keep` selects, each after the
    /// types it holds, once: what a generator declares. `name` is what it
    /// calls a type; two different types of one name are refused, naming
    /// both and `language`.
    ///
    /// # Errors
    /// Two different types that would take one name.
    pub fn types_used(
        &self,
        keep: impl Fn(&Ty) -> bool,
        name: impl Fn(&Ty) -> String,
        language: &str,
    ) -> Result<Vec<Ty>> {
        fn visit(
            t: &Ty,
            out: &mut Vec<Ty>,
            keep: &dyn Fn(&Ty) -> bool,
            name: &dyn Fn(&Ty) -> String,
            language: &str,
        ) -> Result<()> {
            let mut inner = |t: &Ty| visit(t, out, keep, name, language);
            match t {
                Ty::List(e) | Ty::Option(e) => inner(e)?,
                Ty::Tuple(ts) => ts.iter().try_for_each(&mut inner)?,
                Ty::Result(ok, err) => ok.iter().chain(err).try_for_each(|t| inner(t))?,
                Ty::Record(r) => r.fields.iter().try_for_each(|(_, t)| inner(t))?,
                Ty::Variant(v) => v.cases.iter().flat_map(|(_, t)| t).try_for_each(inner)?,
                _ => {}
            }
            if !keep(t) {
                return Ok(());
            }
            let called = name(t);
            match out.iter().find(|o| name(o) == called) {
                Some(seen) if seen == t => {}
                Some(seen) => bail!(
                    "`{}` and `{}` would both be {language}'s `{called}`; rename one of them",
                    seen.wit(),
                    t.wit()
                ),
                None => out.push(t.clone()),
            }
            Ok(())
        }
        let mut out = Vec::new();
        for iface in &self.interfaces {
            for f in &iface.functions {
                for t in f.param_types.iter().map(|(_, t)| t).chain(&f.result_type) {
                    visit(t, &mut out, &keep, &name, language)?;
                }
            }
        }
        Ok(out)
    }

    /// `plugin:NAME`.
    pub fn package_name(&self) -> String {
        format!("{NAMESPACE}:{}", self.name)
    }

    /// The marker line SDK bindings leave in a guest's `vm:abi` section
    /// (`plugin:kv@1.0.0`).
    pub fn marker(&self) -> String {
        let (a, b, c) = self.version;
        format!("{NAMESPACE}:{}@{a}.{b}.{c}", self.name)
    }

    /// Every line SDK bindings leave in a guest's `vm:abi` section: the
    /// [`marker`](Package::marker), then each function's WIT type as the
    /// guest sees it (`plugin:kv/store@1#get func(string) -> option<string>`),
    /// which the VM compares with the loaded plugin's before the guest runs.
    /// Each line ends with a newline.
    pub fn marker_lines(&self) -> String {
        let mut out = format!("{}\n", self.marker());
        for iface in &self.interfaces {
            for f in &iface.functions {
                out.push_str(&format!("{}#{} {}\n", iface.module, f.name, f.wit_type()));
            }
        }
        out
    }

    /// The versions a guest built against this one can use: the same major,
    /// or for `0.x` the same minor too (semver: `0.1` and `0.2` differ).
    pub fn series(&self) -> Series {
        Series::of(self.version)
    }

    /// The interface imported as `module` (`plugin:kv/store@1`).
    pub fn interface(&self, module: &str) -> Option<&Interface> {
        self.interfaces.iter().find(|i| i.module == module)
    }

    /// A Rust/C identifier prefix for the plugin (`kv`, `my_plugin`).
    pub fn ident(&self) -> String {
        snake(&self.name)
    }

    /// An AssemblyScript/Rust type-style name (`Kv`).
    pub fn camel(&self) -> String {
        camel(&self.name)
    }
}

/// A version: major, minor, patch.
pub type Version = (u32, u32, u32);

/// The versions that can stand in for one another: a major version, or for
/// `0.x` a minor one (`0.1` and `0.2` are different series, as semver
/// says). Import modules name it: `plugin:kv/store@1`, `plugin:kv/store@0.2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Series {
    /// The major version.
    pub major: u32,
    /// The minor version, for major 0 (0 otherwise).
    pub minor: u32,
}

impl Series {
    /// The series a version belongs to.
    pub fn of((major, minor, _): (u32, u32, u32)) -> Series {
        Series {
            major,
            minor: if major == 0 { minor } else { 0 },
        }
    }

    /// Reads the version an import module ends with: a series (`1`,
    /// `0.2`) or a full version (`1.2.0`, as wit-bindgen names it), with
    /// the full version if it is one.
    pub fn parse(text: &str) -> Option<(Series, Option<Version>)> {
        let parts: Vec<u32> = text
            .split('.')
            .map(|p| p.parse().ok().filter(|n: &u32| n.to_string() == p))
            .collect::<Option<_>>()?;
        match parts[..] {
            [major] if major > 0 => Some((Series { major, minor: 0 }, None)),
            [0, minor] => Some((Series { major: 0, minor }, None)),
            [a, b, c] => Some((Series::of((a, b, c)), Some((a, b, c)))),
            _ => None,
        }
    }

    /// Whether `version` is of this series.
    pub fn holds(self, version: (u32, u32, u32)) -> bool {
        Series::of(version) == self
    }
}

impl std::fmt::Display for Series {
    /// As import modules name it: `1`, `0.2`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.major == 0 {
            write!(f, "0.{}", self.minor)
        } else {
            write!(f, "{}", self.major)
        }
    }
}

fn docs(d: &Docs) -> String {
    d.contents.clone().unwrap_or_default().trim().to_string()
}

fn core(ts: &[WasmType]) -> Result<Vec<CoreType>> {
    ts.iter()
        .map(|t| match t {
            WasmType::I32 | WasmType::Pointer | WasmType::Length => Ok(CoreType::I32),
            WasmType::I64 | WasmType::PointerOrI64 => Ok(CoreType::I64),
            WasmType::F32 => Ok(CoreType::F32),
            WasmType::F64 => Ok(CoreType::F64),
        })
        .collect()
}

fn function(
    resolve: &Resolve,
    func: &wit_parser::Function,
    version: (u32, u32, u32),
) -> Result<Function> {
    let since = match &func.stability {
        Stability::Stable { since, .. } => {
            (since.major as u32, since.minor as u32, since.patch as u32)
        }
        _ => bail!("every plugin function needs @since(version = …)"),
    };
    if since > version || !Series::of(version).holds(since) {
        bail!(
            "@since({}.{}.{}) does not fit the package version {}.{}.{}",
            since.0,
            since.1,
            since.2,
            version.0,
            version.1,
            version.2
        );
    }
    if !matches!(func.kind, wit_parser::FunctionKind::Freestanding) {
        bail!("only freestanding functions are in the plugin subset (no resources)");
    }
    let param_types = func
        .params
        .iter()
        .map(|p| {
            Ty::from_wit(resolve, &p.ty)
                .map(|t| (p.name.clone(), t))
                .with_context(|| format!("parameter `{}`", p.name))
        })
        .collect::<Result<Vec<_>>>()?;
    let result_type = func
        .result
        .as_ref()
        .map(|t| Ty::from_wit(resolve, t))
        .transpose()
        .context("the result")?;
    let import = resolve.wasm_signature(AbiVariant::GuestImport, func);
    let export = resolve.wasm_signature(AbiVariant::GuestExport, func);
    let core_sig =
        |import: &wit_parser::abi::WasmSignature| -> Result<(Vec<CoreType>, Vec<CoreType>)> {
            Ok((core(&import.params)?, core(&import.results)?))
        };
    let (import_params, import_results) = core_sig(&import)?;
    let (export_params, export_results) = core_sig(&export)?;
    Ok(Function {
        name: func.name.clone(),
        docs: docs(&func.docs),
        since,
        flat_params: param_types.iter().map(|(_, t)| t.flat().len()).sum(),
        flat_result: result_type.as_ref().map_or(0, |t| t.flat().len()),
        param_types,
        result_type,
        import_params,
        import_results,
        export_params,
        export_results,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const KV: &str = r#"
package plugin:kv@1.2.0;

interface store {
    @since(version = 1.0.0)
    set: func(key: string, value: list<u8>);
    @since(version = 1.0.0)
    get: func(key: string) -> option<list<u8>>;
    @since(version = 1.1.0)
    count: func() -> u32;
    @since(version = 1.2.0)
    rename: func(old: string, new: string) -> result<string, string>;
    @since(version = 1.2.0)
    name: func() -> string;
}
"#;

    #[test]
    fn reads_a_plugin_package_and_its_signatures() {
        let p = Package::parse("kv.wit", KV).unwrap();
        assert_eq!((p.name.as_str(), p.version), ("kv", (1, 2, 0)));
        let store = p.interface("plugin:kv/store@1").unwrap();
        let f = |n: &str| store.functions.iter().find(|f| f.name == n).unwrap();
        use CoreType::I32;
        assert_eq!(f("set").import_params, vec![I32; 4]);
        assert!(f("set").result_type.is_none() && f("set").import_results.is_empty());
        // option<list<u8>>: through a return pointer, 12 bytes.
        assert_eq!(f("get").import_params, vec![I32; 3]);
        assert_eq!(f("get").export_results, vec![I32]);
        assert!(f("get").has_return_pointer());
        assert_eq!(f("get").result_type.as_ref().map(Ty::size), Some(12));
        assert_eq!(f("count").import_results, vec![I32]);
        assert!(!f("count").has_return_pointer());
        assert_eq!(f("count").since, (1, 1, 0));
        assert!(f("name").needs_guest_realloc());
        assert!(!f("count").needs_plugin_realloc());
        assert_eq!(p.marker(), "plugin:kv@1.2.0");
    }

    #[test]
    fn records_each_functions_wit_type_and_its_series() {
        let p = Package::parse("kv.wit", KV).unwrap();
        let lines = p.marker_lines();
        assert!(lines.starts_with("plugin:kv@1.2.0\n"), "{lines}");
        for line in [
            "plugin:kv/store@1#set func(string, list<u8>)\n",
            "plugin:kv/store@1#get func(string) -> option<list<u8>>\n",
            "plugin:kv/store@1#rename func(string, string) -> result<string, string>\n",
        ] {
            assert!(lines.contains(line), "{line} in {lines}");
        }
        let zero = Package::parse(
            "z.wit",
            "package plugin:z@0.3.1; interface i { @since(version = 0.3.0) f: func() -> result<_, u8>; }",
        )
        .unwrap();
        assert_eq!(zero.interfaces[0].module, "plugin:z/i@0.3");
        assert_eq!(
            zero.interfaces[0].functions[0].wit_type(),
            "func() -> result<_, u8>"
        );
        assert_eq!(
            Series::parse("0.3"),
            Some((Series { major: 0, minor: 3 }, None))
        );
        assert_eq!(
            Series::parse("0.3.7"),
            Some((Series { major: 0, minor: 3 }, Some((0, 3, 7))))
        );
        assert_eq!(
            Series::parse("2"),
            Some((Series { major: 2, minor: 0 }, None))
        );
        for bad in ["0", "1.2", "01", "x", ""] {
            assert_eq!(Series::parse(bad), None, "{bad}");
        }
        // A function of 0.2 cannot be in 0.3's package.
        let err = Package::parse(
            "z.wit",
            "package plugin:z@0.3.0; interface i { @since(version = 0.2.0) f: func(); }",
        )
        .unwrap_err();
        assert!(format!("{err:#}").contains("does not fit"), "{err:#}");
    }

    #[test]
    fn refuses_what_a_plugin_cannot_take() {
        let bad = |body: &str| {
            let text = format!("package plugin:x@1.0.0;\ninterface i {{\n{body}\n}}\n");
            format!("{:#}", Package::parse("x.wit", &text).unwrap_err())
        };
        assert!(
            bad("resource r;\n@since(version = 1.0.0)\nf: func(x: borrow<r>);")
                .contains("parameter `x`")
        );
        assert!(bad("f: func();").contains("@since"));
        let newer = bad("@since(version = 1.1.0)\nf: func();");
        assert!(newer.contains("1.1.0"), "{newer}");
        // The whole of WIT otherwise, outside the subset bindgen covers.
        let whole = Package::parse(
            "x.wit",
            "package plugin:x@1.0.0; interface i { record p { x: f32 } \
             @since(version = 1.0.0) f: func(p: p) -> option<option<u8>>; }",
        )
        .unwrap();
        let f = &whole.interfaces[0].functions[0];
        assert_eq!(
            f.wit_type(),
            "func(record { x: f32 }) -> option<option<u8>>"
        );
        assert_eq!(f.import_params, [CoreType::F32, CoreType::I32]);
        assert_eq!(whole.undeclarable(), None);
        // Two types of one name, from two interfaces, cannot be declared
        // side by side.
        let twice = Package::parse(
            "x.wit",
            "package plugin:x@1.0.0; interface a { record p { x: u8 } } \
             interface b { record p { y: u8 } } \
             interface i { use a.{p}; use b.{p as q}; \
             @since(version = 1.0.0) f: func(p: p, q: q); }",
        )
        .unwrap();
        let why = twice.undeclarable().unwrap();
        assert!(why.contains("plugin:x/i.f") && why.contains("`p`"), "{why}");
        let not_plugin = Package::parse("x.wit", "package vm:x@1.0.0; interface i {}");
        assert!(format!("{:#}", not_plugin.unwrap_err()).contains("not a plugin"));
    }
}
