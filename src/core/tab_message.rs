//! The messages tabs of one app exchange over their `BroadcastChannel`, as text: new
//! tokens, sign-outs, the session question and its answer, and the barrier's sync/ack.
//! Every message carries its sender and the app id; anything else on the channel (another
//! app's messages, junk) decodes to `None`.

use super::json::{push_u64, write_num, write_str, Json, ObjWriter};
use super::session::{Announce, Reason};
use crate::prelude::*;

/// A message between tabs.
#[derive(Debug, Clone, PartialEq)]
pub enum Msg {
    /// New tokens (a stored record).
    Tokens(String),
    /// The session that started at the given time (when the sender says: older versions
    /// do not) ended, and why. The start tells a late message from the end of a session
    /// signed in since: tabs' messages are ordered only per sender, and a new page of the
    /// signing-out tab sends the new session's tokens.
    SignedOut(Reason, Option<f64>),
    /// A new tab asks for the session (memory and session storage).
    Ask,
    /// The answer to `Ask`: the record, if this tab has a session.
    Have(Option<String>),
    /// A barrier request, numbered by its sender.
    Sync(u32),
    /// The answer to `Sync`.
    Ack(u32),
    /// The answer to `Sync` from a tab whose refresh request is in flight: its `Ack`
    /// follows when that refresh ends (after its tokens), so the asking tab waits for it
    /// instead of taking over a refresh that is slow, not gone.
    Busy(u32),
}

