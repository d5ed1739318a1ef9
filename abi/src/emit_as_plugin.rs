//! Emits a plugin's AssemblyScript bindings (`vm bindgen PLUGIN.wit --lang
//! assemblyscript`): a class or enum for every WIT type the functions use,
//! an `@external` declaration per import, and in a namespace per interface
//! a typed function per WIT function.
//!
//! Each compound type gets module-private functions that lower it into the
//! canonical ABI's memory layout (`put_…_`) or core values (`flat_…_`) and
//! lift it back (`take_…_`), with sizes and offsets from [`Ty`], the same
//! the VM uses. Core values travel as raw bits in 64-bit slots, which is
//! the canonical ABI's joining of variant payloads too.

use crate::emit_assemblyscript::{as_ident, comment, unreserved};
use crate::emit_c::with_since;
use crate::model::{camel, snake};
use crate::plugin::{discriminant_size, Function, Package, Ty};
use crate::CoreType;
use anyhow::Result;
use std::fmt::Write;

/// AssemblyScript's own classes, which a WIT type's class must not hide.
const AS_GLOBALS: &str = "Array ArrayBuffer Boolean DataView Date Error Function Map Math Number \
    Object Promise Set Some StaticArray String Symbol Uint8Array";

/// The bindings of a plugin package (`kv.ts` for `plugin:kv`). `header` is
/// the first paragraph of its opening comment; `sdk` the import path of the
/// AssemblyScript SDK, whose entries export the `cabi_realloc` through
/// which results arrive (the module itself imports nothing from it).
///
/// # Errors
/// Fails when two different types would take one name.
///
/// ```
/// let kv = vm_abi::plugin::Package::parse(
///     "kv.wit",
///     "package plugin:kv@1.0.0;
///      interface store {
///          @since(version = 1.0.0)
///          count: func() -> u32;
///      }",
/// )
/// .unwrap();
/// let ts = vm_abi::emit_assemblyscript::plugin(&kv, "Generated.", "vm-host-sdk/assembly/index").unwrap();
/// assert!(ts.contains("export namespace store {"));
/// assert!(ts.contains("  export function count(): u32 {"));
/// ```
pub fn plugin(package: &Package, header: &str, sdk: &str) -> Result<String> {
    let types = types(package)?;
    let marker = package.marker();
    let lines = package.marker_lines().replace('\n', "\\n");
    let functions = || package.interfaces.iter().flat_map(|i| &i.functions);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "// {header}\n//\n// The plugin `{marker}` for AssemblyScript guests."
    );
    for line in package.docs.lines() {
        let _ = writeln!(out, "// {line}");
    }
    let _ = writeln!(
        out,
        r#"//
// A namespace per interface holds a function per WIT function, over the raw
// imports declared beside it (IFACE_NAME). WIT types become AssemblyScript
// types: a `string` is a string (UTF-8 on the wire), a `list<u8>` a
// Uint8Array, another `list<T>` an Array<T>, a `char` a u32 (a Unicode
// scalar value); a record is a class with a field per WIT field, a tuple a
// class TupleN… with fields f0, f1, …; a variant a class with `tag` (its
// upper-case constants) and a nullable field per case with a payload
// (`Shape.circle(…)` makes one); an enum an enum; flags a u32 of the
// class's constants or'ed; `option<T>` is `T | null` (`Some<T> | null` for
// a number, a bool or an option), and `result<T, E>` a class Result… with
// `isOk`, `ok` and `err`.
//
// The VM puts the strings and lists a call returns in memory from the
// module's exported `cabi_realloc`; the functions here copy them into
// objects and free that memory. The SDK,
//     {sdk}
// exports `cabi_realloc` through the `entries` of its asconfig.json, which
// an app's config extends.
//
// AssemblyScript source cannot declare a custom section, so a module built
// with this file carries no `vm:abi` marker for the plugin: the VM judges
// it by its imports' core types alone. MARKER holds the lines the C and
// Rust bindings record: the version, and each function's WIT type.

export const MARKER: string = "{lines}";"#
    );
    let ret_size = functions()
        .filter_map(|f| f.result_type.as_ref())
        .map(|t| t.size())
        .max()
        .unwrap_or(0)
        .max(8);
    let _ = writeln!(
        out,
        r#"
/** Where the VM writes a result: one area for every function, as large as
 * the largest needs. */
const RET: usize = memory.data({ret_size}, 8);

/** A call's arguments as core values, raw bits zero-extended. */
const FLAT: usize = memory.data(128, 8);
let FLAT_N: i32 = 0;

/** What a call's arguments were copied into, kept alive until it returns. */
const SCRATCH = new Array<ArrayBuffer>();

function flatPush_(bits: u64): void {{
  i64.store(FLAT + ((<usize>FLAT_N) << 3), <i64>bits);
  FLAT_N++;
}}

function flatPad_(to: i32): void {{
  while (FLAT_N < to) flatPush_(0);
}}

function flatI32_(i: i32): i32 {{
  return <i32>load<u64>(FLAT + ((<usize>i) << 3));
}}

function flatI64_(i: i32): i64 {{
  return <i64>load<u64>(FLAT + ((<usize>i) << 3));
}}

function flatF32_(i: i32): f32 {{
  return reinterpret<f32>(<u32>load<u64>(FLAT + ((<usize>i) << 3)));
}}

function flatF64_(i: i32): f64 {{
  return reinterpret<f64>(load<u64>(FLAT + ((<usize>i) << 3)));
}}

/** Room for `size` bytes of arguments until the call returns. */
function scratch_(size: usize): usize {{
  const buffer = new ArrayBuffer(<i32>size);
  SCRATCH.push(buffer);
  return changetype<usize>(buffer);
}}

/** Frees memory the VM took from `cabi_realloc` (none, 0, for nothing). */
function free_(ptr: usize): void {{
  if (ptr != 0) heap.free(ptr);
}}"#
    );
    let needs_some = types
        .iter()
        .chain(functions().filter_map(|f| f.result_type.as_ref()))
        .chain(functions().flat_map(|f| f.param_types.iter().map(|(_, t)| t)))
        .any(|t| matches!(t, Ty::Option(p) if !boxed(p)) || holds_some(t));
    if needs_some {
        out.push_str("\n/** An option's value, for types `| null` cannot make optional. */\nexport class Some<T> {\n  constructor(public value: T) {}\n}\n");
    }
    for t in &types {
        declare(&mut out, t);
    }
    for iface in &package.interfaces {
        let ns = as_ident(&iface.name);
        let _ = writeln!(out, "\n// ---- {} ({}) ----", iface.name, iface.module);
        for f in &iface.functions {
            let raw_params: Vec<String> = f
                .import_params
                .iter()
                .enumerate()
                .map(|(i, t)| format!("p{i}: {}", core_as(*t)))
                .collect();
            let raw_ret = f.import_results.first().map_or("void", |t| core_as(*t));
            let _ = writeln!(
                out,
                "\n// @ts-ignore: decorator\n@external(\"{}\", \"{}\")\nexport declare function {}_{}({}): {raw_ret};",
                iface.module,
                f.name,
                snake(&iface.name),
                snake(&f.name),
                raw_params.join(", ")
            );
        }
        out.push('\n');
        comment(&mut out, "", &iface.docs);
        let _ = writeln!(out, "export namespace {ns} {{");
        for (i, f) in iface.functions.iter().enumerate() {
            if i > 0 {
                out.push('\n');
            }
            function(&mut out, &snake(&iface.name), f);
        }
        let _ = writeln!(out, "}}");
    }
    Ok(out)
}

