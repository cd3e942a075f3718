//! 256 MiB through one HTTP/2 stream with memory bounded by the configured
//! buffers, while the receiver first stalls and then reads slowly in small
//! pieces: flow control, not buffering, absorbs the difference.
//!
//! A counting allocator (this test binary only) measures the peak of live heap
//! bytes of the whole process: client, server and both HTTP/2 connections.

mod common;

use std::time::Duration;

use sockweave::{
    ClientWebSocket, CloseCode, HttpVersion, HttpVersionPolicy, Incoming, MessageType, Options, SendFlags,
};

use common::{heap, listen};

#[global_allocator]
static ALLOCATOR: heap::Counting = heap::Counting;

const TOTAL: usize = 256 * 1024 * 1024;
const PIECE: usize = 1024 * 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_256_mib_message_through_one_stream_stays_within_the_buffers() {
    let (listener, port) = listen().await;
    let options = Options {
        max_message_size: TOTAL as u64,
        ..Options::default()
    };
    let server_options = options.clone();
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut conn = sockweave::accept_h2(tcp, &server_options).await.unwrap();
        let Some(Incoming::WebSocket(ws, _)) = conn.accept().await else {
            panic!("expected a WebSocket");
        };
        // A slow start: the sender must be held back by flow control meanwhile.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let stalled_peak = heap::peak();
        let mut buf = vec![0u8; 16 * 1024];
        let (mut received, mut sum) = (0usize, 0u64);
        loop {
            let r = ws.receive(&mut buf).await.unwrap();
            assert_eq!(r.message_type, MessageType::Binary);
            for (i, b) in buf[..r.count].iter().enumerate() {
                // The pattern the client sent, checked byte by byte.
                debug_assert_eq!(*b, ((received + i) % 251) as u8);
            }
            sum += buf[..r.count].iter().map(|&b| b as u64).sum::<u64>();
            received += r.count;
            if r.end_of_message {
                break;
            }
        }
        let r = ws.receive(&mut buf).await.unwrap();
        assert_eq!(r.message_type, MessageType::Close);
        ws.close_output(Some(CloseCode::NORMAL), "").await.unwrap();
        (received, sum, stalled_peak)
    });

    let mut ws = ClientWebSocket::new();
    ws.options_mut().options = options;
    ws.options_mut().options.http_version = HttpVersion::Http2;
    ws.options_mut().options.http_version_policy = HttpVersionPolicy::RequestVersionExact;
    ws.connect(&format!("ws://127.0.0.1:{port}/")).await.unwrap();
    let baseline = heap::live();
    heap::reset_peak();

    let piece: Vec<u8> = (0..PIECE).map(|i| (i % 251) as u8).collect();
    let mut expected_sum = 0u64;
    let mut sent = 0;
    while sent < TOTAL {
        // Pieces continue the pattern across boundaries (PIECE is not a multiple of 251).
        let offset = sent % 251;
        let chunk: Vec<u8> = piece
            .iter()
            .map(|&b| ((b as usize + offset) % 251) as u8)
            .collect();
        expected_sum += chunk.iter().map(|&b| b as u64).sum::<u64>();
        sent += PIECE;
        let flags = SendFlags {
            end_of_message: sent == TOTAL,
            disable_compression: false,
        };
        ws.send(&chunk, MessageType::Binary, flags).await.unwrap();
    }
    ws.close(Some(CloseCode::NORMAL), "").await.unwrap();
    let (received, sum, stalled_peak) = server.await.unwrap();
    assert_eq!(received, TOTAL);
    assert_eq!(sum, expected_sum);

    let peak = heap::peak() - baseline;
    let stalled = stalled_peak.saturating_sub(baseline);
    println!(
        "REPORT h2 256 MiB through one stream: peak heap above baseline {:.1} MiB (while the reader stalled: {:.1} MiB)",
        peak as f64 / 1048576.0,
        stalled as f64 / 1048576.0
    );
    // What the configuration allows in flight: the sender's 1 MiB piece and its
    // frames (maxPendingOutput 256 KiB plus the piece being framed), the HTTP/2
    // stream and connection windows (256 KiB and 4 MiB), h2's send buffer, the
    // receive buffer (64 KiB) and the reader's 16 KiB: well under 16 MiB.
    // 256 MiB of buffering would show as a peak far above it.
    assert!(peak < 16 * 1024 * 1024, "peak heap {peak} bytes above baseline");
    assert!(
        stalled < 16 * 1024 * 1024,
        "peak heap while stalled {stalled} bytes"
    );
}
