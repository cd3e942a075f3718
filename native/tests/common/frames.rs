//! Frame builders on the core's own header encoder, and frame readers, for
//! tests that play a raw peer.

use sockweave::core::frame::{FrameHeader, OpCode};
use tokio::io::{AsyncRead, AsyncReadExt};

/// The masking key of every client frame built here.
pub const MASK: [u8; 4] = [9, 8, 7, 6];

/// One frame: `opcode` is the wire value (reserved values are allowed, to
/// test their refusal), `mask` present for client-to-server frames.
pub fn frame(opcode: u8, fin: bool, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
    let header = FrameHeader {
        fin,
        rsv: 0,
        // Reserved opcodes are patched in below: FrameHeader holds only valid ones.
        opcode: OpCode::from_u8(opcode).unwrap_or(OpCode::Binary),
        mask,
        payload_len: payload.len() as u64,
    };
    let (h, n) = header.encode();
    let mut f = h[..n].to_vec();
    f[0] = (f[0] & 0xF0) | (opcode & 0x0F);
    match mask {
        Some(key) => f.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4])),
        None => f.extend_from_slice(payload),
    }
    f
}

/// A masked (client-to-server) single-frame message of any length.
pub fn masked_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    frame(opcode, true, payload, Some(MASK))
}

/// An unmasked (server-to-client) single-frame message of any length.
pub fn server_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    frame(opcode, true, payload, None)
}

/// An unmasked (server-to-client) text message.
pub fn text_frame(s: &str) -> Vec<u8> {
    server_frame(0x1, s.as_bytes())
}

/// The header alone of an unmasked binary frame announcing `len` bytes
/// (any 64-bit value, to test impossible lengths).
pub fn announce(len: u64) -> Vec<u8> {
    let mut f = vec![0x82, 127];
    f.extend_from_slice(&len.to_be_bytes());
    f
}

/// Reads one unmasked (server-to-client) frame: its first byte and payload.
pub async fn read_frame<R: AsyncRead + Unpin>(r: &mut R) -> std::io::Result<(u8, Vec<u8>)> {
    let mut h = [0u8; 2];
    r.read_exact(&mut h).await?;
    assert_eq!(h[1] & 0x80, 0, "a server frame is masked");
    let len = match h[1] & 0x7f {
        126 => u64::from(r.read_u16().await?),
        127 => r.read_u64().await?,
        n => u64::from(n),
    };
    let mut payload = vec![0u8; len as usize];
    r.read_exact(&mut payload).await?;
    Ok((h[0], payload))
}

/// Reads one masked (client-to-server) frame: its first byte and unmasked payload.
pub async fn read_masked_frame<R: AsyncRead + Unpin>(r: &mut R) -> std::io::Result<(u8, Vec<u8>)> {
    let mut h = [0u8; 2];
    r.read_exact(&mut h).await?;
    assert_ne!(h[1] & 0x80, 0, "a client frame is not masked");
    let len = match h[1] & 0x7f {
        126 => u64::from(r.read_u16().await?),
        127 => r.read_u64().await?,
        n => u64::from(n),
    };
    let mut key = [0u8; 4];
    r.read_exact(&mut key).await?;
    let mut payload = vec![0u8; len as usize];
    r.read_exact(&mut payload).await?;
    for (i, b) in payload.iter_mut().enumerate() {
        *b ^= key[i % 4];
    }
    Ok((h[0], payload))
}
