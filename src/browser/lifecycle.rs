//! Page lifecycle signals that should wake the core: the page became visible again,
//! came back online, or was restored from the back/forward cache. Timers in hidden tabs
//! are throttled and stop during sleep; these events make up for it.

use wasm_bindgen::prelude::*;

/// Which signal fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// `visibilitychange` to visible, or `pageshow`.
    Visible,
    /// `online`.
    Online,
}

type Registered = (
    web_sys::EventTarget,
    &'static str,
    Closure<dyn FnMut(web_sys::Event)>,
);

/// Registered listeners; dropping this removes them.
pub struct Lifecycle {
    registered: Vec<Registered>,
}

/// A `storage` event about `localStorage`: the whole area was cleared, or `key` got a new
/// value (`None` when it was removed).
pub struct StorageChange {
    /// `localStorage.clear()` (or site data cleared).
    pub cleared: bool,
    /// The record's new value.
    pub new_value: Option<String>,
}

impl Lifecycle {
    /// Calls `f` on every signal until dropped. Outside a window (a worker) nothing fires.
    pub fn listen(f: impl Fn(Signal) + 'static) -> Lifecycle {
        let mut registered = Vec::new();
        let Some(window) = web_sys::window() else {
            return Lifecycle { registered };
        };
        let f = std::rc::Rc::new(f);
        let document = window.document();
        let mut add = |target: web_sys::EventTarget,
                       name: &'static str,
                       signal: Signal,
                       check_visible: bool| {
            let f = f.clone();
            let doc = document.clone();
            let cb = Closure::<dyn FnMut(web_sys::Event)>::new(move |_e: web_sys::Event| {
                if check_visible
                    && doc
                        .as_ref()
                        .is_some_and(|d| d.visibility_state() != web_sys::VisibilityState::Visible)
                {
                    return;
                }
                f(signal);
            });
            if target
                .add_event_listener_with_callback(name, cb.as_ref().unchecked_ref())
                .is_ok()
            {
                registered.push((target, name, cb));
            }
        };
        if let Some(doc) = &document {
            add(
                doc.clone().into(),
                "visibilitychange",
                Signal::Visible,
                true,
            );
        }
        add(window.clone().into(), "pageshow", Signal::Visible, false);
        add(window.into(), "online", Signal::Online, false);
        Lifecycle { registered }
    }

    /// Also calls `f` on `storage` events of `localStorage` that concern `key`, until dropped.
    pub fn watch_storage(&mut self, key: String, f: impl Fn(StorageChange) + 'static) {
        let Some(window) = web_sys::window() else {
            return;
        };
        let local = window.local_storage().ok().flatten();
        let cb = Closure::<dyn FnMut(web_sys::Event)>::new(move |e: web_sys::Event| {
            let Some(e) = e.dyn_ref::<web_sys::StorageEvent>() else {
                return;
            };
            // Only localStorage: its area is shared by the tabs.
            if e.storage_area().is_none() || e.storage_area() != local {
                return;
            }
            match e.key() {
                None => f(StorageChange {
                    cleared: true,
                    new_value: None,
                }),
                Some(k) if k == key => f(StorageChange {
                    cleared: false,
                    new_value: e.new_value(),
                }),
                Some(_) => {}
            }
        });
        let target: web_sys::EventTarget = window.into();
        if target
            .add_event_listener_with_callback("storage", cb.as_ref().unchecked_ref())
            .is_ok()
        {
            self.registered.push((target, "storage", cb));
        }
    }
}

impl Drop for Lifecycle {
    fn drop(&mut self) {
        for (target, name, cb) in &self.registered {
            let _ = target.remove_event_listener_with_callback(name, cb.as_ref().unchecked_ref());
        }
    }
}
