//! HTTP Basic credentials and the rules for sending them: only after a Basic
//! challenge, only to the origins they are bound to, and only over TLS
//! unless the caller opts in.

use base64::Engine;

use crate::error::{Error, ErrorKind};
use crate::target::Target;

/// A user name and password for HTTP Basic authentication. `Debug` shows the
/// user name only.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The user name (may not contain `:` for HTTP Basic).
    pub user: String,
    /// The password; never shown by `Debug` or in errors.
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

impl Credentials {
    /// The `Basic` authorization value.
    pub(crate) fn basic(&self) -> String {
        let raw = format!("{}:{}", self.user, self.password);
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(raw))
    }
}

/// A `WWW-Authenticate` value that offers HTTP Basic.
pub(crate) fn is_basic_challenge(v: &str) -> bool {
    let v = v.trim_start();
    v.len() >= 5
        && v[..5].eq_ignore_ascii_case("basic")
        && v[5..].chars().next().is_none_or(|c| c == ' ' || c == ',')
}

/// Server credentials and where they may go.
pub(crate) struct BasicPolicy<'a> {
    pub(crate) credentials: Option<&'a Credentials>,
    /// Normalised origins (see [`Target::origin`]).
    pub(crate) origins: &'a [String],
    pub(crate) allow_cleartext: bool,
}

impl BasicPolicy<'_> {
    /// What to do about a 401 with a Basic challenge from `target`:
    /// `Ok(Some(value))` is the `Authorization` to retry with, `Ok(None)`
    /// means these credentials are not for this origin (the 401 stands), and
    /// an error refuses to send them in clear.
    pub(crate) fn authorization(&self, target: &Target) -> Result<Option<String>, Error> {
        let Some(c) = self.credentials else {
            return Ok(None);
        };
        if !self.origins.iter().any(|o| *o == target.origin()) {
            return Ok(None);
        }
        if !target.secure && !self.allow_cleartext {
            return Err(Error::new(
                ErrorKind::InsecureCredentials,
                format!(
                    "{} asked for HTTP Basic credentials over an unencrypted connection, which would \
                     send the password in clear to anyone on the path; use wss:// or https://, or \
                     set allow_basic_over_cleartext if this network is trusted",
                    target.display()
                ),
            ));
        }
        Ok(Some(c.basic()))
    }
}

/// Normalises the origins credentials are bound to.
pub(crate) fn normalise_origins(origins: &[String]) -> Result<Vec<String>, Error> {
    origins
        .iter()
        .map(|o| {
            crate::target::origin_of(o).map_err(|e| {
                Error::new(
                    ErrorKind::InvalidArgument,
                    format!("credential_origins: {}", e.message()),
                )
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_challenges() {
        assert!(is_basic_challenge("Basic realm=\"x\""));
        assert!(is_basic_challenge(" basic"));
        assert!(!is_basic_challenge("Basically"));
        assert!(!is_basic_challenge("Bearer"));
        assert!(!is_basic_challenge("é"));
    }
}
