//! How the client drives the core: take the time, let the session decide, then perform
//! its actions (persist, clear, refresh, emit, announce) with no borrow held, so that
//! listeners may call back into the client; the wake-up timer; the end of start-up.

use super::*;

impl Inner {
    pub(super) fn now(&self) -> f64 {
        match &self.clock {
            Some(c) => c(),
            None => js_sys::Date::now(),
        }
    }

    /// Lets the core decide, then performs what it decided.
    pub(super) fn step(self: &Rc<Self>, f: impl FnOnce(&mut Session, f64) -> Vec<Action>) {
        let now = self.now();
        let actions = f(&mut self.session.borrow_mut(), now);
        self.perform(actions);
    }

    pub(super) fn report(self: &Rc<Self>, error: Error) {
        self.step(|s, _| s.report(error));
    }

    pub(super) fn perform(self: &Rc<Self>, actions: Vec<Action>) {
        for action in actions {
            match action {
                Action::Persist(record) => {
                    if let Err(e) = self.store.write(&record) {
                        let stored = self.store.read().ok().flatten();
                        self.step(|s, _| s.persist_failed(e, stored.as_deref()));
                    }
                }
                Action::Unstore(marker) => {
                    if self.store.write(&marker).is_err() {
                        let _ = self.store.clear();
                    }
                }
                Action::Clear(marker) => {
                    let local = self.store.kind() == StorageKind::Local;
                    let write = |m: &String| self.store.write(m).is_ok();
                    // Only the other tabs' `storage` events read the marker; a failure to
                    // write it leaves them the channel's message.
                    let marked = local && marker.as_ref().is_some_and(write);
                    if let Err(e) = self.store.clear() {
                        // A record that stays would come back on reload: overwritten by the
                        // marker (tried above in `localStorage`), it does not; when that
                        // fails too, the app hears of it.
                        if !(marked || (!local && marker.as_ref().is_some_and(write))) {
                            self.report(e);
                        }
                    }
                }
                Action::Forget(started) => {
                    let keep = self.store.kind() == StorageKind::Local
                        && !matches!(self.store.read(),
                            Ok(Some(stored)) if self.session.borrow().forgets(&stored, started));
                    if !keep {
                        let _ = self.store.clear();
                    }
                }
                Action::Refresh(refresh_token) => self.start_refresh(refresh_token),
                Action::Emit(event) => {
                    if event.kind == EventKind::SignedOut {
                        self.forget_dpop_key(event.reason);
                    }
                    self.emit(&event)
                }
                Action::Announce(a) => {
                    if self.coordinated.get() {
                        if let Some(shell) = self.shell.borrow().as_ref() {
                            shell.post(None, &Msg::from(a));
                        }
                    }
                }
            }
        }
        self.reschedule();
    }

    /// Calls the event's listeners, in the order they were added: those added during the
    /// dispatch hear the next event; one removed during it (by an earlier listener) is not
    /// called. The npm build's listeners are `js/client.js`'s dispatcher, which skips a
    /// removed listener itself (and never removes its own): there the check is left out.
    pub(super) fn emit(&self, event: &Event) {
        let listeners: Vec<(u64, Listener)> = self
            .listeners
            .borrow()
            .iter()
            .filter(|(_, k, _)| *k == event.kind)
            .map(|(id, _, l)| (*id, l.clone()))
            .collect();
        for (id, l) in listeners {
            if cfg!(not(feature = "std"))
                || self.listeners.borrow().iter().any(|(i, _, _)| *i == id)
            {
                l(event);
            }
        }
    }

    pub(super) fn reschedule(self: &Rc<Self>) {
        if self.disposed.get() {
            return;
        }
        let next = self.session.borrow().next_wakeup();
        if next == self.wake_at.get() {
            return;
        }
        let shell = self.shell.borrow();
        let Some(shell) = shell.as_ref() else { return };
        self.wake_at.set(next);
        match next {
            Some(at) => shell.later(WAKE, policy::timer_delay(self.now(), at)),
            None => shell.cancel(WAKE),
        }
    }

    /// The session is restored: an authorization response in the URL is handled next
    /// (a failure is an `error` event, never a failed start), then start-up is done.
    pub(super) fn restored(self: &Rc<Self>) {
        if !self.signin.response_in_page() {
            self.start_done();
            return;
        }
        let client = TokenClient {
            inner: self.clone(),
        };
        let inner = self.clone();
        client.handle_redirect_then(Box::new(move |handled| {
            if let Err(e) = handled {
                inner.report(e);
            }
            inner.start_done();
        }));
    }

    pub(super) fn start_done(self: &Rc<Self>) {
        self.reschedule();
        self.started.set(true);
        let waiting = ::core::mem::take(&mut *self.on_started.borrow_mut());
        for then in waiting {
            then(());
        }
    }
}
