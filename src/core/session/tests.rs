//! The session tests of what every flow shares (tokens set, restore, storage failures).

use super::testing::*;
use super::*;

#[test]
fn set_tokens_persists_announces_and_schedules_refresh_at_half_life() {
    let mut s = Session::new(cfg(RefreshMode::Endpoint));
    let a = s.set_tokens(0.0, resp("a1", Some("r1"), 4.0));
    assert_eq!(kinds(&a), ["persist", "announce:tokens", "change"]);
    let due = s.refresh_due_at().unwrap();
    assert!((1_800.0..=2_000.0).contains(&due), "{due}");
    assert_eq!(s.next_wakeup(), Some(due));
    assert!(s.wake(due - 1.0).is_empty());
    assert_eq!(kinds(&s.wake(due)), ["refresh:r1", "change"]);
    assert_eq!(s.status(), Status::Refreshing);
    // A second wake while in flight starts nothing.
    assert!(s.wake(due + 10.0).is_empty());
}

#[test]
fn set_tokens_with_zero_lifetime_arms_no_zero_timer_storm() {
    let mut s = Session::new(cfg(RefreshMode::Endpoint));
    s.set_tokens(0.0, resp("a1", Some("r1"), 0.0));
    assert!(s.refresh_due_at().unwrap() >= policy::MIN_REFRESH_INTERVAL_MS);
    assert!(kinds(&s.wake(0.0))
        .iter()
        .all(|k| !k.starts_with("refresh")));
}

#[test]
fn restore_handles_good_expired_and_corrupt_records() {
    let mut a = Session::new(cfg(RefreshMode::Endpoint));
    let rec = persisted(&a.set_tokens(0.0, resp("a1", Some("r1"), 10.0)));
    let mut s = Session::new(cfg(RefreshMode::Endpoint));
    assert_eq!(kinds(&s.restore(1.0, Some(&rec))), ["change"]);
    let mut s = Session::new(cfg(RefreshMode::Endpoint));
    assert_eq!(
        kinds(&s.restore(60_000.0, Some(&rec))),
        ["change", "refresh:r1", "change"]
    );
    let mut s = Session::new(cfg(RefreshMode::Endpoint));
    assert_eq!(
        kinds(&s.restore(1.0, Some("{\"v\":1,"))),
        ["clear", "error:storage"]
    );
    assert_eq!(s.status(), Status::SignedOut);
    let mut s = Session::new(cfg(RefreshMode::None));
    assert_eq!(
        kinds(&s.restore(60_000.0, Some(&rec))),
        ["change", "expired", "clear", "signedOut:expired", "change"]
    );
}

#[test]
fn storage_failure_is_reported_once() {
    let mut s = Session::new(cfg(RefreshMode::Endpoint));
    assert_eq!(s.persist_failed(Error::storage("quota")).len(), 1);
    assert!(s.persist_failed(Error::storage("quota")).is_empty());
}
