//! Helpers shared by the integration tests: a time bound for test bodies, a
//! test PKI made with rcgen, echo loops and echo servers (plain and TLS).
//!
//! Each test file uses a different subset, hence the `dead_code` allowance.
#![allow(dead_code)]

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType, ExtendedKeyUsagePurpose,
    IsCa, KeyPair, KeyUsagePurpose,
};
use sockweave::{ClientWebSocket, ClientWebSocketOptions, MessageType, Options, SendFlags, WebSocket};
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};

/// Safety bound around every test body: a hang fails the test instead of blocking the run.
pub const LIMIT: Duration = Duration::from_secs(10);

/// Runs `f`, failing the test if it takes longer than [`LIMIT`].
pub async fn bounded<F: Future>(f: F) -> F::Output {
    tokio::time::timeout(LIMIT, f)
        .await
        .expect("the test did not finish within its 10 s safety bound")
}

/// A test certificate authority.
pub struct Ca {
    pub issuer: CertifiedIssuer<'static, KeyPair>,
}

/// A certificate and its key, in PEM.
pub struct Leaf {
    pub cert_pem: String,
    pub key_pem: String,
}

impl Ca {
    pub fn new(name: &str) -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, name);
        params.distinguished_name = dn;
        Ca {
            issuer: CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap(),
        }
    }

    pub fn pem(&self) -> String {
        self.issuer.pem()
    }

    /// A server certificate for `names`, valid from 2000 to `not_after_year`.
    pub fn server_cert(&self, names: &[&str], not_after_year: i32) -> Leaf {
        self.leaf(names, not_after_year, ExtendedKeyUsagePurpose::ServerAuth)
    }

    /// A client certificate.
    pub fn client_cert(&self, name: &str) -> Leaf {
        self.leaf(&[name], 4000, ExtendedKeyUsagePurpose::ClientAuth)
    }

    fn leaf(&self, names: &[&str], not_after_year: i32, usage: ExtendedKeyUsagePurpose) -> Leaf {
        let key = KeyPair::generate().unwrap();
        let mut params =
            CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, names[0]);
        params.distinguished_name = dn;
        params.not_before = rcgen::date_time_ymd(2000, 1, 1);
        params.not_after = rcgen::date_time_ymd(not_after_year, 1, 1);
        params.extended_key_usages = vec![usage];
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Leaf {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }
}

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
    let config =
        sockweave::tls_server_config(leaf.cert_pem.as_bytes(), leaf.key_pem.as_bytes(), &[b"http/1.1"])
            .unwrap();
    tls_echo_server(config).await
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
pub async fn raw_accept(tcp: &mut TcpStream) -> Vec<u8> {
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

/// A masked (client-to-server) single-frame message of any length; `opcode`
/// is the first byte's low bits (FIN is set).
pub fn masked_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![0x80 | opcode];
    match payload.len() {
        n if n < 126 => f.push(0x80 | n as u8),
        n if n <= 0xffff => {
            f.push(0x80 | 126);
            f.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            f.push(0x80 | 127);
            f.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    let mask = [9u8, 8, 7, 6];
    f.extend_from_slice(&mask);
    f.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    f
}

/// Reads one unmasked (server-to-client) frame: its first byte and payload.
pub async fn read_frame<R: tokio::io::AsyncRead + Unpin>(r: &mut R) -> std::io::Result<(u8, Vec<u8>)> {
    use tokio::io::AsyncReadExt;
    let mut h = [0u8; 2];
    r.read_exact(&mut h).await?;
    assert_eq!(h[1] & 0x80, 0, "a server frame is masked");
    let len = match h[1] & 0x7f {
        126 => u64::from(r.read_u16().await?),
        127 => r.read_u64().await?,
        n => u64::from(n),
    };
    let mut payload = vec![0u8; len as usize];
    r.read_exact(&mut payload).await?;
    Ok((h[0], payload))
}

/// Reads one masked (client-to-server) frame: its first byte and unmasked payload.
pub async fn read_masked_frame<R: tokio::io::AsyncRead + Unpin>(r: &mut R) -> std::io::Result<(u8, Vec<u8>)> {
    use tokio::io::AsyncReadExt;
    let mut h = [0u8; 2];
    r.read_exact(&mut h).await?;
    assert_ne!(h[1] & 0x80, 0, "a client frame is not masked");
    let len = match h[1] & 0x7f {
        126 => u64::from(r.read_u16().await?),
        127 => r.read_u64().await?,
        n => u64::from(n),
    };
    let mut key = [0u8; 4];
    r.read_exact(&mut key).await?;
    let mut payload = vec![0u8; len as usize];
    r.read_exact(&mut payload).await?;
    for (i, b) in payload.iter_mut().enumerate() {
        *b ^= key[i % 4];
    }
    Ok((h[0], payload))
}

/// An unmasked (server-to-client) single-frame message of under 126 bytes.
pub fn server_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    assert!(payload.len() < 126);
    let mut f = vec![0x80 | opcode, payload.len() as u8];
    f.extend_from_slice(payload);
    f
}

/// A loopback listener and its port.
pub async fn listen() -> (TcpListener, u16) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    (listener, port)
}
