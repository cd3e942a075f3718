//! Secrets and where they go: cookies for public suffixes (RFC 6265 section
//! 5.3 step 5), HTTP Basic only over TLS unless opted into and only to the
//! origins the credentials are for, and no password in `Debug` output or
//! error messages.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{basic, basic_auth_server, bounded, listen};
use sockweave::{
    ClientWebSocket, ClientWebSocketOptions, CookieJar, Credentials, ErrorKind, Invoker, InvokerOptions,
    Millis, Proxy, Request,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const SECRET: &str = "hunter2-secret";

fn creds(password: &str) -> Credentials {
    Credentials {
        user: "alice".into(),
        password: password.into(),
    }
}

// ---- cookies for public suffixes -------------------------------------------

/// A proxy that is also every server: it answers each CONNECT with 200, then
/// answers the one request in the tunnel with `set_cookie` (if any),
/// recording `(Host, Cookie)`. This lets the invoker talk to `a.github.io`
/// without DNS.
async fn everywhere(set_cookie: Option<&'static str>) -> (u16, Arc<Mutex<Vec<(String, Option<String>)>>>) {
    let (listener, port) = listen().await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            let log = log.clone();
            tokio::spawn(async move {
                let connect = read_head(&mut tcp).await;
                if !connect.starts_with("CONNECT ") {
                    return;
                }
                tcp.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    .await
                    .unwrap();
                let head = read_head(&mut tcp).await;
                let field = |name: &str| {
                    head.lines().find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
                    })
                };
                log.lock()
                    .unwrap()
                    .push((field("host").unwrap_or_default(), field("cookie")));
                let extra = set_cookie
                    .map(|c| format!("Set-Cookie: {c}\r\n"))
                    .unwrap_or_default();
                let answer =
                    format!("HTTP/1.1 200 OK\r\n{extra}Content-Length: 0\r\nConnection: close\r\n\r\n");
                let _ = tcp.write_all(answer.as_bytes()).await;
            });
        }
    });
    (port, seen)
}

async fn read_head(tcp: &mut tokio::net::TcpStream) -> String {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        if tcp.read(&mut byte).await.unwrap_or(0) == 0 {
            break;
        }
        buf.push(byte[0]);
    }
    String::from_utf8_lossy(&buf).into_owned()
}

/// Host `setter` answers with `Set-Cookie: cookie`; then a request goes to
/// `other`. Returns the Cookie header `other` received.
async fn cookie_reaching(cookie: &'static str, setter: &str, other: &str) -> Option<String> {
    let (port, seen) = everywhere(Some(cookie)).await;
    let jar = Arc::new(CookieJar::new());
    let invoker = Invoker::new(InvokerOptions {
        cookies: Some(jar),
        proxy: Some(Proxy::new(&format!("http://127.0.0.1:{port}")).unwrap()),
        ..Default::default()
    });
    invoker
        .send(Request::get(&format!("http://{setter}/")))
        .await
        .unwrap();
    invoker
        .send(Request::get(&format!("http://{other}/")))
        .await
        .unwrap();
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[1].0, other);
    seen[1].1.clone()
}

#[tokio::test]
async fn cookies_for_public_suffixes_are_refused() {
    bounded(async {
        for (cookie, setter, other) in [
            ("sid=1; Domain=github.io", "a.github.io", "b.github.io"),
            ("sid=1; Domain=.github.io", "a.github.io", "b.github.io"),
            ("sid=1; Domain=co.uk", "shop.co.uk", "bank.co.uk"),
            ("sid=1; Domain=com", "a.example.com", "bank.com"),
            ("sid=1; Domain=COM", "a.example.com", "www.bank.com"),
        ] {
            assert_eq!(
                cookie_reaching(cookie, setter, other).await,
                None,
                "{cookie} from {setter}"
            );
        }
    })
    .await;
}

#[tokio::test]
async fn an_ordinary_domain_cookie_still_reaches_its_subdomains() {
    bounded(async {
        let got = cookie_reaching("sid=1; Domain=example.com", "www.example.com", "api.example.com").await;
        assert_eq!(got.as_deref(), Some("sid=1"));
        let got = cookie_reaching("sid=2; Domain=bbc.co.uk", "www.bbc.co.uk", "news.bbc.co.uk").await;
        assert_eq!(got.as_deref(), Some("sid=2"));
    })
    .await;
}

#[tokio::test]
async fn the_jar_api_applies_the_same_rule() {
    let jar = CookieJar::new();
    let e = jar
        .set_cookie("a=1; Domain=github.io", "https://a.github.io/")
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
    assert!(e.message().contains("public suffix"), "{e}");
    assert_eq!(jar.cookie_header("https://b.github.io/").unwrap(), None);
    // A suffix setting a cookie for itself gets a host-only cookie.
    jar.set_cookie("b=2; Domain=github.io", "https://github.io/")
        .unwrap();
    assert_eq!(
        jar.cookie_header("https://github.io/").unwrap().as_deref(),
        Some("b=2")
    );
    assert_eq!(jar.cookie_header("https://a.github.io/").unwrap(), None);
    jar.set_cookie("c=3; Domain=example.com", "https://www.example.com/")
        .unwrap();
    assert_eq!(
        jar.cookie_header("wss://api.example.com/").unwrap().as_deref(),
        Some("c=3")
    );
}

