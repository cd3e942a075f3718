//! Each contender's client and echo server, written the way its documentation
//! shows, over a plain `TcpStream` on a single-threaded tokio runtime.
//!
//! Servers echo whole messages; the Stream/Sink libraries (tokio-tungstenite,
//! tokio-websockets) queue each echo with `feed` and flush when no further
//! message is ready at once, which is what their `forward` does and what
//! batches writes when many messages are in flight. fastwebsockets writes each
//! frame as it is read (its API has no way to ask whether more is buffered);
//! sockweave decides by itself: a reply made when nothing more was received
//! is written at once, replies to a batch are queued and written together.

use std::io;
use std::str::FromStr;

use futures_util::{FutureExt, SinkExt, StreamExt};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::util::{accept_key, header, no_linger, read_http_head};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Lib {
    Sockweave,
    /// `sockweave serve --echo`: the command as shipped (server role only).
    Cli,
    Tungstenite,
    FastWs,
    TokioWs,
    /// The neutral peer (no library), see `raw.rs`.
    Raw,
}

/// The contenders of the echo and idle-memory runs: the libraries, and the
/// `sockweave` command as users run it.
pub const RUN: [Lib; 5] = [
    Lib::Sockweave,
    Lib::Cli,
    Lib::Tungstenite,
    Lib::FastWs,
    Lib::TokioWs,
];

/// The other libraries, that sockweave is compared with.
pub const PEERS: [Lib; 3] = [Lib::Tungstenite, Lib::FastWs, Lib::TokioWs];

impl Lib {
    pub fn name(self) -> &'static str {
        match self {
            Lib::Sockweave => "sockweave",
            Lib::Cli => "sockweave serve --echo",
            Lib::Tungstenite => "tokio-tungstenite",
            Lib::FastWs => "fastwebsockets",
            Lib::TokioWs => "tokio-websockets",
            Lib::Raw => "raw",
        }
    }

    pub fn supports_deflate(self) -> bool {
        // tokio-tungstenite 0.30, fastwebsockets 0.10 and tokio-websockets 0.13
        // have no permessage-deflate.
        matches!(self, Lib::Sockweave | Lib::Cli | Lib::Raw)
    }

    /// The command runs servers only.
    pub fn has_role(self, server: bool) -> bool {
        server || self != Lib::Cli
    }
}

impl FromStr for Lib {
    type Err = String;
    fn from_str(s: &str) -> Result<Lib, String> {
        Ok(match s {
            "sockweave" => Lib::Sockweave,
            "cli" | "sockweave serve --echo" => Lib::Cli,
            "tokio-tungstenite" | "tungstenite" => Lib::Tungstenite,
            "fastwebsockets" | "fastws" => Lib::FastWs,
            "tokio-websockets" | "tokiows" => Lib::TokioWs,
            "raw" => Lib::Raw,
            _ => return Err(format!("unknown library {s}")),
        })
    }
}

fn err<E: std::fmt::Display>(e: E) -> io::Error {
    io::Error::other(e.to_string())
}

// ---------------------------------------------------------------- clients

/// What the load loops need from a client connection.
pub trait Client {
    /// Queues one message (it may be written at once).
    async fn send(&mut self) -> io::Result<()>;
    /// Makes sure queued messages are on their way.
    async fn flush(&mut self) -> io::Result<()>;
    /// Receives one whole message; returns its length.
    async fn recv(&mut self) -> io::Result<usize>;
    /// A whole message if one is ready without waiting.
    async fn try_recv(&mut self) -> Option<io::Result<usize>> {
        None
    }
}

pub struct SwClient {
    ws: sockweave::WebSocket,
    data: Vec<u8>,
    ty: sockweave::MessageType,
    buf: Vec<u8>,
}

