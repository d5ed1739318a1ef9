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

/// The claims, and those already read.
pub(crate) struct Bindings {
    stream: stream::Stream,
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
            allow_direct: true,
            ..Default::default()
        };
        let mut stream = js
            .create_stream(config)
            .await
            .map_err(|e| format!("the stream {name}: {e}"))?;
        let info = stream
            .info()
            .await
            .map_err(|e| format!("the stream {name}: {e}"))?;
        let c = &info.config;
        if c.max_messages_per_subject != 1
            || c.discard != stream::DiscardPolicy::New
            || !c.discard_new_per_subject
            || c.subjects != [format!("{prefix}.slot.*")]
        {
            return Err(format!(
                "the stream {name} lets a node's claim on its slot change; an operator must delete it"
            ));
        }
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
        use stream::DirectGetErrorKind;
        match self
            .stream
            .direct_get_last_for_subject(self.subject(slot))
            .await
        {
            Ok(m) => {
                // A claim that is no name (a hostile client's) holds the
                // slot all the same, for no node.
                let name = String::from_utf8_lossy(&m.payload).into_owned();
                // A claim never changes: read once.
                lock(&self.known).insert(slot, name.clone());
                Ok(Some(name))
            }
            Err(e) if matches!(e.kind(), DirectGetErrorKind::NotFound) => Ok(None),
            Err(e) => Err(format!("reading slot {slot}'s claim: {e}")),
        }
    }
}