// ---- HTTP Basic --------------------------------------------------------------

#[tokio::test]
async fn basic_over_ws_is_refused_without_the_opt_in() {
    bounded(async {
        let (port, seen) = basic_auth_server().await;
        let mut ws = ClientWebSocket::with_options(ClientWebSocketOptions {
            credentials: Some(creds("s3cret")),
            ..Default::default()
        });
        let e = ws.connect(&format!("ws://127.0.0.1:{port}/")).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InsecureCredentials, "{e}");
        assert!(e.message().contains("allow_basic_over_cleartext"), "{e}");
        assert_eq!(e.response().map(|r| r.status), Some(401));
        // The challenge only: the password never went out.
        assert_eq!(*seen.lock().unwrap(), vec![None]);
    })
    .await;
}

#[tokio::test]
async fn basic_over_ws_is_sent_with_the_opt_in() {
    bounded(async {
        let (port, seen) = basic_auth_server().await;
        let mut ws = ClientWebSocket::with_options(ClientWebSocketOptions {
            credentials: Some(creds("s3cret")),
            allow_basic_over_cleartext: true,
            ..Default::default()
        });
        ws.connect(&format!("ws://127.0.0.1:{port}/")).await.unwrap();
        common::assert_echo(&ws, "authorized").await;
        assert_eq!(*seen.lock().unwrap(), vec![None, Some(basic("alice", "s3cret"))]);
    })
    .await;
}

/// An HTTP server answering 401 + Basic challenge unless authorized; records `Authorization`.
async fn basic_http_server() -> (u16, Arc<Mutex<Vec<Option<String>>>>) {
    let (listener, port) = listen().await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            let log = log.clone();
            tokio::spawn(async move {
                loop {
                    let head = read_head(&mut tcp).await;
                    if head.is_empty() {
                        return;
                    }
                    let auth = head.lines().find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.eq_ignore_ascii_case("authorization")
                            .then(|| v.trim().to_owned())
                    });
                    let ok = auth.as_deref() == Some(basic("alice", "s3cret").as_str());
                    log.lock().unwrap().push(auth);
                    let answer: &[u8] = if ok {
                        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nin"
                    } else {
                        b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"x\"\r\nContent-Length: 0\r\n\r\n"
                    };
                    if tcp.write_all(answer).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (port, seen)
}

#[tokio::test]
async fn invoker_credentials_go_only_to_their_origins() {
    bounded(async {
        let (mine, mine_seen) = basic_http_server().await;
        let (theirs, theirs_seen) = basic_http_server().await;
        let invoker = Invoker::new(InvokerOptions {
            credentials: Some(creds("s3cret")),
            // ws:// and a path name the same origin as http://127.0.0.1:mine.
            credential_origins: vec![format!("ws://127.0.0.1:{mine}/any/path")],
            allow_basic_over_cleartext: true,
            ..Default::default()
        });
        let r = invoker
            .send(Request::get(&format!("http://127.0.0.1:{theirs}/")))
            .await
            .unwrap();
        assert_eq!(r.status, 401);
        assert_eq!(*theirs_seen.lock().unwrap(), vec![None]);
        let r = invoker
            .send(Request::get(&format!("http://127.0.0.1:{mine}/")))
            .await
            .unwrap();
        assert_eq!((r.status, r.body.as_slice()), (200, b"in".as_slice()));
        assert_eq!(
            *mine_seen.lock().unwrap(),
            vec![None, Some(basic("alice", "s3cret"))]
        );
    })
    .await;
}

#[tokio::test]
async fn invoker_basic_over_http_is_refused_without_the_opt_in() {
    bounded(async {
        let (port, seen) = basic_http_server().await;
        let url = format!("http://127.0.0.1:{port}/");
        let invoker = Invoker::new(InvokerOptions {
            credentials: Some(creds("s3cret")),
            credential_origins: vec![url.clone()],
            ..Default::default()
        });
        let e = invoker.send(Request::get(&url)).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InsecureCredentials, "{e}");
        assert_eq!(*seen.lock().unwrap(), vec![None]);
    })
    .await;
}

