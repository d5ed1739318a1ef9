//! Request/reply: a message that carries where and how to answer it.
//!
//! [`Process::request`] sends a [`Request`] and waits for the reply, matched
//! by a fresh tag so other messages stay queued, while monitoring the
//! server: if it ends first, the request fails with its exit reason.
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

use crate::abi::{message_kinds, MessageKind};
use crate::error::{DecodeError, ReceiveError};
use crate::exit::exit_reason;
use crate::mailbox::receive_with;
use crate::message::decode_received;
use crate::process::{self_id, ExitReason, Process};
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

    /// Answers the request. The reply may hold resources (a stream, say),
    /// which move to the requester.
    ///
    /// # Panics
    /// If `reply`'s `Serialize` implementation fails.
    pub fn reply(self, reply: R) {
        Process::<R>::from_id(self.from).send_tagged(reply, self.tag);
    }
}

/// Why a request got no reply.
#[derive(Debug, PartialEq, Eq)]
pub enum RequestError {
    /// No reply arrived before the timeout.
    Timeout,
    /// The reply did not decode as the reply type; its bytes are kept.
    Decode(DecodeError),
    /// The server ended before it replied, for this reason
    /// ([`ExitReason::NoProc`] if it had ended before the request was sent).
    Down(ExitReason),
}

impl std::fmt::Display for RequestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RequestError::Timeout => f.write_str("no reply arrived before the timeout"),
            RequestError::Decode(e) => write!(f, "the reply did not decode: {e}"),
            RequestError::Down(reason) => {
                write!(f, "the server ended before it replied: {reason:?}")
            }
        }
    }
}

impl std::error::Error for RequestError {}

impl<Q: Serialize, R: DeserializeOwned> Process<Request<Q, R>> {
    /// Sends `body` and waits for the reply, monitoring the server while it
    /// waits (as `gen_server:call` does), so a server that ends, or had
    /// ended, is an error rather than a wait forever.
    ///
    /// # Errors
    /// [`RequestError::Down`] if the server ends before it replies, or a
    /// reply that does not decode as `R`.
    pub fn request(&self, body: Q) -> Result<R, RequestError> {
        self.request_opt(body, None)
    }

    /// Sends `body` and waits at most `timeout` for the reply.
    ///
    /// # Errors
    /// [`RequestError::Timeout`], or as [`Process::request`].
    pub fn request_timeout(&self, body: Q, timeout: Duration) -> Result<R, RequestError> {
        self.request_opt(body, Some(timeout))
    }

    fn request_opt(&self, body: Q, timeout: Option<Duration>) -> Result<R, RequestError> {
        let monitor = self.monitor();
        let tag = crate::mailbox::fresh_tag();
        self.send(Request {
            from: self_id(),
            tag,
            body,
            _reply: PhantomData,
        });
        // The reply's tag and the monitor's reference come from one sequence
        // in the VM, so the two cannot be confused.
        let kinds = message_kinds::DATA | message_kinds::DOWN;
        let answer = receive_with(
            &[tag, monitor.reference()],
            kinds,
            timeout,
            |envelope, bytes| {
                if MessageKind::from_raw(envelope.kind) == Some(MessageKind::Down) {
                    return Err(RequestError::Down(exit_reason(bytes)));
                }
                decode_received(&envelope, bytes).map_err(RequestError::Decode)
            },
        );
        match answer {
            // The monitor fired: it is gone already.
            Ok(Err(down @ RequestError::Down(_))) => Err(down),
            other => {
                // Removes a down that arrived meanwhile, too.
                monitor.demonitor();
                match other {
                    Ok(reply) => reply,
                    Err(ReceiveError::Timeout) => Err(RequestError::Timeout),
                    Err(ReceiveError::Decode(e)) => Err(RequestError::Decode(e)),
                }
            }
        }
    }
}
