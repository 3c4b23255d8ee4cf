//! One-shot answers from the JavaScript shell: a request the wasm hands to a snippet
//! (`js/http.js`) gets an id, and the snippet answers it once through a [`Sink`] with
//! [`kind::ANSWER`](super::shell::kind::ANSWER). [`Pending`] is the future that waits for
//! that answer: an id in a table and a waker, instead of a `Promise` awaited through
//! `wasm-bindgen-futures` (two closures per await).
//!
//! The sink is one for the page (the same closure type as the shell's, so no new shims),
//! made on first use and kept: requests outlive the client that sent them (a revocation
//! on the way out), and an answer nobody waits for any more is dropped.

use super::shell::{kind, Sink};
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use wasm_bindgen::prelude::*;

/// A request waiting for its answer: its id, the answer once given, the task to wake.
type Slot = (u32, Option<JsValue>, Option<Waker>);

thread_local! {
    static SLOTS: RefCell<Vec<Slot>> = const { RefCell::new(Vec::new()) };
    static NEXT: Cell<u32> = const { Cell::new(0) };
    static SINK: RefCell<Option<Sink>> = const { RefCell::new(None) };
}

/// Where an answer arrives: the value is kept for [`Pending`] `id`, and its task woken.
/// An answer for an id nobody waits for (the future was dropped) is dropped.
fn deliver(id: u32, value: JsValue) {
    let waker = SLOTS.with(|s| {
        let mut slots = s.borrow_mut();
        let slot = slots.iter_mut().find(|s| s.0 == id)?;
        slot.1 = Some(value);
        slot.2.take()
    });
    if let Some(w) = waker {
        w.wake();
    }
}

/// The answer to one request, once the snippet gave it.
pub(crate) struct Pending(u32);

impl Pending {
    /// Hands a request to the snippet: `start(sink, id)` must make the snippet answer `id`
    /// once through `sink`, later (never synchronously).
    pub(crate) fn new(start: impl FnOnce(&JsValue, u32)) -> Pending {
        let id = NEXT.with(|n| {
            let id = n.get().wrapping_add(1);
            n.set(id);
            id
        });
        SLOTS.with(|s| s.borrow_mut().push((id, None, None)));
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
        Pending(id)
    }
}

impl Future for Pending {
    type Output = JsValue;

    /// Ready once with the answer; a future polled again after that never is.
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<JsValue> {
        let id = self.0;
        SLOTS.with(|s| {
            let mut slots = s.borrow_mut();
            let Some(at) = slots.iter().position(|s| s.0 == id) else {
                return Poll::Pending;
            };
            let slot = slots.get_mut(at);
            match slot {
                Some((_, value @ Some(_), _)) => {
                    let v = value.take();
                    slots.swap_remove(at);
                    v.map_or(Poll::Pending, Poll::Ready)
                }
                Some((_, None, waker)) => {
                    *waker = Some(cx.waker().clone());
                    Poll::Pending
                }
                None => Poll::Pending,
            }
        })
    }
}

impl Drop for Pending {
    /// A future dropped before its answer (its call was abandoned): the slot goes, and the
    /// late answer with it.
    fn drop(&mut self) {
        let id = self.0;
        SLOTS.with(|s| {
            if let Ok(mut slots) = s.try_borrow_mut() {
                if let Some(at) = slots.iter().position(|s| s.0 == id) {
                    slots.swap_remove(at);
                }
            }
        });
    }
}
