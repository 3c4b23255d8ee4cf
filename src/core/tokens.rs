//! Token responses (RFC 6749 §5.1) and the token set the client keeps.
//!
//! A [`TokenResponse`] is what a token endpoint (or the app) hands over; it is checked
//! field by field and turned into a [`TokenSet`] stamped with the local time it arrived,
//! because the server's clock is not ours (DESIGN.md, "Expiry"). The [`TokenSet`] is also
//! what is stored, as one versioned JSON record.

use super::error::{Error, ErrorCode, ServerCause};
use super::json::{self, Json};
use super::jwt;
use super::session::Failure;

/// The longest lifetime taken from a response: ten years. Longer values are clamped so
/// that time arithmetic stays far from overflow.
const MAX_LIFETIME_MS: f64 = 10.0 * 365.0 * 24.0 * 3600.0 * 1000.0;

/// The version written in stored records; any other version is discarded.
pub const RECORD_VERSION: f64 = 1.0;

/// FNV-1a, 64 bits: a small stable hash (not a secret, not for security) that names an
/// app's storage without writing its issuer and client id into every key.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// What identifies the app a session belongs to: the FNV-1a 64 hash, as 16 hex digits,
/// of `server + "\n" + client_id`, where `server` is the issuer or else the token
/// endpoint, as given. `None` when neither a server nor a client id is given.
pub fn app_id(server: Option<&str>, client_id: Option<&str>) -> Option<String> {
    if server.is_none() && client_id.is_none() {
        return None;
    }
    let text = format!("{}\n{}", server.unwrap_or(""), client_id.unwrap_or(""));
    Some(format!("{:016x}", fnv1a64(text.as_bytes())))
}

/// The default `storageKey`: `tokenward:<app id>`, or `tokenward` for a client that names
/// neither a server nor a client id (as every client did before keys were derived), so
/// two apps on one origin never share a session.
pub fn default_storage_key(app: Option<&str>) -> String {
    match app {
        Some(id) => format!("tokenward:{id}"),
        None => "tokenward".to_string(),
    }
}

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

fn header_safe(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| (0x21..0x7f).contains(&b))
}

fn opt_string(obj: &Json, name: &str) -> Result<Option<String>, Error> {
    match obj.get(name) {
        None | Some(Json::Null) => Ok(None),
        Some(Json::Str(s)) if s.is_empty() => Ok(None),
        Some(Json::Str(s)) => Ok(Some(s.clone())),
        Some(_) => Err(Error::token_response(format!("`{name}` must be a string"))),
    }
}

impl TokenResponse {
    /// Reads a token response from JSON text (a token endpoint's body, or what the app passed).
    pub fn parse(text: &str) -> Result<TokenResponse, Error> {
        let value = Json::parse(text).map_err(|e| {
            Error::token_response("the token response is not JSON").with_cause(e.to_string())
        })?;
        TokenResponse::from_json(&value)
    }