impl SwClient {
    pub async fn connect(port: u16, data: &[u8], deflate: bool) -> io::Result<SwClient> {
        let mut c = sockweave::ClientWebSocket::new();
        // Straight to 127.0.0.1, as the other clients connect.
        c.options_mut().use_proxy = false;
        if deflate {
            c.options_mut()
                .set_dangerous_deflate_options(Some(sockweave::DeflateOptions::default()));
        }
        c.connect(&format!("ws://127.0.0.1:{port}/")).await.map_err(err)?;
        Ok(SwClient {
            ws: c.into_websocket().ok_or_else(|| err("not connected"))?,
            data: data.to_vec(),
            ty: if deflate {
                sockweave::MessageType::Text
            } else {
                sockweave::MessageType::Binary
            },
            buf: Vec::new(),
        })
    }

    /// The connection alone, for the idle-memory measurement.
    pub fn into_idle(self) -> sockweave::WebSocket {
        self.ws
    }

    async fn rest(&mut self, mut total: usize) -> io::Result<usize> {
        if self.buf.is_empty() {
            self.buf = vec![0u8; 64 * 1024];
        }
        loop {
            let r = self.ws.receive(&mut self.buf).await.map_err(err)?;
            total += r.count;
            if r.end_of_message {
                return Ok(total);
            }
        }
    }
}

impl Client for SwClient {
    async fn send(&mut self) -> io::Result<()> {
        self.ws
            .send(&self.data, self.ty, sockweave::SendFlags::END_OF_MESSAGE)
            .await
            .map_err(err)
    }
    async fn flush(&mut self) -> io::Result<()> {
        // The driver task writes whatever is queued.
        Ok(())
    }
    async fn recv(&mut self) -> io::Result<usize> {
        self.rest(0).await
    }
    async fn try_recv(&mut self) -> Option<io::Result<usize>> {
        if self.buf.is_empty() {
            self.buf = vec![0u8; 64 * 1024];
        }
        let r = self.ws.receive(&mut self.buf).now_or_never()?;
        Some(match r {
            Ok(r) if r.end_of_message => Ok(r.count),
            Ok(r) => self.rest(r.count).await,
            Err(e) => Err(err(e)),
        })
    }
}

pub struct TtClient {
    ws: tokio_tungstenite::WebSocketStream<TcpStream>,
    data: tokio_tungstenite::tungstenite::Bytes,
}

fn tt_len(m: tokio_tungstenite::tungstenite::Message) -> Option<io::Result<usize>> {
    use tokio_tungstenite::tungstenite::Message;
    match m {
        Message::Binary(b) => Some(Ok(b.len())),
        Message::Text(t) => Some(Ok(t.len())),
        Message::Close(_) => Some(Err(io::ErrorKind::UnexpectedEof.into())),
        _ => None,
    }
}

impl TtClient {
    pub async fn connect(port: u16, data: &[u8]) -> io::Result<TtClient> {
        let tcp = TcpStream::connect(("127.0.0.1", port)).await?;
        no_linger(&tcp);
        let (ws, _) = tokio_tungstenite::client_async(format!("ws://127.0.0.1:{port}/"), tcp)
            .await
            .map_err(err)?;
        Ok(TtClient {
            ws,
            data: data.to_vec().into(),
        })
    }
}

impl Client for TtClient {
    async fn send(&mut self) -> io::Result<()> {
        let m = tokio_tungstenite::tungstenite::Message::Binary(self.data.clone());
        self.ws.feed(m).await.map_err(err)
    }
    async fn flush(&mut self) -> io::Result<()> {
        self.ws.flush().await.map_err(err)
    }
    async fn recv(&mut self) -> io::Result<usize> {
        loop {
            let m = self
                .ws
                .next()
                .await
                .ok_or(io::ErrorKind::UnexpectedEof)?
                .map_err(err)?;
            if let Some(r) = tt_len(m) {
                return r;
            }
        }
    }
    async fn try_recv(&mut self) -> Option<io::Result<usize>> {
        loop {
            match self.ws.next().now_or_never()? {
                None => return Some(Err(io::ErrorKind::UnexpectedEof.into())),
                Some(Err(e)) => return Some(Err(err(e))),
                Some(Ok(m)) => {
                    if let Some(r) = tt_len(m) {
                        return Some(r);
                    }
                }
            }
        }
    }
}