/// Whether a value of `t` is an object (so `T | null` can make it
/// optional).
fn boxed(t: &Ty) -> bool {
    matches!(
        t,
        Ty::String | Ty::List(_) | Ty::Tuple(_) | Ty::Record(_) | Ty::Variant(_) | Ty::Result(..)
    )
}

/// Whether `t` holds an `option` that needs `Some`.
fn holds_some(t: &Ty) -> bool {
    match t {
        Ty::Option(p) => !boxed(p) || holds_some(p),
        Ty::List(e) => holds_some(e),
        Ty::Tuple(ts) => ts.iter().any(holds_some),
        Ty::Record(r) => r.fields.iter().any(|(_, t)| holds_some(t)),
        Ty::Variant(v) => v.cases.iter().flat_map(|(_, t)| t).any(holds_some),
        Ty::Result(ok, err) => ok.iter().chain(err).any(|t| holds_some(t)),
        _ => false,
    }
}

/// Whether `t` gets functions of its own.
fn compound(t: &Ty) -> bool {
    !Ty::is_scalar(t) && !matches!(t, Ty::Enum(_) | Ty::Flags(_))
}

/// The part of a function's name that says which type it is.
fn mangle(t: &Ty) -> String {
    t.mangled()
}

/// A class or enum name for a WIT name.
fn class_name(name: &str) -> String {
    let c = camel(name);
    match AS_GLOBALS.split_whitespace().any(|g| g == c) {
        true => c + "_",
        false => c,
    }
}

