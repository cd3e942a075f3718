//! The shared lifecycle vectors (`tests/vectors/lifecycle.json`) through the
//! native crate: `WebSocket::from_stream` over a scripted transport, on
//! tokio's paused clock, so every deadline is exact and no test waits.

#[path = "../../tests/vectors/lifecycle_runner.rs"]
mod lifecycle_runner;

use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use lifecycle_runner::{Face, Fate, Got};
use serde_json::Value;
use sockweave::{CloseCode, MessageType, Options, SendFlags, WebSocket};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::task::JoinHandle;

/// The peer's side of a scripted transport.
#[derive(Default)]
struct Peer {
    /// Bytes the peer sent that the WebSocket has not read.
    to_ws: VecDeque<u8>,
    ended: bool,
    reset: bool,
    /// While false, the transport takes one write and holds it.
    not_reading: bool,
    held: Option<Vec<u8>>,
    delivered: Vec<u8>,
    shut: bool,
    released: bool,
    read_waker: Option<Waker>,
    write_waker: Option<Waker>,
}

/// The WebSocket's side.
struct Scripted(Arc<Mutex<Peer>>);

impl AsyncRead for Scripted {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let mut p = self.0.lock().unwrap();
        if p.reset {
            return Poll::Ready(Err(io::ErrorKind::ConnectionReset.into()));
        }
        if !p.to_ws.is_empty() {
            let n = buf.remaining().min(p.to_ws.len());
            let bytes: Vec<u8> = p.to_ws.drain(..n).collect();
            buf.put_slice(&bytes);
            return Poll::Ready(Ok(()));
        }
        if p.ended {
            return Poll::Ready(Ok(()));
        }
        p.read_waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

impl AsyncWrite for Scripted {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let mut p = self.0.lock().unwrap();
        if p.reset || p.shut {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        if !p.not_reading {
            p.delivered.extend_from_slice(buf);
        } else if p.held.is_none() {
            p.held = Some(buf.to_vec());
        } else {
            p.write_waker = Some(cx.waker().clone());
            return Poll::Pending;
        }
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.0.lock().unwrap().shut = true;
        Poll::Ready(Ok(()))
    }
}

impl Drop for Scripted {
    fn drop(&mut self) {
        self.0.lock().unwrap().released = true;
    }
}

struct Native {
    ws: Arc<WebSocket>,
    peer: Arc<Mutex<Peer>>,
    closing: Option<JoinHandle<Result<(), sockweave::Error>>>,
}

/// Lets the driver (and any task) run until nothing more happens without
/// input or time (the clock is paused and never advanced here).
async fn settle() {
    for _ in 0..64 {
        tokio::task::yield_now().await;
    }
}

/// Polls `f` until it completes, letting other tasks run in between; `None`
/// if it still waits once everything has settled.
async fn complete<T>(f: impl Future<Output = T>) -> Option<T> {
    let mut f = std::pin::pin!(f);
    for _ in 0..64 {
        if let Poll::Ready(v) = std::future::poll_fn(|cx| Poll::Ready(f.as_mut().poll(cx))).await {
            return Some(v);
        }
        tokio::task::yield_now().await;
    }
    None
}

fn kind(e: sockweave::Error) -> String {
    format!("{:?}", e.kind())
}

impl Native {
    fn p(&self) -> std::sync::MutexGuard<'_, Peer> {
        self.peer.lock().unwrap()
    }

    fn wake(&self) {
        let mut p = self.p();
        if let Some(w) = p.read_waker.take() {
            w.wake();
        }
        if let Some(w) = p.write_waker.take() {
            w.wake();
        }
    }
}

impl Face for Native {
    async fn start(role: &str, options: &Value) -> Self {
        let mut o: Options = if options.is_null() {
            Options::default()
        } else {
            serde_json::from_value(options.clone()).expect("options")
        };
        o.is_server = role == "server";
        let peer = Arc::new(Mutex::new(Peer::default()));
        let ws = WebSocket::from_stream(Scripted(peer.clone()), &o).unwrap();
        settle().await;
        Native {
            ws: Arc::new(ws),
            peer,
            closing: None,
        }
    }

