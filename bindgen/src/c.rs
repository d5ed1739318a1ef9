//! C: one header of structs and `static inline` codecs over the C SDK's
//! writer and reader (`vm.h`), so it needs no source file of its own and
//! works freestanding.

use crate::names::{doc_lines, shouty, snake, unreserved};
use crate::schema::{Def, Schema, Ty};
use std::collections::HashMap;
use std::fmt::Write;

const KEYWORDS: &[&str] = &[
    "auto",
    "break",
    "case",
    "char",
    "const",
    "continue",
    "default",
    "do",
    "double",
    "else",
    "enum",
    "extern",
    "float",
    "for",
    "goto",
    "if",
    "inline",
    "int",
    "long",
    "register",
    "restrict",
    "return",
    "short",
    "signed",
    "sizeof",
    "static",
    "struct",
    "switch",
    "typedef",
    "union",
    "unsigned",
    "void",
    "volatile",
    "while",
    "bool",
    "true",
    "false",
    "class",
    "delete",
    "new",
    "private",
    "public",
    "protected",
    "template",
    "this",
    "throw",
    "try",
    "catch",
    "namespace",
    "operator",
    "virtual",
    "friend",
    "mutable",
    "explicit",
    "export",
];

fn ident(name: &str) -> String {
    unreserved(snake(name), KEYWORDS, "_")
}

/// Names a type in function and type names: `list_u32`, `option_str`, …
fn mangle(t: &Ty) -> String {
    match t {
        Ty::Bool => "bool".into(),
        Ty::U8 => "u8".into(),
        Ty::U16 => "u16".into(),
        Ty::U32 => "u32".into(),
        Ty::U64 => "u64".into(),
        Ty::S8 => "s8".into(),
        Ty::S16 => "s16".into(),
        Ty::S32 => "s32".into(),
        Ty::S64 => "s64".into(),
        Ty::F32 => "f32".into(),
        Ty::F64 => "f64".into(),
        Ty::String => "str".into(),
        Ty::List(t) => format!("list_{}", mangle(t)),
        Ty::Option(t) => format!("option_{}", mangle(t)),
        // `__` never occurs in a name from WIT (kebab-case has no `--`), so
        // `tuple<a, b-c>` and `tuple<a-b, c>` stay apart.
        Ty::Tuple(ts) => format!(
            "tuple{}__{}",
            ts.len(),
            ts.iter().map(mangle).collect::<Vec<_>>().join("__")
        ),
        Ty::Named(n) => snake(n),
    }
}

fn names_a_schema_type(t: &Ty) -> bool {
    match t {
        Ty::Named(_) => true,
        Ty::List(t) | Ty::Option(t) => names_a_schema_type(t),
        Ty::Tuple(ts) => ts.iter().any(names_a_schema_type),
        _ => false,
    }
}

/// The prefix of a compound type's typedef and functions: `vm_` for those
/// of built-in types (shared between headers, behind a guard), none for
/// those that hold a schema type.
fn prefix(t: &Ty) -> String {
    if names_a_schema_type(t) {
        mangle(t)
    } else {
        format!("vm_{}", mangle(t))
    }
}

fn is_bytes(t: &Ty) -> bool {
    matches!(t, Ty::List(e) if **e == Ty::U8)
}

fn c_type(t: &Ty) -> String {
    match t {
        Ty::Bool => "bool".into(),
        Ty::U8 => "uint8_t".into(),
        Ty::U16 => "uint16_t".into(),
        Ty::U32 => "uint32_t".into(),
        Ty::U64 => "uint64_t".into(),
        Ty::S8 => "int8_t".into(),
        Ty::S16 => "int16_t".into(),
        Ty::S32 => "int32_t".into(),
        Ty::S64 => "int64_t".into(),
        Ty::F32 => "float".into(),
        Ty::F64 => "double".into(),
        Ty::String => "vm_str_t".into(),
        t if is_bytes(t) => "vm_bytes_t".into(),
        Ty::Named(n) => format!("{}_t", ident(n)),
        t => format!("{}_t", prefix(t)),
    }
}