    /// Reads a token response from a parsed JSON object.
    pub fn from_json(obj: &Json) -> Result<TokenResponse, Error> {
        if !matches!(obj, Json::Obj(_)) {
            return Err(Error::token_response("a token response must be an object"));
        }
        let access_token = match obj.get("access_token") {
            Some(Json::Str(s)) if header_safe(s) => s.clone(),
            Some(Json::Str(_)) => {
                return Err(Error::token_response(
                    "`access_token` must be non-empty printable ASCII without spaces",
                ))
            }
            _ => return Err(Error::token_response("`access_token` is missing")),
        };
        let token_type = match obj.get("token_type") {
            None | Some(Json::Null) => "Bearer".to_string(),
            Some(Json::Str(t)) if t.eq_ignore_ascii_case("bearer") => "Bearer".to_string(),
            // RFC 9449 §5; whether the client accepts it is `dpop::check_token_type`'s call.
            Some(Json::Str(t)) if t.eq_ignore_ascii_case("dpop") => "DPoP".to_string(),
            Some(Json::Str(_)) => {
                return Err(Error::token_response(
                    "only `token_type` Bearer or DPoP is supported",
                ))
            }
            Some(_) => return Err(Error::token_response("`token_type` must be a string")),
        };
        let expires_in = match obj.get("expires_in") {
            None | Some(Json::Null) => None,
            Some(Json::Num(n)) => Some(*n),
            // Some servers send the number as text; it is still a number.
            Some(Json::Str(s)) => Some(json::parse_number(s.trim()).ok_or_else(|| {
                Error::token_response("`expires_in` must be a number of seconds")
            })?),
            Some(_) => {
                return Err(Error::token_response(
                    "`expires_in` must be a number of seconds",
                ))
            }
        };
        if let Some(n) = expires_in {
            if !n.is_finite() || n < 0.0 {
                return Err(Error::token_response(
                    "`expires_in` must be a non-negative number of seconds",
                ));
            }
        }
        let refresh_token = opt_string(obj, "refresh_token")?;
        if let Some(rt) = &refresh_token {
            if rt.chars().any(char::is_control) {
                return Err(Error::token_response(
                    "`refresh_token` has control characters",
                ));
            }
        }
        // An extension field: a value that is not a positive number of seconds says
        // nothing usable (Keycloak sends 0 for refresh tokens without a limit).
        let refresh_expires_in = match obj.get("refresh_expires_in") {
            Some(Json::Num(n)) => Some(*n),
            Some(Json::Str(s)) => json::parse_number(s.trim()),
            _ => None,
        }
        .filter(|n| n.is_finite() && *n > 0.0);
        Ok(TokenResponse {
            access_token,
            token_type,
            expires_in,
            refresh_token,
            id_token: opt_string(obj, "id_token")?,
            scope: opt_string(obj, "scope")?,
            refresh_expires_in,
        })
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
            None => jwt::decode(&resp.access_token).and_then(|c| {
                match (c.number("exp"), c.number("iat")) {
                    (Some(exp), Some(iat)) => Some((exp - iat).max(0.0) * 1000.0),
                    (Some(exp), None) => Some((exp * 1000.0 - now).max(0.0)),
                    _ => None,
                }
            }),
        };
        // Whole milliseconds: records stay exact and compact.
        let now = now.round();
        let expires_at = lifetime_ms.map(|ms| now + ms.min(MAX_LIFETIME_MS).round());
        let session_lifetime_ms = resp.refresh_expires_in.map(|s| s * 1000.0).or_else(|| {
            let c = jwt::decode(resp.refresh_token.as_deref()?)?;
            match (c.number("exp"), c.number("iat")) {
                (Some(exp), Some(iat)) => Some((exp - iat).max(0.0) * 1000.0),
                (Some(exp), None) => Some((exp * 1000.0 - now).max(0.0)),
                _ => None,
            }
        });
        let session_ends_at = match session_lifetime_ms {
            Some(ms) => Some(now + ms.min(MAX_LIFETIME_MS).round()),
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
        format!("{} {}", self.token_type, self.access_token)
    }

    /// The versioned JSON record written to storage and sent to other tabs, for no app
    /// in particular (see [`TokenSet::to_record_for`]).
    pub fn to_record(&self) -> String {
        self.to_record_for(None)
    }

    /// The record, bound to the app `app` (see [`app_id`]): only that app adopts it.
    pub fn to_record_for(&self, app: Option<&str>) -> String {
        let mut members = vec![("v".to_string(), Json::Num(RECORD_VERSION))];
        if let Some(a) = app {
            members.push(("app".to_string(), Json::Str(a.to_string())));
        }
        members.extend([
            (
                "access_token".to_string(),
                Json::Str(self.access_token.clone()),
            ),
            ("token_type".to_string(), Json::Str(self.token_type.clone())),
            ("received_at".to_string(), Json::Num(self.received_at)),
        ]);
        let mut opt = |name: &str, v: &Option<String>| {
            if let Some(s) = v {
                members.push((name.to_string(), Json::Str(s.clone())));
            }
        };
        opt("refresh_token", &self.refresh_token);
        opt("id_token", &self.id_token);
        opt("scope", &self.scope);
        if let Some(e) = self.expires_at {
            members.push(("expires_at".to_string(), Json::Num(e)));
        }
        members.push((
            "session_started_at".to_string(),
            Json::Num(self.session_started_at),
        ));
        if let Some(e) = self.session_ends_at {
            members.push(("session_ends_at".to_string(), Json::Num(e)));
        }
        members.push(("generation".to_string(), Json::Num(self.generation)));
        Json::Obj(members).to_text()
    }

