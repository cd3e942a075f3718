//! permessage-deflate negotiation (RFC 7692 section 7.1): the client's offer,
//! the client's check of the server's answer, and the server's choice among
//! the client's offers.
//!
//! The rules each parameter follows (RFC 7692):
//!
//! | parameter (section) | in the offer | in the response |
//! |---|---|---|
//! | `server_no_context_takeover` (7.1.1.1) | no value | MUST be there if offered; MAY be there if not |
//! | `client_no_context_takeover` (7.1.1.2) | no value | MAY be there either way; binds the client |
//! | `server_max_window_bits` (7.1.2.1) | 8..15 | MUST be there, no larger, if offered; MAY be there if not |
//! | `client_max_window_bits` (7.1.2.2) | no value or 8..15 | MUST NOT be there if not offered; 8..15, no larger than an offered value |
//!
//! Values are decimal 8..15 without leading zeros (after quoted-string
//! unescaping); a repeated, unknown or malformed parameter makes a server
//! decline that offer and a client fail the handshake (section 7).

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::error::{Error, ErrorKind};
use crate::extensions::Extension;
use crate::options::DeflateOptions;

/// The extension token.
pub const PERMESSAGE_DEFLATE: &str = "permessage-deflate";

/// The largest window (and the one in force when no parameter limits it).
const MAX_WINDOW_BITS: u8 = 15;

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

/// A parameter's window bits: a decimal 8..=15 without leading zeros
/// (RFC 7692 7.1.2: `1*DIGIT`, so no sign either).
fn window_bits(value: &str) -> Option<u8> {
    if value.is_empty()
        || value.len() > 2
        || value.starts_with('0')
        || !value.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    value.parse().ok().filter(|b| (8..=MAX_WINDOW_BITS).contains(b))
}

/// The `server_max_window_bits` value [`client_offer`] carries for `o`, if any.
fn offered_server_window(o: &DeflateOptions) -> Option<u8> {
    (o.server_max_window_bits != MAX_WINDOW_BITS).then_some(o.server_max_window_bits)
}

/// The `client_max_window_bits` value [`client_offer`] carries for `o`
/// (`None`: the parameter without a value; it is always there).
fn offered_client_window(o: &DeflateOptions) -> Option<u8> {
    (o.client_max_window_bits != MAX_WINDOW_BITS).then_some(o.client_max_window_bits)
}

/// The offer a client sends for its options (the same one .NET sends:
/// `client_max_window_bits` always, valueless at 15, so the server may lower it;
/// `server_max_window_bits` only below 15; the no-context-takeover flags when
/// set; in that order).
pub fn client_offer(o: &DeflateOptions) -> Extension {
    let mut e = Extension::new(PERMESSAGE_DEFLATE);
    let mut push = |k: &str, v: Option<u8>| e.params.push((String::from(k), v.map(|v| format!("{v}"))));
    push("client_max_window_bits", offered_client_window(o));
    if !o.client_context_takeover {
        push("client_no_context_takeover", None);
    }
    if let Some(bits) = offered_server_window(o) {
        push("server_max_window_bits", Some(bits));
    }
    if !o.server_context_takeover {
        push("server_no_context_takeover", None);
    }
    e
}

