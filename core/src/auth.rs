//! HTTP Basic credentials (RFC 7617) for a client's opening handshake, with
//! the rules of every backend: they are sent only after the server answers
//! 401 with a Basic challenge, only to the origin they are bound to, only
//! once, and only over TLS unless the caller opts in. The backends do the
//! I/O (a new connection with the `Authorization` header); the decision is
//! [`BasicRule::answer`], and where they may go is [`origin_allowed`].

use alloc::format;
use alloc::string::String;
use base64::Engine;

/// A `WWW-Authenticate` value that offers HTTP Basic (the scheme name is
/// case-insensitive, RFC 7235 section 2.1).
pub fn is_basic_challenge(v: &str) -> bool {
    let v = v.trim_start().as_bytes();
    v.len() >= 5 && v[..5].eq_ignore_ascii_case(b"basic") && v.get(5).is_none_or(|c| *c == b' ' || *c == b',')
}

/// Whether a response asks for HTTP Basic: status 401 with a
/// `WWW-Authenticate` header that offers it.
pub fn basic_challenged(status: u16, headers: &[(String, String)]) -> bool {
    status == 401
        && headers
            .iter()
            .any(|(k, v)| k.eq_ignore_ascii_case("www-authenticate") && is_basic_challenge(v))
}

/// The `Authorization` value for HTTP Basic: `Basic base64(user:password)`.
pub fn basic_authorization(user: &str, password: &str) -> String {
    let raw = format!("{user}:{password}");
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(raw))
}

/// What a client does about a handshake response when it holds credentials.
#[derive(Clone, PartialEq, Eq)]
pub enum BasicAnswer {
    /// The response stands as the outcome: it is no Basic challenge, the
    /// credentials were already sent, or they are not for this origin.
    Stands,
    /// Connect again, once, with this `Authorization` header value.
    Retry(String),
    /// The challenge came over a cleartext connection and the caller did not
    /// allow Basic there: fail without sending the password
    /// ([`cleartext_refusal`] is the message).
    RefusedCleartext,
}

impl core::fmt::Debug for BasicAnswer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            BasicAnswer::Stands => f.write_str("Stands"),
            // The value is the password, barely encoded.
            BasicAnswer::Retry(_) => f.write_str("Retry(..)"),
            BasicAnswer::RefusedCleartext => f.write_str("RefusedCleartext"),
        }
    }
}

/// Where the credentials may go, for one connection attempt.
pub struct BasicRule<'a> {
    /// The user name (may not contain `:` for HTTP Basic).
    pub user: &'a str,
    /// The password.
    pub password: &'a str,
    /// Whether the credentials are bound to the origin that answered
    /// (for a `ClientWebSocket`, the origin of the URL given to `connect`).
    pub origin_matches: bool,
    /// Whether the connection is TLS (`wss://`, `https://`).
    pub secure: bool,
    /// The caller allowed Basic over cleartext (`ws://`, `http://`).
    pub allow_cleartext: bool,
}

impl BasicRule<'_> {
    /// The decision once a 401 with a Basic challenge came (checked by the
    /// caller, e.g. with [`basic_challenged`]): [`BasicAnswer::Stands`] when
    /// the credentials are not for this origin,
    /// [`BasicAnswer::RefusedCleartext`] when they would go in clear without
    /// the caller's consent, else the `Authorization` value to retry with.
    pub fn authorization(&self) -> BasicAnswer {
        if !self.origin_matches {
            return BasicAnswer::Stands;
        }
        if !self.secure && !self.allow_cleartext {
            return BasicAnswer::RefusedCleartext;
        }
        BasicAnswer::Retry(basic_authorization(self.user, self.password))
    }

    /// The decision after a handshake response (`status`, `headers`);
    /// `already_sent`: this attempt carried the credentials already (one
    /// retry only: a second 401 is the outcome).
    pub fn answer(&self, status: u16, headers: &[(String, String)], already_sent: bool) -> BasicAnswer {
        if already_sent || !basic_challenged(status, headers) {
            return BasicAnswer::Stands;
        }
        self.authorization()
    }
}