    /// Reads a stored record. Anything that is not exactly what [`TokenSet::to_record`]
    /// writes (truncated, tampered, another version) is an error, so that it is removed.
    pub fn from_record(text: &str) -> Result<TokenSet, Error> {
        let v = Json::parse(text).map_err(|e| {
            Error::storage("the stored session is not readable").with_cause(e.to_string())
        })?;
        TokenSet::from_record_json(&v)
    }

    /// Reads a record for the app `app`: `Ok(None)` when it belongs to another app (or,
    /// written before records were bound, to no app while this one has an id): not ours,
    /// so it is neither used nor removed. A record that is not readable is an error.
    pub fn from_record_for(text: &str, app: Option<&str>) -> Result<Option<TokenSet>, Error> {
        let v = Json::parse(text).map_err(|e| {
            Error::storage("the stored session is not readable").with_cause(e.to_string())
        })?;
        match v.get("app") {
            Some(Json::Str(owner)) if Some(owner.as_str()) != app => Ok(None),
            Some(Json::Str(_)) => TokenSet::from_record_json(&v).map(Some),
            Some(_) => Err(Error::storage("the stored session has a bad `app`")),
            // No app id: a record of an earlier version. Unreadable, it is removed like
            // any corrupt record; readable, it is ours only if we have no app id either.
            None => {
                let tokens = TokenSet::from_record_json(&v)?;
                Ok(if app.is_none() { Some(tokens) } else { None })
            }
        }
    }

    /// Reads a stored record already parsed.
    pub fn from_record_json(v: &Json) -> Result<TokenSet, Error> {
        let bad =
            || Error::storage("the stored session is not a tokenward record of a known version");
        if v.get("v").and_then(Json::as_f64) != Some(RECORD_VERSION) {
            return Err(bad());
        }
        let s = |name: &str| -> Result<Option<String>, Error> {
            match v.get(name) {
                None => Ok(None),
                Some(Json::Str(s)) => Ok(Some(s.clone())),
                Some(_) => Err(bad()),
            }
        };
        let access_token = s("access_token")?
            .filter(|t| header_safe(t))
            .ok_or_else(bad)?;
        let token_type = s("token_type")?
            .filter(|t| t == "Bearer" || t == "DPoP")
            .ok_or_else(bad)?;
        let received_at = v
            .get("received_at")
            .and_then(Json::as_f64)
            .filter(|n| n.is_finite())
            .ok_or_else(bad)?;
        let expires_at = match v.get("expires_at") {
            None => None,
            Some(Json::Num(n)) if n.is_finite() && *n >= received_at => Some(*n),
            Some(_) => return Err(bad()),
        };
        // Records written before the session's times were kept have neither: the session
        // then counts from the last tokens, with no known end.
        let time = |name: &str| -> Result<Option<f64>, Error> {
            match v.get(name) {
                None => Ok(None),
                Some(Json::Num(n)) if n.is_finite() => Ok(Some(*n)),
                Some(_) => Err(bad()),
            }
        };
        let session_started_at = time("session_started_at")?.unwrap_or(received_at);
        let session_ends_at = time("session_ends_at")?;
        // Records from before generations were counted read as the first.
        let generation = match time("generation")? {
            None => 1.0,
            Some(g) if g >= 0.0 && g.fract() == 0.0 => g,
            Some(_) => return Err(bad()),
        };
        Ok(TokenSet {
            access_token,
            token_type,
            refresh_token: s("refresh_token")?,
            id_token: s("id_token")?,
            scope: s("scope")?,
            received_at,
            expires_at,
            session_started_at,
            session_ends_at,
            generation,
        })
    }
}

