//! Errors with stable codes.
//!
//! Every failure the library reports is an [`Error`] whose [`ErrorCode`] callers can
//! switch on (in JavaScript it becomes a `TokenwardError` with the same `code`). Messages
//! never contain a token, a code verifier or any other secret.

use crate::prelude::*;
use ::core::fmt;

/// The stable code of an [`Error`]; `as_str` gives the string JavaScript sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorCode {
    /// Options that cannot work.
    InvalidOptions,
    /// A token response without a usable access token, or with bad fields.
    InvalidTokenResponse,
    /// The server refused the refresh token (or the code): the session is over.
    InvalidGrant,
    /// A transient failure: offline, timeout, 5xx, 429.
    Network,
    /// There is no session.
    SignedOut,
    /// Storage was unreadable, corrupt, or refused a write.
    Storage,
    /// The revocation endpoint did not confirm the revocation.
    RevocationFailed,
    /// An authorization response that does not belong to a pending sign-in.
    InvalidState,
    /// The user or the server refused the authorization request.
    AccessDenied,
    /// A discovery document that lacks an endpoint or names another issuer.
    InvalidDiscovery,
    /// A browser feature the client needs is missing (it keeps working with less).
    Unsupported,
    /// Another error code sent by the authorization server (RFC 6749 §5.2, §4.1.2.1).
    Server(String),
}

impl ErrorCode {
    /// The code as JavaScript sees it in `TokenwardError.code`.
    pub fn as_str(&self) -> &str {
        match self {
            ErrorCode::InvalidOptions => "invalid_options",
            ErrorCode::InvalidTokenResponse => "invalid_token_response",
            ErrorCode::InvalidGrant => "invalid_grant",
            ErrorCode::Network => "network",
            ErrorCode::SignedOut => "signed_out",
            ErrorCode::Storage => "storage",
            ErrorCode::RevocationFailed => "revocation_failed",
            ErrorCode::InvalidState => "invalid_state",
            ErrorCode::AccessDenied => "access_denied",
            ErrorCode::InvalidDiscovery => "invalid_discovery",
            ErrorCode::Unsupported => "unsupported",
            ErrorCode::Server(code) => code,
        }
    }

    /// The code for an `error` an authorization server sent (RFC 6749 §4.1.2.1, §5.2):
    /// its own code when it is one, `None` when it is empty, holds a character the RFC
    /// does not allow in a code, or spells one of tokenward's own codes (a server's
    /// `network` must not read as a transient failure, nor its `signed_out` as no
    /// session). The callers map `invalid_grant` and `access_denied` first.
    pub fn server(code: &str) -> Option<ErrorCode> {
        let own = matches!(
            code,
            "invalid_options"
                | "invalid_token_response"
                | "network"
                | "signed_out"
                | "storage"
                | "revocation_failed"
                | "invalid_state"
                | "invalid_discovery"
                | "unsupported"
        );
        let well_formed = !code.is_empty()
            && code
                .bytes()
                .all(|b| matches!(b, 0x20..=0x21 | 0x23..=0x5b | 0x5d..=0x7e));
        (well_formed && !own).then(|| ErrorCode::Server(code.to_string()))
    }
}

/// Where an error came from, when the server said so: its `error` and
/// `error_description` (RFC 6749 §5.2), and the HTTP status.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServerCause {
    /// The `error` member of the server's answer.
    pub error: Option<String>,
    /// The `error_description` member of the server's answer.
    pub error_description: Option<String>,
    /// The HTTP status, when there was an HTTP answer.
    pub status: Option<u16>,
}

/// A failure with a stable [`ErrorCode`], a human message and, where the server gave one,
/// its reason: its [`ErrorFields`], read through `Deref` (`e.code`, `e.message`). One
/// pointer wide, so that every `Result<_, Error>` stays small in the wasm.
#[derive(Debug, Clone, PartialEq)]
pub struct Error(Box<ErrorFields>);

/// The fields of an [`Error`].
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorFields {
    /// What kind of failure this is.
    pub code: ErrorCode,
    /// A sentence for people; never contains a secret.
    pub message: String,
    /// The server's own reason, when there is one.
    pub server: Option<Box<ServerCause>>,
    /// A description of the underlying error (e.g. the browser's `TypeError`).
    pub cause: Option<String>,
}

