//! ws:// and wss:// through an HTTP CONNECT proxy that lives in the test:
//! tunnels, Basic proxy credentials, refusals.

mod common;

use std::sync::{Arc, Mutex};

use common::{
    assert_echo, basic, bounded, connect, echo, echo_server, h2_only_client, tls_echo_server_for, Ca,
};
use sockweave::{
    accept_with, Accepted, ClientWebSocketOptions, CloseCode, Credentials, ErrorKind, Options, Proxy,
    RootCertificates, State,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One CONNECT request as the proxy saw it.
#[derive(Clone, Debug, PartialEq)]
struct Connect {
    target: String,
    host: Option<String>,
    proxy_authorization: Option<String>,
}

/// How the test proxy behaves.
#[derive(Clone)]
enum Mode {
    /// Tunnels every CONNECT; with `Some`, only those with this `Proxy-Authorization`.
    Tunnel { required_auth: Option<String> },
    /// Answers every CONNECT with this status line, e.g. "502 Bad Gateway".
    Refuse(&'static str),
}

struct TestProxy {
    port: u16,
    requests: Arc<Mutex<Vec<Connect>>>,
    tunnels: Arc<Mutex<usize>>,
}

impl TestProxy {
    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn requests(&self) -> Vec<Connect> {
        self.requests.lock().unwrap().clone()
    }

    fn tunnels(&self) -> usize {
        *self.tunnels.lock().unwrap()
    }
}

async fn start_proxy(mode: Mode) -> TestProxy {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let requests = Arc::new(Mutex::new(Vec::new()));
    let tunnels = Arc::new(Mutex::new(0));
    let (log, count) = (requests.clone(), tunnels.clone());
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let (mode, log, count) = (mode.clone(), log.clone(), count.clone());
            tokio::spawn(async move {
                let _ = serve(client, mode, log, count).await;
            });
        }
    });
    TestProxy {
        port,
        requests,
        tunnels,
    }
}

async fn serve(
    mut client: TcpStream,
    mode: Mode,
    log: Arc<Mutex<Vec<Connect>>>,
    count: Arc<Mutex<usize>>,
) -> std::io::Result<()> {
    // Read the request head; keep anything after it for the tunnel.
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    let end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = client.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    let early = buf[end..].to_vec();
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or("");
    let mut parts = request_line.split(' ');
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or("").to_string());
    let header = |name: &str| {
        head.split("\r\n").skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    };
    log.lock().unwrap().push(Connect {
        target: target.clone(),
        host: header("host"),
        proxy_authorization: header("proxy-authorization"),
    });
    if method != "CONNECT" {
        client
            .write_all(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
            .await?;
        return Ok(());
    }
    match mode {
        Mode::Refuse(status) => {
            client
                .write_all(format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\n\r\n").as_bytes())
                .await?;
            Ok(())
        }
        Mode::Tunnel { required_auth } => {
            if required_auth.is_some() && header("proxy-authorization") != required_auth {
                client
                    .write_all(
                        b"HTTP/1.1 407 Proxy Authentication Required\r\n\
                          Proxy-Authenticate: Basic realm=\"test proxy\"\r\nContent-Length: 0\r\n\r\n",
                    )
                    .await?;
                return Ok(());
            }
            let mut upstream = match TcpStream::connect(target.as_str()).await {
                Ok(s) => s,
                Err(_) => {
                    client
                        .write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
                        .await?;
                    return Ok(());
                }
            };
            *count.lock().unwrap() += 1;
            client
                .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                .await?;
            upstream.write_all(&early).await?;
            tokio::io::copy_bidirectional(&mut client, &mut upstream).await?;
            Ok(())
        }
    }
}

fn via(proxy: Proxy) -> ClientWebSocketOptions {
    ClientWebSocketOptions {
        proxy: Some(proxy),
        ..Default::default()
    }
}

#[tokio::test]
async fn ws_through_the_proxy_uses_one_tunnel_to_the_server() {
    bounded(async {
        // The server records the Host header it sees through the tunnel.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server_port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let (ws, req) = accept_with(tcp, &Options::default(), |_| Ok(Accepted::default()))
                .await
                .unwrap();
            echo(&ws).await;
            req.host
        });
        let proxy = start_proxy(Mode::Tunnel { required_auth: None }).await;

        let ws = connect(
            &format!("ws://127.0.0.1:{server_port}/via-proxy"),
            via(Proxy::new(&proxy.url()).unwrap()),
        )
        .await
        .unwrap();
        assert_eq!(ws.state(), State::Open);
        assert_echo(&ws, "through the tunnel").await;
        ws.close(Some(CloseCode::NORMAL), "").await.unwrap();

        let authority = format!("127.0.0.1:{server_port}");
        assert_eq!(
            proxy.requests(),
            vec![Connect {
                target: authority.clone(),
                host: Some(authority.clone()),
                proxy_authorization: None,
            }]
        );
        assert_eq!(proxy.tunnels(), 1);
        assert_eq!(server.await.unwrap(), authority);
    })
    .await;
}

