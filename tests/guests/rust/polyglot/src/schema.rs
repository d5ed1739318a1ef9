//! `vm run polyglot.wasm -- schema CASES`: the codecs `vm bindgen` generates
//! for C and AssemblyScript from tests/guests/schema/everything.wit, run
//! against Rust's postcard with proptest. Each random `Everything` goes to
//! the C and the AssemblyScript echo service as postcard's bytes; the
//! service decodes it with its generated decoder and replies with its
//! generated encoder's bytes, which must be the same. Random byte strings
//! must be taken or refused as postcard takes or refuses them. A failure is
//! shrunk to a minimal value and printed. Then a corpus of malformed
//! messages, each of which postcard refuses, must be refused by both
//! decoders.

use crate::everything::{
    Color, Everything, Named, Point, Shape, Tricky, Vec as Vector, A, AB, BC, C,
};
use crate::{call, start};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use vm_sdk::process::Module;

fn point() -> impl Strategy<Value = Point> {
    (any::<i32>(), any::<i32>()).prop_map(|(x, y)| Point { x, y })
}

fn color() -> impl Strategy<Value = Color> {
    prop_oneof![Just(Color::Red), Just(Color::Green), Just(Color::BlueIsh)]
}

fn shape() -> impl Strategy<Value = Shape> {
    prop_oneof![
        Just(Shape::Nothing),
        any::<u32>().prop_map(Shape::Circle),
        point().prop_map(Shape::Rect),
        prop::collection::vec(point(), 0..4).prop_map(Shape::Path),
        any::<String>().prop_map(Shape::Label),
        (color(), any::<Option<f32>>()).prop_map(Shape::Tinted),
    ]
}

fn tricky() -> impl Strategy<Value = Tricky> {
    (
        (any::<String>(), any::<f64>()),
        (any::<String>(), any::<f64>()),
        any::<f32>(),
        any::<u8>(),
        prop_oneof![
            any::<String>().prop_map(Named::Text),
            any::<u32>().prop_map(Named::Number)
        ],
    )
        .prop_map(|((s1, f1), (s2, f2), x, self_, named)| Tricky {
            first: (A { s: s1 }, BC { f: f1 }),
            second: (AB { s: s2 }, C { f: f2 }),
            v: Vector { x },
            self_,
            named,
        })
}

/// Integers weighted towards the edges where varints change length.
fn edge_u64() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(0u64),
        Just(127),
        Just(128),
        Just(16_383),
        Just(16_384),
        Just(u64::MAX),
        any::<u64>(),
        any::<u64>().prop_map(|v| v >> (v % 64)),
    ]
}

fn everything() -> impl Strategy<Value = Everything> {
    let scalars = (
        any::<bool>(),
        any::<u8>(),
        any::<u16>(),
        edge_u64().prop_map(|v| v as u32),
        edge_u64(),
        any::<i8>(),
        any::<i16>(),
        any::<i32>(),
        any::<i64>(),
        any::<f32>(),
        any::<f64>(),
    );
    let compound = (
        any::<String>(),
        prop::collection::vec(any::<u8>(), 0..200),
        prop::collection::vec(edge_u64().prop_map(|v| v as u32), 0..5),
        any::<Option<u16>>(),
        any::<Option<String>>(),
        any::<Option<Option<u8>>>(),
        (any::<u8>(), any::<String>()),
        color(),
        prop::collection::vec(shape(), 0..4),
        prop::collection::vec(any::<String>(), 0..3),
        prop::collection::vec(point(), 0..3),
        prop::collection::vec(prop::collection::vec(any::<i64>(), 0..3), 0..3),
    );
    (scalars, compound, tricky()).prop_map(|(s, c, tricky)| Everything {
        a_bool: s.0,
        a_u8: s.1,
        a_u16: s.2,
        a_u32: s.3,
        a_u64: s.4,
        a_s8: s.5,
        a_s16: s.6,
        a_s32: s.7,
        a_s64: s.8,
        a_f32: s.9,
        a_f64: s.10,
        text: c.0,
        bytes: c.1,
        numbers: c.2,
        maybe: c.3,
        maybe_text: c.4,
        nested: c.5,
        pair: c.6,
        color: c.7,
        shapes: c.8,
        words: c.9,
        r#type: c.10,
        matrix: c.11,
        tricky,
    })
}

/// A small valid value, whose encoding the malformed corpus starts from.
fn sample() -> Everything {
    Everything {
        a_bool: true,
        a_u8: 200,
        a_u16: 300,
        a_u32: 70_000,
        a_u64: 1 << 40,
        a_s8: -3,
        a_s16: -300,
        a_s32: -70_000,
        a_s64: -(1 << 40),
        a_f32: 1.5,
        a_f64: -2.25,
        text: "héllo".into(),
        bytes: vec![1, 2, 3],
        numbers: vec![1, 128],
        maybe: Some(7),
        maybe_text: None,
        nested: Some(None),
        pair: (9, "ok".into()),
        color: Color::BlueIsh,
        shapes: vec![Shape::Rect(Point { x: 1, y: -1 }), Shape::Label("é".into())],
        words: vec!["a".into()],
        r#type: vec![Point { x: 0, y: 0 }],
        matrix: vec![vec![-1, 1]],
        tricky: Tricky {
            first: (A { s: "a".into() }, BC { f: 0.5 }),
            second: (AB { s: "ab".into() }, C { f: -0.5 }),
            v: Vector { x: 2.0 },
            self_: 7,
            named: Named::Text("n".into()),
        },
    }
}

