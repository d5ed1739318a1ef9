//! AssemblyScript: a class per record, variant and tuple, an `enum` per
//! enum, with codecs over the SDK's `Writer` and `Reader`.

use crate::names::{doc_lines, lower_camel, unreserved, upper_camel};
use crate::schema::{Def, Schema, Ty};
use crate::Options;
use std::collections::HashMap;
use std::fmt::Write;

const RESERVED: &[&str] = &[
    "break",
    "case",
    "catch",
    "class",
    "const",
    "continue",
    "debugger",
    "default",
    "delete",
    "do",
    "else",
    "enum",
    "export",
    "extends",
    "false",
    "finally",
    "for",
    "function",
    "if",
    "import",
    "in",
    "instanceof",
    "new",
    "null",
    "return",
    "super",
    "switch",
    "this",
    "throw",
    "true",
    "try",
    "typeof",
    "var",
    "void",
    "while",
    "with",
    "as",
    "implements",
    "interface",
    "let",
    "package",
    "private",
    "protected",
    "public",
    "static",
    "yield",
    "type",
    "constructor",
    "read",
    "write",
    "encode",
    "decode",
    "kind",
    "declare",
    "abstract",
    "readonly",
    "override",
    "toBytes",
    "fromBytes",
];

fn member(name: &str) -> String {
    unreserved(lower_camel(name), RESERVED, "_")
}

fn class(name: &str) -> String {
    unreserved(
        upper_camel(name),
        &[
            "Writer",
            "Reader",
            "Result",
            "Some",
            "Array",
            "String",
            "Uint8Array",
        ],
        "_",
    )
}

/// Names a compound type in helper functions: `ListU32`, `OptionString`, …
fn mangle(t: &Ty) -> String {
    match t {
        Ty::Bool => "Bool".into(),
        Ty::U8 => "U8".into(),
        Ty::U16 => "U16".into(),
        Ty::U32 => "U32".into(),
        Ty::U64 => "U64".into(),
        Ty::S8 => "S8".into(),
        Ty::S16 => "S16".into(),
        Ty::S32 => "S32".into(),
        Ty::S64 => "S64".into(),
        Ty::F32 => "F32".into(),
        Ty::F64 => "F64".into(),
        Ty::String => "String".into(),
        Ty::List(t) => format!("List{}", mangle(t)),
        Ty::Option(t) => format!("Option{}", mangle(t)),
        // `_` never occurs in a class name from WIT, so `tuple<a, b-c>` and
        // `tuple<a-b, c>` stay apart.
        Ty::Tuple(ts) => format!(
            "Tuple{}_{}",
            ts.len(),
            ts.iter().map(mangle).collect::<Vec<_>>().join("_")
        ),
        Ty::Named(n) => class(n),
    }
}

/// `static read(r)`: a fresh value decoded from `r`.
fn static_read(c: &str) -> String {
    format!("\n  static read(r: Reader): {c} {{\n    const v = new {c}();\n    v.decode(r);\n    return v;\n  }}")
}

fn is_bytes(t: &Ty) -> bool {
    matches!(t, Ty::List(e) if **e == Ty::U8)
}

struct Emitter<'a> {
    schema: &'a Schema,
    out: String,
    /// The compound types already defined, by name.
    emitted: HashMap<String, Ty>,
    /// Two compound types that would have one name.
    conflict: Option<String>,
}

