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
//! - Every request carries an id; an answer for a request that is no longer waited for is
//!   dropped, and a lock granted after its wait ended is released at once.

use super::policy::TABS_WAIT_MS;
use super::tab_message::Msg;

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
    /// The answer to [`Coordination::ask`]: another tab's record, if one had a session.
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
    /// Waiting for the acknowledgements of barrier `n`.
    Barrier {
        n: u32,
        timer: u32,
        expected: usize,
        from: Vec<String>,
        held: Held,
    },
    /// The refresh is running.
    Running(Held),
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

    /// The refresh is over: its locks are released (after its tokens were announced).
    pub fn finish_refresh(&mut self) -> Vec<Op> {
        let held = match std::mem::replace(&mut self.refresh, Refresh::Idle) {
            Refresh::Running(h) | Refresh::Counting { held: h, .. } => h,
            Refresh::Barrier { held, .. } => held,
            Refresh::Locking { takeover, .. } => Held {
                main: None,
                takeover,
            },
            Refresh::Idle => Held::default(),
        };
        release(held)
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
        } = self.refresh.clone()
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
        if self.presence == Some(id) {
            return true;
        }
        let held = match &self.refresh {
            Refresh::Running(h) | Refresh::Counting { held: h, .. } => *h,
            Refresh::Barrier { held, .. } => *held,
            Refresh::Locking { takeover, .. } => Held {
                main: None,
                takeover: *takeover,
            },
            Refresh::Idle => Held::default(),
        };
        held.main == Some(id) || held.takeover == Some(id)
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
        match self.refresh.clone() {
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
mod tests {
    use super::*;

    fn lock_req(ops: &[Op]) -> (u32, Lock, Mode) {
        ops.iter()
            .find_map(|o| match o {
                Op::Lock { id, lock, mode } => Some((*id, *lock, *mode)),
                _ => None,
            })
            .unwrap()
    }

    fn timer(ops: &[Op]) -> u32 {
        ops.iter()
            .find_map(|o| match o {
                Op::Timer { id, .. } => Some(*id),
                _ => None,
            })
            .unwrap()
    }

    fn peers(ops: &[Op]) -> u32 {
        ops.iter()
            .find_map(|o| match o {
                Op::Peers(id) => Some(*id),
                _ => None,
            })
            .unwrap()
    }

    fn granted(id: u32) -> Input {
        Input::Lock {
            id,
            granted: true,
            refused: false,
        }
    }

    #[test]
    fn won_lock_then_barrier_waits_for_every_peer() {
        let mut c = Coordination::new(true);
        let ops = c.start_refresh(5_000.0);
        let (req, lock, mode) = lock_req(&ops);
        assert_eq!((lock, mode), (Lock::Refresh, Mode::Wait));
        assert!(ops.contains(&Op::Timer {
            id: timer(&ops),
            ms: 5_000.0
        }));
        let ops = c.input(granted(req));
        let q = peers(&ops);
        let ops = c.input(Input::Peers { id: q, count: 2 });
        assert!(ops.contains(&Op::Post(Msg::Sync(1))));
        let ops = c.input(Input::Ack {
            from: "a".into(),
            n: 1,
        });
        assert!(ops.is_empty());
        // The same tab twice, or an old barrier's ack, does not count.
        assert!(c
            .input(Input::Ack {
                from: "a".into(),
                n: 1
            })
            .is_empty());
        assert!(c
            .input(Input::Ack {
                from: "b".into(),
                n: 0
            })
            .is_empty());
        assert_eq!(
            c.input(Input::Ack {
                from: "b".into(),
                n: 1
            }),
            vec![Op::Ready]
        );
        assert_eq!(c.finish_refresh(), vec![Op::Release(req)]);
        // The lock-wait timer firing late changes nothing.
        assert!(c.input(Input::Timer(1)).is_empty());
    }

    #[test]
    fn no_peers_no_barrier_and_a_silent_peer_costs_the_tabs_wait() {
        let mut c = Coordination::new(true);
        let (req, ..) = lock_req(&c.start_refresh(100.0));
        let q = peers(&c.input(granted(req)));
        assert_eq!(c.input(Input::Peers { id: q, count: 0 }), vec![Op::Ready]);
        c.finish_refresh();
        let (req, ..) = lock_req(&c.start_refresh(100.0));
        let q = peers(&c.input(granted(req)));
        let ops = c.input(Input::Peers { id: q, count: 1 });
        assert!(ops.contains(&Op::Timer {
            id: timer(&ops),
            ms: TABS_WAIT_MS
        }));
        assert_eq!(c.input(Input::Timer(timer(&ops))), vec![Op::Ready]);
    }

    #[test]
    fn a_stuck_holder_is_taken_over_through_the_queue() {
        let mut c = Coordination::new(true);
        let ops = c.start_refresh(300.0);
        let (main, ..) = lock_req(&ops);
        // The wait ends: the request is aborted and the tab queues for the takeover.
        let ops = c.input(Input::Timer(timer(&ops)));
        assert_eq!(ops.first(), Some(&Op::Abort(main)));
        let (queue, lock, mode) = lock_req(&ops);
        assert_eq!((lock, mode), (Lock::Takeover, Mode::Wait));
        // A late grant of the aborted request is given back.
        assert_eq!(c.input(granted(main)), vec![Op::Release(main)]);
        // First in line: the refresh lock if free now, else stolen.
        let ops = c.input(granted(queue));
        let (again, lock, mode) = lock_req(&ops);
        assert_eq!((lock, mode), (Lock::Refresh, Mode::IfAvailable));
        let ops = c.input(Input::Lock {
            id: again,
            granted: false,
            refused: false,
        });
        let (steal, lock, mode) = lock_req(&ops);
        assert_eq!((lock, mode), (Lock::Refresh, Mode::Steal));
        let q = peers(&c.input(granted(steal)));
        assert_eq!(c.input(Input::Peers { id: q, count: 0 }), vec![Op::Ready]);
        assert_eq!(
            c.finish_refresh(),
            vec![Op::Release(steal), Op::Release(queue)]
        );
    }

    #[test]
    fn a_stuck_queue_is_stolen_and_a_failed_steal_still_refreshes() {
        let mut c = Coordination::new(true);
        let ops = c.start_refresh(300.0);
        let ops = c.input(Input::Timer(timer(&ops)));
        let ops = c.input(Input::Timer(timer(&ops)));
        let (steal, lock, mode) = lock_req(&ops);
        assert_eq!((lock, mode), (Lock::Takeover, Mode::Steal));
        let ops = c.input(Input::Lock {
            id: steal,
            granted: false,
            refused: false,
        });
        let q = peers(&ops);
        assert_eq!(c.input(Input::Peers { id: q, count: 0 }), vec![Op::Ready]);
        assert!(c.finish_refresh().is_empty());
    }

    #[test]
    fn refused_locks_mean_no_coordination_from_then_on() {
        let mut c = Coordination::new(true);
        let (req, ..) = lock_req(&c.start_refresh(300.0));
        let ops = c.input(Input::Lock {
            id: req,
            granted: false,
            refused: true,
        });
        assert_eq!(ops, vec![Op::Ready]);
        assert!(!c.has_locks());
        c.finish_refresh();
        assert_eq!(c.start_refresh(300.0), vec![Op::Ready]);
        assert_eq!(c.ask(), vec![Op::Answer(None)]);
        let mut none = Coordination::new(false);
        assert!(none.open().is_empty());
        assert_eq!(none.start_refresh(1.0), vec![Op::Ready]);
    }

    #[test]
    fn the_presence_lock_is_kept() {
        let mut c = Coordination::new(true);
        let (presence, lock, _) = lock_req(&c.open());
        assert_eq!(lock, Lock::Presence);
        c.start_refresh(300.0);
        assert!(c.input(granted(presence)).is_empty());
        c.finish_refresh();
        assert!(c.input(granted(presence)).is_empty());
    }

    #[test]
    fn one_refresh_coordinated_at_a_time() {
        let mut c = Coordination::new(true);
        assert!(!c.start_refresh(300.0).is_empty());
        assert!(c.start_refresh(300.0).is_empty());
    }

    #[test]
    fn the_question_takes_the_first_record_or_every_answer() {
        let mut c = Coordination::new(true);
        let q = peers(&c.ask());
        let ops = c.input(Input::Peers { id: q, count: 2 });
        assert!(ops.contains(&Op::Post(Msg::Ask)));
        assert!(c
            .input(Input::Have {
                from: "a".into(),
                record: None
            })
            .is_empty());
        let rec = Some("{}".to_string());
        assert_eq!(
            c.input(Input::Have {
                from: "b".into(),
                record: rec.clone()
            }),
            vec![Op::Answer(rec)]
        );
        // Late answers are dropped.
        assert!(c
            .input(Input::Have {
                from: "c".into(),
                record: None
            })
            .is_empty());
        let q = peers(&c.ask());
        assert_eq!(
            c.input(Input::Peers { id: q, count: 0 }),
            vec![Op::Answer(None)]
        );
        let q = peers(&c.ask());
        let ops = c.input(Input::Peers { id: q, count: 3 });
        assert_eq!(c.input(Input::Timer(timer(&ops))), vec![Op::Answer(None)]);
    }

    #[test]
    fn never_panics_on_stray_inputs() {
        let mut c = Coordination::new(true);
        for id in 0..20 {
            c.input(Input::Lock {
                id,
                granted: id % 2 == 0,
                refused: false,
            });
            c.input(Input::Peers {
                id,
                count: id as usize,
            });
            c.input(Input::Timer(id));
            c.input(Input::Ack {
                from: "x".into(),
                n: id,
            });
            c.input(Input::Have {
                from: "y".into(),
                record: None,
            });
        }
        c.finish_refresh();
        c.start_refresh(f64::NAN);
    }
}
