//! The idiomatic faces: a `Stream` of whole messages, a `Sink` for sending,
//! and [`split`](crate::WebSocket::split) into halves for two tasks.

use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;
use futures_sink::Sink;
use sockweave_core::session::{MessageType, SendFlags, State};
use sockweave_core::CloseCode;

use crate::error::Error;
use crate::message::Message;
use crate::websocket::WebSocket;

impl Stream for WebSocket {
    type Item = Result<Message, Error>;

    /// Yields whole messages; ends after the peer's Close (which is answered).
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_next_message(cx)
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

impl WebSocket {
    /// Splits into a receiving and a sending half, for use from two tasks.
    /// The connection is aborted when both halves are dropped without closing.
    pub fn split(self) -> (ReadHalf, WriteHalf) {
        let w = self.clone_handle();
        (ReadHalf { ws: self }, WriteHalf { ws: w })
    }
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
