//! The options, checked once: what the app gave, in plain values, turned into the
//! session's [`Config`] (or `invalid_options`). The shell reads the JS or Rust options
//! into a [`Given`] and the browser's URL checks stay in the shell; every other rule about
//! the options is here.

use super::error::Error;
use super::session::{Config, RefreshMode};
use super::tokens;

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

/// Checks the options; `seed` seeds the session's jitter.
pub fn check(given: &Given<'_>, seed: u64) -> Result<Checked, Error> {
    let app = tokens::app_id(given.issuer.or(given.token_endpoint), given.client_id);
    let storage_key = match given.storage_key {
        Some(k) => k.to_string(),
        None => tokens::default_storage_key(app.as_deref()),
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
}