/// The statement that writes `expr` (an lvalue of type `t`) to `w`.
fn put(t: &Ty, expr: &str) -> String {
    match t {
        Ty::Bool => format!("vm_put_bool(w, {expr});"),
        Ty::U8 => format!("vm_put_u8(w, {expr});"),
        Ty::S8 => format!("vm_put_i8(w, {expr});"),
        Ty::U16 | Ty::U32 | Ty::U64 => format!("vm_put_u64(w, {expr});"),
        Ty::S16 | Ty::S32 | Ty::S64 => format!("vm_put_i64(w, {expr});"),
        Ty::F32 => format!("vm_put_f32(w, {expr});"),
        Ty::F64 => format!("vm_put_f64(w, {expr});"),
        Ty::String => format!("vm_put_bytes(w, {expr}.ptr, {expr}.len);"),
        t if is_bytes(t) => format!("vm_put_bytes(w, {expr}.ptr, {expr}.len);"),
        Ty::Named(n) => format!("{}_put(w, &{expr});", ident(n)),
        t => format!("{}_put(w, &{expr});", prefix(t)),
    }
}

/// The statement that reads a `t` from `r` into the lvalue `lv`.
fn get(t: &Ty, lv: &str) -> String {
    match t {
        Ty::Bool => format!("{lv} = vm_get_bool(r);"),
        Ty::U8 => format!("{lv} = vm_get_u8(r);"),
        Ty::S8 => format!("{lv} = vm_get_i8(r);"),
        Ty::U16 => format!("{lv} = vm_get_u16(r);"),
        Ty::U32 => format!("{lv} = vm_get_u32(r);"),
        Ty::U64 => format!("{lv} = vm_get_u64(r);"),
        Ty::S16 => format!("{lv} = vm_get_i16(r);"),
        Ty::S32 => format!("{lv} = vm_get_i32(r);"),
        Ty::S64 => format!("{lv} = vm_get_i64(r);"),
        Ty::F32 => format!("{lv} = vm_get_f32(r);"),
        Ty::F64 => format!("{lv} = vm_get_f64(r);"),
        Ty::String => format!("{lv}.len = vm_get_str(r, &{lv}.ptr);"),
        t if is_bytes(t) => format!("{lv}.len = vm_get_bytes(r, &{lv}.ptr);"),
        Ty::Named(n) => format!("{}_get(r, a, &{lv});", ident(n)),
        t => format!("{}_get(r, a, &{lv});", prefix(t)),
    }
}

/// A `switch` on a variant's kind running `stmt` (`put` or `get`) on the
/// payload of each case that has one.
fn case_switch(up: &str, cases: &[crate::schema::Case], stmt: fn(&Ty, &str) -> String) -> String {
    let mut out = String::from("    switch (v->kind) {\n");
    for c in cases {
        if let Some(p) = &c.ty {
            let payload = format!("v->as.{}", ident(&c.name));
            writeln!(
                out,
                "    case {up}_{}: {} break;",
                shouty(&c.name),
                stmt(p, &payload)
            )
            .unwrap();
        }
    }
    out.push_str("    default: break;\n    }\n");
    out
}

const SUPPORT: &str = r#"#ifndef VM_MESSAGE_SUPPORT
#define VM_MESSAGE_SUPPORT
/* Strings are vm.h's vm_str_t: UTF-8, not NUL-terminated; a decoded one
 * points into the message's bytes. */

/* A list<u8>. A decoded one points into the message's bytes. */
typedef struct vm_bytes {
    const uint8_t *ptr;
    size_t len;
} vm_bytes_t;

/* Where decoding puts lists (other than list<u8>): a buffer the caller
 * owns. Decoded values point into it, so it must outlive them. */
typedef struct vm_arena {
    uint8_t *base;
    size_t cap;
    size_t used;
    /* Set when a decode needed more room than `cap`. */
    bool overflow;
} vm_arena_t;

static inline void vm_arena_init(vm_arena_t *a, void *buf, size_t cap) {
    a->base = (uint8_t *)buf;
    a->cap = cap;
    a->used = 0;
    a->overflow = false;
}

/* Room for `count` items of `size` bytes aligned to `align`; NULL (and
 * `overflow` set) when the arena is full or NULL. */
