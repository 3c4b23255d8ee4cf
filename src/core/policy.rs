//! When to refresh and how long to wait after a failure (DESIGN.md, "When to refresh",
//! "Refreshing"). Pure functions of times in ms and a random fraction, so that every
//! decision is tested with a fake clock.

use crate::core::float;
use crate::prelude::*;
/// Timers are clamped to this many ms: `setTimeout` fires at once past 2^31−1.
pub const MAX_TIMER_MS: f64 = 2_147_483_647.0;

/// The jitter is at most this fraction of the token's lifetime.
pub const JITTER_FRACTION: f64 = 0.05;

/// First wait after a transient failure.
pub const BACKOFF_BASE_MS: f64 = 1_000.0;

/// Longest wait between tries.
pub const BACKOFF_CAP_MS: f64 = 60_000.0;

/// Shortest wait between tries (the floor of "half the time left").
pub const BACKOFF_FLOOR_MS: f64 = 1_000.0;

/// The shortest time between receiving a token and starting its refresh: however short
/// the token's lifetime, refreshes never start more often than this (no 0 ms timers).
pub const MIN_REFRESH_INTERVAL_MS: f64 = 1_000.0;

/// A token answer whose lifetime is shorter than this (`expires_in: 0`, a JWT with
/// `exp <= iat`) is not usable: it is a transient failure, retried after a backoff.
pub const MIN_TOKEN_LIFETIME_MS: f64 = 1_000.0;

/// The wait before retrying after an answer with an unusable lifetime: a server that
/// keeps issuing expired tokens gets fewer than one request a minute.
pub const UNUSABLE_LIFETIME_RETRY_MS: f64 = 65_000.0;

/// When a token received at `received_at` and expiring at `expires_at` should be
/// refreshed: `expires_at − min(lead, lifetime/2) − jitter`, where `jitter` is
/// `random` (in [0, 1)) times a few percent of the lifetime.
pub fn refresh_at(received_at: f64, expires_at: f64, lead_ms: f64, random: f64) -> f64 {
    let lifetime = (expires_at - received_at).max(0.0);
    let lead = lead_ms.max(0.0).min(lifetime / 2.0);
    let jitter = random.clamp(0.0, 1.0) * JITTER_FRACTION * lifetime;
    (expires_at - lead - jitter).max(received_at + MIN_REFRESH_INTERVAL_MS)
}

/// One challenge of a `WWW-Authenticate` header (RFC 7235 §4.1): the scheme and its
/// auth-params, names lowercased, quoted values unescaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// The auth-scheme as sent, e.g. `Bearer`.
    pub scheme: String,
    /// The auth-params, `(lowercased name, value)`.
    pub params: Vec<(String, String)>,
}

