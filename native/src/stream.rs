//! The idiomatic faces: a `Stream` of whole messages, a `Sink` for sending,
//! and [`split`](crate::WebSocket::split) into halves for two tasks.

use std::pin::Pin;
use std::sync::atomic::AtomicU8;
use std::task::{Context, Poll};

use futures_core::Stream;
use futures_sink::Sink;
use sockweave_core::session::{MessageType, SendFlags, State};
use sockweave_core::CloseCode;

use crate::error::Error;
use crate::websocket::WebSocket;

/// A whole message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    Text(String),
    Binary(Vec<u8>),
}

impl Message {
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Message::Text(s) => s.as_bytes(),
            Message::Binary(b) => b,
        }
    }

    pub fn message_type(&self) -> MessageType {
        match self {
            Message::Text(_) => MessageType::Text,
            Message::Binary(_) => MessageType::Binary,
        }
    }
}

impl From<String> for Message {
    fn from(s: String) -> Self {
        Message::Text(s)
    }
}

impl From<&str> for Message {
    fn from(s: &str) -> Self {
        Message::Text(s.to_owned())
    }
}

impl From<Vec<u8>> for Message {
    fn from(b: Vec<u8>) -> Self {
        Message::Binary(b)
    }
}

/// Reading pieces into a growing buffer: the first read is small so small
/// messages cost little, later reads grow with the message.
const FIRST_READ: usize = 4096;

/// Assembles whole messages from [`WebSocket::poll_receive`] results.
#[derive(Default)]
pub(crate) struct Assembler {
    buf: Vec<u8>,
    /// The receive slot while a message is partly taken (see `WebSocket::poll_receive`).
    hold: AtomicU8,
}

impl Assembler {
    pub(crate) fn poll_message(
        &mut self,
        ws: &WebSocket,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Message, Error>>> {
        loop {
            let len = self.buf.len();
            let want = (len / 2).clamp(FIRST_READ, 1 << 20);
            self.buf.resize(len + want, 0);
            let r = ws.poll_receive(cx, &mut self.buf[len..], &self.hold);
            let r = match r {
                Poll::Pending => {
                    self.buf.truncate(len);
                    return Poll::Pending;
                }
                Poll::Ready(r) => r,
            };
            match r {
                Err(e) => {
                    self.buf.clear();
                    // After the Close the stream has ended; anything else is an error.
                    return Poll::Ready(match ws.state() {
                        State::Closed | State::CloseReceived
                            if e.kind() == crate::ErrorKind::InvalidState =>
                        {
                            None
                        }
                        _ => Some(Err(e)),
                    });
                }
                Ok(r) => {
                    self.buf.truncate(len + r.count);
                    match r.message_type {
                        MessageType::Close => {
                            self.buf.clear();
                            // Answer the peer's Close with the same status, as RFC 6455 asks.
                            let _ = ws.answer_close();
                            return Poll::Ready(None);
                        }
                        _ if !r.end_of_message => continue,
                        MessageType::Text => {
                            let data = std::mem::take(&mut self.buf);
                            // The engine validated the UTF-8 already.
                            let s = String::from_utf8(data).map_err(|_| {
                                Error::new(crate::ErrorKind::Faulted, "internal: validated text is not UTF-8")
                            });
                            return Poll::Ready(Some(s.map(Message::Text)));
                        }
                        MessageType::Binary => {
                            return Poll::Ready(Some(Ok(Message::Binary(std::mem::take(&mut self.buf)))));
                        }
                    }
                }
            }
        }
    }
}

impl Stream for WebSocket {
    type Item = Result<Message, Error>;

    /// Yields whole messages; ends after the peer's Close (which is answered).
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let mut assembler = std::mem::take(&mut this.assembler);
        let r = assembler.poll_message(this, cx);
        this.assembler = assembler;
        r
    }
}

impl Sink<Message> for WebSocket {
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.poll_send_ready(cx, self.max_pending_output())
    }

    fn start_send(self: Pin<&mut Self>, item: Message) -> Result<(), Error> {
        // A whole message: queued after any message in pieces of another task ends.
        self.queue_send(item.as_bytes(), item.message_type(), SendFlags::END_OF_MESSAGE)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.poll_output_below(cx, 0)
    }

    /// Sends a Close (1000) if none was sent, and waits until it is written.
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        if matches!(self.state(), State::Open | State::CloseReceived) {
            self.queue_close(Some(CloseCode::NORMAL), "")?;
        }
        self.poll_output_below(cx, 0)
    }
}

/// The receiving half of a split WebSocket: `receive` and a `Stream` of messages.
pub struct ReadHalf {
    ws: WebSocket,
}

/// The sending half of a split WebSocket: `send`, `close_output` and a `Sink` of messages.
pub struct WriteHalf {
    ws: WebSocket,
}

pub(crate) fn split(ws: WebSocket) -> (ReadHalf, WriteHalf) {
    let w = ws.clone_handle();
    (ReadHalf { ws }, WriteHalf { ws: w })
}

impl ReadHalf {
    /// See [`WebSocket::receive`].
    pub async fn receive(&self, buf: &mut [u8]) -> Result<sockweave_core::ReceiveResult, Error> {
        self.ws.receive(buf).await
    }

    /// The whole connection, for state and close status.
    pub fn websocket(&self) -> &WebSocket {
        &self.ws
    }
}

impl WriteHalf {
    /// See [`WebSocket::send`].
    pub async fn send(&self, data: &[u8], ty: MessageType, flags: SendFlags) -> Result<(), Error> {
        self.ws.send(data, ty, flags).await
    }

    /// See [`WebSocket::close_output`].
    pub async fn close_output(&self, code: Option<CloseCode>, reason: &str) -> Result<(), Error> {
        self.ws.close_output(code, reason).await
    }

    /// The whole connection, for state and close status.
    pub fn websocket(&self) -> &WebSocket {
        &self.ws
    }
}

impl Stream for ReadHalf {
    type Item = Result<Message, Error>;
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Pin::new(&mut self.get_mut().ws).poll_next(cx)
    }
}

impl Sink<Message> for WriteHalf {
    type Error = Error;
    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        Pin::new(&mut self.get_mut().ws).poll_ready(cx)
    }
    fn start_send(self: Pin<&mut Self>, item: Message) -> Result<(), Error> {
        Pin::new(&mut self.get_mut().ws).start_send(item)
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        Pin::new(&mut self.get_mut().ws).poll_flush(cx)
    }
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        Pin::new(&mut self.get_mut().ws).poll_close(cx)
    }
}