impl Emitter<'_> {
    /// Whether `t` is a class or other reference that `| null` can make
    /// optional (values need `Some<T>`).
    fn nullable(&self, t: &Ty) -> bool {
        match self.schema.resolved(t) {
            Ty::String | Ty::List(_) | Ty::Tuple(_) => true,
            Ty::Named(n) => matches!(
                self.schema.get(n).map(|d| &d.def),
                Some(Def::Record(_) | Def::Variant(_))
            ),
            _ => false,
        }
    }

    fn ty(&self, t: &Ty) -> String {
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
            Ty::String => "string".into(),
            t if is_bytes(t) => "Uint8Array".into(),
            Ty::List(e) => format!("Array<{}>", self.ty(e)),
            Ty::Option(e) if self.nullable(e) => format!("{} | null", self.ty(e)),
            Ty::Option(e) => format!("Some<{}> | null", self.ty(e)),
            Ty::Tuple(_) => mangle(t),
            Ty::Named(n) => class(n),
        }
    }

    /// A fresh value of `t`.
    fn default(&self, t: &Ty) -> String {
        match self.schema.resolved(t) {
            Ty::Bool => "false".into(),
            Ty::F32 | Ty::F64 => "0.0".into(),
            Ty::String => "\"\"".into(),
            t if is_bytes(t) => "new Uint8Array(0)".into(),
            Ty::List(e) => format!("new Array<{}>()", self.ty(e)),
            Ty::Option(_) => "null".into(),
            t @ Ty::Tuple(_) => format!("new {}()", mangle(t)),
            Ty::Named(n) => match self.schema.get(n).map(|d| &d.def) {
                Some(Def::Enum(cases)) => format!("{}.{}", class(n), class(&cases[0])),
                _ => format!("new {}()", class(n)),
            },
            _ => "0".into(),
        }
    }

    /// The statement writing `e` (of type `t`) to `w`.
    fn write(&self, t: &Ty, e: &str) -> String {
        match t {
            Ty::Bool => format!("w.bool({e});"),
            Ty::U8 => format!("w.u8({e});"),
            Ty::S8 => format!("w.i8({e});"),
            Ty::U16 | Ty::U32 | Ty::U64 => format!("w.u64({e} as u64);"),
            Ty::S16 | Ty::S32 | Ty::S64 => format!("w.i64({e} as i64);"),
            Ty::F32 => format!("w.f32({e});"),
            Ty::F64 => format!("w.f64({e});"),
            Ty::String => format!("w.str({e});"),
            t if is_bytes(t) => format!("w.bytes({e});"),
            Ty::Named(n) => match self.schema.get(n).map(|d| &d.def) {
                Some(Def::Enum(_)) => format!("w.variant({e} as u32);"),
                Some(Def::Alias(target)) => self.write(target, e),
                _ => format!("{e}.encode(w);"),
            },
            Ty::Tuple(_) => format!("{e}.encode(w);"),
            _ => format!("write{}(w, {e});", mangle(t)),
        }
    }

    /// The expression reading a `t` from `r`.
    fn read(&self, t: &Ty) -> String {
        match t {
            Ty::Bool => "r.bool()".into(),
            Ty::U8 => "r.u8()".into(),
            Ty::S8 => "r.i8()".into(),
            Ty::U16 => "r.u16()".into(),
            Ty::U32 => "r.u32()".into(),
            Ty::U64 => "r.u64()".into(),
            Ty::S16 => "r.i16()".into(),
            Ty::S32 => "r.i32()".into(),
            Ty::S64 => "r.i64()".into(),
            Ty::F32 => "r.f32()".into(),
            Ty::F64 => "r.f64()".into(),
            Ty::String => "r.str()".into(),
            t if is_bytes(t) => "r.bytes()".into(),
            Ty::Named(n) => match self.schema.get(n).map(|d| &d.def) {
                Some(Def::Enum(_)) => format!("read{}(r)", class(n)),
                Some(Def::Alias(target)) => self.read(target),
                _ => format!("{}.read(r)", class(n)),
            },
            Ty::Tuple(_) => format!("{}.read(r)", mangle(t)),
            _ => format!("read{}(r)", mangle(t)),
        }
    }

    /// Emits the helpers and classes of the compound types `t` needs.
    fn compound(&mut self, t: &Ty) {
        match t {
            Ty::List(e) | Ty::Option(e) => self.compound(e),
            Ty::Tuple(ts) => ts.iter().for_each(|e| self.compound(e)),
            _ => return,
        }
        if is_bytes(t) {
            return;
        }
        let m = mangle(t);
        if let Some(seen) = self.emitted.get(&m) {
            if seen != t && self.conflict.is_none() {
                self.conflict = Some(format!(
                    "{seen:?} and {t:?} would both be `{m}` in AssemblyScript"
                ));
            }
            return;
        }
        self.emitted.insert(m.clone(), t.clone());
        let mut out = String::new();
        match t {
            Ty::List(e) => {
                let et = self.ty(e);
                writeln!(out, "function write{m}(w: Writer, v: Array<{et}>): void {{").unwrap();
                writeln!(out, "  w.len_(v.length);").unwrap();
                writeln!(
                    out,
                    "  for (let i = 0; i < v.length; i++) {{\n    {}\n  }}\n}}\n",
                    self.write(e, "v[i]")
                )
                .unwrap();
                writeln!(out, "function read{m}(r: Reader): Array<{et}> {{").unwrap();
                writeln!(out, "  const n = r.len_();\n  const v = new Array<{et}>();").unwrap();
                writeln!(
                    out,
                    "  for (let i = 0; i < n && !r.error; i++) v.push({});",
                    self.read(e)
                )
                .unwrap();
                writeln!(out, "  return v;\n}}\n").unwrap();
            }
            Ty::Option(e) => {
                let ot = self.ty(t);
                let value = if self.nullable(e) { "o" } else { "o.value" };
                writeln!(out, "function write{m}(w: Writer, v: {ot}): void {{").unwrap();
                writeln!(out, "  const o = v;\n  w.option(o != null);").unwrap();
                writeln!(
                    out,
                    "  if (o != null) {{\n    {}\n  }}\n}}\n",
                    self.write(e, value)
                )
                .unwrap();
                writeln!(out, "function read{m}(r: Reader): {ot} {{").unwrap();
                writeln!(out, "  if (!r.option()) return null;").unwrap();
                if self.nullable(e) {
                    writeln!(out, "  return {};\n}}\n", self.read(e)).unwrap();
                } else {
                    writeln!(
                        out,
                        "  return new Some<{}>({});\n}}\n",
                        self.ty(e),
                        self.read(e)
                    )
                    .unwrap();
                }
            }
            Ty::Tuple(ts) => {
                writeln!(out, "/** A tuple of {}. */\nexport class {m} {{", ts.len()).unwrap();
                for (i, e) in ts.iter().enumerate() {
                    writeln!(out, "  f{i}: {} = {};", self.ty(e), self.default(e)).unwrap();
                }
                writeln!(out, "\n  encode(w: Writer): void {{").unwrap();
                for (i, e) in ts.iter().enumerate() {
                    writeln!(out, "    {}", self.write(e, &format!("this.f{i}"))).unwrap();
                }
                writeln!(out, "  }}\n\n  decode(r: Reader): void {{").unwrap();
                for (i, e) in ts.iter().enumerate() {
                    writeln!(out, "    this.f{i} = {};", self.read(e)).unwrap();
                }
                writeln!(out, "  }}\n{}}}\n", static_read(&m)).unwrap();
            }
            _ => unreachable!(),
        }
        self.out.push_str(&out);
    }

    /// `toBytes`/`fromBytes` for a class `c`: a whole message.
    fn whole(&self, c: &str) -> String {
        format!(
            "\n  /** The whole message's bytes. */\n  toBytes(): Uint8Array {{\n    const w = new Writer();\n    this.encode(w);\n    return w.finish();\n  }}\n\n  \
             /** Decodes a whole message; fails (DECODE) if the bytes are not exactly one `{c}`. */\n  \
             static fromBytes(data: Uint8Array): Result<{c}> {{\n    return decodeWhole<{c}>(data);\n  }}\n"
        )
    }

    fn named(&mut self, t: &crate::schema::TypeDef) {
        for u in t.used() {
            self.compound(u);
        }
        let c = class(&t.name);
        let mut out = doc_lines(&t.docs, "", "//");
        match &t.def {
            Def::Alias(target) => {
                writeln!(out, "export type {c} = {};\n", self.ty(target)).unwrap();
            }
            Def::Record(fields) => {
                writeln!(out, "/** The record `{}`. */\nexport class {c} {{", t.name).unwrap();
                for f in fields {
                    out.push_str(&doc_lines(&f.docs, "  ", "//"));
                    writeln!(
                        out,
                        "  {}: {} = {};",
                        member(&f.name),
                        self.ty(&f.ty),
                        self.default(&f.ty)
                    )
                    .unwrap();
                }
                writeln!(out, "\n  encode(w: Writer): void {{").unwrap();
                for f in fields {
                    writeln!(
                        out,
                        "    {}",
                        self.write(&f.ty, &format!("this.{}", member(&f.name)))
                    )
                    .unwrap();
                }
                writeln!(out, "  }}\n\n  decode(r: Reader): void {{").unwrap();
                for f in fields {
                    writeln!(out, "    this.{} = {};", member(&f.name), self.read(&f.ty)).unwrap();
                }
                writeln!(out, "  }}\n{}", static_read(&c)).unwrap();
                out.push_str(&self.whole(&c));
                writeln!(out, "}}\n").unwrap();
            }
            Def::Variant(cases) => {
                writeln!(out, "/** Which case a `{c}` is. */\nexport enum {c}Kind {{").unwrap();
                for (i, case) in cases.iter().enumerate() {
                    writeln!(out, "  {} = {i},", class(&case.name)).unwrap();
                }
                writeln!(out, "}}\n").unwrap();
                writeln!(out, "/** The variant `{}`: `kind` says which case it is; the field named after that case holds its payload. */\nexport class {c} {{", t.name).unwrap();
                writeln!(out, "  kind: {c}Kind = {c}Kind.{};", class(&cases[0].name)).unwrap();
                for (i, case) in cases.iter().enumerate() {
                    if let Some(p) = &case.ty {
                        // The first case is the default kind: its payload
                        // starts as a value, so a fresh variant encodes.
                        let (pt, init) = if !self.nullable(p) {
                            (self.ty(p), self.default(p))
                        } else if i == 0 {
                            (format!("{} | null", self.ty(p)), self.default(p))
                        } else {
                            (format!("{} | null", self.ty(p)), "null".to_string())
                        };
                        writeln!(out, "  {}: {pt} = {init};", member(&case.name)).unwrap();
                    }
                }
                for case in cases {
                    let ctor = member(&case.name);
                    match &case.ty {
                        Some(p) => writeln!(out, "\n  static {ctor}(value: {}): {c} {{\n    const v = new {c}();\n    v.kind = {c}Kind.{};\n    v.{ctor} = value;\n    return v;\n  }}", self.ty(p), class(&case.name)),
                        None => writeln!(out, "\n  static {ctor}(): {c} {{\n    const v = new {c}();\n    v.kind = {c}Kind.{};\n    return v;\n  }}", class(&case.name)),
                    }
                    .unwrap();
                }
                writeln!(out, "\n  encode(w: Writer): void {{\n    w.variant(this.kind as u32);\n    switch (this.kind) {{").unwrap();
                for case in cases {
                    if let Some(p) = &case.ty {
                        let field = format!("this.{}", member(&case.name));
                        let value = if self.nullable(p) {
                            format!("{field}!")
                        } else {
                            field
                        };
                        writeln!(
                            out,
                            "      case {c}Kind.{}: {{\n        {}\n        break;\n      }}",
                            class(&case.name),
                            self.write(p, &value)
                        )
                        .unwrap();
                    }
                }
                writeln!(out, "      default:\n        break;\n    }}\n  }}\n").unwrap();
                writeln!(
                    out,
                    "  decode(r: Reader): void {{\n    const k = r.variant();"
                )
                .unwrap();
                writeln!(out, "    if (k >= {}) {{\n      r.error = true;\n      return;\n    }}\n    this.kind = k as {c}Kind;\n    switch (this.kind) {{", cases.len()).unwrap();
                for case in cases {
                    if let Some(p) = &case.ty {
                        writeln!(out, "      case {c}Kind.{}: {{\n        this.{} = {};\n        break;\n      }}", class(&case.name), member(&case.name), self.read(p)).unwrap();
                    }
                }
                writeln!(
                    out,
                    "      default:\n        break;\n    }}\n  }}\n{}",
                    static_read(&c)
                )
                .unwrap();
                out.push_str(&self.whole(&c));
                writeln!(out, "}}\n").unwrap();
            }
            Def::Enum(cases) => {
                writeln!(out, "/** The enum `{}`. */\nexport enum {c} {{", t.name).unwrap();
                for (i, case) in cases.iter().enumerate() {
                    writeln!(out, "  {} = {i},", class(case)).unwrap();
                }
                writeln!(out, "}}\n").unwrap();
                writeln!(out, "/** Reads a `{c}`; an unknown case is a decode error. */\nexport function read{c}(r: Reader): {c} {{").unwrap();
                writeln!(out, "  const k = r.variant();\n  if (k >= {}) {{\n    r.error = true;\n    return {c}.{};\n  }}\n  return k as {c};\n}}\n", cases.len(), class(&cases[0])).unwrap();
            }
        }
        self.out.push_str(&out);
    }
}