/// The message of [`BasicAnswer::RefusedCleartext`]: `url` (without user
/// info) asked for credentials over cleartext; `option` is the name of the
/// opt-in in the caller's API (`allow_basic_over_cleartext`,
/// `allowBasicOverCleartext`).
pub fn cleartext_refusal(url: &str, option: &str) -> String {
    format!(
        "{url} asked for HTTP Basic credentials over an unencrypted connection, which would \
         send the password in clear to anyone on the path; use wss:// or https://, or \
         set {option} if this network is trusted"
    )
}

/// The origin of a `ws`, `wss`, `http` or `https` URL as credentials are
/// bound to it: `http://host:port` or `https://host:port`, where `ws` is
/// `http` and `wss` is `https`, the port is always written (80 and 443 when
/// the URL has none), the host is lowercased (ASCII), and user info, path,
/// query and fragment are left out. `None` for another scheme or no host.
/// Backends give URLs their own URL parser already wrote (IDNA, IPv6
/// compression are theirs), so both sides of a comparison are alike.
pub fn origin_of(url: &str) -> Option<String> {
    // Bytes and char patterns only: str patterns and Unicode tables would
    // cost the wasm module kilobytes.
    let colon = url.find(':')?;
    let scheme = &url[..colon];
    let rest = url[colon + 1..].strip_prefix("//")?;
    let secure = if scheme.eq_ignore_ascii_case("ws") || scheme.eq_ignore_ascii_case("http") {
        false
    } else if scheme.eq_ignore_ascii_case("wss") || scheme.eq_ignore_ascii_case("https") {
        true
    } else {
        return None;
    };
    let end = rest
        .bytes()
        .position(|b| matches!(b, b'/' | b'?' | b'#' | b'\\'))
        .unwrap_or(rest.len());
    let authority = &rest[..end];
    let host_port = &authority[authority.rfind('@').map_or(0, |i| i + 1)..];
    let (host, port, bracketed) = match host_port.strip_prefix('[') {
        Some(v6) => {
            let close = v6.find(']')?;
            let after = &v6[close + 1..];
            let port = if after.is_empty() {
                ""
            } else {
                after.strip_prefix(':')?
            };
            (&v6[..close], port, true)
        }
        None => match host_port.find(':') {
            Some(i) => (&host_port[..i], &host_port[i + 1..], false),
            None => (host_port, "", false),
        },
    };
    if host.is_empty() || port.len() > 5 {
        return None;
    }
    let mut number: u32 = if port.is_empty() {
        if secure {
            443
        } else {
            80
        }
    } else {
        0
    };
    for b in port.bytes() {
        if !b.is_ascii_digit() {
            return None;
        }
        number = number * 10 + u32::from(b - b'0');
    }
    if number > u32::from(u16::MAX) {
        return None;
    }
    let scheme = if secure { "https" } else { "http" };
    let host = host.to_ascii_lowercase();
    Some(if bracketed {
        format!("{scheme}://[{host}]:{number}")
    } else {
        format!("{scheme}://{host}:{number}")
    })
}

