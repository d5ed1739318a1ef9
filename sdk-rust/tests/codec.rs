//! The message codec, property-tested: typed messages round-trip, process
//! references encode as their id, and no byte string makes decoding panic.

use proptest::prelude::*;
use serde::{Deserialize, Serialize};
use vm_sdk::message::{decode, encode};
use vm_sdk::Process;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Shape {
    Empty,
    Circle { radius: f64 },
    Named(String, Vec<u8>),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Envelope {
    id: u64,
    delta: i32,
    label: String,
    payload: Vec<u8>,
    maybe: Option<i64>,
    shape: Shape,
    flag: bool,
}

fn shape() -> impl Strategy<Value = Shape> {
    prop_oneof![
        Just(Shape::Empty),
        any::<f64>()
            .prop_filter("NaN never equals itself", |r| !r.is_nan())
            .prop_map(|radius| Shape::Circle { radius }),
        (".*", proptest::collection::vec(any::<u8>(), 0..64)).prop_map(|(s, b)| Shape::Named(s, b)),
    ]
}

fn envelope() -> impl Strategy<Value = Envelope> {
    (
        any::<u64>(),
        any::<i32>(),
        ".*",
        proptest::collection::vec(any::<u8>(), 0..256),
        any::<Option<i64>>(),
        shape(),
        any::<bool>(),
    )
        .prop_map(|(id, delta, label, payload, maybe, shape, flag)| Envelope {
            id,
            delta,
            label,
            payload,
            maybe,
            shape,
            flag,
        })
}

proptest! {
    #[test]
    fn typed_messages_round_trip(m in envelope()) {
        let bytes = encode(&m);
        prop_assert_eq!(decode::<Envelope>(&bytes, 0, 0).unwrap(), m);
    }

    #[test]
    fn a_process_reference_encodes_exactly_as_its_id(id in any::<u64>()) {
        prop_assert_eq!(encode(&Process::<String>::from_id(id)), encode(&id));
        let back: Process<String> = decode(&encode(&id), 0, 0).unwrap();
        prop_assert_eq!(back.id(), id);
    }

    #[test]
    fn decoding_any_bytes_returns_a_value_or_an_error_that_keeps_them(bytes in proptest::collection::vec(any::<u8>(), 0..128), tag in any::<u64>()) {
        if let Err(e) = decode::<Envelope>(&bytes, tag, 9) {
            prop_assert_eq!(e.bytes, bytes);
            prop_assert_eq!((e.tag, e.sender), (tag, 9));
        }
    }
}

#[test]
fn the_wire_format_is_postcards() {
    // Varint, zigzag, length prefix, enum index: what the C and AssemblyScript
    // codecs implement byte for byte.
    assert_eq!(encode(&127u32), [0x7f]);
    assert_eq!(encode(&128u32), [0x80, 0x01]);
    assert_eq!(encode(&-1i32), [0x01]);
    assert_eq!(encode(&1i32), [0x02]);
    assert_eq!(encode("é"), [2, 0xc3, 0xa9]);
    assert_eq!(encode(&Some(5u8)), [1, 5]);
    assert_eq!(
        encode(&Shape::Named("a".into(), vec![7])),
        [2, 1, b'a', 1, 7]
    );
}
