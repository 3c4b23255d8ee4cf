//! Coordinating with the app's other tabs, as explicit state: the refresh lock and its
//! takeover queue, the barrier after the lock is won, and a new tab's question for the
//! session.
//!
//! The shell performs the [`Op`]s (Web Locks, the `BroadcastChannel`, timers) and feeds
//! back what happened as [`Input`]s; every step and every wait is decided here.
//!
//! - The refresh runs under the refresh lock. A holder that does not let go within the
//!   wait (a tab hung mid-refresh) is taken over, one tab at a time: takeovers queue on a
//!   second lock, so the next tab in line runs its barrier after the previous one
//!   announced its tokens, and does not spend the same refresh token. A takeover that is
//!   stuck too is stolen as the last resort.
//! - Once the lock is held, the barrier asks every live tab (counted by their presence
//!   locks) for an acknowledgement. A channel delivers one sender's messages in order, so
//!   when the last refresher's acknowledgement arrives, its new tokens (posted before it
//!   released the lock) have arrived too. A tab that never answers costs at most
//!   [`TABS_WAIT_MS`].
//! - A tab whose refresh request is in flight answers a barrier with `Busy` and posts its
//!   acknowledgement when that refresh ends, after its tokens (to every tab: an ack from
//!   it posted after its tokens tells any tab at a barrier what it tells the one that
//!   asked, so none is addressed). A tab that took the lock
//!   over from it (a holder that is slow, not gone) then waits for those tokens instead of
//!   spending the same refresh token again: half its lock wait more (a quarter of the
//!   time that was left, keeping as much for its own request should the holder be hung),
//!   at least [`TABS_WAIT_MS`].
//! - Every request carries an id; an answer for a request that is no longer waited for is
//!   dropped, and a lock granted after its wait ended is released at once.

use super::policy::TABS_WAIT_MS;
use super::tab_message::Msg;
use crate::prelude::*;

mod ops;
pub use ops::{Input, Lock, Mode, Op};

/// Where the refresh's coordination is.
#[derive(Debug, Clone, PartialEq)]
enum Refresh {
    Idle,
    /// Waiting for lock request `req` in `stage`; `timer` ends the wait.
    Locking {
        stage: Stage,
        req: u32,
        timer: Option<u32>,
        takeover: Option<u32>,
    },
    /// Counting the live tabs (query `req`) with the locks held.
    Counting {
        req: u32,
        held: Held,
    },
    /// Waiting for the acknowledgements of barrier `n`; `extended` once a busy tab made
    /// the wait a request's timeout.
    Barrier {
        n: u32,
        timer: u32,
        extended: bool,
        expected: usize,
        from: Vec<String>,
        held: Held,
    },
    /// The refresh is running.
    Running(Held),
}

impl Refresh {
    /// The locks held in this state.
    fn held(&self) -> Held {
        match self {
            Refresh::Running(h)
            | Refresh::Counting { held: h, .. }
            | Refresh::Barrier { held: h, .. } => *h,
            Refresh::Locking { takeover, .. } => Held {
                main: None,
                takeover: *takeover,
            },
            Refresh::Idle => Held::default(),
        }
    }
}

/// The locks a refresh holds.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
struct Held {
    main: Option<u32>,
    takeover: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Stage {
    /// The refresh lock, waiting at most the lock wait.
    Main,
    /// The takeover queue, waiting at most the lock wait.
    Queue,
    /// The takeover queue, stolen.
    QueueSteal,
    /// The refresh lock after the queue, if its holder finished meanwhile.
    MainAgain,
    /// The refresh lock, stolen.
    MainSteal,
}

/// The start-up question.
#[derive(Debug, Clone, PartialEq)]
enum Question {
    Counting {
        req: u32,
    },
    Asking {
        timer: u32,
        expected: usize,
        from: Vec<String>,
    },
}

/// The coordination state of one tab.
#[derive(Debug, Clone)]
pub struct Coordination {
    next: u32,
    locks: bool,
    presence: Option<u32>,
    wait_ms: f64,
    refresh: Refresh,
    question: Option<Question>,
    barrier: u32,
    /// The barriers this tab answered `Busy`: acknowledged when its refresh ends.
    owed: Vec<u32>,
}

impl Coordination {
    /// A tab's coordination; `locks` says whether the browser has Web Locks.
    pub fn new(locks: bool) -> Coordination {
        Coordination {
            next: 1,
            locks,
            presence: None,
            wait_ms: 0.0,
            refresh: Refresh::Idle,
            question: None,
            barrier: 0,
            owed: Vec::new(),
        }
    }

    fn id(&mut self) -> u32 {
        let id = self.next;
        self.next = self.next.wrapping_add(1).max(1);
        id
    }

    /// Whether Web Locks are available (they may turn out to be refused).
    pub fn has_locks(&self) -> bool {
        self.locks
    }

