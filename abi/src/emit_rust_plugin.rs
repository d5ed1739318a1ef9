//! Emits a plugin's Rust guest bindings (`vm bindgen PLUGIN.wit --lang
//! rust`, and what `vm_sdk::plugin!` expands to): a module per interface
//! holding a Rust type for each record, variant, enum and flags type, and a
//! safe, typed function per plugin function over a raw import of core
//! types. The canonical ABI itself lives in `vm_sdk::plugin::canon`; the
//! code here only says how each named type's fields sit in memory and in
//! core values, with the sizes and offsets [`Ty`] computes, the same the VM
//! uses.

use crate::model::{camel, snake};
use crate::plugin::{Function, Interface, Package, Ty};
use crate::CoreType;
use std::fmt::Write;

/// The bindings, formatted.
pub fn plugin(package: &Package, header: &str) -> String {
    crate::format_rust(plugin_source(package, header))
}

/// A WIT name as a Rust identifier: snake case, raw (`r#type`) when it is
/// a keyword, with `_` after the few that cannot be raw.
pub(crate) fn rust_ident(name: &str) -> String {
    const KEYWORDS: &[&str] = &[
        "as", "break", "const", "continue", "else", "enum", "extern", "false", "fn", "for", "if",
        "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return",
        "static", "struct", "trait", "true", "type", "unsafe", "use", "where", "while", "async",
        "await", "dyn", "abstract", "become", "box", "do", "final", "macro", "override", "priv",
        "typeof", "unsized", "virtual", "yield", "try", "gen",
    ];
    let n = snake(name);
    match n.as_str() {
        "self" | "super" | "crate" => format!("{n}_"),
        k if KEYWORDS.contains(&k) => format!("r#{n}"),
        _ => n,
    }
}

/// A WIT name as a Rust type or case name (`Self` cannot be one).
fn rust_camel(name: &str) -> String {
    match camel(name).as_str() {
        "Self" => "Self_".into(),
        n => n.into(),
    }
}

/// The path through which generated code reaches the canonical ABI (a name
/// no WIT identifier can take, as none ends in `_`).
const CANON: &str = "canon_";

/// The Rust type that holds a value of `t`.
fn owned(t: &Ty) -> String {
    match t {
        Ty::Bool => "bool".into(),
        Ty::U8 => "u8".into(),
        Ty::U16 => "u16".into(),
        Ty::U32 => "u32".into(),
        Ty::U64 => "u64".into(),
        Ty::S8 => "i8".into(),
        Ty::S16 => "i16".into(),
        Ty::S32 => "i32".into(),
        Ty::S64 => "i64".into(),
        Ty::F32 => "f32".into(),
        Ty::F64 => "f64".into(),
        Ty::Char => "char".into(),
        Ty::String => "::std::string::String".into(),
        Ty::List(t) => format!("::std::vec::Vec<{}>", owned(t)),
        Ty::Tuple(ts) if ts.len() == 1 => format!("({},)", owned(&ts[0])),
        Ty::Tuple(ts) => format!("({})", ts.iter().map(owned).collect::<Vec<_>>().join(", ")),
        Ty::Option(t) => format!("::std::option::Option<{}>", owned(t)),
        Ty::Result(ok, err) => format!(
            "::std::result::Result<{}, {}>",
            ok.as_deref().map_or("()".into(), owned),
            err.as_deref().map_or("()".into(), owned)
        ),
        Ty::Record(_) | Ty::Variant(_) | Ty::Enum(_) | Ty::Flags(_) => {
            rust_camel(t.name().expect("named"))
        }
    }
}

/// The Rust type a function takes a parameter of `t` as: borrowed where it
/// holds a string or list (`&str`, `&[T]`, `&Shape`), else by value.
fn borrowed(t: &Ty) -> String {
    match t {
        Ty::String => "&str".into(),
        Ty::List(t) => format!("&[{}]", owned(t)),
        Ty::Option(t) => format!("::std::option::Option<{}>", borrowed(t)),
        t if t.holds_list() => format!("&{}", owned(t)),
        t => owned(t),
    }
}