pub struct TwClient {
    ws: tokio_websockets::WebSocketStream<TcpStream>,
    data: bytes::Bytes,
}

fn tw_len(m: tokio_websockets::Message) -> Option<io::Result<usize>> {
    if m.is_binary() || m.is_text() {
        Some(Ok(m.as_payload().len()))
    } else if m.is_close() {
        Some(Err(io::ErrorKind::UnexpectedEof.into()))
    } else {
        None
    }
}

impl TwClient {
    pub async fn connect(port: u16, data: &[u8]) -> io::Result<TwClient> {
        let tcp = TcpStream::connect(("127.0.0.1", port)).await?;
        no_linger(&tcp);
        let (ws, _) = tokio_websockets::ClientBuilder::new()
            .uri(&format!("ws://127.0.0.1:{port}/"))
            .map_err(err)?
            .connect_on(tcp)
            .await
            .map_err(err)?;
        Ok(TwClient {
            ws,
            data: bytes::Bytes::from(data.to_vec()),
        })
    }
}

impl Client for TwClient {
    async fn send(&mut self) -> io::Result<()> {
        self.ws
            .feed(tokio_websockets::Message::binary(self.data.clone()))
            .await
            .map_err(err)
    }
    async fn flush(&mut self) -> io::Result<()> {
        self.ws.flush().await.map_err(err)
    }
    async fn recv(&mut self) -> io::Result<usize> {
        loop {
            let m = self
                .ws
                .next()
                .await
                .ok_or(io::ErrorKind::UnexpectedEof)?
                .map_err(err)?;
            if let Some(r) = tw_len(m) {
                return r;
            }
        }
    }
    async fn try_recv(&mut self) -> Option<io::Result<usize>> {
        loop {
            match self.ws.next().now_or_never()? {
                None => return Some(Err(io::ErrorKind::UnexpectedEof.into())),
                Some(Err(e)) => return Some(Err(err(e))),
                Some(Ok(m)) => {
                    if let Some(r) = tw_len(m) {
                        return Some(r);
                    }
                }
            }
        }
    }
}

pub struct FwClient {
    ws: fastwebsockets::FragmentCollector<TcpStream>,
    data: Vec<u8>,
}

