//! RFC 6455 section 5.2: the frame header, its encoding and decoding.
//!
//! The header parser is deliberately small and total: it never reads past the
//! slice it is given, never allocates and never panics. Rules that depend on the
//! connection (which side must mask, whether RSV1 means "compressed", size
//! limits, fragmentation order) belong to the session, not to this module.

use core::fmt;

/// The largest possible frame header: 2 bytes, 8 bytes of extended length, 4 bytes of mask.
pub const MAX_HEADER_LEN: usize = 14;

/// Control frames carry at most this many payload bytes (RFC 6455 section 5.5).
pub const MAX_CONTROL_PAYLOAD: usize = 125;

/// A frame opcode (RFC 6455 section 5.2). Reserved opcodes are rejected while parsing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum OpCode {
    /// 0x0: a further fragment of the message begun by a `Text` or `Binary`
    /// frame with FIN clear (section 5.4).
    Continuation = 0x0,
    /// 0x1: the first frame of a text message (UTF-8, section 5.6).
    Text = 0x1,
    /// 0x2: the first frame of a binary message (section 5.6).
    Binary = 0x2,
    /// 0x8: a control frame starting or answering the close handshake; its
    /// payload is an optional status code and reason (section 5.5.1).
    Close = 0x8,
    /// 0x9: a control frame the peer must answer with a `Pong` carrying the
    /// same payload (section 5.5.2).
    Ping = 0x9,
    /// 0xA: the answer to a `Ping`, or an unsolicited heartbeat (section 5.5.3).
    Pong = 0xA,
}

impl OpCode {
    /// Maps the 4-bit wire value to an opcode; `None` for the reserved values 3-7 and B-F.
    pub const fn from_u8(v: u8) -> Option<OpCode> {
        Some(match v {
            0x0 => OpCode::Continuation,
            0x1 => OpCode::Text,
            0x2 => OpCode::Binary,
            0x8 => OpCode::Close,
            0x9 => OpCode::Ping,
            0xA => OpCode::Pong,
            _ => return None,
        })
    }

    /// Close, Ping and Pong are control frames: never fragmented, at most 125 bytes.
    pub const fn is_control(self) -> bool {
        (self as u8) & 0x8 != 0
    }
}

/// The fixed part of a frame: everything before the payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    /// FIN: this frame ends its message.
    pub fin: bool,
    /// RSV1..RSV3 as the low three bits (RSV1 = 0b100).
    pub rsv: u8,
    /// What the frame carries (a data fragment or a control frame).
    pub opcode: OpCode,
    /// The masking key, present on every client-to-server frame.
    pub mask: Option<[u8; 4]>,
    /// Payload bytes following the header, 0..=2^63-1 (at most 125 for
    /// control frames). A decoded value is what the peer announced: check it
    /// against your limits before allocating for it.
    pub payload_len: u64,
}

/// RSV1, used by permessage-deflate to mark a compressed message.
pub const RSV1: u8 = 0b100;

/// Why a header could not be decoded. Every variant fails the connection with 1002.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderError {
    /// Opcodes 3-7 and B-F are reserved.
    ReservedOpcode(u8),
    /// A control frame with FIN clear.
    FragmentedControl,
    /// A control frame longer than 125 bytes.
    ControlTooLong(u64),
    /// A 64-bit length with its most significant bit set.
    LengthOverflow,
}

impl fmt::Display for HeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeaderError::ReservedOpcode(op) => write!(f, "frame uses reserved opcode 0x{op:X}"),
            HeaderError::FragmentedControl => f.write_str("control frame is fragmented (FIN clear)"),
            HeaderError::ControlTooLong(n) => {
                write!(f, "control frame payload is {n} bytes, the limit is 125")
            }
            HeaderError::LengthOverflow => {
                f.write_str("64-bit payload length has its most significant bit set")
            }
        }
    }
}

impl FrameHeader {
    /// A header for an unfragmented, uncompressed frame.
    pub const fn new(opcode: OpCode, payload_len: u64, mask: Option<[u8; 4]>) -> Self {
        FrameHeader {
            fin: true,
            rsv: 0,
            opcode,
            mask,
            payload_len,
        }
    }