/// Doc comment lines.
fn docs(out: &mut String, indent: &str, text: &str) {
    for line in text.trim().lines() {
        let _ = writeln!(
            out,
            "{indent}///{}{line}",
            if line.is_empty() { "" } else { " " }
        );
    }
}

/// The `Canon` impl of a named type, with its facts.
fn canon_impl(out: &mut String, name: &str, t: &Ty) {
    let _ = writeln!(
        out,
        "impl {CANON}::Canon for {name} {{\n    const SIZE: usize = {};\n    const ALIGN: usize = {};\n    const FLAT: usize = {};\n}}\n",
        t.size(),
        t.align(),
        t.flat().len()
    );
}

/// Declares a record, variant, enum or flags type and implements the
/// canonical ABI's traits for it.
fn named_type(out: &mut String, t: &Ty) {
    let name = owned(t);
    let lower = format!("impl {CANON}::Lower for {name}");
    let lift = format!("impl {CANON}::Lift for {name}");
    let (scratch, flat, slots) = (
        format!("{CANON}::Scratch"),
        format!("{CANON}::Flat"),
        format!("{CANON}::Slots"),
    );
    match t {
        Ty::Record(r) => {
            let copy = if t.holds_list() { "" } else { "Copy, " };
            let _ = writeln!(out, "/// The WIT record `{}`.\n#[derive(Debug, Clone, {copy}PartialEq)]\npub struct {name} {{", r.name);
            for (field, ty) in &r.fields {
                let _ = writeln!(
                    out,
                    "    /// `{field}`\n    pub {}: {},",
                    rust_ident(field),
                    owned(ty)
                );
            }
            let _ = writeln!(out, "}}\n");
            canon_impl(out, &name, t);
            let offsets = t.field_offsets();
            let fields: Vec<(String, u32)> = r
                .fields
                .iter()
                .zip(&offsets)
                .map(|((f, _), &o)| (rust_ident(f), o))
                .collect();
            let stores: String = fields
                .iter()
                .map(|(f, o)| {
                    format!("            {CANON}::Lower::store(&self.{f}, at.add({o}), cx);\n")
                })
                .collect();
            let flats: String = fields
                .iter()
                .map(|(f, _)| format!("        {CANON}::Lower::flat(&self.{f}, out, cx);\n"))
                .collect();
            let loads: String = fields
                .iter()
                .map(|(f, o)| format!("                {f}: {CANON}::Lift::load(at.add({o})),\n"))
                .collect();
            let unflats: String = fields
                .iter()
                .map(|(f, _)| format!("                {f}: {CANON}::Lift::unflat(from),\n"))
                .collect();
            let _ = writeln!(out, "{lower} {{\n    unsafe fn store(&self, at: *mut u8, cx: &mut {scratch}) {{\n        // SAFETY: as the caller promises; each field lies inside.\n        unsafe {{\n{stores}        }}\n    }}\n\n    fn flat(&self, out: &mut {flat}, cx: &mut {scratch}) {{\n{flats}    }}\n}}\n");
            let _ = writeln!(out, "{lift} {{\n    unsafe fn load(at: *const u8) -> Self {{\n        // SAFETY: as the caller promises; each field lies inside.\n        unsafe {{\n            {name} {{\n{loads}            }}\n        }}\n    }}\n\n    unsafe fn unflat(from: &mut {slots}) -> Self {{\n        // SAFETY: as the caller promises.\n        unsafe {{\n            {name} {{\n{unflats}            }}\n        }}\n    }}\n}}\n");
        }
        Ty::Variant(_) | Ty::Enum(_) => {
            let (wit_name, cases): (&str, Vec<(String, Option<&Ty>)>) = match t {
                Ty::Variant(v) => (
                    &v.name,
                    v.cases
                        .iter()
                        .map(|(n, p)| (n.clone(), p.as_ref()))
                        .collect(),
                ),
                Ty::Enum(e) => (&e.name, e.cases.iter().map(|n| (n.clone(), None)).collect()),
                _ => unreachable!(),
            };
            let (kind, derive) = match t {
                Ty::Enum(_) => ("enum", "Debug, Clone, Copy, PartialEq, Eq, Hash"),
                _ if t.holds_list() => ("variant", "Debug, Clone, PartialEq"),
                _ => ("variant", "Debug, Clone, Copy, PartialEq"),
            };
            let _ = writeln!(
                out,
                "/// The WIT {kind} `{wit_name}`.\n#[derive({derive})]\npub enum {name} {{"
            );
            for (case, payload) in &cases {
                let payload = payload.map_or(String::new(), |p| format!("({})", owned(p)));
                let _ = writeln!(out, "    /// `{case}`\n    {}{payload},", rust_camel(case));
            }
            let _ = writeln!(out, "}}\n");
            canon_impl(out, &name, t);
            let d = crate::plugin::discriminant_size(cases.len());
            let at = t.payload_offset();
            let flat_len = t.flat().len();
            let (mut stores, mut flats, mut loads, mut unflats) =
                (String::new(), String::new(), String::new(), String::new());
            for (i, (case, payload)) in cases.iter().enumerate() {
                let case = format!("{name}::{}", rust_camel(case));
                if payload.is_some() {
                    let _ = writeln!(stores, "                {case}(v) => {{\n                    {CANON}::store_discriminant(at, {d}, {i});\n                    {CANON}::Lower::store(v, at.add({at}), cx)\n                }}");
                    let _ = writeln!(flats, "            {case}(v) => {{\n                out.push({i});\n                {CANON}::Lower::flat(v, out, cx)\n            }}");
                    let _ = writeln!(
                        loads,
                        "                {i} => {case}({CANON}::Lift::load(at.add({at}))),"
                    );
                    let _ = writeln!(
                        unflats,
                        "                {i} => {case}({CANON}::Lift::unflat(from)),"
                    );
                } else {
                    let _ = writeln!(
                        stores,
                        "                {case} => {CANON}::store_discriminant(at, {d}, {i}),"
                    );
                    let _ = writeln!(flats, "            {case} => out.push({i}),");
                    let _ = writeln!(loads, "                {i} => {case},");
                    let _ = writeln!(unflats, "                {i} => {case},");
                }
            }
            let self_match = if matches!(t, Ty::Enum(_)) {
                "*self"
            } else {
                "self"
            };
            let payloads = cases.iter().any(|(_, p)| p.is_some());
            let unused_cx = if payloads { "cx" } else { "_cx" };
            let (unflat_safety, unflat_unsafe) = if payloads {
                ("        // SAFETY: as the caller promises.\n", "unsafe ")
            } else {
                ("", "")
            };
            let _ = writeln!(out, "{lower} {{\n    unsafe fn store(&self, at: *mut u8, {unused_cx}: &mut {scratch}) {{\n        // SAFETY: as the caller promises; the payload lies inside.\n        unsafe {{\n            match {self_match} {{\n{stores}            }}\n        }}\n    }}\n\n    fn flat(&self, out: &mut {flat}, {unused_cx}: &mut {scratch}) {{\n        let start = out.len();\n        match {self_match} {{\n{flats}        }}\n        out.pad_to(start + {flat_len});\n    }}\n}}\n");
            let _ = writeln!(out, "{lift} {{\n    unsafe fn load(at: *const u8) -> Self {{\n        // SAFETY: as the caller promises; the payload lies inside.\n        unsafe {{\n            match {CANON}::load_discriminant(at, {d}) {{\n{loads}                c => {CANON}::bad_case(\"{wit_name}\", c),\n            }}\n        }}\n    }}\n\n    unsafe fn unflat(from: &mut {slots}) -> Self {{\n        let start = from.position();\n{unflat_safety}        let v = {unflat_unsafe}{{\n            match from.take() as u32 {{\n{unflats}                c => {CANON}::bad_case(\"{wit_name}\", c),\n            }}\n        }};\n        from.skip_to(start + {flat_len});\n        v\n    }}\n}}\n");
        }
        Ty::Flags(f) => {
            let _ = writeln!(out, "/// The WIT flags `{}`: a set of the constants below, combined with `|`.\n#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]\npub struct {name} {{\n    bits: u32,\n}}\n", f.name);
            let _ = writeln!(out, "impl {name} {{");
            for (i, flag) in f.flags.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "    /// `{flag}`\n    pub const {}: {name} = {name} {{ bits: 1 << {i} }};",
                    snake(flag).to_uppercase()
                );
            }
            let all = if f.flags.len() == 32 {
                u32::MAX
            } else {
                (1u32 << f.flags.len()) - 1
            };
            let names: Vec<String> = f
                .flags
                .iter()
                .enumerate()
                .map(|(i, n)| format!("(1 << {i}, \"{}\")", snake(n).to_uppercase()))
                .collect();
            let _ = writeln!(out, "\n    /// No flag.\n    pub const fn empty() -> {name} {{\n        {name} {{ bits: 0 }}\n    }}\n\n    /// Every flag.\n    pub const fn all() -> {name} {{\n        {name} {{ bits: {all:#x} }}\n    }}\n\n    /// The flags as bits, the first flag in bit 0.\n    pub const fn bits(self) -> u32 {{\n        self.bits\n    }}\n\n    /// The flags whose bits are set in `bits` (others are dropped).\n    pub const fn from_bits_truncate(bits: u32) -> {name} {{\n        {name} {{ bits: bits & {all:#x} }}\n    }}\n\n    /// Whether every flag of `other` is set here.\n    pub const fn contains(self, other: {name}) -> bool {{\n        self.bits & other.bits == other.bits\n    }}\n\n    /// Whether no flag is set.\n    pub const fn is_empty(self) -> bool {{\n        self.bits == 0\n    }}\n\n    const NAMES_: &'static [(u32, &'static str)] = &[{}];\n}}\n", names.join(", "));
            let _ = writeln!(out, "impl ::std::ops::BitOr for {name} {{\n    type Output = {name};\n    fn bitor(self, other: {name}) -> {name} {{\n        {name} {{ bits: self.bits | other.bits }}\n    }}\n}}\n\nimpl ::std::ops::BitOrAssign for {name} {{\n    fn bitor_assign(&mut self, other: {name}) {{\n        self.bits |= other.bits;\n    }}\n}}\n\nimpl ::std::ops::BitAnd for {name} {{\n    type Output = {name};\n    fn bitand(self, other: {name}) -> {name} {{\n        {name} {{ bits: self.bits & other.bits }}\n    }}\n}}\n\nimpl ::std::fmt::Debug for {name} {{\n    fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {{\n        let set: ::std::vec::Vec<&str> = Self::NAMES_\n            .iter()\n            .filter(|(bit, _)| self.bits & bit != 0)\n            .map(|(_, n)| *n)\n            .collect();\n        write!(f, \"{name}({{}})\", set.join(\" | \"))\n    }}\n}}\n");
            canon_impl(out, &name, t);
            let size = t.size();
            let _ = writeln!(out, "{lower} {{\n    unsafe fn store(&self, at: *mut u8, _: &mut {scratch}) {{\n        // SAFETY: as the caller promises.\n        unsafe {{ {CANON}::store_discriminant(at, {size}, self.bits) }}\n    }}\n\n    fn flat(&self, out: &mut {flat}, _: &mut {scratch}) {{\n        out.push(self.bits as u64);\n    }}\n}}\n");
            let _ = writeln!(out, "{lift} {{\n    unsafe fn load(at: *const u8) -> Self {{\n        // SAFETY: as the caller promises.\n        {name}::from_bits_truncate(unsafe {{ {CANON}::load_discriminant(at, {size}) }})\n    }}\n\n    unsafe fn unflat(from: &mut {slots}) -> Self {{\n        {name}::from_bits_truncate(from.take() as u32)\n    }}\n}}\n");
        }
        _ => unreachable!("only named types are declared"),
    }
}