static inline void *vm_arena_alloc(vm_arena_t *a, size_t count, size_t size, size_t align) {
    if (count == 0) return 0;
    if (!a) return 0;
    /* Aligned in memory, wherever the caller's buffer starts. */
    size_t misalign = (size_t)(((uintptr_t)a->base + a->used) % align);
    size_t start = a->used + (misalign ? align - misalign : 0);
    if (start < a->used || start > a->cap || (size != 0 && count > (a->cap - start) / size)) {
        a->overflow = true;
        return 0;
    }
    a->used = start + count * size;
    return a->base + start;
}
#endif /* VM_MESSAGE_SUPPORT */
"#;

struct Emitter {
    out: String,
    /// The compound types already defined, by name.
    emitted: HashMap<String, Ty>,
    /// Two compound types that would have one name.
    conflict: Option<String>,
}

impl Emitter {
    /// Emits the compound types `t` needs (depth first), then `t`'s own
    /// typedef and functions if it is a compound type.
    fn compound(&mut self, t: &Ty) {
        match t {
            Ty::List(e) | Ty::Option(e) => self.compound(e),
            Ty::Tuple(ts) => ts.iter().for_each(|e| self.compound(e)),
            _ => return,
        }
        if is_bytes(t) {
            return;
        }
        let p = prefix(t);
        if let Some(seen) = self.emitted.get(&p) {
            if seen != t && self.conflict.is_none() {
                self.conflict = Some(format!("{seen:?} and {t:?} would both be `{p}_t` in C"));
            }
            return;
        }
        self.emitted.insert(p.clone(), t.clone());
        let shared = !names_a_schema_type(t);
        let guard = format!("{}_DEFINED", p.to_uppercase());
        let out = &mut self.out;
        if shared {
            writeln!(out, "#ifndef {guard}\n#define {guard}").unwrap();
        }
        match t {
            Ty::List(e) => {
                let et = c_type(e);
                writeln!(
                    out,
                    "typedef struct {p} {{\n    const {et} *items;\n    size_t len;\n}} {p}_t;\n"
                )
                .unwrap();
                writeln!(
                    out,
                    "static inline void {p}_put(vm_writer_t *w, const {p}_t *v) {{"
                )
                .unwrap();
                writeln!(out, "    vm_put_len(w, v->len);").unwrap();
                writeln!(
                    out,
                    "    for (size_t i = 0; i < v->len; i++) {{ {} }}",
                    put(e, "v->items[i]")
                )
                .unwrap();
                writeln!(out, "}}\n").unwrap();
                writeln!(
                    out,
                    "static inline void {p}_get(vm_reader_t *r, vm_arena_t *a, {p}_t *v) {{"
                )
                .unwrap();
                writeln!(out, "    size_t n = vm_get_len(r);").unwrap();
                writeln!(out, "    {et} *items = ({et} *)vm_arena_alloc(a, n, sizeof({et}), VM_ALIGNOF({et}));").unwrap();
                writeln!(out, "    v->items = items;\n    v->len = 0;").unwrap();
                writeln!(out, "    if (n != 0 && !items) {{\n        r->error = true;\n        return;\n    }}").unwrap();
                writeln!(
                    out,
                    "    for (size_t i = 0; i < n && !r->error; i++) {{ {} }}",
                    get(e, "items[i]")
                )
                .unwrap();
                writeln!(out, "    v->len = r->error ? 0 : n;\n}}").unwrap();
            }
            Ty::Option(e) => {
                writeln!(
                    out,
                    "typedef struct {p} {{\n    bool present;\n    {} value;\n}} {p}_t;\n",
                    c_type(e)
                )
                .unwrap();
                writeln!(
                    out,
                    "static inline void {p}_put(vm_writer_t *w, const {p}_t *v) {{"
                )
                .unwrap();
                writeln!(out, "    vm_put_option(w, v->present);").unwrap();
                writeln!(out, "    if (v->present) {{ {} }}", put(e, "v->value")).unwrap();
                writeln!(out, "}}\n").unwrap();
                writeln!(
                    out,
                    "static inline void {p}_get(vm_reader_t *r, vm_arena_t *a, {p}_t *v) {{"
                )
                .unwrap();
                writeln!(out, "    (void)a;\n    v->present = vm_get_option(r);").unwrap();
                writeln!(out, "    if (v->present) {{ {} }}", get(e, "v->value")).unwrap();
                writeln!(out, "}}").unwrap();
            }
            Ty::Tuple(ts) => {
                writeln!(out, "typedef struct {p} {{").unwrap();
                for (i, e) in ts.iter().enumerate() {
                    writeln!(out, "    {} f{i};", c_type(e)).unwrap();
                }
                writeln!(out, "}} {p}_t;\n").unwrap();
                writeln!(
                    out,
                    "static inline void {p}_put(vm_writer_t *w, const {p}_t *v) {{"
                )
                .unwrap();
                for (i, e) in ts.iter().enumerate() {
                    writeln!(out, "    {}", put(e, &format!("v->f{i}"))).unwrap();
                }
                writeln!(out, "}}\n").unwrap();
                writeln!(
                    out,
                    "static inline void {p}_get(vm_reader_t *r, vm_arena_t *a, {p}_t *v) {{"
                )
                .unwrap();
                writeln!(out, "    (void)a;").unwrap();
                for (i, e) in ts.iter().enumerate() {
                    writeln!(out, "    {}", get(e, &format!("v->f{i}"))).unwrap();
                }
                writeln!(out, "}}").unwrap();
            }
            _ => unreachable!(),
        }
        if shared {
            writeln!(out, "#endif").unwrap();
        }
        out.push('\n');
    }

