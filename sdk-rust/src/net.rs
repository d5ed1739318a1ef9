//! TCP networking: listeners, streams, and streams split into an owned
//! [`OwnedReadHalf`] and [`OwnedWriteHalf`].
//!
//! Every type here is a resource: put it in a message and it moves to the
//! receiving process (the sender no longer has it). A stream splits into
//! halves that can live in different processes; dropping the write half shuts
//! down writing, and the socket closes when the last half is gone — also when
//! the process owning it ends. [`OwnedReadHalf::reunite`] joins the halves again.
//! A read half cannot write, nor a write half read: the types only implement
//! [`Read`] or [`Write`]. The names and methods follow tokio's and std's
//! (`into_split`, `OwnedReadHalf`, `set_read_timeout`, `set_nodelay`, `peek`, `local_addr`,
//! `peer_addr`); where they differ, the item's documentation says so.
//!
//! The VM denies the network unless started with `--allow-net`.
//!
//! ```no_run
//! use std::io::{Read, Write};
//! use vm_sdk::net::TcpListener;
//!
//! let listener = TcpListener::bind("127.0.0.1:0")?;
//! println!("listening on {}", listener.local_addr()?);
//! for stream in listener.incoming() {
//!     let mut stream = stream?;
//!     let mut buf = [0u8; 1024];
//!     let n = stream.read(&mut buf)?;
//!     stream.write_all(&buf[..n])?;
//! }
//! # Ok::<(), std::io::Error>(())
//! ```

use crate::abi::{self, Direction, ErrorCode, ShutdownHow};
use crate::error::Error;
use crate::handle::OwnedHandle;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::time::Duration;

/// Values that name a socket address: `"127.0.0.1:80"`, `"localhost:80"`,
/// a [`SocketAddr`], `(IpAddr, u16)`, `("host", u16)`. Names are resolved by
/// the VM.
pub trait ToSocketAddrs {
    /// The address as text.
    fn to_address(&self) -> String;
}

impl ToSocketAddrs for str {
    fn to_address(&self) -> String {
        self.to_string()
    }
}

impl ToSocketAddrs for String {
    fn to_address(&self) -> String {
        self.clone()
    }
}

impl<T: ToSocketAddrs + ?Sized> ToSocketAddrs for &T {
    fn to_address(&self) -> String {
        (**self).to_address()
    }
}

impl ToSocketAddrs for SocketAddr {
    fn to_address(&self) -> String {
        self.to_string()
    }
}

impl ToSocketAddrs for SocketAddrV4 {
    fn to_address(&self) -> String {
        self.to_string()
    }
}

impl ToSocketAddrs for SocketAddrV6 {
    fn to_address(&self) -> String {
        self.to_string()
    }
}

impl ToSocketAddrs for (IpAddr, u16) {
    fn to_address(&self) -> String {
        SocketAddr::from(*self).to_string()
    }
}

impl ToSocketAddrs for (Ipv4Addr, u16) {
    fn to_address(&self) -> String {
        SocketAddr::from(*self).to_string()
    }
}

impl ToSocketAddrs for (Ipv6Addr, u16) {
    fn to_address(&self) -> String {
        SocketAddr::from(*self).to_string()
    }
}

impl ToSocketAddrs for (&str, u16) {
    fn to_address(&self) -> String {
        format!("{}:{}", self.0, self.1)
    }
}

impl From<Error> for io::Error {
    fn from(e: Error) -> io::Error {
        let kind = match e.code() {
            Some(ErrorCode::ConnectionRefused) => io::ErrorKind::ConnectionRefused,
            Some(ErrorCode::ConnectionReset) => io::ErrorKind::ConnectionReset,
            Some(ErrorCode::AddressInUse) => io::ErrorKind::AddrInUse,
            Some(ErrorCode::Unreachable) => io::ErrorKind::HostUnreachable,
            Some(ErrorCode::Timeout) => io::ErrorKind::TimedOut,
            Some(ErrorCode::PermissionDenied) => io::ErrorKind::PermissionDenied,
            Some(ErrorCode::InvalidArgument) => io::ErrorKind::InvalidInput,
            Some(ErrorCode::InvalidHandle) => io::ErrorKind::NotConnected,
            Some(ErrorCode::NotFound) => io::ErrorKind::NotFound,
            _ => io::ErrorKind::Other,
        };
        io::Error::new(kind, e)
    }
}