/// Every class, enum and function name the module exports per schema item,
/// to refuse two that would coincide.
fn check_names(schema: &Schema) -> anyhow::Result<()> {
    let mut names = vec![("Some".to_string(), "the module's `Some`".to_string())];
    for t in &schema.types {
        let c = class(&t.name);
        let item = format!("type `{}`", t.name);
        names.push((c.clone(), item.clone()));
        match &t.def {
            Def::Variant(cases) => {
                names.push((format!("{c}Kind"), format!("the kinds of {item}")));
                let members: Vec<(String, String)> = cases
                    .iter()
                    .map(|k| {
                        (
                            member(&k.name),
                            format!("case `{}` of `{}`", k.name, t.name),
                        )
                    })
                    .collect();
                crate::names::distinct("AssemblyScript", members)?;
            }
            Def::Enum(_) => names.push((format!("read{c}"), format!("the reader of {item}"))),
            Def::Record(fields) => {
                let members: Vec<(String, String)> = fields
                    .iter()
                    .map(|f| {
                        (
                            member(&f.name),
                            format!("field `{}` of `{}`", f.name, t.name),
                        )
                    })
                    .collect();
                crate::names::distinct("AssemblyScript", members)?;
            }
            Def::Alias(_) => {}
        }
    }
    crate::names::distinct("AssemblyScript", names)
}