fn core_ty(t: &CoreType) -> &'static str {
    match t {
        CoreType::I32 => "i32",
        CoreType::I64 => "i64",
        CoreType::F32 => "f32",
        CoreType::F64 => "f64",
    }
}

/// The safe function for one plugin function.
fn function(out: &mut String, package: &Package, iface: &Interface, f: &Function) {
    let mut text = f.docs.clone();
    let (x, y, z) = f.since;
    text.push_str(&format!(
        "\n\nSince {} {x}.{y}.{z}.",
        package.package_name()
    ));
    docs(out, "", &text);
    let params: Vec<String> = f
        .param_types
        .iter()
        .map(|(n, t)| format!("{}: {}", rust_ident(n), borrowed(t)))
        .collect();
    let ret = f
        .result_type
        .as_ref()
        .map_or(String::new(), |t| format!(" -> {}", owned(t)));
    if params.len() > 7 {
        out.push_str("#[allow(clippy::too_many_arguments)]\n");
    }
    let _ = writeln!(
        out,
        "pub fn {}({}){ret} {{",
        rust_ident(&f.name),
        params.join(", ")
    );
    let names: Vec<String> = f.param_types.iter().map(|(n, _)| rust_ident(n)).collect();
    let unused = if names.is_empty() {
        String::new()
    } else {
        format!("        let _ = ({},);\n", names.join(", "))
    };
    let _ = writeln!(out, "    #[cfg(not(target_arch = \"wasm32\"))]\n    {{\n{unused}        vm_sdk::plugin::outside_vm(\"{}/{}.{}\")\n    }}", package.package_name(), iface.name, f.name);
    let _ = writeln!(out, "    #[cfg(target_arch = \"wasm32\")]\n    {{");
    let mut args: Vec<String> = Vec::new();
    if !f.param_types.is_empty() {
        let _ = writeln!(out, "        let mut cx_ = {CANON}::Scratch::new();");
    }
    if f.params_in_memory() {
        let tuple = Ty::Tuple(f.param_types.iter().map(|(_, t)| t.clone()).collect());
        let _ = writeln!(out, "        let args_ = cx_.alloc({}, {});\n        // SAFETY: room for the arguments, aligned.\n        unsafe {{", tuple.size(), tuple.align());
        for (n, o) in names.iter().zip(tuple.field_offsets()) {
            let _ = writeln!(
                out,
                "            {CANON}::Lower::store(&{n}, args_.add({o}), &mut cx_);"
            );
        }
        let _ = writeln!(out, "        }}");
        args.push("args_ as i32".into());
    } else if !f.param_types.is_empty() {
        let _ = writeln!(out, "        let mut flat_ = {CANON}::Flat::new();");
        for n in &names {
            let _ = writeln!(
                out,
                "        {CANON}::Lower::flat(&{n}, &mut flat_, &mut cx_);"
            );
        }
        let flat: Vec<CoreType> = f.param_types.iter().flat_map(|(_, t)| t.flat()).collect();
        args.extend(
            flat.iter()
                .enumerate()
                .map(|(i, t)| format!("flat_.{}({i})", core_ty(t))),
        );
    }
    let raw = format!("raw::{}", rust_ident(&f.name));
    let call = |args: &[String]| format!("{raw}({})", args.join(", "));
    let safety = "        // SAFETY: the arguments are valid for the call; the VM copies\n        // what they point to, and writes a result where it is asked to.";
    match &f.result_type {
        None => {
            let _ = writeln!(out, "{safety}\n        unsafe {{ {} }}", call(&args));
        }
        Some(t) if f.result_in_memory() => {
            args.push("ret_.as_mut_ptr() as i32".into());
            let _ = writeln!(out, "        let mut ret_ = vm_sdk::plugin::ResultArea::<{}>::default();\n{safety}\n        unsafe {{\n            {};\n            <{} as {CANON}::Lift>::load(ret_.as_mut_ptr())\n        }}", t.size(), call(&args), owned(t));
        }
        Some(t) if f.flat_result == 0 => {
            let _ = writeln!(out, "{safety}\n        unsafe {{\n            {};\n            <{} as {CANON}::Lift>::unflat(&mut {CANON}::Slots::none())\n        }}", call(&args), owned(t));
        }
        Some(t) => {
            let _ = writeln!(out, "{safety}\n        unsafe {{\n            let r_ = {};\n            <{} as {CANON}::Lift>::unflat(&mut {CANON}::Slots::one(r_))\n        }}", call(&args), owned(t));
        }
    }
    let _ = writeln!(out, "    }}\n}}\n");
}

