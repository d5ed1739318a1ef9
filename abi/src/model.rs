//! The ABI as the generators see it: the WIT package read with `wit-parser`,
//! checked against the subset of types our lowering rules cover, and reduced
//! to plain data (interfaces, functions, parameter shapes, result shapes).
//!
//! Every emitter (Rust, C, AssemblyScript, the VM's manifest) works from this
//! model, so the lowering rules of `abi/README.md` are implemented once.

use anyhow::{bail, Context, Result};
use std::path::Path;
use wit_parser::abi::{AbiVariant, WasmType};
use wit_parser::{Docs, Resolve, SizeAlign, Stability, Type, TypeDefKind, TypeId};

/// The whole ABI package.
#[derive(Debug, Clone)]
pub struct Abi {
    /// The package version (`vm:host@MAJOR.MINOR.PATCH`).
    pub version: (u32, u32, u32),
    /// Type definitions of the `types` interface, in declaration order.
    pub types: Vec<TypeDef>,
    /// Interfaces with functions, in a stable order.
    pub interfaces: Vec<Interface>,
}

/// A named type of the ABI.
#[derive(Debug, Clone)]
pub struct TypeDef {
    /// The WIT name (kebab-case).
    pub name: String,
    /// Doc comment text.
    pub docs: String,
    /// What it is.
    pub kind: TypeDefShape,
}

/// The shapes of named types the lowering covers.
#[derive(Debug, Clone)]
pub enum TypeDefShape {
    /// An alias of a scalar (`type handle = u32`).
    Alias(Scalar),
    /// An enum: cases in order, stored as `u8`.
    Enum(Vec<Case>),
    /// Flags (at most 8), stored as `u8`, bit i for flag i.
    Flags(Vec<Case>),
    /// A record of scalar fields with their canonical offsets.
    Record {
        /// Fields in order.
        fields: Vec<Field>,
        /// Canonical size in bytes.
        size: usize,
        /// Canonical alignment in bytes.
        align: usize,
    },
}

/// An enum case or a flag.
#[derive(Debug, Clone)]
pub struct Case {
    /// WIT name.
    pub name: String,
    /// Doc comment text.
    pub docs: String,
}

/// A record field.
#[derive(Debug, Clone)]
pub struct Field {
    /// WIT name.
    pub name: String,
    /// Doc comment text.
    pub docs: String,
    /// Its scalar type.
    pub ty: Scalar,
    /// Canonical offset within the record.
    pub offset: usize,
}

/// A scalar: a value that lowers to one core value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scalar {
    /// `bool`: an `i32`, 0 or 1; one byte in memory.
    Bool,
    /// `u8`.
    U8,
    /// `u32`.
    U32,
    /// `u64`.
    U64,
    /// `s32`.
    S32,
    /// `s64`.
    S64,
    /// A named enum (one byte in memory).
    Enum(String),
    /// A named flags type (one byte in memory).
    Flags(String),
    /// A named alias of another scalar.
    Alias(String, Box<Scalar>),
}

impl Scalar {
    /// The scalar with aliases resolved.
    pub fn base(&self) -> &Scalar {
        match self {
            Scalar::Alias(_, inner) => inner.base(),
            other => other,
        }
    }

    /// Size (and alignment) in linear memory.
    pub fn size(&self) -> usize {
        match self.base() {
            Scalar::Bool | Scalar::U8 | Scalar::Enum(_) | Scalar::Flags(_) => 1,
            Scalar::U32 | Scalar::S32 => 4,
            Scalar::U64 | Scalar::S64 => 8,
            Scalar::Alias(..) => unreachable!("base() resolves aliases"),
        }
    }
}

/// An interface that is imported as one core-wasm module.
#[derive(Debug, Clone)]
pub struct Interface {
    /// WIT name (`process`).
    pub name: String,
    /// Core import module name (`vm:host/process@1`).
    pub module: String,
    /// Doc comment text.
    pub docs: String,
    /// Its functions, in declaration order.
    pub functions: Vec<Function>,
}

