//! Request/reply: a message that carries where and how to answer it.
//!
//! [`Process::request`] sends a [`Request`] and waits for the reply, matched
//! by a fresh tag so other messages stay queued, while monitoring the
//! server: if it ends first, the request fails with its exit reason; if it
//! drops the request without replying, at once with
//! [`RequestError::NoReply`].
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
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::Duration;

/// The tags of "no reply" signals: a request's tag with this bit set. A
/// request dropped without a reply sends one, so its caller fails at once
/// instead of waiting. (The VM's fresh tags count up from 2^63, so they
/// never have it.)
pub const NO_REPLY_BIT: u64 = 1 << 62;

/// Where and how to answer a request: its requester and tag. Answer with
/// [`ReplyTo::reply`]; dropped unanswered, it tells the requester, whose
/// call then fails with [`RequestError::NoReply`] at once. It can be sent
/// to another process, which answers from there (sending it hands the duty
/// over).
pub struct ReplyTo<R> {
    from: u64,
    tag: u64,
    /// Whether dropping it still owes the requester a word (atomic only so
    /// that it is `Sync`; a process has one thread).
    owed: AtomicBool,
    _reply: PhantomData<fn() -> R>,
}

impl<R> std::fmt::Debug for ReplyTo<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplyTo")
            .field("from", &self.from)
            .field("tag", &self.tag)
            .finish()
    }
}

impl<R> ReplyTo<R> {
    fn new(from: u64, tag: u64, owed: bool) -> Self {
        ReplyTo {
            from,
            tag,
            owed: AtomicBool::new(owed),
            _reply: PhantomData,
        }
    }

    /// The requesting process's id.
    pub fn from(&self) -> u64 {
        self.from
    }
}

impl<R: Serialize> ReplyTo<R> {
    /// Answers the request. The reply may hold resources (a stream, say),
    /// which move to the requester.
    ///
    /// # Panics
    /// If `reply`'s `Serialize` implementation fails.
    pub fn reply(self, reply: R) {
        self.owed.store(false, Relaxed);
        Process::<R>::from_id(self.from).send_tagged(reply, self.tag);
    }
}

impl<R> Drop for ReplyTo<R> {
    fn drop(&mut self) {
        if self.owed.load(Relaxed) {
            Process::<()>::from_id(self.from).send_tagged((), self.tag | NO_REPLY_BIT);
        }
    }
}

impl<R> Serialize for ReplyTo<R> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // Sent on: the process that receives it owes the reply now.
        self.owed.store(false, Relaxed);
        (self.from, self.tag).serialize(s)
    }
}

impl<'de, R> Deserialize<'de> for ReplyTo<R> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let (from, tag) = <(u64, u64)>::deserialize(d)?;
        Ok(ReplyTo::new(from, tag, true))
    }
}

/// A request with body `Q`, answered with `R`. On the wire it is postcard
/// `(from: u64, tag: u64, body)`, as every SDK's request.
#[derive(Debug)]
pub struct Request<Q, R> {
    reply_to: ReplyTo<R>,
    body: Q,
}

impl<Q: Serialize, R> Serialize for Request<Q, R> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.reply_to.owed.store(false, Relaxed);
        (self.reply_to.from, self.reply_to.tag, &self.body).serialize(s)
    }
}

impl<'de, Q: Deserialize<'de>, R> Deserialize<'de> for Request<Q, R> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let (from, tag, body) = <(u64, u64, Q)>::deserialize(d)?;
        Ok(Request {
            reply_to: ReplyTo::new(from, tag, true),
            body,
        })
    }
}

impl<Q, R: Serialize> Request<Q, R> {
    /// The request's body.
    pub fn body(&self) -> &Q {
        &self.body
    }

    /// The requesting process's id.
    pub fn from(&self) -> u64 {
        self.reply_to.from
    }

    /// The body, owned, and where to answer: for a handler that takes the
    /// body apart rather than cloning it.
    pub fn into_parts(self) -> (Q, ReplyTo<R>) {
        (self.body, self.reply_to)
    }

    /// Answers the request. The reply may hold resources (a stream, say),
    /// which move to the requester. A request dropped without a reply tells
    /// its requester so ([`RequestError::NoReply`]).
    ///
    /// # Panics
    /// If `reply`'s `Serialize` implementation fails.
    pub fn reply(self, reply: R) {
        self.reply_to.reply(reply)
    }
}

