//! Close status codes (RFC 6455 section 7.4) and the close frame payload.

use alloc::string::String;

/// A close status code, with names for the ones RFC 6455 and IANA define
/// (the same set as .NET's `WebSocketCloseStatus`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CloseCode(pub u16);

impl CloseCode {
    /// 1000: the purpose of the connection was fulfilled (RFC 6455 section 7.4.1);
    /// .NET's ClientWebSocket calls it `NormalClosure`.
    pub const NORMAL: CloseCode = CloseCode(1000);
    /// 1001: the endpoint is going away (a server shutting down, a browser
    /// leaving the page); .NET's ClientWebSocket calls it `EndpointUnavailable`.
    pub const GOING_AWAY: CloseCode = CloseCode(1001);
    /// 1002: the peer broke the protocol (bad framing, bad masking, a bad close
    /// payload); .NET's ClientWebSocket calls it `ProtocolError`.
    pub const PROTOCOL_ERROR: CloseCode = CloseCode(1002);
    /// 1003: a message of a type the endpoint cannot accept (e.g. binary where
    /// only text is understood); .NET's ClientWebSocket calls it `InvalidMessageType`.
    pub const UNSUPPORTED_DATA: CloseCode = CloseCode(1003);
    /// Reported locally when a close frame carried no status; never sent.
    pub const NO_STATUS: CloseCode = CloseCode(1005);
    /// Reported locally when the connection ended without a close frame; never sent.
    pub const ABNORMAL: CloseCode = CloseCode(1006);
    /// 1007: a message's data is inconsistent with its type, e.g. a text
    /// message that is not UTF-8 or a compressed message that does not inflate;
    /// .NET's ClientWebSocket calls it `InvalidPayloadData`.
    pub const INVALID_PAYLOAD: CloseCode = CloseCode(1007);
    /// 1008: a message violates the endpoint's policy (a generic refusal when
    /// no other code fits); .NET's ClientWebSocket calls it `PolicyViolation`.
    pub const POLICY_VIOLATION: CloseCode = CloseCode(1008);
    /// 1009: a message or frame is larger than the endpoint accepts (here:
    /// `max_message_size` / `max_frame_size` of [`Options`](crate::options::Options));
    /// .NET's ClientWebSocket calls it `MessageTooBig`.
    pub const MESSAGE_TOO_BIG: CloseCode = CloseCode(1009);
    /// 1010: sent by a client whose required extension the server did not
    /// accept in the handshake; .NET's ClientWebSocket calls it `MandatoryExtension`.
    pub const MANDATORY_EXTENSION: CloseCode = CloseCode(1010);
    /// 1011: the endpoint hit an unexpected condition that kept it from
    /// fulfilling the request; .NET's ClientWebSocket calls it `InternalServerError`.
    pub const INTERNAL_ERROR: CloseCode = CloseCode(1011);

    /// Whether the code may appear in a close frame on the wire.
    ///
    /// 1000-1003 and 1007-1011 are defined by RFC 6455; 1012-1014 were
    /// registered with IANA later and are sent by real servers; 3000-4999 are
    /// for libraries, frameworks and applications. Everything else (0-999,
    /// 1004-1006, 1015, 1016-2999, 5000+) is reserved or local-only.
    pub const fn is_valid_on_wire(self) -> bool {
        matches!(self.0, 1000..=1003 | 1007..=1014 | 3000..=4999)
    }
}

impl From<u16> for CloseCode {
    fn from(v: u16) -> Self {
        CloseCode(v)
    }
}

/// The longest close reason: 125 payload bytes minus the 2-byte code.
pub const MAX_REASON_LEN: usize = 123;

/// A close frame's content, as received or to be sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CloseFrame {
    /// `None` when the frame had an empty payload (reported as 1005 by .NET).
    pub code: Option<CloseCode>,
    /// The reason text: UTF-8, at most [`MAX_REASON_LEN`] (123) bytes; empty
    /// when none was given.
    pub reason: String,
}

/// Why a received close payload is invalid, with the code to fail with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClosePayloadError {
    /// A one-byte payload cannot hold a status code (1002).
    Truncated,
    /// The status code is reserved or undefined (1002).
    InvalidCode(u16),
    /// The reason is not UTF-8 (1007).
    InvalidReason,
}

/// Parses a received close payload.
pub fn parse_close_payload(payload: &[u8]) -> Result<CloseFrame, ClosePayloadError> {
    match payload {
        [] => Ok(CloseFrame {
            code: None,
            reason: String::new(),
        }),
        [_] => Err(ClosePayloadError::Truncated),
        [hi, lo, reason @ ..] => {
            let code = CloseCode(u16::from_be_bytes([*hi, *lo]));
            if !code.is_valid_on_wire() {
                return Err(ClosePayloadError::InvalidCode(code.0));
            }
            let reason = core::str::from_utf8(reason).map_err(|_| ClosePayloadError::InvalidReason)?;
            Ok(CloseFrame {
                code: Some(code),
                reason: String::from(reason),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes() {
        for ok in [1000, 1003, 1007, 1011, 1012, 1014, 3000, 4999] {
            assert!(CloseCode(ok).is_valid_on_wire(), "{ok}");
        }
        for bad in [
            0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535,
        ] {
            assert!(!CloseCode(bad).is_valid_on_wire(), "{bad}");
        }
    }

    #[test]
    fn payloads() {
        assert_eq!(parse_close_payload(&[3]), Err(ClosePayloadError::Truncated));
        assert_eq!(
            parse_close_payload(&[0x03, 0xE8, 0xff]),
            Err(ClosePayloadError::InvalidReason)
        );
        let f = parse_close_payload(&[0x03, 0xE8, b'b', b'y', b'e']).unwrap();
        assert_eq!(f.code, Some(CloseCode::NORMAL));
        assert_eq!(f.reason, "bye");
    }
}
