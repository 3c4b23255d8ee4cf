//! The browser work of tabs and time, performed by `js/shell.js` (a wasm-bindgen snippet):
//! Web Locks, the `BroadcastChannel`, timers and the page's signals. The core's
//! [`Coordination`](crate::core::coordination::Coordination) decides every step; this
//! module only names the locks and forwards the calls. What the browser answers comes back
//! through one callback, [`Sink`], as `(kind, id, value)`.

use crate::core::coordination::{Lock, Mode, Op};
use crate::core::tab_message::{encode, Msg};
use crate::prelude::*;
use wasm_bindgen::prelude::*;

#[wasm_bindgen(module = "/js/shell.js")]
extern "C" {
    fn open(sink: &JsValue, key: &str, cross_tab: bool, storage_key: Option<String>) -> JsValue;
    #[wasm_bindgen(js_name = hasChannel)]
    fn has_channel(s: &JsValue) -> bool;
    #[wasm_bindgen(js_name = hasLocks)]
    fn has_locks() -> bool;
    fn post(s: &JsValue, text: &str);
    fn later(s: &JsValue, id: u32, ms: f64);
    fn cancel(s: &JsValue, id: u32);
    fn lock(s: &JsValue, id: u32, name: &str, mode: u32);
    fn abort(s: &JsValue, id: u32);
    fn release(s: &JsValue, id: u32);
    fn peers(s: &JsValue, id: u32, prefix: &str, own: &str);
    fn close(s: &JsValue);
}

/// What the browser says, as `js/shell.js` passes it.
pub type Sink = Closure<dyn Fn(u32, u32, JsValue)>;

/// The kinds of [`Sink`] calls.
pub mod kind {
    /// A timer fired (id).
    pub const TIMER: u32 = 0;
    /// A lock request ended (id; value 1 granted, 0 not, 2 refused).
    pub const LOCK: u32 = 1;
    /// The number of other live tabs (id; value).
    pub const PEERS: u32 = 2;
    /// A message from another tab (value: its text).
    pub const MESSAGE: u32 = 3;
    /// The page became visible again.
    pub const VISIBLE: u32 = 4;
    /// The browser came back online.
    pub const ONLINE: u32 = 5;
    /// A `storage` event for the record (id 1: the area was cleared; value: the new value).
    pub const STORAGE: u32 = 6;
    /// The answer to an HTTP exchange `js/http.js` performed (id; value: the object its
    /// header describes), through the page's one answers sink (`browser::answer`).
    pub const ANSWER: u32 = 7;
}

/// The wake-up timer's id (the coordination's ids start at 1).
pub const WAKE: u32 = 0;

/// The shell's handles for one client.
pub struct Shell {
    handle: JsValue,
    key: String,
    id: String,
    app: Option<String>,
    channel: bool,
}

impl Shell {
    /// Starts listening (page signals, `storage` events for `storage_key`, the channel when
    /// `cross_tab`). `key` names the channel and the locks.
    pub fn open(
        sink: &Sink,
        key: &str,
        app: Option<String>,
        cross_tab: bool,
        storage_key: Option<String>,
    ) -> Shell {
        let handle = open(sink.as_ref(), key, cross_tab, storage_key);
        let channel = cross_tab && has_channel(&handle);
        let mut id = String::new();
        for n in [js_sys::Math::random() * 4e15, js_sys::Date::now()] {
            crate::core::json::push_hex(&mut id, n as u64, 16);
        }
        Shell {
            handle,
            key: key.to_string(),
            id,
            app,
            channel,
        }
    }

    /// Whether the browser has a `BroadcastChannel` (and `crossTab` is on).
    pub fn has_channel(&self) -> bool {
        self.channel
    }

    /// Whether the browser has Web Locks.
    pub fn has_locks() -> bool {
        has_locks()
    }

    /// This tab's id on the channel.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Posts `msg` to every other tab, or to the tab `to`.
    pub fn post(&self, to: Option<&str>, msg: &Msg) {
        if self.channel {
            post(
                &self.handle,
                &encode(&self.id, self.app.as_deref(), to, msg),
            );
        }
    }

    /// Answers [`kind::TIMER`] with `id` after `ms` (replacing that id's timer).
    pub fn later(&self, id: u32, ms: f64) {
        later(&self.handle, id, crate::core::float::floor(ms.max(0.0)));
    }

    /// Cancels the timer `id`.
    pub fn cancel(&self, id: u32) {
        cancel(&self.handle, id);
    }

    /// Stops listening; a refresh in flight keeps its locks and timers until it ends.
    pub fn close(&self) {
        close(&self.handle);
    }

    /// Performs one of the coordination's operations (`Ready` and `Answer` are the
    /// caller's).
    pub fn perform(&self, op: &Op) {
        match op {
            Op::Lock {
                id,
                lock: which,
                mode,
            } => {
                let mut name = self.key.clone();
                match which {
                    Lock::Presence => {
                        name.push_str(":tab:");
                        name.push_str(&self.id);
                    }
                    Lock::Refresh => name.push_str(":refresh"),
                    Lock::Takeover => name.push_str(":refresh:takeover"),
                }
                let mode = match mode {
                    Mode::Wait => 0,
                    Mode::IfAvailable => 1,
                    Mode::Steal => 2,
                };
                lock(&self.handle, *id, &name, mode);
            }
            Op::Abort(id) => abort(&self.handle, *id),
            Op::Release(id) => release(&self.handle, *id),
            Op::Peers(id) => {
                let mut prefix = self.key.clone();
                prefix.push_str(":tab:");
                let mut own = prefix.clone();
                own.push_str(&self.id);
                peers(&self.handle, *id, &prefix, &own);
            }
            Op::Post(msg) => self.post(None, msg),
            Op::Timer { id, ms } => self.later(*id, *ms),
            Op::Ready | Op::Answer(_) => {}
        }
    }
}
