//! The JetStream streams a cluster keeps (slot claims, the slot counter,
//! global names, modules) must not pass what they store on: a stream that
//! republishes, or that mirrors or sources another, could put a message a
//! node stored on another node's subjects. A node that finds one of them
//! so made refuses to use it, and an operator must delete it.

use async_nats::jetstream;

/// Why creating the stream `name` failed: when it exists already with
/// another configuration than a node gives it (JetStream's error 10058),
/// someone else made it.
pub(crate) fn not_created(name: &str, e: impl std::fmt::Display) -> String {
    let e = e.to_string();
    if e.contains("10058") {
        format!("the stream {name} exists with another configuration than a node makes; it is not the cluster's, and an operator must delete it")
    } else {
        format!("the stream {name}: {e}")
    }
}

/// Checks that the stream `name` stores only `subjects` and passes
/// nothing on (a server answers a node that creates it so already, but
/// this does not rest on that).
pub(crate) async fn check(
    js: &jetstream::Context,
    name: &str,
    subjects: &[String],
) -> Result<jetstream::stream::Stream, String> {
    let mut stream = js
        .get_stream(name)
        .await
        .map_err(|e| format!("the stream {name}: {e}"))?;
    let info = stream
        .info()
        .await
        .map_err(|e| format!("the stream {name}: {e}"))?;
    let c = &info.config;
    let mut wrong = Vec::new();
    if c.subjects != subjects {
        wrong.push(format!("stores {:?}, not {subjects:?}", c.subjects));
    }
    if c.republish.is_some() {
        wrong.push("republishes what it stores".to_owned());
    }
    if c.mirror.is_some() || c.sources.as_ref().is_some_and(|s| !s.is_empty()) {
        wrong.push("mirrors or sources another stream".to_owned());
    }
    if !wrong.is_empty() {
        return Err(format!(
            "the stream {name} {}; it is not the cluster's, and an operator must delete it",
            wrong.join(", and ")
        ));
    }
    Ok(stream)
}
