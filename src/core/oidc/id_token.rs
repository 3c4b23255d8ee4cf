//! ID-token validation (OpenID Connect Core 1.0 §3.1.3.7) for a sign-in's token
//! response, and the claims `idClaims` shows.

use super::authorize::Pending;
use super::{same_secret, scope_has_openid, ID_TOKEN_LEEWAY_SECONDS};
use crate::core::error::{cat, Error};
use crate::core::jwt::{self, Claims};
use crate::core::tokens::TokenResponse;

fn bad_id_token(message: &str) -> Error {
    Error::token_response(cat(&["the ID token ", message]))
}

/// Checks the claims every ID token of this client must have (OpenID Connect Core
/// §3.1.3.7 steps 2–5): `iss` is the issuer (when known), `aud` contains the client, and
/// an `azp` present names the client.
fn check_audience_and_issuer(
    claims: &Claims,
    issuer: Option<&str>,
    client_id: &str,
) -> Result<(), Error> {
    if let Some(expected) = issuer {
        if claims.string("iss") != Some(expected) {
            return Err(bad_id_token("was issued by another issuer (`iss`)"));
        }
    }
    if !claims.audiences().contains(&client_id) {
        return Err(bad_id_token("is meant for another client (`aud`)"));
    }
    if let Some(azp) = claims.value.get("azp") {
        if azp.as_str() != Some(client_id) {
            return Err(bad_id_token("was authorized for another client (`azp`)"));
        }
    }
    Ok(())
}

/// Checks the token response of a sign-in: when the scope asked for contains `openid` it
/// must carry an ID token; an ID token must be a JWT whose `iss`, `aud` (and `azp`),
/// `exp` (with [`ID_TOKEN_LEEWAY_SECONDS`]) and `nonce` are right (OpenID Connect Core
/// §3.1.3.7; the signature is not checked, as §3.1.3.7 step 6 allows for a token received
/// directly from the token endpoint over TLS). Every failure is `invalid_token_response`.
/// Returns the ID token's claims, if there is one.
pub fn check_sign_in_tokens(
    response: &TokenResponse,
    pending: &Pending,
    now_ms: f64,
) -> Result<Option<Claims>, Error> {
    let Some(id_token) = &response.id_token else {
        if scope_has_openid(&pending.scope) {
            return Err(Error::token_response(
                "the sign-in asked for `openid` but the token response has no ID token",
            ));
        }
        return Ok(None);
    };
    let claims = jwt::decode(id_token).ok_or_else(|| bad_id_token("is not a JWT"))?;
    check_audience_and_issuer(&claims, pending.issuer.as_deref(), &pending.client_id)?;
    let exp = claims
        .number("exp")
        .ok_or_else(|| bad_id_token("has no `exp`"))?;
    if now_ms / 1000.0 > exp + ID_TOKEN_LEEWAY_SECONDS {
        return Err(bad_id_token("has expired (`exp`)"));
    }
    match claims.string("nonce") {
        Some(n) if same_secret(n, &pending.nonce) => {}
        Some(_) => return Err(bad_id_token("answers another sign-in (`nonce`)")),
        None => return Err(bad_id_token("has no `nonce`")),
    }
    Ok(Some(claims))
}

/// The claims `idClaims` shows for the ID token the session holds. Its `exp` and `nonce`
/// were checked when it arrived; here `iss` and `aud` are checked again (the token may
/// come from storage or a refresh). `None` without a client id, or when a check fails.
pub fn id_claims(id_token: &str, issuer: Option<&str>, client_id: Option<&str>) -> Option<Claims> {
    let claims = jwt::decode(id_token)?;
    check_audience_and_issuer(&claims, issuer, client_id?).ok()?;
    Some(claims)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::error::ErrorCode;
    use crate::core::oidc::testing::*;
    use crate::core::oidc::*;

    #[test]
    fn oidc_core_3_1_3_7_id_token_is_validated() {
        let p = pending();
        let claims = check_sign_in_tokens(&tokens_with(Some(id_token(&good_claims()))), &p, NOW_MS)
            .unwrap()
            .unwrap();
        assert_eq!(claims.string("sub"), Some("alice"));
        let multi = good_claims().replace(r#""aud":"spa""#, r#""aud":["api","spa"],"azp":"spa""#);
        assert!(check_sign_in_tokens(&tokens_with(Some(id_token(&multi))), &p, NOW_MS).is_ok());
        let bad = [
            ("iss", good_claims().replace(ISSUER, "https://evil.example")),
            (
                "iss",
                good_claims().replace(&format!(r#""iss":"{ISSUER}","#), ""),
            ),
            (
                "aud",
                good_claims().replace(r#""aud":"spa""#, r#""aud":"other""#),
            ),
            (
                "aud",
                good_claims().replace(r#""aud":"spa""#, r#""aud":["other"]"#),
            ),
            (
                "azp",
                good_claims().replace(r#""aud":"spa""#, r#""aud":["spa","api"],"azp":"api""#),
            ),
            ("exp", good_claims().replace("1700000300", "1699999939")),
            ("exp", good_claims().replace(r#""exp":1700000300,"#, "")),
            ("nonce", good_claims().replace("n0nce", "other")),
            ("nonce", good_claims().replace(r#","nonce":"n0nce""#, "")),
        ];
        for (claim, payload) in &bad {
            let e = check_sign_in_tokens(&tokens_with(Some(id_token(payload))), &p, NOW_MS)
                .unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidTokenResponse, "{payload}");
            assert!(e.message.contains(claim), "{} / {claim}", e.message);
        }
        let opaque =
            check_sign_in_tokens(&tokens_with(Some("opaque".into())), &p, NOW_MS).unwrap_err();
        assert_eq!(opaque.code, ErrorCode::InvalidTokenResponse);
    }

    #[test]
    fn oidc_core_3_1_3_7_exp_has_a_small_leeway() {
        let p = pending();
        // exp 30 s ago is accepted, 61 s ago is not.
        let recent = good_claims().replace("1700000300", "1699999970");
        assert!(check_sign_in_tokens(&tokens_with(Some(id_token(&recent))), &p, NOW_MS).is_ok());
        let old = good_claims().replace("1700000300", "1699999939");
        assert!(check_sign_in_tokens(&tokens_with(Some(id_token(&old))), &p, NOW_MS).is_err());
    }

    #[test]
    fn oidc_core_3_1_3_3_openid_scope_requires_an_id_token() {
        let e = check_sign_in_tokens(&tokens_with(None), &pending(), NOW_MS).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidTokenResponse);
        let no_openid = Pending {
            scope: "api:read".into(),
            ..pending()
        };
        assert_eq!(
            check_sign_in_tokens(&tokens_with(None), &no_openid, NOW_MS),
            Ok(None)
        );
        assert!(scope_has_openid("api:read openid"));
        assert!(!scope_has_openid("openidx api"));
    }

    #[test]
    fn stored_id_tokens_are_shown_after_iss_and_aud_checks() {
        let t = id_token(&good_claims());
        assert!(id_claims(&t, Some(ISSUER), Some("spa")).is_some());
        assert!(id_claims(&t, None, Some("spa")).is_some());
        assert!(id_claims(&t, Some("https://evil.example"), Some("spa")).is_none());
        assert!(id_claims(&t, Some(ISSUER), Some("other")).is_none());
        assert!(id_claims(&t, Some(ISSUER), None).is_none());
        assert!(id_claims("opaque", Some(ISSUER), Some("spa")).is_none());
    }
}
