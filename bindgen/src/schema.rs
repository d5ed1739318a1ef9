//! A WIT file read into the message types it describes: records, variants,
//! enums, type aliases, and the types they use (integers, floats, bools,
//! strings, lists, options, tuples). Anything else (resources, flags,
//! results, `char`, …) is refused with the name of the type that uses it.

use anyhow::{bail, Context, Result};
use std::collections::HashMap;
use std::path::Path;
use wit_parser::{Resolve, Type, TypeDefKind, TypeId};

/// A type as a field, case payload, element or alias target uses it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Ty {
    /// `bool`.
    Bool,
    /// `u8`.
    U8,
    /// `u16`.
    U16,
    /// `u32`.
    U32,
    /// `u64`.
    U64,
    /// `s8`.
    S8,
    /// `s16`.
    S16,
    /// `s32`.
    S32,
    /// `s64`.
    S64,
    /// `f32`.
    F32,
    /// `f64`.
    F64,
    /// `string` (UTF-8).
    String,
    /// `list<T>`.
    List(Box<Ty>),
    /// `option<T>`.
    Option(Box<Ty>),
    /// `tuple<…>`, with at least one element.
    Tuple(Vec<Ty>),
    /// A type the schema defines, by its WIT name.
    Named(String),
}

/// What a named type is.
#[derive(Debug, Clone)]
pub enum Def {
    /// A record: its fields in order.
    Record(Vec<Field>),
    /// A variant: its cases in order, each with an optional payload.
    Variant(Vec<Case>),
    /// An enum: its case names in order.
    Enum(Vec<String>),
    /// `type NAME = T`.
    Alias(Ty),
}

/// A record's field.
#[derive(Debug, Clone)]
pub struct Field {
    /// Its WIT name (kebab-case).
    pub name: String,
    /// Its type.
    pub ty: Ty,
    /// Its documentation.
    pub docs: Option<String>,
}

/// A variant's case.
#[derive(Debug, Clone)]
pub struct Case {
    /// Its WIT name (kebab-case).
    pub name: String,
    /// Its payload, if it has one.
    pub ty: Option<Ty>,
    /// Its documentation.
    pub docs: Option<String>,
}

/// A named type.
#[derive(Debug, Clone)]
pub struct TypeDef {
    /// Its WIT name (kebab-case), unique in the schema.
    pub name: String,
    /// What it is.
    pub def: Def,
    /// Its documentation.
    pub docs: Option<String>,
}

impl TypeDef {
    /// The types its fields, payloads or alias target are, in order.
    pub fn used(&self) -> Vec<&Ty> {
        match &self.def {
            Def::Record(fields) => fields.iter().map(|f| &f.ty).collect(),
            Def::Variant(cases) => cases.iter().filter_map(|c| c.ty.as_ref()).collect(),
            Def::Enum(_) => Vec::new(),
            Def::Alias(target) => vec![target],
        }
    }
}

/// The message types of one WIT file, each after the types it uses.
#[derive(Debug, Clone)]
pub struct Schema {
    /// The WIT package's name (`NAMESPACE:NAME`).
    pub package: String,
    /// The named types, every one after the types it refers to.
    pub types: Vec<TypeDef>,
}

