//! `vm:host/net`: TCP listeners, streams, and their split halves.
//!
//! Reads and writes use a stream where it lies in the caller's handle table
//! (the process waits in the call, so nothing else changes the table), and
//! an accept holds a shared reference to its listener. A process killed
//! mid-call thus drops (and closes) its sockets with everything else it
//! owned.

use super::{bytes, bytes_mut, memory, spec, string, write_result, Ctx};
use crate::handle::{Resource, Timeouts};
use crate::process::ProcessState;
use crate::resolver::{self, ResolveError};
use std::future::{poll_fn, Future};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use vm_abi::{Direction, ErrorCode, Halves, ShutdownHow};
use wasmtime::Linker;

/// The most one `read` moves at once; larger reads return what fits.
const MAX_READ: u32 = 64 << 10;

fn timeout(is_some: u32, nanos: u64) -> Option<Duration> {
    (is_some != 0).then(|| Duration::from_nanos(nanos))
}

/// When an operation given `nanos` (if `is_some`) must end.
fn deadline(is_some: u32, nanos: u64) -> Option<tokio::time::Instant> {
    timeout(is_some, nanos).map(|d| tokio::time::Instant::now() + d)
}

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

/// Runs `f`, failing with `TimedOut` at the deadline.
async fn within_deadline<T>(
    deadline: Option<tokio::time::Instant>,
    f: impl Future<Output = io::Result<T>>,
) -> io::Result<T> {
    match deadline {
        None => f.await,
        Some(d) => tokio::time::timeout_at(d, f).await.unwrap_or_else(|_| {
            Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the operation timed out",
            ))
        }),
    }
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

fn io_code(e: &io::Error) -> ErrorCode {
    use io::ErrorKind::*;
    match e.kind() {
        ConnectionRefused => ErrorCode::ConnectionRefused,
        ConnectionReset | ConnectionAborted | BrokenPipe => ErrorCode::ConnectionReset,
        AddrInUse => ErrorCode::AddressInUse,
        AddrNotAvailable | HostUnreachable | NetworkUnreachable | NotFound => {
            ErrorCode::Unreachable
        }
        TimedOut => ErrorCode::Timeout,
        PermissionDenied => ErrorCode::PermissionDenied,
        InvalidInput => ErrorCode::InvalidArgument,
        _ => ErrorCode::Io,
    }
}

fn io_fail(state: &mut ProcessState, what: &str, e: io::Error) -> ErrorCode {
    state.fail(io_code(&e), format!("{what}: {e}"))
}

/// Checks that handle `h` names a resource `fits` accepts; otherwise fails
/// naming what was expected.
fn check(
    state: &mut ProcessState,
    h: u32,
    want: &str,
    fits: fn(&Resource) -> bool,
) -> Result<(), ErrorCode> {
    // One lookup on this path, which every read and write takes: an
    // active read half whose reader has finished reads again.
    let found = state.handles.get_mut(h).map(|r| {
        let active = super::active::settle(r);
        (fits(r), active, r.kind())
    });
    let msg = match found {
        Some((true, _, _)) => return Ok(()),
        Some((false, true, _)) => {
            return Err(state.fail(
                ErrorCode::InvalidArgument,
                format!("handle {h} is an active read half: its reads arrive as messages (net.set-active); make it passive (count 0) first"),
            ))
        }
        Some((false, false, kind)) => format!("handle {h} is {kind}, not {want}"),
        None => {
            format!("handle {h} is not owned by this process (dropped, moved or never issued)")
        }
    };
    Err(state.fail(ErrorCode::InvalidHandle, msg))
}

/// Adds a new resource to the caller's handles; past a limit it is closed
/// and the call fails with `limit-reached`, saying what was being `done`.
fn insert(state: &mut ProcessState, r: Resource, done: &str) -> Result<u32, ErrorCode> {
    state.handles.insert(r).map_err(|(_, refusal)| {
        let text = refusal.explain(done);
        state.fail(ErrorCode::LimitReached, text)
    })
}

