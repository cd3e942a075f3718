//! Keep-alive on real TCP connections, with tokio's paused clock so the
//! timings are exact and the tests take no real time.

mod common;

use std::time::Duration;

use sockweave::core::frame::{FrameHeader, OpCode};
use sockweave::core::keepalive::PONG_TIMEOUT_MESSAGE;
use sockweave::core::session::{Role, Session, SessionConfig};
use sockweave::{ClientWebSocket, ErrorKind, MessageType, Millis, Options, SendFlags, State};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::time::Instant;

use common::servers::serve_one;
use common::{listen, raw_accept};

/// How a hand-driven peer treats our PINGs.
#[derive(Clone, Copy)]
enum Peer {
    /// Reads everything, never writes after the handshake.
    Silent,
    /// Answers every PING after this delay.
    AnswersAfter(Duration),
    /// Sends `count` messages of `size` bytes at once, then answers PINGs at once.
    Floods { count: usize, size: usize },
}

/// A server built from the core engine directly, so its timing is ours to choose.
async fn peer(listener: TcpListener, behaviour: Peer) {
    let (mut tcp, _) = listener.accept().await.unwrap();
    let response = raw_accept(&mut tcp).await;
    tcp.write_all(&response).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let mut session = Session::new(
        SessionConfig::for_stream(Role::Server, &Options::default()),
        [3; 32],
    );
    if let Peer::Floods { count, size } = behaviour {
        for i in 0..count {
            let data = vec![(i % 251) as u8; size];
            session
                .send(&data, MessageType::Binary, SendFlags::END_OF_MESSAGE)
                .unwrap();
        }
        // The write completes only as fast as the client reads (TCP flow control),
        // so it runs beside the reader.
        let out = session.pending_output().to_vec();
        session.consume_output(out.len());
        let (mut rd, mut wr) = tcp.into_split();
        let writer = tokio::spawn(async move {
            wr.write_all(&out).await.unwrap();
            wr
        });
        let mut sink = vec![0u8; 4096];
        // Keep reading (and dropping) what the client sends until it closes.
        while rd.read(&mut sink).await.map(|n| n > 0).unwrap_or(false) {}
        drop(writer);
        return;
    }
    loop {
        let n = match tcp.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        session.feed(&buf[..n]);
        let out = session.pending_output().to_vec();
        session.consume_output(out.len());
        match behaviour {
            Peer::Silent => {}
            Peer::AnswersAfter(d) => {
                if !out.is_empty() {
                    tokio::time::sleep(d).await;
                    if tcp.write_all(&out).await.is_err() {
                        return;
                    }
                }
            }
            Peer::Floods { .. } => unreachable!(),
        }
    }
}

async fn client(behaviour: Peer, interval: u64, timeout: u64) -> ClientWebSocket {
    let (listener, port) = listen().await;
    tokio::spawn(peer(listener, behaviour));
    let mut ws = ClientWebSocket::new();
    let o = &mut ws.options_mut().options;
    o.keep_alive_interval = Some(Millis::Finite(interval));
    o.keep_alive_timeout = Some(Millis::Finite(timeout));
    o.receive_buffer_size = 16 * 1024;
    ws.connect(&format!("ws://127.0.0.1:{port}/")).await.unwrap();
    ws
}

#[tokio::test(start_paused = true)]
async fn silent_peer_is_detected_within_interval_plus_timeout() {
    let ws = client(Peer::Silent, 1000, 500).await;
    let start = Instant::now();
    let mut buf = [0u8; 64];
    let err = ws.receive(&mut buf).await.unwrap_err();
    let took = start.elapsed();
    assert_eq!(err.kind(), ErrorKind::Faulted);
    assert_eq!(err.message(), PONG_TIMEOUT_MESSAGE);
    // Detected at interval + timeout on the paused clock (not earlier, not much later).
    assert!(took >= Duration::from_millis(1500), "{took:?}");
    assert!(took < Duration::from_millis(1600), "{took:?}");
    assert_eq!(ws.state(), State::Aborted);
    // Later operations fail with the same cause.
    let e = ws
        .send(b"x", MessageType::Text, SendFlags::END_OF_MESSAGE)
        .await
        .unwrap_err();
    assert_eq!(e.message(), PONG_TIMEOUT_MESSAGE);
}

#[tokio::test(start_paused = true)]
async fn late_but_timely_pongs_keep_the_connection() {
    let ws = client(Peer::AnswersAfter(Duration::from_millis(400)), 1000, 500).await;
    let mut buf = [0u8; 64];
    // Ten intervals with a receive pending: no abort.
    let r = tokio::time::timeout(Duration::from_secs(10), ws.receive(&mut buf)).await;
    assert!(r.is_err(), "receive ended: {:?}", r.unwrap());
    assert_eq!(ws.state(), State::Open);
}

#[tokio::test(start_paused = true)]
async fn no_receive_pending_for_five_timeouts_is_fine() {
    let ws = client(Peer::AnswersAfter(Duration::ZERO), 200, 300).await;
    // The application does nothing for 5 x timeout; the driver still reads PONGs.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(ws.state(), State::Open);
    ws.send(b"still here", MessageType::Text, SendFlags::END_OF_MESSAGE)
        .await
        .unwrap();
    assert_eq!(ws.state(), State::Open);
}

#[tokio::test(start_paused = true)]
async fn not_reading_while_the_peer_floods_is_not_silence() {
    // 4 MiB queued by the peer; our receive buffer is 16 KiB, so reading stalls.
    let ws = client(
        Peer::Floods {
            count: 64,
            size: 64 * 1024,
        },
        200,
        300,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(3000)).await;
    assert_eq!(ws.state(), State::Open, "aborted while our own buffer was full");
    let mut buf = vec![0u8; 64 * 1024];
    let mut messages = 0;
    while messages < 64 {
        let r = ws.receive(&mut buf).await.unwrap();
        assert!(buf[..r.count].iter().all(|&b| b == (messages % 251) as u8));
        if r.end_of_message {
            messages += 1;
        }
    }
    assert_eq!(ws.state(), State::Open);
}

#[tokio::test(start_paused = true)]
async fn unsolicited_pong_is_the_client_default() {
    // A raw peer that counts the frames it receives: with default options the
    // client sends an empty PONG every 30 s, and nothing else.
    let (port, counter) = serve_one(move |mut tcp| async move {
        let response = raw_accept(&mut tcp).await;
        tcp.write_all(&response).await.unwrap();
        let mut buf = vec![0u8; 4096];
        let mut wire = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(95);
        while let Ok(Ok(n)) = tokio::time::timeout_at(deadline, tcp.read(&mut buf)).await {
            if n == 0 {
                break;
            }
            wire.extend_from_slice(&buf[..n]);
        }
        let mut pongs = 0;
        let mut pos = 0;
        while let Ok(Some((h, n))) = FrameHeader::decode(&wire[pos..]) {
            assert_eq!(
                (h.opcode, h.payload_len),
                (OpCode::Pong, 0),
                "unexpected frame {h:?}"
            );
            pongs += 1;
            pos += n;
        }
        assert_eq!(pos, wire.len());
        pongs
    })
    .await;
    let mut ws = ClientWebSocket::new();
    ws.connect(&format!("ws://127.0.0.1:{port}/")).await.unwrap();
    assert_eq!(
        counter.await.unwrap(),
        3,
        "PONGs in 95 s at the default 30 s interval"
    );
    assert_eq!(ws.state(), State::Open);
}