impl Schema {
    /// Reads the WIT file at `path`.
    pub fn from_file(path: &Path) -> Result<Schema> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        Schema::from_str(path, &text)
    }

    /// Reads WIT text; `path` names it in errors.
    pub fn from_str(path: &Path, text: &str) -> Result<Schema> {
        let mut resolve = Resolve::new();
        let pkg = resolve
            .push_str(path, text)
            .with_context(|| format!("{} is not valid WIT", path.display()))?;
        let package = &resolve.packages[pkg];
        let mut ids = Vec::new();
        for iface in package.interfaces.values() {
            ids.extend(resolve.interfaces[*iface].types.values().copied());
        }
        for world in package.worlds.values() {
            for item in resolve.worlds[*world].imports.values() {
                if let wit_parser::WorldItem::Type { id, .. } = item {
                    ids.push(*id);
                }
            }
        }
        let mut reader = Reader {
            resolve: &resolve,
            names: HashMap::new(),
        };
        let mut types = Vec::new();
        for id in ids {
            let def = &resolve.types[id];
            let name = def.name.clone().context("an unnamed top-level type")?;
            // A `use` of a type from another interface names that type
            // (`use a.{point as pt}` is an alias, kept below).
            if let TypeDefKind::Type(Type::Id(target)) = def.kind {
                if resolve.types[target].name.as_deref() == Some(name.as_str()) {
                    continue;
                }
            }
            if let Some(other) = reader.names.insert(name.clone(), id) {
                if other != id {
                    bail!("two types are named `{name}`: give each a name of its own");
                }
            }
            types.push(TypeDef {
                def: reader
                    .def(&def.kind)
                    .with_context(|| format!("in type `{name}`"))?,
                docs: def.docs.contents.clone(),
                name,
            });
        }
        if types.is_empty() {
            let function = package.interfaces.iter().find_map(|(iname, iface)| {
                let f = resolve.interfaces[*iface].functions.keys().next()?;
                Some(format!("{iname}.{f}"))
            });
            if let Some(function) = function {
                bail!(
                    "{} declares functions ({function}, …) in package {}:{}, but no types: a plugin's WIT is a package named plugin:NAME@MAJOR.MINOR.PATCH (`package plugin:{}@1.0.0;`), and a file of message types declares records, variants or enums",
                    path.display(),
                    package.name.namespace,
                    package.name.name,
                    package.name.name
                );
            }
            bail!(
                "{} defines no types: declare records, variants or enums in an interface",
                path.display()
            );
        }
        Ok(Schema {
            package: format!("{}:{}", package.name.namespace, package.name.name),
            types: order(types)?,
        })
    }

    /// The named type `name`.
    pub fn get(&self, name: &str) -> Option<&TypeDef> {
        self.types.iter().find(|t| t.name == name)
    }

    /// `ty` with aliases replaced by what they name.
    pub fn resolved<'a>(&'a self, ty: &'a Ty) -> &'a Ty {
        match ty {
            Ty::Named(n) => match self.get(n).map(|t| &t.def) {
                Some(Def::Alias(target)) => self.resolved(target),
                _ => ty,
            },
            _ => ty,
        }
    }
}

struct Reader<'a> {
    resolve: &'a Resolve,
    /// Names seen so far, to refuse two types of one name.
    names: HashMap<String, TypeId>,
}

