//! HTTP/1.1 responses to ordinary requests (RFC 9112), sans-IO: the response
//! head with bounds, then the body's framing (section 6.3) and a decoder for
//! it. The invoker of the native crate drives these over a socket; the
//! WebSocket handshakes have their own parsers in [`crate::handshake`].
//!
//! Everything a server controls is bounded: the head by [`HandshakeLimits`],
//! the body by the caller's limit, chunk-size lines and trailers by the
//! constants below. A response that could be read two ways (repeated
//! different `Content-Length`s, `Content-Length` next to `Transfer-Encoding`)
//! is refused, because a client and a cache that disagree on where a body
//! ends is how response splitting works.
//!
//! ```
//! use sockweave_core::headers::HandshakeLimits;
//! use sockweave_core::http1::{parse_response_head, BodyDecoder};
//!
//! let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
//! let (head, used) = parse_response_head(raw, &HandshakeLimits::default(), false).unwrap().unwrap();
//! let mut body = Vec::new();
//! let mut decoder = BodyDecoder::new(head.framing, 1024).unwrap();
//! decoder.decode(&raw[used..], &mut body).unwrap();
//! assert!(decoder.is_done());
//! assert_eq!(body, b"abc");
//! ```

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::fmt;

use crate::headers::{HandshakeLimits, Headers};

/// Longest chunk-size line (size, extensions, CRLF) the decoder accepts.
pub const MAX_CHUNK_LINE: usize = 4 * 1024;
/// Most bytes of trailer fields after the last chunk.
pub const MAX_TRAILERS: usize = 16 * 1024;
/// Most header slots allocated for a head, whatever the limits say.
const MAX_HEADER_SLOTS: usize = 1024;

/// Why a response cannot be read.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Http1Error {
    /// The head is longer than the limit.
    HeadTooLarge {
        /// The limit in bytes ([`HandshakeLimits::max_header_bytes`]).
        limit: usize,
    },
    /// The head has more header lines than the limit.
    TooManyHeaders {
        /// The limit in header lines ([`HandshakeLimits::max_headers`]).
        limit: usize,
    },
    /// The status line or a header line is not valid HTTP/1.x.
    MalformedHead,
    /// `Content-Length` is not a number, or is repeated with different values.
    BadContentLength,
    /// Both `Content-Length` and `Transfer-Encoding`: the body's end is ambiguous.
    LengthAndTransferEncoding,
    /// A transfer coding other than `chunked`, or `chunked` not last or twice.
    UnsupportedTransferEncoding,
    /// The body is longer than the caller's limit.
    BodyTooLarge {
        /// The caller's limit in bytes (given to [`BodyDecoder::new`]).
        limit: u64,
    },
    /// A chunk-size line, chunk terminator or trailer is malformed or too long.
    BadChunk,
    /// The connection ended before the body did.
    Truncated,
}

impl fmt::Display for Http1Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Http1Error::HeadTooLarge { limit } => {
                write!(f, "the response head is larger than {limit} bytes")
            }
            Http1Error::TooManyHeaders { limit } => {
                write!(f, "the response has more than {limit} header lines")
            }
            Http1Error::MalformedHead => f.write_str("the response head is not valid HTTP/1.1"),
            Http1Error::BadContentLength => {
                f.write_str("Content-Length is not a number or is repeated with different values")
            }
            Http1Error::LengthAndTransferEncoding => f.write_str(
                "the response has both Content-Length and Transfer-Encoding, so where its body ends is ambiguous",
            ),
            Http1Error::UnsupportedTransferEncoding => {
                f.write_str("the response's Transfer-Encoding is not `chunked` (the only coding understood)")
            }
            Http1Error::BodyTooLarge { limit } => {
                write!(f, "the response body is larger than the limit of {limit} bytes")
            }
            Http1Error::BadChunk => f.write_str("the chunked response body is malformed"),
            Http1Error::Truncated => f.write_str("the connection ended before the response body was complete"),
        }
    }
}

