//! The cookie jar (RFC 6265 rules by `cookie_store`), with the public suffix
//! check of RFC 6265 section 5.3 step 5 against the list compiled into `psl`.

use std::sync::Mutex;

use cookie_store::RawCookie;

use crate::error::{Error, ErrorKind};
use crate::target::{http_url, redact};

/// Cookies shared between connections (.NET's `CookieContainer`): sent with
/// handshakes and requests to matching URLs, updated from `Set-Cookie` in
/// responses. Domain, path, expiry and `Secure` rules are those of RFC 6265
/// (`cookie_store`); a cookie whose `Domain` is a public suffix (`com`,
/// `co.uk`, `github.io`, from the Public Suffix List compiled into the crate)
/// is refused unless the suffix is the very host that set it, which then gets
/// a host-only cookie (RFC 6265 section 5.3 step 5).
#[derive(Default)]
pub struct CookieJar {
    store: Mutex<cookie_store::CookieStore>,
}

/// Cookie values are secrets (sessions): `Debug` shows how many there are, never what.
impl std::fmt::Debug for CookieJar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.store.lock().map(|s| s.iter_any().count()).unwrap_or(0);
        f.debug_struct("CookieJar").field("cookies", &n).finish()
    }
}

impl CookieJar {
    /// An empty jar; share it (in an `Arc`) between clients and invokers
    /// that should see each other's cookies.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a cookie as a server would set it, e.g. `"id=42; Path=/"`, for `url`.
    /// A cookie for a public suffix is an [`ErrorKind::InvalidArgument`] error.
    pub fn set_cookie(&self, cookie: &str, url: &str) -> Result<(), Error> {
        let url = http_url(&parse_url(url)?);
        let bad = |why: String| Error::new(ErrorKind::InvalidArgument, format!("cookie {cookie:?}: {why}"));
        let raw = RawCookie::parse(cookie).map_err(|e| bad(e.to_string()))?;
        let raw = checked_domain(raw, &url).map_err(bad)?;
        self.lock()
            .insert_raw(&raw, &url)
            .map(|_| ())
            .map_err(|e| bad(e.to_string()))
    }

    /// The `Cookie` header value for `url`, if any cookie matches.
    pub fn cookie_header(&self, url: &str) -> Result<Option<String>, Error> {
        Ok(self.header_for(&http_url(&parse_url(url)?)))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, cookie_store::CookieStore> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn header_for(&self, url: &url::Url) -> Option<String> {
        let store = self.lock();
        let pairs: Vec<String> = store
            .get_request_values(url)
            .map(|(n, v)| format!("{n}={v}"))
            .collect();
        (!pairs.is_empty()).then(|| pairs.join("; "))
    }

    pub(crate) fn store_from(&self, headers: &[(String, String)], url: &url::Url) {
        let mut store = self.lock();
        for (k, v) in headers {
            if !k.eq_ignore_ascii_case("set-cookie") {
                continue;
            }
            // A malformed, foreign-domain or public-suffix cookie is ignored, as browsers do.
            if let Ok(raw) = RawCookie::parse(v.as_str()) {
                if let Ok(raw) = checked_domain(raw, url) {
                    let _ = store.insert_raw(&raw, url);
                }
            }
        }
    }
}

/// RFC 6265 section 5.3 step 5: a `Domain` that is a public suffix is
/// refused, unless it is the request host itself, which makes the cookie
/// host-only.
fn checked_domain<'c>(mut raw: RawCookie<'c>, url: &url::Url) -> Result<RawCookie<'c>, String> {
    let Some(domain) = raw.domain() else {
        return Ok(raw);
    };
    let domain = domain
        .trim_start_matches('.')
        .trim_end_matches('.')
        .to_ascii_lowercase();
    if domain.is_empty() || !is_public_suffix(&domain) {
        return Ok(raw);
    }
    let host = url
        .host_str()
        .unwrap_or("")
        .trim_end_matches('.')
        .to_ascii_lowercase();
    if host == domain {
        raw.unset_domain();
        return Ok(raw);
    }
    Err(format!(
        "Domain={domain} is a public suffix, so the cookie would reach every site under it; refused"
    ))
}

fn is_public_suffix(domain: &str) -> bool {
    // The list's implicit `*` rule makes any unknown top-level label a suffix too.
    psl::suffix_str(domain).is_some_and(|s| s.eq_ignore_ascii_case(domain))
}

fn parse_url(s: &str) -> Result<url::Url, Error> {
    url::Url::parse(s).map_err(|e| {
        Error::new(
            ErrorKind::InvalidArgument,
            format!("invalid URL {:?}: {e}", redact(s)),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_suffixes() {
        for s in ["com", "co.uk", "github.io", "uk"] {
            assert!(is_public_suffix(s), "{s}");
        }
        for s in ["example.com", "a.github.io", "bbc.co.uk"] {
            assert!(!is_public_suffix(s), "{s}");
        }
    }
}
