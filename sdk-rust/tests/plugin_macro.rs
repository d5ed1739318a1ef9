//! `vm_sdk::plugin!` expands to the typed bindings `vm bindgen` writes.

vm_sdk::plugin!("tests/plugin/kv.wit");
vm_sdk::plugin!("tests/plugin/gauge.wit");

#[test]
fn the_bindings_are_typed_and_name_the_plugin_version() {
    assert_eq!(kv::VERSION, (1, 0, 0));
    // Outside the VM a plugin call panics, saying why.
    let err = std::panic::catch_unwind(|| kv::store::get("key")).unwrap_err();
    let text = err.downcast_ref::<String>().unwrap();
    assert!(text.contains("plugin:kv/store.get"), "{text}");
    let _typed: fn(&str, i64) -> Result<i64, String> = kv::store::increment;
}

#[test]
fn records_enums_and_flags_become_rust_types() {
    use gauge::meter::{Alarms, Reading, Unit};
    let reading = Reading {
        value: 1.5,
        unit: Unit::Volts,
        tags: vec!["north".into()],
    };
    let _typed: fn(&Reading) -> Option<Alarms> = gauge::meter::add;
    let both = Alarms::LOW | Alarms::HIGH;
    assert!(both.contains(Alarms::HIGH) && !Alarms::empty().contains(Alarms::LOW));
    assert_eq!(both, Alarms::all());
    assert_eq!(format!("{both:?}"), "Alarms(LOW | HIGH)");
    assert_eq!(Alarms::from_bits_truncate(0xff).bits(), 0b11);
    let err = std::panic::catch_unwind(|| gauge::meter::add(&reading)).unwrap_err();
    let text = err.downcast_ref::<String>().unwrap();
    assert!(text.contains("plugin:gauge/meter.add"), "{text}");
}
