//! Emits a plugin's C bindings (`vm bindgen PLUGIN.wit --lang c`): one
//! header-only C11 file, also valid C++, with a C type for every WIT type
//! the plugin's functions use and a typed `static inline` wrapper per
//! function over its raw import.
//!
//! Each compound type gets functions that lower it into the canonical
//! ABI's memory layout (`_store_`) or core values (`_flat_`), lift it back
//! (`_load_`), and, when it holds strings or lists, free what a call
//! returned (`_free`). Core values travel as raw bits in 64-bit slots,
//! zero-extended, which is how the canonical ABI joins a variant's payloads
//! too, so no payload needs converting. Sizes and offsets come from
//! [`Ty`], the same the VM uses.

use crate::emit_c::{c_ident, comment, with_since};
use crate::model::snake;
use crate::plugin::{discriminant_size, Function, Package, Ty};
use crate::CoreType;
use anyhow::Result;
use std::fmt::Write;

/// The bindings of a plugin package (`shapes.h` for `plugin:shapes`).
/// `header` is the first paragraph of its opening comment.
///
/// # Errors
/// Fails when two different types would take one C name.
pub fn plugin(package: &Package, header: &str) -> Result<String> {
    let ident = package.ident();
    let cx = Cx { ident: &ident };
    let types = cx.types(package)?;
    let up = ident.to_uppercase();
    let marker = package.marker();
    let lines = package.marker_lines().replace('\n', "\\n");
    let asm_lines = package.marker_lines().replace('\n', "\\\\n");
    let mut out = String::new();
    let _ = writeln!(out, "/* {header}");
    let _ = writeln!(out, " *\n * The plugin `{marker}` for C and C++ guests.");
    for line in package.docs.lines() {
        let _ = writeln!(out, " * {line}");
    }
    let _ = write!(
        out,
        r#" *
 * Each function of interface IFACE is `{ident}_IFACE_NAME`, a typed wrapper
 * over the raw import `{ident}_IFACE_raw_NAME` (core types only). WIT types
 * become C types:
 * - `bool`, integers, `f32`, `f64` are `bool`, `uint8_t`…`int64_t`, `float`,
 *   `double`; a `char` is a `uint32_t` (a Unicode scalar value);
 * - a `string` is {ident}_string_t and a `list<u8>` {ident}_bytes_t: a pointer
 *   and a length (UTF-8, not NUL-terminated: print with "%.*s", (int)s.len,
 *   s.ptr); a `list<T>` is {ident}_list_T_t, likewise;
 * - a record is a struct of its fields; a tuple {ident}_tupleN_…_t with
 *   fields f0, f1, …; an `option<T>` has `is_some` and `val`; a `result<T,
 *   E>` has `is_err` and `val.ok` or `val.err`;
 * - a variant has `tag` (its {ident}_TYPE_CASE constants) and `val.CASE`; an
 *   enum is a C enum; flags are bits ({ident}_TYPE_FLAG constants, or'ed).
 * Parameters: a `string` is `const char *NAME, size_t NAME_len`, a list
 * `const T *NAME, size_t NAME_len`, another compound type `const T *NAME`.
 * Results: `option<T>` returns whether there is a value and writes it to
 * *out; `result<T, E>` returns true for ok and writes the ok value to *ok,
 * false for an error and writes it to *err (a missing T or E has no
 * pointer); anything else is returned. Out pointers must not be NULL;
 * every out value is written, the one that did not happen as zero, so
 * freeing both is always right.
 *
 * The caller owns what a call returns: free a type that holds strings or
 * lists with its {ident}_TYPE_free (which leaves it empty), or free(ptr) for a
 * string or a list of scalars. The VM allocates them through the module's
 * exported `cabi_realloc`, which the C SDK (sdk-c/src/vm.c) defines over
 * realloc when built with wasi-libc; a freestanding module that calls a
 * function returning one defines its own, and malloc and free. A list
 * argument of records, variants or other lists is copied into the
 * canonical layout with malloc for the call.
 * Including this header records `{marker}` in the module's `vm:abi`
 * section, and each function's WIT type, which the VM checks against the
 * loaded plugin's before the module runs. */
#ifndef PLUGIN_{up}_H
#define PLUGIN_{up}_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#if __STDC_HOSTED__
#include <stdlib.h>
#else
void *malloc(size_t size);
void free(void *ptr);
#endif

#ifdef __cplusplus
extern "C" {{
#endif

#define {up}_MARKER "{lines}"
/* Assembler that records {up}_MARKER in the module's `vm:abi` custom
 * section, where the VM and `vm inspect` read which plugin version a module
 * was built against and each function's WIT type as it sees it (as
 * VM_ABI_MARKER_ASM does for vm:host). Every file that includes this header
 * adds the lines: the VM reads each line, and repeats are harmless. */
#define {up}_MARKER_ASM ".section \".custom_section.vm:abi\",\"\",@\n.ascii \"{asm_lines}\"\n.text\n"
__asm__({up}_MARKER_ASM);

/* The memory a call's arguments were copied into, freed after the call. */
typedef struct {ident}_scratch_ {{
    void *head;
}} {ident}_scratch_t_;

/* `size` bytes aligned to 8 until the scratch is freed. */
static inline uint8_t *{ident}_scratch_alloc_({ident}_scratch_t_ *cx, size_t count, size_t size) {{
    if (size != 0 && count > (SIZE_MAX - 16) / size) __builtin_trap();
    uint8_t *block = (uint8_t *)malloc(16 + count * size);
    if (!block) __builtin_trap();
    __builtin_memcpy(block, &cx->head, sizeof cx->head);
    cx->head = block;
    return block + 16;
}}

static inline void {ident}_scratch_free_({ident}_scratch_t_ *cx) {{
    while (cx->head) {{
        void *next;
        __builtin_memcpy(&next, cx->head, sizeof next);
        free(cx->head);
        cx->head = next;
    }}
}}

/* `count` elements of `size` bytes, from malloc; traps when memory has no
 * room. */
static inline void *{ident}_alloc_(size_t count, size_t size) {{
    if (size != 0 && count > SIZE_MAX / size) __builtin_trap();
    void *p = malloc(count * size ? count * size : 1);
    if (!p) __builtin_trap();
    return p;
}}

static inline void {ident}_disc_store_(uint8_t *at, size_t size, uint32_t v) {{
    if (size == 1) {{
        uint8_t b = (uint8_t)v;
        __builtin_memcpy(at, &b, 1);
    }} else if (size == 2) {{
        uint16_t h = (uint16_t)v;
        __builtin_memcpy(at, &h, 2);
    }} else {{
        __builtin_memcpy(at, &v, 4);
    }}
}}

static inline uint32_t {ident}_disc_load_(const uint8_t *at, size_t size) {{
    if (size == 1) return at[0];
    if (size == 2) {{
        uint16_t h;
        __builtin_memcpy(&h, at, 2);
        return h;
    }}
    uint32_t w;
    __builtin_memcpy(&w, at, 4);
    return w;
}}

static inline uint64_t {ident}_f32_bits_(float f) {{
    uint32_t u;
    __builtin_memcpy(&u, &f, 4);
    return u;
}}

static inline uint64_t {ident}_f64_bits_(double d) {{
    uint64_t u;
    __builtin_memcpy(&u, &d, 8);
    return u;
}}

static inline float {ident}_f32_(uint64_t bits) {{
    uint32_t u = (uint32_t)bits;
    float f;
    __builtin_memcpy(&f, &u, 4);
    return f;
}}

static inline double {ident}_f64_(uint64_t bits) {{
    double d;
    __builtin_memcpy(&d, &bits, 8);
    return d;
}}
"#
    );
    for t in &types {
        out.push('\n');
        cx.declare(&mut out, t);
    }
    for iface in &package.interfaces {
        let _ = write!(out, "\n/* ---- {} ({}) ----", iface.name, iface.module);
        for line in iface.docs.lines() {
            let _ = write!(out, "\n * {line}");
        }
        out.push_str(if iface.docs.is_empty() {
            " */\n"
        } else {
            "\n */\n"
        });
        for f in &iface.functions {
            out.push('\n');
            cx.function(&mut out, &snake(&iface.name), &iface.module, f);
        }
    }
    out.push_str("\n#ifdef __cplusplus\n}\n#endif\n\n");
    let _ = writeln!(out, "#endif /* PLUGIN_{up}_H */");
    Ok(out)
}

/// The names inside a type's `_flat_` function: the array, the count's
/// pointer, the scratch's pointer.
const INNER: (&str, &str, &str) = ("out", "n", "cx");

/// What every emitter function needs: the package's C prefix.
struct Cx<'a> {
    ident: &'a str,
}

/// Whether `t` is declared as a C type of its own (with functions).
fn compound(t: &Ty) -> bool {
    !t.is_scalar()
}

/// The part of a C name that says which type it is (`list_point`).
fn mangle(t: &Ty) -> String {
    t.mangled()
}

fn core_c(t: CoreType) -> &'static str {
    match t {
        CoreType::I32 => "int32_t",
        CoreType::I64 => "int64_t",
        CoreType::F32 => "float",
        CoreType::F64 => "double",
    }
}

/// The cases of a variant-like type: C name and payload.
fn cases(t: &Ty) -> Vec<(String, Option<&Ty>)> {
    match t {
        Ty::Variant(v) => v
            .cases
            .iter()
            .map(|(n, p)| (c_ident(n), p.as_ref()))
            .collect(),
        Ty::Enum(e) => e.cases.iter().map(|n| (c_ident(n), None)).collect(),
        Ty::Option(p) => vec![("none".into(), None), ("some".into(), Some(&**p))],
        Ty::Result(ok, err) => vec![("ok".into(), ok.as_deref()), ("err".into(), err.as_deref())],
        _ => Vec::new(),
    }
}

impl Cx<'_> {
    /// The C type of `t`.
    fn ty(&self, t: &Ty) -> String {
        match t {
            Ty::Bool => "bool".into(),
            Ty::U8 => "uint8_t".into(),
            Ty::U16 => "uint16_t".into(),
            Ty::U32 | Ty::Char => "uint32_t".into(),
            Ty::U64 => "uint64_t".into(),
            Ty::S8 => "int8_t".into(),
            Ty::S16 => "int16_t".into(),
            Ty::S32 => "int32_t".into(),
            Ty::S64 => "int64_t".into(),
            Ty::F32 => "float".into(),
            Ty::F64 => "double".into(),
            t => format!("{}_{}_t", self.ident, mangle(t)),
        }
    }

    /// `{ident}_{mangle}`: the prefix of a compound type's functions.
    fn fns(&self, t: &Ty) -> String {
        format!("{}_{}", self.ident, mangle(t))
    }

    /// Every compound type the functions use, each after the types it
    /// holds, once.
    fn types(&self, package: &Package) -> Result<Vec<Ty>> {
        package.types_used(compound, mangle, "C")
    }

    /// A statement storing `*v` (a pointer expression) at `at`, copying
    /// lists into scratch `cx`.
    fn store(&self, t: &Ty, at: &str, v: &str, cx: &str) -> String {
        match t {
            Ty::Enum(e) => format!(
                "{}_disc_store_({at}, {}, (uint32_t)*{v});",
                self.ident,
                discriminant_size(e.cases.len())
            ),
            t if !compound(t) || matches!(t, Ty::Flags(_)) => {
                format!("__builtin_memcpy({at}, {v}, {});", t.size())
            }
            t => format!("{}_store_({at}, {v}, {cx});", self.fns(t)),
        }
    }

    /// A statement appending `*v`'s core values to array `out` at `*n`,
    /// copying lists into scratch `cx`.
    fn flat(&self, t: &Ty, v: &str, (out, n, cx): (&str, &str, &str)) -> String {
        let push = |e: String| format!("{out}[(*{n})++] = {e};");
        match t {
            Ty::Bool | Ty::U8 | Ty::U16 | Ty::U32 | Ty::Char | Ty::Enum(_) | Ty::Flags(_) => {
                push(format!("(uint64_t)(uint32_t)*{v}"))
            }
            Ty::S8 | Ty::S16 | Ty::S32 => push(format!("(uint64_t)(uint32_t)(int32_t)*{v}")),
            Ty::U64 | Ty::S64 => push(format!("(uint64_t)*{v}")),
            Ty::F32 => push(format!("{}_f32_bits_(*{v})", self.ident)),
            Ty::F64 => push(format!("{}_f64_bits_(*{v})", self.ident)),
            t => format!("{}_flat_({v}, {out}, {n}, {cx});", self.fns(t)),
        }
    }

    /// A statement loading `*v` (a pointer expression) from `at`.
    fn load(&self, t: &Ty, at: &str, v: &str) -> String {
        match t {
            Ty::Bool => format!("*{v} = *({at}) != 0;"),
            Ty::Enum(e) => format!(
                "*{v} = ({}){}_disc_load_({at}, {});",
                self.ty(t),
                self.ident,
                discriminant_size(e.cases.len())
            ),
            Ty::Flags(_) => format!(
                "*{v} = ({}){}_disc_load_({at}, {});",
                self.ty(t),
                self.ident,
                t.size()
            ),
            t if !compound(t) => format!("__builtin_memcpy({v}, {at}, {});", t.size()),
            t => format!("{}_load_({at}, {v});", self.fns(t)),
        }
    }

    /// Declares a compound type and its functions.
    fn declare(&self, out: &mut String, t: &Ty) {
        let (ty, fns, ident) = (self.ty(t), self.fns(t), self.ident);
        let up = fns.to_uppercase();
        // The type.
        match t {
            Ty::String => {
                let _ = writeln!(out, "/* A string: UTF-8 bytes, not NUL-terminated (print it with \"%.*s\",\n * (int)s.len, s.ptr). */\ntypedef struct {fns} {{\n    char *ptr;\n    size_t len;\n}} {ty};\n\n/* Borrows a NUL-terminated string as a {ty} argument (not to be freed). */\nstatic inline {ty} {fns}_of(const char *s) {{\n    {ty} r;\n    r.ptr = (char *)(uintptr_t)s;\n    r.len = __builtin_strlen(s);\n    return r;\n}}\n");
            }
            Ty::List(e) => {
                let _ = writeln!(out, "/* A `{}`. */\ntypedef struct {fns} {{\n    {} *ptr;\n    size_t len;\n}} {ty};\n", t.wit(), self.ty(e));
            }
            Ty::Tuple(ts) => {
                let _ = writeln!(out, "/* A `{}`. */\ntypedef struct {fns} {{", t.wit());
                for (i, e) in ts.iter().enumerate() {
                    let _ = writeln!(out, "    {} f{i};", self.ty(e));
                }
                let _ = writeln!(out, "}} {ty};\n");
            }
            Ty::Record(r) => {
                let _ = writeln!(
                    out,
                    "/* The WIT record `{}`. */\ntypedef struct {fns} {{",
                    r.name
                );
                for (n, e) in &r.fields {
                    let _ = writeln!(out, "    {} {};", self.ty(e), c_ident(n));
                }
                let _ = writeln!(out, "}} {ty};\n");
            }
            Ty::Option(e) => {
                let _ = writeln!(out, "/* An `{}`: `val` is set when `is_some`. */\ntypedef struct {fns} {{\n    bool is_some;\n    {} val;\n}} {ty};\n", t.wit(), self.ty(e));
            }
            Ty::Result(ok, err) => {
                let _ = writeln!(out, "/* A `{}`: `val.ok` is set unless `is_err`, then `val.err`. */\ntypedef struct {fns} {{\n    bool is_err;", t.wit());
                if ok.is_some() || err.is_some() {
                    let _ = writeln!(out, "    union {{");
                    for (n, side) in [("ok", ok), ("err", err)] {
                        if let Some(side) = side {
                            let _ = writeln!(out, "        {} {n};", self.ty(side));
                        }
                    }
                    let _ = writeln!(out, "    }} val;");
                }
                let _ = writeln!(out, "}} {ty};\n");
            }
            Ty::Variant(v) => {
                let tag = match discriminant_size(v.cases.len()) {
                    1 => "uint8_t",
                    2 => "uint16_t",
                    _ => "uint32_t",
                };
                let _ = writeln!(out, "/* The WIT variant `{}`: `tag` says which case, `val.CASE` holds its\n * payload. */", v.name);
                for (i, (n, _)) in v.cases.iter().enumerate() {
                    let _ = writeln!(out, "#define {up}_{} {i}", snake(n).to_uppercase());
                }
                let _ = writeln!(out, "typedef struct {fns} {{\n    {tag} tag;");
                if v.cases.iter().any(|(_, p)| p.is_some()) {
                    let _ = writeln!(out, "    union {{");
                    for (n, p) in &v.cases {
                        if let Some(p) = p {
                            let _ = writeln!(out, "        {} {};", self.ty(p), c_ident(n));
                        }
                    }
                    let _ = writeln!(out, "    }} val;");
                }
                let _ = writeln!(out, "}} {ty};\n");
            }
            Ty::Enum(e) => {
                let _ = writeln!(
                    out,
                    "/* The WIT enum `{}`. */\ntypedef enum {fns} {{",
                    e.name
                );
                for n in &e.cases {
                    let _ = writeln!(out, "    {up}_{},", snake(n).to_uppercase());
                }
                let _ = writeln!(out, "}} {ty};\n");
            }
            Ty::Flags(f) => {
                let _ = writeln!(out, "/* The WIT flags `{}`: its constants or'ed together. */\ntypedef uint32_t {ty};", f.name);
                for (i, n) in f.flags.iter().enumerate() {
                    let _ = writeln!(
                        out,
                        "#define {up}_{} (({ty})1 << {i})",
                        snake(n).to_uppercase()
                    );
                }
                out.push('\n');
            }
            _ => unreachable!("scalars are not declared"),
        }
        if matches!(t, Ty::Enum(_) | Ty::Flags(_)) {
            // Stored, flattened and loaded inline, as scalars are.
            return;
        }
        let scratch = format!("{ident}_scratch_t_");
        let (mut store, mut flat, mut load, mut free) =
            (String::new(), String::new(), String::new(), String::new());
        match t {
            Ty::String | Ty::List(_) => {
                let elem = match t {
                    Ty::List(e) => (**e).clone(),
                    _ => Ty::U8,
                };
                let ety = match t {
                    Ty::String => "char".to_string(),
                    _ => self.ty(&elem),
                };
                let size = elem.size();
                let lower = if Ty::is_scalar(&elem) {
                    "    uint32_t ptr = (uint32_t)(uintptr_t)v->ptr;\n".to_string()
                } else {
                    format!(
                        "    uint8_t *to = {ident}_scratch_alloc_(cx, v->len, {size});\n    for (size_t i = 0; i < v->len; i++) {{\n        {}\n    }}\n    uint32_t ptr = (uint32_t)(uintptr_t)to;\n",
                        self.store(&elem, &format!("to + i * {size}"), "&v->ptr[i]", "cx")
                    )
                };
                let _ = write!(store, "{lower}    uint32_t len = (uint32_t)v->len;\n    __builtin_memcpy(at, &ptr, 4);\n    __builtin_memcpy(at + 4, &len, 4);\n");
                let _ = write!(
                    flat,
                    "{lower}    out[(*n)++] = ptr;\n    out[(*n)++] = (uint32_t)v->len;\n"
                );
                let _ = write!(load, "    uint32_t ptr, len;\n    __builtin_memcpy(&ptr, at, 4);\n    __builtin_memcpy(&len, at + 4, 4);\n    v->len = len;\n");
                if Ty::is_scalar(&elem) || matches!(t, Ty::String) {
                    let _ = writeln!(load, "    v->ptr = ({ety} *)(uintptr_t)ptr;");
                } else {
                    let _ = write!(load, "    const uint8_t *from = (const uint8_t *)(uintptr_t)ptr;\n    v->ptr = ({ety} *){ident}_alloc_(len, sizeof *v->ptr);\n    for (size_t i = 0; i < len; i++) {{\n        {}\n    }}\n    free((void *)(uintptr_t)ptr);\n", self.load(&elem, &format!("from + i * {size}"), "&v->ptr[i]"));
                }
                if elem.holds_list() {
                    let _ = writeln!(
                        free,
                        "    for (size_t i = 0; i < v->len; i++) {}_free(&v->ptr[i]);",
                        self.fns(&elem)
                    );
                }
                let _ = write!(
                    free,
                    "    free(v->ptr);\n    v->ptr = NULL;\n    v->len = 0;\n"
                );
            }
            Ty::Tuple(_) | Ty::Record(_) => {
                let fields: Vec<(String, &Ty)> = match t {
                    Ty::Tuple(ts) => ts
                        .iter()
                        .enumerate()
                        .map(|(i, e)| (format!("f{i}"), e))
                        .collect(),
                    Ty::Record(r) => r.fields.iter().map(|(n, e)| (c_ident(n), e)).collect(),
                    _ => unreachable!(),
                };
                for ((name, e), offset) in fields.iter().zip(t.field_offsets()) {
                    let _ = writeln!(
                        store,
                        "    {}",
                        self.store(e, &format!("at + {offset}"), &format!("&v->{name}"), "cx")
                    );
                    let _ = writeln!(flat, "    {}", self.flat(e, &format!("&v->{name}"), INNER));
                    let _ = writeln!(
                        load,
                        "    {}",
                        self.load(e, &format!("at + {offset}"), &format!("&v->{name}"))
                    );
                    if e.holds_list() {
                        let _ = writeln!(free, "    {}_free(&v->{name});", self.fns(e));
                    }
                }
            }
            _ => {
                // Variant-like: option, result, variant.
                let cs = cases(t);
                let d = discriminant_size(cs.len());
                let at = t.payload_offset();
                let flat_len = t.flat().len();
                let tag = match t {
                    Ty::Option(_) => "(uint32_t)v->is_some",
                    Ty::Result(..) => "(uint32_t)v->is_err",
                    _ => "(uint32_t)v->tag",
                };
                let field = |name: &str| match t {
                    Ty::Option(_) => "&v->val".to_string(),
                    _ => format!("&v->val.{name}"),
                };
                let _ = writeln!(store, "    uint32_t tag = {tag};\n    {ident}_disc_store_(at, {d}, tag);\n    switch (tag) {{");
                let _ = writeln!(flat, "    size_t start = *n;\n    uint32_t tag = {tag};\n    out[(*n)++] = tag;\n    switch (tag) {{");
                let set_tag = match t {
                    Ty::Option(_) => "v->is_some = tag != 0;",
                    Ty::Result(..) => "v->is_err = tag != 0;",
                    _ => "",
                };
                let tag_ty = match d {
                    1 => "uint8_t",
                    2 => "uint16_t",
                    _ => "uint32_t",
                };
                let set_tag = if set_tag.is_empty() {
                    format!("v->tag = ({tag_ty})tag;")
                } else {
                    set_tag.to_string()
                };
                let _ = writeln!(load, "    __builtin_memset(v, 0, sizeof *v);\n    uint32_t tag = {ident}_disc_load_(at, {d});\n    {set_tag}\n    switch (tag) {{");
                let _ = writeln!(free, "    switch ({tag}) {{");
                for (i, (name, p)) in cs.iter().enumerate() {
                    let Some(p) = p else { continue };
                    let _ = writeln!(
                        store,
                        "    case {i}:\n        {}\n        break;",
                        self.store(p, &format!("at + {at}"), &field(name), "cx")
                    );
                    let _ = writeln!(
                        flat,
                        "    case {i}:\n        {}\n        break;",
                        self.flat(p, &field(name), INNER)
                    );
                    let _ = writeln!(
                        load,
                        "    case {i}:\n        {}\n        break;",
                        self.load(p, &format!("at + {at}"), &field(name))
                    );
                    if p.holds_list() {
                        let _ = writeln!(
                            free,
                            "    case {i}:\n        {}_free({});\n        break;",
                            self.fns(p),
                            field(name)
                        );
                    }
                }
                for s in [&mut store, &mut flat, &mut load, &mut free] {
                    let _ = writeln!(s, "    default:\n        break;\n    }}");
                }
                let _ = writeln!(flat, "    *n = start + {flat_len};");
            }
        }
        let _ = writeln!(out, "static inline void {fns}_store_(uint8_t *at, const {ty} *v, {scratch} *cx) {{\n    (void)at;\n    (void)v;\n    (void)cx;\n{store}}}\n");
        let _ = writeln!(out, "static inline void {fns}_flat_(const {ty} *v, uint64_t *out, size_t *n, {scratch} *cx) {{\n    (void)v;\n    (void)out;\n    (void)n;\n    (void)cx;\n{flat}}}\n");
        let _ = writeln!(out, "static inline void {fns}_load_(const uint8_t *at, {ty} *v) {{\n    (void)at;\n    (void)v;\n{load}}}\n");
        if t.holds_list() {
            let _ = writeln!(out, "/* Frees what a call returned in `*v` and leaves it empty. */\nstatic inline void {fns}_free({ty} *v) {{\n{free}    __builtin_memset(v, 0, sizeof *v);\n}}\n");
        }
    }

    /// The raw import and the typed wrapper of one function.
    fn function(&self, out: &mut String, iface: &str, module: &str, f: &Function) {
        let ident = self.ident;
        let name = snake(&f.name);
        let raw = format!("{ident}_{iface}_raw_{name}");
        let raw_params: Vec<String> = f
            .import_params
            .iter()
            .enumerate()
            .map(|(i, t)| format!("{} p{i}", core_c(*t)))
            .collect();
        let list = |ps: &[String]| match ps.is_empty() {
            true => "void".to_string(),
            false => ps.join(", "),
        };
        let raw_ret = f.import_results.first().map_or("void", |t| core_c(*t));
        let _ = writeln!(
            out,
            "__attribute__((import_module(\"{module}\"), import_name(\"{}\")))\n{raw_ret} {raw}({});\n",
            f.name,
            list(&raw_params)
        );
        // The wrapper's parameters, and a pointer to each argument's value.
        let (mut params, mut setup, mut values) = (Vec::new(), String::new(), Vec::new());
        for (i, (wit, t)) in f.param_types.iter().enumerate() {
            let n = c_ident(wit);
            match t {
                Ty::String | Ty::List(_) => {
                    let elem = match t {
                        Ty::List(e) => format!("const {} *", self.ty(e)),
                        _ => "const char *".into(),
                    };
                    // `NAME_len`, unless another parameter has that name.
                    let taken = |l: &str| f.param_types.iter().any(|(o, _)| c_ident(o) == l);
                    let len = match format!("{}_len", snake(wit)) {
                        l if taken(&l) => format!("{}_size", snake(wit)),
                        l => l,
                    };
                    params.push(format!("{elem}{n}, size_t {len}"));
                    let ptr_ty = match t {
                        Ty::List(e) => format!("{} *", self.ty(e)),
                        _ => "char *".into(),
                    };
                    let _ = writeln!(setup, "    {} arg{i}_;\n    arg{i}_.ptr = ({ptr_ty})(uintptr_t){n};\n    arg{i}_.len = {len};", self.ty(t));
                    values.push(format!("&arg{i}_"));
                }
                t if compound(t) && !matches!(t, Ty::Enum(_) | Ty::Flags(_)) => {
                    params.push(format!("const {} *{n}", self.ty(t)));
                    values.push(n);
                }
                t => {
                    params.push(format!("{} {n}", self.ty(t)));
                    values.push(format!("&{n}"));
                }
            }
        }
        // The result: returned, or through out pointers.
        let (ret, outs) = match &f.result_type {
            None => ("void".to_string(), Vec::new()),
            Some(Ty::Option(v)) => ("bool".into(), vec![("out", (**v).clone())]),
            Some(Ty::Result(ok, err)) => (
                "bool".into(),
                [("ok", ok), ("err", err)]
                    .into_iter()
                    .filter_map(|(n, t)| t.as_ref().map(|t| (n, (**t).clone())))
                    .collect(),
            ),
            Some(t) => (self.ty(t), Vec::new()),
        };
        for (n, t) in &outs {
            params.push(format!("{} *{n}", self.ty(t)));
        }
        comment(out, "", &with_since(&f.docs, f.since));
        let _ = writeln!(
            out,
            "static inline {ret} {ident}_{iface}_{name}({}) {{",
            list(&params)
        );
        out.push_str(&setup);
        let mut args: Vec<String> = Vec::new();
        let needs_cx = !f.param_types.is_empty();
        if needs_cx {
            let _ = writeln!(out, "    {ident}_scratch_t_ cx_ = {{NULL}};");
        }
        if f.params_in_memory() {
            let tuple = Ty::Tuple(f.param_types.iter().map(|(_, t)| t.clone()).collect());
            let _ = writeln!(
                out,
                "    uint8_t *args_ = {ident}_scratch_alloc_(&cx_, 1, {});",
                tuple.size()
            );
            for ((_, t), (v, o)) in f
                .param_types
                .iter()
                .zip(values.iter().zip(tuple.field_offsets()))
            {
                let _ = writeln!(
                    out,
                    "    {}",
                    self.store(t, &format!("args_ + {o}"), v, "&cx_")
                );
            }
            args.push("(int32_t)(uintptr_t)args_".into());
        } else if needs_cx {
            let _ = writeln!(out, "    uint64_t flat_[16] = {{0}};\n    size_t count_ = 0;\n    size_t *n_ = &count_;");
            for ((_, t), v) in f.param_types.iter().zip(&values) {
                let _ = writeln!(out, "    {}", self.flat(t, v, ("flat_", "n_", "&cx_")));
            }
            let flat: Vec<CoreType> = f.param_types.iter().flat_map(|(_, t)| t.flat()).collect();
            for (i, t) in flat.iter().enumerate() {
                args.push(match t {
                    CoreType::I32 => format!("(int32_t)(uint32_t)flat_[{i}]"),
                    CoreType::I64 => format!("(int64_t)flat_[{i}]"),
                    CoreType::F32 => format!("{ident}_f32_(flat_[{i}])"),
                    CoreType::F64 => format!("{ident}_f64_(flat_[{i}])"),
                });
            }
        }
        let Some(result) = &f.result_type else {
            let _ = writeln!(out, "    {raw}({});", args.join(", "));
            if needs_cx {
                let _ = writeln!(out, "    {ident}_scratch_free_(&cx_);");
            }
            let _ = writeln!(out, "}}");
            return;
        };
        // The result, lifted into `r_`.
        if f.result_in_memory() {
            args.push("(int32_t)(uintptr_t)ret_.bytes".into());
            let _ = writeln!(out, "    union {{\n        uint8_t bytes[{}];\n        int64_t align;\n    }} ret_;\n    {raw}({});", result.size(), args.join(", "));
        } else {
            // One core value: its low bytes are the value's memory layout.
            let bits = match f.import_results.first() {
                Some(CoreType::I32) => "(uint64_t)(uint32_t)".to_string(),
                Some(CoreType::I64) => "(uint64_t)".to_string(),
                Some(CoreType::F32) => format!("{ident}_f32_bits_"),
                Some(CoreType::F64) => format!("{ident}_f64_bits_"),
                None => String::new(),
            };
            let call = if f.import_results.is_empty() {
                format!("{raw}({});\n    uint64_t bits_ = 0;", args.join(", "))
            } else {
                format!("uint64_t bits_ = {bits}({raw}({}));", args.join(", "))
            };
            let _ = writeln!(out, "    {call}\n    union {{\n        uint8_t bytes[8];\n        int64_t align;\n    }} ret_;\n    __builtin_memcpy(ret_.bytes, &bits_, 8);");
        }
        if needs_cx {
            let _ = writeln!(out, "    {ident}_scratch_free_(&cx_);");
        }
        let _ = writeln!(out, "    {} r_;", self.ty(result));
        let _ = writeln!(out, "    {}", self.load(result, "ret_.bytes", "&r_"));
        match result {
            Ty::Option(_) => {
                let _ = writeln!(out, "    if (r_.is_some) {{\n        *out = r_.val;\n        return true;\n    }}\n    __builtin_memset(out, 0, sizeof *out);\n    return false;");
            }
            Ty::Result(ok, err) => {
                let mut when_ok = String::new();
                let mut when_err = String::new();
                if ok.is_some() {
                    let _ = writeln!(when_ok, "        *ok = r_.val.ok;");
                    let _ = writeln!(when_err, "    __builtin_memset(ok, 0, sizeof *ok);");
                }
                if err.is_some() {
                    let _ = writeln!(when_ok, "        __builtin_memset(err, 0, sizeof *err);");
                    let _ = writeln!(when_err, "    *err = r_.val.err;");
                }
                let _ = writeln!(out, "    if (!r_.is_err) {{\n{when_ok}        return true;\n    }}\n{when_err}    return false;");
            }
            _ => {
                let _ = writeln!(out, "    return r_;");
            }
        }
        let _ = writeln!(out, "}}");
    }
}
