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
}

impl Drop for Lifecycle {
    fn drop(&mut self) {
        for (target, name, cb) in &self.registered {
            let _ = target.remove_event_listener_with_callback(name, cb.as_ref().unchecked_ref());
        }
    }
}