#[tokio::test]
async fn credentials_in_the_proxy_url_are_sent() {
    bounded(async {
        let server_port = echo_server(Options::default()).await;
        let proxy = start_proxy(Mode::Tunnel {
            required_auth: Some(basic("user", "pass")),
        })
        .await;
        let p = Proxy::new(&format!("http://user:pass@127.0.0.1:{}", proxy.port)).unwrap();
        assert_eq!(
            p.credentials,
            Some(Credentials {
                user: "user".into(),
                password: "pass".into()
            })
        );
        let ws = connect(&format!("ws://127.0.0.1:{server_port}/"), via(p))
            .await
            .unwrap();
        assert_echo(&ws, "authenticated tunnel").await;
        let requests = proxy.requests();
        assert_eq!(requests.len(), 1);
        assert_eq!(requests[0].proxy_authorization, Some(basic("user", "pass")));
        assert_eq!(proxy.tunnels(), 1);
    })
    .await;
}

#[tokio::test]
async fn percent_encoded_credentials_are_decoded() {
    bounded(async {
        let server_port = echo_server(Options::default()).await;
        let proxy = start_proxy(Mode::Tunnel {
            required_auth: Some(basic("us@er", "p:ss w")),
        })
        .await;
        let p = Proxy::new(&format!("http://us%40er:p%3Ass%20w@127.0.0.1:{}", proxy.port)).unwrap();
        let ws = connect(&format!("ws://127.0.0.1:{server_port}/"), via(p))
            .await
            .unwrap();
        assert_echo(&ws, "decoded").await;
        assert_eq!(
            proxy.requests()[0].proxy_authorization,
            Some(basic("us@er", "p:ss w"))
        );
    })
    .await;
}

#[tokio::test]
async fn credentials_set_on_the_proxy_are_sent() {
    bounded(async {
        let server_port = echo_server(Options::default()).await;
        let proxy = start_proxy(Mode::Tunnel {
            required_auth: Some(basic("alice", "secret")),
        })
        .await;
        let mut p = Proxy::new(&proxy.url()).unwrap();
        assert_eq!(p.credentials, None);
        p.credentials = Some(Credentials {
            user: "alice".into(),
            password: "secret".into(),
        });
        let ws = connect(&format!("ws://127.0.0.1:{server_port}/"), via(p))
            .await
            .unwrap();
        assert_echo(&ws, "field credentials").await;
    })
    .await;
}