/// A timeout as std accepts it: zero is refused (std refuses it too; to
/// not wait, use `try_write`, or a receive with a zero timeout).
fn checked_timeout(t: Option<Duration>) -> io::Result<Option<Duration>> {
    if t == Some(Duration::ZERO) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "cannot set a 0 duration timeout",
        ));
    }
    Ok(t)
}

/// Sets the socket's own timeout for one direction: it moves with the
/// socket to other processes, and a read or write without a timeout of its
/// own waits at most that long.
fn set_timeout(handle: u32, direction: Direction, t: Option<Duration>) -> io::Result<()> {
    let nanos = match checked_timeout(t)? {
        // At least 1ns: 0 would clear the timeout.
        Some(d) => u64::try_from(d.as_nanos()).unwrap_or(u64::MAX).max(1),
        None => 0,
    };
    // SAFETY: plain values.
    Ok(crate::call(|ret| unsafe {
        abi::net::set_timeout(handle, direction as u8, nanos, ret)
    })?)
}

/// The socket's own timeout for one direction.
fn timeout_of(handle: u32, direction: Direction) -> io::Result<Option<Duration>> {
    // SAFETY: plain values.
    let nanos = crate::call(|ret| unsafe { abi::net::timeout(handle, direction as u8, ret) })?;
    Ok((nanos != 0).then(|| Duration::from_nanos(nanos)))
}

fn set_nodelay(handle: u32, enabled: bool) -> io::Result<()> {
    // SAFETY: plain values.
    Ok(crate::call(|ret| unsafe {
        abi::net::set_nodelay(handle, enabled, ret)
    })?)
}

fn nodelay(handle: u32) -> io::Result<bool> {
    // SAFETY: plain values.
    Ok(crate::call(|ret| unsafe {
        abi::net::nodelay(handle, ret)
    })?)
}

fn timeout_args(t: Option<Duration>) -> (u32, u64) {
    match t {
        Some(d) => (1, u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)),
        None => (0, 0),
    }
}

/// Calls an address query (`local-address`/`peer-address`) and parses it.
fn address(handle: u32, peer: bool) -> io::Result<SocketAddr> {
    let mut buf = [0u8; 64];
    let (dst, len) = (buf.as_mut_ptr() as u32, buf.len() as u32);
    // SAFETY: the buffer is valid for writes of its length.
    let n = crate::call(|ret| unsafe {
        if peer {
            abi::net::peer_address(handle, dst, len, ret)
        } else {
            abi::net::local_address(handle, dst, len, ret)
        }
    })? as usize;
    parse_address(&buf[..n.min(buf.len())])
}

/// An address the VM wrote as text.
fn parse_address(text: &[u8]) -> io::Result<SocketAddr> {
    std::str::from_utf8(text)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                "the VM returned an unreadable address",
            )
        })
}

/// The addresses a host name resolves to, looked up by the VM: `"db.internal"`
/// (port 0), `"db.internal:5432"`, or an IP literal, which is returned as is.
/// Like tokio's `lookup_host`, but with the port optional.
///
/// The VM looks a name up only when its `--allow-net` rules could permit it
/// (`*`, or a rule naming that host); otherwise this fails with
/// [`io::ErrorKind::PermissionDenied`] and no query leaves the machine.
/// `localhost` is loopback without a lookup.
///
/// ```no_run
/// let addrs = vm_sdk::net::lookup_host("localhost:8080")?;
/// assert!(addrs.iter().all(|a| a.ip().is_loopback()));
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// # Errors
/// `PermissionDenied` as above, `NotFound` for a name with no address, and
/// the other I/O errors of a failed lookup.
pub fn lookup_host(host: &str) -> io::Result<Vec<SocketAddr>> {
    let mut buf = vec![0u8; 256];
    loop {
        let (dst, len) = (buf.as_mut_ptr() as u32, buf.len() as u32);
        // SAFETY: the name is valid for reads and the buffer for writes of
        // their lengths.
        let n = crate::call(|ret| unsafe {
            abi::net::resolve(host.as_ptr(), host.len(), dst, len, ret)
        })? as usize;
        if n > buf.len() {
            // The whole list did not fit: ask again with room for it.
            buf.resize(n, 0);
            continue;
        }
        return buf[..n]
            .split(|&b| b == b'\n')
            .filter(|line| !line.is_empty())
            .map(parse_address)
            .collect();
    }
}

