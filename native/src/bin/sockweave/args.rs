//! Command-line options shared by `connect` and `serve`, mapped one to one onto
//! the library's options.

use lexopt::{Arg, ValueExt};
use sockweave::{
    CertificateCheck, ClientCertificate, ClientWebSocketOptions, DeflateOptions, EnvProxy, HttpVersion,
    HttpVersionPolicy, Millis, Options, Proxy, RootCertificates,
};

pub type Res<T> = Result<T, Box<dyn std::error::Error>>;

/// `10s`, `500ms`, `2m`, `infinite`, or a plain number of milliseconds.
pub fn parse_millis(s: &str) -> Res<Millis> {
    let s = s.trim();
    if s == "infinite" || s == "-1" {
        return Ok(Millis::Infinite);
    }
    let (num, mult) = if let Some(n) = s.strip_suffix("ms") {
        (n, 1)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1000)
    } else if let Some(n) = s.strip_suffix('m') {
        (n, 60_000)
    } else {
        (s, 1)
    };
    let v: f64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration (use e.g. 500ms, 10s, 2m or infinite)"))?;
    if v < 0.0 {
        return Err(format!("{s:?}: a duration cannot be negative").into());
    }
    Ok(Millis::Finite((v * mult as f64).round() as u64))
}

/// `--deflate` alone, or with comma-separated RFC 7692 parameters:
/// `client_max_window_bits=10,server_max_window_bits=12,client_no_context_takeover,server_no_context_takeover`.
pub fn parse_deflate(spec: Option<&str>) -> Res<DeflateOptions> {
    let mut d = DeflateOptions::default();
    for part in spec
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        let (k, v) = part.split_once('=').map_or((part, None), |(k, v)| (k, Some(v)));
        let bits = || -> Res<u8> {
            let v = v.ok_or_else(|| format!("--deflate {k} needs a value, e.g. {k}=10"))?;
            Ok(v.parse()
                .map_err(|_| format!("--deflate {k}={v}: not a number"))?)
        };
        match k {
            "client_max_window_bits" => d.client_max_window_bits = bits()?,
            "server_max_window_bits" => d.server_max_window_bits = bits()?,
            "client_no_context_takeover" => d.client_context_takeover = false,
            "server_no_context_takeover" => d.server_context_takeover = false,
            _ => return Err(format!("unknown --deflate parameter {k:?}").into()),
        }
    }
    Ok(d)
}

/// The name of an option argument (`--name` or `-c`), owned so the parser
/// can be used again; `None` for a positional value.
pub fn option_name(arg: &Arg<'_>) -> Option<String> {
    match arg {
        Arg::Long(l) => Some(format!("--{l}")),
        Arg::Short(c) => Some(format!("-{c}")),
        Arg::Value(_) => None,
    }
}

/// Options that both roles take. Returns `false` if `arg` is not one of them.
pub fn common(arg: &str, p: &mut lexopt::Parser, o: &mut Options) -> Res<bool> {
    match arg {
        "--keepalive-interval" => o.keep_alive_interval = Some(parse_millis(&p.value()?.string()?)?),
        "--keepalive-timeout" => o.keep_alive_timeout = Some(parse_millis(&p.value()?.string()?)?),
        "--subprotocol" => o.sub_protocols.push(p.value()?.string()?),
        "--deflate" => {
            let spec = p.optional_value().map(|v| v.string()).transpose()?;
            o.dangerous_deflate_options = Some(parse_deflate(spec.as_deref())?);
        }
        "--max-message-size" => o.max_message_size = p.value()?.parse()?,
        "--handshake-timeout" => o.handshake_timeout = parse_millis(&p.value()?.string()?)?,
        "--options" => {
            // The whole options object as JSON, exactly as the npm package takes it.
            let json = p.value()?.string()?;
            *o = serde_json::from_str(&json).map_err(|e| format!("--options: {e}"))?;
        }
        _ => return Ok(false),
    }
    Ok(true)
}

/// Client options, collected from the command line.
#[derive(Default)]
pub struct ClientArgs {
    pub ws: ClientWebSocketOptions,
    cert: Option<std::ffi::OsString>,
    key: Option<std::ffi::OsString>,
}