    /// Decodes a header from the start of `buf`.
    ///
    /// Returns `Ok(None)` when `buf` does not yet hold the whole header, and
    /// `Ok(Some((header, header_len)))` once it does.
    ///
    /// ```
    /// use sockweave_core::frame::{FrameHeader, OpCode};
    ///
    /// // A masked text frame of 5 bytes, as a client sends "Hello" (RFC 6455 section 5.7).
    /// let wire = [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58];
    /// assert_eq!(FrameHeader::decode(&wire[..1]), Ok(None)); // not enough bytes yet
    /// let (header, used) = FrameHeader::decode(&wire).unwrap().unwrap();
    /// assert_eq!(used, 6);
    /// assert!(header.fin);
    /// assert_eq!(header.opcode, OpCode::Text);
    /// assert_eq!(header.mask, Some([0x37, 0xfa, 0x21, 0x3d]));
    /// assert_eq!(header.payload_len, 5);
    /// ```
    pub fn decode(buf: &[u8]) -> Result<Option<(FrameHeader, usize)>, HeaderError> {
        let (b0, b1) = match buf {
            [b0, b1, ..] => (*b0, *b1),
            _ => return Ok(None),
        };
        let fin = b0 & 0x80 != 0;
        let rsv = (b0 >> 4) & 0b111;
        let opcode = OpCode::from_u8(b0 & 0x0F).ok_or(HeaderError::ReservedOpcode(b0 & 0x0F))?;
        let masked = b1 & 0x80 != 0;
        let len7 = b1 & 0x7F;
        if opcode.is_control() {
            if !fin {
                return Err(HeaderError::FragmentedControl);
            }
            if len7 > 125 {
                // The real length is not needed to know this frame is invalid.
                return Err(HeaderError::ControlTooLong(u64::from(len7)));
            }
        }
        let (payload_len, mut pos) = match len7 {
            126 => match buf.get(2..4) {
                Some(b) => (u64::from(u16::from_be_bytes([b[0], b[1]])), 4),
                None => return Ok(None),
            },
            127 => match buf.get(2..10) {
                Some(b) => {
                    let mut a = [0u8; 8];
                    a.copy_from_slice(b);
                    let len = u64::from_be_bytes(a);
                    if len >> 63 != 0 {
                        return Err(HeaderError::LengthOverflow);
                    }
                    (len, 10)
                }
                None => return Ok(None),
            },
            n => (u64::from(n), 2),
        };
        let mask = if masked {
            match buf.get(pos..pos + 4) {
                Some(b) => {
                    pos += 4;
                    Some([b[0], b[1], b[2], b[3]])
                }
                None => return Ok(None),
            }
        } else {
            None
        };
        Ok(Some((
            FrameHeader {
                fin,
                rsv,
                opcode,
                mask,
                payload_len,
            },
            pos,
        )))
    }

    /// The number of bytes [`encode`](Self::encode) writes for this header.
    pub const fn encoded_len(&self) -> usize {
        let len = if self.payload_len < 126 {
            2
        } else if self.payload_len <= 0xFFFF {
            4
        } else {
            10
        };
        if self.mask.is_some() {
            len + 4
        } else {
            len
        }
    }

    /// Encodes the header with the minimal length encoding RFC 6455 requires.
    /// Returns the buffer and the number of bytes used at its start.
    ///
    /// ```
    /// use sockweave_core::frame::{FrameHeader, OpCode};
    ///
    /// // An unmasked binary frame of 256 bytes, as a server sends it:
    /// // 2 bytes, then the 16-bit extended length.
    /// let header = FrameHeader::new(OpCode::Binary, 256, None);
    /// let (buf, n) = header.encode();
    /// assert_eq!(&buf[..n], &[0x82, 126, 0x01, 0x00]);
    /// assert_eq!(n, header.encoded_len());
    /// ```
    pub fn encode(&self) -> ([u8; MAX_HEADER_LEN], usize) {
        let mut out = [0u8; MAX_HEADER_LEN];
        out[0] = (u8::from(self.fin) << 7) | ((self.rsv & 0b111) << 4) | self.opcode as u8;
        let mask_bit = if self.mask.is_some() { 0x80 } else { 0 };
        let mut pos = if self.payload_len < 126 {
            out[1] = mask_bit | self.payload_len as u8;
            2
        } else if self.payload_len <= 0xFFFF {
            out[1] = mask_bit | 126;
            out[2..4].copy_from_slice(&(self.payload_len as u16).to_be_bytes());
            4
        } else {
            out[1] = mask_bit | 127;
            out[2..10].copy_from_slice(&self.payload_len.to_be_bytes());
            10
        };
        if let Some(key) = self.mask {
            out[pos..pos + 4].copy_from_slice(&key);
            pos += 4;
        }
        (out, pos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_length_encoding_round_trips() {
        for len in [0u64, 1, 125, 126, 127, 0xFFFF, 0x1_0000, 1 << 40, (1 << 63) - 1] {
            for mask in [None, Some([1, 2, 3, 4])] {
                let h = FrameHeader::new(OpCode::Binary, len, mask);
                let (buf, n) = h.encode();
                assert_eq!(n, h.encoded_len());
                assert_eq!(FrameHeader::decode(&buf[..n]), Ok(Some((h, n))));
                for cut in 0..n {
                    assert_eq!(FrameHeader::decode(&buf[..cut]), Ok(None), "len {len} cut {cut}");
                }
            }
        }
    }

    #[test]
    fn control_rules_are_checked_before_the_extended_length() {
        assert_eq!(
            FrameHeader::decode(&[0x89, 126]),
            Err(HeaderError::ControlTooLong(126))
        );
        assert_eq!(
            FrameHeader::decode(&[0x09, 0]),
            Err(HeaderError::FragmentedControl)
        );
        assert_eq!(
            FrameHeader::decode(&[0x83, 0]),
            Err(HeaderError::ReservedOpcode(3))
        );
    }
}