/// Writes a message from `from` (to `to`, or to every tab) for the app `app`.
pub fn encode(from: &str, app: Option<&str>, to: Option<&str>, msg: &Msg) -> String {
    let mut out = String::from(r#"{"from":"#);
    write_str(from, &mut out);
    if let Some(a) = app {
        out.push_str(r#","app":"#);
        write_str(a, &mut out);
    }
    if let Some(t) = to {
        out.push_str(r#","to":"#);
        write_str(t, &mut out);
    }
    match msg {
        Msg::Tokens(rec) => {
            out.push_str(r#","t":"tokens","rec":"#);
            out.push_str(rec);
        }
        Msg::SignedOut(r, started) => {
            out.push_str(r#","t":"out","reason":""#);
            out.push_str(r.as_str());
            out.push('"');
            if let Some(at) = started {
                out.push_str(r#","s":"#);
                write_num(*at, &mut out);
            }
        }
        Msg::Ask => out.push_str(r#","t":"ask""#),
        Msg::Have(Some(rec)) => {
            out.push_str(r#","t":"have","rec":"#);
            out.push_str(rec);
        }
        Msg::Have(None) => out.push_str(r#","t":"have""#),
        Msg::Sync(n) => {
            out.push_str(r#","t":"sync","n":"#);
            push_u64(&mut out, u64::from(*n));
        }
        Msg::Ack(n) => {
            out.push_str(r#","t":"ack","n":"#);
            push_u64(&mut out, u64::from(*n));
        }
        Msg::Busy(n) => {
            out.push_str(r#","t":"busy","n":"#);
            push_u64(&mut out, u64::from(*n));
        }
    }
    out.push('}');
    out
}

/// Reads a message for the app `app`: `(from, to, msg)`. Anything else on the channel,
/// and any message of another app (or of none when this one has an id), is ignored.
pub fn decode(text: &str, app: Option<&str>) -> Option<(String, Option<String>, Msg)> {
    let v = Json::parse(text).ok()?;
    if v.get("app").and_then(Json::as_str) != app {
        return None;
    }
    let from = v.get("from")?.as_str()?.to_string();
    let to = v.get("to").and_then(Json::as_str).map(str::to_string);
    let n = || v.get("n").and_then(Json::as_f64).map(|n| n as u32);
    let msg = match v.get("t")?.as_str()? {
        "tokens" => Msg::Tokens(v.get("rec")?.to_text()),
        "out" => Msg::SignedOut(
            Reason::parse(v.get("reason")?.as_str()?)?,
            v.get("s").and_then(Json::as_f64),
        ),
        "ask" => Msg::Ask,
        "have" => Msg::Have(v.get("rec").map(Json::to_text)),
        "sync" => Msg::Sync(n()?),
        "ack" => Msg::Ack(n()?),
        "busy" => Msg::Busy(n()?),
        _ => return None,
    };
    Some((from, to, msg))
}

/// The marker a tab that ends the session writes in the record's place just before it
/// removes the record (see [`crate::core::session::Action::Clear`]): the app, the reason
/// and the start of the session that ended, which the other tabs' `storage` events read
/// with [`ended_by`]. The start tells a late marker from the end of a session signed in
/// since (the storage event may come after the channel's news of that new session).
pub fn ended(app: Option<&str>, reason: Reason, started: f64) -> String {
    let mut o = ObjWriter::new();
    o.opt_str("app", app);
    o.str("ended", reason.as_str());
    o.num("s", started);
    o.finish()
}

/// The reason and session start in an end-of-session marker of the app `app`; `None` for
/// anything else (a record, junk, another app's marker).
pub fn ended_by(text: &str, app: Option<&str>) -> Option<(Reason, f64)> {
    let v = Json::parse(text).ok()?;
    if v.get("app").and_then(Json::as_str) != app {
        return None;
    }
    let reason = Reason::parse(v.get("ended")?.as_str()?)?;
    Some((reason, v.get("s")?.as_f64()?))
}

/// The marker a tab whose write of the record failed puts in the place of what storage
/// held instead (an older record, whose refresh token a rotation may just have spent;
/// another session's): the session is kept in memory only. It is no session at start-up,
/// and no change of the session in the other tabs.
pub fn unstored(app: Option<&str>) -> String {
    let mut o = ObjWriter::new();
    o.opt_str("app", app);
    o.num("unstored", 1.0);
    o.finish()
}

/// Whether `text` is an [`unstored`] marker of the app `app` (as tokenward writes it).
pub fn is_unstored(text: &str, app: Option<&str>) -> bool {
    text == unstored(app)
}

impl From<Announce> for Msg {
    fn from(a: Announce) -> Msg {
        match a {
            Announce::Tokens(rec) => Msg::Tokens(rec),
            Announce::SignedOut(r, started) => Msg::SignedOut(r, Some(started)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::tokens::TokenSet;

    /// The former `format!` encoding, as the reference: the text other tabs (and older
    /// versions of the library in them) read is unchanged.
    fn reference(from: &str, app: Option<&str>, to: Option<&str>, msg: &Msg) -> String {
        use crate::core::record::json_string;
        let body = match msg {
            Msg::Tokens(rec) => format!(r#""t":"tokens","rec":{rec}"#),
            Msg::SignedOut(r, None) => format!(r#""t":"out","reason":"{}""#, r.as_str()),
            Msg::SignedOut(r, Some(s)) => format!(r#""t":"out","reason":"{}","s":{s}"#, r.as_str()),
            Msg::Ask => r#""t":"ask""#.to_string(),
            Msg::Have(Some(rec)) => format!(r#""t":"have","rec":{rec}"#),
            Msg::Have(None) => r#""t":"have""#.to_string(),
            Msg::Sync(n) => format!(r#""t":"sync","n":{n}"#),
            Msg::Ack(n) => format!(r#""t":"ack","n":{n}"#),
            Msg::Busy(n) => format!(r#""t":"busy","n":{n}"#),
        };
        let to = to
            .map(|t| format!(r#","to":{}"#, json_string(t)))
            .unwrap_or_default();
        let app = app
            .map(|a| format!(r#","app":{}"#, json_string(a)))
            .unwrap_or_default();
        format!(r#"{{"from":{}{app}{to},{body}}}"#, json_string(from))
    }

    #[test]
    fn an_end_marker_carries_its_reason_and_session_for_its_app_only() {
        for app in [None, Some("app-1")] {
            let m = ended(app, Reason::InvalidGrant, 1_700_000_000_123.0);
            assert_eq!(
                ended_by(&m, app),
                Some((Reason::InvalidGrant, 1_700_000_000_123.0))
            );
            assert_eq!(ended_by(&m, Some("another")), None);
        }
        let record = r#"{"v":1,"access_token":"a"}"#;
        let message = encode("t", None, None, &Msg::SignedOut(Reason::User, None));
        for other in [record, "junk", "", &message, r#"{"ended":"user"}"#] {
            assert_eq!(ended_by(other, None), None, "{other}");
        }
    }

    #[test]
    fn a_kept_in_memory_marker_is_its_apps_only() {
        for app in [None, Some("app-1")] {
            let m = unstored(app);
            assert!(is_unstored(&m, app));
            assert!(!is_unstored(&m, Some("another")));
            assert_eq!(ended_by(&m, app), None);
            assert!(TokenSet::from_record_for(&m, app).is_err());
        }
        let end = ended(None, Reason::User, 1.0);
        for other in [r#"{"v":1,"access_token":"a"}"#, "junk", "", &end] {
            assert!(!is_unstored(other, None), "{other}");
        }
    }

    #[test]
    fn messages_are_written_as_before() {
        for m in [
            Msg::Tokens(r#"{"v":1}"#.to_string()),
            Msg::SignedOut(Reason::InvalidGrant, None),
            Msg::SignedOut(Reason::InvalidGrant, Some(1_700_000_000_123.0)),
            Msg::Ask,
            Msg::Have(None),
            Msg::Have(Some(r#"{"v":1}"#.to_string())),
            Msg::Sync(0),
            Msg::Ack(u32::MAX),
            Msg::Busy(3),
        ] {
            for (app, to) in [(None, None), (Some("a\"b"), Some("t")), (None, Some("t"))] {
                assert_eq!(encode("me\n", app, to, &m), reference("me\n", app, to, &m));
            }
        }
    }

    #[test]
    fn messages_round_trip() {
        for m in [
            Msg::Tokens(r#"{"v":1,"access_token":"a"}"#.to_string()),
            Msg::SignedOut(Reason::User, None),
            Msg::SignedOut(Reason::User, Some(5.0)),
            Msg::Ask,
            Msg::Have(None),
            Msg::Have(Some(r#"{"v":1}"#.to_string())),
            Msg::Sync(7),
            Msg::Ack(7),
            Msg::Busy(7),
        ] {
            let (from, to, back) = decode(&encode("me", None, Some("you"), &m), None).unwrap();
            assert_eq!(
                (from.as_str(), to.as_deref(), back),
                ("me", Some("you"), m.clone())
            );
            let text = encode("me", Some("aaaa"), None, &m);
            assert_eq!(decode(&text, Some("aaaa")).map(|x| x.2), Some(m.clone()));
            // Messages of another app, or of none, are not ours.
            assert!(decode(&text, Some("bbbb")).is_none());
            assert!(decode(&text, None).is_none());
            assert!(decode(&encode("me", None, None, &m), Some("aaaa")).is_none());
        }
        assert!(decode("{}", None).is_none());
        assert!(decode("garbage", None).is_none());
    }
}
