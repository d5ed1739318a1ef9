//! `vm:host/net`'s calls on a socket itself: its addresses, timeouts and
//! options, `shutdown`, `split` into halves and `reunite`, and
//! `set-active` (reads that arrive as messages).

use super::{check, io_fail, settled, take};
use crate::handle::{Resource, Timeouts};
use crate::host::write_text;
use crate::host::{memory, spec, write_result, Ctx};
use crate::process::ProcessState;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;
use vm_abi::{Direction, ErrorCode, Halves, ShutdownHow};
use wasmtime::Linker;

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
            crate::active_read::ActiveRead::start(state.node.clone(), state.id, tag, count, half);
        Resource::ActiveRead(active, timeouts)
    };
    state.handles.restore(h, resource);
    Ok(())
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

pub(super) fn add(linker: &mut Linker<ProcessState>) -> wasmtime::Result<()> {
    let m = spec("net", "shutdown").module;

    let shutdown = spec("net", "shutdown");
    linker.func_wrap(
        m,
        "shutdown",
        move |mut caller: Ctx<'_>, h: u32, how: u32, ret: u32| -> wasmtime::Result<()> {
            crate::host::not_in_realloc(&caller)?;
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
                crate::host::not_in_realloc(&caller)?;
                let (mem, state) = memory(&mut caller)?;
                settled(state, h);
                let result = match socket_address(state.handles.get(h), peer) {
                    Some(Ok(a)) => write_text(mem, dst, len, &a.to_string())
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
            crate::host::not_in_realloc(&caller)?;
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
            crate::host::not_in_realloc(&caller)?;
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
            crate::host::not_in_realloc(&caller)?;
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
            crate::host::not_in_realloc(&caller)?;
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
            crate::host::not_in_realloc(&caller)?;
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
                crate::host::not_in_realloc(&caller)?;
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
            crate::host::not_in_realloc(&caller)?;
            let (mem, state) = memory(&mut caller)?;
            settled(state, rh);
            let result = rejoin(state, rh, wh);
            write_result(mem, reunite, ret, result)
        },
    )?;

    Ok(())
}
