//! `vm:host/net`'s ways to a connection: `resolve`, `bind`, `accept`,
//! `accept-from` and `connect`, each within the VM's `--allow-net` rules.

use super::{deadline, insert, io_fail, within_deadline};
use crate::handle::{Resource, Timeouts};
use crate::host::write_text;
use crate::host::{bytes_mut, memory, spec, string, write_result, Ctx};
use crate::process::ProcessState;
use crate::resolver::{self, ResolveError};
use std::net::SocketAddr;
use std::sync::Arc;
use vm_abi::ErrorCode;
use wasmtime::Linker;

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

pub(super) fn add(linker: &mut Linker<ProcessState>) -> wasmtime::Result<()> {
    let resolve = spec("net", "resolve");
    let m = resolve.module;
    linker.func_wrap_async(
        m,
        "resolve",
        move |mut caller: Ctx<'_>, (ptr, len, dst, dst_len, ret): (u32, u32, u32, u32, u32)| {
            Box::new(async move {
                crate::host::not_in_realloc(&caller)?;
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
                    write_text(mem, dst, dst_len, &text)
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
                crate::host::not_in_realloc(&caller)?;
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
                crate::host::not_in_realloc(&caller)?;
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
                crate::host::not_in_realloc(&caller)?;
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
                crate::host::not_in_realloc(&caller)?;
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

    Ok(())
}