pub fn emit(schema: &Schema, header: &str, options: &Options) -> anyhow::Result<String> {
    check_names(schema)?;
    let mut e = Emitter {
        schema,
        out: String::new(),
        emitted: HashMap::new(),
        conflict: None,
    };
    writeln!(
        e.out,
        "// Message types of `{}`.\n//\n// {header}\n//",
        schema.package
    )
    .unwrap();
    e.out.push_str(
        "// Each record and variant is a class with `encode(w)` and `decode(r)` over\n\
         // the SDK's Writer and Reader (so `Process<T>`, `Mailbox<T>`, `spawn`'s\n\
         // capture and `Request<Q, R>` take it), `static read(r)`, and `toBytes()` /\n\
         // `static fromBytes(bytes)` for a whole message (a `Result`, failing with\n\
         // DECODE if the bytes are not exactly one value). The bytes are\n\
         // postcard's, as the Rust and C types generated from the same WIT write\n\
         // them.\n\n",
    );
    writeln!(
        e.out,
        "import {{ Reader, Writer, Result, decode as decodeWhole }} from \"{}\";\n",
        options.assemblyscript_sdk
    )
    .unwrap();
    e.out.push_str(
        "/** An option's value, for types `| null` cannot make optional. */\n\
         export class Some<T> {\n  constructor(public value: T) {}\n}\n\n",
    );
    for t in &schema.types {
        e.named(t);
    }
    if let Some(conflict) = e.conflict {
        anyhow::bail!("{conflict}: rename a type in the WIT");
    }
    while e.out.ends_with("\n\n") {
        e.out.pop();
    }
    Ok(e.out)
}