/// Encodes `pairs` as `application/x-www-form-urlencoded` (the body of token,
/// revocation and authorization requests).
pub fn form_encode(pairs: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (n, (k, v)) in pairs.iter().enumerate() {
        if n > 0 {
            out.push('&');
        }
        percent_encode(k, &mut out);
        out.push('=');
        percent_encode(v, &mut out);
    }
    out
}

fn percent_encode(s: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(char::from(b))
            }
            b' ' => out.push('+'),
            _ => {
                out.push('%');
                out.push(char::from(
                    HEX.get(usize::from(b >> 4)).copied().unwrap_or(b'0'),
                ));
                out.push(char::from(
                    HEX.get(usize::from(b & 15)).copied().unwrap_or(b'0'),
                ));
            }
        }
    }
}

/// Reads an error answer of a token endpoint (RFC 6749 §5.2): `(error, error_description)`.
pub fn parse_error_body(text: &str) -> (Option<String>, Option<String>) {
    match Json::parse(text) {
        Ok(v) => (
            v.get("error").and_then(Json::as_str).map(str::to_string),
            v.get("error_description")
                .and_then(Json::as_str)
                .map(str::to_string),
        ),
        Err(_) => (None, None),
    }
}

/// Decides what a token endpoint's answer means (RFC 6749 §5.1, §5.2): new tokens, a
/// transient failure (5xx, 429, 408: try again, after `retry_after_ms` if the server
/// said), or a terminal one (400/401, e.g. `invalid_grant`: the session is over).
pub fn token_answer(
    status: u16,
    body: &str,
    retry_after_ms: Option<f64>,
) -> Result<TokenResponse, (Failure, Error)> {
    let cause = |body: &str| {
        let (error, error_description) = parse_error_body(body);
        ServerCause {
            error,
            error_description,
            status: Some(status),
        }
    };
    match status {
        200..=299 => TokenResponse::parse(body).map_err(|e| (Failure::Transient(None), e)),
        400 | 401 => {
            let server = cause(body);
            let code = match server.error.as_deref() {
                Some("invalid_grant") | None => ErrorCode::InvalidGrant,
                Some(other) => ErrorCode::Server(other.to_string()),
            };
            Err((
                Failure::Terminal,
                Error::new(code, "the authorization server refused the grant").with_server(server),
            ))
        }
        _ => Err((
            Failure::Transient(retry_after_ms),
            Error::network(format!("the token endpoint answered HTTP {status}"))
                .with_server(cause(body)),
        )),
    }
}

