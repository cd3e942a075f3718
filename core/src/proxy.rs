//! HTTP proxies: the `CONNECT` tunnel (RFC 9110 section 9.3.6) a client
//! opens through an `http://` proxy before its TLS or WebSocket handshake,
//! sans-IO. The backends connect to the proxy, write [`connect_request`],
//! read the answer and give it to [`check_connect_response`] until it says
//! the head is complete; the bytes after the head are the tunnel's and must
//! not be consumed. The environment variables that choose a proxy are in
//! [`crate::proxy_env`].
//!
//! ```
//! use sockweave_core::proxy::{check_connect_response, connect_request, MAX_CONNECT_HEAD};
//!
//! let req = connect_request("example.com:443", None);
//! assert!(req.starts_with(b"CONNECT example.com:443 HTTP/1.1\r\n"));
//! let answer = b"HTTP/1.1 200 Connection established\r\n\r\n\x16\x03";
//! let used = check_connect_response(answer, "example.com:443", false, "credentials", MAX_CONNECT_HEAD)
//!     .unwrap()
//!     .unwrap();
//! assert_eq!(&answer[used..], b"\x16\x03"); // the tunnel's first bytes
//! ```

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::error::{Error, ErrorKind};
use crate::headers::HandshakeLimits;
use crate::http1::{parse_response_head, Http1Error};

/// The default bound on the proxy's response head, in bytes.
pub const MAX_CONNECT_HEAD: usize = 16 * 1024;

/// The `CONNECT` request for `authority` (`host:port`, an IPv6 host in
/// brackets), with `Proxy-Authorization` when `authorization` is given (for
/// HTTP Basic, [`crate::auth::basic_authorization`]'s value).
pub fn connect_request(authority: &str, authorization: Option<&str>) -> Vec<u8> {
    let mut req = format!("CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n");
    if let Some(value) = authorization {
        req.push_str("Proxy-Authorization: ");
        req.push_str(value);
        req.push_str("\r\n");
    }
    req.push_str("\r\n");
    req.into_bytes()
}

/// Checks the proxy's answer to `CONNECT` from the start of `buf`.
/// `Ok(None)`: the head is not complete, read more. `Ok(Some(n))`: the
/// tunnel is open (a 2xx), the head took `n` bytes and `buf[n..]` already
/// belongs to the tunnel. An error of kind [`ErrorKind::Proxy`] otherwise:
/// a 407 (the message depends on `credentials_sent`; `credentials_option`
/// names the caller's option to set them, e.g. `Proxy::credentials`), any
/// other status (the message names `authority` and the status), a head that
/// is not HTTP or is longer than `max_head` bytes.
pub fn check_connect_response(
    buf: &[u8],
    authority: &str,
    credentials_sent: bool,
    credentials_option: &str,
    max_head: usize,
) -> Result<Option<usize>, Error> {
    let limits = HandshakeLimits {
        max_header_bytes: max_head,
        ..HandshakeLimits::default()
    };
    // A CONNECT response has no body to frame (`head_request`).
    let (head, used) = match parse_response_head(buf, &limits, true) {
        Ok(Some(done)) => done,
        Ok(None) => return Ok(None),
        Err(Http1Error::HeadTooLarge { .. }) => {
            return Err(Error::new(
                ErrorKind::Proxy,
                "the proxy's response head is too large",
            ))
        }
        Err(_) => {
            return Err(Error::new(
                ErrorKind::Proxy,
                "the proxy's response to CONNECT is not valid HTTP",
            ))
        }
    };
    match head.status {
        200..=299 => Ok(Some(used)),
        407 if credentials_sent => Err(Error::new(
            ErrorKind::Proxy,
            "the proxy rejected our credentials (407 Proxy Authentication Required)",
        )),
        407 => Err(Error::new(
            ErrorKind::Proxy,
            format!("the proxy requires credentials (407 Proxy Authentication Required); set {credentials_option}"),
        )),
        code => Err(Error::new(
            ErrorKind::Proxy,
            format!(
                "the proxy refused the tunnel to {authority}: HTTP {code} {}",
                head.reason
            ),
        )),
    }
}

