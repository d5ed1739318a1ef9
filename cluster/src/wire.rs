//! What nodes say to each other over NATS: [`Frame`]s, encoded with
//! postcard. A frame that does not decode, or decodes to a signal the
//! kernel could not hold (an unknown message kind or exit reason), is
//! refused whole.

use serde::{Deserialize, Serialize};
use vm_abi::MessageKind;
use vm_kernel::remote::Signal;
use vm_kernel::ExitReason;

/// One thing a node says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Frame {
    /// "I am alive": sent to every node each heartbeat interval.
    Heartbeat {
        /// The sender's slot.
        node: u16,
        /// The name it joined with.
        name: String,
        /// The plugins it offers its processes.
        plugins: Vec<Announced>,
    },
    /// A signal between two processes, the `seq`th the sender sent to
    /// this node in session `session` (counting from 0).
    Signal {
        /// The sender's slot.
        node: u16,
        /// The session between the two nodes it belongs to.
        session: u64,
        /// Its place in the session.
        seq: u64,
        /// The signal.
        signal: WireSignal,
    },
    /// "I declared you down": the receiver treats the sender as down too,
    /// and the two talk in session `session` from now on.
    Disconnect {
        /// The sender's slot.
        node: u16,
        /// The new session.
        session: u64,
    },
    /// "I am leaving": the sender's processes are gone for good.
    Bye {
        /// The sender's slot.
        node: u16,
    },
    /// "I sent you `count` signals in session `session`", each heartbeat,
    /// behind them on the same subject: a signal lost on the way is found
    /// even when no other follows it.
    Sent {
        /// The sender's slot.
        node: u16,
        /// The session counted.
        session: u64,
        /// How many signals the sender sent in it.
        count: u64,
    },
}

/// A plugin a node offers its processes, as its heartbeat says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Announced {
    /// Its name (`kv` for `plugin:kv@1.2.0`).
    pub name: String,
    /// Its version.
    pub version: (u32, u32, u32),
    /// Whether it is native code, running outside the sandbox.
    pub native: bool,
}

impl std::fmt::Display for Announced {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (a, b, c) = self.version;
        write!(f, "{}@{a}.{b}.{c}", self.name)?;
        if self.native {
            f.write_str(" (native)")?;
        }
        Ok(())
    }
}

impl Frame {
    /// The node that says it sent the frame.
    pub fn node(&self) -> u16 {
        match *self {
            Frame::Heartbeat { node, .. }
            | Frame::Signal { node, .. }
            | Frame::Disconnect { node, .. }
            | Frame::Bye { node }
            | Frame::Sent { node, .. } => node,
        }
    }
}

/// A [`Signal`] as it travels: kinds and reasons as the ABI's numbers.
// Each field is the kernel's `Signal`'s of the same name.
#[allow(missing_docs)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum WireSignal {
    /// [`Signal::Message`].
    Message {
        from: u64,
        to: u64,
        kind: u8,
        tag: u64,
        data: Vec<u8>,
    },
    /// [`Signal::Link`].
    Link { from: u64, to: u64 },
    /// [`Signal::Unlink`].
    Unlink { from: u64, to: u64 },
    /// [`Signal::Exit`], the reason in the ABI's encoding.
    Exit {
        from: u64,
        to: u64,
        reason: Vec<u8>,
        linked: bool,
    },
    /// [`Signal::Kill`].
    Kill { from: u64, to: u64 },
    /// [`Signal::Monitor`].
    Monitor {
        watcher: u64,
        target: u64,
        reference: u64,
    },
    /// [`Signal::Demonitor`].
    Demonitor {
        watcher: u64,
        target: u64,
        reference: u64,
    },
}

impl From<Signal> for WireSignal {
    fn from(s: Signal) -> WireSignal {
        match s {
            Signal::Message {
                from,
                to,
                kind,
                tag,
                data,
            } => WireSignal::Message {
                from,
                to,
                kind: kind as u8,
                tag,
                data,
            },
            Signal::Link { from, to } => WireSignal::Link { from, to },
            Signal::Unlink { from, to } => WireSignal::Unlink { from, to },
            Signal::Exit {
                from,
                to,
                reason,
                linked,
            } => WireSignal::Exit {
                from,
                to,
                reason: reason.encode(),
                linked,
            },
            Signal::Kill { from, to } => WireSignal::Kill { from, to },
            Signal::Monitor {
                watcher,
                target,
                reference,
            } => WireSignal::Monitor {
                watcher,
                target,
                reference,
            },
            Signal::Demonitor {
                watcher,
                target,
                reference,
            } => WireSignal::Demonitor {
                watcher,
                target,
                reference,
            },
        }
    }
}