/// `net.split`: stream `h` (taken out of the table) becomes two halves; past
/// a limit the stream goes back under `h`, whole, and the call fails.
fn split_stream(state: &mut ProcessState, h: u32, r: Resource) -> Result<Halves, ErrorCode> {
    let Resource::TcpStream(stream, timeouts) = r else {
        unreachable!("take() checked the kind")
    };
    let (r, w) = stream.into_split();
    let refused = |state: &mut ProcessState, r, w, refusal: crate::handle::HandleRefusal| {
        let stream = tokio::net::tcp::OwnedReadHalf::reunite(r, w).expect("halves of one stream");
        state
            .handles
            .restore(h, Resource::TcpStream(stream, timeouts));
        let text = refusal.explain("splitting the stream");
        state.fail(ErrorCode::LimitReached, text)
    };
    let read = match state.handles.insert(Resource::ReadHalf(r, timeouts)) {
        Ok(read) => read,
        Err((Resource::ReadHalf(r, _), refusal)) => return Err(refused(state, r, w, refusal)),
        Err(_) => unreachable!("the table gives back what it was given"),
    };
    match state.handles.insert(Resource::WriteHalf(w, timeouts)) {
        Ok(write) => Ok(Halves { read, write }),
        Err((Resource::WriteHalf(w, _), refusal)) => {
            let Some(Resource::ReadHalf(r, _)) = state.handles.remove(read) else {
                unreachable!("just inserted")
            };
            Err(refused(state, r, w, refusal))
        }
        Err(_) => unreachable!("the table gives back what it was given"),
    }
}

