//! Guests' stdout and stderr, one rule for every process: whole lines.
//!
//! Each process writes through its own [`LineStream`], which passes on
//! only complete lines, each batch in one write under the destination's
//! lock, and keeps a line's start until its newline arrives. So lines from
//! different processes never interleave mid-line, whatever the guest's
//! libc buffers, and nothing waits on a guest's buffering: a line is out
//! when the guest writes its newline. What is left when the process ends
//! (its stream is dropped: when it ends or hibernates) goes out then; a
//! line longer than [`MAX_PARTIAL`] goes out in pieces of that size, so a
//! guest that never writes a newline cannot make the VM hold more than that
//! per stream, and the memory a long line took is given back once it is out.

use std::io::Write;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

/// How much of one unfinished line a process's stream holds.
pub(crate) const MAX_PARTIAL: usize = 8 * 1024;

/// Where a process's lines go.
#[derive(Clone)]
pub(crate) enum Sink {
    /// The VM's stdout.
    Stdout,
    /// The VM's stderr.
    Stderr,
    /// A buffer every process shares ([`crate::config::Output::Capture`]).
    Memory(MemoryOutputPipe),
}

impl Sink {
    /// Writes `bytes` as one piece: under the lock of the VM's stream, or
    /// the buffer's.
    fn put(&self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        // A closed or full destination loses the output, never the process.
        match self {
            Sink::Stdout => {
                let mut out = std::io::stdout().lock();
                let _ = out.write_all(bytes).and_then(|()| out.flush());
            }
            Sink::Stderr => {
                let mut out = std::io::stderr().lock();
                let _ = out.write_all(bytes).and_then(|()| out.flush());
            }
            Sink::Memory(pipe) => {
                let _ =
                    OutputStream::write(&mut pipe.clone(), bytes::Bytes::copy_from_slice(bytes));
            }
        }
    }
}

/// The [`StdoutStream`] a process's WASI context gets: each stream it
/// makes line-buffers on its own.
pub(crate) struct LineOutput(pub(crate) Sink);

impl IsTerminal for LineOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for LineOutput {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(LineStream::new(self.0.clone()))
    }

    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(LineStream::new(self.0.clone()))
    }
}

/// One process's stream: complete lines out at once, the rest held.
pub(crate) struct LineStream {
    sink: Sink,
    partial: Vec<u8>,
}

impl LineStream {
    fn new(sink: Sink) -> LineStream {
        LineStream {
            sink,
            partial: Vec::new(),
        }
    }

    /// Empties the held line, and gives back its memory when a long line
    /// grew it: a process that once wrote one keeps no large buffer.
    fn release(&mut self) {
        if self.partial.capacity() > 1024 {
            self.partial = Vec::new();
        } else {
            self.partial.clear();
        }
    }

    /// Takes `bytes`, passing on every line they complete in one write.
    fn take(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            match bytes.iter().rposition(|&b| b == b'\n') {
                Some(last) => {
                    let (lines, rest) = bytes.split_at(last + 1);
                    if self.partial.is_empty() {
                        self.sink.put(lines);
                    } else {
                        self.partial.extend_from_slice(lines);
                        self.sink.put(&self.partial);
                        self.release();
                    }
                    bytes = rest;
                }
                None => {
                    let room = MAX_PARTIAL - self.partial.len();
                    let n = room.min(bytes.len());
                    self.partial.extend_from_slice(&bytes[..n]);
                    bytes = &bytes[n..];
                    if self.partial.len() == MAX_PARTIAL {
                        self.sink.put(&self.partial);
                        self.release();
                    }
                }
            }
        }
    }
}

impl Drop for LineStream {
    fn drop(&mut self) {
        self.sink.put(&self.partial);
    }
}

impl OutputStream for LineStream {
    fn write(&mut self, bytes: bytes::Bytes) -> StreamResult<()> {
        self.take(&bytes);
        Ok(())
    }

    /// Passes nothing on: an unfinished line waits for its newline (or the
    /// process's end), which is what keeps lines whole.
    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(MAX_PARTIAL)
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for LineStream {
    async fn ready(&mut self) {}
}

impl AsyncWrite for LineStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.take(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn captured(writes: &[&[u8]]) -> (Vec<u8>, Vec<u8>) {
        let pipe = MemoryOutputPipe::new(1 << 20);
        let mut s = LineStream::new(Sink::Memory(pipe.clone()));
        for w in writes {
            s.take(w);
        }
        let before_end = pipe.contents().to_vec();
        drop(s);
        (before_end, pipe.contents().to_vec())
    }

    #[test]
    fn only_whole_lines_pass_until_the_process_ends() {
        let (before, after) = captured(&[b"hel", b"lo\nwor", b"ld\nand a prompt: "]);
        assert_eq!(before, b"hello\nworld\n");
        assert_eq!(after, b"hello\nworld\nand a prompt: ");
    }

    #[test]
    fn a_line_without_end_goes_out_in_bounded_pieces() {
        let long = vec![b'x'; MAX_PARTIAL + 10];
        let (before, after) = captured(&[&long]);
        assert_eq!(before.len(), MAX_PARTIAL);
        assert_eq!(after.len(), MAX_PARTIAL + 10);
    }

    #[test]
    fn a_long_line_once_out_leaves_no_large_buffer_behind() {
        let pipe = MemoryOutputPipe::new(1 << 20);
        let mut s = LineStream::new(Sink::Memory(pipe.clone()));
        s.take(&vec![b'y'; MAX_PARTIAL - 1]);
        s.take(&[b'z'; 3000]);
        s.take(b"\n");
        assert!(s.partial.capacity() <= 1024, "{}", s.partial.capacity());
        assert_eq!(pipe.contents().len(), MAX_PARTIAL - 1 + 3000 + 1);
    }

    #[test]
    fn two_processes_lines_do_not_interleave() {
        let pipe = MemoryOutputPipe::new(1 << 20);
        let mut a = LineStream::new(Sink::Memory(pipe.clone()));
        let mut b = LineStream::new(Sink::Memory(pipe.clone()));
        a.take(b"from a: one ");
        b.take(b"from b: one ");
        a.take(b"two\n");
        b.take(b"two\n");
        assert_eq!(&pipe.contents()[..], b"from a: one two\nfrom b: one two\n");
    }
}
