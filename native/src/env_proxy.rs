//! Proxies from the environment (.NET's `HttpClient.DefaultProxy` on Unix,
//! `HttpEnvironmentProxy`): `https_proxy` for `wss://` and `https://`,
//! `http_proxy` for `ws://` and `http://`, `all_proxy` for either, minus the
//! hosts `no_proxy` names.
//!
//! The rules (each variable is read lower-case first, then upper-case; an
//! empty value counts as unset):
//!
//! - `HTTP_PROXY` in upper case is not read when `GATEWAY_INTERFACE` is set:
//!   a CGI program gets the request header `Proxy:` as `HTTP_PROXY`, so a
//!   client could pick the program's proxy ("httpoxy", CVE-2016-5385). .NET
//!   does the same; lower-case `http_proxy` cannot come from a header.
//! - A value without a scheme (`proxy.example:3128`) is `http://`; only
//!   `http://` proxies are supported, anything else (`socks5://`,
//!   `https://`) is an error when a connection would use it, never a silent
//!   direct connection. Credentials in the URL (`http://user:pass@host:port`,
//!   percent-encoded or not) are sent as `Proxy-Authorization: Basic`.
//! - `no_proxy` is a comma-separated list; each entry is one of
//!   `*` (no proxy for anything); a domain, with or without a leading `.`
//!   or `*.`, matching that name and every name under it (`example.com` and
//!   `.example.com` both match `example.com` and `a.b.example.com`, as in
//!   curl and Go; .NET matches a name without the dot exactly);
//!   an IP address (`10.1.2.3`, `::1`, `[::1]`); a CIDR block (`10.0.0.0/8`,
//!   `fd00::/8`); any of the names or addresses with `:port`, matching only
//!   that port (`[::1]:8080` for IPv6). Names are compared without DNS:
//!   an IP entry matches a URL that names the IP, not a name that resolves to it.
//!   Entries that are none of these match nothing.
//! - Loopback is not bypassed on its own (as in .NET and curl; Go differs):
//!   a proxy on this machine may be the point. Add
//!   `localhost,127.0.0.0/8,::1` to `no_proxy` to reach local servers directly.
//!
//! [`EnvProxy::from_lookup`] takes the variables from a function, so the
//! rules can be tested without touching the process environment.

use std::net::IpAddr;

use crate::error::{Error, ErrorKind};
use crate::proxy::Proxy;
use crate::target::{redact, Target};

/// The proxy settings of an environment: which proxy a `ws://`, `wss://`,
/// `http://` or `https://` URL goes through, if any.
///
/// [`ClientWebSocket`](crate::ClientWebSocket) and [`Invoker`](crate::Invoker)
/// use [`EnvProxy::from_env`] for every new connection unless their options
/// set a `proxy` or turn `use_proxy` off. `Debug` shows proxy URLs with their
/// passwords as `***`.
#[derive(Clone, Debug, Default)]
pub struct EnvProxy {
    http: Option<Setting>,
    https: Option<Setting>,
    no_proxy: Vec<Rule>,
}

/// One proxy variable as read: its name and the proxy, or why it is unusable.
#[derive(Clone)]
struct Setting {
    variable: &'static str,
    proxy: Result<Proxy, String>,
}

impl std::fmt::Debug for Setting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.proxy {
            Ok(p) => write!(f, "{} = {p:?}", self.variable),
            Err(e) => write!(f, "{} (unusable: {e})", self.variable),
        }
    }
}

/// One entry of `no_proxy`.
#[derive(Clone, Debug, PartialEq)]
enum Rule {
    All,
    /// A name and the names under it, lower case, without leading or trailing dots.
    Domain {
        name: String,
        port: Option<u16>,
    },
    Ip {
        addr: IpAddr,
        port: Option<u16>,
    },
    Cidr {
        net: IpAddr,
        bits: u8,
    },
}

impl EnvProxy {
    /// The settings of this process's environment.
    pub fn from_env() -> EnvProxy {
        EnvProxy::from_lookup(|name| std::env::var_os(name).map(|v| v.to_string_lossy().into_owned()))
    }

    /// The settings of the environment `lookup` describes: it is asked for
    /// variables by name (`http_proxy`, `HTTP_PROXY`, `no_proxy`, ...) and
    /// answers `None` for an unset one.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> EnvProxy {
        let get = |name: &'static str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
                .map(|v| (name, v))
        };
        let cgi = lookup("GATEWAY_INTERFACE").is_some();
        let http = get("http_proxy").or_else(|| if cgi { None } else { get("HTTP_PROXY") });
        let https = get("https_proxy").or_else(|| get("HTTPS_PROXY"));
        let all = get("all_proxy").or_else(|| get("ALL_PROXY"));
        let no_proxy = get("no_proxy")
            .or_else(|| get("NO_PROXY"))
            .map_or_else(Vec::new, |(_, v)| parse_no_proxy(&v));
        EnvProxy {
            http: http.or_else(|| all.clone()).map(Setting::parse),
            https: https.or(all).map(Setting::parse),
            no_proxy,
        }
    }

    /// The proxy to reach `url` (`ws`, `wss`, `http` or `https`) through:
    /// `None` when no variable names one for its scheme or `no_proxy`
    /// matches its host. An error when `url` is not such a URL, or when the
    /// variable that applies does not hold a usable proxy URL.
    pub fn proxy_for(&self, url: &str) -> Result<Option<Proxy>, Error> {
        self.proxy_for_target(&Target::parse(url)?)
    }

    /// Whether `no_proxy` sends `url` straight to its server. `false` for a
    /// URL that does not parse.
    pub fn is_bypassed(&self, url: &str) -> bool {
        Target::parse(url).is_ok_and(|t| self.bypasses(&t.host, t.port))
    }

    /// [`proxy_for`](Self::proxy_for) on a parsed URL.
    pub(crate) fn proxy_for_target(&self, target: &Target) -> Result<Option<Proxy>, Error> {
        let setting = if target.secure { &self.https } else { &self.http };
        let Some(setting) = setting else {
            return Ok(None);
        };
        if self.bypasses(&target.host, target.port) {
            return Ok(None);
        }
        match &setting.proxy {
            Ok(p) => Ok(Some(p.clone())),
            Err(e) => Err(Error::new(
                ErrorKind::Proxy,
                format!(
                    "the environment variable {} does not name a proxy sockweave can use ({e}); \
                     correct it, add {} to no_proxy, or turn proxies from the environment off \
                     (use_proxy = false; `sockweave connect --no-proxy`)",
                    setting.variable, target.host
                ),
            )),
        }
    }

    fn bypasses(&self, host: &str, port: u16) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        let ip: Option<IpAddr> = host.parse().ok();
        self.no_proxy.iter().any(|rule| match rule {
            Rule::All => true,
            Rule::Domain { name, port: p } => {
                ip.is_none()
                    && p.is_none_or(|p| p == port)
                    && (host == *name
                        || host
                            .strip_suffix(name.as_str())
                            .is_some_and(|rest| rest.ends_with('.')))
            }
            Rule::Ip { addr, port: p } => ip == Some(*addr) && p.is_none_or(|p| p == port),
            Rule::Cidr { net, bits } => ip.is_some_and(|ip| in_block(ip, *net, *bits)),
        })
    }
}

