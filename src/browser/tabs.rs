//! Talking to the app's other tabs: a `BroadcastChannel` for messages and Web Locks for
//! mutual exclusion and presence.
//!
//! - Each tab holds a presence lock (`<key>:tab:<id>`) for its lifetime, so a tab can
//!   count the live tabs with `navigator.locks.query()` — a closed or crashed tab's lock
//!   is released by the browser.
//! - The refresh runs under `<key>:refresh`. Once granted, the tab runs a barrier: it
//!   asks every live tab for an acknowledgement. A channel delivers one sender's messages
//!   in order, so when the last refresher's acknowledgement arrives, its new tokens
//!   (posted before it released the lock) have arrived too: the tab cannot refresh with a
//!   rotated refresh token, whatever the storage mode.
//! - A lock that is not granted within a bounded time (a tab hung mid-refresh) is stolen.

use super::timer::Timeout;
pub use crate::core::tab_message::Msg;
use crate::core::tab_message::{decode, encode};
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

#[wasm_bindgen]
extern "C" {
    type LockManager;
    #[wasm_bindgen(method, catch, js_name = request)]
    fn request(
        this: &LockManager,
        name: &str,
        options: &JsValue,
        callback: &js_sys::Function,
    ) -> Result<js_sys::Promise, JsValue>;
    #[wasm_bindgen(method, catch)]
    fn query(this: &LockManager) -> Result<js_sys::Promise, JsValue>;
}

fn lock_manager() -> Option<LockManager> {
    let navigator = js_sys::Reflect::get(&js_sys::global(), &"navigator".into()).ok()?;
    let locks = js_sys::Reflect::get(&navigator, &"locks".into()).ok()?;
    if locks.is_undefined() || locks.is_null() {
        return None;
    }
    Some(locks.unchecked_into())
}

/// A promise that resolves to `false` after `ms`, and the timer behind it (dropping
/// the timer cancels it).
fn deadline(ms: f64) -> (js_sys::Promise, Timeout) {
    let slot: Rc<RefCell<Option<js_sys::Function>>> = Rc::new(RefCell::new(None));
    let promise = {
        let slot = slot.clone();
        js_sys::Promise::new(&mut move |resolve, _| {
            *slot.borrow_mut() = Some(resolve);
        })
    };
    let resolve = slot.borrow_mut().take();
    let timer = Timeout::new(ms, move || {
        if let Some(r) = &resolve {
            let _ = r.call1(&JsValue::UNDEFINED, &JsValue::FALSE);
        }
    });
    (promise, timer)
}

/// A held Web Lock; dropping it releases the lock.
pub struct LockGuard {
    release: js_sys::Function,
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        let _ = self.release.call0(&JsValue::UNDEFINED);
    }
}

/// The refresh lock, and the takeover lock when it had to be taken over; both are
/// released when dropped.
pub struct RefreshGuard {
    _main: LockGuard,
    _takeover: Option<LockGuard>,
}

/// Collects answers (`Ack` / `Have`) for one outstanding question.
struct Question {
    n: u32,
    from: Vec<String>,
    record: Option<String>,
    expected: usize,
    resolve: Option<js_sys::Function>,
}

impl Question {
    /// Records an answer from `from`, and settles the question once every expected tab
    /// answered, or one had a record.
    fn answer(&mut self, from: String, record: Option<String>) {
        if !self.from.contains(&from) {
            self.from.push(from);
        }
        if self.record.is_none() {
            self.record = record;
        }
        if self.from.len() >= self.expected || self.record.is_some() {
            if let Some(resolve) = self.resolve.take() {
                let _ = resolve.call0(&JsValue::UNDEFINED);
            }
        }
    }
}