/// How the body of a response is delimited (RFC 9112 section 6.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// No body: a `HEAD` request, a 1xx, 204 or 304 status.
    None,
    /// Exactly this many bytes.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Everything until the server closes the connection.
    UntilClose,
}

/// A parsed status line and headers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResponseHead {
    /// The three-digit status code (a 1xx is an interim response: parse the next head).
    pub status: u16,
    /// The reason phrase as the server wrote it (may be empty); only for people.
    pub reason: String,
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub minor_version: u8,
    /// Every header line in received order, names as written.
    pub headers: Headers,
    /// How the body that follows the head is delimited: give it to
    /// [`BodyDecoder::new`].
    pub framing: Framing,
    /// The server allows another request on this connection once the body is read.
    pub keep_alive: bool,
}

/// Parses a response head from the start of `buf`. `Ok(None)`: more bytes
/// are needed. On success, also returns how many bytes the head took. With
/// `head_request`, the response has no body whatever its headers say.
///
/// An interim (1xx) response is returned like any other, with no body; the
/// caller skips it and parses the next head.
pub fn parse_response_head(
    buf: &[u8],
    limits: &HandshakeLimits,
    head_request: bool,
) -> Result<Option<(ResponseHead, usize)>, Http1Error> {
    let slots = limits.max_headers.clamp(1, MAX_HEADER_SLOTS);
    let mut headers = vec![httparse::EMPTY_HEADER; slots];
    let mut parsed = httparse::Response::new(&mut headers);
    let used = match parsed.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => {
            if buf.len() > limits.max_header_bytes {
                return Err(Http1Error::HeadTooLarge {
                    limit: limits.max_header_bytes,
                });
            }
            return Ok(None);
        }
        Err(httparse::Error::TooManyHeaders) => return Err(Http1Error::TooManyHeaders { limit: slots }),
        Err(_) => return Err(Http1Error::MalformedHead),
    };
    if used > limits.max_header_bytes {
        return Err(Http1Error::HeadTooLarge {
            limit: limits.max_header_bytes,
        });
    }
    let status = parsed.code.ok_or(Http1Error::MalformedHead)?;
    let minor_version = parsed.version.ok_or(Http1Error::MalformedHead)?;
    let reason = String::from(parsed.reason.unwrap_or(""));
    let headers: Headers = parsed
        .headers
        .iter()
        .map(|h| {
            (
                String::from(h.name),
                String::from_utf8_lossy(h.value).into_owned(),
            )
        })
        .collect();
    let framing = framing(&headers, status, head_request)?;
    let connection = |token: &str| values(&headers, "connection").any(|v| v.eq_ignore_ascii_case(token));
    let keep_alive = framing != Framing::UntilClose
        && !(100..200).contains(&status)
        && if minor_version >= 1 {
            !connection("close")
        } else {
            connection("keep-alive")
        };
    Ok(Some((
        ResponseHead {
            status,
            reason,
            minor_version,
            headers,
            framing,
            keep_alive,
        },
        used,
    )))
}

/// The comma-separated elements of every `name` header, trimmed, empty ones skipped.
fn values<'a>(headers: &'a [(String, String)], name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    headers
        .iter()
        .filter(move |(k, _)| k.eq_ignore_ascii_case(name))
        .flat_map(|(_, v)| v.split(','))
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
}

