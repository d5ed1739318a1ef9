//! A NATS server for the cluster's tests: Debian's `nats-server` (which
//! `cargo xtask setup` installs), started on 127.0.0.1 with a port it picks
//! and JetStream in a directory of its own, stopped when dropped. A test
//! never uses a server it did not start, nor reaches past loopback.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use vm_reference::ClusterConfig;

/// A NATS server with JetStream on 127.0.0.1, stopped when dropped.
pub struct Nats {
    child: Child,
    store: std::path::PathBuf,
    /// Where it listens: `nats://127.0.0.1:PORT`.
    pub url: String,
    /// Its configuration file, if it has users.
    config: Option<std::path::PathBuf>,
    /// Flags it was started with besides the usual.
    flags: Vec<String>,
}

impl Nats {
    /// Starts one, with JetStream, on a port it picks.
    pub fn start() -> Nats {
        Nats::start_with(&[])
    }

    /// [`Nats::start`] with `flags` besides (TLS's, for example).
    pub fn start_with(flags: &[&str]) -> Nats {
        let flags: Vec<String> = flags.iter().map(|f| f.to_string()).collect();
        let store = std::env::temp_dir().join(format!(
            "vm-cluster-test-{}-{}",
            std::process::id(),
            rand_suffix()
        ));
        std::fs::create_dir_all(&store).unwrap();
        let (child, url) = spawn(&store, "-1", None, &flags);
        Nats {
            child,
            store,
            url,
            config: None,
            flags,
        }
    }

    /// Starts one whose only users are nodes, one per name in `names`,
    /// each held to its own subjects by [`vm_cluster::nats_permissions`];
    /// a node logs in with [`Nats::url_as`].
    pub fn with_nodes(names: &[&str]) -> Nats {
        let mut nats = Nats::start();
        let users: String = names
            .iter()
            .map(|name| {
                let permissions = vm_cluster::nats_permissions("vm", name);
                format!(
                    "    {{ user: \"{name}\", password: \"{}\", {permissions} }}\n",
                    password(name)
                )
            })
            .collect();
        let config = nats.store.join("nats.conf");
        std::fs::write(
            &config,
            format!("authorization {{\n  users = [\n{users}  ]\n}}\n"),
        )
        .unwrap();
        nats.config = Some(config);
        nats.restart();
        nats
    }

    /// The URL a node named `name` joins by: with its user and password
    /// when the server has users.
    pub fn url_as(&self, name: &str) -> String {
        match self.config {
            Some(_) => {
                self.url
                    .replacen("nats://", &format!("nats://{name}:{}@", password(name)), 1)
            }
            None => self.url.clone(),
        }
    }

    /// Stops the server and starts it again on the same port, with the
    /// same JetStream store, as an operator restarting it would.
    pub fn restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let port = self.url.rsplit(':').next().unwrap().to_owned();
        let (child, url) = spawn(&self.store, &port, self.config.as_deref(), &self.flags);
        assert_eq!(url, self.url);
        self.child = child;
    }

    /// Joining it as `name`, with a heartbeat every 200 ms and a verdict
    /// after five missed (a loaded test machine can hold up a node's
    /// thread for a few hundred milliseconds).
    pub fn config(&self, name: &str) -> ClusterConfig {
        let mut c = ClusterConfig::new(self.url_as(name), name);
        c.heartbeat = Duration::from_millis(200);
        c.misses = 5;
        c.grace = Duration::from_secs(3);
        c
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.store);
    }
}

/// Starts `nats-server` on 127.0.0.1 at `port` ("-1": one it picks),
/// with JetStream in `store`; the server and its URL, once it is ready.
fn spawn(
    store: &std::path::Path,
    port: &str,
    config: Option<&std::path::Path>,
    flags: &[String],
) -> (Child, String) {
    let server = ["/usr/sbin/nats-server", "nats-server"]
        .into_iter()
        .find(|p| Command::new(p).arg("--version").output().is_ok())
        .expect("nats-server is installed (cargo xtask setup installs it)");
    let mut command = Command::new(server);
    if let Some(config) = config {
        command.arg("-c").arg(config);
    }
    let mut child = command
        .args(["-a", "127.0.0.1", "-p", port, "-js", "-sd"])
        .arg(store)
        .args(flags)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // It says where it listens, then that it is ready.
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut url = None;
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(at) = line.split("Listening for client connections on ").nth(1) {
            url = Some(format!("nats://{}", at.trim()));
        }
        if line.contains("Server is ready") {
            break;
        }
    }
    // Keep reading, so the server never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    (child, url.expect("nats-server said where it listens"))
}

/// The password of the user node `name` logs in as.
fn password(name: &str) -> String {
    format!("{name}-secret")
}

/// A name no other server of this test run has.
fn rand_suffix() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(0);
    h.finish()
}

/// The JavaScript kv server (`examples/plugins/kv-js/server.mjs`, written
/// from the wire format alone) serving on `nats`, stopped when dropped.
pub struct KvJsServer {
    child: Child,
}

impl KvJsServer {
    /// Starts it, once it says it serves.
    pub fn start(nats: &Nats) -> KvJsServer {
        // Building the guests runs the set-up, which installs its client.
        crate::guests_built();
        let mut child = Command::new("node")
            .arg(crate::root().join("examples/plugins/kv-js/server.mjs"))
            .arg(&nats.url)
            .stdout(Stdio::piped())
            .spawn()
            .expect("node runs (Node.js is installed with npm)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(line.starts_with("serving plugin:kv@1"), "{line}");
        KvJsServer { child }
    }
}

impl Drop for KvJsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
