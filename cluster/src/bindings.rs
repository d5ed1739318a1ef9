//! Which node holds which slot: the first claim wins, and no one can
//! change it after.
//!
//! A node's name is in the subjects it publishes on, so NATS permissions
//! can keep a node from publishing as another (`vm.node.*.*.NAME`); its
//! frames carry its slot. The binding of the two is a message on
//! `PREFIX.slot.SLOT` in the JetStream stream `PREFIX_slots`, which keeps
//! one message per subject and refuses a second (discard new, per
//! subject): once a node has claimed a slot, no other can claim it or
//! overwrite the claim. A frame whose slot is bound to another name than
//! the one its subject names is refused.

use async_nats::jetstream::{self, stream};
use std::collections::HashMap;
use std::sync::Mutex;
use vm_kernel::sync::lock;

/// The longest node name: one subject token of letters, digits, `-` and
/// `_`.
pub const MAX_NAME: usize = 64;

/// Whether `name` can name a node: 1 to [`MAX_NAME`] bytes of ASCII
/// letters, digits, `-` and `_` (a name is one token of the subjects the
/// node publishes on).
pub fn valid_name(name: &str) -> bool {
    (1..=MAX_NAME).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// How long a node waits for JetStream to read or take a claim.
const LOOKUP_WITHIN: std::time::Duration = std::time::Duration::from_secs(1);

/// The claims, and those already read.
pub(crate) struct Bindings {
    stream: stream::Stream<()>,
    js: jetstream::Context,
    prefix: String,
    known: Mutex<HashMap<u16, String>>,
}

impl Bindings {
    /// Opens the stream of claims, creating it if no node has. A stream
    /// of that name that would let a claim change is refused: it could
    /// not be trusted.
    pub async fn open(client: &async_nats::Client, prefix: &str) -> Result<Bindings, String> {
        let js = jetstream::new(client.clone());
        let name = format!("{prefix}_slots");
        let config = stream::Config {
            name: name.clone(),
            subjects: vec![format!("{prefix}.slot.*")],
            max_messages_per_subject: 1,
            discard: stream::DiscardPolicy::New,
            discard_new_per_subject: true,
            ..Default::default()
        };
        js.create_stream(config)
            .await
            .map_err(|e| crate::streams::not_created(&name, e))?;
        let mut checked = crate::streams::check(&js, &name, &[format!("{prefix}.slot.*")]).await?;
        let info = checked
            .info()
            .await
            .map_err(|e| format!("the stream {name}: {e}"))?;
        let c = &info.config;
        if c.max_messages_per_subject != 1
            || c.discard != stream::DiscardPolicy::New
            || !c.discard_new_per_subject
            || c.max_age != std::time::Duration::ZERO
            || c.max_messages >= 0
            || c.max_bytes >= 0
        {
            return Err(format!(
                "the stream {name} lets a node's claim on its slot change or expire; an operator must delete it"
            ));
        }
        // A claim is read in the loops that receive and publish frames: a
        // server that does not answer holds them up this long at most (and
        // the frame is lost, which is a verdict).
        let mut quick = jetstream::new(client.clone());
        quick.set_timeout(LOOKUP_WITHIN);
        let stream = quick
            .get_stream_no_info(&name)
            .await
            .map_err(|e| format!("the stream {name}: {e}"))?;
        Ok(Bindings {
            stream,
            js,
            prefix: prefix.to_owned(),
            known: Mutex::default(),
        })
    }

    fn subject(&self, slot: u16) -> String {
        format!("{}.slot.{slot}", self.prefix)
    }

    /// Claims `slot` for `name`: `false` if another name has it.
    pub async fn claim(&self, slot: u16, name: &str) -> Result<bool, String> {
        let published = async {
            self.js
                .publish(self.subject(slot), name.to_owned().into())
                .await?
                .await
        };
        if published.await.is_err() {
            // Refused because it is taken, or stored with the answer
            // lost: the claim says which.
            return match self.read(slot).await? {
                Some(holder) => Ok(holder == name),
                None => Err(format!("slot {slot} could not be claimed")),
            };
        }
        lock(&self.known).insert(slot, name.to_owned());
        Ok(true)
    }

    /// The name that holds `slot`; `None` if no node has claimed it.
    pub async fn name_of(&self, slot: u16) -> Result<Option<String>, String> {
        if let Some(name) = lock(&self.known).get(&slot) {
            return Ok(Some(name.clone()));
        }
        self.read(slot).await
    }

    /// The name that holds `slot`, if it is known here already.
    pub fn known(&self, slot: u16) -> Option<String> {
        lock(&self.known).get(&slot).cloned()
    }

    /// Whether `slot` is held by `name`.
    pub async fn holds(&self, name: &str, slot: u16) -> Result<bool, String> {
        Ok(self.name_of(slot).await?.as_deref() == Some(name))
    }

    async fn read(&self, slot: u16) -> Result<Option<String>, String> {
        use stream::LastRawMessageErrorKind;
        // From the stream's leader, not a replica that may lag behind.
        let subject = self.subject(slot);
        match self.stream.get_last_raw_message_by_subject(&subject).await {
            Ok(m) => {
                // A claim that is no name (a hostile client's) holds the
                // slot all the same, for no node: as the empty name, which
                // no subject ends with.
                let name = std::str::from_utf8(&m.payload)
                    .ok()
                    .filter(|n| valid_name(n))
                    .unwrap_or_default()
                    .to_owned();
                // A claim never changes: read once.
                lock(&self.known).insert(slot, name.clone());
                Ok(Some(name))
            }
            Err(e) if matches!(e.kind(), LastRawMessageErrorKind::NoMessageFound) => Ok(None),
            Err(e) => Err(format!("reading slot {slot}'s claim: {e}")),
        }
    }
}
