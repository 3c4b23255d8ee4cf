//! tokenward keeps an app's OAuth 2.0 / JWT tokens, refreshes them before they expire —
//! one refresh for all open tabs — and attaches them to `fetch` calls for the origins the
//! app names.
//!
//! - [`core`]: every decision, sans-IO, tested natively.
//! - [`browser`]: the shell doing the browser I/O; [`TokenClient`] is the Rust API.
//! - `bindings`: the JavaScript API of the npm package (wasm32 only).

#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        clippy::unreachable
    )
)]

/// The wasm build's allocator: lol_alloc's free list (sorted, coalescing), smaller than
/// talc and the default dlmalloc (see DESIGN.md, Dependencies).
#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
#[global_allocator]
// SAFETY: `AssumeSingleThreaded` is sound only where one thread allocates; this wasm
// build has no atomics (the `cfg` above), so no second thread can exist. The only
// `unsafe` in the crate.
#[allow(unsafe_code)]
static ALLOCATOR: lol_alloc::AssumeSingleThreaded<lol_alloc::FreeListAllocator> =
    unsafe { lol_alloc::AssumeSingleThreaded::new(lol_alloc::FreeListAllocator::new()) };

pub mod browser;
pub mod core;

#[cfg(target_arch = "wasm32")]
mod bindings;

pub use browser::client::{FetchError, ListenerId, Options, TokenClient};
pub use browser::signin::{SignInParams, SignOutOptions};
pub use browser::storage::StorageKind;
pub use core::{Error, ErrorCode, Event, EventKind, Reason, Status, TokenResponse};