fn framing(headers: &[(String, String)], status: u16, head_request: bool) -> Result<Framing, Http1Error> {
    if head_request || (100..200).contains(&status) || status == 204 || status == 304 {
        return Ok(Framing::None);
    }
    let has = |n: &str| headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(n));
    if has("transfer-encoding") {
        if has("content-length") {
            return Err(Http1Error::LengthAndTransferEncoding);
        }
        let codings: Vec<&str> = values(headers, "transfer-encoding").collect();
        // `chunked` must be the last coding, and only once; other codings are
        // not decoded here, so a body in them would be handed out garbled.
        return match codings.as_slice() {
            [only] if only.eq_ignore_ascii_case("chunked") => Ok(Framing::Chunked),
            _ => Err(Http1Error::UnsupportedTransferEncoding),
        };
    }
    let mut length = None;
    for v in values(headers, "content-length") {
        if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Http1Error::BadContentLength);
        }
        let n: u64 = v.parse().map_err(|_| Http1Error::BadContentLength)?;
        if length.is_some_and(|l| l != n) {
            return Err(Http1Error::BadContentLength);
        }
        length = Some(n);
    }
    if length.is_none() && has("content-length") {
        // A `Content-Length:` with no value at all.
        return Err(Http1Error::BadContentLength);
    }
    Ok(length.map_or(Framing::UntilClose, Framing::Length))
}

/// Decodes a body as its [`Framing`] says, from bytes fed in pieces of any size.
#[derive(Clone, Debug)]
pub struct BodyDecoder {
    state: State,
    max_body: u64,
    received: u64,
}

#[derive(Clone, Debug)]
enum State {
    Length {
        remaining: u64,
    },
    /// Reading a chunk-size line (bytes so far).
    ChunkSize(Vec<u8>),
    ChunkData {
        remaining: u64,
    },
    /// The CRLF after a chunk's data: how many of its bytes were seen.
    ChunkEnd(u8),
    /// Trailer lines after the last chunk: the current line, and the total so far.
    Trailers {
        line: Vec<u8>,
        total: usize,
    },
    UntilClose,
    Done,
}

impl BodyDecoder {
    /// A decoder for `framing` that refuses bodies longer than `max_body`
    /// bytes (a `Content-Length` over the limit is refused at once).
    pub fn new(framing: Framing, max_body: u64) -> Result<Self, Http1Error> {
        let state = match framing {
            Framing::None | Framing::Length(0) => State::Done,
            Framing::Length(n) if n > max_body => return Err(Http1Error::BodyTooLarge { limit: max_body }),
            Framing::Length(n) => State::Length { remaining: n },
            Framing::Chunked => State::ChunkSize(Vec::new()),
            Framing::UntilClose => State::UntilClose,
        };
        Ok(BodyDecoder {
            state,
            max_body,
            received: 0,
        })
    }