/// Takes a resource out of the table if `fits` accepts it; otherwise leaves
/// the table as it was and fails naming what was expected.
fn take(
    state: &mut ProcessState,
    h: u32,
    want: &str,
    fits: fn(&Resource) -> bool,
) -> Result<Resource, ErrorCode> {
    check(state, h, want, fits)?;
    Ok(state.handles.remove(h).expect("just checked"))
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

fn readable(r: &Resource) -> bool {
    matches!(r, Resource::TcpStream(..) | Resource::ReadHalf(..))
}

fn writable(r: &Resource) -> bool {
    matches!(r, Resource::TcpStream(..) | Resource::WriteHalf(..))
}

/// The addresses `text` names that the VM's `--allow-net` rules permit,
/// deciding on a name before it is looked up (see [`crate::resolver`]).
async fn permitted(state: &mut ProcessState, text: &str) -> Result<Vec<SocketAddr>, ErrorCode> {
    let (host, addrs) = lookup(state, text, None).await?;
    let policy = &state.node.config.net;
    let allowed: Vec<_> = addrs
        .iter()
        .copied()
        .filter(|a| policy.check(host.as_deref(), *a).is_ok())
        .collect();
    if allowed.is_empty() {
        let why = policy.check(host.as_deref(), addrs[0]).unwrap_err();
        return Err(state.fail(ErrorCode::PermissionDenied, why));
    }
    Ok(allowed)
}

/// Resolves `text` with the VM's resolver, if its policy permits looking the
/// name up; failures are recorded as the call's error.
async fn lookup(
    state: &mut ProcessState,
    text: &str,
    default_port: Option<u16>,
) -> Result<(Option<String>, Vec<SocketAddr>), ErrorCode> {
    let config = &state.node.config;
    match resolver::resolve(&config.net, &*config.resolver, text, default_port).await {
        Ok(found) => Ok(found),
        Err(ResolveError::Denied(why)) => Err(state.fail(ErrorCode::PermissionDenied, why)),
        Err(ResolveError::Io(e)) => Err(io_fail(state, &format!("resolving `{text}`"), e)),
    }
}

/// The room `accept-from` needs for an address's text: the longest,
/// `[IPv6%scope]:port`, is 64 bytes.
const ADDRESS_BUFFER: u32 = 64;

/// Waits (until `deadline`, if any) for a connection on listener `h`;
/// returns the new stream's handle and the peer's address the kernel gave
/// with it.
async fn accept_connection(
    caller: &mut Ctx<'_>,
    h: u32,
    deadline: Option<tokio::time::Instant>,
) -> Result<(u32, SocketAddr), ErrorCode> {
    let state = caller.data_mut();
    let listener = match state.handles.get(h) {
        Some(Resource::TcpListener(l)) => l.clone(),
        Some(other) => {
            let text = format!("handle {h} is {}, not a TCP listener", other.kind());
            return Err(state.fail(ErrorCode::InvalidHandle, text));
        }
        None => {
            let text = format!("handle {h} is not owned by this process");
            return Err(state.fail(ErrorCode::InvalidHandle, text));
        }
    };
    let accepted = within_deadline(deadline, listener.accept()).await;
    let state = caller.data_mut();
    match accepted {
        Ok((stream, peer)) => {
            let _ = stream.set_nodelay(true);
            let stream = Resource::TcpStream(stream, Timeouts::default());
            let h = insert(state, stream, "accepting a connection (it was closed)")?;
            Ok((h, peer))
        }
        Err(e) => Err(io_fail(state, "accepting a connection", e)),
    }
}

fn address_text(mem: &mut [u8], dst: u32, len: u32, text: &str) -> Result<u32, ErrorCode> {
    let n = text.len().min(len as usize);
    bytes_mut(mem, dst, n as u32)?.copy_from_slice(&text.as_bytes()[..n]);
    Ok(text.len() as u32)
}

pub(crate) fn add(linker: &mut Linker<ProcessState>) -> wasmtime::Result<()> {
    let resolve = spec("net", "resolve");
    let m = resolve.module;
    linker.func_wrap_async(
        m,
        "resolve",
        move |mut caller: Ctx<'_>, (ptr, len, dst, dst_len, ret): (u32, u32, u32, u32, u32)| {
            Box::new(async move {
                super::not_in_realloc(&caller)?;
                let (mem, state) = memory(&mut caller)?;
                let host = match string(state, mem, ptr, len) {
                    Ok(h) => h,
                    Err(code) => return write_result(mem, resolve, ret, Err::<u32, _>(code)),
                };
                let found = lookup(caller.data_mut(), &host, Some(0)).await;
                let (mem, state) = memory(&mut caller)?;
                let result = found.and_then(|(_, addrs)| {
                    let text = addrs
                        .iter()
                        .map(SocketAddr::to_string)
                        .collect::<Vec<_>>()
                        .join("\n");
                    address_text(mem, dst, dst_len, &text)
                        .map_err(|c| state.fail(c, "the address buffer lies outside memory"))
                });
                write_result(mem, resolve, ret, result)
            })
        },
    )?;

    let bind = spec("net", "bind");
    linker.func_wrap_async(
        m,
        "bind",
        move |mut caller: Ctx<'_>, (ptr, len, ret): (u32, u32, u32)| {
            Box::new(async move {
                super::not_in_realloc(&caller)?;
                let (mem, state) = memory(&mut caller)?;
                let text = match string(state, mem, ptr, len) {
                    Ok(t) => t,
                    Err(code) => return write_result(mem, bind, ret, Err::<u32, _>(code)),
                };
                let addrs = permitted(caller.data_mut(), &text).await;
                let bound = match addrs {
                    Ok(addrs) => Ok(tokio::net::TcpListener::bind(&addrs[..]).await),
                    Err(code) => Err(code),
                };
                let (mem, state) = memory(&mut caller)?;
                let result = match bound {
                    Ok(Ok(l)) => insert(state, Resource::TcpListener(Arc::new(l)), "listening"),
                    Ok(Err(e)) => Err(io_fail(state, &format!("binding {text}"), e)),
                    Err(code) => Err(code),
                };
                write_result(mem, bind, ret, result)
            })
        },
    )?;

    let accept = spec("net", "accept");
    linker.func_wrap_async(
        m,
        "accept",
        move |mut caller: Ctx<'_>, (h, has_t, t, ret): (u32, u32, u64, u32)| {
            Box::new(async move {
                super::not_in_realloc(&caller)?;
                let accepted = accept_connection(&mut caller, h, deadline(has_t, t)).await;
                let (mem, _) = memory(&mut caller)?;
                write_result(mem, accept, ret, accepted.map(|(handle, _)| handle))
            })
        },
    )?;

    let accept_from = spec("net", "accept-from");
    linker.func_wrap_async(
        m,
        "accept-from",
        move |mut caller: Ctx<'_>, (h, has_t, t, dst, len, ret): (u32, u32, u64, u32, u32, u32)| {
            Box::new(async move {
                super::not_in_realloc(&caller)?;
                let (mem, state) = memory(&mut caller)?;
                let checked = if len < ADDRESS_BUFFER {
                    Err(state.fail(
                        ErrorCode::InvalidArgument,
                        format!(
                            "an address buffer of {len} bytes is too small: give {ADDRESS_BUFFER}"
                        ),
                    ))
                } else {
                    bytes_mut(mem, dst, len).map(drop).map_err(|c| {
                        state.fail(
                            c,
                            format!("address buffer at {dst} of {len} bytes lies outside memory"),
                        )
                    })
                };
                if let Err(code) = checked {
                    return write_result(mem, accept_from, ret, Err::<u32, _>(code));
                }
                let accepted = accept_connection(&mut caller, h, deadline(has_t, t)).await;
                let (mem, _) = memory(&mut caller)?;
                let result = accepted.map(|(handle, peer)| {
                    let out = bytes_mut(mem, dst, len)
                        .expect("checked before waiting; memory only grows");
                    let text = peer.to_string();
                    out.fill(0);
                    out[..text.len()].copy_from_slice(text.as_bytes());
                    handle
                });
                write_result(mem, accept_from, ret, result)
            })
        },
    )?;

    let connect = spec("net", "connect");
    linker.func_wrap_async(
        m,
        "connect",
        move |mut caller: Ctx<'_>, (ptr, len, has_t, t, ret): (u32, u32, u32, u64, u32)| {
            Box::new(async move {
                super::not_in_realloc(&caller)?;
                let (mem, state) = memory(&mut caller)?;
                let text = match string(state, mem, ptr, len) {
                    Ok(t) => t,
                    Err(code) => return write_result(mem, connect, ret, Err::<u32, _>(code)),
                };
                let connected = match permitted(caller.data_mut(), &text).await {
                    Ok(addrs) => Ok(within_deadline(
                        deadline(has_t, t),
                        tokio::net::TcpStream::connect(&addrs[..]),
                    )
                    .await),
                    Err(code) => Err(code),
                };
                let (mem, state) = memory(&mut caller)?;
                let result = match connected {
                    Ok(Ok(stream)) => {
                        let _ = stream.set_nodelay(true);
                        let stream = Resource::TcpStream(stream, Timeouts::default());
                        insert(state, stream, "connecting (the connection was closed)")
                    }
                    Ok(Err(e)) => Err(io_fail(state, &format!("connecting to {text}"), e)),
                    Err(code) => Err(code),
                };
                write_result(mem, connect, ret, result)
            })
        },
    )?;

    for (name, peek) in [("read", false), ("peek", true)] {
        let s = spec("net", name);
        linker.func_wrap_async(
            m,
            name,
            move |mut caller: Ctx<'_>,
                  (h, dst, len, has_t, t, ret): (u32, u32, u32, u32, u64, u32)| {
                Box::new(async move {
                    super::not_in_realloc(&caller)?;
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
                super::not_in_realloc(&caller)?;
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
            super::not_in_realloc(&caller)?;
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
            super::not_in_realloc(&caller)?;
            let (mem, state) = memory(&mut caller)?;
            // TCP sends as it writes; flushing only checks the handle.
            let result = check(state, h, "writable (a stream or write half)", writable);
            write_result(mem, flush, ret, result)
        },
    )?;

    let shutdown = spec("net", "shutdown");
    linker.func_wrap(
        m,
        "shutdown",
        move |mut caller: Ctx<'_>, h: u32, how: u32, ret: u32| -> wasmtime::Result<()> {
            super::not_in_realloc(&caller)?;
            let (mem, state) = memory(&mut caller)?;
            settled(state, h);
            let result = shut(state, h, how);
            write_result(mem, shutdown, ret, result)
        },
    )?;

    for (name, peer) in [("local-address", false), ("peer-address", true)] {
        let s = spec("net", name);
        linker.func_wrap(
            m,
            name,
            move |mut caller: Ctx<'_>,
                  h: u32,
                  dst: u32,
                  len: u32,
                  ret: u32|
                  -> wasmtime::Result<()> {
                super::not_in_realloc(&caller)?;
                let (mem, state) = memory(&mut caller)?;
                settled(state, h);
                let result = match socket_address(state.handles.get(h), peer) {
                    Some(Ok(a)) => address_text(mem, dst, len, &a.to_string())
                        .map_err(|c| state.fail(c, "the address buffer lies outside memory")),
                    Some(Err(e)) => Err(io_fail(state, name, e)),
                    None => Err(state.fail(
                        ErrorCode::InvalidHandle,
                        format!("handle {h} is not a socket of this process with a {name}"),
                    )),
                };
                write_result(mem, s, ret, result)
            },
        )?;
    }

    let split = spec("net", "split");
    linker.func_wrap(
        m,
        "split",
        move |mut caller: Ctx<'_>, h: u32, ret: u32| -> wasmtime::Result<()> {
            super::not_in_realloc(&caller)?;
            let (mem, state) = memory(&mut caller)?;
            let result = take(state, h, "a TCP stream", |r| {
                matches!(r, Resource::TcpStream(..))
            })
            .and_then(|r| split_stream(state, h, r));
            write_result(mem, split, ret, result)
        },
    )?;

    let set_timeout = spec("net", "set-timeout");
    linker.func_wrap(
        m,
        "set-timeout",
        move |mut caller: Ctx<'_>, h: u32, direction: u32, nanos: u64, ret: u32| {
            super::not_in_realloc(&caller)?;
            let (mem, state) = memory(&mut caller)?;
            settled(state, h);
            let result = socket_timeout(state, h, direction).map(|(t, direction)| {
                let slot = match direction {
                    Direction::Read => &mut t.read,
                    Direction::Write => &mut t.write,
                };
                *slot = (nanos != 0).then(|| Duration::from_nanos(nanos));
            });
            write_result(mem, set_timeout, ret, result)
        },
    )?;

    let get_timeout = spec("net", "timeout");
    linker.func_wrap(
        m,
        "timeout",
        move |mut caller: Ctx<'_>, h: u32, direction: u32, ret: u32| {
            super::not_in_realloc(&caller)?;
            let (mem, state) = memory(&mut caller)?;
            settled(state, h);
            let result = socket_timeout(state, h, direction).map(|(t, direction)| {
                let slot = match direction {
                    Direction::Read => t.read,
                    Direction::Write => t.write,
                };
                slot.map_or(0, |d| d.as_nanos().min(u64::MAX as u128) as u64)
            });
            write_result(mem, get_timeout, ret, result)
        },
    )?;

    let set_nodelay = spec("net", "set-nodelay");
    linker.func_wrap(
        m,
        "set-nodelay",
        move |mut caller: Ctx<'_>, h: u32, enabled: u32, ret: u32| {
            super::not_in_realloc(&caller)?;
            let (mem, state) = memory(&mut caller)?;
            settled(state, h);
            let result = with_stream_socket(state, h, |s| s.set_tcp_nodelay(enabled != 0));
            write_result(mem, set_nodelay, ret, result)
        },
    )?;

    let nodelay = spec("net", "nodelay");
    linker.func_wrap(
        m,
        "nodelay",
        move |mut caller: Ctx<'_>, h: u32, ret: u32| {
            super::not_in_realloc(&caller)?;
            let (mem, state) = memory(&mut caller)?;
            settled(state, h);
            let result = with_stream_socket(state, h, |s| s.tcp_nodelay());
            write_result(mem, nodelay, ret, result)
        },
    )?;

    let set_active = spec("net", "set-active");
    linker.func_wrap_async(
        m,
        "set-active",
        move |mut caller: Ctx<'_>, (h, count, tag, ret): (u32, u32, u64, u32)| {
            Box::new(async move {
                super::not_in_realloc(&caller)?;
                let result = activate(&mut caller, h, count, tag).await;
                let (mem, _) = memory(&mut caller)?;
                write_result(mem, set_active, ret, result)
            })
        },
    )?;

    let reunite = spec("net", "reunite");
    linker.func_wrap(
        m,
        "reunite",
        move |mut caller: Ctx<'_>, rh: u32, wh: u32, ret: u32| -> wasmtime::Result<()> {
            super::not_in_realloc(&caller)?;
            let (mem, state) = memory(&mut caller)?;
            settled(state, rh);
            let result = rejoin(state, rh, wh);
            write_result(mem, reunite, ret, result)
        },
    )?;
    Ok(())
}

