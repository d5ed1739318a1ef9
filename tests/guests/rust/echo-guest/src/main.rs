//! Calls the echo plugin through vm-sdk's bindings with values at the edges
//! of every WIT type and checks each comes back unchanged: the bindings'
//! lowering and lifting agree with the VM's and with wit-bindgen's (the
//! plugin's). Prints one line per function.

vm_sdk::plugin!("../../echo.wit");

use echo::api::{self, All, Bag, Mixed, Nine, Scalars, Seventeen};

fn main() {
    for s in [
        Scalars {
            a: i8::MIN,
            b: u16::MAX,
            c: i16::MIN,
            d: '\u{10FFFF}',
            e: -0.0,
            f: u64::MAX,
            g: i64::MIN,
            h: true,
            i: f64::MIN_POSITIVE,
            j: 255,
        },
        Scalars {
            a: -1,
            b: 0,
            c: -2,
            d: 'é',
            e: f32::INFINITY,
            f: 1 << 63,
            g: -1,
            h: false,
            i: -1.5e300,
            j: 0,
        },
    ] {
        assert_eq!(api::echo_scalars(s), s);
    }
    println!("scalars: ok");

    let cases = vec![
        Mixed::Single(-2.5),
        Mixed::Wide(u64::MAX - 1),
        Mixed::Double(f64::MAX),
        Mixed::Text("a\u{0}b é".into()),
        Mixed::Maybe(vec![Some("x".into()), None, Some(String::new())]),
        Mixed::Maybe(Vec::new()),
        Mixed::Nothing,
    ];
    for m in &cases {
        assert_eq!(&api::echo_mixed(m), m);
    }
    println!("mixed: ok");

    for (a, b) in [
        (Nine::empty(), Seventeen::empty()),
        (Nine::F8 | Nine::F0, Seventeen::G16 | Seventeen::G1),
        (Nine::all(), Seventeen::all()),
    ] {
        assert_eq!(api::echo_flags(a, b), (a, b));
    }
    assert_eq!(format!("{:?}", Nine::F0 | Nine::F8), "Nine(F0 | F8)");
    println!("flags: ok");

    let bag = Bag {
        names: vec![vec![], vec!["one".into()], vec!["two".into(), "".into()]],
        bytes: (0..=255).collect(),
        points: vec![(i32::MIN, 0.5), (7, -0.0)],
        cases: cases.clone(),
        nested: Some(Some(Err(vec![1, 2, 3]))),
    };
    assert_eq!(api::echo_bag(&bag), bag);
    for nested in [None, Some(None), Some(Some(Ok("ok".into())))] {
        let b = Bag {
            nested,
            ..bag.clone()
        };
        assert_eq!(api::echo_bag(&b), b);
    }
    println!("bag: ok");

    let all = api::wide(
        200,
        -100,
        60_000,
        -30_000,
        4_000_000_000,
        -2_000_000_000,
        u64::MAX,
        i64::MIN + 1,
        3.25,
        -7.125,
        '🦀',
        true,
        "wide",
        &[1, 2, 3],
        Some(9),
        -1,
    );
    assert_eq!(
        all,
        All {
            a: 200,
            b: -100,
            c: 60_000,
            d: -30_000,
            e: 4_000_000_000,
            f: -2_000_000_000,
            g: u64::MAX,
            h: i64::MIN + 1,
            i: 3.25,
            j: -7.125,
            k: '🦀',
            l: true,
            m: "wide".into(),
            n: vec![1, 2, 3],
            o: Some(9),
            p: -1,
        }
    );
    println!("wide: ok");

    assert_eq!(api::small(Some(0)), Ok(()));
    assert_eq!(api::small(None), Err(()));
    println!("small: ok");

    let many = api::repeat("é", 10_000);
    assert_eq!(many.len(), 10_000);
    assert!(many.iter().all(|s| s == "é"));
    assert!(api::repeat("", 0).is_empty());
    println!("repeat: ok");
}