/// The AssemblyScript type of `t`.
fn ty(t: &Ty) -> String {
    match t {
        Ty::Bool => "bool".into(),
        Ty::U8 => "u8".into(),
        Ty::U16 => "u16".into(),
        Ty::U32 | Ty::Char | Ty::Flags(_) => "u32".into(),
        Ty::U64 => "u64".into(),
        Ty::S8 => "i8".into(),
        Ty::S16 => "i16".into(),
        Ty::S32 => "i32".into(),
        Ty::S64 => "i64".into(),
        Ty::F32 => "f32".into(),
        Ty::F64 => "f64".into(),
        Ty::String => "string".into(),
        Ty::List(e) if **e == Ty::U8 => "Uint8Array".into(),
        Ty::List(e) => format!("Array<{}>", ty(e)),
        Ty::Option(p) if boxed(p) => format!("{} | null", ty(p)),
        Ty::Option(p) => format!("Some<{}> | null", ty(p)),
        Ty::Record(_) | Ty::Variant(_) | Ty::Enum(_) => class_name(t.name().expect("named")),
        Ty::Tuple(_) | Ty::Result(..) => camel(&mangle(t).replace('_', "-")),
    }
}

/// A fresh value of `t` (a field's initial value).
fn default(t: &Ty) -> String {
    match t {
        Ty::Bool => "false".into(),
        Ty::String => "\"\"".into(),
        Ty::List(e) if **e == Ty::U8 => "new Uint8Array(0)".into(),
        Ty::List(_) => format!("new {}()", ty(t)),
        Ty::Option(_) => "null".into(),
        Ty::Enum(e) => format!("{}.{}", ty(t), camel(&e.cases[0])),
        Ty::Record(_) | Ty::Variant(_) | Ty::Tuple(_) | Ty::Result(..) => {
            format!("new {}()", ty(t))
        }
        _ => "0".into(),
    }
}

fn core_as(t: CoreType) -> &'static str {
    match t {
        CoreType::I32 => "i32",
        CoreType::I64 => "i64",
        CoreType::F32 => "f32",
        CoreType::F64 => "f64",
    }
}

/// The memory type a scalar, enum or flags value is stored as.
fn mem(t: &Ty) -> String {
    match t {
        Ty::Bool => "u8".into(),
        Ty::Char => "u32".into(),
        Ty::Enum(e) => uint(discriminant_size(e.cases.len())).into(),
        Ty::Flags(_) => uint(t.size()).into(),
        t => ty(t),
    }
}

fn uint(size: u32) -> &'static str {
    match size {
        1 => "u8",
        2 => "u16",
        _ => "u32",
    }
}

/// A statement storing `v`, a value of memory type `mem`, at `at`, with the
/// builtins a namespace of the bindings cannot hide (an interface may be
/// called `store`).
fn st(mem: &str, at: &str, v: &str) -> String {
    match mem {
        "u8" | "i8" => format!("i32.store8({at}, <i32>({v}));"),
        "u16" | "i16" => format!("i32.store16({at}, <i32>({v}));"),
        "u32" | "i32" => format!("i32.store({at}, <i32>({v}));"),
        "u64" | "i64" => format!("i64.store({at}, <i64>({v}));"),
        "f32" => format!("f32.store({at}, {v});"),
        _ => format!("f64.store({at}, {v});"),
    }
}

/// A statement storing `v` at `at`.
fn put(t: &Ty, at: &str, v: &str) -> String {
    match t {
        Ty::Bool => st("u8", at, &format!("{v} ? 1 : 0")),
        t if !compound(t) => st(&mem(t), at, v),
        t => format!("put_{}_({at}, {v});", mangle(t)),
    }
}

