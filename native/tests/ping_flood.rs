//! A peer that floods PINGs (and empty messages) and never reads what we
//! write cannot grow the server's memory: only the newest unwritten PING is
//! answered, input stops while more than `max_pending_output` bytes of
//! answers wait, and queued deliveries count against the receive buffer.
//!
//! A counting allocator (this test binary only) measures the peak of live
//! heap bytes of the whole process, server and attacker included.

mod common;

use common::{heap, listen, masked_frame};
use sockweave::Options;
use tokio::io::AsyncWriteExt;

#[global_allocator]
static ALLOCATOR: heap::Counting = heap::Counting;

/// What the attacker sends in all: far more than any buffer.
const FLOOD: usize = 128 << 20;
/// The bound on the heap the flood may add (the server's buffers are 64 KiB
/// for input and 256 KiB for output; the attacker's own chunk is 1 MiB).
const BOUND: usize = 4 << 20;

/// Floods an echo server (as `sockweave serve --echo` runs) with `frame`,
/// never reading; returns the peak heap growth and how many bytes went out.
async fn flood(frame: Vec<u8>) -> (usize, usize) {
    let (listener, port) = listen().await;
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let ws = sockweave::accept(tcp, &Options::default()).await.unwrap();
        common::echo(&ws).await;
    });
    let mut tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let key = "dGhlIHNhbXBsZSBub25jZQ==";
    let request = format!(
        "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    tcp.write_all(request.as_bytes()).await.unwrap();
    // The attacker's chunk exists before the baseline is taken.
    let chunk: Vec<u8> = frame
        .iter()
        .copied()
        .cycle()
        .take((1 << 20) / frame.len() * frame.len())
        .collect();
    tokio::task::yield_now().await;
    let baseline = heap::live();
    heap::reset_peak();
    let mut sent = 0;
    // The server stops reading only if it must; then our writes block, and
    // the flood ends there (the kernel's buffers hold the rest).
    while sent < FLOOD {
        match tokio::time::timeout(std::time::Duration::from_secs(2), tcp.write_all(&chunk)).await {
            Ok(Ok(())) => sent += chunk.len(),
            _ => break,
        }
    }
    let peak = heap::peak() - baseline;
    server.abort();
    (peak, sent)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ping_flood_from_a_peer_that_never_reads_keeps_memory_bounded() {
    let (peak, sent) = flood(masked_frame(0x9, &[0x55; 125])).await;
    println!(
        "REPORT ping flood: {} MiB of PINGs sent, heap peak +{} KiB",
        sent >> 20,
        peak >> 10
    );
    assert!(peak < BOUND, "the heap grew by {peak} bytes during the flood");
    // Once more than max_pending_output bytes of answers wait, the server
    // stops reading: TCP flow control holds the attacker back.
    assert!(sent < FLOOD, "the server read all {sent} bytes of PINGs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_empty_messages_from_a_peer_that_never_reads_keeps_memory_bounded() {
    // The echo server answers each empty message with one of its own: the
    // answers wait for a peer that does not read, so the server stops
    // receiving, and the queue of deliveries stays within the receive buffer.
    let (peak, sent) = flood(masked_frame(0x1, b"")).await;
    println!(
        "REPORT empty-message flood: {} MiB sent before the server stopped reading, heap peak +{} KiB",
        sent >> 20,
        peak >> 10
    );
    assert!(peak < BOUND, "the heap grew by {peak} bytes during the flood");
}
