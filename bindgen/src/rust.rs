//! Rust: structs and enums with serde derives, which postcard encodes in
//! the schema's wire format.

use crate::names::{doc_lines, snake, unreserved, upper_camel};
use crate::schema::{Def, Schema, Ty};
use std::fmt::Write;

const KEYWORDS: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum", "extern",
    "false", "fn", "for", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub",
    "ref", "return", "static", "struct", "super", "trait", "true", "type", "unsafe", "use",
    "where", "while", "abstract", "become", "box", "do", "final", "gen", "macro", "override",
    "priv", "try", "typeof", "unsized", "virtual", "yield",
];

/// Keywords that cannot be raw identifiers.
const NOT_RAW: &[&str] = &["self", "super", "crate", "Self"];

fn field(name: &str) -> String {
    let s = snake(name);
    if NOT_RAW.contains(&s.as_str()) {
        format!("{s}_")
    } else if KEYWORDS.contains(&s.as_str()) {
        format!("r#{s}")
    } else {
        s
    }
}

/// The module (and file) name for a WIT file's stem: `my-msgs` → `my_msgs`.
pub fn module_name(stem: &str) -> String {
    let s: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    if s.starts_with(|c: char| c.is_ascii_digit()) || KEYWORDS.contains(&s.as_str()) {
        format!("m_{s}")
    } else {
        s
    }
}

fn type_name(name: &str) -> String {
    unreserved(upper_camel(name), &["Self"], "_")
}

fn ty(t: &Ty) -> String {
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
        // Paths in full: a schema type may be named `string`, `vec` or
        // `option`.
        Ty::String => "::std::string::String".into(),
        Ty::List(t) => format!("::std::vec::Vec<{}>", ty(t)),
        Ty::Option(t) => format!("::std::option::Option<{}>", ty(t)),
        Ty::Tuple(ts) if ts.len() == 1 => format!("({},)", ty(&ts[0])),
        Ty::Tuple(ts) => format!("({})", ts.iter().map(ty).collect::<Vec<_>>().join(", ")),
        Ty::Named(n) => type_name(n),
    }
}

pub fn emit(schema: &Schema, header: &str) -> anyhow::Result<String> {
    let mut names = Vec::new();
    for t in &schema.types {
        names.push((type_name(&t.name), format!("type `{}`", t.name)));
        let inner: Vec<(String, String)> = match &t.def {
            Def::Record(fields) => fields
                .iter()
                .map(|f| {
                    (
                        field(&f.name),
                        format!("field `{}` of `{}`", f.name, t.name),
                    )
                })
                .collect(),
            Def::Variant(cases) => cases
                .iter()
                .map(|c| {
                    (
                        type_name(&c.name),
                        format!("case `{}` of `{}`", c.name, t.name),
                    )
                })
                .collect(),
            Def::Enum(cases) => cases
                .iter()
                .map(|c| (type_name(c), format!("case `{c}` of `{}`", t.name)))
                .collect(),
            Def::Alias(_) => Vec::new(),
        };
        crate::names::distinct("Rust", inner)?;
    }
    crate::names::distinct("Rust", names)?;
    let mut out = String::new();
    writeln!(out, "//! Message types of `{}`.", schema.package).unwrap();
    writeln!(out, "//!").unwrap();
    writeln!(out, "//! {header}").unwrap();
    writeln!(
        out,
        "#![allow(dead_code, non_snake_case, non_camel_case_types)]"
    )
    .unwrap();
    for t in &schema.types {
        out.push('\n');
        let docs = doc_lines(&t.docs, "", "///");
        out.push_str(&docs);
        let name = type_name(&t.name);
        match &t.def {
            Def::Alias(target) => {
                if docs.is_empty() {
                    writeln!(out, "/// `{}` in the schema.", t.name).unwrap();
                }
                writeln!(out, "pub type {name} = {};", ty(target)).unwrap();
            }
            Def::Record(fields) => {
                if docs.is_empty() {
                    writeln!(out, "/// The record `{}`.", t.name).unwrap();
                }
                writeln!(
                    out,
                    "#[derive(Debug, Clone, PartialEq, ::serde::Serialize, ::serde::Deserialize)]"
                )
                .unwrap();
                writeln!(out, "pub struct {name} {{").unwrap();
                for f in fields {
                    out.push_str(&doc_lines(&f.docs, "    ", "///"));
                    if f.docs.is_none() {
                        writeln!(out, "    /// `{}`.", f.name).unwrap();
                    }
                    writeln!(out, "    pub {}: {},", field(&f.name), ty(&f.ty)).unwrap();
                }
                writeln!(out, "}}").unwrap();
            }
            Def::Variant(cases) => {
                if docs.is_empty() {
                    writeln!(out, "/// The variant `{}`.", t.name).unwrap();
                }
                writeln!(
                    out,
                    "#[derive(Debug, Clone, PartialEq, ::serde::Serialize, ::serde::Deserialize)]"
                )
                .unwrap();
                writeln!(out, "pub enum {name} {{").unwrap();
                for c in cases {
                    out.push_str(&doc_lines(&c.docs, "    ", "///"));
                    if c.docs.is_none() {
                        writeln!(out, "    /// `{}`.", c.name).unwrap();
                    }
                    match &c.ty {
                        Some(p) => writeln!(out, "    {}({}),", type_name(&c.name), ty(p)),
                        None => writeln!(out, "    {},", type_name(&c.name)),
                    }
                    .unwrap();
                }
                writeln!(out, "}}").unwrap();
            }
            Def::Enum(cases) => {
                if docs.is_empty() {
                    writeln!(out, "/// The enum `{}`.", t.name).unwrap();
                }
                writeln!(
                    out,
                    "#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, ::serde::Serialize, ::serde::Deserialize)]"
                )
                .unwrap();
                writeln!(out, "pub enum {name} {{").unwrap();
                for c in cases {
                    writeln!(out, "    /// `{c}`.").unwrap();
                    writeln!(out, "    {},", type_name(c)).unwrap();
                }
                writeln!(out, "}}").unwrap();
            }
        }
    }
    Ok(out)
}