impl FwClient {
    pub async fn connect(port: u16, data: &[u8]) -> io::Result<FwClient> {
        // fastwebsockets leaves the HTTP handshake to hyper (its `upgrade`
        // feature); this is the same request without pulling hyper in.
        let mut tcp = TcpStream::connect(("127.0.0.1", port)).await?;
        no_linger(&tcp);
        let req = format!(
            "GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        tcp.write_all(req.as_bytes()).await?;
        let head = read_http_head(&mut tcp).await?;
        if !head.starts_with("HTTP/1.1 101") {
            return Err(err("handshake refused"));
        }
        let ws = fastwebsockets::WebSocket::after_handshake(tcp, fastwebsockets::Role::Client);
        Ok(FwClient {
            ws: fastwebsockets::FragmentCollector::new(ws),
            data: data.to_vec(),
        })
    }
}

impl Client for FwClient {
    async fn send(&mut self) -> io::Result<()> {
        let f = fastwebsockets::Frame::binary(fastwebsockets::Payload::Borrowed(&self.data));
        self.ws.write_frame(f).await.map_err(err)
    }
    async fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
    async fn recv(&mut self) -> io::Result<usize> {
        use fastwebsockets::OpCode;
        loop {
            let f = self.ws.read_frame().await.map_err(err)?;
            match f.opcode {
                OpCode::Binary | OpCode::Text => return Ok(f.payload.len()),
                OpCode::Close => return Err(io::ErrorKind::UnexpectedEof.into()),
                _ => {}
            }
        }
    }
}

// ---------------------------------------------------------------- servers

/// Serves one accepted connection until it ends: an echo server, or with
/// `idle` a connection that is only held open.
pub async fn serve(
    lib: Lib,
    tcp: TcpStream,
    deflate: bool,
    idle: bool,
    hold: &crate::Holder,
) -> io::Result<()> {
    no_linger(&tcp);
    match lib {
        Lib::Raw => {
            let mut tcp = tcp;
            crate::raw::server_handshake(&mut tcp, deflate).await?;
            if idle {
                hold.keep(Box::new(tcp));
                return Ok(());
            }
            crate::raw::serve_echo(tcp).await
        }
        Lib::Sockweave => {
            let opts = sockweave::Options {
                is_server: true,
                dangerous_deflate_options: deflate.then(sockweave::DeflateOptions::default),
                ..Default::default()
            };
            let mut ws = sockweave::accept(tcp, &opts).await.map_err(err)?;
            if idle {
                hold.keep(Box::new(ws));
                return Ok(());
            }
            // As the README shows servers: whole messages, read into buffers of their own size.
            while let Some(msg) = ws.receive_message().await.map_err(err)? {
                ws.send_message(&msg).await.map_err(err)?;
            }
            Ok(())
        }
        Lib::Cli => Err(err("`sockweave serve --echo` runs as its own process")),
        Lib::Tungstenite => {
            use tokio_tungstenite::tungstenite::Message;
            let mut ws = tokio_tungstenite::accept_async(tcp).await.map_err(err)?;
            if idle {
                hold.keep(Box::new(ws));
                return Ok(());
            }
            while let Some(m) = ws.next().await {
                let mut m = m.map_err(err)?;
                loop {
                    match m {
                        Message::Binary(_) | Message::Text(_) => ws.feed(m).await.map_err(err)?,
                        Message::Close(_) => return Ok(()),
                        _ => {}
                    }
                    match ws.next().now_or_never() {
                        Some(Some(next)) => m = next.map_err(err)?,
                        Some(None) => return Ok(()),
                        None => break,
                    }
                }
                ws.flush().await.map_err(err)?;
            }
            Ok(())
        }
        Lib::TokioWs => {
            let (_, mut ws) = tokio_websockets::ServerBuilder::new()
                .accept(tcp)
                .await
                .map_err(err)?;
            if idle {
                hold.keep(Box::new(ws));
                return Ok(());
            }
            while let Some(m) = ws.next().await {
                let mut m = m.map_err(err)?;
                loop {
                    if m.is_binary() || m.is_text() {
                        ws.feed(m).await.map_err(err)?;
                    } else if m.is_close() {
                        return Ok(());
                    }
                    match ws.next().now_or_never() {
                        Some(Some(next)) => m = next.map_err(err)?,
                        Some(None) => return Ok(()),
                        None => break,
                    }
                }
                ws.flush().await.map_err(err)?;
            }
            Ok(())
        }
        Lib::FastWs => {
            use fastwebsockets::OpCode;
            let mut tcp = tcp;
            // The upgrade by hand (fastwebsockets' own `upgrade` module needs hyper).
            let head = read_http_head(&mut tcp).await?;
            let key = header(&head, "Sec-WebSocket-Key").ok_or_else(|| err("no key"))?;
            let resp = format!(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
                accept_key(key)
            );
            tcp.write_all(resp.as_bytes()).await?;
            let ws = fastwebsockets::WebSocket::after_handshake(tcp, fastwebsockets::Role::Server);
            let mut ws = fastwebsockets::FragmentCollector::new(ws);
            if idle {
                hold.keep(Box::new(ws));
                return Ok(());
            }
            loop {
                let f = ws.read_frame().await.map_err(err)?;
                match f.opcode {
                    OpCode::Close => return Ok(()),
                    OpCode::Text | OpCode::Binary => ws.write_frame(f).await.map_err(err)?,
                    _ => {}
                }
            }
        }
    }
}