/// Reads (or, with `peek`, peeks) within the socket's own read timeout.
fn read_from(handle: u32, buf: &mut [u8], peek: bool) -> io::Result<usize> {
    let len = u32::try_from(buf.len()).unwrap_or(u32::MAX);
    let dst = buf.as_mut_ptr() as u32;
    // SAFETY: the buffer is valid for writes of `len` bytes.
    Ok(crate::call(|ret| unsafe {
        if peek {
            abi::net::peek(handle, dst, len, 0, 0, ret)
        } else {
            abi::net::read(handle, dst, len, 0, 0, ret)
        }
    })? as usize)
}

/// Writes, waiting for room at most the socket's own write timeout.
fn write_to(handle: u32, buf: &[u8]) -> io::Result<usize> {
    // Most writes fit in the socket's send buffer: try without waiting (a
    // call that never suspends the process, so it is cheaper), and make the
    // call that waits for room only when the buffer is full.
    let n = try_write_to(handle, buf)?;
    if n > 0 || buf.is_empty() {
        return Ok(n);
    }
    // SAFETY: the buffer is valid for reads of its length.
    Ok(
        crate::call(|ret| unsafe { abi::net::write(handle, buf.as_ptr(), buf.len(), 0, 0, ret) })?
            as usize,
    )
}

/// Writes what the send buffer takes now; 0 when it is full.
fn try_write_to(handle: u32, buf: &[u8]) -> io::Result<usize> {
    // SAFETY: the buffer is valid for reads of its length.
    Ok(
        crate::call(|ret| unsafe { abi::net::try_write(handle, buf.as_ptr(), buf.len(), ret) })?
            as usize,
    )
}

/// [`try_write_to`], with `WouldBlock` for a full buffer as tokio has it.
fn try_write_now(handle: u32, buf: &[u8]) -> io::Result<usize> {
    match try_write_to(handle, buf)? {
        0 if !buf.is_empty() => Err(io::ErrorKind::WouldBlock.into()),
        n => Ok(n),
    }
}

fn shutdown(handle: u32, how: Shutdown) -> io::Result<()> {
    let how = match how {
        Shutdown::Read => ShutdownHow::Read,
        Shutdown::Write => ShutdownHow::Write,
        Shutdown::Both => ShutdownHow::Both,
    };
    // SAFETY: plain values.
    Ok(crate::call(|ret| unsafe {
        abi::net::shutdown(handle, how as u8, ret)
    })?)
}

/// A TCP listener.
#[derive(Debug, Serialize, Deserialize)]
pub struct TcpListener {
    handle: OwnedHandle,
}

impl TcpListener {
    /// The raw handle, for calls through [`crate::abi`]. It stays owned by
    /// this value.
    pub fn raw_handle(&self) -> u32 {
        self.handle.raw()
    }

    /// Binds to an address; port 0 picks a free port (see [`local_addr`](Self::local_addr)).
    ///
    /// # Errors
    /// `PermissionDenied` unless the VM grants the address (`--allow-net`),
    /// `AddrInUse`, or a resolution failure.
    pub fn bind(address: impl ToSocketAddrs) -> io::Result<TcpListener> {
        let text = address.to_address();
        // SAFETY: the buffers are valid for the call.
        let handle = crate::call(|ret| unsafe { abi::net::bind(text.as_ptr(), text.len(), ret) })?;
        Ok(TcpListener {
            handle: OwnedHandle::new(handle),
        })
    }

    /// Waits for a connection.
    ///
    /// # Errors
    /// An I/O error from the VM.
    pub fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        self.accept_timeout(None)
    }

    /// Waits at most `timeout` for a connection (`TimedOut` after).
    ///
    /// # Errors
    /// As [`accept`](Self::accept), or `TimedOut`.
    pub fn accept_timeout(&self, timeout: Option<Duration>) -> io::Result<(TcpStream, SocketAddr)> {
        let (has, nanos) = timeout_args(timeout);
        // The peer's address comes with the connection: asking for it after
        // could fail (a peer that reset at once) and lose the stream.
        let mut buf = [0u8; 64];
        let (dst, len) = (buf.as_mut_ptr() as u32, buf.len() as u32);
        // SAFETY: the buffer and the return area are valid for the call.
        let handle = crate::call(|ret| unsafe {
            abi::net::accept_from(self.handle.raw(), has, nanos, dst, len, ret)
        })?;
        let stream = TcpStream::from_handle(OwnedHandle::new(handle));
        let peer = parse_address(buf.split(|&b| b == 0).next().unwrap_or_default())?;
        Ok((stream, peer))
    }

    /// An endless iterator of accepted connections.
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming { listener: self }
    }

    /// The address the listener is bound to.
    ///
    /// # Errors
    /// An I/O error from the VM.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        address(self.handle.raw(), false)
    }
}