impl Setting {
    fn parse((variable, value): (&'static str, String)) -> Setting {
        let url = if value.contains("://") {
            value.clone()
        } else {
            format!("http://{value}")
        };
        let proxy = Proxy::new(&url).map_err(|e| format!("{:?}: {}", redact(&value), e.message()));
        Setting { variable, proxy }
    }
}

/// Is `ip` in the block `net/bits`? Addresses of the other family never are.
fn in_block(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

fn parse_no_proxy(value: &str) -> Vec<Rule> {
    value
        .split(',')
        .map(|e| e.trim().to_ascii_lowercase())
        .filter(|e| !e.is_empty())
        .filter_map(|e| parse_rule(&e))
        .collect()
}

/// One `no_proxy` entry, lower case; `None` for one that is none of the forms.
fn parse_rule(e: &str) -> Option<Rule> {
    if e == "*" {
        return Some(Rule::All);
    }
    if let Some((addr, bits)) = e.split_once('/') {
        let net: IpAddr = addr.trim_matches(['[', ']']).parse().ok()?;
        let bits: u8 = bits.parse().ok()?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        return (bits <= max).then_some(Rule::Cidr { net, bits });
    }
    if let Ok(addr) = e.parse::<IpAddr>() {
        return Some(Rule::Ip { addr, port: None });
    }
    if let Some(rest) = e.strip_prefix('[') {
        // [v6] or [v6]:port
        let (addr, after) = rest.split_once(']')?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':')?.parse().ok()?),
        };
        return Some(Rule::Ip {
            addr: addr.parse().ok()?,
            port,
        });
    }
    let (name, port) = match e.rsplit_once(':') {
        Some((name, p)) => (name, Some(p.parse::<u16>().ok()?)),
        None => (e, None),
    };
    if let Ok(addr) = name.parse::<IpAddr>() {
        return Some(Rule::Ip { addr, port });
    }
    let name = name
        .strip_prefix("*.")
        .unwrap_or(name)
        .trim_start_matches('.')
        .trim_end_matches('.');
    let valid = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'));
    valid.then(|| Rule::Domain {
        name: name.to_owned(),
        port,
    })
}

/// The proxy a connection to `target` goes through, by the options'
/// precedence: none when `use_proxy` is off; else `explicit` if set (the
/// environment's `no_proxy` does not apply to it); else the environment's.
pub(crate) fn choose(
    explicit: Option<&Proxy>,
    use_proxy: bool,
    target: &Target,
) -> Result<Option<Proxy>, Error> {
    if !use_proxy {
        return Ok(None);
    }
    match explicit {
        Some(p) => Ok(Some(p.clone())),
        None => EnvProxy::from_env().proxy_for_target(target),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_parse() {
        let d = |n: &str, port| Rule::Domain { name: n.into(), port };
        assert_eq!(parse_rule("*"), Some(Rule::All));
        assert_eq!(parse_rule(".example.com"), Some(d("example.com", None)));
        assert_eq!(parse_rule("*.example.com"), Some(d("example.com", None)));
        assert_eq!(parse_rule("example.com:8080"), Some(d("example.com", Some(8080))));
        assert_eq!(
            parse_rule("[::1]:9"),
            Some(Rule::Ip {
                addr: "::1".parse().unwrap(),
                port: Some(9)
            })
        );
        assert_eq!(
            parse_rule("10.0.0.0/8"),
            Some(Rule::Cidr {
                net: "10.0.0.0".parse().unwrap(),
                bits: 8
            })
        );
        for bad in [
            "10.0.0.0/33",
            "::/129",
            "host:port",
            "[::1",
            "a b",
            "*x",
            "[::1]x",
            ".",
        ] {
            assert_eq!(parse_rule(bad), None, "{bad}");
        }
    }

    #[test]
    fn blocks() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(in_block(ip("10.9.8.7"), ip("10.0.0.0"), 8));
        assert!(!in_block(ip("11.0.0.1"), ip("10.0.0.0"), 8));
        assert!(in_block(ip("1.2.3.4"), ip("0.0.0.0"), 0));
        assert!(in_block(ip("::1"), ip("::1"), 128));
        assert!(!in_block(ip("::1"), ip("127.0.0.1"), 8));
    }
}
