//! URLs as connections see them: the parts a connection needs, the origin
//! (pool key, and what credentials are bound to), the `ws`→`http` rewrite
//! cookies use, and URLs with their user info taken out for messages.

use crate::error::{Error, ErrorKind};

/// The parts of a URL a connection needs.
pub(crate) struct Target {
    pub(crate) secure: bool,
    pub(crate) host: String,
    pub(crate) port: u16,
    /// `Host` header / `:authority`.
    pub(crate) authority: String,
    /// Path and query.
    pub(crate) path: String,
    pub(crate) url: url::Url,
}

impl Target {
    pub(crate) fn parse(uri: &str) -> Result<Target, Error> {
        let url = url::Url::parse(uri).map_err(|e| {
            Error::new(
                ErrorKind::InvalidArgument,
                format!("invalid URL {:?}: {e}", redact(uri)),
            )
        })?;
        let secure = match url.scheme() {
            "ws" | "http" => false,
            "wss" | "https" => true,
            s => {
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    format!("URL scheme {s:?} is not supported; use ws://, wss://, http:// or https://"),
                ))
            }
        };
        let host_display = url
            .host_str()
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::InvalidArgument,
                    format!("URL {:?} has no host", redact(uri)),
                )
            })?
            .to_owned();
        let default_port = if secure { 443 } else { 80 };
        let port = url.port().unwrap_or(default_port);
        let authority = if port == default_port {
            host_display.clone()
        } else {
            format!("{host_display}:{port}")
        };
        let mut path = url.path().to_owned();
        if path.is_empty() {
            path.push('/');
        }
        if let Some(q) = url.query() {
            path.push('?');
            path.push_str(q);
        }
        Ok(Target {
            secure,
            host: host_display.trim_matches(['[', ']']).to_owned(),
            port,
            authority,
            path,
            url,
        })
    }

    /// `host:port` for TCP and proxy CONNECT.
    pub(crate) fn connect_authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// `http(s)://host:port`, the port always written: `ws://` and `http://`
    /// (and the secure pair) are one origin, for pooling (credentials follow
    /// the same rule, the core's `auth::origin_allowed`).
    pub(crate) fn origin(&self) -> String {
        let scheme = if self.secure { "https" } else { "http" };
        format!("{scheme}://{}", self.connect_authority())
    }

    /// `http(s)://authority`, for HTTP/2 request URIs.
    pub(crate) fn origin_url(&self) -> String {
        let scheme = if self.secure { "https" } else { "http" };
        format!("{scheme}://{}", self.authority)
    }

    /// The URL as http(s), for cookies.
    pub(crate) fn http_url(&self) -> url::Url {
        http_url(&self.url)
    }

    /// The URL for messages: no user name or password.
    pub(crate) fn display(&self) -> String {
        redact(self.url.as_str())
    }
}

/// Cookies follow the http(s) rules: a `wss://` URL is `https://` for `Secure`.
pub(crate) fn http_url(u: &url::Url) -> url::Url {
    let scheme = match u.scheme() {
        "wss" | "https" => "https",
        "ws" | "http" => "http",
        _ => return u.clone(),
    };
    // Switching between special schemes cannot fail; keep the original otherwise.
    let s = format!("{scheme}{}", &u.as_str()[u.scheme().len()..]);
    url::Url::parse(&s).unwrap_or_else(|_| u.clone())
}

/// `uri` without its user info, for error messages and `Debug`: a parsed URL
/// loses user and password; text that does not parse loses everything
/// between `//` and the last `@` of its authority.
pub(crate) fn redact(uri: &str) -> String {
    if let Ok(mut u) = url::Url::parse(uri) {
        if u.username().is_empty() && u.password().is_none() {
            return u.to_string();
        }
        if u.set_username("").is_ok() && u.set_password(None).is_ok() {
            return u.to_string();
        }
    }
    let start = uri.find("//").map_or(0, |i| i + 2);
    let end = uri[start..]
        .find(['/', '?', '#'])
        .map_or(uri.len(), |i| start + i);
    match uri[start..end].rfind('@') {
        Some(at) => format!("{}***@{}", &uri[..start], &uri[start + at + 1..]),
        None => uri.to_owned(),
    }
}

/// A URL for `Debug`: the user name stays, a password becomes `***`.
pub(crate) fn redact_password(u: &url::Url) -> String {
    if u.password().is_none() {
        return u.to_string();
    }
    let mut c = u.clone();
    if c.set_password(Some("***")).is_ok() {
        c.to_string()
    } else {
        redact(u.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_removes_user_info() {
        assert_eq!(redact("http://u:secret@h:1/p"), "http://h:1/p");
        assert_eq!(redact("ws://h/p"), "ws://h/p");
        assert_eq!(redact("ht tp://u:secret@h/p"), "ht tp://***@h/p");
        assert_eq!(redact("http://u:se@cret@[zz/p"), "http://***@[zz/p");
        let u = url::Url::parse("http://u:secret@h/").unwrap();
        assert_eq!(redact_password(&u), "http://u:***@h/");
    }
}