/// A statement appending `v`'s core values to the call's.
fn flat(t: &Ty, v: &str) -> String {
    match t {
        Ty::Bool => format!("flatPush_({v} ? 1 : 0);"),
        Ty::U8 | Ty::U16 | Ty::U32 | Ty::Char | Ty::Flags(_) => {
            format!("flatPush_(<u64><u32>{v});")
        }
        Ty::Enum(_) => format!("flatPush_(<u64><u32>{v});"),
        Ty::S8 | Ty::S16 | Ty::S32 => format!("flatPush_(<u64><u32><i32>{v});"),
        Ty::U64 => format!("flatPush_({v});"),
        Ty::S64 => format!("flatPush_(<u64>{v});"),
        Ty::F32 => format!("flatPush_(<u64>reinterpret<u32>({v}));"),
        Ty::F64 => format!("flatPush_(reinterpret<u64>({v}));"),
        t => format!("flat_{}_({v});", mangle(t)),
    }
}

/// An expression for the value at `at`.
fn take(t: &Ty, at: &str) -> String {
    match t {
        Ty::Bool => format!("load<u8>({at}) != 0"),
        Ty::Enum(_) => format!("<{}>load<{}>({at})", ty(t), mem(t)),
        Ty::Flags(_) => format!("<u32>load<{}>({at})", mem(t)),
        t if !compound(t) => format!("load<{}>({at})", mem(t)),
        t => format!("take_{}_({at})", mangle(t)),
    }
}

/// Every type the functions use that gets a declaration or functions, each
/// after the types it holds, once.
fn types(package: &Package) -> Result<Vec<Ty>> {
    let declared = |t: &Ty| match t.name() {
        Some(n) => class_name(n),
        None => camel(&mangle(t).replace('_', "-")),
    };
    package.types_used(|t| !t.is_scalar(), declared, "AssemblyScript")
}

/// The cases of a variant-like type: name, payload.
fn cases(t: &Ty) -> Vec<(String, Option<&Ty>)> {
    match t {
        Ty::Variant(v) => v
            .cases
            .iter()
            .map(|(n, p)| (n.clone(), p.as_ref()))
            .collect(),
        Ty::Option(p) => vec![("none".into(), None), ("some".into(), Some(&**p))],
        Ty::Result(ok, err) => vec![("ok".into(), ok.as_deref()), ("err".into(), err.as_deref())],
        _ => Vec::new(),
    }
}

