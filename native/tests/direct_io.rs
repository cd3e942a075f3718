//! Who does the I/O: a waiting `receive` reads the transport itself and a
//! reply is written from the sender's task (see native/src/driver/app.rs), yet
//! the driver still answers PINGs whenever no receive is waiting, replies to
//! a batch of requests are written together, and large payloads read
//! straight into the caller's buffer arrive exact and checked.

mod common;

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use common::servers::receive_message;
use common::{bounded, masked_frame, read_frame};
use sockweave::{CloseCode, ErrorKind, MessageType, Options, SendFlags, WebSocket};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, DuplexStream, ReadBuf};

/// A transport that counts the writes that took bytes.
struct Counting {
    inner: DuplexStream,
    writes: Arc<AtomicUsize>,
}

impl AsyncRead for Counting {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Counting {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.writes.fetch_add(1, Ordering::Relaxed);
        }
        r
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// A server WebSocket on one end of a pipe; the test plays the client on the other.
fn server() -> (Arc<WebSocket>, DuplexStream, Arc<AtomicUsize>) {
    let (ours, peer) = tokio::io::duplex(8 << 20);
    let writes = Arc::new(AtomicUsize::new(0));
    let transport = Counting {
        inner: ours,
        writes: writes.clone(),
    };
    let options = Options {
        is_server: true,
        ..Options::default()
    };
    (
        Arc::new(WebSocket::from_stream(transport, &options).unwrap()),
        peer,
        writes,
    )
}

const PING: u8 = 0x9;
const PONG: u8 = 0x8A;

async fn assert_pong(peer: &mut DuplexStream, payload: &[u8]) {
    peer.write_all(&masked_frame(PING, payload)).await.unwrap();
    let (first, got) = read_frame(peer).await.unwrap();
    assert_eq!((first, got.as_slice()), (PONG, payload));
}

async fn pings_are_answered_whenever_no_receive_waits() {
    bounded(async {
        let (ws, mut peer, _) = server();
        // A receive waits (and reads the transport itself) before data arrives.
        let waiting = tokio::spawn({
            let ws = ws.clone();
            async move {
                let mut buf = [0u8; 64];
                let r = ws.receive(&mut buf).await.unwrap();
                buf[..r.count].to_vec()
            }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        peer.write_all(&masked_frame(0x1, b"hello")).await.unwrap();
        assert_eq!(waiting.await.unwrap(), b"hello");

        // The receive completed and the application receives no more: the
        // driver reads again, so PINGs are answered.
        assert_pong(&mut peer, b"after a completed receive").await;

        // A receive dropped while it waited hands reading back too.
        let mut buf = [0u8; 64];
        let timed_out = tokio::time::timeout(Duration::from_millis(30), ws.receive(&mut buf)).await;
        assert!(timed_out.is_err());
        assert_pong(&mut peer, b"after a dropped receive").await;

        // Nothing was lost on the way.
        peer.write_all(&masked_frame(0x1, b"still here")).await.unwrap();
        let r = ws.receive(&mut buf).await.unwrap();
        assert_eq!(&buf[..r.count], b"still here");
        assert_pong(&mut peer, b"and again").await;
    })
    .await;
}

#[tokio::test]
async fn pings_are_answered_whenever_no_receive_waits_current_thread() {
    pings_are_answered_whenever_no_receive_waits().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pings_are_answered_whenever_no_receive_waits_multi_thread() {
    pings_are_answered_whenever_no_receive_waits().await;
}

#[tokio::test]
async fn replies_to_a_batch_of_requests_go_out_together() {
    bounded(async {
        let (ws, mut peer, writes) = server();
        let batch: Vec<u8> = (0..64u8).flat_map(|i| masked_frame(0x2, &[i; 16])).collect();
        peer.write_all(&batch).await.unwrap();
        let mut buf = [0u8; 64];
        for i in 0..64u8 {
            let r = ws.receive(&mut buf).await.unwrap();
            assert_eq!(&buf[..r.count], &[i; 16]);
            ws.send(&buf[..r.count], r.message_type, SendFlags::END_OF_MESSAGE)
                .await
                .unwrap();
        }
        for i in 0..64u8 {
            let (first, payload) = read_frame(&mut peer).await.unwrap();
            assert_eq!((first, payload), (0x82, vec![i; 16]));
        }
        // One write for the whole batch (the last reply found nothing more
        // received and wrote the queue); never one per message.
        let n = writes.load(Ordering::Relaxed);
        assert!(n <= 2, "64 replies took {n} writes");
    })
    .await;
}

#[tokio::test]
async fn a_burst_of_sends_goes_out_in_few_writes() {
    bounded(async {
        let (ws, mut peer, writes) = server();
        for i in 0..200u32 {
            ws.send(&i.to_be_bytes(), MessageType::Binary, SendFlags::END_OF_MESSAGE)
                .await
                .unwrap();
        }
        for i in 0..200u32 {
            let (_, payload) = read_frame(&mut peer).await.unwrap();
            assert_eq!(payload, i.to_be_bytes());
        }
        // The first send writes at once; the rest queue behind it and the
        // driver writes them together.
        let n = writes.load(Ordering::Relaxed);
        assert!(n <= 3, "200 sends took {n} writes");
    })
    .await;
}

#[tokio::test]
async fn a_reply_to_a_request_is_written_by_the_sender() {
    bounded(async {
        let (ws, mut peer, writes) = server();
        let mut buf = [0u8; 64];
        for i in 0..20u8 {
            peer.write_all(&masked_frame(0x2, &[i])).await.unwrap();
            let r = ws.receive(&mut buf).await.unwrap();
            ws.send(&buf[..r.count], r.message_type, SendFlags::END_OF_MESSAGE)
                .await
                .unwrap();
            // Written before `send` returned, without waiting for the driver task.
            assert_eq!(writes.load(Ordering::Relaxed), usize::from(i) + 1);
            assert_eq!(read_frame(&mut peer).await.unwrap().1, [i]);
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_payloads_read_into_the_callers_buffer_arrive_exact_and_checked() {
    bounded(async {
        let (ws, mut peer, _) = server();
        // 3 MiB + 3 bytes in awkward pieces, so reads end mid-mask-key.
        let binary: Vec<u8> = (0..(3 << 20) + 3u32).map(|i| (i * 31 + i / 1000) as u8).collect();
        let mut text = "añ€𝄞".repeat(200_000).into_bytes();
        let frames = [masked_frame(0x2, &binary), masked_frame(0x1, &text)].concat();
        let writer = tokio::spawn(async move {
            for piece in frames.chunks(40_961) {
                peer.write_all(piece).await.unwrap();
                tokio::task::yield_now().await;
            }
            peer
        });
        let mut buf = vec![0u8; 64 * 1024];
        for (want, ty) in [(&binary, MessageType::Binary), (&text, MessageType::Text)] {
            let (got_ty, got) = receive_message(&*ws, &mut buf).await;
            assert_eq!(got_ty, ty);
            assert!(
                got == *want,
                "a {ty:?} message of {} bytes came back different",
                want.len()
            );
        }
        let mut peer = writer.await.unwrap();

        // Invalid UTF-8 deep inside a large text frame fails with 1007.
        text[700_001] = 0xff;
        peer.write_all(&masked_frame(0x1, &text)).await.unwrap();
        let err = loop {
            match ws.receive(&mut buf).await {
                Ok(r) => assert!(!r.end_of_message),
                Err(e) => break e,
            }
        };
        assert_eq!(err.kind(), ErrorKind::Faulted);
        assert_eq!(err.close_code(), Some(CloseCode::INVALID_PAYLOAD));
        let (first, payload) = read_frame(&mut peer).await.unwrap();
        assert_eq!(first, 0x88);
        assert_eq!(
            u16::from_be_bytes([payload[0], payload[1]]),
            CloseCode::INVALID_PAYLOAD.0
        );
    })
    .await;
}
