//! What the browser shell answers (see `js/shell.js`): timers, lock grants, the count of
//! live tabs, other tabs' messages and the page's signals, fed to the session and the
//! coordination, whose operations are performed here.

use super::*;

impl Inner {
    /// What the browser said (see `js/shell.js`).
    pub(super) fn on_shell(self: &Rc<Self>, kind: u32, id: u32, value: JsValue) {
        match kind {
            kind::TIMER if id == WAKE => {
                self.wake_at.set(None);
                self.step(|s, now| s.wake(now));
            }
            kind::TIMER => self.coordinate_input(Input::Timer(id)),
            kind::LOCK => {
                let v = value.as_f64().unwrap_or(0.0);
                self.coordinate_input(Input::Lock {
                    id,
                    granted: v == 1.0,
                    refused: v == 2.0,
                });
            }
            kind::PEERS => self.coordinate_input(Input::Peers {
                id,
                count: value.as_f64().unwrap_or(0.0).max(0.0) as usize,
            }),
            kind::MESSAGE => {
                if let Some(text) = crate::browser::text(&value) {
                    self.on_tab_message(&text);
                }
            }
            kind::VISIBLE => self.step(|s, now| s.wake(now)),
            kind::ONLINE => self.step(|s, now| s.online(now)),
            kind::STORAGE => {
                let new_value = crate::browser::text(&value);
                let shared = self.coordinated.get();
                self.step(|s, _| s.storage_changed(id == 1, new_value.as_deref(), shared));
            }
            _ => {}
        }
    }

    fn coordinate_input(self: &Rc<Self>, input: Input) {
        let had_locks = self.coord.borrow().has_locks();
        let ops = self.coord.borrow_mut().input(input);
        if had_locks && !self.coord.borrow().has_locks() {
            // The browser refuses this origin's or this key's locks (`NotSupportedError`,
            // `SecurityError`): said once, as when there are none.
            self.report(no_locks());
        }
        self.coordinate(ops);
    }

    /// Performs the coordination's operations; `Ready` goes on with the refresh,
    /// `Answer` settles the start-up question.
    pub(super) fn coordinate(self: &Rc<Self>, ops: Vec<Op>) {
        for op in ops {
            match op {
                Op::Ready => self.refresh_ready(),
                Op::Answer(record) => {
                    if let Some(record) = record {
                        self.step(|s, now| s.adopt(now, &record));
                    }
                    self.restored();
                }
                op => {
                    if let Some(shell) = self.shell.borrow().as_ref() {
                        shell.perform(&op);
                    }
                }
            }
        }
    }

    fn on_tab_message(self: &Rc<Self>, text: &str) {
        if text.len() > crate::core::limits::MAX_TAB_MESSAGE || !self.coordinated.get() {
            return;
        }
        let Some((from, to, msg)) = decode(text, self.app.as_deref()) else {
            return;
        };
        let reply = |msg: &Msg| {
            if let Some(shell) = self.shell.borrow().as_ref() {
                shell.post(Some(&from), msg);
            }
        };
        {
            let shell = self.shell.borrow();
            let Some(shell) = shell.as_ref() else { return };
            if to.as_deref().is_some_and(|t| t != shell.id()) {
                return;
            }
        }
        match msg {
            Msg::Sync(n) => {
                let busy = self.coord.borrow_mut().synced(n);
                reply(&if busy { Msg::Busy(n) } else { Msg::Ack(n) })
            }
            Msg::Busy(n) => self.coordinate_input(Input::Busy(n)),
            Msg::Ack(n) => self.coordinate_input(Input::Ack { from, n }),
            Msg::Have(record) => self.coordinate_input(Input::Have { from, record }),
            Msg::Ask => {
                let record = self.session.borrow().record();
                reply(&Msg::Have(record));
            }
            Msg::Tokens(record) => self.step(|s, now| s.adopt(now, &record)),
            Msg::SignedOut(reason, started) => {
                self.step(|s, _| s.remote_signed_out(reason, started))
            }
        }
    }
}

pub(super) fn no_locks() -> Error {
    Error::new(
        ErrorCode::Unsupported,
        "this browser has no Web Locks: refreshes are not coordinated between tabs",
    )
}
