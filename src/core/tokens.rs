//! Token responses (RFC 6749 §5.1) and the token set the client keeps.
//!
//! A [`TokenResponse`] is what a token endpoint (or the app) hands over; it is checked
//! field by field and turned into a [`TokenSet`] stamped with the local time it arrived,
//! because the server's clock is not ours (DESIGN.md, "Expiry"). The [`TokenSet`] is also
//! what is stored, as one versioned JSON record.

use super::error::{cat, Error};
use super::json::{self, Json};
use super::jwt;
use crate::core::float;
use crate::prelude::*;

/// The longest lifetime taken from a response: ten years. Longer values are clamped so
/// that time arithmetic stays far from overflow.
const MAX_LIFETIME_MS: f64 = 10.0 * 365.0 * 24.0 * 3600.0 * 1000.0;

/// The version written in stored records; any other version is discarded.
pub const RECORD_VERSION: f64 = 1.0;

/// A token endpoint's successful answer, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenResponse {
    /// The access token: non-empty, printable ASCII without spaces (it goes into a header).
    pub access_token: String,
    /// Always `Bearer` (the only type this client can use), normalised from any case.
    pub token_type: String,
    /// Seconds the access token lives, when the server said.
    pub expires_in: Option<f64>,
    /// A (possibly rotated) refresh token.
    pub refresh_token: Option<String>,
    /// An OpenID Connect ID token.
    pub id_token: Option<String>,
    /// The granted scope.
    pub scope: Option<String>,
    /// Seconds the refresh token (the session) can still be used, when the server said
    /// (`refresh_expires_in`, sent by Keycloak); `0` there means "no limit" and is `None`.
    pub refresh_expires_in: Option<f64>,
}

pub(crate) fn header_safe(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| (0x21..0x7f).contains(&b))
}

fn opt_string<'a>(obj: &'a Json, name: &str) -> Result<Option<&'a str>, Error> {
    match obj.get(name) {
        None | Some(Json::Null) => Ok(None),
        Some(Json::Str(s)) if s.is_empty() => Ok(None),
        Some(Json::Str(s)) => Ok(Some(s)),
        Some(_) => Err(Error::token_response(cat(&[
            "`",
            name,
            "` must be a string",
        ]))),
    }
}

/// A finite number of seconds: a JSON number, or one sent as text (some servers do).
fn seconds(v: &Json) -> Option<f64> {
    match v {
        Json::Num(n) => Some(*n),
        Json::Str(s) => json::parse_number(s.trim_ascii()),
        _ => None,
    }
    .filter(|n| n.is_finite())
}

impl TokenResponse {
    /// Reads a token response from JSON text (a token endpoint's body, or what the app passed).
    pub fn parse(text: &str) -> Result<TokenResponse, Error> {
        let value = Json::parse(text).map_err(|e| {
            Error::token_response("the token response is not JSON").with_cause(e.describe())
        })?;
        TokenResponse::from_json(&value)
    }

    /// Reads a token response from a parsed JSON object.
    pub fn from_json(obj: &Json) -> Result<TokenResponse, Error> {
        if !matches!(obj, Json::Obj(_)) {
            return Err(Error::token_response("a token response must be an object"));
        }
        let access_token = match obj.get("access_token") {
            Some(Json::Str(s)) if header_safe(s) => s.as_str(),
            Some(Json::Str(_)) => {
                return Err(Error::token_response(
                    "`access_token` must be non-empty printable ASCII without spaces",
                ))
            }
            _ => return Err(Error::token_response("`access_token` is missing")),
        };
        let token_type = match obj.get("token_type") {
            None | Some(Json::Null) => "Bearer",
            Some(Json::Str(t)) if t.eq_ignore_ascii_case("bearer") => "Bearer",
            // RFC 9449 §5; whether the client accepts it is `dpop::check_token_type`'s call.
            Some(Json::Str(t)) if t.eq_ignore_ascii_case("dpop") => "DPoP",
            Some(Json::Str(_)) => {
                return Err(Error::token_response(
                    "only `token_type` Bearer or DPoP is supported",
                ))
            }
            Some(_) => return Err(Error::token_response("`token_type` must be a string")),
        };
        let expires_in = match obj.get("expires_in") {
            None | Some(Json::Null) => None,
            Some(v) => Some(seconds(v).filter(|n| *n >= 0.0).ok_or_else(|| {
                Error::token_response("`expires_in` must be a non-negative number of seconds")
            })?),
        };
        let refresh_token = opt_string(obj, "refresh_token")?;
        if let Some(rt) = refresh_token {
            if rt.chars().any(char::is_control) {
                return Err(Error::token_response(
                    "`refresh_token` has control characters",
                ));
            }
        }
        // An extension field: a value that is not a positive number of seconds says
        // nothing usable (Keycloak sends 0 for refresh tokens without a limit).
        let refresh_expires_in = obj
            .get("refresh_expires_in")
            .and_then(seconds)
            .filter(|n| *n > 0.0);
        let id_token = opt_string(obj, "id_token")?;
        let scope = opt_string(obj, "scope")?;
        // Owned copies only once nothing can fail.
        Ok(TokenResponse {
            access_token: access_token.to_string(),
            token_type: token_type.to_string(),
            expires_in,
            refresh_token: refresh_token.map(str::to_string),
            id_token: id_token.map(str::to_string),
            scope: scope.map(str::to_string),
            refresh_expires_in,
        })
    }
}

