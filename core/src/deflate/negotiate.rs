//! permessage-deflate negotiation (RFC 7692 section 7.1): the client's offer,
//! the client's check of the server's answer, and the server's choice among
//! the client's offers.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::error::{Error, ErrorKind};
use crate::handshake::Extension;
use crate::options::DeflateOptions;

/// The extension token.
pub const PERMESSAGE_DEFLATE: &str = "permessage-deflate";

/// What both sides agreed on, in RFC 7692's terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DeflateParams {
    /// Largest LZ77 window the server compresses with.
    pub server_max_window_bits: u8,
    /// Largest LZ77 window the client compresses with.
    pub client_max_window_bits: u8,
    /// The server resets its compression context after every message.
    pub server_no_context_takeover: bool,
    /// The client resets its compression context after every message.
    pub client_no_context_takeover: bool,
}

fn handshake_error(message: String) -> Error {
    Error::new(ErrorKind::HeaderError, message)
}

/// A parameter's window bits: a decimal 8..=15 without leading zeros.
fn window_bits(value: &str) -> Option<u8> {
    if value.len() > 2 || value.starts_with('0') {
        return None;
    }
    value.parse().ok().filter(|b| (8..=15).contains(b))
}

/// The offer a client sends for its options (the same one .NET sends:
/// `client_max_window_bits` always, valueless at 15, so the server may lower it).
pub fn client_offer(o: &DeflateOptions) -> Extension {
    let mut e = Extension::new(PERMESSAGE_DEFLATE);
    let mut push = |k: &str, v: Option<u8>| e.params.push((String::from(k), v.map(|v| format!("{v}"))));
    if o.client_max_window_bits == 15 {
        push("client_max_window_bits", None);
    } else {
        push("client_max_window_bits", Some(o.client_max_window_bits));
    }
    if !o.client_context_takeover {
        push("client_no_context_takeover", None);
    }
    if o.server_max_window_bits != 15 {
        push("server_max_window_bits", Some(o.server_max_window_bits));
    }
    if !o.server_context_takeover {
        push("server_no_context_takeover", None);
    }
    e
}

/// Checks the server's answer to [`client_offer`]. Anything the offer did not
/// allow (a larger window, an unknown or repeated parameter, a missing
/// `server_no_context_takeover` we asked for) fails the handshake.
pub fn client_accept(o: &DeflateOptions, response: &Extension) -> Result<DeflateParams, Error> {
    let mut p = DeflateParams {
        server_max_window_bits: o.server_max_window_bits,
        client_max_window_bits: o.client_max_window_bits,
        server_no_context_takeover: false,
        client_no_context_takeover: !o.client_context_takeover,
    };
    let mut seen: Vec<&str> = Vec::new();
    for (k, v) in &response.params {
        let key = k.as_str();
        if seen.iter().any(|s| s.eq_ignore_ascii_case(key)) {
            return Err(handshake_error(format!(
                "the server's permessage-deflate response repeats the parameter {key}"
            )));
        }
        seen.push(key);
        let bits = |v: &Option<String>| {
            v.as_deref().and_then(window_bits).ok_or_else(|| {
                handshake_error(format!(
                    "the server's permessage-deflate response has {key}={v:?}; it must be 8..15"
                ))
            })
        };
        match key.to_ascii_lowercase().as_str() {
            "server_max_window_bits" => {
                let b = bits(v)?;
                if b > o.server_max_window_bits {
                    return Err(handshake_error(format!(
                        "the server chose server_max_window_bits={b}, above the {} we offered",
                        o.server_max_window_bits
                    )));
                }
                p.server_max_window_bits = b;
            }
            "client_max_window_bits" => {
                // Allowed because our offer always carries client_max_window_bits.
                let b = bits(v)?;
                p.client_max_window_bits = p.client_max_window_bits.min(b);
            }
            "server_no_context_takeover" | "client_no_context_takeover" if v.is_some() => {
                return Err(handshake_error(format!(
                    "the server's permessage-deflate parameter {key} must not have a value"
                )));
            }
            "server_no_context_takeover" => p.server_no_context_takeover = true,
            "client_no_context_takeover" => p.client_no_context_takeover = true,
            _ => {
                return Err(handshake_error(format!(
                    "the server's permessage-deflate response has the unknown parameter {key}"
                )))
            }
        }
    }
    if !o.server_context_takeover && !p.server_no_context_takeover {
        return Err(handshake_error(String::from(
            "we required server_no_context_takeover but the server's permessage-deflate response does not grant it",
        )));
    }
    Ok(p)
}

/// The server's choice: the first of the client's permessage-deflate offers it
/// can accept under `o`, with the response extension to send. `None` when no
/// offer is acceptable (the connection then runs uncompressed).
pub fn server_accept(o: &DeflateOptions, offers: &[Extension]) -> Option<(DeflateParams, Extension)> {
    offers
        .iter()
        .filter(|e| e.name.eq_ignore_ascii_case(PERMESSAGE_DEFLATE))
        .find_map(|offer| server_accept_one(o, offer))
}

