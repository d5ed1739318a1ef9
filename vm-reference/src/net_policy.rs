//! Which network addresses processes may use: the `--allow-net` capability.
//!
//! The network is denied by default. Each rule grants a host (`127.0.0.1`,
//! `localhost`, `::1`), a host and port (`127.0.0.1:8080`), a CIDR range
//! (`10.0.0.0/8`), or everything (`*`).

use std::fmt;
use std::net::{IpAddr, SocketAddr};

/// One `--allow-net` rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetRule {
    /// Every address.
    Any,
    /// One IP, any port.
    Ip(IpAddr),
    /// One IP and port.
    Socket(SocketAddr),
    /// An IP range.
    Cidr(IpAddr, u8),
    /// A host name, with an optional port.
    Host(String, Option<u16>),
}

impl NetRule {
    /// Parses a rule as `--allow-net` takes it.
    ///
    /// ```
    /// use vm_reference::NetRule;
    /// assert_eq!(NetRule::parse("*"), Ok(NetRule::Any));
    /// assert!(NetRule::parse("10.0.0.0/33").is_err());
    /// ```
    ///
    /// # Errors
    /// A message naming the accepted forms.
    pub fn parse(s: &str) -> Result<NetRule, String> {
        let s = s.trim();
        let bad = || {
            format!("`{s}` is not a network rule; write a host (127.0.0.1, localhost), host:port, a CIDR range (10.0.0.0/8) or *")
        };
        if s == "*" {
            return Ok(NetRule::Any);
        }
        if let Some((ip, bits)) = s.split_once('/') {
            let ip: IpAddr = ip.parse().map_err(|_| bad())?;
            let bits: u8 = bits.parse().map_err(|_| bad())?;
            let max = if ip.is_ipv4() { 32 } else { 128 };
            if bits > max {
                return Err(bad());
            }
            return Ok(NetRule::Cidr(ip, bits));
        }
        if let Ok(ip) = s
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
        {
            return Ok(NetRule::Ip(ip));
        }
        if let Ok(sa) = s.parse::<SocketAddr>() {
            return Ok(NetRule::Socket(sa));
        }
        let (host, port) = match s.rsplit_once(':') {
            Some((h, p)) => (h, Some(p.parse::<u16>().map_err(|_| bad())?)),
            None => (s, None),
        };
        if host.is_empty()
            || !host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        {
            return Err(bad());
        }
        Ok(NetRule::Host(host.to_ascii_lowercase(), port))
    }

    fn allows(&self, host: Option<&str>, addr: SocketAddr) -> bool {
        match self {
            NetRule::Any => true,
            NetRule::Ip(ip) => *ip == addr.ip(),
            NetRule::Socket(sa) => *sa == addr,
            NetRule::Cidr(net, bits) => in_cidr(*net, *bits, addr.ip()),
            NetRule::Host(name, port) => {
                let host_ok = host.is_some_and(|h| h.eq_ignore_ascii_case(name))
                    || (name == "localhost" && addr.ip().is_loopback());
                host_ok && port.is_none_or(|p| p == addr.port())
            }
        }
    }
}

impl fmt::Display for NetRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NetRule::Any => f.write_str("*"),
            NetRule::Ip(ip) => write!(f, "{ip}"),
            NetRule::Socket(sa) => write!(f, "{sa}"),
            NetRule::Cidr(ip, bits) => write!(f, "{ip}/{bits}"),
            NetRule::Host(h, None) => f.write_str(h),
            NetRule::Host(h, Some(p)) => write!(f, "{h}:{p}"),
        }
    }
}

fn in_cidr(net: IpAddr, bits: u8, ip: IpAddr) -> bool {
    match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(i)) => {
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - bits)
            };
            u32::from(n) & mask == u32::from(i) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(i)) => {
            let mask = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - bits)
            };
            u128::from(n) & mask == u128::from(i) & mask
        }
        _ => false,
    }
}

/// The rules granted to a VM's processes.
#[derive(Debug, Clone, Default)]
pub struct NetPolicy {
    /// The rules; empty denies everything.
    pub rules: Vec<NetRule>,
}

impl NetPolicy {
    /// Whether `host`, a name, may be looked up: only under `*` or a rule
    /// naming that host, since a lookup is itself traffic (a DNS query can
    /// carry data out). Otherwise the text of the refusal, naming the flag.
    pub fn may_resolve(&self, host: &str) -> Result<(), String> {
        let named = |r: &NetRule| match r {
            NetRule::Any => true,
            NetRule::Host(name, _) => name.eq_ignore_ascii_case(host),
            _ => false,
        };
        if self.rules.iter().any(named) {
            return Ok(());
        }
        Err(format!(
            "network access to {host} is denied, and so is looking the name up; grant it with `vm run --allow-net {host}` (or --allow-net '*')"
        ))
    }

    /// Whether `addr` (reached as `host`, when given by name) is granted;
    /// otherwise the text of the refusal, naming the flag.
    pub fn check(&self, host: Option<&str>, addr: SocketAddr) -> Result<(), String> {
        if self.rules.iter().any(|r| r.allows(host, addr)) {
            return Ok(());
        }
        let what = host.map_or_else(|| addr.to_string(), |h| format!("{h} ({addr})"));
        Err(format!(
            "network access to {what} is denied; grant it with `vm run --allow-net {}` (or --allow-net '*')",
            addr.ip()
        ))
    }
}
