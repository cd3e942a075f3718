//! Which web pages may open a WebSocket to a server: the `Origin` check
//! (RFC 6455 sections 4.2.2 and 10.2). Browsers send the page's origin with
//! every WebSocket handshake and do not apply the same-origin policy to
//! WebSockets, so without this check any page a user visits can open a
//! WebSocket to a server on localhost or an intranet ("cross-site WebSocket
//! hijacking").

use alloc::format;
use alloc::string::String;

use super::server::{RequestError, ServerRequest};
use crate::error::{Error, ErrorKind};
use crate::options::Options;

impl ServerRequest {
    /// Applies the server's options to a valid request (after parsing):
    /// today the Origin policy (`allowed_origins`, `allow_missing_origin`).
    /// A refused request gets the returned status (403).
    pub fn admit(&self, options: &Options) -> Result<(), RequestError> {
        check_origin(self, &options.allowed_origins, options.allow_missing_origin)
    }
}

/// With `allowed` empty, any origin (or none) is accepted. Otherwise the
/// request's `Origin` must be one of `allowed` (compared without regard to
/// ASCII case, as origins serialize to lowercase scheme and host), and a
/// request without `Origin` (a non-browser client) is accepted only with
/// `allow_missing`. A repeated `Origin` is refused.
pub fn check_origin(
    req: &ServerRequest,
    allowed: &[String],
    allow_missing: bool,
) -> Result<(), RequestError> {
    if allowed.is_empty() {
        return Ok(());
    }
    let forbidden = |message: String| RequestError {
        error: Error::new(ErrorKind::NotAWebSocket, message),
        status: 403,
    };
    match super::single(&req.headers, "origin").map_err(|error| RequestError { error, status: 400 })? {
        None if allow_missing => Ok(()),
        None => Err(forbidden(String::from(
            "the request has no Origin header and this server accepts only listed origins \
             (allowMissingOrigin is off)",
        ))),
        Some(o) if allowed.iter().any(|a| a.eq_ignore_ascii_case(o.trim())) => Ok(()),
        Some(o) => Err(forbidden(format!(
            "Origin {:?} is not allowed to open a WebSocket here (allowedOrigins)",
            o.trim()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handshake::parse_request;
    use alloc::vec;

    fn request(origin: Option<&str>) -> ServerRequest {
        let mut text = String::from(
            "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n",
        );
        if let Some(o) = origin {
            text.push_str(&format!("Origin: {o}\r\n"));
        }
        text.push_str("\r\n");
        parse_request(text.as_bytes(), Default::default())
            .unwrap()
            .unwrap()
            .0
    }

    #[test]
    fn listed_origins_only() {
        let allowed = vec![String::from("https://app.example")];
        assert!(check_origin(&request(Some("https://app.example")), &allowed, false).is_ok());
        assert!(check_origin(&request(Some("HTTPS://APP.EXAMPLE")), &allowed, false).is_ok());
        for bad in [
            "https://evil.example",
            "https://app.example.evil",
            "http://app.example",
            "null",
        ] {
            let e = check_origin(&request(Some(bad)), &allowed, false).unwrap_err();
            assert_eq!(e.status, 403, "{bad}");
        }
        assert_eq!(
            check_origin(&request(None), &allowed, false).unwrap_err().status,
            403
        );
        assert!(check_origin(&request(None), &allowed, true).is_ok());
        // No list: anything goes.
        assert!(check_origin(&request(Some("https://evil.example")), &[], false).is_ok());
    }
}
