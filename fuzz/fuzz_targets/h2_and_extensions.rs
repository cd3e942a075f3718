//! `parse_extensions` on arbitrary strings and `parse_h2_request` with
//! pseudo-headers and headers cut from the input.
//!
//! Input: byte 0 says which pseudo-headers are present and which are forced to
//! their valid value (so the fuzzer gets past the first checks easily); the
//! rest, as lossy UTF-8, is split on '\n' into the method, `:protocol`,
//! `:scheme`, `:path`, `:authority` and then `name: value` header lines.
//! The whole input as lossy UTF-8 also goes to `parse_extensions`.
//!
//! Checks: what `parse_extensions` accepts is made of tokens and formats back
//! to a string that parses to the same list; an accepted extended CONNECT
//! reports the path and authority given, offers only tokens, and can be
//! answered with `h2_accept_headers`, which the client-side check accepts.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sockweave_core::handshake::{
    format_extensions, h2_accept_headers, parse_extensions, parse_h2_request, ClientRequest,
    H2ConnectRequest, Headers, H2_PROTOCOL,
};
use sockweave_core::options::DeflateOptions;
use sockweave_fuzz::is_token;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    check_extensions(&text);

    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let rest = String::from_utf8_lossy(rest);
    let mut parts = rest.split('\n');
    let mut next = || parts.next().unwrap_or("");
    let method = if flags & 0x01 != 0 { "CONNECT" } else { next() };
    let mut pseudo = |bit: u8, forced: &'static str| -> Option<String> {
        let v = next();
        match (flags >> bit) & 0b11 {
            0 => None,
            1 => Some(String::from(forced)),
            _ => Some(String::from(v)),
        }
    };
    let protocol = pseudo(1, H2_PROTOCOL);
    let scheme = pseudo(3, "https");
    let path = pseudo(5, "/chat");
    let authority = if flags & 0x80 != 0 {
        Some(String::from(next()))
    } else {
        None
    };
    let mut headers: Headers = Vec::new();
    if flags & 0x80 == 0 {
        headers.push((String::from("sec-websocket-version"), String::from("13")));
    }
    for line in parts.by_ref().take(64) {
        let (k, v) = line.split_once(':').unwrap_or((line, ""));
        headers.push((String::from(k), String::from(v.trim())));
    }
    let authority = authority.or_else(|| Some(String::from("example.com")));

    let result = parse_h2_request(
        method,
        protocol.as_deref(),
        scheme.as_deref(),
        path.as_deref(),
        authority.as_deref(),
        headers.clone(),
    );
    match result {
        Ok(req) => {
            assert_eq!(method, "CONNECT");
            assert!(protocol
                .as_deref()
                .is_some_and(|p| p.eq_ignore_ascii_case(H2_PROTOCOL)));
            assert!(scheme.is_some());
            assert_eq!(Some(req.path.as_str()), path.as_deref());
            assert!(!req.path.is_empty());
            assert_eq!(Some(req.host.as_str()), authority.as_deref());
            assert!(req.key.is_empty(), "HTTP/2 has no key");
            assert_eq!(req.headers, headers);
            for p in &req.protocols {
                assert!(is_token(p), "offered protocol {p:?} is not a token");
            }
            for e in &req.extensions {
                check_extension(e);
            }
            let protocol = req.protocols.first().map(String::as_str);
            let extensions = &req.extensions[..req.extensions.len().min(1)];
            let answer = h2_accept_headers(&req, protocol, extensions)
                .unwrap_or_else(|e| panic!("h2_accept_headers refused an accepted request: {e}"));
            assert!(h2_accept_headers(&req, Some("not offered"), &[]).is_err());
            // A client that offered the same things accepts the answer.
            let client = ClientRequest {
                host: req.host.clone(),
                path: req.path.clone(),
                subprotocols: req.protocols.clone(),
                deflate: None,
                extensions: extensions.to_vec(),
                headers: Vec::new(),
            };
            if let Ok(connect) = H2ConnectRequest::new("https", &client) {
                match connect.check_response(200, answer) {
                    Ok(acc) => {
                        assert_eq!(acc.protocol.as_deref(), protocol);
                        assert_eq!(acc.extensions, extensions);
                    }
                    Err(e) => panic!("the client refused the server's answer: {e}"),
                }
            }
        }
        Err(e) => {
            let _ = e.to_string();
            assert!(matches!(e.status, 400 | 405 | 426 | 501), "status {}", e.status);
        }
    }

    // The client side of HTTP/2: an arbitrary :status and headers.
    let client = ClientRequest {
        host: String::from("example.com"),
        path: String::from("/chat"),
        subprotocols: vec![String::from("chat"), String::from("superchat")],
        deflate: Some(DeflateOptions::default()),
        extensions: Vec::new(),
        headers: Vec::new(),
    };
    let connect = H2ConnectRequest::new("https", &client).expect("fixed request is valid");
    let status = u16::from(flags) + if flags & 1 == 0 { 100 } else { 0 };
    if let Ok(acc) = connect.check_response(status, headers) {
        assert!((200..300).contains(&status));
        if let Some(p) = &acc.protocol {
            assert!(client.subprotocols.contains(p), "protocol {p:?} not offered");
        }
        for e in &acc.extensions {
            assert!(e.name.eq_ignore_ascii_case("permessage-deflate"), "{:?}", e.name);
        }
        assert_eq!(acc.deflate.is_some(), !acc.extensions.is_empty());
    }
});

fn check_extension(e: &sockweave_core::handshake::Extension) {
    assert!(is_token(&e.name), "extension name {:?}", e.name);
    for (k, v) in &e.params {
        assert!(is_token(k), "parameter name {k:?}");
        if let Some(v) = v {
            assert!(is_token(v), "parameter value {v:?}");
        }
        assert!(e.param(k).is_some());
    }
}

fn check_extensions(text: &str) {
    let Ok(list) = parse_extensions(text) else {
        return;
    };
    for e in &list {
        check_extension(e);
    }
    let formatted = format_extensions(&list);
    match parse_extensions(&formatted) {
        Ok(again) => assert_eq!(again, list, "{formatted:?} parsed differently"),
        Err(e) => panic!("formatted {formatted:?} of {text:?} does not parse: {e}"),
    }
    // Several header lines are joined with ", ": the lists concatenate.
    let twice = format!("{text}, {text}");
    if let Ok(both) = parse_extensions(&twice) {
        assert_eq!(both.len(), 2 * list.len(), "{twice:?}");
    }
}