impl Reader<'_> {
    fn def(&self, kind: &TypeDefKind) -> Result<Def> {
        Ok(match kind {
            TypeDefKind::Record(r) => {
                if r.fields.is_empty() {
                    bail!("a record needs at least one field");
                }
                Def::Record(
                    r.fields
                        .iter()
                        .map(|f| {
                            Ok(Field {
                                name: f.name.clone(),
                                ty: self
                                    .ty(&f.ty)
                                    .with_context(|| format!("field `{}`", f.name))?,
                                docs: f.docs.contents.clone(),
                            })
                        })
                        .collect::<Result<_>>()?,
                )
            }
            TypeDefKind::Variant(v) => Def::Variant(
                v.cases
                    .iter()
                    .map(|c| {
                        Ok(Case {
                            name: c.name.clone(),
                            ty: c
                                .ty
                                .as_ref()
                                .map(|t| self.ty(t))
                                .transpose()
                                .with_context(|| format!("case `{}`", c.name))?,
                            docs: c.docs.contents.clone(),
                        })
                    })
                    .collect::<Result<_>>()?,
            ),
            TypeDefKind::Enum(e) => Def::Enum(e.cases.iter().map(|c| c.name.clone()).collect()),
            other => Def::Alias(self.kind(other)?),
        })
    }

    fn ty(&self, ty: &Type) -> Result<Ty> {
        Ok(match ty {
            Type::Bool => Ty::Bool,
            Type::U8 => Ty::U8,
            Type::U16 => Ty::U16,
            Type::U32 => Ty::U32,
            Type::U64 => Ty::U64,
            Type::S8 => Ty::S8,
            Type::S16 => Ty::S16,
            Type::S32 => Ty::S32,
            Type::S64 => Ty::S64,
            Type::F32 => Ty::F32,
            Type::F64 => Ty::F64,
            Type::String => Ty::String,
            Type::Char => bail!("`char` is not supported: use a string"),
            Type::ErrorContext => bail!("`error-context` is not a message type"),
            Type::Id(id) => {
                let def = &self.resolve.types[*id];
                match &def.name {
                    // A `use`d type is known by its own name too.
                    Some(name) => Ty::Named(name.clone()),
                    None => self.kind(&def.kind)?,
                }
            }
        })
    }

    fn kind(&self, kind: &TypeDefKind) -> Result<Ty> {
        Ok(match kind {
            TypeDefKind::List(t) => Ty::List(Box::new(self.ty(t)?)),
            TypeDefKind::Option(t) => Ty::Option(Box::new(self.ty(t)?)),
            TypeDefKind::Tuple(t) => {
                if t.types.is_empty() {
                    bail!("an empty tuple carries nothing: leave it out");
                }
                Ty::Tuple(t.types.iter().map(|t| self.ty(t)).collect::<Result<_>>()?)
            }
            TypeDefKind::Type(t) => self.ty(t)?,
            TypeDefKind::Record(_) | TypeDefKind::Variant(_) | TypeDefKind::Enum(_) => {
                bail!("an anonymous record, variant or enum: name it")
            }
            TypeDefKind::Flags(_) => bail!("flags are not supported: use a record of bools"),
            TypeDefKind::Result(_) => {
                bail!("`result` is not supported: use a variant with ok and error cases")
            }
            TypeDefKind::Resource | TypeDefKind::Handle(_) => {
                bail!("resources are not message types: send handles beside the message")
            }
            TypeDefKind::Map(..) => bail!("maps are not supported: use a list of tuples"),
            TypeDefKind::FixedLengthList(..) => {
                bail!("fixed-length lists are not supported: use a list")
            }
            TypeDefKind::Future(_) | TypeDefKind::Stream(_) => {
                bail!("futures and streams are not message types")
            }
            TypeDefKind::Unknown => bail!("a type of unknown structure"),
        })
    }
}

/// The types in an order where each comes after those it names (C needs a
/// struct defined before a struct that holds it); WIT forbids cycles.
fn order(types: Vec<TypeDef>) -> Result<Vec<TypeDef>> {
    fn refs(ty: &Ty, out: &mut Vec<String>) {
        match ty {
            Ty::Named(n) => out.push(n.clone()),
            Ty::List(t) | Ty::Option(t) => refs(t, out),
            Ty::Tuple(ts) => ts.iter().for_each(|t| refs(t, out)),
            _ => {}
        }
    }
    let mut pending: Vec<(TypeDef, Vec<String>)> = types
        .into_iter()
        .map(|t| {
            let mut used = Vec::new();
            t.used().into_iter().for_each(|u| refs(u, &mut used));
            (t, used)
        })
        .collect();
    let known: Vec<String> = pending.iter().map(|(t, _)| t.name.clone()).collect();
    for (t, used) in &pending {
        if let Some(missing) = used.iter().find(|u| !known.contains(u)) {
            bail!(
                "type `{}` uses `{missing}`, which this file does not define",
                t.name
            );
        }
    }
    let mut done: Vec<TypeDef> = Vec::new();
    while !pending.is_empty() {
        let before = pending.len();
        let mut i = 0;
        while i < pending.len() {
            if pending[i]
                .1
                .iter()
                .all(|u| done.iter().any(|d| &d.name == u))
            {
                done.push(pending.remove(i).0);
            } else {
                i += 1;
            }
        }
        if pending.len() == before {
            bail!(
                "types `{}` refer to each other in a cycle",
                pending[0].0.name
            );
        }
    }
    Ok(done)
}
