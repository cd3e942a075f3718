//! HTTP Basic credentials and the rules for sending them: only after a Basic
//! challenge, only to the origins they are bound to, and only over TLS
//! unless the caller opts in.

use sockweave_core::auth::{basic_authorization, cleartext_refusal, origin_allowed, BasicAnswer, BasicRule};

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
        basic_authorization(&self.user, &self.password)
    }
}

/// The rules themselves are the core's, shared with the npm package.
pub(crate) use sockweave_core::auth::basic_challenged;

/// Server credentials and where they may go.
pub(crate) struct BasicPolicy<'a> {
    pub(crate) credentials: Option<&'a Credentials>,
    /// The origins they are bound to, as URLs (see [`normalise_origins`]);
    /// which URLs they match is the core's rule ([`origin_allowed`]).
    pub(crate) origins: &'a [String],
    pub(crate) allow_cleartext: bool,
}

impl BasicPolicy<'_> {
    /// What to do about a 401 with a Basic challenge from `target`:
    /// `Ok(Some(value))` is the `Authorization` to retry with, `Ok(None)`
    /// means these credentials are not for this origin (the 401 stands), and
    /// an error refuses to send them in clear, or says they are bound to no
    /// origin at all (`InvalidArgument`, naming the origin to add).
    pub(crate) fn authorization(&self, target: &Target) -> Result<Option<String>, Error> {
        let Some(c) = self.credentials else {
            return Ok(None);
        };
        let origin_matches = origin_allowed(
            &target.display(),
            self.origins,
            "InvokerOptions.credentials",
            "credential_origins",
        )
        .map_err(|m| Error::new(ErrorKind::InvalidArgument, m))?;
        let rule = BasicRule {
            user: &c.user,
            password: &c.password,
            origin_matches,
            secure: target.secure,
            allow_cleartext: self.allow_cleartext,
        };
        match rule.authorization() {
            BasicAnswer::Stands => Ok(None),
            BasicAnswer::Retry(v) => Ok(Some(v)),
            BasicAnswer::RefusedCleartext => Err(Error::new(
                ErrorKind::InsecureCredentials,
                cleartext_refusal(&target.display(), "allow_basic_over_cleartext"),
            )),
        }
    }
}

/// Checks the origins credentials are bound to: each a `ws`, `wss`, `http`
/// or `https` URL, given back as the URL parser writes it (IDNA, IPv6) for
/// the core's origin rule.
pub(crate) fn normalise_origins(origins: &[String]) -> Result<Vec<String>, Error> {
    origins
        .iter()
        .map(|o| {
            Target::parse(o).map(|t| t.url.to_string()).map_err(|e| {
                Error::new(
                    ErrorKind::InvalidArgument,
                    format!("credential_origins: {}", e.message()),
                )
            })
        })
        .collect()
}