impl ::core::ops::Deref for Error {
    type Target = ErrorFields;
    fn deref(&self) -> &ErrorFields {
        &self.0
    }
}

impl ::core::ops::DerefMut for Error {
    fn deref_mut(&mut self) -> &mut ErrorFields {
        &mut self.0
    }
}

impl From<ErrorFields> for Error {
    fn from(fields: ErrorFields) -> Error {
        Error(Box::new(fields))
    }
}

impl Error {
    /// An error with a code and a message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Error(Box::new(ErrorFields {
            code,
            message: message.into(),
            server: None,
            cause: None,
        }))
    }

    /// The fields, by value.
    pub fn into_fields(self) -> ErrorFields {
        *self.0
    }

    /// The same error with another message (the code, server reason and cause kept).
    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = message.into();
        self
    }

    /// The same error with the server's reason attached.
    pub fn with_server(mut self, server: ServerCause) -> Self {
        self.server = Some(Box::new(server));
        self
    }

    /// The same error with a description of the underlying error attached.
    pub fn with_cause(mut self, cause: impl Into<String>) -> Self {
        self.cause = Some(cause.into());
        self
    }

    /// Shorthand for [`ErrorCode::InvalidOptions`].
    pub fn options(message: impl Into<String>) -> Self {
        Error::new(ErrorCode::InvalidOptions, message)
    }

    /// An [`ErrorCode::InvalidOptions`] error about the option `name`: the name in
    /// backticks, then `rest` (`` `storage` must be a string ``).
    pub fn option(name: &str, rest: &str) -> Self {
        Error::options(cat(&["`", name, rest]))
    }

    /// Shorthand for [`ErrorCode::InvalidTokenResponse`].
    pub fn token_response(message: impl Into<String>) -> Self {
        Error::new(ErrorCode::InvalidTokenResponse, message)
    }

    /// Shorthand for [`ErrorCode::Network`].
    pub fn network(message: impl Into<String>) -> Self {
        Error::new(ErrorCode::Network, message)
    }

    /// Shorthand for [`ErrorCode::Storage`].
    pub fn storage(message: impl Into<String>) -> Self {
        Error::new(ErrorCode::Storage, message)
    }

    /// Shorthand for [`ErrorCode::SignedOut`].
    pub fn signed_out() -> Self {
        Error::new(ErrorCode::SignedOut, "there is no session: sign in first")
    }
}

/// `parts` joined into one message. Messages are built this way, not with `format!`:
/// `core::fmt` would add kilobytes to the wasm.
pub fn cat(parts: &[&str]) -> String {
    let mut s = String::with_capacity(parts.iter().map(|p| p.len()).sum());
    for p in parts {
        s.push_str(p);
    }
    s
}

/// `before`, the HTTP `status` in decimal, then `after`.
pub fn with_status(before: &str, status: u16, after: &str) -> String {
    let mut s = String::with_capacity(before.len() + 3 + after.len());
    s.push_str(before);
    crate::core::json::push_u64(&mut s, u64::from(status));
    s.push_str(after);
    s
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        f.write_str(" (")?;
        f.write_str(self.code.as_str())?;
        f.write_str(")")
    }
}

impl ::core::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::ErrorCode;

    #[test]
    fn a_server_code_never_spells_one_of_tokenwards_own() {
        // `ErrorCode::server`'s list of own codes is every variant but the ones a server
        // may name (`invalid_grant`, `access_denied`, mapped by the callers first).
        for own in [
            ErrorCode::InvalidOptions,
            ErrorCode::InvalidTokenResponse,
            ErrorCode::Network,
            ErrorCode::SignedOut,
            ErrorCode::Storage,
            ErrorCode::RevocationFailed,
            ErrorCode::InvalidState,
            ErrorCode::InvalidDiscovery,
            ErrorCode::Unsupported,
        ] {
            assert_eq!(ErrorCode::server(own.as_str()), None, "{own:?}");
        }
        assert_eq!(
            ErrorCode::server("login_required"),
            Some(ErrorCode::Server("login_required".into()))
        );
    }
}