fn server_accept_one(o: &DeflateOptions, offer: &Extension) -> Option<(DeflateParams, Extension)> {
    let mut p = DeflateParams {
        server_max_window_bits: o.server_max_window_bits,
        // Without client_max_window_bits in the offer the client may use any window.
        client_max_window_bits: 15,
        server_no_context_takeover: !o.server_context_takeover,
        client_no_context_takeover: !o.client_context_takeover,
    };
    let mut client_bits_allowed = false;
    let mut seen: Vec<&str> = Vec::new();
    for (k, v) in &offer.params {
        let key = k.as_str();
        if seen.iter().any(|s| s.eq_ignore_ascii_case(key)) {
            return None;
        }
        seen.push(key);
        match key.to_ascii_lowercase().as_str() {
            "server_max_window_bits" => {
                p.server_max_window_bits = p.server_max_window_bits.min(window_bits(v.as_deref()?)?);
            }
            "client_max_window_bits" => {
                client_bits_allowed = true;
                if let Some(v) = v {
                    p.client_max_window_bits = window_bits(v)?;
                }
            }
            "server_no_context_takeover" if v.is_none() => p.server_no_context_takeover = true,
            "client_no_context_takeover" if v.is_none() => p.client_no_context_takeover = true,
            // An unknown or malformed parameter makes this alternative unacceptable.
            _ => return None,
        }
    }
    if client_bits_allowed {
        p.client_max_window_bits = p.client_max_window_bits.min(o.client_max_window_bits);
    }
    let mut r = Extension::new(PERMESSAGE_DEFLATE);
    if p.server_no_context_takeover {
        r.params.push((String::from("server_no_context_takeover"), None));
    }
    if p.client_no_context_takeover {
        r.params.push((String::from("client_no_context_takeover"), None));
    }
    if p.server_max_window_bits < 15 {
        r.params.push((
            String::from("server_max_window_bits"),
            Some(format!("{}", p.server_max_window_bits)),
        ));
    }
    if client_bits_allowed && p.client_max_window_bits < 15 {
        r.params.push((
            String::from("client_max_window_bits"),
            Some(format!("{}", p.client_max_window_bits)),
        ));
    }
    Some((p, r))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handshake::{format_extensions, parse_extensions};

    fn opts(c: u8, s: u8, ct: bool, st: bool) -> DeflateOptions {
        DeflateOptions {
            client_max_window_bits: c,
            server_max_window_bits: s,
            client_context_takeover: ct,
            server_context_takeover: st,
        }
    }

    #[test]
    fn offer_matches_dotnet_form() {
        assert_eq!(
            format_extensions(&[client_offer(&DeflateOptions::default())]),
            "permessage-deflate; client_max_window_bits"
        );
        assert_eq!(
            format_extensions(&[client_offer(&opts(10, 12, false, false))]),
            "permessage-deflate; client_max_window_bits=10; client_no_context_takeover; \
             server_max_window_bits=12; server_no_context_takeover"
        );
    }

    #[test]
    fn client_checks_the_answer() {
        let o = opts(10, 12, true, false);
        let ok = &parse_extensions("permessage-deflate; server_no_context_takeover; server_max_window_bits=9; client_max_window_bits=9").unwrap()[0];
        assert_eq!(
            client_accept(&o, ok).unwrap(),
            DeflateParams {
                server_max_window_bits: 9,
                client_max_window_bits: 9,
                server_no_context_takeover: true,
                client_no_context_takeover: false
            }
        );
        for bad in [
            "permessage-deflate", // missing server_no_context_takeover
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=13", // above offer
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=7",
            "permessage-deflate; server_no_context_takeover; server_max_window_bits",
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=09",
            "permessage-deflate; server_no_context_takeover; x=1",
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
            "permessage-deflate; server_no_context_takeover=1",
        ] {
            let e = &parse_extensions(bad).unwrap()[0];
            assert!(client_accept(&o, e).is_err(), "{bad}");
        }
    }

    #[test]
    fn server_picks_the_first_acceptable_offer() {
        let o = opts(11, 13, true, true);
        let offers = parse_extensions(
            "permessage-deflate; foo, permessage-deflate; server_max_window_bits=10; client_max_window_bits, permessage-deflate",
        )
        .unwrap();
        let (p, r) = server_accept(&o, &offers).unwrap();
        assert_eq!((p.server_max_window_bits, p.client_max_window_bits), (10, 11));
        assert_eq!(
            format_extensions(&[r]),
            "permessage-deflate; server_max_window_bits=10; client_max_window_bits=11"
        );
        // Without client_max_window_bits the server cannot limit the client.
        let offers = parse_extensions("permessage-deflate; client_no_context_takeover").unwrap();
        let (p, r) = server_accept(&o, &offers).unwrap();
        assert_eq!(p.client_max_window_bits, 15);
        assert!(p.client_no_context_takeover);
        assert_eq!(
            format_extensions(&[r]),
            "permessage-deflate; client_no_context_takeover; server_max_window_bits=13"
        );
        assert!(server_accept(
            &o,
            &parse_extensions("permessage-deflate; server_max_window_bits").unwrap()
        )
        .is_none());
        assert!(server_accept(&o, &parse_extensions("x-webkit-deflate-frame").unwrap()).is_none());
        // Window 8 is accepted when a peer asks for it.
        let (p, _) = server_accept(
            &o,
            &parse_extensions("permessage-deflate; server_max_window_bits=8").unwrap(),
        )
        .unwrap();
        assert_eq!(p.server_max_window_bits, 8);
    }
}
