//! ID tokens that arrive with a refresh (OpenID Connect Core §12.2): they must name the
//! same issuer (`iss`), subject (`sub`) and audience (`aud`) as the session's ID token, the
//! configured issuer, and this client; they must have an `exp` after their `iat` and not
//! before the session's ID token's (with the sign-in's leeway: a replayed older token
//! expires first), compared with each other and not with this device's clock, which may
//! be off by hours (a refresh must not fail for that); and a `nonce` they carry must be
//! the session's ID token's. Anything else means the
//! answer belongs to another user, client or sign-in (a mix-up, a replay): the refresh is
//! refused as terminal, because the rotated refresh token that came with it cannot be
//! trusted either.

use super::error::Error;
use super::jwt::{self, Claims};
use super::oidc::ID_TOKEN_LEEWAY_SECONDS;

fn refused(message: &'static str) -> Error {
    Error::token_response(message)
}

/// The same set of audiences, in any order (no sort: it would cost the download more than
/// the comparison of these few items).
fn same_audiences(a: &Claims, b: &Claims) -> bool {
    let (a, b) = (a.audiences(), b.audiences());
    a.iter().all(|x| b.contains(x)) && b.iter().all(|x| a.contains(x))
}

/// Checks `new`, the ID token of a refresh response, against the session's previous ID
/// token (if any), the configured `issuer` and `client_id`. Every failure is
/// `invalid_token_response`.
pub fn check(
    new: &str,
    previous: Option<&str>,
    issuer: Option<&str>,
    client_id: Option<&str>,
) -> Result<(), Error> {
    let claims = jwt::decode(new).ok_or_else(|| refused("the refreshed ID token is not a JWT"))?;
    let iss = claims
        .string("iss")
        .ok_or_else(|| refused("the refreshed ID token has no `iss`"))?;
    let sub = claims
        .string("sub")
        .ok_or_else(|| refused("the refreshed ID token has no `sub`"))?;
    if issuer.is_some_and(|expected| expected != iss) {
        return Err(refused(
            "the refreshed ID token was issued by another issuer (`iss`)",
        ));
    }
    if let Some(id) = client_id {
        if !claims.audiences().contains(&id) {
            return Err(refused(
                "the refreshed ID token is meant for another client (`aud`)",
            ));
        }
    }
    let exp = claims
        .number("exp")
        .ok_or_else(|| refused("the refreshed ID token has no `exp`"))?;
    if claims.number("iat").is_some_and(|iat| exp <= iat) {
        return Err(refused("the refreshed ID token has expired (`exp`)"));
    }
    let Some(before) = previous.and_then(jwt::decode) else {
        return Ok(());
    };
    if before
        .number("exp")
        .is_some_and(|old| exp + ID_TOKEN_LEEWAY_SECONDS < old)
    {
        return Err(refused(
            "the refreshed ID token expires before the session's (`exp`)",
        ));
    }
    if let (Some(nonce), Some(original)) = (claims.string("nonce"), before.string("nonce")) {
        if nonce != original {
            return Err(refused(
                "the refreshed ID token's `nonce` differs from the session's",
            ));
        }
    }
    if before.string("iss") != Some(iss) {
        return Err(refused(
            "the refreshed ID token's `iss` differs from the session's",
        ));
    }
    if before.string("sub") != Some(sub) {
        return Err(refused(
            "the refreshed ID token's `sub` differs from the session's",
        ));
    }
    if !same_audiences(&before, &claims) {
        return Err(refused(
            "the refreshed ID token's `aud` differs from the session's",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::ErrorCode;
    use crate::prelude::*;

    fn token(payload: &str) -> String {
        format!("e30.{}.sig", jwt::base64url_encode(payload.as_bytes()))
    }

    const ISS: &str = "https://op.example";

    fn first() -> String {
        token(
            r#"{"iss":"https://op.example","sub":"u1","aud":["spa","api"],"nonce":"n1","exp":1700000000}"#,
        )
    }

    #[test]
    fn the_same_issuer_subject_and_audience_pass() {
        let same = token(
            r#"{"iss":"https://op.example","sub":"u1","aud":["api","spa","spa"],"exp":1700000300}"#,
        );
        assert!(check(&same, Some(&first()), Some(ISS), Some("spa")).is_ok());
        // The session's nonce again, or none (§12.2: it should not be there at all); `exp`
        // before the session's within the leeway, whatever this device's clock says.
        let nonce = token(
            r#"{"iss":"https://op.example","sub":"u1","aud":["spa","api"],"nonce":"n1","exp":1699999970,"iat":1699996370}"#,
        );
        assert!(check(&nonce, Some(&first()), Some(ISS), Some("spa")).is_ok());
        // Without a previous ID token, only the configuration is checked.
        assert!(check(&same, None, Some(ISS), Some("spa")).is_ok());
        assert!(check(&same, Some("opaque"), None, None).is_ok());
    }

    #[test]
    fn every_mismatch_is_refused() {
        let cases = [
            ("not a jwt", "not.a.jwt!"),
            ("no iss", r#"{"sub":"u1","aud":"spa"}"#),
            ("no sub", r#"{"iss":"https://op.example","aud":"spa"}"#),
            (
                "other user",
                r#"{"iss":"https://op.example","sub":"u2","aud":["spa","api"]}"#,
            ),
            (
                "other issuer",
                r#"{"iss":"https://evil.example","sub":"u1","aud":["spa","api"]}"#,
            ),
            (
                "other client",
                r#"{"iss":"https://op.example","sub":"u1","aud":["other"]}"#,
            ),
            (
                "audience changed",
                r#"{"iss":"https://op.example","sub":"u1","aud":["spa"]}"#,
            ),
            (
                "sub type",
                r#"{"iss":"https://op.example","sub":7,"aud":["spa","api"]}"#,
            ),
            (
                "another sign-in",
                r#"{"iss":"https://op.example","sub":"u1","aud":["spa","api"],"nonce":"n2"}"#,
            ),
            (
                "expires before the session's",
                r#"{"exp":1699999939,"iss":"https://op.example","sub":"u1","aud":["spa","api"]}"#,
            ),
            (
                "expired when issued",
                r#"{"exp":1700000300,"iat":1700000300,"iss":"https://op.example","sub":"u1","aud":["spa","api"]}"#,
            ),
            (
                "no exp",
                r#"{"iss":"https://op.example","sub":"u1","aud":["spa","api"]}"#,
            ),
        ];
        for (name, payload) in cases {
            let t = match name {
                "not a jwt" => payload.to_string(),
                "expires before the session's" | "expired when issued" | "no exp" => token(payload),
                // Valid until 5 minutes from now: refused for its own reason.
                _ => token(&payload.replacen('{', r#"{"exp":1700000300,"#, 1)),
            };
            let e = check(&t, Some(&first()), Some(ISS), Some("spa")).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidTokenResponse, "{name}");
            assert!(
                !e.message.contains("u1"),
                "{name}: no claim values in the message"
            );
        }
    }

    #[test]
    fn the_configured_issuer_is_checked_without_a_previous_token() {
        let other =
            token(r#"{"iss":"https://evil.example","sub":"u1","aud":"spa","exp":1700000300}"#);
        assert!(check(&other, None, Some(ISS), Some("spa")).is_err());
        assert!(check(&other, None, None, Some("spa")).is_ok());
    }
}