#[tokio::test]
async fn invoker_credentials_bound_to_no_origin_are_an_error_naming_the_fix() {
    bounded(async {
        let (port, seen) = basic_http_server().await;
        let invoker = Invoker::new(InvokerOptions {
            credentials: Some(creds("s3cret")),
            allow_basic_over_cleartext: true,
            ..Default::default()
        });
        let e = invoker
            .send(Request::get(&format!("http://127.0.0.1:{port}/")))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
        assert!(e.message().contains("credential_origins"), "{e}");
        assert_eq!(*seen.lock().unwrap(), vec![None]);
    })
    .await;
}

#[tokio::test]
async fn a_websockets_credentials_are_bound_to_the_url_it_connects_to() {
    bounded(async {
        // Through an invoker bound elsewhere, the server's 401 stands.
        let (port, seen) = basic_auth_server().await;
        let invoker = Invoker::new(InvokerOptions {
            credentials: Some(creds("s3cret")),
            credential_origins: vec!["https://elsewhere.example".into()],
            allow_basic_over_cleartext: true,
            ..Default::default()
        });
        let mut ws = ClientWebSocket::new();
        let e = ws
            .connect_with(&format!("ws://127.0.0.1:{port}/"), &invoker)
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotAWebSocket, "{e}");
        assert_eq!(*seen.lock().unwrap(), vec![None]);
    })
    .await;
}

// ---- secrets in Debug output and errors ---------------------------------------

#[tokio::test]
async fn debug_output_never_shows_a_password() {
    let proxy = Proxy::new(&format!("http://proxyuser:{SECRET}@127.0.0.1:3128")).unwrap();
    let shown = format!("{proxy:?}");
    assert!(!shown.contains(SECRET), "{shown}");
    assert!(shown.contains("proxyuser"), "{shown}");
    let invoker_options = InvokerOptions {
        proxy: Some(proxy.clone()),
        credentials: Some(creds(SECRET)),
        ..Default::default()
    };
    let client_options = ClientWebSocketOptions {
        proxy: Some(proxy.clone()),
        credentials: Some(creds(SECRET)),
        ..Default::default()
    };
    let mut request = Request::get(&format!("https://u:{SECRET}@example.com/"));
    request
        .headers
        .push(("Authorization".into(), format!("Bearer {SECRET}")));
    let invoker = Invoker::new(invoker_options.clone());
    let client = ClientWebSocket::with_options(client_options.clone());
    for shown in [
        format!("{invoker_options:?}"),
        format!("{client_options:?}"),
        format!("{invoker:?}"),
        format!("{client:?}"),
        format!("{request:?}"),
        format!("{:#?}", proxy),
    ] {
        assert!(!shown.contains(SECRET), "{shown}");
    }
}

#[tokio::test]
async fn errors_never_show_user_info() {
    bounded(async {
        let silent = {
            let (listener, port) = listen().await;
            tokio::spawn(async move {
                let mut held = Vec::new();
                while let Ok((tcp, _)) = listener.accept().await {
                    held.push(tcp);
                }
            });
            port
        };
        let mut errors = Vec::new();
        errors.push(Proxy::new(&format!("socks5://u:{SECRET}@127.0.0.1:1")).unwrap_err());
        errors.push(Proxy::new(&format!("http://u:{SECRET}@[::1")).unwrap_err());
        let invoker = Invoker::new(InvokerOptions {
            request_timeout: Duration::from_millis(100),
            ..Default::default()
        });
        for url in [
            format!("ftp://u:{SECRET}@example.com/"),
            format!("http://u:{SECRET}@[bad/"),
            format!("http://u:{SECRET}@127.0.0.1:{silent}/"),
        ] {
            errors.push(invoker.send(Request::get(&url)).await.unwrap_err());
        }
        assert_eq!(errors.last().unwrap().kind(), ErrorKind::Timeout);
        for url in [
            format!("http://u:{SECRET}@127.0.0.1:{silent}/"),
            format!("ws://u:{SECRET}@[nope/"),
            format!("ws://u:{SECRET}@127.0.0.1:{silent}/"),
        ] {
            let mut ws = ClientWebSocket::new();
            ws.options_mut().options.handshake_timeout = Millis::Finite(100);
            errors.push(ws.connect(&url).await.unwrap_err());
        }
        assert_eq!(errors.last().unwrap().kind(), ErrorKind::Timeout);
        for e in &errors {
            for shown in [e.to_string(), format!("{e:?}")] {
                assert!(!shown.contains(SECRET), "{shown}");
                assert!(!shown.contains("u:"), "{shown}");
            }
        }
    })
    .await;
}

/// A cookie jar's `Debug` (and so every options type holding one) never shows
/// a cookie's value.
#[test]
fn debug_output_never_shows_a_cookie_value() {
    let jar = sockweave::CookieJar::new();
    jar.set_cookie("session=s3cr3t-cookie; Path=/", "https://example.com/")
        .unwrap();
    let shown = format!("{jar:?}");
    assert!(!shown.contains("s3cr3t-cookie"), "{shown}");
    assert!(shown.contains("cookies: 1"), "{shown}");
}
