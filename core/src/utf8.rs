//! Incremental UTF-8 validation for text messages that arrive in pieces.
//!
//! `simdutf8` validates each piece; a code point split across pieces is carried
//! in a 3-byte stash. Invalid input is reported as soon as it can be known
//! (a bad lead byte or a bad second byte fails at once, not at the end of the
//! message), which is what "fail fast" in Autobahn section 6 checks.

/// State of a text message being validated piece by piece.
#[derive(Clone, Debug, Default)]
pub struct Utf8Validator {
    stash: [u8; 4],
    stash_len: u8,
}

/// The text is not valid UTF-8 (close code 1007).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvalidUtf8;

impl Utf8Validator {
    /// A validator at the start of a message (the same as `Default`).
    pub const fn new() -> Self {
        Utf8Validator {
            stash: [0; 4],
            stash_len: 0,
        }
    }

    /// True while a code point is split across the end of the data seen so far.
    pub fn is_incomplete(&self) -> bool {
        self.stash_len != 0
    }

    /// Validates the next piece of the message.
    pub fn feed(&mut self, mut data: &[u8]) -> Result<(), InvalidUtf8> {
        if self.stash_len != 0 {
            let have = usize::from(self.stash_len);
            let need = sequence_len(self.stash[0]).ok_or(InvalidUtf8)?;
            let take = (need - have).min(data.len());
            self.stash[have..have + take].copy_from_slice(&data[..take]);
            let now = have + take;
            data = &data[take..];
            match simdutf8::compat::from_utf8(&self.stash[..now]) {
                Ok(_) => self.stash_len = 0,
                Err(e) if e.error_len().is_none() => {
                    // Still a valid prefix; `data` is used up.
                    self.stash_len = now as u8;
                    return Ok(());
                }
                Err(_) => return Err(InvalidUtf8),
            }
        }
        if simdutf8::basic::from_utf8(data).is_ok() {
            return Ok(());
        }
        match simdutf8::compat::from_utf8(data) {
            Ok(_) => Ok(()),
            Err(e) if e.error_len().is_none() => {
                let tail = &data[e.valid_up_to()..];
                self.stash[..tail.len()].copy_from_slice(tail);
                self.stash_len = tail.len() as u8;
                Ok(())
            }
            Err(_) => Err(InvalidUtf8),
        }
    }

    /// Called at the end of the message: a code point still open is an error.
    pub fn finish(&mut self) -> Result<(), InvalidUtf8> {
        let incomplete = self.stash_len != 0;
        self.stash_len = 0;
        if incomplete {
            Err(InvalidUtf8)
        } else {
            Ok(())
        }
    }
}

/// Length of the sequence a lead byte starts, `None` if it cannot start one.
fn sequence_len(lead: u8) -> Option<usize> {
    match lead {
        0x00..=0x7F => Some(1),
        0xC2..=0xDF => Some(2),
        0xE0..=0xEF => Some(3),
        0xF0..=0xF4 => Some(4),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split_everywhere(bytes: &[u8]) -> bool {
        let whole = core::str::from_utf8(bytes).is_ok();
        for a in 0..=bytes.len() {
            for b in a..=bytes.len() {
                let mut v = Utf8Validator::new();
                let r = v
                    .feed(&bytes[..a])
                    .and_then(|_| v.feed(&bytes[a..b]))
                    .and_then(|_| v.feed(&bytes[b..]))
                    .and_then(|_| v.finish());
                assert_eq!(r.is_ok(), whole, "{bytes:x?} split at {a},{b}");
            }
        }
        whole
    }

    #[test]
    fn agrees_with_core_for_every_split() {
        assert!(split_everywhere("κόσμε €𝄞 ok".as_bytes()));
        assert!(!split_everywhere(
            b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited"
        ));
        assert!(!split_everywhere(b"ab\xf4\x90\x80\x80"));
        assert!(!split_everywhere(b"\xc0\xaf"));
        assert!(!split_everywhere(b"abc\xe2\x82"));
    }

    #[test]
    fn fails_fast_on_a_bad_second_byte() {
        let mut v = Utf8Validator::new();
        assert_eq!(v.feed(b"ok\xf4"), Ok(()));
        assert_eq!(v.feed(b"\x90"), Err(InvalidUtf8));
    }
}