/// One imported function.
#[derive(Debug, Clone)]
pub struct Function {
    /// WIT name, also the core import name (`self-id`).
    pub name: String,
    /// Doc comment text.
    pub docs: String,
    /// The ABI version it arrived in.
    pub since: (u32, u32, u32),
    /// Parameters as written in WIT.
    pub params: Vec<Param>,
    /// The result as written in WIT.
    pub result: ResultShape,
    /// The core-wasm parameter types after lowering (including a return pointer).
    pub core_params: Vec<CoreType>,
    /// The core-wasm result types after lowering.
    pub core_results: Vec<CoreType>,
}

/// A parameter.
#[derive(Debug, Clone)]
pub struct Param {
    /// WIT name.
    pub name: String,
    /// Its shape.
    pub shape: ParamShape,
}

/// Parameter shapes the lowering covers.
#[derive(Debug, Clone)]
pub enum ParamShape {
    /// One core value.
    Scalar(Scalar),
    /// `string`: pointer and byte length.
    String,
    /// `list<T>` of scalars: pointer and element count.
    List(Scalar),
    /// `option<T>` of a scalar: an `i32` discriminant then the value.
    Option(Scalar),
}

/// Result shapes the lowering covers.
#[derive(Debug, Clone)]
pub enum ResultShape {
    /// No result.
    None,
    /// One scalar, returned directly.
    Scalar(Scalar),
    /// A record, written through the return pointer.
    Record(String),
    /// `result<T, error-code>`, written through the return pointer as a
    /// discriminant byte then the payload at `payload_offset`.
    Result {
        /// The ok type (`None` for `result<_, E>`).
        ok: Option<OkShape>,
        /// Offset of the payload (ok value or error code).
        payload_offset: usize,
        /// Size of the whole result in memory.
        size: usize,
    },
}

/// The ok payload of a `result`.
#[derive(Debug, Clone)]
pub enum OkShape {
    /// A scalar.
    Scalar(Scalar),
    /// A named record.
    Record(String),
}

/// A core WebAssembly value type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CoreType {
    /// `i32`
    I32,
    /// `i64`
    I64,
}

impl Abi {
    /// Reads the WIT package in `dir` and checks it against the subset our
    /// lowering rules cover.
    ///
    /// # Errors
    /// Fails when the WIT does not parse, or uses a type or construct the
    /// lowering rules do not cover (the message names it).
    pub fn load(dir: &Path) -> Result<Abi> {
        let mut resolve = Resolve::new();
        let (pkg, _) = resolve
            .push_dir(dir)
            .with_context(|| format!("reading the WIT package in {}", dir.display()))?;
        let mut sizes = SizeAlign::default();
        sizes.fill(&resolve);
        let package = &resolve.packages[pkg];
        let version = package
            .name
            .version
            .clone()
            .context("the ABI package must carry a version (package vm:host@1.0.0)")?;
        let version = (
            version.major as u32,
            version.minor as u32,
            version.patch as u32,
        );
        let reader = Reader {
            resolve: &resolve,
            sizes: &sizes,
        };

        let mut types = Vec::new();
        let mut interfaces = Vec::new();
        let mut names: Vec<&String> = package.interfaces.keys().collect();
        // `types` first, then the rest alphabetically, so output is stable.
        names.sort_by_key(|n| (n.as_str() != "types", (*n).clone()));
        for name in names {
            let id = package.interfaces[name];
            let iface = &resolve.interfaces[id];
            if name == "types" {
                for (tname, tid) in &iface.types {
                    types.push(reader.typedef(tname, *tid)?);
                }
                continue;
            }
            if iface.functions.is_empty() {
                continue;
            }
            let mut functions = Vec::new();
            for func in iface.functions.values() {
                functions.push(
                    reader
                        .function(func)
                        .with_context(|| format!("in {name}.{}", func.name))?,
                );
            }
            interfaces.push(Interface {
                name: name.clone(),
                module: format!(
                    "{}:{}/{}@{}",
                    package.name.namespace, package.name.name, name, version.0
                ),
                docs: docs(&iface.docs),
                functions,
            });
        }
        Ok(Abi {
            version,
            types,
            interfaces,
        })
    }

