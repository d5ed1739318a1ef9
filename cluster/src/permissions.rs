//! The NATS permissions that keep a node to its own subjects: it
//! publishes frames, heartbeats and spawn asks only as itself, hears only
//! what is sent to it, and cannot change or remove a slot's claim.

/// The `permissions` block of a NATS server's configuration for the user
/// a node named `name` logs in as, in a cluster whose subjects start with
/// `prefix` (`vm` by default). `vm nats-permissions NAME` prints it.
///
/// What it does not bound: every node may claim a free slot, store and
/// remove modules, take, change or free any global name (the book of
/// names is shared by the cluster's nodes), and create the cluster's
/// streams (a node refuses one made to pass on what it stores).
pub fn nats_permissions(prefix: &str, name: &str) -> String {
    let p = prefix;
    let mut publish = vec![
        format!("{p}.node.*.*.{name}"),
        format!("{p}.heartbeat.{name}"),
        format!("{p}.spawn.*.*.{name}"),
        format!("{p}.probe.*.*"),
        format!("{p}.slot.*"),
        // Remote plugins: asking for one's WIT, calling it, telling its
        // servers a caller ended.
        format!("{p}.plugin.*.*.wit"),
        format!("{p}.plugin.*.*.*.call"),
        format!("{p}.plugin.*.*.server.*"),
        format!("{p}.plugin.*.*.ended"),
        format!("$KV.{p}_nodes.>"),
        format!("$KV.{p}_global.>"),
        format!("$O.{p}_modules.>"),
        "$JS.API.INFO".to_owned(),
    ];
    // Of the JetStream API, only what the cluster's own streams need:
    // never a stream of another name (one could republish what a node
    // stores onto another node's subjects), nor deleting, changing or
    // purging one (but for the module store's objects).
    let streams = [
        format!("{p}_slots"),
        format!("KV_{p}_nodes"),
        format!("KV_{p}_global"),
        format!("OBJ_{p}_modules"),
    ];
    for s in &streams {
        publish.extend([
            format!("$JS.API.STREAM.CREATE.{s}"),
            format!("$JS.API.STREAM.INFO.{s}"),
            format!("$JS.API.STREAM.MSG.GET.{s}"),
            format!("$JS.API.DIRECT.GET.{s}"),
            format!("$JS.API.DIRECT.GET.{s}.>"),
        ]);
    }
    let modules = &streams[3];
    publish.extend([
        format!("$JS.API.STREAM.PURGE.{modules}"),
        format!("$JS.API.CONSUMER.CREATE.{modules}"),
        format!("$JS.API.CONSUMER.CREATE.{modules}.>"),
        format!("$JS.API.CONSUMER.DELETE.{modules}.>"),
        format!("$JS.API.CONSUMER.INFO.{modules}.>"),
        format!("$JS.FC.{modules}.>"),
    ]);
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
        "permissions: {{\n  publish: {{ allow: [{}] }}\n  subscribe: {{ allow: [{}] }}\n  allow_responses: true\n}}\n",
        list(&publish),
        list(&subscribe)
    )
}
