//! A native plugin with a module transform: every guest module the VM loads
//! gets an import of `plugin:calls/counter@1` `hit`, and a call to it at the
//! start of each of its functions; the plugin counts the calls per process,
//! and a guest reads them through the plugin's WIT (`count`, `total`).
//!
//! Functions that the guest's `cabi_realloc` can reach are left as they
//! are: while it allocates for a plugin call, it may call no import (the
//! canonical ABI's rule, which the VM enforces).
//!
//! ```ignore
//! let vm = Vm::builder().native_plugin(call_counter::plugin()).build()?;
//! ```

use std::collections::HashMap;
use vm_plugin::Plugin;
use wasm_encoder::reencode::{Error, Reencode};
use wasmparser::{Parser, Payload, TypeRef};

/// The plugin's WIT.
pub const WIT: &str = include_str!("../counter.wit");

/// The import the instrumentation calls.
const MODULE: &str = "plugin:calls/counter@1";

/// A process's counts, by function index.
#[derive(Default)]
struct Counts(HashMap<u32, u64>);

/// The plugin: the counter and its transform.
pub fn plugin() -> Plugin {
    Plugin::builder(WIT, Counts::default)
        .func("counter.hit", |c, (function,): (u32,)| {
            *c.0.entry(function).or_default() += 1;
        })
        .func("counter.count", |c, (function,): (u32,)| {
            c.0.get(&function).copied().unwrap_or(0)
        })
        .func("counter.total", |c, (): ()| c.0.values().sum::<u64>())
        .transform(instrument)
        .build()
}

/// Adds the `hit` import and a call to it at the start of every function.
///
/// # Errors
/// A module that is not valid WebAssembly, or imports nothing (the import
/// goes at the end of its import section).
pub fn instrument(module: &[u8]) -> Result<Vec<u8>, String> {
    let mut imported = 0;
    let mut types = 0;
    let mut has_imports = false;
    for payload in Parser::new(0).parse_all(module) {
        match payload.map_err(|e| e.to_string())? {
            Payload::ImportSection(reader) => {
                has_imports = true;
                for imports in reader {
                    for import in imports.map_err(|e| e.to_string())? {
                        let (_, import) = import.map_err(|e| e.to_string())?;
                        if matches!(import.ty, TypeRef::Func(_)) {
                            imported += 1;
                        }
                    }
                }
            }
            Payload::TypeSection(reader) => {
                for group in reader {
                    types += group.map_err(|e| e.to_string())?.types().len() as u32;
                }
            }
            _ => {}
        }
    }
    if !has_imports {
        return Err(
            "the module imports nothing, and the counter's import goes after its imports".into(),
        );
    }
    let mut counter = Instrument {
        imported,
        hit_type: types,
        next: imported,
        skip: reached_from_realloc(module)?,
    };
    let mut out = wasm_encoder::Module::new();
    counter
        .parse_core_module(&mut out, Parser::new(0), module)
        .map_err(|e| format!("{e:?}"))?;
    Ok(out.finish())
}

/// The reencoder: one more type and import, function indices after the
/// imports moved up by one, a call at each function's start.
struct Instrument {
    /// Functions the module imports (the new import's index).
    imported: u32,
    /// The index of the `(i32) -> ()` type added for `hit`.
    hit_type: u32,
    /// The original index of the next function body.
    next: u32,
    /// Functions left uncounted: those `cabi_realloc` can reach.
    skip: std::collections::HashSet<u32>,
}