/// `net.set-active`: a read half's next `count` reads become messages
/// tagged `tag` (0: none, passive again).
async fn activate(caller: &mut Ctx<'_>, h: u32, count: u32, tag: u64) -> Result<(), ErrorCode> {
    let state = caller.data_mut();
    settled(state, h);
    let fits = |r: &Resource| matches!(r, Resource::ReadHalf(..) | Resource::ActiveRead(..));
    check(
        state,
        h,
        "a read half (split a stream to make its reads active)",
        fits,
    )?;
    let (half, timeouts) = match state.handles.remove(h).expect("just checked") {
        Resource::ReadHalf(half, t) => (Some(half), t),
        Resource::ActiveRead(active, t) => (active.stop().await, t),
        _ => unreachable!("check() checked the kind"),
    };
    let state = caller.data_mut();
    let Some(half) = half else {
        // The reader lost the half (it panicked): nothing is left to read.
        return Err(state.fail(
            ErrorCode::InvalidArgument,
            format!("handle {h}'s socket is gone"),
        ));
    };
    let resource = if count == 0 {
        Resource::ReadHalf(half, timeouts)
    } else {
        let active =
            super::active::ActiveRead::start(state.node.clone(), state.id, tag, count, half);
        Resource::ActiveRead(active, timeouts)
    };
    state.handles.restore(h, resource);
    Ok(())
}

