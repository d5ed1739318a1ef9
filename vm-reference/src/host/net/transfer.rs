//! `vm:host/net`'s data calls: `read`, `peek`, `write`, `try-write` and
//! `flush`, straight between the socket and guest memory.

use super::{check, io_fail, timeout, within_deadline};
use crate::handle::Resource;
use crate::host::{bytes, bytes_mut, memory, spec, write_result, Ctx};
use crate::process::ProcessState;
use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use vm_abi::{Direction, ErrorCode};
use wasmtime::Linker;

/// The most one `read` moves at once; larger reads return what fits.
const MAX_READ: u32 = 64 << 10;

/// When a call on socket `h` must end: after the timeout the call gave
/// (`nanos`, if `is_some`), or else after the socket's own timeout for
/// `direction` (`net.set-timeout`), if it has one.
fn call_deadline(
    state: &ProcessState,
    h: u32,
    (is_some, nanos): (u32, u64),
    direction: Direction,
) -> Option<tokio::time::Instant> {
    let own = || {
        let t = state.handles.get(h)?.timeouts()?;
        match direction {
            Direction::Read => t.read,
            Direction::Write => t.write,
        }
    };
    timeout(is_some, nanos)
        .or_else(own)
        .map(|d| tokio::time::Instant::now() + d)
}