/// The lifetime a JWT states, in ms: `exp − iat`, or failing `iat`, from `exp` to `now`.
/// `None` for a token that is not a JWT or has no `exp`.
fn jwt_lifetime_ms(token: &str, now: f64) -> Option<f64> {
    let c = jwt::decode(token)?;
    match (c.number("exp"), c.number("iat")) {
        (Some(exp), Some(iat)) => Some((exp - iat).max(0.0) * 1000.0),
        (Some(exp), None) => Some((exp * 1000.0 - now).max(0.0)),
        _ => None,
    }
}

/// The tokens the client holds, with the local times that decide refreshing.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenSet {
    /// The access token.
    pub access_token: String,
    /// The scheme for the `Authorization` header (`Bearer`).
    pub token_type: String,
    /// The refresh token, if any.
    pub refresh_token: Option<String>,
    /// The ID token, if any.
    pub id_token: Option<String>,
    /// The granted scope, if known.
    pub scope: Option<String>,
    /// Local time (ms since epoch) the response arrived.
    pub received_at: f64,
    /// Local time (ms since epoch) the access token expires; `None` when unknown
    /// (then it is valid until the server answers 401).
    pub expires_at: Option<f64>,
    /// Local time the session began (the first tokens of this sign-in), carried over by
    /// every refresh.
    pub session_started_at: f64,
    /// Local time after which the refresh token can no longer be used, when known: from
    /// `refresh_expires_in`, or a JWT refresh token's `exp` (as `exp − iat` on the local
    /// clock). A refresh that brings no word on it keeps the previous value, unless it
    /// brought a new refresh token.
    pub session_ends_at: Option<f64>,
    /// Counts the token sets of a session: 1 for the first, one more for each refresh.
    /// Tabs order records by it, never by a wall-clock time (a clock set back would make
    /// a tab refuse a newer record and later spend a rotated refresh token).
    pub generation: f64,
}

impl TokenSet {
    /// Stamps a response with the local time it arrived. Expiry comes from `expires_in`;
    /// only when that is absent from the JWT's `exp − iat` (both on the server's clock, so
    /// their difference is a lifetime), and failing `iat`, from `exp` itself.
    /// `previous` supplies what a refresh response may leave out (refresh token, ID token, scope).
    pub fn from_response(resp: TokenResponse, now: f64, previous: Option<&TokenSet>) -> TokenSet {
        let lifetime_ms = match resp.expires_in {
            Some(s) => Some(s * 1000.0),
            None => jwt_lifetime_ms(&resp.access_token, now),
        };
        // Whole milliseconds: records stay exact and compact.
        let now = float::round(now);
        let expires_at = lifetime_ms.map(|ms| now + float::round(ms.min(MAX_LIFETIME_MS)));
        let session_lifetime_ms = match resp.refresh_expires_in {
            Some(s) => Some(s * 1000.0),
            None => jwt_lifetime_ms(resp.refresh_token.as_deref().unwrap_or_default(), now),
        };
        let session_ends_at = match session_lifetime_ms {
            Some(ms) => Some(now + float::round(ms.min(MAX_LIFETIME_MS))),
            None if resp.refresh_token.is_none() => previous.and_then(|p| p.session_ends_at),
            None => None,
        };
        let session_started_at = previous.map_or(now, |p| p.session_started_at);
        TokenSet {
            access_token: resp.access_token,
            token_type: resp.token_type,
            refresh_token: resp
                .refresh_token
                .or_else(|| previous.and_then(|p| p.refresh_token.clone())),
            id_token: resp
                .id_token
                .or_else(|| previous.and_then(|p| p.id_token.clone())),
            scope: resp
                .scope
                .or_else(|| previous.and_then(|p| p.scope.clone())),
            received_at: now,
            expires_at,
            session_started_at,
            session_ends_at,
            generation: previous.map_or(1.0, |p| p.generation + 1.0),
        }
    }