    /// The named type, if the ABI defines it.
    pub fn typedef(&self, name: &str) -> Option<&TypeDef> {
        self.types.iter().find(|t| t.name == name)
    }
}

struct Reader<'a> {
    resolve: &'a Resolve,
    sizes: &'a SizeAlign,
}

impl Reader<'_> {
    fn typedef(&self, name: &str, id: TypeId) -> Result<TypeDef> {
        let def = &self.resolve.types[id];
        let kind = match &def.kind {
            TypeDefKind::Type(ty) => TypeDefShape::Alias(self.scalar(ty)?),
            TypeDefKind::Enum(e) => {
                if e.cases.len() > 256 {
                    bail!("enum {name} has more than 256 cases");
                }
                TypeDefShape::Enum(
                    e.cases
                        .iter()
                        .map(|c| Case {
                            name: c.name.clone(),
                            docs: docs(&c.docs),
                        })
                        .collect(),
                )
            }
            TypeDefKind::Flags(f) => {
                if f.flags.len() > 8 {
                    bail!("flags {name} has more than 8 flags; the lowering covers one byte");
                }
                TypeDefShape::Flags(
                    f.flags
                        .iter()
                        .map(|c| Case {
                            name: c.name.clone(),
                            docs: docs(&c.docs),
                        })
                        .collect(),
                )
            }
            TypeDefKind::Record(r) => {
                let offsets = self.sizes.field_offsets(r.fields.iter().map(|f| &f.ty));
                let mut fields = Vec::new();
                for (field, (offset, _)) in r.fields.iter().zip(offsets) {
                    fields.push(Field {
                        name: field.name.clone(),
                        docs: docs(&field.docs),
                        ty: self
                            .scalar(&field.ty)
                            .with_context(|| format!("field {name}.{}", field.name))?,
                        offset: offset.size_wasm32(),
                    });
                }
                let ty = Type::Id(id);
                TypeDefShape::Record {
                    fields,
                    size: self.sizes.size(&ty).size_wasm32(),
                    align: self.sizes.align(&ty).align_wasm32(),
                }
            }
            other => bail!("type {name} is a {other:?}, which the lowering rules do not cover"),
        };
        Ok(TypeDef {
            name: name.to_string(),
            docs: docs(&def.docs),
            kind,
        })
    }

    /// The name and definition behind a type id, following `use`d names
    /// back to the definition they import.
    fn named(&self, ty: &Type) -> Option<(String, &TypeDefKind)> {
        let Type::Id(mut id) = ty else {
            return None;
        };
        loop {
            let def = &self.resolve.types[id];
            match &def.kind {
                TypeDefKind::Type(Type::Id(inner))
                    if self.resolve.types[*inner].name == def.name =>
                {
                    id = *inner;
                }
                kind => return Some((def.name.clone().unwrap_or_default(), kind)),
            }
        }
    }

    fn scalar(&self, ty: &Type) -> Result<Scalar> {
        Ok(match ty {
            Type::Bool => Scalar::Bool,
            Type::U8 => Scalar::U8,
            Type::U32 => Scalar::U32,
            Type::U64 => Scalar::U64,
            Type::S32 => Scalar::S32,
            Type::S64 => Scalar::S64,
            Type::Id(_) => {
                let (name, kind) = self.named(ty).expect("ids are named types");
                match kind {
                    TypeDefKind::Enum(_) => Scalar::Enum(name),
                    TypeDefKind::Flags(_) => Scalar::Flags(name),
                    TypeDefKind::Type(inner) => Scalar::Alias(name, Box::new(self.scalar(inner)?)),
                    other => bail!("{name} ({other:?}) is not a scalar"),
                }
            }
            other => bail!("{other:?} is outside the scalars the lowering covers"),
        })
    }

    fn param(&self, ty: &Type) -> Result<ParamShape> {
        if let Type::String = ty {
            return Ok(ParamShape::String);
        }
        if let Some((_, kind)) = self.named(ty) {
            match kind {
                TypeDefKind::List(elem) => return Ok(ParamShape::List(self.scalar(elem)?)),
                TypeDefKind::Option(inner) => return Ok(ParamShape::Option(self.scalar(inner)?)),
                _ => {}
            }
        }
        Ok(ParamShape::Scalar(self.scalar(ty)?))
    }

    fn result(&self, ty: Option<&Type>) -> Result<ResultShape> {
        let Some(ty) = ty else {
            return Ok(ResultShape::None);
        };
        if let Some((name, kind)) = self.named(ty) {
            match kind {
                TypeDefKind::Record(_) => return Ok(ResultShape::Record(name)),
                TypeDefKind::Result(r) => {
                    let err_ok = matches!(r.err.as_ref().and_then(|e| self.named(e)), Some((n, _)) if n == "error-code");
                    if !err_ok {
                        bail!("a result's error type must be error-code");
                    }
                    let ok = match &r.ok {
                        None => None,
                        Some(t) => match self.named(t) {
                            Some((n, TypeDefKind::Record(_))) => Some(OkShape::Record(n)),
                            _ => Some(OkShape::Scalar(self.scalar(t)?)),
                        },
                    };
                    return Ok(ResultShape::Result {
                        ok,
                        payload_offset: self
                            .sizes
                            .payload_offset(wit_parser::Int::U8, [r.ok.as_ref(), r.err.as_ref()])
                            .size_wasm32(),
                        size: self.sizes.size(ty).size_wasm32(),
                    });
                }
                _ => {}
            }
        }
        Ok(ResultShape::Scalar(self.scalar(ty)?))
    }

    fn function(&self, func: &wit_parser::Function) -> Result<Function> {
        let since = match &func.stability {
            Stability::Stable { since, .. } => {
                (since.major as u32, since.minor as u32, since.patch as u32)
            }
            _ => bail!("every function needs @since(version = …)"),
        };
        let params = func
            .params
            .iter()
            .map(|p| {
                Ok(Param {
                    name: p.name.clone(),
                    shape: self
                        .param(&p.ty)
                        .with_context(|| format!("parameter {}", p.name))?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let result = self.result(func.result.as_ref())?;
        let sig = self.resolve.wasm_signature(AbiVariant::GuestImport, func);
        if sig.indirect_params {
            bail!("too many parameters: the lowering passes at most 16 core values");
        }
        let core = |ts: &[WasmType]| -> Result<Vec<CoreType>> {
            ts.iter()
                .map(|t| match t {
                    WasmType::I32 | WasmType::Pointer | WasmType::Length => Ok(CoreType::I32),
                    WasmType::I64 => Ok(CoreType::I64),
                    other => bail!("core type {other:?} is outside the lowering rules"),
                })
                .collect()
        };
        Ok(Function {
            name: func.name.clone(),
            docs: docs(&func.docs),
            since,
            params,
            result,
            core_params: core(&sig.params)?,
            core_results: core(&sig.results)?,
        })
    }
}

fn docs(d: &Docs) -> String {
    d.contents.clone().unwrap_or_default().trim().to_string()
}

/// `kebab-case` → `snake_case`.
pub fn snake(name: &str) -> String {
    name.replace('-', "_")
}

/// `kebab-case` → `SHOUTY_CASE`.
pub fn shouty(name: &str) -> String {
    snake(name).to_uppercase()
}

/// `kebab-case` → `UpperCamelCase`.
pub fn camel(name: &str) -> String {
    name.split('-')
        .map(|w| {
            let mut c = w.chars();
            match c.next() {
                Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
                None => String::new(),
            }
        })
        .collect()
}
