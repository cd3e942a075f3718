//! Inflating received messages with `miniz_oxide`, whose streaming inflater
//! accepts any window up to 15 bits: whatever window the peer negotiated.

use alloc::boxed::Box;
use miniz_oxide::inflate::stream::{inflate, InflateState};
use miniz_oxide::{DataFormat, MZError, MZFlush, MZStatus};

/// The bytes RFC 7692 section 7.2.2 has a receiver append to every message.
pub const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// The received data is not a valid deflate stream (close code 1007).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvalidDeflate;

/// Raw-deflate decompressor for one direction; its state (about 43 KB with
/// the 32 KiB window) is allocated on the first compressed message.
#[derive(Default)]
pub struct Decompressor {
    state: Option<Box<InflateState>>,
}

impl Decompressor {
    /// A decompressor with no state allocated yet (the same as `Default`).
    pub fn new() -> Self {
        Self::default()
    }

    /// Inflates from `input` into `out`: returns (bytes consumed, bytes written,
    /// whether the deflate stream has ended with a final block). Output that did
    /// not fit is kept and returned by the next call (with any input).
    pub fn decompress(
        &mut self,
        input: &[u8],
        out: &mut [u8],
    ) -> Result<(usize, usize, bool), InvalidDeflate> {
        let state = self
            .state
            .get_or_insert_with(|| InflateState::new_boxed(DataFormat::Raw));
        let r = inflate(state, input, out, MZFlush::None);
        match r.status {
            Ok(MZStatus::StreamEnd) => Ok((r.bytes_consumed, r.bytes_written, true)),
            Ok(_) | Err(MZError::Buf) => Ok((r.bytes_consumed, r.bytes_written, false)),
            Err(_) => Err(InvalidDeflate),
        }
    }

    /// Forgets the window (the peer does not take over context).
    pub fn reset(&mut self) {
        if let Some(s) = self.state.as_mut() {
            s.reset(DataFormat::Raw);
        }
    }

    /// Frees the state, e.g. while idle without context takeover.
    pub fn release(&mut self) {
        self.state = None;
    }
}
