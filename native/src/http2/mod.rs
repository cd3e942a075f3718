//! WebSockets over HTTP/2 (RFC 8441) with the `h2` crate: the stream adapter
//! ([`stream`]), the client end of a connection ([`client`]) and the server
//! ([`server`]). The header sets and their checks are the engine's
//! (`sockweave_core::handshake::h2`); this module only moves them.

pub(crate) mod client;
mod idle;
pub(crate) mod server;
pub(crate) mod stream;

use sockweave_core::handshake::Headers;

use crate::error::{Error, ErrorKind};

/// Initial stream window: how much a peer may send on one WebSocket before it
/// must wait for us to take data. Large enough that one stream is not held
/// back by WINDOW_UPDATE round trips; what a connection buffers is bounded by
/// the connection window whatever the number of streams.
pub(crate) const STREAM_WINDOW: u32 = 1024 * 1024;
/// Initial connection window, shared by all streams.
pub(crate) const CONNECTION_WINDOW: u32 = 4 * 1024 * 1024;
/// SETTINGS_MAX_FRAME_SIZE we announce: DATA frames of up to 256 KiB instead
/// of 16 KiB: far fewer frames (and h2 wake-ups) for large messages.
pub(crate) const MAX_FRAME: u32 = 256 * 1024;

/// Response or request headers as a list (names are lowercase in HTTP/2).
pub(crate) fn header_list(map: &http::HeaderMap) -> Headers {
    map.iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
}

/// Reads a whole response body, releasing flow control as it goes; fails past `max`.
pub(crate) async fn body_bytes(mut body: h2::RecvStream, max: usize) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    while let Some(chunk) = body.data().await {
        let chunk =
            chunk.map_err(|e| Error::new(ErrorKind::Io, format!("reading an HTTP/2 body failed: {e}")))?;
        let _ = body.flow_control().release_capacity(chunk.len());
        if out.len() + chunk.len() > max {
            return Err(Error::new(
                ErrorKind::ResponseTooLarge,
                format!(
                    "the HTTP/2 response body is larger than {max} bytes; \
                     raise InvokerOptions::max_response_body to accept it"
                ),
            ));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}
