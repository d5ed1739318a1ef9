//! What a WIT file may describe, and the errors for what it may not.

use std::path::Path;
use vm_bindgen::schema::{Def, Ty};
use vm_bindgen::Schema;

fn read(body: &str) -> anyhow::Result<Schema> {
    let text = format!("package test:t;\ninterface m {{\n{body}\n}}\n");
    Schema::from_str(Path::new("t.wit"), &text)
}

fn error(body: &str) -> String {
    format!("{:#}", read(body).expect_err("refused"))
}

#[test]
fn types_come_after_the_types_they_use() {
    let schema = read(
        "record outer { inner: list<inner> }\n\
         variant inner { a(point), b }\n\
         record point { x: s32 }",
    )
    .unwrap();
    let names: Vec<&str> = schema.types.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["point", "inner", "outer"]);
    match &schema.get("outer").unwrap().def {
        Def::Record(fields) => {
            assert_eq!(fields[0].ty, Ty::List(Box::new(Ty::Named("inner".into()))))
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn unsupported_types_are_refused_with_the_alternative() {
    for (body, says) in [
        (
            "record r { c: char }",
            "`char` is not supported: use a string",
        ),
        (
            "flags f { a, b }\nrecord r { f: f }",
            "flags are not supported: use a record of bools",
        ),
        (
            "record r { x: result<u32, string> }",
            "`result` is not supported: use a variant",
        ),
        (
            "resource res;\nrecord r { x: own<res> }",
            "resources are not message types",
        ),
        ("record r { x: tuple<> }", "an empty tuple carries nothing"),
        ("record r {}", "a record needs at least one field"),
    ] {
        let err = error(body);
        assert!(err.contains(says), "{body}: {err}");
        assert!(err.contains("in type `"), "{body}: names no type: {err}");
    }
}

#[test]
fn a_file_with_no_types_says_what_to_declare() {
    assert!(error("").contains("defines no types"));
}

#[test]
fn invalid_wit_names_the_file() {
    assert!(error("record r { x: nonsense }").contains("t.wit is not valid WIT"));
}

fn generated(body: &str, lang: vm_bindgen::Lang) -> anyhow::Result<String> {
    let schema = read(body)?;
    let options = vm_bindgen::Options::default();
    vm_bindgen::generate(Path::new("m.wit"), &schema, lang, &options).map(|g| g.contents)
}

#[test]
fn a_type_used_from_another_interface_is_that_type() {
    let text = "package test:t;\n\
                interface a { record point { x: s32 } }\n\
                interface b { use a.{point}; record line { start: point, end: point } }\n";
    let schema = Schema::from_str(Path::new("t.wit"), text).unwrap();
    let names: Vec<&str> = schema.types.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["point", "line"]);
}

#[test]
fn tuples_whose_parts_join_to_the_same_words_get_different_names() {
    let body = "record a { s: string }\nrecord b-c { f: f64 }\nrecord a-b { s: string }\n\
                record c { f: f64 }\nrecord r { x: tuple<a, b-c>, y: tuple<a-b, c> }";
    let c = generated(body, vm_bindgen::Lang::C).unwrap();
    assert!(
        c.contains("tuple2__t_a__t_b_c_t x;") && c.contains("tuple2__t_a_b__t_c_t y;"),
        "{c}"
    );
    let ts = generated(body, vm_bindgen::Lang::AssemblyScript).unwrap();
    assert!(
        ts.contains("x: Tuple2_A_BC") && ts.contains("y: Tuple2_AB_C"),
        "{ts}"
    );
}

#[test]
fn names_a_language_already_uses_or_that_coincide_are_refused() {
    use vm_bindgen::Lang::{AssemblyScript, Rust, C};
    for (body, lang, says) in [
        (
            "variant shape { a }\nenum shape-kind { b }",
            C,
            "`t_shape_kind` in C",
        ),
        ("enum a { b-c }\nenum a-b { c }", C, "`T_A_B_C` in C"),
        (
            "variant shape { a }\nrecord shape-kind { n: u32 }",
            AssemblyScript,
            "`ShapeKind` in AssemblyScript",
        ),
    ] {
        let err = format!("{:#}", generated(body, lang).expect_err(body));
        assert!(err.contains(says), "{body}: {err}");
    }
    // Rust: std's types are named in full, and `self` is not a raw identifier.
    let rust = generated("record vec { %self: string, items: list<u8> }", Rust).unwrap();
    assert!(rust.contains("pub self_: ::std::string::String"), "{rust}");
    assert!(rust.contains("pub items: ::std::vec::Vec<u8>"), "{rust}");
}

#[test]
fn c_names_start_with_the_packages_so_they_meet_neither_cs_nor_another_packages() {
    // `pid` and `size` alone would be `pid_t` and `size_t`, which C's headers define.
    let c = generated(
        "record pid { n: u32 }\nrecord size { n: u32 }\nvariant join { pid(pid) }",
        vm_bindgen::Lang::C,
    )
    .unwrap();
    for name in [
        "typedef struct t_pid {",
        "} t_size_t;",
        "T_JOIN_PID = 0,",
        "static inline vm_status_t t_join_send(vm_pid_t to, uint64_t tag, const t_join_t *v) {",
    ] {
        assert!(c.contains(name), "{name} in:\n{c}");
    }
    // A package named `vm` would put its types in the SDK's namespace.
    let schema = Schema::from_str(
        Path::new("v.wit"),
        "package x:vm;\ninterface m { record thing { n: u32 } }\n",
    )
    .unwrap();
    let err = vm_bindgen::generate(
        Path::new("v.wit"),
        &schema,
        vm_bindgen::Lang::C,
        &vm_bindgen::Options::default(),
    )
    .expect_err("refused");
    assert!(
        format!("{err:#}").contains("the SDK's `vm_` namespace"),
        "{err:#}"
    );
}

#[test]
fn a_rust_module_file_is_named_as_mod_can_name_it() {
    let schema = read("record r { n: u32 }").unwrap();
    let g = vm_bindgen::generate(
        Path::new("my-msgs.wit"),
        &schema,
        vm_bindgen::Lang::Rust,
        &vm_bindgen::Options::default(),
    )
    .unwrap();
    assert_eq!(g.file_name, "my_msgs.rs");
}

#[test]
fn functions_in_another_namespace_are_not_taken_for_message_types() {
    let text =
        "package my:textstats@1.0.0;\ninterface stats { words: func(text: string) -> u32; }\n";
    let err = format!(
        "{:#}",
        Schema::from_str(Path::new("textstats.wit"), text).expect_err("refused")
    );
    assert!(
        err.contains("declares functions (stats.words, …) in package my:textstats, but no types")
            && err.contains("package plugin:textstats@1.0.0;"),
        "{err}"
    );
}

#[test]
fn plugin_bindings_take_the_whole_of_wit_in_every_language() {
    let shapes =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/plugins/shapes/shapes.wit");
    let options = vm_bindgen::Options::default();
    let rust = vm_bindgen::generate_source(&shapes, vm_bindgen::Lang::Rust, &options).unwrap();
    assert!(
        rust.contents.contains("pub enum Shape {"),
        "{}",
        rust.contents
    );
    assert!(rust.contents.contains("pub fn area(s: &Shape) -> f64"));
    let c = vm_bindgen::generate_source(&shapes, vm_bindgen::Lang::C, &options).unwrap();
    assert!(c.contents.contains("typedef struct shapes_shape {"));
    assert!(c
        .contents
        .contains("static inline double shapes_geometry_area(const shapes_shape_t *s) {"));
    let asc =
        vm_bindgen::generate_source(&shapes, vm_bindgen::Lang::AssemblyScript, &options).unwrap();
    assert!(asc.contents.contains("export class Shape {"));
    assert!(asc
        .contents
        .contains("  export function area(s: Shape): f64 {"));
}