    /// The whole body has been decoded; bytes after it are not part of it.
    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Done)
    }

    /// Body bytes decoded so far.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Decodes from `input`, appending body bytes to `out`. Returns how many
    /// bytes of `input` were used: all of them unless the body ended inside it.
    pub fn decode(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<usize, Http1Error> {
        let mut i = 0;
        while i < input.len() {
            let rest = &input[i..];
            match &mut self.state {
                State::Done => break,
                State::Length { remaining } | State::ChunkData { remaining } => {
                    let n = usize::try_from(*remaining).unwrap_or(usize::MAX).min(rest.len());
                    *remaining -= n as u64;
                    let finished = *remaining == 0;
                    self.take(&rest[..n], out)?;
                    i += n;
                    if finished {
                        self.state = match self.state {
                            State::Length { .. } => State::Done,
                            _ => State::ChunkEnd(0),
                        };
                    }
                }
                State::UntilClose => {
                    self.take(rest, out)?;
                    i = input.len();
                }
                State::ChunkEnd(seen) => {
                    let want = if *seen == 0 { b'\r' } else { b'\n' };
                    // A bare LF is tolerated, as RFC 9112 section 2.2 allows.
                    if rest[0] == want {
                        *seen += 1;
                    } else if *seen == 0 && rest[0] == b'\n' {
                        *seen = 2;
                    } else {
                        return Err(Http1Error::BadChunk);
                    }
                    i += 1;
                    if *seen == 2 {
                        self.state = State::ChunkSize(Vec::new());
                    }
                }
                State::ChunkSize(line) => {
                    let (used, complete) = take_line(line, rest, MAX_CHUNK_LINE)?;
                    i += used;
                    if complete {
                        let size = chunk_size(line)?;
                        if size > self.max_body - self.received {
                            return Err(Http1Error::BodyTooLarge { limit: self.max_body });
                        }
                        self.state = if size == 0 {
                            State::Trailers {
                                line: Vec::new(),
                                total: 0,
                            }
                        } else {
                            State::ChunkData { remaining: size }
                        };
                    }
                }
                State::Trailers { line, total } => {
                    let room = MAX_TRAILERS.saturating_sub(*total);
                    let (used, complete) = take_line(line, rest, room)?;
                    i += used;
                    *total += used;
                    if complete {
                        if line.is_empty() {
                            self.state = State::Done;
                        } else if !line.contains(&b':') {
                            return Err(Http1Error::BadChunk);
                        } else {
                            line.clear();
                        }
                    }
                }
            }
        }
        Ok(i)
    }

    /// The connection ended: fine for a body read until close, an error if
    /// the body is not complete.
    pub fn end_of_input(&mut self) -> Result<(), Http1Error> {
        match self.state {
            State::Done => Ok(()),
            State::UntilClose => {
                self.state = State::Done;
                Ok(())
            }
            _ => Err(Http1Error::Truncated),
        }
    }

    fn take(&mut self, bytes: &[u8], out: &mut Vec<u8>) -> Result<(), Http1Error> {
        let n = bytes.len() as u64;
        if n > self.max_body - self.received {
            return Err(Http1Error::BodyTooLarge { limit: self.max_body });
        }
        self.received += n;
        out.extend_from_slice(bytes);
        Ok(())
    }
}

/// Moves bytes of one line from `input` into `line` (without the line end).
/// Returns the bytes used and whether the line is complete; a line longer
/// than `max` is an error.
fn take_line(line: &mut Vec<u8>, input: &[u8], max: usize) -> Result<(usize, bool), Http1Error> {
    match input.iter().position(|&b| b == b'\n') {
        Some(p) => {
            if line.len() + p > max {
                return Err(Http1Error::BadChunk);
            }
            line.extend_from_slice(&input[..p]);
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            if line.contains(&b'\r') {
                return Err(Http1Error::BadChunk);
            }
            Ok((p + 1, true))
        }
        None => {
            if line.len() + input.len() > max {
                return Err(Http1Error::BadChunk);
            }
            line.extend_from_slice(input);
            Ok((input.len(), false))
        }
    }
}

