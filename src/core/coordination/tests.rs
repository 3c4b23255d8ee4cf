use super::*;

/// The first operation `pick` accepts.
fn find<T>(ops: &[Op], pick: impl Fn(&Op) -> Option<T>) -> T {
    ops.iter().find_map(pick).unwrap()
}

fn lock_req(ops: &[Op]) -> (u32, Lock, Mode) {
    find(ops, |o| match o {
        Op::Lock { id, lock, mode } => Some((*id, *lock, *mode)),
        _ => None,
    })
}

fn timer(ops: &[Op]) -> u32 {
    find(ops, |o| match o {
        Op::Timer { id, .. } => Some(*id),
        _ => None,
    })
}

fn peers(ops: &[Op]) -> u32 {
    find(ops, |o| match o {
        Op::Peers(id) => Some(*id),
        _ => None,
    })
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
        c.input(Input::Busy(id));
        c.synced(id);
    }
    c.finish_refresh();
    c.start_refresh(f64::NAN);
}

/// A tab at its barrier: the locks held, `peers` other tabs asked. Returns the barrier's
/// timer.
fn at_barrier(c: &mut Coordination, wait_ms: f64, peers_count: usize) -> u32 {
    let (req, ..) = lock_req(&c.start_refresh(wait_ms));
    let q = peers(&c.input(granted(req)));
    timer(&c.input(Input::Peers {
        id: q,
        count: peers_count,
    }))
}

#[test]
fn a_tab_whose_refresh_is_in_flight_acknowledges_a_barrier_when_it_ends() {
    let mut c = Coordination::new(true);
    // Idle, or still at its own barrier: acknowledged at once.
    assert!(!c.synced(4));
    let t = at_barrier(&mut c, 300.0, 1);
    assert!(!c.synced(5));
    // Its refresh in flight: busy, and the acks follow its end, after the releases.
    assert_eq!(c.input(Input::Timer(t)), vec![Op::Ready]);
    assert!(c.synced(6));
    assert!(c.synced(1));
    let ops = c.finish_refresh();
    assert!(matches!(ops.first(), Some(Op::Release(_))));
    assert_eq!(ops[1..], [Op::Post(Msg::Ack(1)), Op::Post(Msg::Ack(6))]);
    // Owed once.
    assert!(c.finish_refresh().is_empty());
}

#[test]
fn a_busy_tab_is_waited_for_half_the_lock_wait_more_once() {
    let mut c = Coordination::new(true);
    let short = at_barrier(&mut c, 6_000.0, 2);
    let busy = Input::Busy;
    // Another barrier's busy changes nothing.
    assert!(c.input(busy(9)).is_empty());
    let ops = c.input(busy(1));
    let long = timer(&ops);
    assert!(ops.contains(&Op::Timer {
        id: long,
        ms: 3_000.0
    }));
    // The barrier's first timer no longer ends it, nor does a second busy extend it.
    assert!(c.input(Input::Timer(short)).is_empty());
    assert!(c.input(busy(1)).is_empty());
    let ack = |from: &str| Input::Ack {
        from: from.into(),
        n: 1,
    };
    assert!(c.input(ack("quick")).is_empty());
    // The slow tab's ack (after its tokens) lets the refresh go on, to find them.
    assert_eq!(c.input(ack("slow")), vec![Op::Ready]);
    assert!(c.input(Input::Timer(long)).is_empty());
    c.finish_refresh();
    // A busy tab that never acknowledges (hung) costs the long wait, no more; never less
    // than the tabs' wait.
    at_barrier(&mut c, 600.0, 1);
    let ops = c.input(busy(2));
    let long = timer(&ops);
    assert!(ops.contains(&Op::Timer {
        id: long,
        ms: TABS_WAIT_MS
    }));
    assert_eq!(c.input(Input::Timer(long)), vec![Op::Ready]);
}