/// Whether credentials bound to `origins` (URLs; see [`origin_of`]) may go
/// to `url`: its origin is one of theirs. Credentials bound to no origin at
/// all go nowhere, which is a mistake of the caller, so that is `Err` with
/// the message naming the origin to add: `credentials` names the caller's
/// credentials setting (`InvokerOptions.credentials`) and `option` the list
/// (`credential_origins`, `credentialOrigins`); `url` is without user info.
pub fn origin_allowed(
    url: &str,
    origins: &[String],
    credentials: &str,
    option: &str,
) -> Result<bool, String> {
    let origin = origin_of(url);
    if origins.is_empty() {
        return Err(format!(
            "{url} asked for HTTP Basic credentials, but {credentials} are bound to no origin; \
             add \"{}\" to {option} to send them there",
            // Not `{:?}`: its escaping tables would cost the wasm module kilobytes.
            origin.as_deref().unwrap_or(url)
        ));
    }
    Ok(origin.is_some_and(|o| {
        origins
            .iter()
            .any(|x| origin_of(x).as_deref() == Some(o.as_str()))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn h(k: &str, v: &str) -> (String, String) {
        (k.into(), v.into())
    }

    #[test]
    fn basic_challenges() {
        assert!(is_basic_challenge("Basic realm=\"x\""));
        assert!(is_basic_challenge(" basic"));
        assert!(is_basic_challenge("Basic, Bearer"));
        assert!(!is_basic_challenge("Basically"));
        assert!(!is_basic_challenge("Bearer"));
        assert!(!is_basic_challenge("é"));
        assert!(!is_basic_challenge("Basé"));
        assert!(basic_challenged(
            401,
            &[h("www-authenticate", "Bearer"), h("WWW-Authenticate", "Basic")]
        ));
        assert!(!basic_challenged(403, &[h("WWW-Authenticate", "Basic")]));
        assert!(!basic_challenged(401, &[h("WWW-Authenticate", "Bearer")]));
    }

    #[test]
    fn origins_join_ws_and_http() {
        let o = |u: &str| origin_of(u);
        assert_eq!(o("ws://Example.com/x").as_deref(), Some("http://example.com:80"));
        assert_eq!(
            o("https://example.com:443").as_deref(),
            Some("https://example.com:443")
        );
        assert_eq!(o("wss://[::1]:9/").as_deref(), Some("https://[::1]:9"));
        assert_eq!(
            o("WSS://u:p@h.example?q").as_deref(),
            Some("https://h.example:443")
        );
        assert_eq!(o("http://h:8080/p#f").as_deref(), Some("http://h:8080"));
        for bad in [
            "ftp://h/",
            "h:80",
            "ws:///x",
            "ws://h:x/",
            "ws://h:99999/",
            "ws://[::1/",
        ] {
            assert_eq!(o(bad), None, "{bad}");
        }
    }

    #[test]
    fn credentials_go_to_listed_origins_only() {
        let list = vec![
            String::from("https://API.example"),
            String::from("ws://h:8080/any"),
        ];
        let allowed = |u| origin_allowed(u, &list, "c", "o").unwrap();
        assert!(allowed("wss://api.example/chat"));
        assert!(allowed("https://api.example:443/"));
        assert!(allowed("http://h:8080/"));
        assert!(!allowed("ws://api.example/"));
        assert!(!allowed("wss://api.example:8443/"));
        assert!(!allowed("ws://h:8081/"));
        assert!(!allowed("ws://h/"));
        let e = origin_allowed(
            "ws://127.0.0.1:9/p",
            &[],
            "InvokerOptions.credentials",
            "credential_origins",
        )
        .unwrap_err();
        assert!(
            e.contains("add \"http://127.0.0.1:9\" to credential_origins"),
            "{e}"
        );
        assert!(e.starts_with("ws://127.0.0.1:9/p asked"), "{e}");
    }

    #[test]
    fn authorization_value() {
        // RFC 7617 section 2.
        assert_eq!(
            basic_authorization("Aladdin", "open sesame"),
            "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
    }

    #[test]
    fn answers() {
        let challenge = vec![h("WWW-Authenticate", "Basic realm=\"r\"")];
        let rule = |origin_matches, secure, allow_cleartext| BasicRule {
            user: "u",
            password: "p",
            origin_matches,
            secure,
            allow_cleartext,
        };
        let retry = BasicAnswer::Retry(basic_authorization("u", "p"));
        assert_eq!(rule(true, true, false).answer(401, &challenge, false), retry);
        assert_eq!(rule(true, false, true).answer(401, &challenge, false), retry);
        assert_eq!(
            rule(true, false, false).answer(401, &challenge, false),
            BasicAnswer::RefusedCleartext
        );
        assert_eq!(
            rule(false, true, false).answer(401, &challenge, false),
            BasicAnswer::Stands
        );
        assert_eq!(
            rule(true, true, false).answer(401, &challenge, true),
            BasicAnswer::Stands
        );
        assert_eq!(
            rule(true, true, false).answer(401, &[], false),
            BasicAnswer::Stands
        );
        assert_eq!(
            rule(true, true, false).answer(200, &challenge, false),
            BasicAnswer::Stands
        );
        assert_eq!(alloc::format!("{retry:?}"), "Retry(..)");
        assert!(cleartext_refusal("ws://h/", "allowBasicOverCleartext").contains("allowBasicOverCleartext"));
    }
}