/// The size of a chunk-size line: hex digits, then optional extensions.
fn chunk_size(line: &[u8]) -> Result<u64, Http1Error> {
    let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    if digits == 0 || digits > 16 {
        return Err(Http1Error::BadChunk);
    }
    let rest = &line[digits..];
    let rest_ok = rest.is_empty() || {
        let t = rest
            .iter()
            .position(|&b| b != b' ' && b != b'\t')
            .map_or(&[][..], |p| &rest[p..]);
        t.is_empty() || t[0] == b';'
    };
    if !rest_ok || line.iter().any(|&b| b < 0x20 && b != b'\t') {
        return Err(Http1Error::BadChunk);
    }
    let mut size: u64 = 0;
    for &b in &line[..digits] {
        let d = (b as char).to_digit(16).ok_or(Http1Error::BadChunk)?;
        size = size
            .checked_mul(16)
            .and_then(|s| s.checked_add(u64::from(d)))
            .ok_or(Http1Error::BadChunk)?;
    }
    Ok(size)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn whole(raw: &[u8], max: u64) -> Result<(ResponseHead, Vec<u8>, usize), Http1Error> {
        let (head, used) =
            parse_response_head(raw, &HandshakeLimits::default(), false)?.ok_or(Http1Error::Truncated)?;
        let mut d = BodyDecoder::new(head.framing, max)?;
        let mut body = Vec::new();
        let n = d.decode(&raw[used..], &mut body)?;
        d.end_of_input()?;
        Ok((head, body, raw.len() - used - n))
    }

    #[test]
    fn length_chunked_and_until_close() {
        let (h, b, extra) = whole(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcdef", 100).unwrap();
        assert_eq!(
            (h.status, b.as_slice(), extra, h.keep_alive),
            (200, &b"abc"[..], 3, true)
        );
        let (h, b, _) = whole(
            b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nT: v\r\n\r\n",
            100,
        )
        .unwrap();
        assert_eq!((h.status, b.as_slice()), (201, &b"abcde"[..]));
        let (h, b, _) = whole(b"HTTP/1.1 404 Not Found\r\n\r\ngone", 100).unwrap();
        assert_eq!(
            (h.framing, b.as_slice(), h.keep_alive),
            (Framing::UntilClose, &b"gone"[..], false)
        );
        let (h, _, _) = whole(
            b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
            1,
        )
        .unwrap();
        assert!(!h.keep_alive);
        let (h, _, _) = whole(b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", 1).unwrap();
        assert!(!h.keep_alive);
    }

    #[test]
    fn ambiguous_or_oversized_responses_are_refused() {
        let cases: &[(&[u8], Http1Error)] = &[
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc",
                Http1Error::Truncated,
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
                Http1Error::BadContentLength,
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 3, 4\r\n\r\nabcd",
                Http1Error::BadContentLength,
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: +3\r\n\r\nabc",
                Http1Error::BadContentLength,
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                Http1Error::LengthAndTransferEncoding,
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
                Http1Error::UnsupportedTransferEncoding,
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
                Http1Error::UnsupportedTransferEncoding,
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                Http1Error::BadChunk,
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX",
                Http1Error::BadChunk,
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n",
                Http1Error::BadChunk,
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n",
                Http1Error::BodyTooLarge { limit: 10 },
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nb\r\n",
                Http1Error::BodyTooLarge { limit: 10 },
            ),
            (
                b"HTTP/1.1 200 OK\r\n\r\n0123456789a",
                Http1Error::BodyTooLarge { limit: 10 },
            ),
        ];
        for (raw, want) in cases {
            assert_eq!(
                whole(raw, 10).unwrap_err(),
                *want,
                "{}",
                String::from_utf8_lossy(raw)
            );
        }
        let big = vec![b'a'; 20_000];
        let mut raw = b"HTTP/1.1 200 OK\r\nX: ".to_vec();
        raw.extend_from_slice(&big);
        assert!(matches!(
            parse_response_head(&raw, &HandshakeLimits::default(), false),
            Err(Http1Error::HeadTooLarge { .. })
        ));
    }

    #[test]
    fn bodies_split_anywhere_decode_the_same() {
        let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\n\r\nNEXT";
        let (head, used) = parse_response_head(raw, &HandshakeLimits::default(), false)
            .unwrap()
            .unwrap();
        for step in 1..8 {
            let mut d = BodyDecoder::new(head.framing, 100).unwrap();
            let mut out = Vec::new();
            let mut at = used;
            while !d.is_done() {
                let end = (at + step).min(raw.len());
                at += d.decode(&raw[at..end], &mut out).unwrap();
            }
            assert_eq!(out, b"abc0123456789abcdef");
            assert_eq!(&raw[at..], b"NEXT");
        }
    }

    #[test]
    fn no_body_for_head_requests_and_interim_statuses() {
        let raw = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n";
        let (h, _) = parse_response_head(raw, &HandshakeLimits::default(), true)
            .unwrap()
            .unwrap();
        assert_eq!(h.framing, Framing::None);
        let (h, _) = parse_response_head(
            b"HTTP/1.1 100 Continue\r\n\r\n",
            &HandshakeLimits::default(),
            false,
        )
        .unwrap()
        .unwrap();
        assert_eq!((h.status, h.framing), (100, Framing::None));
    }
}