/// Connections accepted by a [`TcpListener`], from [`TcpListener::incoming`].
#[derive(Debug)]
pub struct Incoming<'a> {
    listener: &'a TcpListener,
}

impl Iterator for Incoming<'_> {
    type Item = io::Result<TcpStream>;

    fn next(&mut self) -> Option<Self::Item> {
        Some(self.listener.accept().map(|(s, _)| s))
    }
}

/// A TCP connection. Reads and writes block this process only.
#[derive(Debug, Serialize, Deserialize)]
pub struct TcpStream {
    handle: OwnedHandle,
}

impl TcpStream {
    /// Writes as much of `buf` as the socket's send buffer takes now, without
    /// waiting; [`io::ErrorKind::WouldBlock`] when it is full. (Writes
    /// through [`Write`] wait for room instead.)
    ///
    /// # Errors
    /// `WouldBlock`, or the reason the stream failed.
    pub fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        try_write_now(self.handle.raw(), buf)
    }

    /// The raw handle, for calls through [`crate::abi`]. It stays owned by
    /// this value.
    pub fn raw_handle(&self) -> u32 {
        self.handle.raw()
    }

    fn from_handle(handle: OwnedHandle) -> Self {
        TcpStream { handle }
    }

    /// Connects to an address (trying each address a name resolves to).
    ///
    /// # Errors
    /// `PermissionDenied` unless the VM grants it, `ConnectionRefused`, and
    /// other I/O errors.
    pub fn connect(address: impl ToSocketAddrs) -> io::Result<TcpStream> {
        Self::connect_timeout(address, None)
    }

    /// Connects, giving up after `timeout` (`TimedOut`).
    ///
    /// # Errors
    /// As [`connect`](Self::connect), or `TimedOut`.
    pub fn connect_timeout(
        address: impl ToSocketAddrs,
        timeout: Option<Duration>,
    ) -> io::Result<TcpStream> {
        let text = address.to_address();
        let (has, nanos) = timeout_args(timeout);
        // SAFETY: the buffers are valid for the call.
        let handle = crate::call(|ret| unsafe {
            abi::net::connect(text.as_ptr(), text.len(), has, nanos, ret)
        })?;
        Ok(Self::from_handle(OwnedHandle::new(handle)))
    }

    /// How long a read may wait (`None`: forever); a read that times out
    /// fails with `TimedOut`. As with std's socket option, the timeout is
    /// the socket's: it moves with the stream to another process, and
    /// [`into_split`](TcpStream::into_split) gives it to the read half.
    ///
    /// # Errors
    /// `InvalidInput` for a zero duration, as std has it.
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        set_timeout(self.handle.raw(), Direction::Read, timeout)
    }

    /// The read timeout [`set_read_timeout`](Self::set_read_timeout) set.
    ///
    /// # Errors
    /// An I/O error from the VM.
    pub fn read_timeout(&self) -> io::Result<Option<Duration>> {
        timeout_of(self.handle.raw(), Direction::Read)
    }

    /// How long a write may wait for room (`None`: forever); a write that
    /// times out fails with `TimedOut`. As with std's socket option, the
    /// timeout is the socket's and moves with it.
    ///
    /// # Errors
    /// `InvalidInput` for a zero duration, as std has it.
    pub fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        set_timeout(self.handle.raw(), Direction::Write, timeout)
    }

    /// The write timeout [`set_write_timeout`](Self::set_write_timeout) set.
    ///
    /// # Errors
    /// An I/O error from the VM.
    pub fn write_timeout(&self) -> io::Result<Option<Duration>> {
        timeout_of(self.handle.raw(), Direction::Write)
    }

    /// Sets `TCP_NODELAY`. The VM sets it on every stream, so small
    /// writes leave at once; `false` lets the kernel coalesce them (Nagle's
    /// algorithm). It is the connection's option, kept when it moves.
    ///
    /// # Errors
    /// An I/O error from the VM.
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        set_nodelay(self.handle.raw(), nodelay)
    }

    /// Whether `TCP_NODELAY` is set.
    ///
    /// # Errors
    /// An I/O error from the VM.
    pub fn nodelay(&self) -> io::Result<bool> {
        nodelay(self.handle.raw())
    }

    /// Reads into `buf` without taking the bytes: the next read returns
    /// them again. Waits for data as a read does (within the read timeout).
    ///
    /// # Errors
    /// As a read.
    pub fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        read_from(self.handle.raw(), buf, true)
    }

    /// Shuts down reading, writing, or both.
    ///
    /// # Errors
    /// An I/O error from the VM.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        shutdown(self.handle.raw(), how)
    }

    /// The peer's address.
    ///
    /// # Errors
    /// An I/O error from the VM.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        address(self.handle.raw(), true)
    }

    /// This end's address.
    ///
    /// # Errors
    /// An I/O error from the VM.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        address(self.handle.raw(), false)
    }

    /// Splits the stream into a half that reads and a half that writes; each
    /// can be moved to a different process.
    pub fn into_split(self) -> (OwnedReadHalf, OwnedWriteHalf) {
        let TcpStream { handle } = self;
        // SAFETY: the return area is valid; the stream handle is consumed.
        let halves = crate::call(|ret| unsafe { abi::net::split(handle.raw(), ret) })
            .expect("splitting a stream this process owns");
        handle.consume();
        (
            OwnedReadHalf {
                handle: OwnedHandle::new(halves.read),
            },
            OwnedWriteHalf {
                handle: OwnedHandle::new(halves.write),
            },
        )
    }
}