/// Writes `s` as a JSON string literal (re-exported for the shell's messages).
pub fn json_string(s: &str) -> String {
    let mut out = String::new();
    json::write_str(s, &mut out);
    out
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

    #[test]
    fn records_round_trip_and_bad_records_are_storage_errors() {
        let t = TokenSet::from_response(
            TokenResponse::parse(
                r#"{"access_token":"a1","refresh_token":"r\"1","id_token":"i","expires_in":5}"#,
            )
            .unwrap(),
            1_700_000_000_000.0,
            None,
        );
        assert_eq!(TokenSet::from_record(&t.to_record()).unwrap(), t);
        let rec = t.to_record();
        for bad in [
            &rec[..rec.len() - 3],
            &rec.replace("\"v\":1", "\"v\":2"),
            &rec.replace("\"v\":1,", ""),
            &rec.replace("Bearer", "Mac"),
            &rec.replace("\"a1\"", "1"),
            "null",
            "{}",
        ] {
            assert_eq!(
                TokenSet::from_record(bad).unwrap_err().code.as_str(),
                "storage",
                "{bad}"
            );
        }
    }

    #[test]
    fn fnv1a64_matches_the_reference_vectors() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn storage_keys_differ_per_app_and_stay_stable() {
        assert_eq!(app_id(None, None), None);
        assert_eq!(default_storage_key(None), "tokenward");
        let a = app_id(Some("https://op.example"), Some("app-a")).unwrap();
        let b = app_id(Some("https://op.example"), Some("app-b")).unwrap();
        let c = app_id(Some("https://other.example"), Some("app-a")).unwrap();
        assert_eq!(a.len(), 16);
        assert!(a != b && a != c && b != c);
        assert_eq!(a, format!("{:016x}", fnv1a64(b"https://op.example\napp-a")));
        assert_eq!(default_storage_key(Some(&a)), format!("tokenward:{a}"));
        assert!(app_id(None, Some("x")).is_some() && app_id(Some("https://t/"), None).is_some());
        // The separator keeps "ab" + "c" apart from "a" + "bc".
        assert_ne!(app_id(Some("ab"), Some("c")), app_id(Some("a"), Some("bc")));
    }

    #[test]
    fn records_of_other_apps_are_not_ours() {
        let t = TokenSet::from_response(
            TokenResponse::parse(r#"{"access_token":"a1","expires_in":5}"#).unwrap(),
            1_000.0,
            None,
        );
        let mine = t.to_record_for(Some("aaaa"));
        assert_eq!(
            TokenSet::from_record_for(&mine, Some("aaaa")).unwrap(),
            Some(t.clone())
        );
        assert_eq!(
            TokenSet::from_record_for(&mine, Some("bbbb")).unwrap(),
            None
        );
        assert_eq!(TokenSet::from_record_for(&mine, None).unwrap(), None);
        // Records written before records were bound: only for a client without an app id.
        let legacy = t.to_record();
        assert_eq!(
            TokenSet::from_record_for(&legacy, None).unwrap(),
            Some(t.clone())
        );
        assert_eq!(
            TokenSet::from_record_for(&legacy, Some("aaaa")).unwrap(),
            None
        );
        assert!(TokenSet::from_record_for("{", Some("aaaa")).is_err());
        assert!(TokenSet::from_record_for(r#"{"v":1,"app":7}"#, Some("aaaa")).is_err());
        // A corrupt record without an app id is removed like any corrupt record.
        assert!(TokenSet::from_record_for(r#"{"v":99}"#, Some("aaaa")).is_err());
        assert!(TokenSet::from_record_for(r#"{"v":1,"access_token":42}"#, Some("aaaa")).is_err());
        // Another app's record is not ours even when it is of an unknown version.
        assert_eq!(
            TokenSet::from_record_for(r#"{"v":99,"app":"bbbb"}"#, Some("aaaa")).unwrap(),
            None
        );
        // The plain reader still reads a bound record.
        assert_eq!(TokenSet::from_record(&mine).unwrap(), t);
    }

    #[test]
    fn rfc6749_5_2_answers_are_classified() {
        assert!(token_answer(200, r#"{"access_token":"a"}"#, None).is_ok());
        let (f, e) = token_answer(
            400,
            r#"{"error":"invalid_grant","error_description":"grant request is invalid"}"#,
            None,
        )
        .unwrap_err();
        assert_eq!((f, e.code), (Failure::Terminal, ErrorCode::InvalidGrant));
        assert_eq!(
            e.server.unwrap().error_description.as_deref(),
            Some("grant request is invalid")
        );
        let (f, e) = token_answer(401, r#"{"error":"invalid_client"}"#, None).unwrap_err();
        assert_eq!((f, e.code.as_str()), (Failure::Terminal, "invalid_client"));
        for status in [408, 429, 500, 502, 503, 504, 404] {
            let (f, e) = token_answer(status, "<html>", Some(2_000.0)).unwrap_err();
            assert_eq!(
                (f, e.code),
                (Failure::Transient(Some(2_000.0)), ErrorCode::Network),
                "{status}"
            );
        }
        let (f, e) = token_answer(200, "{", None).unwrap_err();
        assert_eq!(
            (f, e.code),
            (Failure::Transient(None), ErrorCode::InvalidTokenResponse)
        );
    }

    #[test]
    fn form_encoding_is_rfc6749_appendix_b() {
        assert_eq!(
            form_encode(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", "a+b/c= d&é")
            ]),
            "grant_type=refresh_token&refresh_token=a%2Bb%2Fc%3D+d%26%C3%A9"
        );
    }
}
