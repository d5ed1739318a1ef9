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