impl TryFrom<WireSignal> for Signal {
    type Error = String;

    fn try_from(s: WireSignal) -> Result<Signal, String> {
        Ok(match s {
            WireSignal::Message {
                from,
                to,
                kind,
                tag,
                data,
            } => {
                let kind = MessageKind::from_raw(kind)
                    .filter(|k| matches!(k, MessageKind::Data | MessageKind::Down))
                    .ok_or_else(|| format!("a message of kind {kind}, which cannot cross nodes"))?;
                if kind == MessageKind::Down && ExitReason::decode(&data).is_none() {
                    return Err("a down message with no exit reason".into());
                }
                Signal::Message {
                    from,
                    to,
                    kind,
                    tag,
                    data,
                }
            }
            WireSignal::Link { from, to } => Signal::Link { from, to },
            WireSignal::Unlink { from, to } => Signal::Unlink { from, to },
            WireSignal::Exit {
                from,
                to,
                reason,
                linked,
            } => Signal::Exit {
                from,
                to,
                reason: ExitReason::decode(&reason)
                    .ok_or("an exit signal with no exit reason")?
                    .capped(),
                linked,
            },
            WireSignal::Kill { from, to } => Signal::Kill { from, to },
            WireSignal::Monitor {
                watcher,
                target,
                reference,
            } => Signal::Monitor {
                watcher,
                target,
                reference,
            },
            WireSignal::Demonitor {
                watcher,
                target,
                reference,
            } => Signal::Demonitor {
                watcher,
                target,
                reference,
            },
        })
    }
}

/// The frame's bytes.
pub fn encode(frame: &Frame) -> Vec<u8> {
    postcard::to_stdvec(frame).expect("a frame always encodes")
}

/// The frame `bytes` hold, all of them.
pub fn decode(bytes: &[u8]) -> Result<Frame, String> {
    match postcard::take_from_bytes(bytes) {
        Ok((frame, [])) => Ok(frame),
        Ok((_, rest)) => Err(format!("{} bytes after the frame", rest.len())),
        Err(e) => Err(format!("a frame that does not decode: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_garbage_is_refused() {
        let signal = Signal::Exit {
            from: 1 << 48 | 3,
            to: 2 << 48 | 9,
            reason: ExitReason::Trap("boom".into()),
            linked: true,
        };
        let frame = Frame::Signal {
            node: 1,
            session: 4,
            seq: 17,
            signal: signal.clone().into(),
        };
        let back = decode(&encode(&frame)).unwrap();
        assert_eq!(back, frame);
        let Frame::Signal { signal: wire, .. } = back else {
            unreachable!()
        };
        assert_eq!(Signal::try_from(wire), Ok(signal));
        // Truncated, padded, or nonsense: refused, never a panic.
        let bytes = encode(&frame);
        assert!(decode(&bytes[..bytes.len() - 1]).is_err());
        assert!(decode(&[bytes.clone(), vec![0]].concat()).is_err());
        assert!(decode(&[0xff; 40]).is_err());
        // A length far past the frame: refused before anything is allocated.
        let huge = [&[1u8, 1, 0, 0][..], &[0xff, 0xff, 0xff, 0xff, 0x0f]].concat();
        assert!(decode(&huge).is_err());
        // An init message, or a down with no reason, cannot cross.
        let init = WireSignal::Message {
            from: 1,
            to: 2,
            kind: MessageKind::Init as u8,
            tag: 0,
            data: vec![],
        };
        assert!(Signal::try_from(init).is_err());
        let down = WireSignal::Message {
            from: 1,
            to: 2,
            kind: MessageKind::Down as u8,
            tag: 0,
            data: vec![],
        };
        assert!(Signal::try_from(down).is_err());
    }
}
