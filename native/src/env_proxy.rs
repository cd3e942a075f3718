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

use sockweave_core::proxy_env::{self, EnvSetting, ProxyEnv};

use crate::error::{Error, ErrorKind};
use crate::proxy::Proxy;
use crate::target::{redact, Target};

/// The proxy settings of an environment: which proxy a `ws://`, `wss://`,
/// `http://` or `https://` URL goes through, if any. The rules are
/// sockweave-core's [`ProxyEnv`]; this reads the process environment and
/// parses the proxy URLs.
///
/// [`ClientWebSocket`](crate::ClientWebSocket) and [`Invoker`](crate::Invoker)
/// use [`EnvProxy::from_env`] for every new connection unless their options
/// set a `proxy` or turn `use_proxy` off. `Debug` shows proxy URLs with their
/// passwords as `***`.
#[derive(Clone, Default)]
pub struct EnvProxy {
    env: ProxyEnv,
}

impl std::fmt::Debug for EnvProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let show = |s: Option<&EnvSetting>| {
            s.map(|s| match parse(s) {
                Ok(p) => format!("{} = {p:?}", s.variable),
                Err(e) => format!("{} (unusable: {e})", s.variable),
            })
        };
        f.debug_struct("EnvProxy")
            .field("http", &show(self.env.setting(false)))
            .field("https", &show(self.env.setting(true)))
            .finish_non_exhaustive()
    }
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
        EnvProxy {
            env: ProxyEnv::from_lookup(lookup),
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
        Target::parse(url).is_ok_and(|t| self.env.bypasses(&t.host, t.port))
    }

    /// [`proxy_for`](Self::proxy_for) on a parsed URL.
    pub(crate) fn proxy_for_target(&self, target: &Target) -> Result<Option<Proxy>, Error> {
        let Some(setting) = self.env.proxy_for(target.secure, &target.host, target.port) else {
            return Ok(None);
        };
        parse(setting).map(Some).map_err(|why| {
            Error::new(
                ErrorKind::Proxy,
                proxy_env::unusable(
                    setting.variable,
                    &redact(&setting.url),
                    &why,
                    &target.host,
                    "use_proxy = false; `sockweave connect --no-proxy`",
                ),
            )
        })
    }
}

/// The proxy a setting names, or why it names none.
fn parse(setting: &EnvSetting) -> Result<Proxy, String> {
    Proxy::new(&setting.url).map_err(|e| e.message().to_owned())
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