/// [`plugin`]'s code before formatting (what `vm_sdk::plugin!` expands to).
/// The package must have passed [`Package::outside_bindings`].
pub fn plugin_source(package: &Package, header: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "// {header}");
    let marker = package.marker_lines();
    let _ = writeln!(
        out,
        "//! Bindings of plugin `{}`, for guests using vm-sdk.",
        package.marker()
    );
    if !package.docs.is_empty() {
        let _ = writeln!(out, "//!");
        for line in package.docs.lines() {
            let _ = writeln!(out, "//! {line}");
        }
    }
    // A guest may use some of the functions and types only.
    out.push_str("#![allow(dead_code)]\n");
    let (a, b, c) = package.version;
    let _ = writeln!(out, "\n/// The version of `{}` these bindings were generated from.\npub const VERSION: (u32, u32, u32) = ({a}, {b}, {c});\n", package.package_name());
    let _ = writeln!(out, "/// Records in the guest's `vm:abi` section the plugin version it was built\n/// against and each function's WIT type as it sees it, so the VM can say\n/// which plugin it needs and refuse one whose types differ.\n#[cfg(target_arch = \"wasm32\")]\n#[used]\n#[link_section = \"vm:abi\"]\nstatic MARKER: [u8; {}] = *b\"{}\";\n", marker.len(), marker.replace('\n', "\\n"));
    for iface in &package.interfaces {
        docs(&mut out, "", &iface.docs);
        let _ = writeln!(out, "pub mod {} {{", rust_ident(&iface.name));
        let mut body = String::new();
        let _ = writeln!(
            body,
            "#[allow(unused_imports)]\nuse vm_sdk::plugin::canon as {CANON};\n"
        );
        let _ = writeln!(body, "#[cfg(target_arch = \"wasm32\")]\n#[allow(clippy::too_many_arguments)]\nmod raw {{\n    #[link(wasm_import_module = \"{}\")]\n    unsafe extern \"C\" {{", iface.module);
        for f in &iface.functions {
            let params: Vec<String> = f
                .import_params
                .iter()
                .enumerate()
                .map(|(i, t)| format!("p{i}: {}", core_ty(t)))
                .collect();
            let ret = f
                .import_results
                .first()
                .map(|t| format!(" -> {}", core_ty(t)))
                .unwrap_or_default();
            let _ = writeln!(
                body,
                "        #[link_name = \"{}\"]\n        pub fn {}({}){ret};",
                f.name,
                rust_ident(&f.name),
                params.join(", ")
            );
        }
        let _ = writeln!(body, "    }}\n}}\n");
        for t in iface.named_types().unwrap_or_default() {
            named_type(&mut body, &t);
        }
        for f in &iface.functions {
            function(&mut body, package, iface, f);
        }
        for line in body.trim_end().lines() {
            if line.is_empty() {
                out.push('\n');
            } else {
                let _ = writeln!(out, "    {line}");
            }
        }
        let _ = writeln!(out, "}}\n");
    }
    out.truncate(out.trim_end().len());
    out.push('\n');
    out
}