/// Declares a type, if it needs a declaration, and its functions.
fn declare(out: &mut String, t: &Ty) {
    let name = ty(t);
    match t {
        Ty::Record(r) => {
            let _ = writeln!(
                out,
                "\n/** The WIT record `{}`. */\nexport class {name} {{\n  constructor(",
                r.name
            );
            let fields: Vec<String> = r
                .fields
                .iter()
                .map(|(n, f)| format!("    public {}: {} = {}", as_ident(n), ty(f), default(f)))
                .collect();
            let _ = writeln!(out, "{}\n  ) {{}}\n}}", fields.join(",\n"));
        }
        Ty::Tuple(ts) => {
            let _ = writeln!(
                out,
                "\n/** A `{}`. */\nexport class {name} {{\n  constructor(",
                t.wit()
            );
            let fields: Vec<String> = ts
                .iter()
                .enumerate()
                .map(|(i, f)| format!("    public f{i}: {} = {}", ty(f), default(f)))
                .collect();
            let _ = writeln!(out, "{}\n  ) {{}}\n}}", fields.join(",\n"));
        }
        Ty::Result(ok, err) => {
            let _ = writeln!(out, "\n/** A `{}`: `ok` when `isOk`, otherwise `err`. */\nexport class {name} {{\n  /** Whether it is the ok case. */\n  isOk: bool = true;", t.wit());
            if let Some(ok) = ok {
                let _ = writeln!(
                    out,
                    "  /** The value, when `isOk`. */\n  ok: {} = {};",
                    ty(ok),
                    default(ok)
                );
            }
            if let Some(err) = err {
                let _ = writeln!(
                    out,
                    "  /** The error, when not `isOk`. */\n  err: {} = {};",
                    ty(err),
                    default(err)
                );
            }
            let _ = writeln!(out, "}}");
        }
        Ty::Variant(v) => {
            let tag = uint(discriminant_size(v.cases.len()));
            let _ = writeln!(out, "\n/** The WIT variant `{}`: `tag` says which case; a case's payload is\n * in its field. */\nexport class {name} {{\n  /** Which case (the constants below). */\n  tag: {tag} = 0;", v.name);
            for (n, p) in &v.cases {
                if let Some(p) = p {
                    let field = match boxed(p) {
                        true => format!("{} | null = null", ty(p)),
                        false => format!("{} = {}", ty(p), default(p)),
                    };
                    let _ = writeln!(
                        out,
                        "  /** `{n}`'s payload. */\n  {}: {field};",
                        as_ident(n)
                    );
                }
            }
            for (i, (n, p)) in v.cases.iter().enumerate() {
                let constant = snake(n).to_uppercase();
                let _ = writeln!(
                    out,
                    "  /** The case `{n}`. */\n  static readonly {constant}: {tag} = {i};"
                );
                let (param, set) = match p {
                    Some(p) => (
                        format!("v: {}", ty(p)),
                        format!("\n    r.{} = v;", as_ident(n)),
                    ),
                    None => (String::new(), String::new()),
                };
                let _ = writeln!(out, "  /** Makes the case `{n}`. */\n  static {}({param}): {name} {{\n    const r = new {name}();\n    r.tag = {name}.{constant};{set}\n    return r;\n  }}", as_ident(n));
            }
            let _ = writeln!(out, "}}");
        }
        Ty::Enum(e) => {
            let _ = writeln!(
                out,
                "\n/** The WIT enum `{}`. */\nexport enum {name} {{",
                e.name
            );
            let cases: Vec<String> = e
                .cases
                .iter()
                .enumerate()
                .map(|(i, c)| format!("  {} = {i}", unreserved(camel(c))))
                .collect();
            let _ = writeln!(out, "{}\n}}", cases.join(",\n"));
            return;
        }
        Ty::Flags(f) => {
            let _ = writeln!(
                out,
                "\n/** The WIT flags `{}`: a u32 of these constants or'ed. */\nexport class {} {{",
                f.name,
                class_name(&f.name)
            );
            for (i, n) in f.flags.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "  static readonly {}: u32 = {};",
                    snake(n).to_uppercase(),
                    1u64 << i
                );
            }
            let _ = writeln!(out, "}}");
            return;
        }
        _ => {}
    }
    let m = mangle(t);
    let (mut p, mut fl, mut tk) = (String::new(), String::new(), String::new());
    match t {
        Ty::String => {
            p.push_str("  const bytes = String.UTF8.encode(v);\n  SCRATCH.push(bytes);\n  i32.store(at, <i32>changetype<usize>(bytes));\n  i32.store(at + 4, bytes.byteLength);\n");
            fl.push_str("  const bytes = String.UTF8.encode(v);\n  SCRATCH.push(bytes);\n  flatPush_(<u64><u32>changetype<usize>(bytes));\n  flatPush_(<u64><u32>bytes.byteLength);\n");
            tk.push_str("  const ptr = <usize>load<u32>(at);\n  const len = load<u32>(at, 4);\n  if (ptr == 0) return \"\";\n  const text = String.UTF8.decodeUnsafe(ptr, len);\n  free_(ptr);\n  return text;\n");
        }
        Ty::List(e) if **e == Ty::U8 => {
            p.push_str("  i32.store(at, <i32>v.dataStart);\n  i32.store(at + 4, v.length);\n");
            fl.push_str("  flatPush_(<u64><u32>v.dataStart);\n  flatPush_(<u64><u32>v.length);\n");
            tk.push_str("  const ptr = <usize>load<u32>(at);\n  const len = load<u32>(at, 4);\n  const bytes = new Uint8Array(<i32>len);\n  if (ptr != 0) memory.copy(bytes.dataStart, ptr, len);\n  free_(ptr);\n  return bytes;\n");
        }
        Ty::List(e) => {
            let size = e.size();
            let lower = if Ty::is_scalar(e) {
                "  const ptr: usize = v.dataStart;\n".to_string()
            } else {
                format!("  const ptr = scratch_(<usize>v.length * {size});\n  for (let i = 0; i < v.length; i++) {{\n    {}\n  }}\n", put(e, &format!("ptr + <usize>i * {size}"), "v[i]"))
            };
            let _ = write!(
                p,
                "{lower}  i32.store(at, <i32>ptr);\n  i32.store(at + 4, v.length);\n"
            );
            let _ = write!(
                fl,
                "{lower}  flatPush_(<u64><u32>ptr);\n  flatPush_(<u64><u32>v.length);\n"
            );
            let _ = write!(
                tk,
                "  const ptr = <usize>load<u32>(at);\n  const len = load<u32>(at, 4);\n"
            );
            if Ty::is_scalar(e) {
                let _ = write!(tk, "  const list = new {}(<i32>len);\n  if (len != 0) memory.copy(list.dataStart, ptr, <usize>len * {size});\n", ty(t));
            } else {
                let _ = write!(tk, "  const list = new {}();\n  for (let i: u32 = 0; i < len; i++) list.push({});\n", ty(t), take(e, &format!("ptr + <usize>i * {size}")));
            }
            tk.push_str("  free_(ptr);\n  return list;\n");
        }
        Ty::Tuple(_) | Ty::Record(_) => {
            let fields: Vec<(String, &Ty)> = match t {
                Ty::Tuple(ts) => ts
                    .iter()
                    .enumerate()
                    .map(|(i, e)| (format!("f{i}"), e))
                    .collect(),
                Ty::Record(r) => r.fields.iter().map(|(n, e)| (as_ident(n), e)).collect(),
                _ => unreachable!(),
            };
            let mut args = Vec::new();
            for ((n, e), o) in fields.iter().zip(t.field_offsets()) {
                let _ = writeln!(p, "  {}", put(e, &format!("at + {o}"), &format!("v.{n}")));
                let _ = writeln!(fl, "  {}", flat(e, &format!("v.{n}")));
                args.push(take(e, &format!("at + {o}")));
            }
            let _ = writeln!(tk, "  return new {name}({});", args.join(", "));
        }
        _ => {
            // Variant-like: option, result, variant.
            let cs = cases(t);
            let d = discriminant_size(cs.len());
            let at = t.payload_offset();
            let n_flat = t.flat().len();
            type Payload = Box<dyn Fn(&str) -> String>;
            let (tag, payload): (String, Payload) = match t {
                Ty::Option(p) if boxed(p) => {
                    ("v == null ? 0 : 1".into(), Box::new(|_| "v!".into()))
                }
                Ty::Option(_) => ("v == null ? 0 : 1".into(), Box::new(|_| "v!.value".into())),
                Ty::Result(..) => ("v.isOk ? 0 : 1".into(), Box::new(|n| format!("v.{n}"))),
                _ => ("v.tag".into(), Box::new(|n| format!("v.{}", as_ident(n)))),
            };
            let unwrap = |case: &str, p: &Ty| match t {
                Ty::Variant(_) if boxed(p) => format!("{}!", payload(case)),
                _ => payload(case),
            };
            let dt = uint(d);
            let _ = writeln!(p, "  const tag = <u32>({tag});\n  {}", st(dt, "at", "tag"));
            let _ = writeln!(
                fl,
                "  const start = FLAT_N;\n  const tag = <u32>({tag});\n  flatPush_(<u64>tag);"
            );
            let _ = writeln!(tk, "  const tag = <u32>load<{dt}>(at);");
            for (i, (case, pl)) in cs.iter().enumerate() {
                let Some(pl) = pl else { continue };
                let v = unwrap(case, pl);
                let _ = writeln!(
                    p,
                    "  if (tag == {i}) {}",
                    put(pl, &format!("at + {at}"), &v)
                );
                let _ = writeln!(fl, "  if (tag == {i}) {}", flat(pl, &v));
            }
            let _ = writeln!(fl, "  flatPad_(start + {n_flat});");
            match t {
                Ty::Option(pl) => {
                    let value = take(pl, &format!("at + {at}"));
                    let value = match boxed(pl) {
                        true => value,
                        false => format!("new Some<{}>({value})", ty(pl)),
                    };
                    let _ = writeln!(tk, "  if (tag == 0) return null;\n  return {value};");
                }
                Ty::Result(ok, err) => {
                    let _ = writeln!(tk, "  const r = new {name}();\n  r.isOk = tag == 0;");
                    if let Some(ok) = ok {
                        let _ = writeln!(
                            tk,
                            "  if (tag == 0) r.ok = {};",
                            take(ok, &format!("at + {at}"))
                        );
                    }
                    if let Some(err) = err {
                        let _ = writeln!(
                            tk,
                            "  if (tag == 1) r.err = {};",
                            take(err, &format!("at + {at}"))
                        );
                    }
                    tk.push_str("  return r;\n");
                }
                _ => {
                    let _ = writeln!(tk, "  const r = new {name}();\n  r.tag = <{dt}>tag;");
                    for (i, (case, pl)) in cs.iter().enumerate() {
                        if let Some(pl) = pl {
                            let _ = writeln!(
                                tk,
                                "  if (tag == {i}) r.{} = {};",
                                as_ident(case),
                                take(pl, &format!("at + {at}"))
                            );
                        }
                    }
                    tk.push_str("  return r;\n");
                }
            }
        }
    }
    let _ = writeln!(
        out,
        "\nfunction put_{m}_(at: usize, v: {name}): void {{\n{p}}}"
    );
    let _ = writeln!(out, "\nfunction flat_{m}_(v: {name}): void {{\n{fl}}}");
    let _ = writeln!(out, "\nfunction take_{m}_(at: usize): {name} {{\n{tk}}}");
}

