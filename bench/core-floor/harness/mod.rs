//! The core-only size floor's harness: plain `#[no_mangle] extern "C"` exports (no
//! wasm-bindgen) that keep every public decision of `src/core/` alive, so that a `.wasm`
//! holding the core and nothing else can be measured — the lower bound for a design in
//! which the browser work is done in JavaScript.
//!
//! Not part of the crate: `node bench/core-floor.mjs` copies the crate to a temporary
//! directory without `src/browser` and `src/bindings`, adds this directory as
//! `src/harness/` (`mod harness;` in lib.rs), builds it as the npm build does and prints
//! its size.
//!
//! Every input goes through `black_box` (so that no path can be folded away: texts are
//! opaque empty strings, which also keeps the harness's own data out of the figure) and
//! every output too (so that nothing is dropped as unused). Complex inputs come from the
//! core's own parsers where it has them, the rest from black-boxed fields; state machines
//! are black-boxed before every call, so that every state stays reachable.

use ::core::hint::black_box;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use crate::core::attach::{self, AttachRule, ParsedUrl};
use crate::core::config::{self, Given};
use crate::core::coordination::{Coordination, Input};
use crate::core::dpop::{self, Nonces, PublicKey};
use crate::core::error::{self, Error, ErrorCode, ServerCause};
use crate::core::events::{EventKind, Reason, Status};
use crate::core::form;
use crate::core::grant::{self, Failure};
use crate::core::json::{self, Json, ObjWriter};
use crate::core::jwt;
use crate::core::limits;
use crate::core::oidc::{self, AuthRequest, AuthResponse, Discovering, Discovery, Pending};
use crate::core::policy::{self, Rng};
use crate::core::provider::Provider;
use crate::core::record;
use crate::core::refreshed_id_token;
use crate::core::session::{Config, RefreshMode, Session};
use crate::core::signout::{Asked, SignOut};
use crate::core::tab_message::{self, Msg};
use crate::core::tokens::{TokenResponse, TokenSet};

// ---- Opaque inputs -------------------------------------------------------------------

/// Text the optimizer knows nothing about.
fn text() -> &'static str {
    black_box("")
}

/// Optional text the optimizer knows nothing about.
fn opt_text() -> Option<&'static str> {
    black_box(None)
}

/// An owned opaque string.
fn string() -> String {
    String::from(text())
}

/// An owned opaque optional string.
fn opt_string() -> Option<String> {
    opt_text().map(String::from)
}

/// Opaque bytes (random bytes, digests, signatures, raw keys).
fn bytes() -> &'static [u8] {
    black_box(&[])
}

/// An opaque number (times in ms, seconds, random fractions).
fn num() -> f64 {
    black_box(0.0)
}

/// An opaque optional number.
fn opt_num() -> Option<f64> {
    black_box(None)
}

/// An opaque HTTP status.
fn http_status() -> u16 {
    black_box(0)
}

/// An opaque id or count.
fn int() -> u32 {
    black_box(0)
}

/// An opaque flag.
fn flag() -> bool {
    black_box(false)
}

/// An opaque error code (any variant, `Server` included).
fn code() -> ErrorCode {
    black_box(ErrorCode::Network)
}

/// An opaque error.
fn error() -> Error {
    Error::new(code(), text())
}

/// An opaque reason.
fn reason() -> Reason {
    black_box(Reason::User)
}

/// `Ok(value)` or an opaque error, which one the optimizer cannot tell.
fn outcome<T>(value: T) -> Result<T, Error> {
    if flag() {
        Ok(value)
    } else {
        Err(error())
    }
}

/// A URL as the browser's parser gives its parts.
fn parsed_url() -> ParsedUrl<'static> {
    ParsedUrl {
        protocol: text(),
        origin: text(),
        pathname: text(),
        has_credentials: flag(),
        has_query_or_fragment: flag(),
        hostname: text(),
    }
}

/// The options as given.
fn given() -> Given<'static> {
    Given {
        issuer: opt_text(),
        token_endpoint: opt_text(),
        client_id: opt_text(),
        refresh_fn: flag(),
        storage_key: opt_text(),
        refresh_lead_seconds: num(),
        session_ending_lead_seconds: num(),
        max_session_age_seconds: opt_num(),
    }
}

/// A session in a state the optimizer cannot know.
fn session() -> Session {
    let cfg = Config {
        lead_ms: num(),
        refresh: black_box(RefreshMode::Endpoint),
        seed: black_box(0),
        session_lead_ms: num(),
        max_session_age_ms: opt_num(),
        app: opt_string(),
        issuer: opt_string(),
        client_id: opt_string(),
    };
    black_box(Session::new(cfg))
}

/// A tab's coordination in a state the optimizer cannot know.
fn coordination() -> Coordination {
    black_box(Coordination::new(flag()))
}

/// A pending sign-in read back from its record.
fn pending() -> Option<Pending> {
    Pending::from_json(text())
}

/// A discovery document read from its text.
fn discovery() -> Option<Discovery> {
    Discovery::parse(text(), text()).ok()
}

/// What a sign-out was asked to do.
fn asked() -> Asked {
    Asked {
        revoke: flag(),
        end_session: flag(),
        post_logout_redirect_uri: opt_string(),
        refresh_token: opt_string(),
        id_token: opt_string(),
        client_id: opt_string(),
        has_issuer: flag(),
    }
}

/// A sign-out in a state the optimizer cannot know.
fn sign_out() -> SignOut {
    black_box(SignOut::new(asked()))
}

/// A provider in a state the optimizer cannot know.
fn provider() -> Provider {
    let mut p = Provider::new(
        opt_string(),
        opt_string(),
        opt_string(),
        opt_string(),
        opt_string(),
        opt_string(),
    );
    if let Some(d) = discovery() {
        p.learn(d);
    }
    black_box(p)
}

/// Hands `value` to the optimizer's blind spot, then drops it.
fn keep<T>(value: T) {
    drop(black_box(value));
}

// ---- Exports: `session.rs` (the session, tabs, tokens, grants, policy, attach, JWTs) and
// `flows.rs` (discovery, sign-in, provider, sign-out, DPoP, refreshed ID tokens, text, errors).

mod flows;
mod session;
