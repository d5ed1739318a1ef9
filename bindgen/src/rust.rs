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

fn field(name: &str) -> String {
    let s = snake(name);
    if KEYWORDS.contains(&s.as_str()) {
        format!("r#{s}")
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
        Ty::String => "String".into(),
        Ty::List(t) => format!("Vec<{}>", ty(t)),
        Ty::Option(t) => format!("Option<{}>", ty(t)),
        Ty::Tuple(ts) if ts.len() == 1 => format!("({},)", ty(&ts[0])),
        Ty::Tuple(ts) => format!("({})", ts.iter().map(ty).collect::<Vec<_>>().join(", ")),
        Ty::Named(n) => type_name(n),
    }
}

pub fn emit(schema: &Schema, header: &str) -> String {
    let mut out = String::new();
    writeln!(out, "//! Message types of `{}`.", schema.package).unwrap();
    writeln!(out, "//!").unwrap();
    writeln!(out, "//! {header}").unwrap();
    writeln!(out, "#![allow(dead_code)]\n").unwrap();
    writeln!(out, "use serde::{{Deserialize, Serialize}};").unwrap();
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
                    "#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]"
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
                    "#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]"
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
                    "#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]"
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
    out
}
