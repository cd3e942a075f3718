//! `parse_request` on arbitrary bytes with the default limits.
//!
//! When a request is accepted, the server answers it with `accept_response`
//! (choosing the client's first subprotocol, and permessage-deflate as
//! `server_accept` with the default options chooses it, else an echo of the
//! first extension offer) and the answer is checked without an HTTP parser: a `101` status line,
//! CRLF-terminated header lines, the right `Sec-WebSocket-Accept`. When the
//! key is canonical base64, a client that sent that key checks the answer
//! too, which must accept it. When the request is refused, `reject_response`
//! must produce a well-formed error response whose Content-Length is right,
//! with the valid extra headers it was given and without the invalid ones.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sockweave_core::deflate::server_accept;
use sockweave_core::handshake::{
    accept_key, encode_key, parse_request, reject_response, ClientHandshake, ClientRequest, HandshakeLimits,
};
use sockweave_core::options::DeflateOptions;
use sockweave_fuzz::{find, head_lines, split_point};

fuzz_target!(|data: &[u8]| {
    let limits = HandshakeLimits::default();
    match parse_request(data, limits) {
        Ok(Some((req, n))) => {
            assert!(
                n <= data.len() && n <= limits.max_header_bytes,
                "head of {n} bytes"
            );
            assert!(data[..n].ends_with(b"\n"));
            assert!(!req.host.is_empty());
            for p in &req.protocols {
                assert!(!p.is_empty() && !p.contains(','), "protocol {p:?}");
            }
            let protocol = req.protocols.first().map(String::as_str);
            assert_eq!(req.select_subprotocol(&req.protocols), protocol);
            // permessage-deflate as the default server options accept it, else
            // an echo of the first offer.
            let extensions = match server_accept(&DeflateOptions::default(), &req.extensions) {
                Some((p, ext)) => {
                    let bits = 8..=15;
                    assert!(bits.contains(&p.server_max_window_bits), "{p:?}");
                    assert!(bits.contains(&p.client_max_window_bits), "{p:?}");
                    assert!(
                        req.extensions
                            .iter()
                            .any(|e| e.name.eq_ignore_ascii_case(&ext.name)),
                        "accepted {ext:?}, which was not offered"
                    );
                    vec![ext]
                }
                None => req.extensions[..req.extensions.len().min(1)].to_vec(),
            };
            let extensions = &extensions[..];
            let resp = match req.accept_response(protocol, extensions, &[]) {
                Ok(r) => r,
                Err(e) => panic!("accept_response refused an accepted request: {e}"),
            };
            assert!(
                resp.starts_with(b"HTTP/1.1 101 "),
                "{:?}",
                String::from_utf8_lossy(&resp)
            );
            let lines = head_lines(&resp).expect("accept response is not a CRLF head");
            let accept = format!("Sec-WebSocket-Accept: {}", accept_key(&req.key));
            assert!(lines.iter().any(|l| *l == accept), "no {accept:?}");
            assert!(lines.iter().any(|l| *l == "Upgrade: websocket"));
            assert!(lines.iter().any(|l| *l == "Connection: Upgrade"));
            if let Some(p) = protocol {
                let want = format!("Sec-WebSocket-Protocol: {p}");
                assert!(lines.iter().any(|l| *l == want), "no {want:?}");
            }
            // A subprotocol the client did not offer is refused.
            if !req.protocols.iter().any(|p| p == "not-offered") {
                assert!(req.accept_response(Some("not-offered"), &[], &[]).is_err());
            }
            client_accepts(&req.key, &req.protocols, extensions, protocol, &resp);
            // A request followed by frames: the head ends where it ended before.
            let mut more = data[..n].to_vec();
            more.extend_from_slice(b"\x81\x85\x01\x02\x03\x04hello");
            match parse_request(&more, limits) {
                Ok(Some((again, m))) => {
                    assert_eq!(m, n);
                    assert_eq!(again, req);
                }
                other => panic!("the same head followed by a frame gave {other:?}"),
            }
            // Every prefix shorter than the head is incomplete.
            let cut = split_point(data) % n;
            assert!(
                matches!(parse_request(&data[..cut], limits), Ok(None)),
                "prefix of {cut} bytes of a {n}-byte head is not incomplete"
            );
        }
        Ok(None) => assert!(data.len() <= limits.max_header_bytes),
        Err(err) => {
            let extra = [
                (
                    String::from("WWW-Authenticate"),
                    String::from("Basic realm=\"ws\""),
                ),
                (String::from("Bad Name"), String::from("left out")),
                (String::from("X-Split"), String::from("a\r\nInjected: 1")),
            ];
            let resp = reject_response(&err, &extra);
            let status_line = format!("HTTP/1.1 {} ", err.status);
            assert!(resp.starts_with(status_line.as_bytes()), "{err}");
            assert!((400..600).contains(&err.status), "status {}", err.status);
            let end = find(&resp, b"\r\n\r\n").expect("reject response has no blank line") + 4;
            let lines = head_lines(&resp[..end]).expect("reject response is not a CRLF head");
            let body = &resp[end..];
            let cl = format!("Content-Length: {}", body.len());
            assert!(lines.iter().any(|l| *l == cl), "no {cl:?}");
            assert!(body.ends_with(b"\n"));
            assert!(lines.iter().any(|l| *l == "WWW-Authenticate: Basic realm=\"ws\""));
            assert!(!lines
                .iter()
                .any(|l| l.starts_with("Bad Name") || l.starts_with("Injected")));
            if err.status == 426 {
                assert!(lines.iter().any(|l| *l == "Sec-WebSocket-Version: 13"));
            }
        }
    }
});

/// A client that sent `key` and offered what the request offered must accept `resp`.
fn client_accepts(
    key: &str,
    protocols: &[String],
    extensions: &[sockweave_core::handshake::Extension],
    protocol: Option<&str>,
    resp: &[u8],
) {
    use base64::Engine as _;
    let Ok(nonce) = base64::engine::general_purpose::STANDARD.decode(key) else {
        panic!("accepted key {key:?} is not base64");
    };
    let nonce: [u8; 16] = nonce.try_into().expect("accepted key is not 16 bytes");
    if encode_key(nonce) != key {
        return; // a non-canonical spelling: no client of ours would send it
    }
    let request = ClientRequest {
        host: String::from("example.com"),
        path: String::from("/"),
        subprotocols: protocols.to_vec(),
        deflate: None,
        extensions: extensions.to_vec(),
        headers: Vec::new(),
    };
    // Offers a client would refuse to send (duplicates, ...) are not a round trip.
    let Ok((hs, _)) = ClientHandshake::new(&request, nonce, HandshakeLimits::default()) else {
        return;
    };
    match hs.parse_response(resp) {
        Ok(Some((acc, n))) => {
            assert_eq!(n, resp.len());
            assert_eq!(acc.protocol.as_deref(), protocol);
            assert_eq!(acc.extensions, extensions);
        }
        other => panic!(
            "the client refused the server's answer {:?}: {other:?}",
            String::from_utf8_lossy(resp)
        ),
    }
}
