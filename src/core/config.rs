//! The options, checked once: what the app gave, in plain values, turned into the
//! session's [`Config`] (or `invalid_options`). The shell reads the JS or Rust options
//! into a [`Given`] and the browser's URL checks stay in the shell; every other rule about
//! the options is here.

use super::error::{cat, Error};
use super::json::push_hex;
use super::session::{Config, RefreshMode};
use crate::prelude::*;

/// The options that decide the session, as given.
#[derive(Debug, Clone, Default)]
pub struct Given<'a> {
    /// `issuer`.
    pub issuer: Option<&'a str>,
    /// `tokenEndpoint`.
    pub token_endpoint: Option<&'a str>,
    /// `clientId`.
    pub client_id: Option<&'a str>,
    /// Whether the app gave its own `refresh` function.
    pub refresh_fn: bool,
    /// `storageKey`.
    pub storage_key: Option<&'a str>,
    /// `refreshLeadSeconds`.
    pub refresh_lead_seconds: f64,
    /// `sessionEndingLeadSeconds`.
    pub session_ending_lead_seconds: f64,
    /// `maxSessionAgeSeconds`.
    pub max_session_age_seconds: Option<f64>,
}

/// What the checked options give: the session's configuration and the storage key.
#[derive(Debug, Clone)]
pub struct Checked {
    /// The session's configuration (its `seed` is the caller's).
    pub config: Config,
    /// The storage key: the given one, or `tokenward:<hash>` of the issuer (or token
    /// endpoint) and client id.
    pub storage_key: String,
}

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
    let text = cat(&[server.unwrap_or(""), "\n", client_id.unwrap_or("")]);
    let mut id = String::with_capacity(16);
    push_hex(&mut id, fnv1a64(text.as_bytes()), 16);
    Some(id)
}

/// The default `storageKey`: `tokenward:<app id>`, or `tokenward` for a client that names
/// neither a server nor a client id (as every client did before keys were derived), so
/// two apps on one origin never share a session.
pub fn default_storage_key(app: Option<&str>) -> String {
    match app {
        Some(id) => cat(&["tokenward:", id]),
        None => "tokenward".to_string(),
    }
}

/// Checks the options; `seed` seeds the session's jitter.
pub fn check(given: &Given<'_>, seed: u64) -> Result<Checked, Error> {
    let app = app_id(given.issuer.or(given.token_endpoint), given.client_id);
    let storage_key = match given.storage_key {
        Some(k) => k.to_string(),
        None => default_storage_key(app.as_deref()),
    };
    if given.token_endpoint.is_some() && given.refresh_fn {
        return Err(Error::options(
            "give either `tokenEndpoint` or `refresh`, not both",
        ));
    }
    if !(given.refresh_lead_seconds.is_finite() && given.refresh_lead_seconds >= 0.0) {
        return Err(Error::options(
            "`refreshLeadSeconds` must be a non-negative number",
        ));
    }
    if !(given.session_ending_lead_seconds.is_finite() && given.session_ending_lead_seconds >= 0.0)
    {
        return Err(Error::options(
            "`sessionEndingLeadSeconds` must be a non-negative number",
        ));
    }
    if given
        .max_session_age_seconds
        .is_some_and(|s| !(s.is_finite() && s > 0.0))
    {
        return Err(Error::options(
            "`maxSessionAgeSeconds` must be a positive number",
        ));
    }
    if storage_key.is_empty() {
        return Err(Error::options("`storageKey` must not be empty"));
    }
    let refresh = match (given.token_endpoint, given.refresh_fn) {
        (Some(_), _) => RefreshMode::Endpoint,
        (None, true) => RefreshMode::Callback,
        // The token endpoint is discovered when the first refresh needs it.
        (None, false) if given.issuer.is_some() => RefreshMode::Endpoint,
        (None, false) => RefreshMode::None,
    };
    Ok(Checked {
        config: Config {
            lead_ms: given.refresh_lead_seconds * 1000.0,
            refresh,
            seed,
            session_lead_ms: given.session_ending_lead_seconds * 1000.0,
            max_session_age_ms: given.max_session_age_seconds.map(|s| s * 1000.0),
            app,
            issuer: given.issuer.map(str::to_string),
            client_id: given.client_id.map(str::to_string),
        },
        storage_key,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::error::ErrorCode;

    fn given() -> Given<'static> {
        Given {
            refresh_lead_seconds: 60.0,
            session_ending_lead_seconds: 60.0,
            ..Given::default()
        }
    }

    #[test]
    fn numbers_out_of_range_are_invalid_options() {
        for bad in [f64::NAN, f64::INFINITY, -1.0] {
            let g = Given {
                refresh_lead_seconds: bad,
                ..given()
            };
            assert_eq!(check(&g, 1).unwrap_err().code, ErrorCode::InvalidOptions);
            let g = Given {
                session_ending_lead_seconds: bad,
                ..given()
            };
            assert_eq!(check(&g, 1).unwrap_err().code, ErrorCode::InvalidOptions);
        }
        for bad in [0.0, -5.0, f64::NAN, f64::INFINITY] {
            let g = Given {
                max_session_age_seconds: Some(bad),
                ..given()
            };
            assert_eq!(check(&g, 1).unwrap_err().code, ErrorCode::InvalidOptions);
        }
        let g = Given {
            storage_key: Some(""),
            ..given()
        };
        assert_eq!(check(&g, 1).unwrap_err().code, ErrorCode::InvalidOptions);
        let g = Given {
            token_endpoint: Some("https://as/token"),
            refresh_fn: true,
            ..given()
        };
        assert_eq!(check(&g, 1).unwrap_err().code, ErrorCode::InvalidOptions);
    }

    #[test]
    fn how_the_session_refreshes_follows_the_options() {
        let mode = |g: Given<'_>| check(&g, 1).unwrap().config.refresh;
        assert_eq!(mode(given()), RefreshMode::None);
        assert_eq!(
            mode(Given {
                refresh_fn: true,
                ..given()
            }),
            RefreshMode::Callback
        );
        assert_eq!(
            mode(Given {
                issuer: Some("https://op"),
                ..given()
            }),
            RefreshMode::Endpoint
        );
        assert_eq!(
            mode(Given {
                token_endpoint: Some("https://as/token"),
                ..given()
            }),
            RefreshMode::Endpoint
        );
    }

    #[test]
    fn the_default_storage_key_is_derived_from_the_app() {
        let key = |g: Given<'_>| check(&g, 1).unwrap().storage_key;
        assert_eq!(key(given()), "tokenward");
        let a = key(Given {
            issuer: Some("https://op"),
            client_id: Some("spa"),
            ..given()
        });
        assert!(a.starts_with("tokenward:") && a.len() > "tokenward:".len());
        assert_eq!(
            key(Given {
                storage_key: Some("mine"),
                ..given()
            }),
            "mine"
        );
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
}
