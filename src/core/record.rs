//! The stored record of a session: one versioned JSON object, bound to its app, read back
//! strictly (anything unexpected is a `storage` error, never a guess).

use super::error::Error;
use super::json::{self, Json, ObjWriter};
use super::tokens::{header_safe, TokenSet, RECORD_VERSION};
use crate::core::float;
use crate::prelude::*;

impl TokenSet {
    /// The versioned JSON record written to storage and sent to other tabs, for no app
    /// in particular (see [`TokenSet::to_record_for`]).
    pub fn to_record(&self) -> String {
        self.to_record_for(None)
    }

    /// The record, bound to the app `app` (see [`crate::core::config::app_id`]): only that app adopts it.
    pub fn to_record_for(&self, app: Option<&str>) -> String {
        let mut o = ObjWriter::new();
        o.num("v", RECORD_VERSION);
        o.opt_str("app", app);
        o.str("access_token", &self.access_token);
        o.str("token_type", &self.token_type);
        o.num("received_at", self.received_at);
        o.opt_str("refresh_token", self.refresh_token.as_deref());
        o.opt_str("id_token", self.id_token.as_deref());
        o.opt_str("scope", self.scope.as_deref());
        if let Some(e) = self.expires_at {
            o.num("expires_at", e);
        }
        o.num("session_started_at", self.session_started_at);
        if let Some(e) = self.session_ends_at {
            o.num("session_ends_at", e);
        }
        o.num("generation", self.generation);
        o.finish()
    }

    /// Reads a stored record. Anything that is not exactly what [`TokenSet::to_record`]
    /// writes (truncated, tampered, another version) is an error, so that it is removed.
    pub fn from_record(text: &str) -> Result<TokenSet, Error> {
        let v = Json::parse(text).map_err(|e| {
            Error::storage("the stored session is not readable").with_cause(e.describe())
        })?;
        TokenSet::from_record_json(&v)
    }

    /// Reads a record for the app `app`: `Ok(None)` when it belongs to another app (or,
    /// written before records were bound, to no app while this one has an id): not ours,
    /// so it is neither used nor removed. A record that is not readable is an error.
    pub fn from_record_for(text: &str, app: Option<&str>) -> Result<Option<TokenSet>, Error> {
        let v = Json::parse(text).map_err(|e| {
            Error::storage("the stored session is not readable").with_cause(e.describe())
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
        // Fields are borrowed until nothing can fail, then copied once.
        let s = |name: &str| -> Result<Option<&str>, Error> {
            match v.get(name) {
                None => Ok(None),
                Some(Json::Str(s)) => Ok(Some(s)),
                Some(_) => Err(bad()),
            }
        };
        let access_token = s("access_token")?
            .filter(|t| header_safe(t))
            .ok_or_else(bad)?;
        let token_type = s("token_type")?
            .filter(|t| matches!(*t, "Bearer" | "DPoP"))
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
            Some(g) if g >= 0.0 && float::fract(g) == 0.0 => g,
            Some(_) => return Err(bad()),
        };
        let (refresh_token, id_token, scope) = (s("refresh_token")?, s("id_token")?, s("scope")?);
        Ok(TokenSet {
            access_token: access_token.to_string(),
            token_type: token_type.to_string(),
            refresh_token: refresh_token.map(str::to_string),
            id_token: id_token.map(str::to_string),
            scope: scope.map(str::to_string),
            received_at,
            expires_at,
            session_started_at,
            session_ends_at,
            generation,
        })
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
    use crate::core::tokens::TokenResponse;

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
}