    /// The presence lock, taken once when the tab opens (none without Web Locks).
    pub fn open(&mut self) -> Vec<Op> {
        if !self.locks {
            return Vec::new();
        }
        let id = self.id();
        self.presence = Some(id);
        vec![Op::Lock {
            id,
            lock: Lock::Presence,
            mode: Mode::Wait,
        }]
    }

    /// The tab closes (`dispose()`): its presence lock is released.
    pub fn close(&mut self) -> Vec<Op> {
        self.presence.take().map(Op::Release).into_iter().collect()
    }

    /// Starts coordinating a refresh, waiting at most `wait_ms` for a tab that holds the
    /// lock. Ends with [`Op::Ready`]; nothing when a refresh is already coordinated.
    pub fn start_refresh(&mut self, wait_ms: f64) -> Vec<Op> {
        if self.refresh != Refresh::Idle {
            return Vec::new();
        }
        self.wait_ms = wait_ms;
        let mut ops = Vec::new();
        self.lock_stage(Stage::Main, None, &mut ops);
        ops
    }

    /// The refresh is over: its locks are released and the barriers answered `Busy`
    /// meanwhile acknowledged (after its tokens were announced).
    pub fn finish_refresh(&mut self) -> Vec<Op> {
        let held = self.refresh.held();
        self.refresh = Refresh::Idle;
        let mut ops = release(held);
        // To every tab: an ack from here, after this tab's tokens, tells any tab what it
        // tells the one that asked (see the module documentation).
        while let Some(n) = self.owed.pop() {
            ops.push(Op::Post(Msg::Ack(n)));
        }
        ops
    }

    /// Another tab's barrier `n` asks this one: whether this tab's refresh is in flight
    /// (answer [`Msg::Busy`]; its [`Msg::Ack`] then comes with [`Coordination::finish_refresh`])
    /// or not ([`Msg::Ack`] now).
    pub fn synced(&mut self, n: u32) -> bool {
        let busy = matches!(self.refresh, Refresh::Running(_));
        if busy {
            self.owed.push(n);
        }
        busy
    }

    /// Asks the other tabs for their session (memory and session storage, at start-up).
    /// Ends with [`Op::Answer`].
    pub fn ask(&mut self) -> Vec<Op> {
        if !self.locks || self.question.is_some() {
            return vec![Op::Answer(None)];
        }
        let req = self.id();
        self.question = Some(Question::Counting { req });
        vec![Op::Peers(req)]
    }

    /// Takes what happened; returns what to do next.
    pub fn input(&mut self, input: Input) -> Vec<Op> {
        let mut ops = Vec::new();
        match input {
            Input::Lock {
                id,
                granted,
                refused,
            } => self.on_lock(id, granted, refused, &mut ops),
            Input::Peers { id, count } => {
                self.on_peers(id, count, &mut ops);
            }
            Input::Busy(n) => {
                let t = self.id();
                if let Refresh::Barrier {
                    n: m,
                    timer,
                    extended: extended @ false,
                    ..
                } = &mut self.refresh
                {
                    if *m == n {
                        // Once per barrier (see the module documentation).
                        *timer = t;
                        *extended = true;
                        ops.push(Op::Timer {
                            id: t,
                            ms: (self.wait_ms / 2.0).max(TABS_WAIT_MS),
                        });
                    }
                }
            }
            Input::Ack { from, n } => {
                if let Refresh::Barrier {
                    n: m,
                    expected,
                    from: seen,
                    held,
                    ..
                } = &mut self.refresh
                {
                    if *m == n {
                        if !seen.contains(&from) {
                            seen.push(from);
                        }
                        if seen.len() >= *expected {
                            self.refresh = Refresh::Running(*held);
                            ops.push(Op::Ready);
                        }
                    }
                }
            }
            Input::Have { from, record } => {
                if let Some(Question::Asking {
                    expected,
                    from: seen,
                    ..
                }) = &mut self.question
                {
                    if !seen.contains(&from) {
                        seen.push(from);
                    }
                    if record.is_some() || seen.len() >= *expected {
                        self.question = None;
                        ops.push(Op::Answer(record));
                    }
                }
            }
            Input::Timer(id) => self.on_timer(id, &mut ops),
        }
        ops
    }

    fn lock_stage(&mut self, stage: Stage, takeover: Option<u32>, ops: &mut Vec<Op>) {
        if !self.locks {
            // Without locks (or once refused) nothing is coordinated: go ahead, releasing
            // what is held.
            ops.extend(release(Held {
                main: None,
                takeover,
            }));
            self.refresh = Refresh::Running(Held::default());
            ops.push(Op::Ready);
            return;
        }
        let (lock, mode, wait) = match stage {
            Stage::Main => (Lock::Refresh, Mode::Wait, true),
            Stage::Queue => (Lock::Takeover, Mode::Wait, true),
            Stage::QueueSteal => (Lock::Takeover, Mode::Steal, false),
            Stage::MainAgain => (Lock::Refresh, Mode::IfAvailable, false),
            Stage::MainSteal => (Lock::Refresh, Mode::Steal, false),
        };
        let req = self.id();
        ops.push(Op::Lock {
            id: req,
            lock,
            mode,
        });
        let timer = wait.then(|| {
            let t = self.id();
            ops.push(Op::Timer {
                id: t,
                ms: self.wait_ms,
            });
            t
        });
        self.refresh = Refresh::Locking {
            stage,
            req,
            timer,
            takeover,
        };
    }

