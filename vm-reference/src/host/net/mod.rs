//! `vm:host/net`: TCP listeners, streams, and their split halves; the
//! calls are grouped by what they act on ([`connect`], [`transfer`],
//! [`socket`]), and the checks they share are here.
//!
//! Reads and writes use a stream where it lies in the caller's handle table
//! (the process waits in the call, so nothing else changes the table), and
//! an accept holds a shared reference to its listener. A process killed
//! mid-call thus drops (and closes) its sockets with everything else it
//! owned.

use crate::handle::Resource;
use crate::process::ProcessState;
use std::future::Future;
use std::io;
use std::time::Duration;
use vm_abi::ErrorCode;
use wasmtime::Linker;

mod connect;
mod socket;
mod transfer;

fn timeout(is_some: u32, nanos: u64) -> Option<Duration> {
    (is_some != 0).then(|| Duration::from_nanos(nanos))
}

/// When an operation given `nanos` (if `is_some`) must end.
fn deadline(is_some: u32, nanos: u64) -> Option<tokio::time::Instant> {
    timeout(is_some, nanos).map(|d| tokio::time::Instant::now() + d)
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
        let active = crate::active_read::settle(r);
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

/// Makes handle `h`, if it is an active read half whose reader has
/// finished, a plain read half again, as every call on it sees it.
fn settled(state: &mut ProcessState, h: u32) {
    if let Some(r) = state.handles.get_mut(h) {
        crate::active_read::settle(r);
    }
}

/// Adds every `vm:host/net` function to `linker`.
pub(crate) fn add(linker: &mut Linker<ProcessState>) -> wasmtime::Result<()> {
    connect::add(linker)?;
    transfer::add(linker)?;
    socket::add(linker)
}