/// Why a request got no reply.
#[derive(Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RequestError {
    /// No reply arrived before the timeout.
    Timeout,
    /// The server dropped the request without replying.
    NoReply,
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
            RequestError::NoReply => f.write_str("the server dropped the request without replying"),
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
            reply_to: ReplyTo::new(self_id(), tag, false),
            body,
        });
        await_reply(monitor, tag, timeout)
    }
}

impl<M: Serialize> Process<M> {
    /// A typed call (as `ractor`'s RPC ports): `make` builds the message
    /// around a [`ReplyTo<R>`], which the receiver answers (or drops, which
    /// fails the call at once), so each kind of message carries its own
    /// reply type and no handler or caller matches replies it cannot get:
    ///
    /// ```no_run
    /// use serde::{Deserialize, Serialize};
    /// use vm_sdk::request::ReplyTo;
    /// use vm_sdk::{spawn, Mailbox};
    ///
    /// #[derive(Serialize, Deserialize)]
    /// enum Kv {
    ///     Get(String, ReplyTo<Option<String>>),
    ///     Count(ReplyTo<u64>),
    /// }
    ///
    /// let kv = spawn((), |(), m: Mailbox<Kv>| {
    ///     while let Ok(message) = m.receive() {
    ///         match message {
    ///             Kv::Get(_key, reply) => reply.reply(None),
    ///             Kv::Count(reply) => reply.reply(0),
    ///         }
    ///     }
    /// });
    /// let n: u64 = kv.ask(Kv::Count, None).unwrap();
    /// let v: Option<String> = kv.ask(|r| Kv::Get("k".into(), r), None).unwrap();
    /// ```
    ///
    /// Waits at most `timeout` (`None`: until the reply, a drop or the
    /// receiver's end), monitoring the receiver meanwhile.
    ///
    /// # Errors
    /// As [`Process::request`], and [`RequestError::Timeout`].
    pub fn ask<R: DeserializeOwned>(
        &self,
        make: impl FnOnce(ReplyTo<R>) -> M,
        timeout: Option<Duration>,
    ) -> Result<R, RequestError> {
        self.ask_tagged(make, 0, timeout)
    }

    /// [`Process::ask`], sending the message with `tag`.
    pub(crate) fn ask_tagged<R: DeserializeOwned>(
        &self,
        make: impl FnOnce(ReplyTo<R>) -> M,
        message_tag: u64,
        timeout: Option<Duration>,
    ) -> Result<R, RequestError> {
        let monitor = self.monitor();
        let tag = crate::mailbox::fresh_tag();
        self.send_tagged(make(ReplyTo::new(self_id(), tag, false)), message_tag);
        await_reply(monitor, tag, timeout)
    }
}

/// Forgets the reply tagged `tag` and its "no reply" signal, for a request
/// that gave up waiting (OTP drops such a late reply with its alias): one
/// that comes later is dropped by the VM, not taken for another message.
fn forget_reply(tag: u64) {
    for forgotten in [tag, tag | NO_REPLY_BIT] {
        // SAFETY: a plain value and a valid return area. A refusal (this
        // process's budget is spent) leaves a late reply to be received as
        // any stray message is.
        let _ = crate::call(|ret| unsafe { crate::abi::mailbox::forget_tag(forgotten, ret) });
    }
}

/// Waits for the reply tagged `tag`, its "no reply" signal, or the down of
/// `monitor`.
fn await_reply<R: DeserializeOwned>(
    monitor: crate::process::Monitor,
    tag: u64,
    timeout: Option<Duration>,
) -> Result<R, RequestError> {
    // The reply's tag and the monitor's reference come from one sequence
    // in the VM, so the two cannot be confused; a "no reply" signal
    // carries the tag with NO_REPLY_BIT.
    let kinds = message_kinds::DATA | message_kinds::DOWN;
    let answer = receive_with(
        &[tag, tag | NO_REPLY_BIT, monitor.reference()],
        kinds,
        timeout,
        |envelope, bytes| {
            if MessageKind::from_raw(envelope.kind) == Some(MessageKind::Down) {
                return Err(RequestError::Down(exit_reason(bytes)));
            }
            if envelope.tag == tag | NO_REPLY_BIT {
                return Err(RequestError::NoReply);
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
                Err(ReceiveError::Timeout) => {
                    forget_reply(tag);
                    Err(RequestError::Timeout)
                }
                Err(ReceiveError::Decode(e)) => Err(RequestError::Decode(e)),
            }
        }
    }
}
