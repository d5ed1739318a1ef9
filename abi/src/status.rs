//! The status table every guest SDK reports failures with, written once.
//!
//! A status is an `i32`: 0 is success, `1 + code` is the VM's
//! `error-code` (from the WIT, so a code a newer minor adds gets its status
//! here by itself), and from [`SDK_BASE`] on come the failures the SDKs find
//! themselves. `cargo xtask gen` writes the table into the C header
//! (`VM_E_*`, `vm_status_name`) and the AssemblyScript module (`TIMEOUT`,
//! `statusName`, …), so the same number means the same thing in every
//! language; `tests/tests/cross_language.rs` has each SDK print it back.

use crate::model::{Abi, TypeDefShape};

/// Where the SDKs' own statuses start, far above any `1 + error-code`.
pub const SDK_BASE: i32 = 1000;

/// A failure an SDK detects without the VM: its name and what it means.
/// Its status is [`SDK_BASE`] plus its index; new ones go at the end.
pub const SDK_STATUSES: &[(&str, &str)] = &[
    ("decode", "A message did not decode as the expected type."),
    (
        "buffer-too-small",
        "A buffer (or the largest capture) was too small for what had to go in it.",
    ),
    (
        "would-block",
        "A try-write found the socket's send buffer full: nothing was written.",
    ),
    (
        "down",
        "The process a request went to ended before it replied.",
    ),
    (
        "truncated",
        "A message or text ended before the length the VM announced.",
    ),
];

/// One row of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// The number every SDK uses.
    pub value: i32,
    /// Its kebab-case name (`vm_strerror`, `statusName`).
    pub name: String,
    /// What it means.
    pub docs: String,
}

/// The whole table, in order: ok, the VM's error codes, the SDKs' own.
pub fn table(abi: &Abi) -> Vec<Status> {
    let codes = abi
        .types
        .iter()
        .find_map(|t| match (&t.kind, t.name.as_str()) {
            (TypeDefShape::Enum(cases), "error-code") => Some(cases),
            _ => None,
        })
        .expect("the ABI declares enum error-code");
    let mut out = vec![Status {
        value: 0,
        name: "ok".into(),
        docs: "The call succeeded.".into(),
    }];
    for (i, c) in codes.iter().enumerate() {
        out.push(Status {
            value: 1 + i as i32,
            name: c.name.clone(),
            docs: c.docs.clone(),
        });
    }
    for (i, (name, docs)) in SDK_STATUSES.iter().enumerate() {
        out.push(Status {
            value: SDK_BASE + i as i32,
            name: (*name).into(),
            docs: (*docs).into(),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vm_codes_sit_below_the_sdks_own_and_names_are_unique() {
        let abi = Abi::load(&crate::repo_root().join("abi/wit")).unwrap();
        let t = table(&abi);
        assert_eq!(t[0].name, "ok");
        assert_eq!(t[4].name, "timeout");
        assert!(t.iter().filter(|s| s.value < SDK_BASE).count() < SDK_BASE as usize);
        let mut names: Vec<_> = t.iter().map(|s| &s.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), t.len());
    }
}