    /// The access token's lifetime in ms, when known.
    pub fn lifetime(&self) -> Option<f64> {
        self.expires_at.map(|e| (e - self.received_at).max(0.0))
    }

    /// Whether the access token has expired at `now`.
    pub fn expired(&self, now: f64) -> bool {
        self.expires_at.is_some_and(|e| now >= e)
    }

    /// The `Authorization` header value.
    pub fn authorization(&self) -> String {
        cat(&[&self.token_type, " ", &self.access_token])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6749_5_1_minimal_response() {
        let r = TokenResponse::parse(
            r#"{"access_token":"abc","token_type":"bearer","expires_in":3600}"#,
        )
        .unwrap();
        assert_eq!(r.token_type, "Bearer");
        assert_eq!(r.expires_in, Some(3600.0));
        let t = TokenSet::from_response(r, 1000.0, None);
        assert_eq!(t.expires_at, Some(1000.0 + 3_600_000.0));
    }

    #[test]
    fn rfc6749_5_1_bad_fields_are_typed_errors() {
        for bad in [
            r#"{}"#,
            r#"[]"#,
            r#"{"access_token":""}"#,
            r#"{"access_token":"a b"}"#,
            r#"{"access_token":"a\nb"}"#,
            r#"{"access_token":5}"#,
            r#"{"access_token":"a","expires_in":-1}"#,
            r#"{"access_token":"a","expires_in":"soon"}"#,
            r#"{"access_token":"a","expires_in":true}"#,
            r#"{"access_token":"a","token_type":"mac"}"#,
            r#"{"access_token":"a","refresh_token":7}"#,
            "not json",
        ] {
            let e = TokenResponse::parse(bad).unwrap_err();
            assert_eq!(e.code.as_str(), "invalid_token_response", "{bad}");
        }
    }

    #[test]
    fn expiry_from_jwt_lifetime_only_without_expires_in() {
        let payload = jwt::base64url_encode(br#"{"exp":2000000300,"iat":2000000000}"#);
        let token = format!("e30.{payload}.sig");
        let r = TokenResponse::parse(&format!(r#"{{"access_token":"{token}"}}"#)).unwrap();
        // Server clock is far in the future; only the 300 s lifetime counts.
        let t = TokenSet::from_response(r, 5_000.0, None);
        assert_eq!(t.expires_at, Some(5_000.0 + 300_000.0));
        let r = TokenResponse::parse(&format!(r#"{{"access_token":"{token}","expires_in":60}}"#))
            .unwrap();
        assert_eq!(
            TokenSet::from_response(r, 0.0, None).expires_at,
            Some(60_000.0)
        );
        let r = TokenResponse::parse(r#"{"access_token":"opaque"}"#).unwrap();
        assert_eq!(TokenSet::from_response(r, 0.0, None).expires_at, None);
    }

    #[test]
    fn refresh_keeps_what_the_response_leaves_out() {
        let first = TokenSet::from_response(
            TokenResponse::parse(
                r#"{"access_token":"a1","refresh_token":"r1","scope":"openid","expires_in":5}"#,
            )
            .unwrap(),
            0.0,
            None,
        );
        let second = TokenSet::from_response(
            TokenResponse::parse(r#"{"access_token":"a2","expires_in":5}"#).unwrap(),
            10.0,
            Some(&first),
        );
        assert_eq!(second.refresh_token.as_deref(), Some("r1"));
        assert_eq!(second.scope.as_deref(), Some("openid"));
        let third = TokenSet::from_response(
            TokenResponse::parse(r#"{"access_token":"a3","refresh_token":"r2","expires_in":5}"#)
                .unwrap(),
            20.0,
            Some(&second),
        );
        assert_eq!(third.refresh_token.as_deref(), Some("r2"));
    }
}