#[tokio::test]
async fn without_credentials_the_407_is_a_proxy_error() {
    bounded(async {
        let server_port = echo_server(Options::default()).await;
        let proxy = start_proxy(Mode::Tunnel {
            required_auth: Some(basic("user", "pass")),
        })
        .await;
        let e = connect(
            &format!("ws://127.0.0.1:{server_port}/"),
            via(Proxy::new(&proxy.url()).unwrap()),
        )
        .await
        .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Proxy, "{e}");
        assert!(e.message().contains("407"), "{e}");
        assert_eq!(proxy.tunnels(), 0);
        assert_eq!(proxy.requests().len(), 1);
        assert_eq!(proxy.requests()[0].proxy_authorization, None);

        // Wrong credentials: also a Proxy error.
        let wrong = Proxy::new(&format!("http://user:nope@127.0.0.1:{}", proxy.port)).unwrap();
        let e = connect(&format!("ws://127.0.0.1:{server_port}/"), via(wrong))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Proxy, "{e}");
        assert!(e.message().contains("407"), "{e}");
        assert_eq!(proxy.tunnels(), 0);
    })
    .await;
}

#[tokio::test]
async fn a_refused_tunnel_is_a_proxy_error_naming_the_status() {
    bounded(async {
        let proxy = start_proxy(Mode::Refuse("502 Bad Gateway")).await;
        let e = connect("ws://127.0.0.1:9/", via(Proxy::new(&proxy.url()).unwrap()))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Proxy, "{e}");
        assert!(e.message().contains("502"), "{e}");
        assert_eq!(proxy.requests()[0].target, "127.0.0.1:9");
    })
    .await;
}

#[tokio::test]
async fn an_unreachable_proxy_is_a_proxy_error() {
    bounded(async {
        // A port that was just free: nothing listens there.
        let port = {
            let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
            l.local_addr().unwrap().port()
        };
        let e = connect(
            "ws://127.0.0.1:9/",
            via(Proxy::new(&format!("http://127.0.0.1:{port}")).unwrap()),
        )
        .await
        .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Proxy, "{e}");
    })
    .await;
}

#[tokio::test]
async fn proxy_urls_other_than_http_are_refused() {
    for url in ["https://127.0.0.1:8443", "socks5://127.0.0.1:1080", "not a url"] {
        let e = Proxy::new(url).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{url}: {e}");
    }
}

#[tokio::test]
async fn wss_through_the_proxy_runs_tls_inside_the_tunnel() {
    bounded(async {
        let ca = Ca::new("sockweave test CA");
        let server_port = tls_echo_server_for(&ca.server_cert(&["localhost"], 4000)).await;
        let proxy = start_proxy(Mode::Tunnel {
            required_auth: Some(basic("user", "pass")),
        })
        .await;
        let options = ClientWebSocketOptions {
            proxy: Some(Proxy::new(&format!("http://user:pass@127.0.0.1:{}", proxy.port)).unwrap()),
            root_certificates: RootCertificates::from_pem(ca.pem().as_bytes()).unwrap(),
            ..Default::default()
        };
        let ws = connect(&format!("wss://localhost:{server_port}/secure"), options)
            .await
            .unwrap();
        assert_echo(&ws, "TLS in a tunnel").await;
        ws.close(Some(CloseCode::NORMAL), "").await.unwrap();
        assert_eq!(ws.state(), State::Closed);
        let requests = proxy.requests();
        assert_eq!(requests.len(), 1);
        assert_eq!(requests[0].target, format!("localhost:{server_port}"));
        assert_eq!(proxy.tunnels(), 1);

        // Certificate checks still apply inside the tunnel.
        let e = connect(
            &format!("wss://localhost:{server_port}/"),
            ClientWebSocketOptions {
                proxy: Some(Proxy::new(&format!("http://user:pass@127.0.0.1:{}", proxy.port)).unwrap()),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Tls, "{e}");
    })
    .await;
}

#[tokio::test]
async fn a_proxy_that_never_answers_is_bounded_by_the_handshake_timeout() {
    bounded(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (hold_tx, hold_rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let _ = hold_rx.await;
            drop(tcp);
        });
        let mut options = via(Proxy::new(&format!("http://127.0.0.1:{port}")).unwrap());
        options.options.handshake_timeout = sockweave::Millis::Finite(300);
        let e = connect("ws://127.0.0.1:9/", options).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
        drop(hold_tx);
    })
    .await;
}