    async fn peer(&mut self, bytes: &[u8]) {
        self.p().to_ws.extend(bytes);
        self.wake();
        settle().await;
    }

    async fn peer_end(&mut self) {
        self.p().ended = true;
        self.wake();
        settle().await;
    }

    async fn peer_reset(&mut self) {
        self.p().reset = true;
        self.wake();
        settle().await;
    }

    async fn peer_reading(&mut self, on: bool) {
        {
            let mut p = self.p();
            p.not_reading = !on;
            if on {
                if let Some(h) = p.held.take() {
                    p.delivered.extend_from_slice(&h);
                }
            }
        }
        self.wake();
        settle().await;
    }

    async fn wait(&mut self, ms: u64) {
        tokio::time::advance(Duration::from_millis(ms)).await;
        settle().await;
    }

    async fn receive(&mut self, size: usize) -> Result<Got, String> {
        let mut buf = vec![0u8; size];
        let r = complete(self.ws.receive(&mut buf))
            .await
            .ok_or_else(|| String::from("the receive still waits"))?;
        settle().await;
        let r = r.map_err(kind)?;
        Ok(match r.message_type {
            MessageType::Close => Got::Close {
                code: r.close_status.expect("status").0,
                reason: r.close_status_description.unwrap_or_default(),
            },
            t => Got::Data {
                text: t == MessageType::Text,
                data: buf[..r.count].to_vec(),
                end: r.end_of_message,
            },
        })
    }

    async fn send(&mut self, text: bool, data: &[u8], end: bool) -> Result<(), String> {
        let ty = if text {
            MessageType::Text
        } else {
            MessageType::Binary
        };
        let flags = SendFlags {
            end_of_message: end,
            disable_compression: false,
        };
        let r = complete(self.ws.send(data, ty, flags))
            .await
            .ok_or_else(|| String::from("the send still waits"))?;
        settle().await;
        r.map_err(kind)
    }

    async fn close_output(&mut self, code: Option<u16>, reason: &str) -> Result<(), String> {
        let r = complete(self.ws.close_output(code.map(CloseCode), reason))
            .await
            .ok_or_else(|| String::from("close_output still waits"))?;
        settle().await;
        r.map_err(kind)
    }

    async fn close_start(&mut self, code: Option<u16>, reason: &str) {
        let ws = self.ws.clone();
        let reason = reason.to_owned();
        self.closing = Some(tokio::spawn(async move {
            ws.close(code.map(CloseCode), &reason).await
        }));
        settle().await;
    }

    async fn close_done(&mut self) -> Option<Result<(), String>> {
        settle().await;
        let h = self.closing.as_mut().expect("closeDone without close");
        if !h.is_finished() {
            return None;
        }
        Some(h.await.unwrap().map_err(kind))
    }

    async fn abort(&mut self) {
        self.ws.abort();
        settle().await;
    }

    fn state(&self) -> String {
        format!("{:?}", self.ws.state())
    }

    fn close_status(&self) -> Option<u16> {
        self.ws.close_status().map(|c| c.0)
    }

    fn take_delivered(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.p().delivered)
    }

    fn fate(&self) -> Fate {
        let p = self.p();
        match (p.released, p.shut) {
            (true, true) => Fate::Closed,
            (true, false) => Fate::Dropped,
            (false, true) => Fate::WriteShut,
            (false, false) => Fate::Open,
        }
    }
}

#[tokio::test(start_paused = true)]
async fn lifecycle_vectors() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/vectors/lifecycle.json");
    let vectors: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let only = std::env::var("LIFECYCLE_ONLY").ok();
    let (n, failures) = lifecycle_runner::run_all::<Native>(&vectors, only.as_deref()).await;
    println!("REPORT lifecycle.json: {n} cases through the native crate");
    assert!(n > 0);
    assert!(
        failures.is_empty(),
        "{} of {n} cases failed:\n  {}",
        failures.len(),
        failures.join("\n  ")
    );
}
