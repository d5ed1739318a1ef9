//! The kv store itself, shared by every implementation of kv.wit here (the
//! wasm plugin and the native one): what each function does to a process's
//! store.

use std::collections::BTreeMap;

/// A process's store.
pub type Store = BTreeMap<String, Vec<u8>>;

/// `increment`: adds `by` to the number under `key` (0 when missing).
pub fn increment(store: &mut Store, key: String, by: i64) -> Result<i64, String> {
    let now = match store.get(&key) {
        None => 0,
        Some(v) => match std::str::from_utf8(v)
            .ok()
            .and_then(|t| t.parse::<i64>().ok())
        {
            Some(n) => n,
            None => {
                return Err(format!(
                    "{key} holds `{}`, not a number",
                    String::from_utf8_lossy(v)
                ))
            }
        },
    };
    let sum = now
        .checked_add(by)
        .ok_or_else(|| format!("{key}: {now} + {by} overflows"))?;
    store.insert(key, sum.to_string().into_bytes());
    Ok(sum)
}
