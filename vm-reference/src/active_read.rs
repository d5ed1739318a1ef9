//! Active read halves (Erlang's `{active, N}`, ABI 1.5): a read half whose
//! next reads arrive as messages to its owner instead of through `read`,
//! so a process can wait for its socket and its other messages at once,
//! and hibernate while it waits.
//!
//! A reader task holds the half while it is active and sends each read as
//! a data message with the owner's tag; its body is postcard's encoding of
//! the SDKs' socket event: `0, varint n, n bytes` for data, `1` for the
//! peer's end, `2, varint n, n bytes of text` for an error. After `count`
//! data messages, the end or an error, the task gives the half back and
//! the handle reads again as a plain read half (see [`settle`]).
//!
//! Each message is charged as a guest's is, so the VM's bound holds (a
//! message it refuses waits, the socket unread behind it); a `count` of
//! more than one has no flow control beyond the owner's mailbox bound,
//! past which the owner ends, so active once is the way to read a peer
//! that may send fast.

use crate::handle::{Resource, Timeouts};
use crate::mailbox::{Message, Payload};
use crate::node::Node;
use std::sync::{Arc, Mutex};
use tokio::net::tcp::OwnedReadHalf;
use tokio::sync::oneshot;
use vm_abi::MessageKind;

/// The most bytes one message carries.
pub(crate) const CHUNK: usize = 64 << 10;

/// A read half whose reads arrive as messages.
#[derive(Debug)]
pub(crate) struct ActiveRead {
    /// Dropped or fired, it stops the reader, which then gives the half
    /// back through `back`.
    stop: Option<oneshot::Sender<()>>,
    /// Where the reader puts the half when it stops.
    back: Arc<Mutex<Option<OwnedReadHalf>>>,
    /// Fires when the half is back.
    done: Option<oneshot::Receiver<()>>,
}

impl ActiveRead {
    /// Starts reading `half` for process `owner`: at most `count` reads,
    /// each a message tagged `tag`.
    pub fn start(node: Arc<Node>, owner: u64, tag: u64, count: u32, half: OwnedReadHalf) -> Self {
        let (stop, stopped) = oneshot::channel();
        let (finished, done) = oneshot::channel();
        let back = Arc::new(Mutex::new(None));
        let slot = back.clone();
        tokio::spawn(async move {
            let half = read(&node, owner, tag, count, half, stopped).await;
            *crate::sync::lock(&slot) = Some(half);
            let _ = finished.send(());
        });
        ActiveRead {
            stop: Some(stop),
            back,
            done: Some(done),
        }
    }

    /// The half, if the reader has given it back.
    fn take_back(&mut self) -> Option<OwnedReadHalf> {
        crate::sync::lock(&self.back).take()
    }

    /// Stops the reader and waits for the half (a read that completes
    /// meanwhile is delivered first; none is lost).
    pub async fn stop(mut self) -> Option<OwnedReadHalf> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(done) = self.done.take() {
            let _ = done.await;
        }
        self.take_back()
    }
}

/// Reads `half` for `owner` until `count` reads, the end, an error, or a
/// stop; gives the half back.
async fn read(
    node: &Node,
    owner: u64,
    tag: u64,
    mut count: u32,
    half: OwnedReadHalf,
    mut stopped: oneshot::Receiver<()>,
) -> OwnedReadHalf {
    while count > 0 {
        // Waits for the socket without a buffer, so an idle connection
        // holds none: one is made for each read, and goes with its message.
        let ready = tokio::select! {
            biased;
            _ = &mut stopped => break,
            r = half.readable() => r,
        };
        let mut buf = Vec::new();
        let read = match ready {
            Ok(()) => {
                buf.reserve_exact(CHUNK);
                match half.try_read_buf(&mut buf) {
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                    other => other,
                }
            }
            Err(e) => Err(e),
        };
        let (event, last) = match read {
            Ok(0) => (vec![1u8], true),
            Ok(n) => {
                let mut e = Vec::with_capacity(n + 4);
                e.push(0u8);
                varint(&mut e, n as u64);
                e.extend_from_slice(&buf[..n]);
                (e, false)
            }
            Err(error) => {
                let text = error.to_string();
                let mut e = vec![2u8];
                varint(&mut e, text.len() as u64);
                e.extend_from_slice(text.as_bytes());
                (e, true)
            }
        };
        drop(buf);
        // Charged as a guest's message is: within the VM's bound. Refused
        // there, it waits (holding this one read, the socket unread behind
        // it) until a charge is given back and tries again, so a peer that
        // sends fast cannot take the VM past --max-host-memory; the owner's
        // own mailbox bound ends the owner, as any message past it does.
        let mut message = Message::new(
            MessageKind::Data,
            0,
            tag,
            Payload::from_vec(event),
            Vec::new(),
        );
        loop {
            match node.send_from_guest(owner, message) {
                Ok(()) => break,
                Err(refused) => message = refused.message,
            }
            // Refused: tries again once a charge is given back.
            let released = node.host().released();
            match node.send_from_guest(owner, message) {
                Ok(()) => break,
                Err(refused) => message = refused.message,
            }
            tokio::select! {
                biased;
                _ = &mut stopped => return half,
                () = released.wait() => {}
            }
        }
        count -= 1;
        if last {
            break;
        }
    }
    half
}

/// Appends `n` as a postcard varint.
fn varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// Makes an active read half whose reader has finished a plain read half
/// again; any other resource stays as it is. Whether it is (still) active.
pub(crate) fn settle(r: &mut Resource) -> bool {
    let Resource::ActiveRead(active, timeouts) = r else {
        return false;
    };
    match active.take_back() {
        Some(half) => {
            let timeouts: Timeouts = *timeouts;
            *r = Resource::ReadHalf(half, timeouts);
            false
        }
        None => true,
    }
}