    fn named(&mut self, t: &crate::schema::TypeDef) {
        for u in t.used() {
            self.compound(u);
        }
        let n = ident(&t.name);
        let up = shouty(&t.name);
        let out = &mut self.out;
        let docs = doc_lines(&t.docs, "", "//");
        out.push_str(&docs);
        match &t.def {
            Def::Alias(target) => {
                writeln!(out, "typedef {} {n}_t;\n", c_type(target)).unwrap();
                writeln!(
                    out,
                    "static inline void {n}_put(vm_writer_t *w, const {n}_t *v) {{ {} }}",
                    put(target, "(*v)")
                )
                .unwrap();
                writeln!(out, "static inline void {n}_get(vm_reader_t *r, vm_arena_t *a, {n}_t *v) {{\n    (void)a;\n    {}\n}}", get(target, "(*v)")).unwrap();
            }
            Def::Record(fields) => {
                writeln!(out, "typedef struct {n} {{").unwrap();
                for f in fields {
                    out.push_str(&doc_lines(&f.docs, "    ", "//"));
                    writeln!(out, "    {} {};", c_type(&f.ty), ident(&f.name)).unwrap();
                }
                writeln!(out, "}} {n}_t;\n").unwrap();
                writeln!(
                    out,
                    "static inline void {n}_put(vm_writer_t *w, const {n}_t *v) {{"
                )
                .unwrap();
                for f in fields {
                    writeln!(out, "    {}", put(&f.ty, &format!("v->{}", ident(&f.name)))).unwrap();
                }
                writeln!(out, "}}\n").unwrap();
                writeln!(
                    out,
                    "static inline void {n}_get(vm_reader_t *r, vm_arena_t *a, {n}_t *v) {{"
                )
                .unwrap();
                writeln!(out, "    (void)a;").unwrap();
                for f in fields {
                    writeln!(out, "    {}", get(&f.ty, &format!("v->{}", ident(&f.name)))).unwrap();
                }
                writeln!(out, "}}").unwrap();
            }
            Def::Variant(cases) => {
                writeln!(out, "typedef enum {n}_kind {{").unwrap();
                for (i, c) in cases.iter().enumerate() {
                    out.push_str(&doc_lines(&c.docs, "    ", "//"));
                    writeln!(out, "    {up}_{} = {i},", shouty(&c.name)).unwrap();
                }
                writeln!(out, "}} {n}_kind_t;\n").unwrap();
                writeln!(
                    out,
                    "/* `kind` says which case it is; `as` holds that case's payload. */"
                )
                .unwrap();
                writeln!(out, "typedef struct {n} {{\n    {n}_kind_t kind;").unwrap();
                if cases.iter().any(|c| c.ty.is_some()) {
                    writeln!(out, "    union {{").unwrap();
                    for c in cases {
                        if let Some(p) = &c.ty {
                            writeln!(out, "        {} {};", c_type(p), ident(&c.name)).unwrap();
                        }
                    }
                    writeln!(out, "    }} as;").unwrap();
                }
                writeln!(out, "}} {n}_t;\n").unwrap();
                writeln!(
                    out,
                    "static inline void {n}_put(vm_writer_t *w, const {n}_t *v) {{"
                )
                .unwrap();
                writeln!(out, "    vm_put_variant(w, (uint32_t)v->kind);").unwrap();
                out.push_str(&case_switch(&up, cases, put));
                writeln!(out, "}}\n").unwrap();
                writeln!(
                    out,
                    "static inline void {n}_get(vm_reader_t *r, vm_arena_t *a, {n}_t *v) {{"
                )
                .unwrap();
                writeln!(out, "    (void)a;\n    uint32_t k = vm_get_variant(r);").unwrap();
                writeln!(
                    out,
                    "    if (k >= {}) {{\n        r->error = true;\n        return;\n    }}",
                    cases.len()
                )
                .unwrap();
                writeln!(out, "    v->kind = ({n}_kind_t)k;").unwrap();
                out.push_str(&case_switch(&up, cases, get));
                writeln!(out, "}}").unwrap();
            }
            Def::Enum(cases) => {
                writeln!(out, "typedef enum {n} {{").unwrap();
                for (i, c) in cases.iter().enumerate() {
                    writeln!(out, "    {up}_{} = {i},", shouty(c)).unwrap();
                }
                writeln!(out, "}} {n}_t;\n").unwrap();
                writeln!(out, "static inline void {n}_put(vm_writer_t *w, const {n}_t *v) {{ vm_put_variant(w, (uint32_t)*v); }}").unwrap();
                writeln!(
                    out,
                    "static inline void {n}_get(vm_reader_t *r, vm_arena_t *a, {n}_t *v) {{"
                )
                .unwrap();
                writeln!(out, "    (void)a;\n    uint32_t k = vm_get_variant(r);").unwrap();
                writeln!(out, "    if (k >= {}) r->error = true;", cases.len()).unwrap();
                writeln!(out, "    *v = ({n}_t)(r->error ? 0 : k);\n}}").unwrap();
            }
        }
        writeln!(out).unwrap();
        // Whole messages.
        writeln!(out, "/* Encodes `v` into `buf`; `*len` is its size. VM_E_BUFFER_TOO_SMALL if it does not fit, `*len` then being the size it needs. */").unwrap();
        writeln!(out, "static inline vm_status_t {n}_encode(const {n}_t *v, void *buf, size_t cap, size_t *len) {{").unwrap();
        writeln!(
            out,
            "    vm_writer_t w;\n    vm_writer_init(&w, buf, cap);\n    {n}_put(&w, v);"
        )
        .unwrap();
        writeln!(out, "    if (len) *len = w.overflow ? w.needed : w.len;\n    return vm_writer_status(&w);\n}}\n").unwrap();
        writeln!(out, "/* Decodes all of `data` into `out`, lists into `arena` (NULL if the type has none): VM_E_DECODE if the bytes are not exactly one `{}`, VM_E_BUFFER_TOO_SMALL if the arena is. */", t.name).unwrap();
        writeln!(out, "static inline vm_status_t {n}_decode(const void *data, size_t len, vm_arena_t *arena, {n}_t *out) {{").unwrap();
        // Without an arena, a list that needs one reports the arena too
        // small rather than a decode error.
        writeln!(
            out,
            "    vm_arena_t none;\n    if (!arena) {{\n        vm_arena_init(&none, 0, 0);\n        arena = &none;\n    }}"
        )
        .unwrap();
        writeln!(
            out,
            "    vm_reader_t r;\n    vm_reader_init(&r, data, len);\n    {n}_get(&r, arena, out);"
        )
        .unwrap();
        writeln!(out, "    if (arena->overflow) return vm_fail(VM_E_BUFFER_TOO_SMALL, \"{n}_decode: the arena is too small for the message's lists\");\n    return vm_reader_finish(&r);\n}}\n").unwrap();
        writeln!(
            out,
            "/* Decodes a received message (VM_E_BUFFER_TOO_SMALL if it was truncated). */"
        )
        .unwrap();
        writeln!(out, "static inline vm_status_t {n}_decode_message(const vm_message_t *m, vm_arena_t *arena, {n}_t *out) {{").unwrap();
        writeln!(out, "    if (m->truncated) return vm_fail(VM_E_BUFFER_TOO_SMALL, \"{n}_decode_message: the message is larger than the receive buffer (read it whole with vm_receive_rest)\");\n    return {n}_decode(m->data, m->len, arena, out);\n}}\n").unwrap();
        writeln!(
            out,
            "/* Encodes `v` into `buf` and sends it to `to` with `tag`; VM_E_BUFFER_TOO_SMALL (nothing sent) if it does not fit. */"
        )
        .unwrap();
        writeln!(out, "static inline vm_status_t {n}_send_in(vm_pid_t to, uint64_t tag, const {n}_t *v, void *buf, size_t cap) {{").unwrap();
        writeln!(out, "    size_t len;\n    vm_status_t s = {n}_encode(v, buf, cap, &len);\n    return s != VM_OK ? s : vm_send(to, tag, buf, len);\n}}\n").unwrap();
        writeln!(out, "static inline void {n}_put_any_(vm_writer_t *w, const void *v) {{ {n}_put(w, (const {n}_t *)v); }}\n").unwrap();
        writeln!(
            out,
            "/* Encodes `v` and sends it to `to` with `tag`, in a buffer sized for it (vm_send_encoded). */"
        )
        .unwrap();
        writeln!(
            out,
            "static inline vm_status_t {n}_send(vm_pid_t to, uint64_t tag, const {n}_t *v) {{"
        )
        .unwrap();
        writeln!(
            out,
            "    return vm_send_encoded(to, tag, {n}_put_any_, v);\n}}\n"
        )
        .unwrap();
    }
}