/// The functions the module's exported `cabi_realloc` can reach through
/// calls (every function in a table too, if one of them calls indirectly).
fn reached_from_realloc(module: &[u8]) -> Result<std::collections::HashSet<u32>, String> {
    use wasmparser::Operator;
    let err = |e: wasmparser::BinaryReaderError| e.to_string();
    let (mut imported, mut realloc) = (0, None);
    let mut calls: Vec<(Vec<u32>, bool)> = Vec::new();
    let mut in_tables = Vec::new();
    for payload in Parser::new(0).parse_all(module) {
        match payload.map_err(err)? {
            Payload::ImportSection(reader) => {
                for imports in reader {
                    for import in imports.map_err(err)? {
                        if matches!(import.map_err(err)?.1.ty, TypeRef::Func(_)) {
                            imported += 1;
                        }
                    }
                }
            }
            Payload::ExportSection(reader) => {
                for export in reader {
                    let export = export.map_err(err)?;
                    if export.name == "cabi_realloc"
                        && export.kind == wasmparser::ExternalKind::Func
                    {
                        realloc = Some(export.index);
                    }
                }
            }
            Payload::ElementSection(reader) => {
                for element in reader {
                    match element.map_err(err)?.items {
                        wasmparser::ElementItems::Functions(fs) => {
                            for f in fs {
                                in_tables.push(f.map_err(err)?);
                            }
                        }
                        wasmparser::ElementItems::Expressions(_, exprs) => {
                            for expr in exprs {
                                let mut ops = expr.map_err(err)?.get_operators_reader();
                                while !ops.eof() {
                                    if let Operator::RefFunc { function_index } =
                                        ops.read().map_err(err)?
                                    {
                                        in_tables.push(function_index);
                                    }
                                }
                            }
                        }
                    }
                }
            }
            Payload::CodeSectionEntry(body) => {
                let (mut callees, mut indirect) = (Vec::new(), false);
                let mut reader = body.get_operators_reader().map_err(err)?;
                while !reader.eof() {
                    match reader.read().map_err(err)? {
                        Operator::Call { function_index }
                        | Operator::ReturnCall { function_index } => callees.push(function_index),
                        Operator::CallIndirect { .. }
                        | Operator::ReturnCallIndirect { .. }
                        | Operator::CallRef { .. }
                        | Operator::ReturnCallRef { .. } => indirect = true,
                        // A function taken as a reference may be called
                        // indirectly by anyone.
                        Operator::RefFunc { function_index } => in_tables.push(function_index),
                        _ => {}
                    }
                }
                calls.push((callees, indirect));
            }
            _ => {}
        }
    }
    let mut reached = std::collections::HashSet::new();
    let mut todo: Vec<u32> = realloc.into_iter().collect();
    while let Some(f) = todo.pop() {
        if f < imported || !reached.insert(f) {
            continue;
        }
        if let Some((callees, indirect)) = calls.get((f - imported) as usize) {
            todo.extend(callees);
            if *indirect {
                todo.extend(&in_tables);
            }
        }
    }
    Ok(reached)
}

impl Reencode for Instrument {
    type Error = std::convert::Infallible;

    fn function_index(&mut self, func: u32) -> Result<u32, Error<Self::Error>> {
        Ok(if func >= self.imported {
            func + 1
        } else {
            func
        })
    }

    fn parse_type_section(
        &mut self,
        types: &mut wasm_encoder::TypeSection,
        section: wasmparser::TypeSectionReader<'_>,
    ) -> Result<(), Error<Self::Error>> {
        wasm_encoder::reencode::utils::parse_type_section(self, types, section)?;
        types.ty().function([wasm_encoder::ValType::I32], []);
        Ok(())
    }

    fn parse_import_section(
        &mut self,
        imports: &mut wasm_encoder::ImportSection,
        section: wasmparser::ImportSectionReader<'_>,
    ) -> Result<(), Error<Self::Error>> {
        wasm_encoder::reencode::utils::parse_import_section(self, imports, section)?;
        imports.import(
            MODULE,
            "hit",
            wasm_encoder::EntityType::Function(self.hit_type),
        );
        Ok(())
    }

    fn parse_function_body(
        &mut self,
        code: &mut wasm_encoder::CodeSection,
        func: wasmparser::FunctionBody<'_>,
    ) -> Result<(), Error<Self::Error>> {
        let mut f = self.new_function_with_parsed_locals(&func)?;
        if !self.skip.contains(&self.next) {
            f.instruction(&wasm_encoder::Instruction::I32Const(self.next as i32));
            f.instruction(&wasm_encoder::Instruction::Call(self.imported));
        }
        self.next += 1;
        let mut reader = func.get_operators_reader()?;
        while !reader.eof() {
            f.instruction(&self.parse_instruction(&mut reader)?);
        }
        code.function(&f);
        Ok(())
    }
}
