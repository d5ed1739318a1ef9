//! The cluster's store of global names (ABI 1.8 `global`): a JetStream
//! key-value bucket (`PREFIX_global`) every node reads and writes only with
//! create and compare-and-set, so that of N nodes taking one name at once
//! exactly one wins. A key is the name in hexadecimal (bucket keys allow
//! few characters); its value, the holder's process id (8 bytes, little
//! endian).
//!
//! A name whose holder has ended is free: its node deletes it when the
//! holder ends ([`GlobalRequest::Release`]), and a node that is down cannot,
//! so every node takes a name whose holder's node it sees down as free
//! (slots are never reused, so a node that comes back is a new one).
//!
//! One task answers the requests in the order they were made, so a
//! process's release comes after its registration.

use async_nats::jetstream::{self, kv};
use tokio::sync::{mpsc, oneshot};
use vm_kernel::global::{GlobalReply, GlobalRequest};

/// A request, with where its answer goes.
pub(crate) type Ask = (GlobalRequest, oneshot::Sender<Result<GlobalReply, String>>);

/// How many times a compare-and-set is tried again when another node
/// moved the name first.
const TRIES: usize = 8;

/// Answers `asks` until their sender is dropped. `alive` says whether a
/// process id names a live holder (one of this node's processes that is
/// alive, or a process of a node that is up).
pub(crate) async fn serve(
    client: async_nats::Client,
    bucket: String,
    mut asks: mpsc::UnboundedReceiver<Ask>,
    alive: impl Fn(u64) -> bool,
) {
    let js = jetstream::new(client);
    let mut store: Option<kv::Store> = None;
    while let Some((request, reply)) = asks.recv().await {
        let answer = async {
            let kv = match &store {
                Some(kv) => kv,
                None => store.insert(open(&js, &bucket).await?),
            };
            answer(kv, request, &alive).await
        };
        let _ = reply.send(answer.await);
    }
}

async fn open(js: &jetstream::Context, bucket: &str) -> Result<kv::Store, String> {
    let store = js
        .create_key_value(kv::Config {
            bucket: bucket.to_string(),
            history: 1,
            ..Default::default()
        })
        .await
        .map_err(|e| crate::streams::not_created(&format!("KV_{bucket}"), e))?;
    crate::streams::check(js, &format!("KV_{bucket}"), &[format!("$KV.{bucket}.>")]).await?;
    Ok(store)
}

/// The bucket key of `name`.
fn key(name: &str) -> String {
    let mut key = String::with_capacity(1 + 2 * name.len());
    key.push('n');
    for b in name.bytes() {
        key.push_str(&format!("{b:02x}"));
    }
    key
}

/// The holder an entry names, if it is a name's (not a deletion).
fn holder(entry: &kv::Entry) -> Option<u64> {
    if entry.operation != kv::Operation::Put {
        return None;
    }
    let bytes: [u8; 8] = entry.value.as_ref().try_into().ok()?;
    Some(u64::from_le_bytes(bytes))
}

async fn answer(
    kv: &kv::Store,
    request: GlobalRequest,
    alive: &impl Fn(u64) -> bool,
) -> Result<GlobalReply, String> {
    let store = |e: &dyn std::fmt::Display| format!("the cluster's name store: {e}");
    match request {
        GlobalRequest::Register { name, pid } => {
            let key = key(&name);
            let value = pid.to_le_bytes().to_vec();
            for _ in 0..TRIES {
                let entry = kv.entry(&key).await.map_err(|e| store(&e))?;
                let taken = match &entry {
                    None => kv.create(&key, value.clone().into()).await.is_ok(),
                    Some(e) => match holder(e) {
                        Some(h) if alive(h) => return Ok(GlobalReply::Taken),
                        // Free: deleted, or its holder is gone.
                        _ => kv
                            .update(&key, value.clone().into(), e.revision)
                            .await
                            .is_ok(),
                    },
                };
                if taken {
                    return Ok(GlobalReply::Done);
                }
            }
            // Another node won each time.
            Ok(GlobalReply::Taken)
        }
        GlobalRequest::Lookup { name } => {
            let entry = kv.entry(key(&name)).await.map_err(|e| store(&e))?;
            let held = entry.as_ref().and_then(holder).filter(|&h| alive(h));
            Ok(GlobalReply::Holder(held))
        }
        GlobalRequest::Unregister { name } => {
            let key = key(&name);
            for _ in 0..TRIES {
                let Some(entry) = kv.entry(&key).await.map_err(|e| store(&e))? else {
                    return Ok(GlobalReply::Removed(false));
                };
                let Some(h) = holder(&entry) else {
                    return Ok(GlobalReply::Removed(false));
                };
                if kv
                    .delete_expect_revision(&key, Some(entry.revision))
                    .await
                    .is_ok()
                {
                    return Ok(GlobalReply::Removed(alive(h)));
                }
            }
            Err(store(&"the name kept changing under this node"))
        }
        GlobalRequest::Release { name, pid } => {
            let key = key(&name);
            // Tried again a few times: a name left naming a dead process
            // on a node that is up stays taken until that node goes.
            let mut last = String::new();
            for _ in 0..3 {
                match kv.entry(&key).await {
                    Ok(entry) => {
                        let Some(e) = entry.filter(|e| holder(e) == Some(pid)) else {
                            return Ok(GlobalReply::Done);
                        };
                        // Lost to another node's compare-and-set: then it
                        // is theirs, and the next read says so.
                        if kv
                            .delete_expect_revision(&key, Some(e.revision))
                            .await
                            .is_ok()
                        {
                            return Ok(GlobalReply::Done);
                        }
                    }
                    Err(e) => last = store(&e),
                }
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            tracing::warn!("global name `{name}` of process {pid} not released: {last}");
            Ok(GlobalReply::Done)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::key;

    #[test]
    fn keys_are_hex_so_any_name_is_a_valid_key() {
        assert_eq!(key(""), "n");
        assert_eq!(key("a.b *>"), "n612e62202a3e");
        assert_eq!(key("é"), "nc3a9");
    }
}