/// Type names whose `NAME_t` (or struct tag) C's standard and POSIX
/// headers already define.
const TAKEN: &[&str] = &[
    "size",
    "ssize",
    "ptrdiff",
    "wchar",
    "wint",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "intptr",
    "uintptr",
    "intmax",
    "uintmax",
    "max_align",
    "off",
    "pid",
    "uid",
    "gid",
    "id",
    "time",
    "clock",
    "clockid",
    "timer",
    "mode",
    "dev",
    "ino",
    "nlink",
    "blksize",
    "blkcnt",
    "fpos",
    "sig_atomic",
    "suseconds",
    "useconds",
    "socklen",
    "sa_family",
    "in_port",
    "in_addr",
    "key",
    "locale",
    "mbstate",
    "div",
    "ldiv",
    "lldiv",
    "timespec",
    "timeval",
    "tm",
    "stat",
    "sockaddr",
    "pthread",
    "bool",
    "errno",
    "fd",
];

/// Every identifier the header defines per schema item, to refuse two
/// that would coincide, and names C or the SDK already uses.
fn check_names(schema: &Schema) -> anyhow::Result<()> {
    let mut names = Vec::new();
    for t in &schema.types {
        let n = ident(&t.name);
        let item = format!("type `{}`", t.name);
        if TAKEN.contains(&n.as_str()) {
            anyhow::bail!(
                "type `{}` would be `{n}_t` in C, which C's headers define: rename it in the WIT",
                t.name
            );
        }
        if n.starts_with("vm_") {
            anyhow::bail!(
                "type `{}` would be `{n}_t` in C, in the SDK's `vm_` namespace: rename it in the WIT",
                t.name
            );
        }
        names.push((n.clone(), item.clone()));
        let up = shouty(&t.name);
        match &t.def {
            Def::Variant(cases) => {
                names.push((format!("{n}_kind"), format!("the kinds of {item}")));
                for c in cases {
                    names.push((
                        format!("{up}_{}", shouty(&c.name)),
                        format!("case `{}` of `{}`", c.name, t.name),
                    ));
                }
            }
            Def::Enum(cases) => {
                for c in cases {
                    names.push((
                        format!("{up}_{}", shouty(c)),
                        format!("case `{c}` of `{}`", t.name),
                    ));
                }
            }
            _ => {}
        }
    }
    crate::names::distinct("C", names)
}