impl Challenge {
    /// An auth-param by name (case-insensitive).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A byte of an auth scheme or parameter name (a `tchar`), or `/` (which `token68` allows).
fn is_tchar(c: u8) -> bool {
    crate::core::ascii::is_tchar(c) || c == b'/'
}

/// Reads a `WWW-Authenticate` header value (RFC 7235 §4.1, RFC 6750 §3): any number of
/// challenges separated by commas, each a scheme followed by comma-separated
/// `name=value` or `name="quoted \" value"` params. Never fails: what cannot be read
/// is skipped. Read as bytes: every delimiter is ASCII, so the text between two of them
/// is whole characters (a quoted value's bytes are copied as they are).
pub fn parse_challenges(header: &str) -> Vec<Challenge> {
    let b = header.as_bytes();
    let at = |i: usize| b.get(i).copied();
    let blank = |c: u8| c == b' ' || c == b'\t';
    let text = |from: usize, to: usize| header.get(from..to).unwrap_or_default().to_string();
    let mut out: Vec<Challenge> = Vec::new();
    let mut i = 0;
    while i < b.len() {
        while at(i).is_some_and(|c| c == b',' || c.is_ascii_whitespace()) {
            i += 1;
        }
        let start = i;
        while at(i).is_some_and(is_tchar) {
            i += 1;
        }
        if i == start {
            // Not a token: skip one byte and go on.
            i += 1;
            continue;
        }
        let token = text(start, i);
        let mut j = i;
        while at(j).is_some_and(blank) {
            j += 1;
        }
        if at(j) == Some(b'=') {
            // An auth-param of the current challenge.
            j += 1;
            while at(j).is_some_and(blank) {
                j += 1;
            }
            let value = if at(j) == Some(b'"') {
                j += 1;
                let mut v = Vec::new();
                while let Some(c) = at(j) {
                    j += 1;
                    match c {
                        b'"' => break,
                        b'\\' => {
                            if let Some(e) = at(j) {
                                v.push(e);
                                j += 1;
                            }
                        }
                        _ => v.push(c),
                    }
                }
                // Whole characters (an escaped byte is followed by the rest of its own).
                crate::core::utf8::text(&v).unwrap_or_default()
            } else {
                let from = j;
                while at(j).is_some_and(|c| c != b',' && !c.is_ascii_whitespace()) {
                    j += 1;
                }
                text(from, j)
            };
            if let Some(ch) = out.last_mut() {
                ch.params.push((token.to_ascii_lowercase(), value));
            }
        } else {
            out.push(Challenge {
                scheme: token,
                params: Vec::new(),
            });
        }
        i = j;
    }
    out
}

/// Whether refreshing the access token can help after a 401 from an attached request
/// whose `WWW-Authenticate` header is `header` (`None`: absent or not readable, as with
/// a cross-origin response that does not expose it). Per RFC 6750 §3.1 a Bearer
/// challenge with `error="invalid_token"` (or with no error at all) says the token is
/// the problem; `insufficient_scope` or `invalid_request` are not fixed by a new token,
/// nor is a challenge for another scheme only.
pub fn refresh_can_help(header: Option<&str>) -> bool {
    let Some(h) = header.map(str::trim_ascii).filter(|h| !h.is_empty()) else {
        return true;
    };
    let challenges = parse_challenges(h);
    if challenges.is_empty() {
        return true;
    }
    challenges
        .iter()
        // A DPoP challenge (RFC 9449 §7.1) uses the same `error` values.
        .filter(|c| {
            c.scheme.eq_ignore_ascii_case("bearer") || c.scheme.eq_ignore_ascii_case("dpop")
        })
        .any(|c| {
            c.param("error").map_or(true, |e| {
                e.trim_ascii().eq_ignore_ascii_case("invalid_token")
            })
        })
}

/// How long to wait before try number `failures + 1` after `failures` transient
/// failures in a row: exponential with "equal jitter" (half fixed, half random), capped;
/// a server's `Retry-After` is a floor; and while the token is valid the wait never
/// exceeds half the time left (floor one second), so an outage that ends before expiry
/// is always bridged.
pub fn backoff(
    failures: u32,
    random: f64,
    retry_after_ms: Option<f64>,
    time_left_ms: Option<f64>,
) -> f64 {
    let exp = BACKOFF_BASE_MS * float::powi(2.0, failures.saturating_sub(1).min(16) as i32);
    let capped = exp.min(BACKOFF_CAP_MS);
    let mut wait = capped / 2.0 + random.clamp(0.0, 1.0) * capped / 2.0;
    if let Some(ra) = retry_after_ms {
        if ra.is_finite() {
            wait = wait.max(ra.clamp(0.0, BACKOFF_CAP_MS * 10.0));
        }
    }
    if let Some(left) = time_left_ms {
        if left > 0.0 {
            wait = wait.min((left / 2.0).max(BACKOFF_FLOOR_MS));
        }
    }
    wait.max(0.0)
}

/// How long a token, revocation or discovery request may take before it is abandoned (a
/// server that never answers cannot hold a refresh, or the refresh lock, for ever).
pub const REQUEST_TIMEOUT_MS: f64 = 10_000.0;

/// How long the tabs barrier and the start-up question wait for tabs that do not answer
/// (frozen, closing).
pub const TABS_WAIT_MS: f64 = 1_000.0;

/// `Retry-After` (RFC 9110 §10.2.3) as ms from `now`: delay-seconds, or an HTTP date
/// (parsed by `parse_date`, ms since the epoch, NaN when it is not one). `None` for
/// anything else; a date in the past is 0.
pub fn retry_after_ms(value: &str, now: f64, parse_date: impl FnOnce(&str) -> f64) -> Option<f64> {
    let v = value.trim_ascii();
    if let Some(secs) = super::json::parse_number(v) {
        return Some(secs.max(0.0) * 1000.0);
    }
    let at = parse_date(v);
    at.is_finite().then(|| (at - now).max(0.0))
}

/// Longest wait for another tab's refresh lock before taking it over.
pub const LOCK_WAIT_MAX_MS: f64 = 10_000.0;

/// Shortest such wait.
pub const LOCK_WAIT_MIN_MS: f64 = 500.0;

/// How long a tab waits for another tab's refresh lock before taking it over: half the
/// time the token has left (so a hung tab cannot make the others miss the expiry), up to
/// ten seconds. When that is under half a second (the token has expired, or nearly: a
/// laptop waking up), the expiry is missed anyway, and taking over a refresh that is only
/// slow would spend its refresh token twice (under rotation, the end of the session): the
/// wait is then ten seconds, as long as the holder's own request may take. Ten seconds too
/// when the expiry is unknown.
pub fn lock_wait(time_left_ms: Option<f64>) -> f64 {
    match time_left_ms.map(|l| l / 2.0) {
        Some(half) if half >= LOCK_WAIT_MIN_MS => half.min(LOCK_WAIT_MAX_MS),
        _ => LOCK_WAIT_MAX_MS,
    }
}

/// A timer delay from now to `at`, clamped to what `setTimeout` can wait.
pub fn timer_delay(now: f64, at: f64) -> f64 {
    (at - now).clamp(0.0, MAX_TIMER_MS)
}

/// A small deterministic generator (xorshift64*) for jitter. The shell seeds it from
/// the browser's randomness; tests seed it by hand.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed (zero is replaced, xorshift needs a non-zero state).
    pub fn new(seed: u64) -> Rng {
        Rng(if seed == 0 {
            0x9E37_79B9_7F4A_7C15
        } else {
            seed
        })
    }

