//! How much untrusted text tokenward reads at most. Anything longer is refused before it
//! is copied into the module's memory (the shell checks the length of the JS string
//! first), so that a hostile or broken server, tab or storage entry cannot make the
//! module grow without bound.

use super::error::{Error, ErrorCode};

/// A token-endpoint, revocation or discovery answer's body (UTF-16 code units). Real token
/// responses with an ID token are a few KiB; discovery documents tens of KiB.
pub const MAX_HTTP_BODY: usize = 256 * 1024;

/// A stored session record (access, refresh and ID token with their times).
pub const MAX_RECORD: usize = 64 * 1024;

/// A message from another tab (at most a record and a few fields).
pub const MAX_TAB_MESSAGE: usize = MAX_RECORD + 1024;

/// `Ok` when `len` is within `limit`; otherwise an error of `code` that says what was too
/// long (never its content).
pub fn check(len: usize, limit: usize, code: ErrorCode, what: &'static str) -> Result<(), Error> {
    if len <= limit {
        Ok(())
    } else {
        Err(Error::new(code, what))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn within_and_over_the_limit() {
        assert!(check(0, 10, ErrorCode::Storage, "x").is_ok());
        assert!(check(10, 10, ErrorCode::Storage, "x").is_ok());
        let e = check(
            11,
            10,
            ErrorCode::Storage,
            "the stored session is too large",
        )
        .unwrap_err();
        assert_eq!(e.code, ErrorCode::Storage);
        assert_eq!(e.message, "the stored session is too large");
        const { assert!(MAX_TAB_MESSAGE > MAX_RECORD) };
    }
}
