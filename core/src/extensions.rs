//! The `Sec-WebSocket-Extensions` header (RFC 6455 section 9.1).
//!
//! ```text
//! extension-list = 1#extension
//! extension      = token *( OWS ";" OWS param )
//! param          = token [ "=" ( token / quoted-string ) ]
//! ```
//! A quoted value must itself be a token once unquoted (section 9.1).

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;

use crate::error::{Error, ErrorKind};

/// One extension with its parameters, in the order they were written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Extension {
    /// The extension token, e.g. `permessage-deflate`.
    pub name: String,
    /// Its parameters in written order: name, and the value if one was given
    /// (unquoted), e.g. `("client_max_window_bits", Some("10"))`.
    pub params: Vec<(String, Option<String>)>,
}

impl Extension {
    /// An extension named `name` with no parameters.
    pub fn new(name: &str) -> Self {
        Extension {
            name: String::from(name),
            params: Vec::new(),
        }
    }

    /// The value of a parameter: `None` if absent, `Some(None)` if present without a value.
    pub fn param(&self, name: &str) -> Option<Option<&str>> {
        self.params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_deref())
    }
}

pub(crate) fn is_tchar(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c)
}

pub(crate) fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_tchar)
}

fn bad(value: &str, why: &str) -> Error {
    let mut msg = String::new();
    let _ = write!(msg, "malformed Sec-WebSocket-Extensions header {value:?}: {why}");
    Error::new(ErrorKind::HeaderError, msg)
}

struct Cursor<'a> {
    s: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn skip_ows(&mut self) {
        while matches!(self.s.get(self.pos), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
    }
    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }
    fn token(&mut self) -> Option<String> {
        let start = self.pos;
        while self.peek().is_some_and(is_tchar) {
            self.pos += 1;
        }
        (self.pos > start).then(|| String::from_utf8_lossy(&self.s[start..self.pos]).into_owned())
    }
    fn quoted(&mut self) -> Option<String> {
        // Caller saw the opening quote.
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            match self.peek()? {
                b'"' => {
                    self.pos += 1;
                    return String::from_utf8(out).ok();
                }
                b'\\' => {
                    self.pos += 1;
                    out.push(self.peek()?);
                    self.pos += 1;
                }
                c => {
                    out.push(c);
                    self.pos += 1;
                }
            }
        }
    }
}

/// Parses one or more header values (several header lines are joined with ",").
pub fn parse_extensions(value: &str) -> Result<Vec<Extension>, Error> {
    let mut out = Vec::new();
    let mut c = Cursor {
        s: value.as_bytes(),
        pos: 0,
    };
    loop {
        c.skip_ows();
        // Empty list elements (",,") are allowed by the # rule.
        if c.peek() == Some(b',') {
            c.pos += 1;
            continue;
        }
        if c.peek().is_none() {
            break;
        }
        let name = c
            .token()
            .ok_or_else(|| bad(value, "expected an extension name"))?;
        let mut ext = Extension {
            name,
            params: Vec::new(),
        };
        loop {
            c.skip_ows();
            match c.peek() {
                None | Some(b',') => break,
                Some(b';') => {
                    c.pos += 1;
                    c.skip_ows();
                    let key = c
                        .token()
                        .ok_or_else(|| bad(value, "expected a parameter name after ';'"))?;
                    c.skip_ows();
                    let val = if c.peek() == Some(b'=') {
                        c.pos += 1;
                        c.skip_ows();
                        let v = if c.peek() == Some(b'"') {
                            let v = c
                                .quoted()
                                .ok_or_else(|| bad(value, "unterminated quoted parameter value"))?;
                            if !is_token(&v) {
                                return Err(bad(value, "a quoted parameter value must be a token"));
                            }
                            v
                        } else {
                            c.token()
                                .ok_or_else(|| bad(value, "expected a parameter value after '='"))?
                        };
                        Some(v)
                    } else {
                        None
                    };
                    ext.params.push((key, val));
                }
                Some(_) => return Err(bad(value, "unexpected character")),
            }
        }
        out.push(ext);
    }
    Ok(out)
}

/// Writes extensions in header form: `a; x=1; y, b`.
pub fn format_extensions(exts: &[Extension]) -> String {
    let mut s = String::new();
    for (i, e) in exts.iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        s.push_str(&e.name);
        for (k, v) in &e.params {
            s.push_str("; ");
            s.push_str(k);
            if let Some(v) = v {
                s.push('=');
                s.push_str(v);
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_offers_with_alternatives() {
        let v = parse_extensions(
            "permessage-deflate; client_max_window_bits; server_max_window_bits=\"10\", permessage-deflate",
        )
        .unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].param("client_max_window_bits"), Some(None));
        assert_eq!(v[0].param("server_max_window_bits"), Some(Some("10")));
        assert_eq!(v[0].param("absent"), None);
        assert!(v[1].params.is_empty());
        assert_eq!(parse_extensions(format_extensions(&v).as_str()).unwrap(), v);
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "a;",
            "a; =1",
            "a; b=",
            "a; b=\"x",
            "a b",
            "a; b=\"x y\"",
            ";a",
            "a; b=@",
        ] {
            assert!(parse_extensions(bad).is_err(), "{bad}");
        }
        assert!(parse_extensions("").unwrap().is_empty());
    }
}