impl ClientArgs {
    /// Takes `arg` if it is a client option; `false` if it is not one.
    pub fn take(&mut self, arg: &str, p: &mut lexopt::Parser) -> Res<bool> {
        let c = &mut self.ws;
        match arg {
            "-H" | "--header" => {
                let h = p.value()?.string()?;
                let (k, v) = h
                    .split_once(':')
                    .ok_or_else(|| format!("-H {h:?}: use 'Name: value'"))?;
                c.set_request_header(k.trim(), v.trim());
            }
            "--http-version" => {
                c.options.http_version = match p.value()?.string()?.as_str() {
                    "1.1" => HttpVersion::Http11,
                    "2" | "2.0" => HttpVersion::Http2,
                    v => return Err(format!("--http-version {v}: use 1.1 or 2").into()),
                }
            }
            "--version-policy" => {
                c.options.http_version_policy = match p.value()?.string()?.as_str() {
                    "or-lower" => HttpVersionPolicy::RequestVersionOrLower,
                    "or-higher" => HttpVersionPolicy::RequestVersionOrHigher,
                    "exact" => HttpVersionPolicy::RequestVersionExact,
                    v => return Err(format!("--version-policy {v}: use or-lower, or-higher or exact").into()),
                }
            }
            "--proxy" => c.proxy = Some(Proxy::new(&p.value()?.string()?)?),
            // Connect directly: neither --proxy nor the proxy environment variables.
            "--no-proxy" => c.use_proxy = false,
            "--ca" => {
                let pem = std::fs::read(p.value()?)?;
                c.root_certificates = RootCertificates::from_pem(&pem)?;
            }
            "--insecure" => {
                // Said every time: an --insecure left in a script is how a
                // man-in-the-middle goes unnoticed.
                eprintln!(
                    "sockweave: warning: --insecure turns off certificate verification; \
                     anyone on the path can read and change this connection"
                );
                c.remote_certificate_validation = Some(CertificateCheck::danger_accept_any())
            }
            "--client-cert" => self.cert = Some(p.value()?),
            "--client-key" => self.key = Some(p.value()?),
            "--user" => {
                let v = p.value()?.string()?;
                let (user, password) = v.split_once(':').unwrap_or((&v, ""));
                c.credentials = Some(sockweave::Credentials {
                    user: user.to_owned(),
                    password: password.to_owned(),
                });
            }
            "--allow-basic-over-cleartext" => c.allow_basic_over_cleartext = true,
            _ => return common(arg, p, &mut c.options),
        }
        Ok(true)
    }

    /// Loads files named by the options.
    pub fn finish(mut self) -> Res<ClientWebSocketOptions> {
        if self.ws.proxy.is_some() && !self.ws.use_proxy {
            return Err("--proxy and --no-proxy contradict each other: give one of them".into());
        }
        match (self.cert, self.key) {
            (Some(c), Some(k)) => {
                self.ws.client_certificate = Some(ClientCertificate::from_pem(
                    &std::fs::read(c)?,
                    &std::fs::read(k)?,
                )?)
            }
            (None, None) => {}
            _ => return Err("--client-cert and --client-key go together".into()),
        }
        Ok(self.ws)
    }
}

/// Which proxy a connection to `url` goes through, for a line on stderr:
/// `host:port (from ...)`, never the credentials; `None` for a direct
/// connection. An unusable proxy variable is `None` here: connecting reports it.
pub fn proxy_note(o: &ClientWebSocketOptions, url: &str) -> Option<String> {
    if !o.use_proxy {
        return None;
    }
    let (proxy, from) = match &o.proxy {
        Some(p) => (p.clone(), "--proxy"),
        None => (
            EnvProxy::from_env().proxy_for(url).ok()??,
            "the environment; --no-proxy connects directly",
        ),
    };
    let host = proxy.url.host_str()?.to_owned();
    let port = proxy.url.port_or_known_default()?;
    Some(format!("{host}:{port} (from {from})"))
}