/// Malformed messages, none of them exactly one value to postcard: every
/// proper prefix of a
/// valid encoding, one with a byte too many, and values out of their
/// types' range (a bool of 2, an unknown enum or variant case, a varint too
/// long for its integer, a string that is not UTF-8, a list longer than
/// the message).
fn malformed() -> Vec<(String, Vec<u8>)> {
    let valid = postcard::to_allocvec(&sample()).unwrap();
    let mut corpus: Vec<(String, Vec<u8>)> = (0..valid.len())
        .map(|n| (format!("the first {n} bytes"), valid[..n].to_vec()))
        .collect();
    let mut longer = valid.clone();
    longer.push(0);
    corpus.push(("a byte too many".into(), longer));
    // Field by field from a minimal value: false, 0, 0, 0, 0, 0, 0, 0, 0,
    // 0.0f32, 0.0f64, "", [], [], None, None, None, (0, ""), red, [], [],
    // [], [], and a tricky of zeros.
    let minimal = |edit: &dyn Fn(&mut Vec<Vec<u8>>)| {
        let mut fields: Vec<Vec<u8>> = vec![
            vec![0],
            vec![0],
            vec![0],
            vec![0],
            vec![0],
            vec![0],
            vec![0],
            vec![0],
            vec![0],
            vec![0; 4],
            vec![0; 8],
            vec![0],
            vec![0],
            vec![0],
            vec![0],
            vec![0],
            vec![0],
            vec![0, 0],
            vec![0],
            vec![0],
            vec![0],
            vec![0],
            vec![0],
            // tricky: ("", 0.0), ("", 0.0), 0.0f32, 0, named::text("").
            vec![0; 25],
        ];
        edit(&mut fields);
        fields.concat()
    };
    assert!(postcard::from_bytes::<Everything>(&minimal(&|_| {})).is_ok());
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("a bool of 2", minimal(&|f| f[0] = vec![2])),
        ("a u16 of 2^16", minimal(&|f| f[2] = vec![0x80, 0x80, 0x04])),
        (
            "a u32 of 2^32",
            minimal(&|f| f[3] = vec![0x80, 0x80, 0x80, 0x80, 0x10]),
        ),
        (
            "a u64 varint of 11 bytes",
            minimal(&|f| f[4] = [vec![0x80; 10], vec![0]].concat()),
        ),
        (
            "an s16 of 2^16",
            minimal(&|f| f[6] = vec![0x80, 0x80, 0x04]),
        ),
        (
            "a string that is not UTF-8",
            minimal(&|f| f[11] = vec![2, 0xc3, 0x28]),
        ),
        (
            "a lone surrogate as WTF-8",
            minimal(&|f| f[11] = vec![3, 0xed, 0xa0, 0x80]),
        ),
        (
            "bytes longer than the message",
            minimal(&|f| f[12] = vec![100, 1]),
        ),
        ("an option tag of 2", minimal(&|f| f[14] = vec![2])),
        ("an unknown enum case", minimal(&|f| f[18] = vec![3])),
        ("an unknown variant case", minimal(&|f| f[19] = vec![1, 6])),
        (
            "a list count of 2^32+1",
            minimal(&|f| f[13] = vec![0x81, 0x80, 0x80, 0x80, 0x10]),
        ),
    ];
    for (what, bytes) in cases {
        corpus.push((what.into(), bytes));
    }
    for (what, bytes) in &corpus {
        // Exactly one value, as the generated decoders require.
        let exact = matches!(postcard::take_from_bytes::<Everything>(bytes), Ok((_, rest)) if rest.is_empty());
        assert!(!exact, "postcard accepts {what}: the corpus is wrong");
    }
    corpus
}

pub fn run(cases: u32) {
    let corpus = malformed();
    for (language, bytes) in [("c", crate::C_SCHEMA), ("assemblyscript", crate::AS_SCHEMA)] {
        let module =
            Module::load(bytes).unwrap_or_else(|e| panic!("loading the {language} module: {e}"));
        let service = start(&module, "serve_everything").id();
        let mut runner = TestRunner::new(Config {
            cases,
            failure_persistence: None,
            ..Config::default()
        });
        let outcome = runner.run(&everything(), |value| {
            let sent = postcard::to_allocvec(&value).unwrap();
            let (_, reply) = call(service, &sent);
            if reply != sent {
                return Err(TestCaseError::fail(format!(
                    "sent {sent:?}, got back {reply:?}"
                )));
            }
            Ok(())
        });
        match outcome {
            Ok(()) => println!("{language}: {cases} random values encode as postcard does"),
            Err(e) => println!("{language}: {e}"),
        }
        // Random bytes: each decoder takes exactly what postcard takes as
        // one whole value, and answers with postcard's encoding of it.
        let outcome = runner.run(&prop::collection::vec(any::<u8>(), 0..120), |bytes| {
            let want = match postcard::take_from_bytes::<Everything>(&bytes) {
                Ok((value, [])) => postcard::to_allocvec(&value).unwrap(),
                _ => Vec::new(),
            };
            let (_, reply) = call(service, &bytes);
            if reply != want {
                return Err(TestCaseError::fail(format!(
                    "for {bytes:?} expected {want:?}, got {reply:?}"
                )));
            }
            Ok(())
        });
        match outcome {
            Ok(()) => {
                println!("{language}: {cases} random byte strings judged as postcard judges them")
            }
            Err(e) => println!("{language}: {e}"),
        }
        let refused: Vec<&str> = corpus
            .iter()
            .filter(|(_, bytes)| call(service, bytes) == (0, Vec::new()))
            .map(|(what, _)| what.as_str())
            .collect();
        if refused.len() == corpus.len() {
            println!(
                "{language}: all {} malformed messages refused",
                corpus.len()
            );
        } else {
            for (what, _) in corpus
                .iter()
                .filter(|(w, _)| !refused.contains(&w.as_str()))
            {
                println!("{language}: accepted {what}");
            }
        }
    }
}