/// Makes handle `h`, if it is an active read half whose reader has
/// finished, a plain read half again, as every call on it sees it.
fn settled(state: &mut ProcessState, h: u32) {
    if let Some(r) = state.handles.get_mut(h) {
        super::active::settle(r);
    }
}

/// The local or peer address of a socket resource; `None` for a handle
/// that has none (not a socket, or a listener's peer).
fn socket_address(r: Option<&Resource>, peer: bool) -> Option<io::Result<SocketAddr>> {
    Some(match (r?, peer) {
        (Resource::TcpListener(l), false) => l.local_addr(),
        (Resource::TcpStream(s, _), true) => s.peer_addr(),
        (Resource::TcpStream(s, _), false) => s.local_addr(),
        (Resource::ReadHalf(r, _), true) => r.peer_addr(),
        (Resource::ReadHalf(r, _), false) => r.local_addr(),
        (Resource::WriteHalf(w, _), true) => w.peer_addr(),
        (Resource::WriteHalf(w, _), false) => w.local_addr(),
        _ => return None,
    })
}

/// The default timeouts of the stream or half `h`, and the direction
/// `direction` names; fails for another resource, a direction the handle
/// cannot use (a read half has no write timeout), or an unknown direction.
fn socket_timeout(
    state: &mut ProcessState,
    h: u32,
    direction: u32,
) -> Result<(&mut Timeouts, Direction), ErrorCode> {
    let Some(direction) = u8::try_from(direction).ok().and_then(Direction::from_raw) else {
        let text = format!("{direction} is not a direction (0 read, 1 write)");
        return Err(state.fail(ErrorCode::InvalidArgument, text));
    };
    let fits = match (state.handles.get(h), direction) {
        (Some(Resource::TcpStream(..)), _)
        | (Some(Resource::ReadHalf(..)), Direction::Read)
        | (Some(Resource::WriteHalf(..)), Direction::Write) => Ok(()),
        (Some(r), _) => Err(format!(
            "handle {h} is {}, which has no {direction:?} timeout",
            r.kind()
        )),
        (None, _) => Err(format!("handle {h} is not owned by this process")),
    };
    match fits {
        Ok(()) => {
            let t = state.handles.get_mut(h).and_then(Resource::timeouts_mut);
            Ok((t.expect("checked above"), direction))
        }
        Err(text) => Err(state.fail(ErrorCode::InvalidHandle, text)),
    }
}

