//! Errors: a failed call into the VM ([`Error`]), a message that does not
//! decode as the expected type ([`DecodeError`]), and what a receive can
//! fail with ([`ReceiveError`]).

use crate::abi::{self, ErrorCode};
use std::fmt;

/// A call into the VM failed: the ABI's status code and the VM's explanation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    raw: u8,
    message: String,
}

impl Error {
    /// Builds the error for a raw code, fetching the VM's text for it.
    pub(crate) fn from_raw(raw: u8) -> Error {
        Error {
            raw,
            message: last_error(),
        }
    }

    /// An error found by the SDK before it called the VM.
    pub(crate) fn here(code: ErrorCode, message: &str) -> Error {
        Error {
            raw: code as u8,
            message: message.to_string(),
        }
    }

    /// The status code, if this SDK's ABI version knows it.
    pub fn code(&self) -> Option<ErrorCode> {
        ErrorCode::from_raw(self.raw)
    }

    /// The VM's explanation.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.code() {
            Some(code) => write!(f, "{}: {}", code.name(), self.message),
            None => write!(f, "error {}: {}", self.raw, self.message),
        }
    }
}

impl std::error::Error for Error {}

/// The text of this process's last failed call.
fn last_error() -> String {
    let mut buf = vec![0u8; 256];
    // SAFETY: the buffer is valid for writes of its length.
    let full =
        unsafe { abi::version::last_error(buf.as_mut_ptr() as u32, buf.len() as u32) } as usize;
    if full > buf.len() {
        buf.resize(full, 0);
        // SAFETY: as above, with the larger buffer.
        unsafe { abi::version::last_error(buf.as_mut_ptr() as u32, buf.len() as u32) };
    }
    buf.truncate(full);
    String::from_utf8_lossy(&buf).into_owned()
}

/// A message did not decode as the mailbox's type. Nothing is lost: the
/// raw bytes, tag and sender are kept, and so are the resources it carried
/// (owned by this process now, released when dropped).
#[derive(Debug, PartialEq, Eq)]
pub struct DecodeError {
    /// Why decoding failed; [`DecodeError::reason`] says it in words. (The
    /// codec's own error type stays private: the wire format is postcard's,
    /// the SDK's dependency on the crate is not part of its API.)
    pub(crate) error: postcard::Error,
    /// The message's bytes.
    pub bytes: Vec<u8>,
    /// The message's tag.
    pub tag: u64,
    /// The sending process.
    pub sender: u64,
    /// The resources the message carried that decoding did not take.
    pub resources: Vec<crate::mailbox::Resource>,
}

impl DecodeError {
    /// Why the bytes did not decode, in words.
    pub fn reason(&self) -> String {
        self.error.to_string()
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "a message from process {} (tag {}, {} bytes) does not decode as the expected type: {}",
            self.sender,
            self.tag,
            self.bytes.len(),
            self.error
        )
    }
}

impl std::error::Error for DecodeError {}

/// Why a receive returned no message.
#[derive(Debug, PartialEq, Eq)]
pub enum ReceiveError {
    /// No matching message arrived in time.
    Timeout,
    /// A message arrived but did not decode.
    Decode(DecodeError),
}

impl fmt::Display for ReceiveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReceiveError::Timeout => f.write_str("no matching message arrived before the timeout"),
            ReceiveError::Decode(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for ReceiveError {}

impl From<DecodeError> for ReceiveError {
    fn from(e: DecodeError) -> Self {
        ReceiveError::Decode(e)
    }
}

/// Why a start failed (a server's `init`, a supervisor's child), made from
/// any error or text, so `?` works on whatever the start calls
/// (`?` on an `io::Error`, `Err("no port".into())`); its words are kept.
/// (It is not itself an `Error`, so that every error converts into it.)
pub struct Failure(String);

impl<E: fmt::Display> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure(e.to_string())
    }
}

impl Failure {
    /// Why, in words.
    pub fn message(&self) -> &str {
        &self.0
    }

    /// Why, in words, owned.
    pub fn into_message(self) -> String {
        self.0
    }
}

impl fmt::Debug for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Failure({:?})", self.0)
    }
}
