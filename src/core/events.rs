//! What the app sees of the session: its status, the events it is sent and why a
//! session ended.

use super::error::Error;

/// The client's status, as `TokenClient.status` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Holding a session.
    SignedIn,
    /// No session.
    SignedOut,
    /// Holding a session and refreshing it.
    Refreshing,
}

impl Status {
    /// The status as JavaScript sees it.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::SignedIn => "signedIn",
            Status::SignedOut => "signedOut",
            Status::Refreshing => "refreshing",
        }
    }
}

/// Why a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// `signOut()` here.
    User,
    /// The server refused the refresh token.
    InvalidGrant,
    /// The access token expired and nothing could refresh it.
    Expired,
    /// Another tab signed out.
    OtherTab,
    /// The stored session disappeared or became unreadable.
    Storage,
}

impl Reason {
    /// The reason as JavaScript sees it.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::User => "user",
            Reason::InvalidGrant => "invalid_grant",
            Reason::Expired => "expired",
            Reason::OtherTab => "other_tab",
            Reason::Storage => "storage",
        }
    }

    /// Reads a reason sent by another tab.
    pub fn parse(s: &str) -> Option<Reason> {
        Some(match s {
            "user" => Reason::User,
            "invalid_grant" => Reason::InvalidGrant,
            "expired" => Reason::Expired,
            "other_tab" => Reason::OtherTab,
            "storage" => Reason::Storage,
            _ => return None,
        })
    }
}

/// The kinds of event listeners can receive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// Tokens or status changed.
    Change,
    /// A refresh succeeded (here or in another tab).
    Refresh,
    /// The access token expired and could not be refreshed in time.
    Expired,
    /// The session ended.
    SignedOut,
    /// Something went wrong that the app may want to show.
    Error,
    /// The session can be refreshed only a little longer (`sessionEndingLeadSeconds`).
    SessionEnding,
}

impl EventKind {
    /// Every kind.
    pub const ALL: [EventKind; 6] = [
        EventKind::Change,
        EventKind::Refresh,
        EventKind::Expired,
        EventKind::SignedOut,
        EventKind::Error,
        EventKind::SessionEnding,
    ];

    /// The event name as JavaScript sees it.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Change => "change",
            EventKind::Refresh => "refresh",
            EventKind::Expired => "expired",
            EventKind::SignedOut => "signedOut",
            EventKind::Error => "error",
            EventKind::SessionEnding => "sessionEnding",
        }
    }

    /// Reads an event name.
    pub fn parse(s: &str) -> Option<EventKind> {
        Some(match s {
            "change" => EventKind::Change,
            "refresh" => EventKind::Refresh,
            "expired" => EventKind::Expired,
            "signedOut" => EventKind::SignedOut,
            "error" => EventKind::Error,
            "sessionEnding" => EventKind::SessionEnding,
            _ => return None,
        })
    }
}

/// An event for the app's listeners.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// What happened.
    pub kind: EventKind,
    /// The status right after it happened.
    pub status: Status,
    /// The access token's expiry right after it happened.
    pub expires_at: Option<f64>,
    /// Why the session ended (on `signedOut`).
    pub reason: Option<Reason>,
    /// What went wrong (on `error`).
    pub error: Option<Error>,
    /// When the session can no longer be refreshed (on `sessionEnding`).
    pub session_ends_at: Option<f64>,
}
