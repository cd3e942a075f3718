//! Peers made of sockweave itself: echo loops and echo servers (plain and
//! TLS), clients, a hand-written `101` for raw servers, HTTP Basic values.

use std::sync::{Arc, Mutex};

use sockweave::{
    accept_with, Accepted, ClientWebSocket, ClientWebSocketOptions, MessageType, Options, ReceiveResult,
    Rejected, SendFlags, WebSocket,
};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::net::TcpListener;

use super::pki::Leaf;

/// Echoes every message (piece by piece) until the peer's Close, which it
/// answers with the same status.
pub async fn echo(ws: &WebSocket) {
    let mut buf = vec![0u8; 16 * 1024];
    while let Ok(r) = ws.receive(&mut buf).await {
        if r.message_type == MessageType::Close {
            let _ = ws
                .close_output(r.close_status.filter(|c| c.is_valid_on_wire()), "")
                .await;
            return;
        }
        let flags = SendFlags {
            end_of_message: r.end_of_message,
            disable_compression: false,
        };
        if ws.send(&buf[..r.count], r.message_type, flags).await.is_err() {
            return;
        }
    }
}

/// A ws:// echo server on 127.0.0.1; returns its port.
pub async fn echo_server(options: Options) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let options = options.clone();
            tokio::spawn(async move {
                if let Ok(ws) = sockweave::accept(tcp, &options).await {
                    echo(&ws).await;
                }
            });
        }
    });
    port
}

/// A wss:// echo server with this rustls configuration; returns its port.
pub async fn tls_echo_server(config: Arc<rustls::ServerConfig>) -> u16 {
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                if let Ok(ws) = sockweave::accept(tls, &Options::default()).await {
                    echo(&ws).await;
                }
            });
        }
    });
    port
}

/// A wss:// echo server for `leaf` made with `sockweave::tls_server_config`.
pub async fn tls_echo_server_for(leaf: &Leaf) -> u16 {
    tls_echo_server(leaf.server_config(&[b"http/1.1"])).await
}

/// A client that asks for HTTP/2 and nothing else (h2c with prior knowledge for ws://).
pub fn h2_only_client() -> ClientWebSocket {
    let mut ws = ClientWebSocket::new();
    ws.options_mut().options.http_version = sockweave::HttpVersion::Http2;
    ws.options_mut().options.http_version_policy = sockweave::HttpVersionPolicy::RequestVersionExact;
    ws
}

/// Connects a client with these options.
pub async fn connect(
    url: &str,
    options: ClientWebSocketOptions,
) -> Result<ClientWebSocket, sockweave::Error> {
    let mut ws = ClientWebSocket::with_options(options);
    ws.connect(url).await.map(|_| ws)
}

/// Sends `text` and checks it comes back whole.
pub async fn assert_echo(ws: &ClientWebSocket, text: &str) {
    ws.send(text.as_bytes(), MessageType::Text, SendFlags::END_OF_MESSAGE)
        .await
        .unwrap();
    // A receive returns what has arrived; a message sent in several TCP
    // segments or DATA frames can take more than one.
    let mut buf = vec![0u8; text.len() + 16];
    let mut got = 0;
    loop {
        let r = ws.receive(&mut buf[got..]).await.unwrap();
        assert_eq!(r.message_type, MessageType::Text);
        got += r.count;
        if r.end_of_message {
            break;
        }
    }
    assert_eq!(&buf[..got], text.as_bytes());
}

/// Reads a client's handshake request on `tcp`; returns the `101` response to send.
pub async fn raw_accept<S: AsyncRead + Unpin>(tcp: &mut S) -> Vec<u8> {
    let mut head = Vec::new();
    let mut chunk = [0u8; 1024];
    let req = loop {
        let n = tcp.read(&mut chunk).await.unwrap();
        assert!(n > 0, "the client hung up during the handshake");
        head.extend_from_slice(&chunk[..n]);
        if let Some((req, used)) =
            sockweave::core::handshake::parse_request(&head, Default::default()).unwrap()
        {
            assert_eq!(used, head.len(), "the client sent bytes after its request");
            break req;
        }
    };
    req.accept_response(None, &[], &[]).unwrap()
}

/// The value of an `Authorization: Basic` (or `Proxy-Authorization`) header.
pub fn basic(user: &str, password: &str) -> String {
    use base64::Engine;
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {token}")
}

/// An echo server that wants `Authorization: Basic alice:s3cret` (401 with a
/// Basic challenge otherwise); records each request's `Authorization`.
pub async fn basic_auth_server() -> (u16, Arc<Mutex<Vec<Option<String>>>>) {
    let (listener, port) = super::listen().await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let log = log.clone();
            tokio::spawn(async move {
                let result = accept_with(tcp, &Options::default(), |req| {
                    let auth = req.header("authorization").map(String::from);
                    let ok = auth.as_deref() == Some(basic("alice", "s3cret").as_str());
                    log.lock().unwrap().push(auth);
                    if ok {
                        Ok(Accepted::default())
                    } else {
                        Err(Rejected {
                            status: 401,
                            message: "who are you?".into(),
                            headers: vec![("WWW-Authenticate".into(), "Basic realm=\"x\"".into())],
                        })
                    }
                })
                .await;
                if let Ok((ws, _)) = result {
                    echo(&ws).await;
                }
            });
        }
    });
    (port, seen)
}

/// Anything with .NET's `ReceiveAsync`: a `WebSocket`, a `ClientWebSocket`,
/// the reading half of a split.
pub trait Receives {
    fn receive_piece<'a>(
        &'a self,
        buf: &'a mut [u8],
    ) -> impl std::future::Future<Output = Result<ReceiveResult, sockweave::Error>> + 'a;
}

impl Receives for WebSocket {
    fn receive_piece<'a>(
        &'a self,
        buf: &'a mut [u8],
    ) -> impl std::future::Future<Output = Result<ReceiveResult, sockweave::Error>> + 'a {
        self.receive(buf)
    }
}

impl Receives for ClientWebSocket {
    fn receive_piece<'a>(
        &'a self,
        buf: &'a mut [u8],
    ) -> impl std::future::Future<Output = Result<ReceiveResult, sockweave::Error>> + 'a {
        self.receive(buf)
    }
}

impl Receives for sockweave::ReadHalf {
    fn receive_piece<'a>(
        &'a self,
        buf: &'a mut [u8],
    ) -> impl std::future::Future<Output = Result<ReceiveResult, sockweave::Error>> + 'a {
        self.receive(buf)
    }
}

/// Receives one whole data message in pieces of at most `buf.len()` bytes;
/// every piece must have the message's type.
pub async fn receive_message<R: Receives>(ws: &R, buf: &mut [u8]) -> (MessageType, Vec<u8>) {
    let mut msg = Vec::new();
    let mut ty = None;
    loop {
        let r = ws.receive_piece(buf).await.unwrap();
        assert_eq!(
            *ty.get_or_insert(r.message_type),
            r.message_type,
            "a message changed type"
        );
        msg.extend_from_slice(&buf[..r.count]);
        if r.end_of_message {
            return (r.message_type, msg);
        }
    }
}

/// A loopback listener that serves exactly one connection with `serve`;
/// returns the port and the server task.
pub async fn serve_one<F, Fut>(serve: F) -> (u16, tokio::task::JoinHandle<Fut::Output>)
where
    F: FnOnce(tokio::net::TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future + Send + 'static,
    Fut::Output: Send + 'static,
{
    let (listener, port) = super::listen().await;
    let task = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        serve(tcp).await
    });
    (port, task)
}