/// The open channel to the other tabs.
pub struct Tabs {
    id: String,
    app: Option<String>,
    key: String,
    channel: web_sys::BroadcastChannel,
    _onmessage: Closure<dyn FnMut(web_sys::MessageEvent)>,
    locks: Option<LockManager>,
    /// Set once the browser refused a lock request (`NotSupportedError` for a name starting
    /// with `-`, `SecurityError` where site data is blocked or the origin is opaque): from
    /// then on the tab works as if it had no Web Locks.
    locks_refused: Rc<Cell<bool>>,
    _presence: Option<LockGuard>,
    question: Rc<RefCell<Option<Question>>>,
    counter: Cell<u32>,
}

/// What the client is told: a message from another tab, and how to answer it.
pub type Handler = Rc<dyn Fn(Msg) -> Option<Msg>>;

impl Tabs {
    /// Opens the channel named from `key`. `handler` gets `Tokens`, `SignedOut` and
    /// `Ask`, and returns the reply to send back (for `Ask`). Fails when the browser has
    /// no `BroadcastChannel`; a missing Web Locks API is reported by [`Tabs::has_locks`].
    pub async fn open(key: &str, app: Option<&str>, handler: Handler) -> Result<Tabs, JsValue> {
        let channel = web_sys::BroadcastChannel::new(key)?;
        let id = format!(
            "{:x}{:x}",
            (js_sys::Math::random() * 4e15) as u64,
            (js_sys::Date::now()) as u64
        );
        let question: Rc<RefCell<Option<Question>>> = Rc::new(RefCell::new(None));
        let q = question.clone();
        let reply_channel = channel.clone();
        let me = id.clone();
        let my_app = app.map(str::to_string);
        let app = my_app.clone();
        let onmessage =
            Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |e: web_sys::MessageEvent| {
                let data = e.data();
                let Some(text) = data
                    .dyn_ref::<js_sys::JsString>()
                    .filter(|s| s.length() as usize <= crate::core::limits::MAX_TAB_MESSAGE)
                    .map(String::from)
                else {
                    return;
                };
                let Some((from, to, msg)) = decode(&text, my_app.as_deref()) else {
                    return;
                };
                if to.as_deref().is_some_and(|t| t != me) {
                    return;
                }
                match msg {
                    Msg::Sync(n) => {
                        let _ = reply_channel.post_message(&JsValue::from_str(&encode(
                            &me,
                            my_app.as_deref(),
                            Some(&from),
                            &Msg::Ack(n),
                        )));
                    }
                    Msg::Ack(n) => {
                        if let Some(question) = q.borrow_mut().as_mut().filter(|x| x.n == n) {
                            question.answer(from, None);
                        }
                    }
                    Msg::Have(record) => {
                        if let Some(question) = q.borrow_mut().as_mut() {
                            question.answer(from, record);
                        }
                    }
                    other => {
                        if let Some(reply) = handler(other) {
                            let _ = reply_channel.post_message(&JsValue::from_str(&encode(
                                &me,
                                my_app.as_deref(),
                                Some(&from),
                                &reply,
                            )));
                        }
                    }
                }
            });
        channel.set_onmessage(Some(onmessage.as_ref().unchecked_ref()));
        let locks = lock_manager();
        let mut tabs = Tabs {
            id,
            app,
            key: key.to_string(),
            channel,
            _onmessage: onmessage,
            locks,
            locks_refused: Rc::new(Cell::new(false)),
            _presence: None,
            question,
            counter: Cell::new(0),
        };
        let presence_name = format!("{}:tab:{}", tabs.key, tabs.id);
        tabs._presence = tabs.acquire(&presence_name, false, None).await;
        Ok(tabs)
    }

    /// Whether Web Locks are available (without them, refreshes are not coordinated).
    pub fn has_locks(&self) -> bool {
        self.locks.is_some() && !self.locks_refused.get()
    }

    /// Sends a message to every other tab.
    pub fn post(&self, msg: &Msg) {
        let _ = self.channel.post_message(&JsValue::from_str(&encode(
            &self.id,
            self.app.as_deref(),
            None,
            msg,
        )));
    }

    /// Requests the lock `name`; with `wait_ms`, gives up waiting after that long and
    /// returns `None` (the caller may then steal it).
    fn acquire<'a>(
        &'a self,
        name: &'a str,
        steal: bool,
        wait_ms: Option<f64>,
    ) -> super::Boxed<'a, Option<LockGuard>> {
        Box::pin(async move {
            let locks = self.locks.as_ref()?;
            if self.locks_refused.get() {
                return None;
            }
            let release: Rc<RefCell<Option<js_sys::Function>>> = Rc::new(RefCell::new(None));
            let hold = {
                let release = release.clone();
                js_sys::Promise::new(&mut move |resolve, _| {
                    *release.borrow_mut() = Some(resolve);
                })
            };
            let granted_resolve: Rc<RefCell<Option<js_sys::Function>>> =
                Rc::new(RefCell::new(None));
            let granted = {
                let g = granted_resolve.clone();
                js_sys::Promise::new(&mut move |resolve, _| {
                    *g.borrow_mut() = Some(resolve);
                })
            };
            let g = granted_resolve.clone();
            let callback = Closure::once_into_js(move |_lock: JsValue| -> js_sys::Promise {
                if let Some(resolve) = g.borrow_mut().take() {
                    let _ = resolve.call1(&JsValue::UNDEFINED, &JsValue::TRUE);
                }
                hold
            });
            let options = js_sys::Object::new();
            let controller = web_sys::AbortController::new().ok();
            if steal {
                let _ = js_sys::Reflect::set(&options, &"steal".into(), &JsValue::TRUE);
            } else if let (Some(c), Some(_)) = (&controller, wait_ms) {
                let _ = js_sys::Reflect::set(&options, &"signal".into(), &c.signal());
            }
            // A rejected request is expected (aborted after the wait, stolen by another tab) or
            // a refusal (the browser will not grant this lock at all): either way the grant is
            // settled as "not won", so that nothing waits for a grant that cannot come.
            let refused = self.locks_refused.clone();
            let not_granted = granted_resolve.clone();
            let done = match locks.request(name, &options, callback.unchecked_ref()) {
                Ok(p) => p,
                Err(e) => js_sys::Promise::reject(&e),
            };
            wasm_bindgen_futures::spawn_local(async move {
                if let Err(e) = JsFuture::from(done).await {
                    let name = js_sys::Reflect::get(&e, &"name".into())
                        .ok()
                        .and_then(|n| n.as_string());
                    if matches!(name.as_deref(), Some("NotSupportedError" | "SecurityError")) {
                        refused.set(true);
                    }
                    if let Some(resolve) = not_granted.borrow_mut().take() {
                        let _ = resolve.call1(&JsValue::UNDEFINED, &JsValue::FALSE);
                    }
                }
            });
            let won = match wait_ms {
                None => matches!(JsFuture::from(granted).await, Ok(v) if v.is_truthy()),
                Some(ms) => {
                    let (timeout, _timer) = deadline(ms);
                    let race = js_sys::Promise::race(&js_sys::Array::of2(&granted, &timeout));
                    matches!(JsFuture::from(race).await, Ok(v) if v.is_truthy())
                }
            };
            if !won {
                if let Some(c) = controller {
                    c.abort();
                }
                // Granted at the very moment we gave up: release it at once.
                if let Some(r) = release.borrow_mut().take() {
                    let _ = r.call0(&JsValue::UNDEFINED);
                }
                return None;
            }
            let release = release.borrow_mut().take()?;
            Some(LockGuard { release })
        })
    }

    /// Takes the refresh lock, waiting at most `wait_ms` for a tab that holds it. A holder
    /// that seems stuck is taken over, one tab at a time: takeovers queue on a second
    /// lock, so the next tab in line runs its barrier after the previous one announced
    /// its tokens, and does not spend the same refresh token. `None` without Web Locks.
    pub async fn refresh_lock(&self, wait_ms: f64) -> Option<RefreshGuard> {
        let name = format!("{}:refresh", self.key);
        if let Some(main) = self.acquire(&name, false, Some(wait_ms)).await {
            return Some(RefreshGuard {
                _main: main,
                _takeover: None,
            });
        }
        let takeover_name = format!("{name}:takeover");
        let takeover = match self.acquire(&takeover_name, false, Some(wait_ms)).await {
            Some(g) => g,
            // A takeover that is stuck too: the last resort.
            None => self.acquire(&takeover_name, true, None).await?,
        };
        // The holder may have finished while this tab waited in line.
        let main = match self.acquire(&name, false, Some(0.0)).await {
            Some(g) => g,
            None => self.acquire(&name, true, None).await?,
        };
        Some(RefreshGuard {
            _main: main,
            _takeover: Some(takeover),
        })
    }

    /// How many other tabs of this app are alive (by their presence locks).
    pub async fn peers(&self) -> usize {
        let Some(locks) = self.locks.as_ref().filter(|_| !self.locks_refused.get()) else {
            return 0;
        };
        let Ok(query) = locks.query() else { return 0 };
        let Ok(snapshot) = JsFuture::from(query).await else {
            return 0;
        };
        let Ok(held) = js_sys::Reflect::get(&snapshot, &"held".into()) else {
            return 0;
        };
        let prefix = format!("{}:tab:", self.key);
        let own = format!("{prefix}{}", self.id);
        let mut names: Vec<String> = Vec::new();
        for info in js_sys::Array::from(&held).iter() {
            if let Some(name) = js_sys::Reflect::get(&info, &"name".into())
                .ok()
                .and_then(|n| n.as_string())
            {
                if name.starts_with(&prefix) && name != own && !names.contains(&name) {
                    names.push(name);
                }
            }
        }
        names.len()
    }

    /// Sends `msg` and waits (at most `wait_ms`) for `peers` answers; returns the record
    /// from the first `Have` answer.
    fn gather(
        &self,
        msg: Msg,
        n: u32,
        peers: usize,
        wait_ms: f64,
    ) -> super::Boxed<'_, Option<String>> {
        Box::pin(async move {
            let slot: Rc<RefCell<Option<js_sys::Function>>> = Rc::new(RefCell::new(None));
            let settled = {
                let slot = slot.clone();
                js_sys::Promise::new(&mut move |resolve, _| {
                    *slot.borrow_mut() = Some(resolve);
                })
            };
            let resolve = slot.borrow_mut().take();
            *self.question.borrow_mut() = Some(Question {
                n,
                from: Vec::new(),
                record: None,
                expected: peers,
                resolve,
            });
            self.post(&msg);
            // Answers arrive as tasks and settle the question; a tab that never answers
            // (frozen, closing) costs at most `wait_ms`.
            let (timeout, _timer) = deadline(wait_ms);
            let _ = JsFuture::from(js_sys::Promise::race(&js_sys::Array::of2(
                &settled, &timeout,
            )))
            .await;
            self.question.borrow_mut().take().and_then(|q| q.record)
        })
    }

    /// The barrier: every live tab has delivered what it posted before now.
    pub async fn sync(&self, wait_ms: f64) {
        let peers = self.peers().await;
        if peers == 0 {
            return;
        }
        let n = self.counter.get().wrapping_add(1);
        self.counter.set(n);
        self.gather(Msg::Sync(n), n, peers, wait_ms).await;
    }

    /// Asks the live tabs for their session; `None` when no tab has one.
    pub async fn ask(&self, wait_ms: f64) -> Option<String> {
        let peers = self.peers().await;
        if peers == 0 {
            return None;
        }
        self.gather(Msg::Ask, 0, peers, wait_ms).await
    }
}

impl Drop for Tabs {
    fn drop(&mut self) {
        self.channel.set_onmessage(None);
        self.channel.close();
    }
}
