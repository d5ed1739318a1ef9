//! Request/reply: a message that carries where and how to answer it.
//!
//! [`Process::request`] sends a [`Request`] and waits for the reply, matched
//! by a fresh tag so other messages stay queued.
//!
//! ```no_run
//! use vm_sdk::request::Request;
//! use vm_sdk::{spawn, Mailbox};
//! let doubler = spawn((), |(), mailbox: Mailbox<Request<u32, u32>>| {
//!     while let Ok(req) = mailbox.receive() {
//!         let n = *req.body();
//!         req.reply(n * 2);
//!     }
//! });
//! assert_eq!(doubler.request(21).unwrap(), 42);
//! ```

use crate::error::ReceiveError;
use crate::mailbox::Mailbox;
use crate::process::{self_id, send_bytes, Process};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::marker::PhantomData;
use std::time::Duration;

/// A request with body `Q`, answered with `R`.
#[derive(Debug, Serialize, Deserialize)]
pub struct Request<Q, R> {
    from: u64,
    tag: u64,
    body: Q,
    #[serde(skip)]
    _reply: PhantomData<fn() -> R>,
}

impl<Q, R: Serialize> Request<Q, R> {
    /// The request's body.
    pub fn body(&self) -> &Q {
        &self.body
    }

    /// The requesting process's id.
    pub fn from(&self) -> u64 {
        self.from
    }

    /// Answers the request.
    ///
    /// # Panics
    /// If `reply`'s `Serialize` implementation fails.
    pub fn reply(self, reply: R) {
        let bytes = crate::message::encode(&reply);
        let _ = send_bytes(self.from, self.tag, &bytes);
    }
}

impl<Q: Serialize, R: DeserializeOwned> Process<Request<Q, R>> {
    /// Sends `body` and waits for the reply.
    ///
    /// # Errors
    /// A reply that does not decode as `R`.
    pub fn request(&self, body: Q) -> Result<R, ReceiveError> {
        self.request_opt(body, None)
    }

    /// Sends `body` and waits at most `timeout` for the reply.
    ///
    /// # Errors
    /// [`ReceiveError::Timeout`], or a reply that does not decode.
    pub fn request_timeout(&self, body: Q, timeout: Duration) -> Result<R, ReceiveError> {
        self.request_opt(body, Some(timeout))
    }

    fn request_opt(&self, body: Q, timeout: Option<Duration>) -> Result<R, ReceiveError> {
        let tag = crate::mailbox::fresh_tag();
        self.send(Request {
            from: self_id(),
            tag,
            body,
            _reply: PhantomData,
        });
        let (_, reply) = Mailbox::<R>::this().receive_tagged(&[tag], timeout)?;
        Ok(reply)
    }
}
