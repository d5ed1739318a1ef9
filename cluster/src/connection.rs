//! A NATS connection of its own, opened with the cluster's options (URL,
//! user, credentials, TLS, the node's inbox prefix), on a thread of its
//! own: what a VM's remote plugins are called through, apart from the
//! node's frames.

use crate::{Config, JoinError};

/// Runs `body` on a thread named `name`, in a tokio runtime of its own
/// (one thread); `failed` hears why if the runtime cannot start.
pub(crate) fn on_own_thread<F, Fut>(
    name: String,
    failed: impl FnOnce(JoinError) + Send + 'static,
    body: F,
) -> Result<std::thread::JoinHandle<()>, JoinError>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()>,
{
    std::thread::Builder::new()
        .name(name)
        .spawn(move || {
            match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime.block_on(body()),
                Err(e) => failed(JoinError::Io(e)),
            }
        })
        .map_err(JoinError::Io)
}

/// A connection to the cluster's NATS server; closed when dropped.
pub struct Connection {
    client: async_nats::Client,
    runtime: tokio::runtime::Handle,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Connection {
    /// Connects as `config` says, for `purpose` (named in the server's
    /// list of connections).
    pub fn open(config: &Config, purpose: &str) -> Result<Connection, JoinError> {
        if !crate::valid_name(&config.name) {
            return Err(JoinError::Name(config.name.clone()));
        }
        let config = config.clone();
        let purpose = purpose.to_owned();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let failed = ready_tx.clone();
        let thread = on_own_thread(
            format!("vm-nats-{purpose}"),
            move |e| {
                let _ = failed.send(Err(e));
            },
            move || async move {
                let (counted, _) = tokio::sync::watch::channel(0);
                let (refusals, _) = tokio::sync::watch::channel(None);
                let connected =
                    crate::transport::connect(&config, counted, refusals, &purpose).await;
                let client = match connected {
                    Ok(c) => c,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                let handle = tokio::runtime::Handle::current();
                if ready_tx.send(Ok((client.clone(), handle))).is_err() {
                    return;
                }
                let _ = stopped.await;
                // What was handed to this runtime to send as things
                // were dropped (a caller's `ended`) goes out first.
                for _ in 0..8 {
                    tokio::task::yield_now().await;
                }
                let _ = client.flush().await;
            },
        )?;
        match ready_rx.recv() {
            Ok(Ok((client, runtime))) => Ok(Connection {
                client,
                runtime,
                stop: Some(stop),
                thread: Some(thread),
            }),
            Ok(Err(e)) => {
                let _ = thread.join();
                Err(e)
            }
            Err(_) => {
                let _ = thread.join();
                Err(JoinError::Connect("the connection's thread ended".into()))
            }
        }
    }

    /// The client: requests and publishes from any thread.
    pub fn client(&self) -> &async_nats::Client {
        &self.client
    }

    /// The runtime that drives the connection, for work that must outlive
    /// the caller (a notice sent as something is dropped).
    pub fn runtime(&self) -> &tokio::runtime::Handle {
        &self.runtime
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
