//! Proxies from the environment (.NET's `HttpClient.DefaultProxy` on Unix,
//! `HttpEnvironmentProxy`): `https_proxy` for `wss://` and `https://`,
//! `http_proxy` for `ws://` and `http://`, `all_proxy` for either, minus the
//! hosts `no_proxy` names. Every backend decides with [`ProxyEnv`]; the
//! backend only reads the variables (a lookup function) and parses the proxy
//! URL chosen (then [`crate::proxy::check_proxy_url`]).
//!
//! The rules (each variable is read lower-case first, then upper-case; an
//! empty value counts as unset):
//!
//! - `HTTP_PROXY` in upper case is not read when `GATEWAY_INTERFACE` is set:
//!   a CGI program gets the request header `Proxy:` as `HTTP_PROXY`, so a
//!   client could pick the program's proxy ("httpoxy", CVE-2016-5385). .NET
//!   does the same; lower-case `http_proxy` cannot come from a header.
//! - A value without a scheme (`proxy.example:3128`) is `http://`
//!   ([`EnvSetting::url`]); only `http://` proxies are supported, anything
//!   else is an error when a connection would use it ([`unusable`]), never
//!   a silent direct connection.
//! - `no_proxy` is a comma-separated list; each entry is one of `*` (no
//!   proxy for anything); a domain, with or without a leading `.` or `*.`,
//!   matching that name and every name under it; an IP address (`10.1.2.3`,
//!   `::1`, `[::1]`); a CIDR block (`10.0.0.0/8`, `fd00::/8`); any of the
//!   names or addresses with `:port`, matching only that port (`[::1]:8080`
//!   for IPv6). Names are compared without DNS. Entries that are none of
//!   these match nothing.
//! - Loopback is not bypassed on its own (as in .NET and curl).
//!
//! ```
//! use sockweave_core::proxy_env::ProxyEnv;
//!
//! let env = ProxyEnv::from_lookup(|name| match name {
//!     "HTTPS_PROXY" => Some("proxy.example:3128".into()),
//!     "NO_PROXY" => Some(".internal,10.0.0.0/8".into()),
//!     _ => None,
//! });
//! let s = env.proxy_for(true, "example.com", 443).unwrap();
//! assert_eq!((s.variable, s.url.as_str()), ("HTTPS_PROXY", "http://proxy.example:3128"));
//! assert!(env.proxy_for(true, "a.internal", 443).is_none());
//! assert!(env.proxy_for(true, "10.1.2.3", 443).is_none());
//! assert!(env.proxy_for(false, "example.com", 80).is_none()); // no http_proxy
//! ```

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::net::IpAddr;

/// The proxy settings of an environment.
#[derive(Clone, Default)]
pub struct ProxyEnv {
    http: Option<EnvSetting>,
    https: Option<EnvSetting>,
    no_proxy: Vec<Rule>,
}

/// One proxy variable as read: which one, and its value as a URL.
#[derive(Clone, PartialEq, Eq)]
pub struct EnvSetting {
    /// The variable's name as it was found (`https_proxy`, `ALL_PROXY`, ...).
    pub variable: &'static str,
    /// The value, trimmed, with `http://` put in front when it has no scheme.
    /// It may hold credentials: never show it without taking them out.
    pub url: String,
}

impl core::fmt::Debug for EnvSetting {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // The URL may carry a password.
        write!(f, "{} = ..", self.variable)
    }
}

impl core::fmt::Debug for ProxyEnv {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ProxyEnv")
            .field("http", &self.http)
            .field("https", &self.https)
            .field("no_proxy", &self.no_proxy)
            .finish()
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

impl ProxyEnv {
    /// The settings of the environment `lookup` describes: it is asked for
    /// variables by name (`http_proxy`, `HTTP_PROXY`, `no_proxy`, ...) and
    /// answers `None` for an unset one.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> ProxyEnv {
        let get = |name: &'static str| {
            lookup(name)
                .map(|v| v.trim().to_string())
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
        ProxyEnv {
            http: http.or_else(|| all.clone()).map(EnvSetting::new),
            https: https.or(all).map(EnvSetting::new),
            no_proxy,
        }
    }

    /// The variable that applies to a connection to `host` (an IPv6 address
    /// without brackets) and `port` over TLS (`secure`: `wss://`, `https://`)
    /// or not: `None` when no variable names a proxy for the scheme, or
    /// `no_proxy` matches.
    pub fn proxy_for(&self, secure: bool, host: &str, port: u16) -> Option<&EnvSetting> {
        self.setting(secure).filter(|_| !self.bypasses(host, port))
    }

    /// The variable for TLS connections (`secure`) or cleartext ones,
    /// before `no_proxy` is consulted.
    pub fn setting(&self, secure: bool) -> Option<&EnvSetting> {
        if secure {
            self.https.as_ref()
        } else {
            self.http.as_ref()
        }
    }