#[tokio::test]
async fn http_basic_to_the_server_works_through_the_proxy() {
    bounded(async {
        // The server wants its own credentials; the retry opens a second tunnel.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server_port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let result = accept_with(tcp, &Options::default(), |req| {
                    if req.header("authorization") == Some(basic("web", "pw").as_str()) {
                        Ok(Accepted::default())
                    } else {
                        Err(sockweave::Rejected {
                            status: 401,
                            message: "credentials".into(),
                            headers: vec![("WWW-Authenticate".into(), "Basic realm=\"x\"".into())],
                        })
                    }
                })
                .await;
                if let Ok((ws, _)) = result {
                    tokio::spawn(async move { echo(&ws).await });
                }
            }
        });
        let proxy = start_proxy(Mode::Tunnel {
            required_auth: Some(basic("proxyuser", "proxypw")),
        })
        .await;
        let options = ClientWebSocketOptions {
            proxy: Some(Proxy::new(&format!("http://proxyuser:proxypw@127.0.0.1:{}", proxy.port)).unwrap()),
            credentials: Some(Credentials {
                user: "web".into(),
                password: "pw".into(),
            }),
            allow_basic_over_cleartext: true,
            ..Default::default()
        };
        let ws = connect(&format!("ws://127.0.0.1:{server_port}/"), options)
            .await
            .unwrap();
        assert_echo(&ws, "two kinds of credentials").await;
        // Proxy credentials went to the proxy on both tunnels; server credentials
        // never went to the proxy.
        let requests = proxy.requests();
        assert_eq!(requests.len(), 2);
        assert!(requests
            .iter()
            .all(|r| r.proxy_authorization == Some(basic("proxyuser", "proxypw"))));
        assert_eq!(proxy.tunnels(), 2);
    })
    .await;
}

#[tokio::test]
async fn http2_websockets_through_the_proxy_share_one_tunnel() {
    bounded(async {
        let ca = Ca::new("sockweave test CA");
        let leaf = ca.server_cert(&["localhost"], 4000);
        let config = sockweave::tls_server_config(
            leaf.cert_pem.as_bytes(),
            leaf.key_pem.as_bytes(),
            &[b"h2", b"http/1.1"],
        )
        .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(config);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server_port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let tls = acceptor.accept(tcp).await.unwrap();
                    if let Ok(sockweave::Accepting::Http2(mut conn)) =
                        sockweave::accept_any(tls, &Options::default()).await
                    {
                        while let Some(sockweave::Incoming::WebSocket(ws, _)) = conn.accept().await {
                            tokio::spawn(async move { echo(&ws).await });
                        }
                    }
                });
            }
        });
        let proxy = start_proxy(Mode::Tunnel { required_auth: None }).await;
        let invoker = sockweave::Invoker::new(sockweave::InvokerOptions {
            proxy: Some(Proxy::new(&proxy.url()).unwrap()),
            root_certificates: RootCertificates::from_pem(ca.pem().as_bytes()).unwrap(),
            ..Default::default()
        });
        let mut sockets = Vec::new();
        for i in 0..3 {
            let mut ws = h2_only_client();
            ws.connect_with(&format!("wss://localhost:{server_port}/{i}"), &invoker)
                .await
                .unwrap();
            assert_echo(&ws, &format!("HTTP/2 in a tunnel, stream {i}")).await;
            sockets.push(ws);
        }
        // One CONNECT, one tunnel, one TLS session, three streams.
        assert_eq!(proxy.requests().len(), 1);
        assert_eq!(proxy.tunnels(), 1);
        assert_eq!(invoker.connections_opened(), 1);
    })
    .await;
}
