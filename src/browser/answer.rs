//! One-shot answers from the JavaScript shell: a request the wasm hands to a snippet
//! (`js/http.js`, `js/dpop.js`) gets an id, and the snippet answers it once, later,
//! through a [`Sink`] with [`kind::ANSWER`](super::shell::kind::ANSWER). The answer goes
//! to the callback given with the request: no Rust future and no `wasm-bindgen-futures`
//! (which costs two closures per awaited promise).
//!
//! The sink is one for the page (the same closure type as the shell's, so no new shims),
//! made on first use and kept: requests outlive the client that sent them (a revocation
//! on the way out). An answer nobody waits for is dropped.

use super::shell::{kind, Sink};
use super::Done;
use crate::core::error::Error;
use crate::local::RefCell;
use crate::prelude::*;
use ::core::cell::Cell;
use wasm_bindgen::prelude::*;

#[wasm_bindgen(module = "/js/http.js")]
extern "C" {
    /// Answers `id` through `sink` once `promise` settles: `[1, value]` or `[0, error]`;
    /// with `ms` > 0, `[2]` when it has not settled after `ms`.
    fn wait(sink: &JsValue, id: u32, promise: &JsValue, ms: f64);
}

crate::local::local! {
    static WAITING: RefCell<Vec<(u32, Done<JsValue>)>> = RefCell::new(Vec::new());
    static NEXT: Cell<u32> = Cell::new(0);
    static SINK: RefCell<Option<Sink>> = RefCell::new(None);
}

/// Where an answer arrives: the callback waiting for `id` is taken out of the table, then
/// called (so it may ask again).
fn deliver(id: u32, value: JsValue) {
    let then = WAITING.with(|w| {
        let mut waiting = w.borrow_mut();
        let at = waiting.iter().position(|(i, _)| *i == id)?;
        Some(waiting.swap_remove(at).1)
    });
    if let Some(then) = then {
        then(value);
    }
}

/// Hands a request to a snippet: `start(sink, id)` must make it answer `id` once through
/// `sink`, later (never synchronously); `then` gets the answer.
pub(crate) fn ask(start: impl FnOnce(&JsValue, u32), then: Done<JsValue>) {
    let id = NEXT.with(|n| {
        let id = n.get().wrapping_add(1);
        n.set(id);
        id
    });
    WAITING.with(|w| w.borrow_mut().push((id, then)));
    let sink = SINK.with(|s| {
        s.borrow_mut()
            .get_or_insert_with(|| {
                Closure::new(|k: u32, id: u32, value: JsValue| {
                    if k == kind::ANSWER {
                        deliver(id, value);
                    }
                })
            })
            .as_ref()
            .clone()
    });
    start(&sink, id);
}

/// Waits for a promise (or any value: it is resolved first): `then` gets what it resolved
/// to, or what it rejected with.
pub(crate) fn settled(promise: &JsValue, then: Done<Result<JsValue, JsValue>>) {
    settled_within(
        promise,
        0.0,
        Box::new(move |r| then(r.map_err(|e| e.unwrap_or(JsValue::UNDEFINED)))),
    );
}

/// The bytes a promise resolves to (a `Uint8Array`), or `fail` of what it rejected with:
/// one callback type for every WebCrypto answer (DPoP's and sign-in's SHA-256).
pub(crate) fn settled_bytes(
    promise: &JsValue,
    fail: fn(JsValue) -> Error,
    done: Done<Result<Vec<u8>, Error>>,
) {
    settled(
        promise,
        Box::new(move |r| done(r.map(|v| bytes(&v)).map_err(fail))),
    );
}

/// [`settled`], but no longer than `ms` (when > 0): then `then` gets `Err(None)`, and a
/// late answer is dropped.
pub(crate) fn settled_within(
    promise: &JsValue,
    ms: f64,
    then: Done<Result<JsValue, Option<JsValue>>>,
) {
    ask(
        |sink, id| wait(sink, id, promise, ms),
        Box::new(move |answer| {
            let pair = answer.unchecked_ref::<js_sys::Array>();
            let value = pair.get(1);
            then(match pair.get(0).as_f64() {
                Some(1.0) => Ok(value),
                Some(0.0) => Err(Some(value)),
                _ => Err(None),
            });
        }),
    );
}

/// The bytes a promise resolves to (a `Uint8Array`, as every `js/` snippet gives), read in
/// place byte by byte: `to_vec` asserts the length and pulls in panic formatting. A value
/// without a numeric `length` would read as no bytes.
pub(crate) fn bytes(value: &JsValue) -> Vec<u8> {
    let array = value.unchecked_ref::<super::Indexed>();
    (0..array.length()).map(|i| array.byte(i)).collect()
}

/// What an `async` Rust API method waits on: a value another callback gives once.
pub(crate) mod oneshot {
    use super::Done;
    use crate::local::RefCell;
    use crate::prelude::*;
    use ::core::future::Future;
    use ::core::pin::Pin;
    use ::core::task::{Context, Poll, Waker};
    use alloc::rc::Rc;

    type Slot<T> = Rc<RefCell<(Option<T>, Option<Waker>)>>;

    /// The future side: ready once the callback was called.
    pub(crate) struct Receiver<T>(Slot<T>);

    /// A callback and the future that gets what it is called with.
    pub(crate) fn channel<T: 'static>() -> (Done<T>, Receiver<T>) {
        let slot: Slot<T> = Rc::new(RefCell::new((None, None)));
        let tx = slot.clone();
        let done: Done<T> = Box::new(move |value| {
            let waker = {
                let mut s = tx.borrow_mut();
                s.0 = Some(value);
                s.1.take()
            };
            if let Some(w) = waker {
                w.wake();
            }
        });
        (done, Receiver(slot))
    }

    impl<T> Future for Receiver<T> {
        type Output = T;

        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
            let mut s = self.0.borrow_mut();
            match s.0.take() {
                Some(v) => Poll::Ready(v),
                None => {
                    s.1 = Some(cx.waker().clone());
                    Poll::Pending
                }
            }
        }
    }
}