/// Checks the server's answer to [`client_offer`]. Anything the offer did not
/// allow fails the handshake: a window above the offered one, an unknown,
/// repeated or malformed parameter, a missing `server_no_context_takeover` or
/// `server_max_window_bits` we asked for.
pub fn client_accept(o: &DeflateOptions, response: &Extension) -> Result<DeflateParams, Error> {
    let mut p = DeflateParams {
        server_max_window_bits: o.server_max_window_bits,
        // Our offer limits our window to this even if the answer does not.
        client_max_window_bits: o.client_max_window_bits,
        server_no_context_takeover: false,
        client_no_context_takeover: !o.client_context_takeover,
    };
    let mut seen: Vec<String> = Vec::new();
    for (k, v) in &response.params {
        let key = k.to_ascii_lowercase();
        if seen.contains(&key) {
            return Err(handshake_error(format!(
                "the server's permessage-deflate response repeats the parameter {k}"
            )));
        }
        let bits = |v: &Option<String>| {
            v.as_deref().and_then(window_bits).ok_or_else(|| {
                handshake_error(format!(
                    "the server's permessage-deflate response has {k}={v:?}; it must be 8..15"
                ))
            })
        };
        match key.as_str() {
            // 7.1.2.1: no larger than we offered (15 when we offered none).
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
            // 7.1.2.2: allowed because our offer always carries client_max_window_bits;
            // it needs a value, no larger than the one we offered (if we offered one).
            "client_max_window_bits" => {
                let b = bits(v)?;
                if b > o.client_max_window_bits {
                    return Err(handshake_error(format!(
                        "the server chose client_max_window_bits={b}, above the {} we offered",
                        o.client_max_window_bits
                    )));
                }
                p.client_max_window_bits = b;
            }
            "server_no_context_takeover" | "client_no_context_takeover" if v.is_some() => {
                return Err(handshake_error(format!(
                    "the server's permessage-deflate parameter {k} must not have a value"
                )));
            }
            // 7.1.1.1: the server may add it unasked.
            "server_no_context_takeover" => p.server_no_context_takeover = true,
            // 7.1.1.2: binds us whether we offered it or not.
            "client_no_context_takeover" => p.client_no_context_takeover = true,
            _ => {
                return Err(handshake_error(format!(
                    "the server's permessage-deflate response has the unknown parameter {k}"
                )))
            }
        }
        seen.push(key);
    }
    // 7.1.1.1: a server accepting an offer with server_no_context_takeover MUST answer it.
    if !o.server_context_takeover && !p.server_no_context_takeover {
        return Err(handshake_error(String::from(
            "we required server_no_context_takeover but the server's permessage-deflate response does not grant it",
        )));
    }
    // 7.1.2.1: a server accepting an offer with server_max_window_bits MUST answer it.
    if let Some(offered) = offered_server_window(o) {
        if !seen.iter().any(|k| k == "server_max_window_bits") {
            return Err(handshake_error(format!(
                "we offered server_max_window_bits={offered} but the server's permessage-deflate response does not answer it"
            )));
        }
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
    // What the offer carries. A repeated, unknown or malformed parameter
    // declines this alternative (RFC 7692 section 7).
    let mut server_no_context_takeover = false;
    let mut client_no_context_takeover = false;
    let mut server_bits: Option<u8> = None;
    // Some(None): client_max_window_bits without a value.
    let mut client_bits: Option<Option<u8>> = None;
    let mut seen: Vec<String> = Vec::new();
    for (k, v) in &offer.params {
        let key = k.to_ascii_lowercase();
        if seen.contains(&key) {
            return None;
        }
        match (key.as_str(), v.as_deref()) {
            ("server_no_context_takeover", None) => server_no_context_takeover = true,
            ("client_no_context_takeover", None) => client_no_context_takeover = true,
            ("server_max_window_bits", Some(v)) => server_bits = Some(window_bits(v)?),
            ("client_max_window_bits", None) => client_bits = Some(None),
            ("client_max_window_bits", Some(v)) => client_bits = Some(Some(window_bits(v)?)),
            _ => return None,
        }
        seen.push(key);
    }
    let p = DeflateParams {
        // 7.1.1.1: granted when asked for, and added when our options want it.
        server_no_context_takeover: server_no_context_takeover || !o.server_context_takeover,
        // 7.1.1.2: the client announced it, or our options require it (then we say so).
        client_no_context_takeover: client_no_context_takeover || !o.client_context_takeover,
        // 7.1.2.1: no larger than offered, nor than our own limit.
        server_max_window_bits: server_bits
            .map_or(o.server_max_window_bits, |b| b.min(o.server_max_window_bits)),
        // 7.1.2.2: without client_max_window_bits in the offer the client may use
        // any window (we cannot limit it); with it, no larger than its value
        // (if any) nor than our own limit.
        client_max_window_bits: match client_bits {
            None => MAX_WINDOW_BITS,
            Some(offered) => offered.unwrap_or(MAX_WINDOW_BITS).min(o.client_max_window_bits),
        },
    };
    let mut r = Extension::new(PERMESSAGE_DEFLATE);
    if p.server_no_context_takeover {
        r.params.push((String::from("server_no_context_takeover"), None));
    }
    if p.client_no_context_takeover {
        r.params.push((String::from("client_no_context_takeover"), None));
    }
    // 7.1.2.1: MUST be answered when offered (even at 15); MAY be sent unasked
    // to lower our window.
    if server_bits.is_some() || p.server_max_window_bits < MAX_WINDOW_BITS {
        r.params.push((
            String::from("server_max_window_bits"),
            Some(format!("{}", p.server_max_window_bits)),
        ));
    }
    // 7.1.2.2: MUST NOT be sent unless offered. An offered value is always
    // answered (clients such as .NET read a missing one as 15, above what they
    // offered); a valueless offer only when we lower the window.
    if let Some(offered) = client_bits {
        if offered.is_some() || p.client_max_window_bits < MAX_WINDOW_BITS {
            r.params.push((
                String::from("client_max_window_bits"),
                Some(format!("{}", p.client_max_window_bits)),
            ));
        }
    }
    Some((p, r))
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::extensions::{format_extensions, parse_extensions};
    use alloc::string::ToString;
    use alloc::vec;

    fn opts(c: u8, s: u8, ct: bool, st: bool) -> DeflateOptions {
        DeflateOptions {
            client_max_window_bits: c,
            server_max_window_bits: s,
            client_context_takeover: ct,
            server_context_takeover: st,
        }
    }

    fn params(s: u8, c: u8, snct: bool, cnct: bool) -> DeflateParams {
        DeflateParams {
            server_max_window_bits: s,
            client_max_window_bits: c,
            server_no_context_takeover: snct,
            client_no_context_takeover: cnct,
        }
    }

    fn ext(header: &str) -> Extension {
        let mut v = parse_extensions(header).unwrap();
        assert_eq!(v.len(), 1, "{header}");
        v.remove(0)
    }

    /// The header value of one extension.
    fn header(e: &Extension) -> String {
        format_extensions(core::slice::from_ref(e))
    }

    /// permessage-deflate with the one parameter `k`, built without the header parser.
    fn with_param(k: &str, v: Option<&str>) -> Extension {
        let mut e = Extension::new(PERMESSAGE_DEFLATE);
        e.params.push((k.to_string(), v.map(str::to_string)));
        e
    }

    /// Every option combination, windows 8..=15.
    fn all_options() -> Vec<DeflateOptions> {
        let mut v = Vec::new();
        for c in 8..=15 {
            for s in 8..=15 {
                for ct in [true, false] {
                    for st in [true, false] {
                        v.push(opts(c, s, ct, st));
                    }
                }
            }
        }
        v
    }

    /// Every well-formed offer: each flag absent or present, server_max_window_bits
    /// absent or 8..=15, client_max_window_bits absent, valueless or 8..=15.
    fn all_offers() -> Vec<Extension> {
        let mut v = Vec::new();
        for snct in [false, true] {
            for cnct in [false, true] {
                for s in [None, Some(8), Some(9), Some(12), Some(14), Some(15)] {
                    for c in [
                        None,
                        Some(None),
                        Some(Some(8)),
                        Some(Some(9)),
                        Some(Some(12)),
                        Some(Some(15)),
                    ] {
                        let mut e = Extension::new(PERMESSAGE_DEFLATE);
                        if snct {
                            e.params.push(("server_no_context_takeover".to_string(), None));
                        }
                        if cnct {
                            e.params.push(("client_no_context_takeover".to_string(), None));
                        }
                        if let Some(s) = s {
                            e.params
                                .push(("server_max_window_bits".to_string(), Some(format!("{s}"))));
                        }
                        if let Some(c) = c {
                            e.params.push((
                                "client_max_window_bits".to_string(),
                                c.map(|c: u8| format!("{c}")),
                            ));
                        }
                        v.push(e);
                    }
                }
            }
        }
        v
    }

    /// An RFC 7692 client that sent `offer` (any offer, not only ours): checks
    /// `response` by section 7.1, independently of `client_accept`, and returns
    /// the parameters in force.
    fn rfc_client(offer: &Extension, response: &Extension) -> Result<DeflateParams, String> {
        const KNOWN: [&str; 4] = [
            "server_no_context_takeover",
            "client_no_context_takeover",
            "server_max_window_bits",
            "client_max_window_bits",
        ];
        for (i, (k, _)) in response.params.iter().enumerate() {
            if !KNOWN.contains(&k.as_str()) {
                return Err(format!("7: unknown parameter {k}"));
            }
            if response.params[..i].iter().any(|(j, _)| j == k) {
                return Err(format!("7: repeated parameter {k}"));
            }
        }
        let value = |v: Option<&str>| -> Result<u8, String> {
            let b: u8 = v.and_then(|v| v.parse().ok()).ok_or(format!("bad value {v:?}"))?;
            if !(8..=15).contains(&b) || v != Some(format!("{b}").as_str()) {
                return Err(format!("bad value {v:?}"));
            }
            Ok(b)
        };
        let flag = |k: &str| match response.param(k) {
            None => Ok(false),
            Some(None) => Ok(true),
            Some(Some(v)) => Err(format!("{k}={v}: must not have a value")),
        };
        let snct = flag("server_no_context_takeover")?;
        if offer.param("server_no_context_takeover").is_some() && !snct {
            return Err("7.1.1.1: server_no_context_takeover offered, not answered".to_string());
        }
        let cnct = flag("client_no_context_takeover")? || offer.param("client_no_context_takeover").is_some();
        let offered_s = offer.param("server_max_window_bits").map(|v| value(v).unwrap());
        let s = match response.param("server_max_window_bits") {
            None if offered_s.is_some() => {
                return Err("7.1.2.1: server_max_window_bits offered, not answered".to_string())
            }
            None => 15,
            Some(v) => {
                let b = value(v)?;
                if b > offered_s.unwrap_or(15) {
                    return Err(format!("7.1.2.1: server_max_window_bits={b} above the offer"));
                }
                b
            }
        };
        let offered_c = offer.param("client_max_window_bits");
        let offered_c_value = offered_c.flatten().map_or(15, |v| value(Some(v)).unwrap());
        let c = match (offered_c, response.param("client_max_window_bits")) {
            (_, None) => offered_c_value,
            (None, Some(_)) => {
                return Err("7.1.2.2: client_max_window_bits answered, not offered".to_string())
            }
            (Some(_), Some(v)) => {
                let b = value(v)?;
                if b > offered_c_value {
                    return Err(format!("7.1.2.2: client_max_window_bits={b} above the offer"));
                }
                b
            }
        };
        Ok(params(s, c, snct, cnct))
    }

    #[test]
    fn window_bits_are_8_to_15_without_leading_zeros() {
        for b in 8..=15u8 {
            assert_eq!(window_bits(&format!("{b}")), Some(b));
        }
        for bad in [
            "", "7", "16", "0", "08", "015", "+9", "-9", "9 ", " 9", "1a", "x", "255", "256", "99999",
        ] {
            assert_eq!(window_bits(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn offer_matches_dotnet_form() {
        assert_eq!(
            header(&client_offer(&DeflateOptions::default())),
            "permessage-deflate; client_max_window_bits"
        );
        assert_eq!(
            header(&client_offer(&opts(10, 12, false, false))),
            "permessage-deflate; client_max_window_bits=10; client_no_context_takeover; \
             server_max_window_bits=12; server_no_context_takeover"
        );
        assert_eq!(
            header(&client_offer(&opts(15, 9, true, false))),
            "permessage-deflate; client_max_window_bits; server_max_window_bits=9; server_no_context_takeover"
        );
        // Every offer of ours is well-formed: it parses back to itself.
        for o in all_options() {
            let offer = client_offer(&o);
            assert_eq!(ext(&header(&offer)), offer, "{o:?}");
        }
    }

    #[test]
    fn client_checks_the_answer() {
        let o = opts(10, 12, true, false);
        let ok = ext("permessage-deflate; server_no_context_takeover; server_max_window_bits=9; client_max_window_bits=9");
        assert_eq!(client_accept(&o, &ok).unwrap(), params(9, 9, true, false));
        for bad in [
            "permessage-deflate; server_max_window_bits=12", // 7.1.1.1: missing server_no_context_takeover
            "permessage-deflate; server_no_context_takeover", // 7.1.2.1: missing server_max_window_bits
            "permessage-deflate; server_no_context_takeover; client_max_window_bits=9", // same
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=13", // above offer
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=15",
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=7",
            "permessage-deflate; server_no_context_takeover; server_max_window_bits",
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=09",
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=+9",
            // 7.1.2.2: above our offered 10, or without a value.
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=12; client_max_window_bits=11",
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=12; client_max_window_bits",
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=12; client_max_window_bits=8x",
            // Unknown, repeated (in any case), valued flags.
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=12; x=1",
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover; server_max_window_bits=12",
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=12; Server_Max_Window_Bits=11",
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=12; client_max_window_bits=9; client_max_window_bits=9",
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=12; client_no_context_takeover; client_no_context_takeover",
            "permessage-deflate; server_no_context_takeover=1; server_max_window_bits=12",
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=12; client_no_context_takeover=1",
        ] {
            assert!(client_accept(&o, &ext(bad)).is_err(), "{bad}");
        }
        // A quoted value is its unescaped value; names are case-insensitive.
        assert_eq!(
            client_accept(
                &o,
                &ext("permessage-deflate; Server_No_Context_Takeover; server_max_window_bits=\"11\"")
            )
            .unwrap(),
            params(11, 10, true, false)
        );
        // A response without client_max_window_bits leaves our offered value in force.
        assert_eq!(
            client_accept(
                &o,
                &ext("permessage-deflate; server_no_context_takeover; server_max_window_bits=12")
            )
            .unwrap(),
            params(12, 10, true, false)
        );
    }

    #[test]
    fn client_defaults_accept_what_the_rfc_allows() {
        // Our default offer: "permessage-deflate; client_max_window_bits".
        let o = DeflateOptions::default();
        assert_eq!(
            client_accept(&o, &ext("permessage-deflate")).unwrap(),
            params(15, 15, false, false)
        );
        // 7.1.1.1 / 7.1.1.2: either flag may come unasked; the client one binds us.
        assert_eq!(
            client_accept(
                &o,
                &ext("permessage-deflate; server_no_context_takeover; client_no_context_takeover")
            )
            .unwrap(),
            params(15, 15, true, true)
        );
        // 7.1.2.1: server_max_window_bits may come unasked, any of 8..15.
        for b in 8..=15 {
            let r = ext(&format!("permessage-deflate; server_max_window_bits={b}"));
            assert_eq!(client_accept(&o, &r).unwrap(), params(b, 15, false, false));
        }
        // 7.1.2.2: our valueless client_max_window_bits lets the server choose any of 8..15.
        for b in 8..=15 {
            let r = ext(&format!("permessage-deflate; client_max_window_bits={b}"));
            assert_eq!(client_accept(&o, &r).unwrap(), params(15, b, false, false));
        }
        for bad in [
            "permessage-deflate; client_max_window_bits",
            "permessage-deflate; client_max_window_bits=16",
            "permessage-deflate; server_max_window_bits=16",
            "permessage-deflate; foo",
        ] {
            assert!(client_accept(&o, &ext(bad)).is_err(), "{bad}");
        }
        // Empty values (the header parser refuses them before we see them).
        for k in ["server_max_window_bits", "client_max_window_bits"] {
            let r = with_param(k, Some(""));
            assert!(client_accept(&o, &r).is_err(), "{k}");
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
            header(&r),
            "permessage-deflate; server_max_window_bits=10; client_max_window_bits=11"
        );
        // Without client_max_window_bits the server cannot limit the client
        // (and 7.1.2.2 forbids answering it), but it may limit its own window
        // unasked (7.1.2.1).
        let offers = parse_extensions("permessage-deflate; client_no_context_takeover").unwrap();
        let (p, r) = server_accept(&o, &offers).unwrap();
        assert_eq!(p.client_max_window_bits, 15);
        assert!(p.client_no_context_takeover);
        assert_eq!(
            header(&r),
            "permessage-deflate; client_no_context_takeover; server_max_window_bits=13"
        );
        assert!(server_accept(&o, &parse_extensions("x-webkit-deflate-frame").unwrap()).is_none());
        // Window 8 is accepted when a peer asks for it.
        let (p, _) = server_accept(&o, &[ext("permessage-deflate; server_max_window_bits=8")]).unwrap();
        assert_eq!(p.server_max_window_bits, 8);
        // A quoted value is its unescaped value; names are case-insensitive.
        let (p, r) = server_accept(
            &DeflateOptions::default(),
            &[ext(
                "permessage-deflate; Server_Max_Window_Bits=\"10\"; CLIENT_MAX_WINDOW_BITS",
            )],
        )
        .unwrap();
        assert_eq!(p, params(10, 15, false, false));
        assert_eq!(header(&r), "permessage-deflate; server_max_window_bits=10");
    }

    #[test]
    fn server_declines_malformed_offers() {
        let o = DeflateOptions::default();
        for bad in [
            // Section 7: unknown parameters.
            "permessage-deflate; foo",
            "permessage-deflate; server_max_window_bits=10; foo=1",
            // Repeated parameters, in any case.
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
            "permessage-deflate; client_no_context_takeover; CLIENT_NO_CONTEXT_TAKEOVER",
            "permessage-deflate; server_max_window_bits=10; server_max_window_bits=10",
            "permessage-deflate; client_max_window_bits; client_max_window_bits=10",
            // 7.1.1: the flags have no value.
            "permessage-deflate; server_no_context_takeover=1",
            "permessage-deflate; client_no_context_takeover=\"x\"",
            // 7.1.2.1: server_max_window_bits needs a value, 8..15 without leading zeros.
            "permessage-deflate; server_max_window_bits",
            "permessage-deflate; server_max_window_bits=7",
            "permessage-deflate; server_max_window_bits=16",
            "permessage-deflate; server_max_window_bits=010",
            "permessage-deflate; server_max_window_bits=+10",
            "permessage-deflate; server_max_window_bits=\"9x\"",
            // 7.1.2.2: client_max_window_bits, when valued, is 8..15 without leading zeros.
            "permessage-deflate; client_max_window_bits=7",
            "permessage-deflate; client_max_window_bits=16",
            "permessage-deflate; client_max_window_bits=09",
            "permessage-deflate; client_max_window_bits=+9",
        ] {
            assert!(server_accept(&o, &[ext(bad)]).is_none(), "{bad}");
            // A bad alternative does not spoil the next one.
            let mut offers = vec![ext(bad)];
            offers.push(ext("permessage-deflate; client_max_window_bits=12"));
            let (p, r) = server_accept(&o, &offers).expect(bad);
            assert_eq!(p, params(15, 12, false, false));
            assert_eq!(header(&r), "permessage-deflate; client_max_window_bits=12");
        }
        // Empty values (the header parser refuses them before we see them).
        for k in [
            "server_max_window_bits",
            "client_max_window_bits",
            "server_no_context_takeover",
            "client_no_context_takeover",
        ] {
            assert!(server_accept(&o, &[with_param(k, Some(""))]).is_none(), "{k}");
        }
    }

    /// The offers Python `websockets` and Node `ws` send with explicit 15s:
    /// 7.1.2.1 wants server_max_window_bits answered even at 15.
    #[test]
    fn server_answers_explicit_15() {
        let cases: [(&str, &str, DeflateParams, DeflateOptions); 4] = [
            (
                "server_max_window_bits=15; client_max_window_bits=15",
                "server_max_window_bits=15; client_max_window_bits=15",
                params(15, 15, false, false),
                opts(15, 15, true, true),
            ),
            (
                "server_no_context_takeover; client_no_context_takeover; server_max_window_bits=15; client_max_window_bits=15",
                "server_no_context_takeover; client_no_context_takeover; server_max_window_bits=15; client_max_window_bits=15",
                params(15, 15, true, true),
                opts(15, 15, false, false),
            ),
            (
                "server_no_context_takeover; server_max_window_bits=15; client_max_window_bits=15",
                "server_no_context_takeover; server_max_window_bits=15; client_max_window_bits=15",
                params(15, 15, true, false),
                opts(15, 15, true, false),
            ),
            (
                "client_no_context_takeover; server_max_window_bits=15; client_max_window_bits=15",
                "client_no_context_takeover; server_max_window_bits=15; client_max_window_bits=15",
                params(15, 15, false, true),
                opts(15, 15, false, true),
            ),
        ];
        for (offer, answer, p_want, client_opts) in cases {
            let offer = ext(&format!("permessage-deflate; {offer}"));
            let (p, r) = server_accept(&DeflateOptions::default(), core::slice::from_ref(&offer)).unwrap();
            assert_eq!(header(&r), format!("permessage-deflate; {answer}"));
            assert_eq!(p, p_want);
            assert_eq!(rfc_client(&offer, &r), Ok(p));
            assert_eq!(client_accept(&client_opts, &r).unwrap(), p);
        }
        // Only server_max_window_bits=15, only client_max_window_bits=15.
        let (p, r) = server_accept(
            &DeflateOptions::default(),
            &[ext("permessage-deflate; server_max_window_bits=15")],
        )
        .unwrap();
        assert_eq!(header(&r), "permessage-deflate; server_max_window_bits=15");
        assert_eq!(p, params(15, 15, false, false));
        let (p, r) = server_accept(
            &DeflateOptions::default(),
            &[ext("permessage-deflate; client_max_window_bits=15")],
        )
        .unwrap();
        assert_eq!(header(&r), "permessage-deflate; client_max_window_bits=15");
        assert_eq!(p, params(15, 15, false, false));
        // Our own limits lower the explicit 15s.
        let offer = ext("permessage-deflate; server_max_window_bits=15; client_max_window_bits=15");
        let (p, r) = server_accept(&opts(10, 9, false, false), core::slice::from_ref(&offer)).unwrap();
        assert_eq!(
            header(&r),
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
             server_max_window_bits=9; client_max_window_bits=10"
        );
        assert_eq!(p, params(9, 10, true, true));
        assert_eq!(rfc_client(&offer, &r), Ok(p));
        assert_eq!(client_accept(&opts(15, 15, true, true), &r).unwrap(), p);
    }

    /// An offer with every parameter below 15 is answered in full.
    #[test]
    fn server_answers_every_parameter() {
        let offer = ext(
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
             server_max_window_bits=10; client_max_window_bits=9",
        );
        let (p, r) = server_accept(&DeflateOptions::default(), core::slice::from_ref(&offer)).unwrap();
        assert_eq!(header(&r), header(&offer));
        assert_eq!(p, params(10, 9, true, true));
        assert_eq!(client_accept(&opts(9, 10, false, false), &r).unwrap(), p);
        // Under tighter options of ours.
        let (p, r) = server_accept(&opts(8, 9, true, true), core::slice::from_ref(&offer)).unwrap();
        assert_eq!(
            header(&r),
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
             server_max_window_bits=9; client_max_window_bits=8"
        );
        assert_eq!(p, params(9, 8, true, true));
        assert_eq!(rfc_client(&offer, &r), Ok(p));
        assert_eq!(client_accept(&opts(9, 10, false, false), &r).unwrap(), p);
        // Our offer with every parameter.
        let ours = client_offer(&opts(9, 10, false, false));
        let (p2, r2) = server_accept(&DeflateOptions::default(), &[ours]).unwrap();
        assert_eq!(
            header(&r2),
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
             server_max_window_bits=10; client_max_window_bits=9"
        );
        assert_eq!(client_accept(&opts(9, 10, false, false), &r2).unwrap(), p2);
    }

    /// Every well-formed offer under every option set: accepted, with the
    /// parameters RFC 7692 and our options call for, answered so that an RFC
    /// client that made the offer accepts the answer with the same parameters.
    #[test]
    fn server_answers_every_offer_by_the_rfc() {
        let offers = all_offers();
        for o in all_options() {
            for offer in &offers {
                let (p, r) =
                    server_accept(&o, core::slice::from_ref(offer)).expect("well-formed offer declined");
                let ctx = || format!("{o:?} {}", header(offer));
                assert_eq!(rfc_client(offer, &r), Ok(p), "{}", ctx());
                assert_eq!(ext(&header(&r)), r, "{}", ctx());
                let value = |k| offer.param(k).flatten().map(|v: &str| v.parse::<u8>().unwrap());
                assert_eq!(
                    p.server_max_window_bits,
                    value("server_max_window_bits")
                        .unwrap_or(15)
                        .min(o.server_max_window_bits),
                    "{}",
                    ctx()
                );
                let client_bits = match offer.param("client_max_window_bits") {
                    None => 15,
                    Some(_) => value("client_max_window_bits")
                        .unwrap_or(15)
                        .min(o.client_max_window_bits),
                };
                assert_eq!(p.client_max_window_bits, client_bits, "{}", ctx());
                assert_eq!(
                    p.server_no_context_takeover,
                    offer.param("server_no_context_takeover").is_some() || !o.server_context_takeover,
                    "{}",
                    ctx()
                );
                assert_eq!(
                    p.client_no_context_takeover,
                    offer.param("client_no_context_takeover").is_some() || !o.client_context_takeover,
                    "{}",
                    ctx()
                );
            }
        }
    }

    /// Our client against our server, every option set on each side: the
    /// client accepts the answer with the parameters the server chose.
    #[test]
    fn round_trip_every_option_pair() {
        let all = all_options();
        for oc in &all {
            let offer = client_offer(oc);
            for os in &all {
                let (p, r) = server_accept(os, core::slice::from_ref(&offer)).expect("our offer declined");
                let r = ext(&header(&r));
                assert_eq!(
                    client_accept(oc, &r).ok(),
                    Some(p),
                    "client {oc:?} server {os:?} answer {r:?}"
                );
                assert_eq!(rfc_client(&offer, &r), Ok(p), "client {oc:?} server {os:?}");
                // Both sides' own limits hold.
                assert!(p.server_max_window_bits <= oc.server_max_window_bits.min(os.server_max_window_bits));
                assert!(p.client_max_window_bits <= oc.client_max_window_bits.min(os.client_max_window_bits));
                assert!(
                    p.server_no_context_takeover
                        >= !(oc.server_context_takeover && os.server_context_takeover)
                );
                assert!(
                    p.client_no_context_takeover
                        >= !(oc.client_context_takeover && os.client_context_takeover)
                );
            }
        }
    }
}
