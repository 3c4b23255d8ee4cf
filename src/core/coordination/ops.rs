//! The coordination's vocabulary: the operations the shell performs and what it answers.

use crate::core::tab_message::Msg;
use crate::prelude::*;

/// Which Web Lock (the shell names them from the storage key).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lock {
    /// This tab's presence, held for its lifetime (`<key>:tab:<id>`).
    Presence,
    /// The refresh (`<key>:refresh`).
    Refresh,
    /// The takeover queue (`<key>:refresh:takeover`).
    Takeover,
}

/// How a lock is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Wait in line (until aborted).
    Wait,
    /// Only if nobody holds it now.
    IfAvailable,
    /// Take it from its holder.
    Steal,
}

/// What the shell is asked to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// Request a Web Lock; the answer is [`Input::Lock`] with the same id.
    Lock {
        /// The request's id.
        id: u32,
        /// Which lock.
        lock: Lock,
        /// How.
        mode: Mode,
    },
    /// Give up a request that was not granted yet.
    Abort(u32),
    /// Release a held lock.
    Release(u32),
    /// Count the other live tabs; the answer is [`Input::Peers`].
    Peers(u32),
    /// Post to every other tab.
    Post(Msg),
    /// Answer [`Input::Timer`] with this id after `ms`.
    Timer {
        /// The timer's id.
        id: u32,
        /// The delay.
        ms: f64,
    },
    /// The refresh may go ahead: the lock is held (or cannot be had) and the barrier passed.
    Ready,
    /// The answer to [`Coordination::ask`](super::Coordination::ask): another tab's record, if
    /// one had a session.
    Answer(Option<String>),
}

/// What happened.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// A lock request ended: granted, or not (aborted, stolen, rejected); `refused` when
    /// the browser will not grant locks here at all (`NotSupportedError`, `SecurityError`).
    Lock {
        /// The request's id.
        id: u32,
        /// Whether it was granted.
        granted: bool,
        /// Whether the browser refuses locks altogether.
        refused: bool,
    },
    /// The number of other live tabs.
    Peers {
        /// The query's id.
        id: u32,
        /// How many.
        count: usize,
    },
    /// The refresh of a tab that barrier `n` asked is in flight: that tab's
    /// acknowledgement comes when its refresh ends.
    Busy(u32),
    /// An acknowledgement of barrier `n` from tab `from`.
    Ack {
        /// The sender.
        from: String,
        /// The barrier's number.
        n: u32,
    },
    /// An answer to the session question from tab `from`.
    Have {
        /// The sender.
        from: String,
        /// Its record, if it has a session.
        record: Option<String>,
    },
    /// A timer fired.
    Timer(u32),
}