/// The typed function of one plugin function.
fn function(out: &mut String, iface: &str, f: &Function) {
    let name = as_ident(&f.name);
    let params: Vec<String> = f
        .param_types
        .iter()
        .map(|(n, t)| format!("{}: {}", as_ident(n), ty(t)))
        .collect();
    let ret = f.result_type.as_ref().map_or("void".into(), ty);
    comment(out, "  ", &with_since(&f.docs, f.since));
    let _ = writeln!(
        out,
        "  export function {name}({}): {ret} {{",
        params.join(", ")
    );
    let mut args: Vec<String> = Vec::new();
    if f.params_in_memory() {
        let tuple = Ty::Tuple(f.param_types.iter().map(|(_, t)| t.clone()).collect());
        let _ = writeln!(out, "    const args_ = scratch_({});", tuple.size());
        for ((n, t), o) in f.param_types.iter().zip(tuple.field_offsets()) {
            let _ = writeln!(out, "    {}", put(t, &format!("args_ + {o}"), &as_ident(n)));
        }
        args.push("<i32>args_".into());
    } else if !f.param_types.is_empty() {
        let _ = writeln!(out, "    FLAT_N = 0;");
        for (n, t) in &f.param_types {
            let _ = writeln!(out, "    {}", flat(t, &as_ident(n)));
        }
        let cores: Vec<CoreType> = f.param_types.iter().flat_map(|(_, t)| t.flat()).collect();
        for (i, c) in cores.iter().enumerate() {
            let reader = match c {
                CoreType::I32 => "flatI32_",
                CoreType::I64 => "flatI64_",
                CoreType::F32 => "flatF32_",
                CoreType::F64 => "flatF64_",
            };
            args.push(format!("{reader}({i})"));
        }
    }
    let raw = format!("{iface}_{}", snake(&f.name));
    let clear = if f.param_types.is_empty() {
        ""
    } else {
        "\n    SCRATCH.length = 0;"
    };
    let Some(result) = &f.result_type else {
        let _ = writeln!(out, "    {raw}({});{clear}\n  }}", args.join(", "));
        return;
    };
    if f.result_in_memory() {
        args.push("<i32>RET".into());
        let _ = writeln!(out, "    {raw}({});{clear}", args.join(", "));
    } else {
        // One core value: its low bytes are the value's memory layout.
        let bits = match f.import_results.first() {
            Some(CoreType::I32) => "<u64><u32>r_",
            Some(CoreType::I64) => "<u64>r_",
            Some(CoreType::F32) => "<u64>reinterpret<u32>(r_)",
            Some(CoreType::F64) => "reinterpret<u64>(r_)",
            None => "0",
        };
        let call = match f.import_results.is_empty() {
            true => format!("{raw}({});", args.join(", ")),
            false => format!("const r_ = {raw}({});", args.join(", ")),
        };
        let _ = writeln!(out, "    {call}{clear}\n    i64.store(RET, <i64>{bits});");
    }
    let _ = writeln!(out, "    return {};\n  }}", take(result, "RET"));
}