    /// Whether `no_proxy` sends a connection to `host` and `port` straight to its server.
    pub fn bypasses(&self, host: &str, port: u16) -> bool {
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

impl EnvSetting {
    fn new((variable, value): (&'static str, String)) -> EnvSetting {
        let url = if value.contains("://") {
            value
        } else {
            format!("http://{value}")
        };
        EnvSetting { variable, url }
    }
}

/// The message for a variable that applies but does not hold a usable proxy
/// URL: `shown` is its value without credentials, `why` what is wrong with
/// it, `host` the target; `option` names how the caller turns environment
/// proxies off. The error kind is `Proxy`.
pub fn unusable(variable: &str, shown: &str, why: &str, host: &str, option: &str) -> String {
    format!(
        "the environment variable {variable} does not name a proxy sockweave can use (\"{shown}\": {why}); \
         correct it, add {host} to no_proxy, or turn proxies from the environment off ({option})"
    )
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
        name: name.to_string(),
        port,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &[(&'static str, &'static str)]) -> ProxyEnv {
        ProxyEnv::from_lookup(|name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| String::from(*v))
        })
    }

    fn route(e: &ProxyEnv, secure: bool, host: &str, port: u16) -> &'static str {
        e.proxy_for(secure, host, port).map_or("direct", |s| s.variable)
    }

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

    #[test]
    fn variables_and_precedence() {
        let e = env(&[("http_proxy", "plain:1"), ("HTTPS_PROXY", "http://secure:2")]);
        assert_eq!(route(&e, false, "h", 80), "http_proxy");
        assert_eq!(route(&e, true, "h", 443), "HTTPS_PROXY");
        assert_eq!(e.proxy_for(false, "h", 80).unwrap().url, "http://plain:1");
        let e = env(&[
            ("https_proxy", "  "),
            ("HTTPS_PROXY", "u:2"),
            ("ALL_PROXY", "a:3"),
        ]);
        assert_eq!(route(&e, true, "h", 443), "HTTPS_PROXY");
        assert_eq!(route(&e, false, "h", 80), "ALL_PROXY");
        let cgi = env(&[("GATEWAY_INTERFACE", "CGI/1.1"), ("HTTP_PROXY", "evil:1")]);
        assert_eq!(route(&cgi, false, "h", 80), "direct");
        assert_eq!(route(&env(&[]), true, "h", 443), "direct");
        let debug = format!("{:?}", env(&[("https_proxy", "http://u:hunter2@p:1")]));
        assert!(!debug.contains("hunter2"), "{debug}");
        let m = unusable(
            "HTTPS_PROXY",
            "socks5://p:1",
            "unsupported",
            "h",
            "useProxy: false",
        );
        assert!(m.contains("HTTPS_PROXY") && m.contains("no_proxy") && m.contains("useProxy"));
    }

    #[test]
    fn no_proxy_matching() {
        let cases: &[(&'static str, &str, u16, bool)] = &[
            ("*", "anything.example", 443, true),
            ("example.com", "a.b.example.com", 443, true),
            ("example.com", "badexample.com", 443, false),
            (".example.com", "example.com", 443, true),
            ("*.example.com", "www.example.com", 443, true),
            ("EXAMPLE.com", "Www.Example.COM", 443, true),
            ("example.com.", "example.com.", 443, true),
            ("example.com:8443", "example.com", 443, false),
            ("example.com:443", "example.com", 443, true),
            ("10.1.2.3:9", "10.1.2.3", 9, true),
            ("10.1.2.3:9", "10.1.2.3", 10, false),
            ("[::1]:9", "::1", 9, true),
            ("::1", "::1", 1, true),
            ("fd00::/8", "fd12::1", 1, true),
            ("fd00::/8", "fe80::1", 1, false),
            ("10.0.0.0/8", "ten.example", 1, false),
            ("0.1", "127.0.0.1", 80, false),
            ("example.com", "127.0.0.1", 80, false),
            ("localhost,127.0.0.0/8,::1", "127.0.0.1", 9, true),
            (" a.test , ,b.test ", "b.test", 443, true),
            ("10.0.0.0/99,[::1,what ever", "10.0.0.1", 80, false),
        ];
        for (no_proxy, host, port, bypassed) in cases {
            let e = env(&[("ALL_PROXY", "proxy:3128"), ("NO_PROXY", no_proxy)]);
            assert_eq!(
                e.bypasses(host, *port),
                *bypassed,
                "NO_PROXY={no_proxy:?} {host}:{port}"
            );
            assert_eq!(e.proxy_for(true, host, *port).is_none(), *bypassed);
        }
        let e = env(&[
            ("ALL_PROXY", "p:1"),
            ("no_proxy", "a.test"),
            ("NO_PROXY", "b.test"),
        ]);
        assert!(e.bypasses("a.test", 443) && !e.bypasses("b.test", 443));
    }
}
