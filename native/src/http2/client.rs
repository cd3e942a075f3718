//! The client end of an HTTP/2 connection: the `h2` handshake, learning whether
//! the server allows extended CONNECT, opening WebSocket streams (RFC 8441
//! section 4) and ordinary requests on it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use h2::client::SendRequest;
use sockweave_core::handshake::{H2ConnectRequest, Headers};
use sockweave_core::headers::HandshakeLimits;

use super::stream::H2Stream;
use super::{body_bytes, header_list, CONNECTION_WINDOW, MAX_FRAME, STREAM_WINDOW};
use crate::error::{Error, ErrorKind};
use crate::transport::Transport;

/// A live HTTP/2 connection, shared by every stream opened on it.
#[derive(Clone)]
pub(crate) struct H2Client {
    send: SendRequest<Bytes>,
    /// The server sent SETTINGS_ENABLE_CONNECT_PROTOCOL = 1.
    pub(crate) extended_connect: bool,
    closed: Arc<AtomicBool>,
}

impl H2Client {
    /// HTTP/2 over `io` (after ALPN `h2`, or h2c with prior knowledge). Returns
    /// once the server's SETTINGS are known.
    pub(crate) async fn handshake(io: Box<dyn Transport>, authority: &str) -> Result<H2Client, Error> {
        let fail = |e: h2::Error| {
            Error::new(
                ErrorKind::UnsupportedProtocol,
                format!("{authority} did not complete an HTTP/2 connection preface: {e}"),
            )
        };
        let (send, mut conn) = h2::client::Builder::new()
            .initial_window_size(STREAM_WINDOW)
            .initial_connection_window_size(CONNECTION_WINDOW)
            .max_frame_size(MAX_FRAME)
            .enable_push(false)
            // h2's default is 16 MiB; a response head gets what an HTTP/1.1
            // one gets by default (maxHandshakeHeaderBytes).
            .max_header_list_size(header_limit())
            .handshake::<_, Bytes>(io)
            .await
            .map_err(fail)?;
        let mut ping = conn.ping_pong().expect("a new connection has its ping handle");
        let closed = Arc::new(AtomicBool::new(false));
        let done = closed.clone();
        tokio::spawn(async move {
            let _ = conn.await;
            done.store(true, Ordering::Release);
        });
        // The server's SETTINGS come before anything it answers, so once our
        // PING comes back we know whether it allows extended CONNECT.
        ping.ping(h2::Ping::opaque()).await.map_err(fail)?;
        Ok(H2Client {
            extended_connect: send.is_extended_connect_protocol_enabled(),
            send,
            closed,
        })
    }

    /// False once the connection has ended (GOAWAY, I/O error).
    pub(crate) fn is_open(&self) -> bool {
        !self.closed.load(Ordering::Acquire)
    }

    /// Sends the extended CONNECT; returns the response's status and headers,
    /// and the stream (meaningful only on `200`).
    pub(crate) async fn connect_websocket(
        &self,
        req: &H2ConnectRequest,
    ) -> Result<(u16, Headers, H2Stream), Error> {
        let uri = format!("{}://{}{}", req.scheme, req.authority, req.path);
        let mut builder = http::Request::builder().method(http::Method::CONNECT).uri(uri);
        for (k, v) in &req.headers {
            builder = builder.header(k.as_str(), v.as_str());
        }
        let mut request = builder.body(()).map_err(|e| {
            Error::new(
                ErrorKind::InvalidArgument,
                format!("the extended CONNECT request cannot be built: {e}"),
            )
        })?;
        request
            .extensions_mut()
            .insert(h2::ext::Protocol::from_static("websocket"));
        let mut send = self.send.clone().ready().await.map_err(stream_error)?;
        let (response, stream) = send.send_request(request, false).map_err(stream_error)?;
        let response = response.await.map_err(stream_error)?;
        let status = response.status().as_u16();
        let headers = header_list(response.headers());
        Ok((status, headers, H2Stream::new(stream, response.into_body(), None)))
    }

    /// An ordinary request with a whole body; the response body is read whole
    /// (at most `max_body` bytes).
    pub(crate) async fn request(
        &self,
        request: http::Request<()>,
        body: Bytes,
        max_body: usize,
    ) -> Result<(u16, Headers, Vec<u8>), Error> {
        let mut send = self.send.clone().ready().await.map_err(stream_error)?;
        let (response, mut stream) = send
            .send_request(request, body.is_empty())
            .map_err(stream_error)?;
        if !body.is_empty() {
            // Small bodies: h2 queues them and sends as the window allows.
            stream.send_data(body, true).map_err(stream_error)?;
        }
        let response = response.await.map_err(stream_error)?;
        let status = response.status().as_u16();
        let headers = header_list(response.headers());
        let body = body_bytes(response.into_body(), max_body).await?;
        Ok((status, headers, body))
    }
}

fn header_limit() -> u32 {
    u32::try_from(HandshakeLimits::default().max_header_bytes).unwrap_or(u32::MAX)
}

fn stream_error(e: h2::Error) -> Error {
    Error::new(ErrorKind::Io, format!("HTTP/2 request failed: {e}"))
}