    /// A number in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lead_is_capped_at_half_the_lifetime() {
        // 4 s token, 60 s lead: refreshed 2 s after receipt (minus jitter).
        assert_eq!(refresh_at(0.0, 4_000.0, 60_000.0, 0.0), 2_000.0);
        let with_jitter = refresh_at(0.0, 4_000.0, 60_000.0, 0.999);
        assert!((1_800.0..2_000.0).contains(&with_jitter));
        // 1 h token, 60 s lead.
        assert_eq!(refresh_at(0.0, 3_600_000.0, 60_000.0, 0.0), 3_540_000.0);
    }

    #[test]
    fn jitter_is_a_few_percent_of_the_lifetime() {
        let mut rng = Rng::new(42);
        for _ in 0..1000 {
            let at = refresh_at(0.0, 100_000.0, 10_000.0, rng.next_f64());
            assert!((85_000.0..=90_000.0).contains(&at), "{at}");
        }
    }

    #[test]
    fn backoff_grows_caps_and_respects_half_the_time_left() {
        let w1 = backoff(1, 0.0, None, None);
        let w2 = backoff(2, 0.0, None, None);
        let w3 = backoff(3, 0.0, None, None);
        assert!(w1 < w2 && w2 < w3);
        assert!(backoff(40, 0.999, None, None) <= BACKOFF_CAP_MS);
        // 10 s left: never more than 5 s.
        assert!(backoff(10, 0.999, None, Some(10_000.0)) <= 5_000.0);
        // 1 s left: floor of one second.
        assert_eq!(backoff(10, 0.5, None, Some(1_000.0)), BACKOFF_FLOOR_MS);
        // Retry-After is a floor while the token is not about to expire.
        assert_eq!(backoff(1, 0.0, Some(30_000.0), Some(600_000.0)), 30_000.0);
        assert_eq!(backoff(1, 0.0, Some(30_000.0), Some(20_000.0)), 10_000.0);
    }

    #[test]
    fn lock_wait_is_half_the_time_left_within_bounds() {
        assert_eq!(lock_wait(Some(3_000.0)), 1_500.0);
        assert_eq!(lock_wait(Some(1_000.0)), LOCK_WAIT_MIN_MS);
        // Too little left to save the expiry: a slow refresh is waited for, not spent twice.
        assert_eq!(lock_wait(Some(999.0)), LOCK_WAIT_MAX_MS);
        assert_eq!(lock_wait(Some(100.0)), LOCK_WAIT_MAX_MS);
        assert_eq!(lock_wait(Some(-5_000.0)), LOCK_WAIT_MAX_MS);
        assert_eq!(lock_wait(Some(3_600_000.0)), LOCK_WAIT_MAX_MS);
        assert_eq!(lock_wait(None), LOCK_WAIT_MAX_MS);
    }

    #[test]
    fn timers_are_clamped() {
        assert_eq!(timer_delay(0.0, 1e15), MAX_TIMER_MS);
        assert_eq!(timer_delay(10.0, 5.0), 0.0);
    }

    #[test]
    fn refreshes_never_start_sooner_than_the_floor() {
        // Zero, tiny and negative lifetimes: never a 0 ms timer.
        for (received, expires) in [(0.0, 0.0), (0.0, 1.0), (0.0, 500.0), (5_000.0, 0.0)] {
            let at = refresh_at(received, expires, 60_000.0, 0.5);
            assert!(
                at >= received + MIN_REFRESH_INTERVAL_MS,
                "{received} {expires} {at}"
            );
        }
        // A 3 s token is still refreshed at about half its lifetime.
        let at = refresh_at(0.0, 3_000.0, 60_000.0, 0.999);
        assert!((1_000.0..=1_500.0).contains(&at), "{at}");
    }

    #[test]
    fn rfc6750_3_bearer_challenges_are_parsed() {
        let c = parse_challenges(
            r#"Bearer realm="example", error="invalid_token", error_description="The access token expired""#,
        );
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].scheme, "Bearer");
        assert_eq!(c[0].param("realm"), Some("example"));
        assert_eq!(c[0].param("ERROR"), Some("invalid_token"));
        assert_eq!(
            c[0].param("error_description"),
            Some("The access token expired")
        );
        let c =
            parse_challenges(r#"Basic realm="a, b", BEARER error=insufficient_scope,scope="x y""#);
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].param("realm"), Some("a, b"));
        assert_eq!(c[1].param("error"), Some("insufficient_scope"));
        assert_eq!(c[1].param("scope"), Some("x y"));
        let c = parse_challenges(r#"Bearer error="in\"valid""#);
        assert_eq!(c[0].param("error"), Some("in\"valid"));
        // Characters beyond ASCII are kept whole, quoted (escaped too) or not.
        let c =
            parse_challenges("DPoP realm=\"r\u{e9}\\\u{e9}gion \u{1f511}\", x=\u{e9}t\u{e9}, é");
        assert_eq!(c[0].scheme, "DPoP");
        assert_eq!(c[0].param("realm"), Some("r\u{e9}\u{e9}gion \u{1f511}"));
        assert_eq!(c[0].param("x"), Some("\u{e9}t\u{e9}"));
        for junk in [
            "",
            ",,,",
            "=",
            "\"",
            "Bearer error=\"unterminated",
            "Bearer ==,=",
            "é",
        ] {
            let _ = parse_challenges(junk);
        }
    }

    #[test]
    fn rfc6750_3_1_refresh_helps_only_for_invalid_token_or_no_error() {
        for yes in [
            None,
            Some(""),
            Some("Bearer"),
            Some("bearer"),
            Some(r#"Bearer realm="api""#),
            Some(r#"Bearer error="invalid_token""#),
            Some(r#"Bearer error=invalid_token"#),
            Some(r#"bEaReR ERROR = "INVALID_TOKEN""#),
            Some(r#"Bearer realm="a,b", error="invalid_token", error_description="expired""#),
            Some(r#"Basic realm="x", Bearer error="invalid_token""#),
            Some(r#"Bearer error="invalid_token", Basic realm="x""#),
        ] {
            assert!(refresh_can_help(yes), "{yes:?}");
        }
        for no in [
            r#"Bearer error="insufficient_scope", scope="admin""#,
            r#"Bearer error="invalid_request""#,
            r#"Bearer realm="x", error=insufficient_scope"#,
            r#"Basic realm="x""#,
            r#"Bearer error_description="invalid_token", error="insufficient_scope""#,
        ] {
            assert!(!refresh_can_help(Some(no)), "{no}");
        }
    }

    #[test]
    fn rng_is_in_unit_interval() {
        let mut r = Rng::new(0);
        for _ in 0..10_000 {
            let x = r.next_f64();
            assert!((0.0..1.0).contains(&x));
        }
    }

    #[test]
    fn retry_after_is_seconds_or_a_date() {
        let never = |_: &str| f64::NAN;
        assert_eq!(retry_after_ms("5", 0.0, never), Some(5_000.0));
        assert_eq!(retry_after_ms(" 0 ", 0.0, never), Some(0.0));
        assert_eq!(retry_after_ms("-3", 0.0, never), Some(0.0));
        assert_eq!(retry_after_ms("soon", 0.0, never), None);
        assert_eq!(
            retry_after_ms("a date", 1_000.0, |_| 4_000.0),
            Some(3_000.0)
        );
        assert_eq!(
            retry_after_ms("a past date", 9_000.0, |_| 4_000.0),
            Some(0.0)
        );
    }
}