/// The error when the proxy closes the connection before its answer's head ended.
pub fn closed_during_connect() -> Error {
    Error::new(ErrorKind::Proxy, "the proxy closed the connection during CONNECT")
}

/// Checks a proxy URL the caller's URL parser read: only `http://` proxies
/// are supported, and the URL must name a host.
pub fn check_proxy_url(scheme: &str, has_host: bool) -> Result<(), Error> {
    if scheme != "http" {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            format!("proxy URL scheme \"{scheme}\" is not supported; use http://"),
        ));
    }
    if !has_host {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            "the proxy URL has no host",
        ));
    }
    Ok(())
}

/// The port of a proxy URL that names none (`http://`'s).
pub const DEFAULT_PROXY_PORT: u16 = 80;

/// `host:port` for `CONNECT` and for a TCP connection: an IPv6 `host`
/// (without brackets) is put in brackets.
pub fn connect_authority(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(buf: &[u8], sent: bool) -> Result<Option<usize>, Error> {
        check_connect_response(buf, "h:443", sent, "Proxy::credentials", MAX_CONNECT_HEAD)
    }

    #[test]
    fn requests() {
        assert_eq!(
            connect_request("h:443", None),
            b"CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n"
        );
        assert_eq!(
            connect_request(
                "[::1]:9",
                Some(&crate::auth::basic_authorization("Aladdin", "open sesame"))
            ),
            b"CONNECT [::1]:9 HTTP/1.1\r\nHost: [::1]:9\r\n\
              Proxy-Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n\r\n"
        );
        assert_eq!(connect_authority("::1", 9), "[::1]:9");
        assert_eq!(connect_authority("h", 9), "h:9");
    }

    #[test]
    fn tunnel_opens_and_leaves_the_rest() {
        let ok = b"HTTP/1.1 200 Connection established\r\nVia: x\r\n\r\nHTTP/1.1 101";
        let n = check(ok, false).unwrap().unwrap();
        assert_eq!(&ok[n..], b"HTTP/1.1 101");
        // Byte by byte: incomplete until the blank line.
        let head = b"HTTP/1.0 200 OK\r\n\r\n";
        for i in 0..head.len() {
            assert_eq!(check(&head[..i], false).unwrap(), None, "{i}");
        }
        assert_eq!(check(head, false).unwrap(), Some(head.len()));
        // A CONNECT 2xx has no body, whatever its headers say.
        let te = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nContent-Length: 5\r\n\r\n";
        assert_eq!(check(te, false).unwrap(), Some(te.len()));
    }

    #[test]
    fn refusals() {
        let e = check(b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n", false).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Proxy);
        assert_eq!(
            e.message(),
            "the proxy requires credentials (407 Proxy Authentication Required); set Proxy::credentials"
        );
        let e = check(b"HTTP/1.1 407 Nope\r\n\r\n", true).unwrap_err();
        assert_eq!(
            e.message(),
            "the proxy rejected our credentials (407 Proxy Authentication Required)"
        );
        let e = check(b"HTTP/1.1 403 Forbidden\r\n\r\n", false).unwrap_err();
        assert_eq!(
            e.message(),
            "the proxy refused the tunnel to h:443: HTTP 403 Forbidden"
        );
        let e = check(b"SSH-2.0-x\r\n\r\n", false).unwrap_err();
        assert_eq!(e.message(), "the proxy's response to CONNECT is not valid HTTP");
        let mut big = b"HTTP/1.1 200 OK\r\n".to_vec();
        big.resize(MAX_CONNECT_HEAD + 1, b'a');
        let e = check(&big, false).unwrap_err();
        assert_eq!(e.message(), "the proxy's response head is too large");
        assert_eq!(closed_during_connect().kind(), ErrorKind::Proxy);
    }

    #[test]
    fn proxy_urls() {
        assert!(check_proxy_url("http", true).is_ok());
        let e = check_proxy_url("socks5", true).unwrap_err();
        assert!(e.message().contains("\"socks5\""), "{}", e.message());
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        assert!(check_proxy_url("http", false).is_err());
    }
}
