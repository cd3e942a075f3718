//! The neutral peers: a WebSocket echo server and a load client written
//! directly on TCP, with no WebSocket library. They do the least work a
//! correct peer can (frames built once, responses parsed only as far as their
//! headers, echoes forwarded as they arrive), so the library on the other end
//! is what gets measured, and they are the same for every contender.

use std::io;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::util::{accept_key, header, no_linger, read_http_head};

/// XOR with a 4-byte key from key position `phase`; returns the next phase.
/// A plain word loop, independent of the libraries under test.
fn unmask(buf: &mut [u8], key: [u8; 4], phase: usize) -> usize {
    let mut p = phase & 3;
    let mut i = 0;
    while i < buf.len() && p != 0 {
        buf[i] ^= key[p];
        p = (p + 1) & 3;
        i += 1;
    }
    let k = u64::from_ne_bytes([key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3]]);
    let mut chunks = buf[i..].chunks_exact_mut(8);
    for c in &mut chunks {
        let w = u64::from_ne_bytes(c.try_into().unwrap()) ^ k;
        c.copy_from_slice(&w.to_ne_bytes());
    }
    for b in chunks.into_remainder() {
        *b ^= key[p];
        p = (p + 1) & 3;
    }
    (phase + buf.len()) & 3
}

fn push_header(out: &mut Vec<u8>, b0: u8, len: usize, mask: Option<[u8; 4]>) {
    out.push(b0);
    let m = if mask.is_some() { 0x80 } else { 0 };
    if len < 126 {
        out.push(m | len as u8);
    } else if len <= 0xffff {
        out.push(m | 126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(m | 127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    if let Some(k) = mask {
        out.extend_from_slice(&k);
    }
}

/// The server's answer to an upgrade request. With `deflate`, an offer of
/// permessage-deflate is accepted (keeping `client_no_context_takeover` if
/// offered); compressed frames are echoed as they are, which the client's
/// inflater reads as its own compressor's stream.
pub async fn server_handshake(s: &mut TcpStream, deflate: bool) -> io::Result<()> {
    let head = read_http_head(s).await?;
    let key = header(&head, "Sec-WebSocket-Key").ok_or_else(|| io::Error::other("no key"))?;
    let mut resp = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n",
        accept_key(key)
    );
    if deflate {
        if let Some(ext) = header(&head, "Sec-WebSocket-Extensions") {
            let first = ext.split(',').next().unwrap_or("");
            if first.trim().starts_with("permessage-deflate") {
                resp.push_str("Sec-WebSocket-Extensions: permessage-deflate");
                if first.contains("client_no_context_takeover") {
                    resp.push_str("; client_no_context_takeover");
                }
                resp.push_str("\r\n");
            }
        }
    }
    resp.push_str("\r\n");
    s.write_all(resp.as_bytes()).await
}

/// Echoes every frame back (unmasked) until Close or EOF.
pub async fn serve_echo(mut s: TcpStream) -> io::Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut out: Vec<u8> = Vec::with_capacity(64 * 1024 + 64);
    let mut have = 0usize;
    // The frame being forwarded: remaining payload bytes, its key and phase.
    let mut fwd: Option<(u64, [u8; 4], usize, bool)> = None;
    loop {
        let n = s.read(&mut buf[have..]).await?;
        if n == 0 {
            return Ok(());
        }
        have += n;
        let mut pos = 0;
        let mut closing = false;
        loop {
            if let Some((rem, key, phase, control)) = fwd.as_mut() {
                let take = (*rem).min((have - pos) as u64) as usize;
                if take == 0 {
                    break;
                }
                let piece = &mut buf[pos..pos + take];
                *phase = unmask(piece, *key, *phase);
                if !*control {
                    out.extend_from_slice(piece);
                }
                pos += take;
                *rem -= take as u64;
                if *rem == 0 {
                    fwd = None;
                }
                continue;
            }
            // A header: 2 bytes, extended length, 4 bytes of key.
            let avail = &buf[pos..have];
            if avail.len() < 2 {
                break;
            }
            let b0 = avail[0];
            let l7 = (avail[1] & 0x7f) as usize;
            let (len, hl) = match l7 {
                126 if avail.len() >= 4 => (u16::from_be_bytes([avail[2], avail[3]]) as u64, 4),
                127 if avail.len() >= 10 => (u64::from_be_bytes(avail[2..10].try_into().unwrap()), 10),
                126 | 127 => break,
                l => (l as u64, 2),
            };
            if avail.len() < hl + 4 {
                break;
            }
            let key: [u8; 4] = avail[hl..hl + 4].try_into().unwrap();
            pos += hl + 4;
            let opcode = b0 & 0x0f;
            match opcode {
                0x8 => {
                    // Close: answer with an empty Close and stop.
                    out.extend_from_slice(&[0x88, 0]);
                    closing = true;
                    break;
                }
                0x9 | 0xA => {
                    // Pings are not sent by the benchmark clients; skip control payloads.
                    fwd = Some((len, key, 0, true));
                }
                _ => {
                    push_header(&mut out, b0, len as usize, None);
                    if len > 0 {
                        fwd = Some((len, key, 0, false));
                    }
                }
            }
        }
        // Keep an incomplete header for the next read.
        buf.copy_within(pos..have, 0);
        have -= pos;
        if !out.is_empty() {
            s.write_all(&out).await?;
            out.clear();
        }
        if closing {
            return Ok(());
        }
    }
}

/// A client connection of the neutral load generator.
pub struct RawClient {
    s: TcpStream,
    buf: Vec<u8>,
    have: usize,
    pos: usize,
    /// Payload bytes of the current response frame still to skip.
    skip: u64,
    /// One complete client frame (masked, maybe compressed), built once.
    frame: Vec<u8>,
    /// `window` copies of `frame`, for pipelining.
    frames: Vec<u8>,
}

impl RawClient {
    pub async fn connect(port: u16, payload: &[u8], deflate: bool, window: usize) -> io::Result<RawClient> {
        let mut s = TcpStream::connect(("127.0.0.1", port)).await?;
        no_linger(&s);
        let mut req = format!(
            "GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        );
        if deflate {
            req.push_str("Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover\r\n");
        }
        req.push_str("\r\n");
        s.write_all(req.as_bytes()).await?;
        let head = read_http_head(&mut s).await?;
        if !head.starts_with("HTTP/1.1 101") {
            return Err(io::Error::other(format!("handshake refused: {head}")));
        }
        let negotiated =
            header(&head, "Sec-WebSocket-Extensions").is_some_and(|e| e.contains("permessage-deflate"));
        if deflate && !negotiated {
            return Err(io::Error::other("the server did not accept permessage-deflate"));
        }
        // Every message is compressed on its own (client_no_context_takeover), so one frame serves for all.
        let (body, b0) = if negotiated {
            (compress(payload), 0x80 | 0x40 | 0x2)
        } else {
            (payload.to_vec(), 0x80 | 0x2)
        };
        let key = [0x5a, 0x17, 0xc3, 0x9e];
        let mut frame = Vec::with_capacity(body.len() + 14);
        push_header(&mut frame, b0, body.len(), Some(key));
        let start = frame.len();
        frame.extend_from_slice(&body);
        unmask(&mut frame[start..], key, 0);
        let frames = frame.repeat(window.max(1));
        Ok(RawClient {
            s,
            buf: vec![0u8; ((payload.len() + 14) * window.max(1)).clamp(4096, 256 * 1024)],
            have: 0,
            pos: 0,
            skip: 0,
            frame,
            frames,
        })
    }

    /// Sends `k` messages (k at most the window).
    pub async fn send(&mut self, k: usize) -> io::Result<()> {
        let n = self.frame.len() * k;
        self.s.write_all(&self.frames[..n]).await
    }

    /// Reads once and returns how many whole messages completed (at least one,
    /// unless the server closed).
    pub async fn recv_some(&mut self) -> io::Result<usize> {
        loop {
            let done = self.parse();
            if done > 0 {
                return Ok(done);
            }
            if self.pos == self.have {
                self.pos = 0;
                self.have = 0;
            } else if self.have == self.buf.len() {
                self.buf.copy_within(self.pos..self.have, 0);
                self.have -= self.pos;
                self.pos = 0;
            }
            let n = self.s.read(&mut self.buf[self.have..]).await?;
            if n == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            self.have += n;
        }
    }

    /// Counts complete data frames with FIN in what was read.
    fn parse(&mut self) -> usize {
        let mut done = 0;
        loop {
            if self.skip > 0 {
                let take = self.skip.min((self.have - self.pos) as u64);
                self.pos += take as usize;
                self.skip -= take;
                if self.skip > 0 {
                    return done;
                }
                continue;
            }
            let avail = &self.buf[self.pos..self.have];
            if avail.len() < 2 {
                return done;
            }
            let (len, hl) = match avail[1] & 0x7f {
                126 if avail.len() >= 4 => (u16::from_be_bytes([avail[2], avail[3]]) as u64, 4),
                127 if avail.len() >= 10 => (u64::from_be_bytes(avail[2..10].try_into().unwrap()), 10),
                126 | 127 => return done,
                l => (l as u64, 2),
            };
            let b0 = avail[0];
            self.pos += hl;
            self.skip = len;
            if b0 & 0x80 != 0 && matches!(b0 & 0x0f, 0x0..=0x2) {
                // The end of a data message.
                done += 1;
            }
            if self.skip == 0 {
                continue;
            }
        }
    }

    /// Sends one message and checks the echo byte for byte (plain runs; call
    /// before anything else is in flight).
    pub async fn verify_echo(&mut self, payload: &[u8]) -> io::Result<()> {
        self.send(1).await?;
        let mut got: Vec<u8> = Vec::new();
        let mut chunk = vec![0u8; 64 * 1024];
        let need = |g: &[u8]| -> Option<(usize, usize)> {
            if g.len() < 2 {
                return None;
            }
            match g[1] & 0x7f {
                126 if g.len() >= 4 => Some((4, u16::from_be_bytes([g[2], g[3]]) as usize)),
                127 if g.len() >= 10 => Some((10, u64::from_be_bytes(g[2..10].try_into().unwrap()) as usize)),
                126 | 127 => None,
                l => Some((2, l as usize)),
            }
        };
        // The echo may come back in several frames (a server that streams it).
        let mut message: Vec<u8> = Vec::new();
        loop {
            if let Some((hl, len)) = need(&got) {
                if got.len() >= hl + len {
                    let fin = got[0] & 0x80 != 0;
                    message.extend_from_slice(&got[hl..hl + len]);
                    got.drain(..hl + len);
                    if fin {
                        if !got.is_empty() || message != payload {
                            return Err(io::Error::other("the echo differs from what was sent"));
                        }
                        return Ok(());
                    }
                    continue;
                }
            }
            let n = self.s.read(&mut chunk).await?;
            if n == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            got.extend_from_slice(&chunk[..n]);
        }
    }
}

/// Raw deflate of one message as RFC 7692 frames it: sync flush, tail removed.
pub fn compress(data: &[u8]) -> Vec<u8> {
    use flate2::{Compress, Compression, FlushCompress};
    let mut c = Compress::new(Compression::new(6), false);
    let mut out = Vec::with_capacity(data.len() + 64);
    c.compress_vec(data, &mut out, FlushCompress::Sync).unwrap();
    while out.len() == out.capacity() {
        out.reserve(1024);
        c.compress_vec(&[], &mut out, FlushCompress::Sync).unwrap();
    }
    if out.ends_with(&[0, 0, 0xff, 0xff]) {
        out.truncate(out.len() - 4);
    }
    out
}
