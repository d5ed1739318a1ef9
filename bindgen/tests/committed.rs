//! The repository's generated message bindings are committed; this fails
//! when one drifts from its WIT (or from the generator).

use std::path::Path;

#[test]
fn committed_message_bindings_match_their_wit() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let stale: Vec<String> = vm_bindgen::committed(root)
        .expect("every WIT file generates")
        .into_iter()
        .filter(|(path, contents)| {
            std::fs::read_to_string(root.join(path)).ok().as_deref() != Some(contents.as_str())
        })
        .map(|(path, _)| path.display().to_string())
        .collect();
    assert!(
        stale.is_empty(),
        "generated message bindings differ from their WIT: {stale:?}; run `cargo xtask gen` and commit"
    );
}