impl Read for TcpStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        read_from(self.handle.raw(), buf, false)
    }
}

impl Write for TcpStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        write_to(self.handle.raw(), buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The reading half of a split [`TcpStream`]. It sees end-of-stream (a read
/// of 0 bytes) when the peer closes its side.
#[derive(Debug, Serialize, Deserialize)]
pub struct OwnedReadHalf {
    handle: OwnedHandle,
}

/// The writing half of a split [`TcpStream`]. Dropping it shuts down the
/// stream's writing direction.
#[derive(Debug, Serialize, Deserialize)]
pub struct OwnedWriteHalf {
    handle: OwnedHandle,
}

/// Two halves that are not of the same stream, given back by
/// [`OwnedReadHalf::reunite`].
#[derive(Debug)]
pub struct ReuniteError(pub OwnedReadHalf, pub OwnedWriteHalf);

impl fmt::Display for ReuniteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("tried to reunite halves that are not from the same stream")
    }
}

impl std::error::Error for ReuniteError {}

/// What an active read half delivers ([`OwnedReadHalf::set_active`]): a
/// data message in its owner's mailbox, tagged as asked, so a reader can
/// wait for its socket with `Mailbox::<SocketEvent>` (or beside its other
/// messages, selecting by tag), and hibernate meanwhile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SocketEvent {
    /// Bytes read (at most 64 KiB).
    Data(Vec<u8>),
    /// The peer closed its side; the half is passive again.
    Closed,
    /// Reading failed, with why; the half is passive again.
    Error(String),
}

impl OwnedReadHalf {
    /// The raw handle, for calls through [`crate::abi`]. It stays owned by
    /// this value.
    pub fn raw_handle(&self) -> u32 {
        self.handle.raw()
    }

    /// Erlang's `{active, N}`: the next `count` reads arrive as
    /// [`SocketEvent`] messages tagged `tag`, rather than through `read`;
    /// after them (or the end, or an error) the half is passive again and
    /// reads as before. `count` 0 makes it passive now (a read that
    /// completes first still arrives). While it is active, a read fails
    /// with `InvalidInput`, and it cannot move to another process; a
    /// process that hibernates keeps it active, and wakes for each event.
    ///
    /// # Errors
    /// An I/O error from the VM.
    pub fn set_active(&self, count: u32, tag: u64) -> io::Result<()> {
        // SAFETY: plain values.
        Ok(crate::call(|ret| unsafe {
            abi::net::set_active(self.handle.raw(), count, tag, ret)
        })?)
    }

    /// Erlang's `{active, once}`: the next read arrives as one
    /// [`SocketEvent`] message tagged `tag`.
    ///
    /// # Errors
    /// An I/O error from the VM.
    pub fn set_active_once(&self, tag: u64) -> io::Result<()> {
        self.set_active(1, tag)
    }

    /// Ends [`OwnedReadHalf::set_active`]: reads go through `read` again.
    ///
    /// # Errors
    /// An I/O error from the VM.
    pub fn set_passive(&self) -> io::Result<()> {
        self.set_active(0, 0)
    }

