//! How the address text a guest passes (`10.0.0.7:80`, `db.internal:5432`,
//! `localhost:7000`) becomes socket addresses, with the `--allow-net` policy
//! decided on the **name** before anything leaves the machine.
//!
//! An IP literal needs no lookup, and `localhost` is loopback by definition
//! (RFC 6761), so neither reaches a resolver. Any other name is looked up
//! only when a rule could permit it: `*`, or a rule naming that host.
//! Otherwise the call fails with `permission-denied` and no DNS query is
//! sent (a lookup is itself a message to the network, and a name can carry
//! data out). The addresses a permitted lookup returns are then checked
//! against the rules like any other.
//!
//! The lookup itself is a [`Resolver`]: the system's by default, or the
//! embedder's own ([`crate::VmBuilder::resolver`]).

use crate::net_policy::NetPolicy;
use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;

/// A future a [`Resolver`] returns.
pub type Lookup<'a> = Pin<Box<dyn Future<Output = io::Result<Vec<SocketAddr>>> + Send + 'a>>;

/// Looks up host names for the VM's processes. The VM calls it only for
/// names the `--allow-net` rules permit, never for IP literals or
/// `localhost`.
///
/// ```
/// use std::net::SocketAddr;
/// use vm_reference::{Lookup, Resolver};
///
/// /// Resolves every name to one fixed address, without the network.
/// struct Fixed(SocketAddr);
///
/// impl Resolver for Fixed {
///     fn lookup<'a>(&'a self, _host: &'a str, port: u16) -> Lookup<'a> {
///         let addr = SocketAddr::new(self.0.ip(), port);
///         Box::pin(async move { Ok(vec![addr]) })
///     }
/// }
///
/// let vm = vm_reference::Vm::builder()
///     .resolver(Fixed("127.0.0.1:0".parse().unwrap()))
///     .build();
/// ```
pub trait Resolver: Send + Sync + 'static {
    /// The addresses of `host` (a name, never an IP literal), each with
    /// `port`.
    ///
    /// # Errors
    /// An I/O error the guest sees as a failed call (`not-found` for a name
    /// with no address).
    fn lookup<'a>(&'a self, host: &'a str, port: u16) -> Lookup<'a>;
}

/// The operating system's resolver (`getaddrinfo`, through tokio).
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemResolver;

impl Resolver for SystemResolver {
    fn lookup<'a>(&'a self, host: &'a str, port: u16) -> Lookup<'a> {
        Box::pin(async move { Ok(tokio::net::lookup_host((host, port)).await?.collect()) })
    }
}

/// Why address text did not become permitted addresses.
#[derive(Debug)]
pub(crate) enum ResolveError {
    /// The rules forbid it; the text names the flag that would grant it.
    Denied(String),
    /// The text is malformed, or the lookup failed or found nothing.
    Io(io::Error),
}

/// What address text names.
#[derive(Debug, PartialEq)]
enum Target {
    /// An IP literal: nothing to look up.
    Address(SocketAddr),
    /// `localhost`: loopback, by definition.
    Localhost(u16),
    /// A host name to look up.
    Name(String, u16),
}

/// Parses `HOST:PORT`, `IP:PORT` or `[IPv6]:PORT`; with `default_port`,
/// also a bare host or IP.
fn parse(text: &str, default_port: Option<u16>) -> io::Result<Target> {
    let invalid = || {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("`{text}` is not an address; write IP:PORT or HOST:PORT"),
        )
    };
    if let Ok(sa) = text.parse::<SocketAddr>() {
        return Ok(Target::Address(sa));
    }
    let bare = text.trim_start_matches('[').trim_end_matches(']');
    let (host, port) = match (text.rsplit_once(':'), default_port) {
        // A bare IPv6 address has colons of its own.
        (_, Some(port)) if bare.parse::<IpAddr>().is_ok() => (bare, port),
        (Some((host, port)), _) => (host, port.parse().map_err(|_| invalid())?),
        (None, Some(port)) => (text, port),
        (None, None) => return Err(invalid()),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(invalid());
    }
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(Target::Address(SocketAddr::new(ip, port)));
    }
    if host.eq_ignore_ascii_case("localhost") {
        return Ok(Target::Localhost(port));
    }
    // Looked up as the rules name it: the case a guest chooses must not
    // reach a DNS server (it could carry a bit per letter).
    Ok(Target::Name(host.to_ascii_lowercase(), port))
}

/// The addresses `text` names (see [`parse`]), looked up with `resolver`
/// only if `policy` permits resolving the name; the host name too, if it
/// was one. The addresses are not yet checked against the rules.
pub(crate) async fn resolve(
    policy: &NetPolicy,
    resolver: &dyn Resolver,
    text: &str,
    default_port: Option<u16>,
) -> Result<(Option<String>, Vec<SocketAddr>), ResolveError> {
    match parse(text, default_port).map_err(ResolveError::Io)? {
        Target::Address(addr) => Ok((None, vec![addr])),
        Target::Localhost(port) => Ok((
            Some("localhost".to_string()),
            vec![
                SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port),
                SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), port),
            ],
        )),
        Target::Name(host, port) => {
            policy.may_resolve(&host).map_err(ResolveError::Denied)?;
            let found = resolver
                .lookup(&host, port)
                .await
                .map_err(ResolveError::Io)?;
            if found.is_empty() {
                return Err(ResolveError::Io(io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("`{host}` resolves to no address"),
                )));
            }
            Ok((Some(host), found))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(text: &str) -> Target {
        Target::Address(text.parse().unwrap())
    }

    #[test]
    fn ip_literals_and_localhost_need_no_lookup() {
        assert_eq!(parse("10.0.0.7:80", None).unwrap(), addr("10.0.0.7:80"));
        assert_eq!(parse("[::1]:80", None).unwrap(), addr("[::1]:80"));
        assert_eq!(parse("::1", Some(0)).unwrap(), addr("[::1]:0"));
        assert_eq!(parse("[::1]", Some(0)).unwrap(), addr("[::1]:0"));
        assert_eq!(parse("10.0.0.7", Some(0)).unwrap(), addr("10.0.0.7:0"));
        assert_eq!(
            parse("LocalHost:7000", None).unwrap(),
            Target::Localhost(7000)
        );
    }

    #[test]
    fn names_and_malformed_text() {
        assert_eq!(
            parse("db.internal:5432", None).unwrap(),
            Target::Name("db.internal".into(), 5432)
        );
        assert_eq!(
            parse("db.internal", Some(0)).unwrap(),
            Target::Name("db.internal".into(), 0)
        );
        // The case the guest wrote does not reach the resolver.
        assert_eq!(
            parse("dB.InTeRnAl:1", None).unwrap(),
            Target::Name("db.internal".into(), 1)
        );
        for bad in ["db.internal", ":80", "db:port", "db:99999"] {
            assert!(parse(bad, None).is_err(), "{bad}");
        }
    }
}