/// The package's name as the prefix of every C name the header defines
/// (`examples:ping-pong@1.0.0` → `ping-pong`).
fn package_prefix(package: &str) -> String {
    let name = package.rsplit(':').next().unwrap_or(package);
    name.split('@').next().unwrap_or(name).to_string()
}

/// The schema with every type named after its package too (`ping-pong` and
/// `ball` → `ping-pong-ball`), so its C names (`ping_pong_ball_t`,
/// `PING_PONG_BALL_PING`) meet neither C's own (`pid_t`) nor another
/// package's in the same program.
fn prefixed(schema: &Schema) -> Schema {
    fn ty(t: &Ty, pre: &str) -> Ty {
        match t {
            Ty::Named(n) => Ty::Named(format!("{pre}-{n}")),
            Ty::List(t) => Ty::List(Box::new(ty(t, pre))),
            Ty::Option(t) => Ty::Option(Box::new(ty(t, pre))),
            Ty::Tuple(ts) => Ty::Tuple(ts.iter().map(|t| ty(t, pre)).collect()),
            t => t.clone(),
        }
    }
    let pre = package_prefix(&schema.package);
    let mut out = schema.clone();
    for t in &mut out.types {
        t.name = format!("{pre}-{}", t.name);
        match &mut t.def {
            Def::Record(fields) => fields.iter_mut().for_each(|f| f.ty = ty(&f.ty, &pre)),
            Def::Variant(cases) => cases
                .iter_mut()
                .for_each(|c| c.ty = c.ty.as_ref().map(|t| ty(t, &pre))),
            Def::Enum(_) => {}
            Def::Alias(t) => *t = ty(t, &pre),
        }
    }
    out
}

