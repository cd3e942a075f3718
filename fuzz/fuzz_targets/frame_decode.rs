//! `FrameHeader::decode` on arbitrary bytes.
//!
//! Checks: the header length is within the input and 2..=14; every field agrees
//! with the bytes it came from; a header sent with the minimal length encoding
//! re-encodes to exactly the same bytes; any header re-encodes to bytes that
//! decode to the same header; every shorter prefix of a decodable header is
//! "incomplete", never an error or a different header.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sockweave_core::frame::{FrameHeader, HeaderError, OpCode, MAX_CONTROL_PAYLOAD, MAX_HEADER_LEN};

fuzz_target!(|data: &[u8]| {
    let result = FrameHeader::decode(data);
    match result {
        Ok(Some((h, n))) => {
            assert!(n <= data.len(), "header length {n} > input length {}", data.len());
            assert!((2..=MAX_HEADER_LEN).contains(&n), "header length {n}");
            let (b0, b1) = (data[0], data[1]);
            assert_eq!(h.fin, b0 & 0x80 != 0);
            assert_eq!(h.rsv, (b0 >> 4) & 0b111);
            assert_eq!(h.opcode as u8, b0 & 0x0F);
            assert_eq!(h.mask.is_some(), b1 & 0x80 != 0);
            let len7 = b1 & 0x7F;
            let ext = match len7 {
                126 => 2,
                127 => 8,
                _ => 0,
            };
            let expected_n = 2 + ext + if h.mask.is_some() { 4 } else { 0 };
            assert_eq!(n, expected_n, "header length for {:02x?}", &data[..n]);
            if let Some(key) = h.mask {
                assert_eq!(key[..], data[n - 4..n]);
            }
            assert!(h.payload_len >> 63 == 0, "length with the top bit set");
            if h.opcode.is_control() {
                assert!(h.fin, "fragmented control frame accepted");
                assert!(h.payload_len <= MAX_CONTROL_PAYLOAD as u64);
            }
            assert!(OpCode::from_u8(h.opcode as u8) == Some(h.opcode));

            // The encoder always writes the minimal length encoding.
            let minimal = match len7 {
                126 => h.payload_len >= 126,
                127 => h.payload_len > 0xFFFF,
                _ => true,
            };
            let (buf, m) = h.encode();
            assert_eq!(m, h.encoded_len());
            assert!(m <= MAX_HEADER_LEN);
            if minimal {
                assert_eq!(&buf[..m], &data[..n], "minimal header did not round-trip");
            } else {
                assert!(m < n, "re-encoding a non-minimal header did not shrink it");
            }
            assert_eq!(FrameHeader::decode(&buf[..m]), Ok(Some((h, m))));
            // Trailing bytes (the payload) never change the header.
            let mut longer = buf[..m].to_vec();
            longer.extend_from_slice(&data[n..]);
            assert_eq!(FrameHeader::decode(&longer), Ok(Some((h, m))));
            // Every prefix is incomplete, never an error.
            for cut in 0..n {
                assert_eq!(
                    FrameHeader::decode(&data[..cut]),
                    Ok(None),
                    "prefix of {cut} bytes of {:02x?}",
                    &data[..n]
                );
            }
        }
        Ok(None) => {
            // Incomplete is only possible while the longest header is not there yet.
            assert!(
                data.len() < MAX_HEADER_LEN,
                "{} bytes reported incomplete",
                data.len()
            );
            // Once the first two bytes are there, the rules that need only them
            // were checked: more bytes can only reveal an oversized 64-bit length.
            let mut padded = data.to_vec();
            padded.resize(MAX_HEADER_LEN, 0);
            if data.len() < 2 {
                // Nothing was checked yet.
            } else if let Err(e) = FrameHeader::decode(&padded) {
                assert_eq!(
                    e,
                    HeaderError::LengthOverflow,
                    "incomplete {data:02x?} becomes {e:?} once zero-padded"
                );
            }
        }
        Err(e) => {
            assert!(data.len() >= 2);
            let _ = e.to_string();
            // The error depends only on the header bytes: a 14-byte window decides it.
            let window = &data[..data.len().min(MAX_HEADER_LEN)];
            assert_eq!(FrameHeader::decode(window), Err(e));
        }
    }
});