    fn on_lock(&mut self, id: u32, granted: bool, refused: bool, ops: &mut Vec<Op>) {
        if refused {
            self.locks = false;
        }
        let Refresh::Locking {
            stage,
            req,
            takeover,
            ..
        } = self.refresh
        else {
            // Not waited for (any more): a late grant is given back at once.
            if granted && !self.holds(id) {
                ops.push(Op::Release(id));
            }
            return;
        };
        if req != id {
            if granted && !self.holds(id) {
                ops.push(Op::Release(id));
            }
            return;
        }
        if granted {
            match stage {
                Stage::Main | Stage::MainAgain | Stage::MainSteal => self.barrier(
                    Held {
                        main: Some(id),
                        takeover,
                    },
                    ops,
                ),
                Stage::Queue | Stage::QueueSteal => {
                    self.lock_stage(Stage::MainAgain, Some(id), ops)
                }
            }
            return;
        }
        self.not_granted(stage, takeover, ops);
    }

    fn not_granted(&mut self, stage: Stage, takeover: Option<u32>, ops: &mut Vec<Op>) {
        match stage {
            Stage::Main => self.lock_stage(Stage::Queue, None, ops),
            Stage::Queue => self.lock_stage(Stage::QueueSteal, None, ops),
            Stage::MainAgain => self.lock_stage(Stage::MainSteal, takeover, ops),
            // The last resort failed too: refresh without the locks (the barrier still
            // runs, when the tabs can be counted).
            Stage::QueueSteal | Stage::MainSteal => {
                ops.extend(release(Held {
                    main: None,
                    takeover,
                }));
                self.barrier(Held::default(), ops);
            }
        }
    }

    fn holds(&self, id: u32) -> bool {
        let held = self.refresh.held();
        self.presence == Some(id) || held.main == Some(id) || held.takeover == Some(id)
    }

    fn barrier(&mut self, held: Held, ops: &mut Vec<Op>) {
        if !self.locks {
            self.refresh = Refresh::Running(held);
            ops.push(Op::Ready);
            return;
        }
        let req = self.id();
        self.refresh = Refresh::Counting { req, held };
        ops.push(Op::Peers(req));
    }

    fn on_peers(&mut self, id: u32, count: usize, ops: &mut Vec<Op>) {
        if let Refresh::Counting { req, held } = self.refresh {
            if req == id {
                if count == 0 {
                    self.refresh = Refresh::Running(held);
                    ops.push(Op::Ready);
                    return;
                }
                self.barrier = self.barrier.wrapping_add(1);
                let timer = self.id();
                self.refresh = Refresh::Barrier {
                    n: self.barrier,
                    timer,
                    extended: false,
                    expected: count,
                    from: Vec::new(),
                    held,
                };
                ops.push(Op::Post(Msg::Sync(self.barrier)));
                ops.push(Op::Timer {
                    id: timer,
                    ms: TABS_WAIT_MS,
                });
                return;
            }
        }
        if let Some(Question::Counting { req }) = self.question {
            if req == id {
                if count == 0 {
                    self.question = None;
                    ops.push(Op::Answer(None));
                    return;
                }
                let timer = self.id();
                self.question = Some(Question::Asking {
                    timer,
                    expected: count,
                    from: Vec::new(),
                });
                ops.push(Op::Post(Msg::Ask));
                ops.push(Op::Timer {
                    id: timer,
                    ms: TABS_WAIT_MS,
                });
            }
        }
    }

    fn on_timer(&mut self, id: u32, ops: &mut Vec<Op>) {
        // By value: the fields bound are `Copy`, so nothing is cloned.
        match self.refresh {
            Refresh::Locking {
                stage,
                req,
                timer: Some(t),
                takeover,
            } if t == id => {
                ops.push(Op::Abort(req));
                self.not_granted(stage, takeover, ops);
            }
            Refresh::Barrier { timer, held, .. } if timer == id => {
                self.refresh = Refresh::Running(held);
                ops.push(Op::Ready);
            }
            _ => {}
        }
        if matches!(self.question, Some(Question::Asking { timer, .. }) if timer == id) {
            self.question = None;
            ops.push(Op::Answer(None));
        }
    }
}

fn release(held: Held) -> Vec<Op> {
    held.main
        .into_iter()
        .chain(held.takeover)
        .map(Op::Release)
        .collect()
}

#[cfg(test)]
mod tests;