/// Runs `f` on the socket under the stream or half `h` (a socket option is
/// the whole connection's, whichever half sets it).
fn with_stream_socket<T>(
    state: &mut ProcessState,
    h: u32,
    f: impl FnOnce(socket2::SockRef<'_>) -> io::Result<T>,
) -> Result<T, ErrorCode> {
    let done = match state.handles.get(h) {
        Some(Resource::TcpStream(s, _)) => f(socket2::SockRef::from(s)),
        Some(Resource::ReadHalf(r, _)) => f(socket2::SockRef::from(r.as_ref())),
        Some(Resource::WriteHalf(w, _)) => f(socket2::SockRef::from(w.as_ref())),
        Some(r) => {
            let text = format!("handle {h} is {}, not a stream or half", r.kind());
            return Err(state.fail(ErrorCode::InvalidHandle, text));
        }
        None => {
            let text = format!("handle {h} is not owned by this process");
            return Err(state.fail(ErrorCode::InvalidHandle, text));
        }
    };
    done.map_err(|e| io_fail(state, "setting a socket option", e))
}

fn shut(state: &mut ProcessState, h: u32, how: u32) -> Result<(), ErrorCode> {
    use std::net::Shutdown;
    let how = match u8::try_from(how)
        .ok()
        .and_then(vm_abi::ShutdownHow::from_raw)
    {
        Some(ShutdownHow::Read) => Shutdown::Read,
        Some(ShutdownHow::Write) => Shutdown::Write,
        Some(ShutdownHow::Both) => Shutdown::Both,
        None => {
            return Err(state.fail(
                ErrorCode::InvalidArgument,
                format!("{how} is not a shutdown direction"),
            ))
        }
    };
    let done = match (state.handles.get(h), how) {
        (Some(Resource::TcpStream(s, _)), _) => socket2::SockRef::from(s).shutdown(how),
        (Some(Resource::ReadHalf(r, _)), Shutdown::Read) => {
            socket2::SockRef::from(r.as_ref()).shutdown(how)
        }
        (Some(Resource::WriteHalf(w, _)), Shutdown::Write) => {
            socket2::SockRef::from(w.as_ref()).shutdown(how)
        }
        (Some(r), _) => {
            let msg = format!("handle {h} is {}, which cannot shut down {how:?}", r.kind());
            return Err(state.fail(ErrorCode::InvalidHandle, msg));
        }
        (None, _) => {
            return Err(state.fail(
                ErrorCode::InvalidHandle,
                format!("handle {h} is not owned by this process"),
            ))
        }
    };
    // Shutting down a direction the peer already closed is not a failure.
    match done {
        Err(e) if e.kind() != io::ErrorKind::NotConnected => {
            Err(io_fail(state, "shutting down", e))
        }
        _ => Ok(()),
    }
}

fn rejoin(state: &mut ProcessState, rh: u32, wh: u32) -> Result<u32, ErrorCode> {
    let ok_kinds = matches!(state.handles.get(rh), Some(Resource::ReadHalf(..)))
        && matches!(state.handles.get(wh), Some(Resource::WriteHalf(..)));
    if !ok_kinds {
        return Err(state.fail(
            ErrorCode::InvalidHandle,
            format!("handles {rh} and {wh} are not a read half and a write half of this process"),
        ));
    }
    let (Some(Resource::ReadHalf(r, rt)), Some(Resource::WriteHalf(w, wt))) =
        (state.handles.remove(rh), state.handles.remove(wh))
    else {
        unreachable!("kinds checked above")
    };
    match r.reunite(w) {
        Ok(stream) => {
            let timeouts = Timeouts {
                read: rt.read,
                write: wt.write,
            };
            let stream = Resource::TcpStream(stream, timeouts);
            // Two handles become one: this cannot pass a limit the halves
            // did not, so the stream is kept whatever the bounds say now.
            match state.handles.insert(stream) {
                Ok(h) => Ok(h),
                Err((stream, _)) => {
                    state.handles.restore(rh, stream);
                    Ok(rh)
                }
            }
        }
        Err(e) => {
            state.handles.restore(rh, Resource::ReadHalf(e.0, rt));
            state.handles.restore(wh, Resource::WriteHalf(e.1, wt));
            Err(state.fail(
                ErrorCode::NotPaired,
                format!("handles {rh} and {wh} are halves of different streams; both are kept"),
            ))
        }
    }
}