/// Moves bytes between the socket that handle `h` names and guest memory
/// with `poll`, tokio's `poll_read` or `poll_write` on the caller's memory;
/// fails with `TimedOut` at the deadline. Memory and the resource are looked
/// up on every poll (the process is suspended in this call between polls,
/// so nothing else changes its table). Nothing is copied through a host
/// buffer, and, as in tokio's own streams, a short read marks the socket not
/// ready, so the next read waits for the reactor instead of spending a
/// system call to learn the socket is empty.
async fn transfer(
    caller: &mut Ctx<'_>,
    h: u32,
    deadline: Option<tokio::time::Instant>,
    mut poll: impl FnMut(&mut Resource, &mut Context<'_>, &mut [u8]) -> Poll<io::Result<usize>>,
) -> wasmtime::Result<io::Result<usize>> {
    let mut failed = None;
    let moved = poll_fn(|cx| {
        let found = memory(caller).and_then(|(mem, state)| match state.handles.get_mut(h) {
            Some(res) => Ok(poll(res, cx, mem)),
            None => wasmtime::bail!("handle {h} left its table during a transfer"),
        });
        found.unwrap_or_else(|e| {
            failed = Some(e);
            Poll::Ready(Ok(0))
        })
    });
    let n = within_deadline(deadline, moved).await;
    match failed {
        Some(e) => Err(e),
        None => Ok(n),
    }
}

/// `net.try-write`: writes what the socket takes now; 0 when it is full.
fn write_now(
    state: &mut ProcessState,
    mem: &[u8],
    h: u32,
    ptr: u32,
    len: u32,
) -> Result<u32, ErrorCode> {
    let data = bytes(mem, ptr, len).map_err(|code| {
        state.fail(
            code,
            format!("data at {ptr} of {len} bytes lies outside memory"),
        )
    })?;
    check(state, h, "writable (a stream or write half)", writable)?;
    // A plain non-blocking send rather than tokio's `try_write`, which says
    // "would block" without trying while the reactor has not yet seen the
    // socket writable (as with a new stream). A send that fails with EAGAIN
    // leaves tokio's readiness stale; the waiting `write` that follows finds
    // that out with one more EAGAIN and then waits.
    let written = match state.handles.get(h) {
        Some(Resource::TcpStream(s, _)) => socket2::SockRef::from(s).send(data),
        Some(Resource::WriteHalf(w, _)) => socket2::SockRef::from(w.as_ref()).send(data),
        _ => unreachable!("check() checked the kind"),
    };
    match written {
        Ok(n) => Ok(n as u32),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(0),
        Err(e) => Err(io_fail(state, "writing", e)),
    }
}

/// Whether reads may be made on `r`.
fn readable(r: &Resource) -> bool {
    matches!(r, Resource::TcpStream(..) | Resource::ReadHalf(..))
}

/// Whether writes may be made on `r`.
fn writable(r: &Resource) -> bool {
    matches!(r, Resource::TcpStream(..) | Resource::WriteHalf(..))
}

pub(super) fn add(linker: &mut Linker<ProcessState>) -> wasmtime::Result<()> {
    let m = spec("net", "read").module;

    for (name, peek) in [("read", false), ("peek", true)] {
        let s = spec("net", name);
        linker.func_wrap_async(
            m,
            name,
            move |mut caller: Ctx<'_>,
                  (h, dst, len, has_t, t, ret): (u32, u32, u32, u32, u64, u32)| {
                Box::new(async move {
                    crate::host::not_in_realloc(&caller)?;
                    let (mem, state) = memory(&mut caller)?;
                    // Check the destination before reading, so no bytes are lost.
                    if let Err(code) = bytes_mut(mem, dst, len) {
                        let code = state.fail(
                            code,
                            format!("read buffer at {dst} of {len} bytes lies outside memory"),
                        );
                        return write_result(mem, s, ret, Err::<u32, _>(code));
                    }
                    if let Err(code) = check(state, h, "readable (a stream or read half)", readable)
                    {
                        return write_result(mem, s, ret, Err::<u32, _>(code));
                    }
                    // Straight into guest memory (no copy, no buffer).
                    let len = len.min(MAX_READ);
                    let deadline = call_deadline(state, h, (has_t, t), Direction::Read);
                    let n = if len == 0 {
                        Ok(0)
                    } else {
                        transfer(&mut caller, h, deadline, |res, cx, mem| {
                            let out =
                                bytes_mut(mem, dst, len).expect("checked above; memory only grows");
                            let mut buf = ReadBuf::new(out);
                            let polled = match (res, peek) {
                                (Resource::TcpStream(s, _), false) => {
                                    Pin::new(s).poll_read(cx, &mut buf)
                                }
                                (Resource::ReadHalf(r, _), false) => {
                                    Pin::new(r).poll_read(cx, &mut buf)
                                }
                                (Resource::TcpStream(s, _), true) => {
                                    s.poll_peek(cx, &mut buf).map_ok(drop)
                                }
                                (Resource::ReadHalf(r, _), true) => {
                                    r.poll_peek(cx, &mut buf).map_ok(drop)
                                }
                                _ => unreachable!("check() checked the kind"),
                            };
                            polled.map_ok(|()| buf.filled().len())
                        })
                        .await?
                    };
                    let (mem, state) = memory(&mut caller)?;
                    let what = if peek { "peeking" } else { "reading" };
                    let result = n.map(|n| n as u32).map_err(|e| io_fail(state, what, e));
                    write_result(mem, s, ret, result)
                })
            },
        )?;
    }

    let write = spec("net", "write");
    linker.func_wrap_async(
        m,
        "write",
        move |mut caller: Ctx<'_>, (h, ptr, len, has_t, t, ret): (u32, u32, u32, u32, u64, u32)| {
            Box::new(async move {
                crate::host::not_in_realloc(&caller)?;
                let (mem, state) = memory(&mut caller)?;
                if let Err(code) = bytes(mem, ptr, len) {
                    let code = state.fail(
                        code,
                        format!("data at {ptr} of {len} bytes lies outside memory"),
                    );
                    return write_result(mem, write, ret, Err::<u32, _>(code));
                }
                if let Err(code) = check(state, h, "writable (a stream or write half)", writable) {
                    return write_result(mem, write, ret, Err::<u32, _>(code));
                }
                // Straight from guest memory, as for reads.
                let deadline = call_deadline(state, h, (has_t, t), Direction::Write);
                let n = transfer(&mut caller, h, deadline, |res, cx, mem| {
                    let data = bytes(mem, ptr, len).expect("checked above; memory only grows");
                    match res {
                        Resource::TcpStream(s, _) => Pin::new(s).poll_write(cx, data),
                        Resource::WriteHalf(w, _) => Pin::new(w).poll_write(cx, data),
                        _ => unreachable!("check() checked the kind"),
                    }
                })
                .await?;
                let (mem, state) = memory(&mut caller)?;
                let result = n
                    .map(|n| n as u32)
                    .map_err(|e| io_fail(state, "writing", e));
                write_result(mem, write, ret, result)
            })
        },
    )?;

    let try_write = spec("net", "try-write");
    linker.func_wrap(
        m,
        "try-write",
        move |mut caller: Ctx<'_>, h: u32, ptr: u32, len: u32, ret: u32| -> wasmtime::Result<()> {
            crate::host::not_in_realloc(&caller)?;
            let (mem, state) = memory(&mut caller)?;
            let result = write_now(state, mem, h, ptr, len);
            write_result(mem, try_write, ret, result)
        },
    )?;

    let flush = spec("net", "flush");
    linker.func_wrap(
        m,
        "flush",
        move |mut caller: Ctx<'_>, h: u32, ret: u32| -> wasmtime::Result<()> {
            crate::host::not_in_realloc(&caller)?;
            let (mem, state) = memory(&mut caller)?;
            // TCP sends as it writes; flushing only checks the handle.
            let result = check(state, h, "writable (a stream or write half)", writable);
            write_result(mem, flush, ret, result)
        },
    )?;

    Ok(())
}