pub fn emit(schema: &Schema, header: &str, _stem: &str) -> anyhow::Result<String> {
    if snake(&package_prefix(&schema.package)) == "vm" {
        anyhow::bail!(
            "package `{}` would name its C types `vm_…`, in the SDK's `vm_` namespace: rename the package in the WIT",
            schema.package
        );
    }
    let schema = &prefixed(schema);
    check_names(schema)?;
    // From the whole package, as the names are: two packages' headers (both
    // `messages.h`, say) can be included in one file.
    let mut guard = format!(
        "{}_H",
        schema
            .package
            .split('@')
            .next()
            .unwrap_or(&schema.package)
            .to_uppercase()
            .replace(|c: char| !c.is_ascii_alphanumeric(), "_")
    );
    if guard.starts_with(|c: char| c.is_ascii_digit()) {
        guard.insert_str(0, "M_");
    }
    let mut e = Emitter {
        out: String::new(),
        emitted: HashMap::new(),
        conflict: None,
    };
    writeln!(
        e.out,
        "/* Message types of `{}`.\n *\n * {header}\n *",
        schema.package
    )
    .unwrap();
    e.out.push_str(
        " * For each type NAME, named after the package too (PACKAGE_NAME): NAME_t;\n \
         * NAME_put/NAME_get write and read it with vm.h's writer and reader;\n \
         * NAME_encode/NAME_decode do a whole message, NAME_decode_message a\n \
         * received one, NAME_send encodes and sends (NAME_send_in in a buffer\n \
         * of the caller's). Print a vm_str_t with VM_STR_FMT and VM_STR_ARG.\n \
         * Strings and list<u8> decode without copying (they point into the\n \
         * message's bytes, which must outlive the value); other lists go into\n \
         * a vm_arena_t the caller gives. The bytes are postcard's, as the Rust\n \
         * and AssemblyScript types generated from the same WIT write them. */\n",
    );
    writeln!(
        e.out,
        "#ifndef {guard}\n#define {guard}\n\n#include <vm.h>\n"
    )
    .unwrap();
    writeln!(e.out, "#ifdef __cplusplus\nextern \"C\" {{\n#endif\n").unwrap();
    e.out.push_str(SUPPORT);
    e.out.push('\n');
    for t in &schema.types {
        e.named(t);
    }
    if let Some(conflict) = e.conflict {
        anyhow::bail!("{conflict}: rename a type in the WIT");
    }
    writeln!(
        e.out,
        "#ifdef __cplusplus\n}}\n#endif\n\n#endif /* {guard} */"
    )
    .unwrap();
    Ok(e.out)
}
