//! The NATS permissions that keep a node to its own subjects: it
//! publishes frames, heartbeats and spawn asks only as itself, hears only
//! what is sent to it, and cannot change or remove a slot's claim.

/// The `permissions` block of a NATS server's configuration for the user
/// a node named `name` logs in as, in a cluster whose subjects start with
/// `prefix` (`vm` by default). `vm nats-permissions NAME` prints it.
///
/// What it does not bound: every node may claim a free slot, store
/// modules, and take, change or free any global name (the book of names
/// is shared by the cluster's nodes), and may create (but not delete,
/// change or purge) the cluster's streams.
pub fn nats_permissions(prefix: &str, name: &str) -> String {
    let p = prefix;
    let publish = [
        format!("{p}.node.*.*.{name}"),
        format!("{p}.heartbeat.{name}"),
        format!("{p}.spawn.*.*.{name}"),
        format!("{p}.probe.*.*"),
        format!("{p}.slot.*"),
        format!("$KV.{p}_nodes.>"),
        format!("$KV.{p}_global.>"),
        format!("$O.{p}_modules.>"),
        "$JS.API.>".to_owned(),
    ];
    let deny = [
        "$JS.API.STREAM.DELETE.>".to_owned(),
        "$JS.API.STREAM.UPDATE.>".to_owned(),
        format!("$JS.API.STREAM.PURGE.{p}_slots"),
        format!("$JS.API.STREAM.MSG.DELETE.{p}_slots"),
    ];
    let subscribe = [
        format!("{p}.node.{name}.>"),
        format!("{p}.heartbeat.*"),
        format!("{p}.spawn.{name}.>"),
        format!("{p}.probe.{name}.>"),
        format!("_INBOX_{name}.>"),
    ];
    let list = |l: &[String]| {
        l.iter()
            .map(|s| format!("\"{s}\""))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "permissions: {{\n  publish: {{\n    allow: [{}]\n    deny: [{}]\n  }}\n  subscribe: {{ allow: [{}] }}\n  allow_responses: true\n}}\n",
        list(&publish),
        list(&deny),
        list(&subscribe)
    )
}