    /// Joins this half with the write half of the same stream.
    ///
    /// # Errors
    /// [`ReuniteError`], holding both halves, if they are of different streams.
    pub fn reunite(self, write: OwnedWriteHalf) -> Result<TcpStream, ReuniteError> {
        // SAFETY: the return area is valid.
        match crate::call(|ret| unsafe {
            abi::net::reunite(self.handle.raw(), write.handle.raw(), ret)
        }) {
            Ok(handle) => {
                self.handle.consume();
                write.handle.consume();
                Ok(TcpStream {
                    handle: OwnedHandle::new(handle),
                })
            }
            Err(_) => Err(ReuniteError(self, write)),
        }
    }

    /// How long a read may wait (`None`: forever); a read that times out
    /// fails with `TimedOut`. As with std's socket option, the timeout is
    /// the socket's: it moves with the half to another process, and
    /// [`reunite`](Self::reunite) keeps it.
    ///
    /// # Errors
    /// `InvalidInput` for a zero duration, as std has it.
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        set_timeout(self.handle.raw(), Direction::Read, timeout)
    }

    /// The read timeout [`set_read_timeout`](Self::set_read_timeout) set.
    ///
    /// # Errors
    /// An I/O error from the VM.
    pub fn read_timeout(&self) -> io::Result<Option<Duration>> {
        timeout_of(self.handle.raw(), Direction::Read)
    }

    /// Reads into `buf` without taking the bytes: the next read returns
    /// them again. Waits for data as a read does (within the read timeout).
    ///
    /// # Errors
    /// As a read.
    pub fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        read_from(self.handle.raw(), buf, true)
    }

    /// The peer's address.
    ///
    /// # Errors
    /// An I/O error from the VM.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        address(self.handle.raw(), true)
    }

    /// The local address.
    ///
    /// # Errors
    /// An I/O error from the VM.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        address(self.handle.raw(), false)
    }

    /// Stops reading; further reads return end-of-stream.
    ///
    /// # Errors
    /// An I/O error from the VM.
    pub fn shutdown(&self) -> io::Result<()> {
        shutdown(self.handle.raw(), Shutdown::Read)
    }
}

impl Read for OwnedReadHalf {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        read_from(self.handle.raw(), buf, false)
    }
}

impl OwnedWriteHalf {
    /// Writes as much of `buf` as the socket's send buffer takes now, without
    /// waiting; [`io::ErrorKind::WouldBlock`] when it is full.
    ///
    /// # Errors
    /// `WouldBlock`, or the reason the stream failed.
    pub fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        try_write_now(self.handle.raw(), buf)
    }

    /// The raw handle, for calls through [`crate::abi`]. It stays owned by
    /// this value.
    pub fn raw_handle(&self) -> u32 {
        self.handle.raw()
    }

    /// How long a write may wait for room (`None`: forever); a write that
    /// times out fails with `TimedOut`. As with std's socket option, the
    /// timeout is the socket's and moves with it.
    ///
    /// # Errors
    /// `InvalidInput` for a zero duration, as std has it.
    pub fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        set_timeout(self.handle.raw(), Direction::Write, timeout)
    }

    /// The write timeout [`set_write_timeout`](Self::set_write_timeout) set.
    ///
    /// # Errors
    /// An I/O error from the VM.
    pub fn write_timeout(&self) -> io::Result<Option<Duration>> {
        timeout_of(self.handle.raw(), Direction::Write)
    }

    /// Sets `TCP_NODELAY`. The VM sets it on every stream, so small
    /// writes leave at once; `false` lets the kernel coalesce them (Nagle's
    /// algorithm). It is the whole connection's option (tokio has it on the stream
    /// only; here a write half that moved away can set it too).
    ///
    /// # Errors
    /// An I/O error from the VM.
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        set_nodelay(self.handle.raw(), nodelay)
    }

    /// Whether `TCP_NODELAY` is set.
    ///
    /// # Errors
    /// An I/O error from the VM.
    pub fn nodelay(&self) -> io::Result<bool> {
        nodelay(self.handle.raw())
    }

    /// The peer's address.
    ///
    /// # Errors
    /// An I/O error from the VM.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        address(self.handle.raw(), true)
    }

    /// The local address.
    ///
    /// # Errors
    /// An I/O error from the VM.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        address(self.handle.raw(), false)
    }

    /// Shuts down writing now; the peer sees end-of-stream.
    ///
    /// # Errors
    /// An I/O error from the VM.
    pub fn shutdown(&self) -> io::Result<()> {
        shutdown(self.handle.raw(), Shutdown::Write)
    }
}

impl Write for OwnedWriteHalf {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        write_to(self.handle.raw(), buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
