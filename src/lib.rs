//! tokenward keeps an app's OAuth 2.0 / JWT tokens, refreshes them before they expire —
//! one refresh for all open tabs — and attaches them to `fetch` calls for the origins the
//! app names.
//!
//! - [`core`]: every decision, sans-IO, tested natively.
//! - [`browser`]: the shell doing the browser I/O; [`TokenClient`] is the Rust API.
//! - `bindings`: the JavaScript API of the npm package (wasm32 only).
//!
//! The crate is `no_std` + `alloc`. With the default `std` feature (Rust apps) it links
//! std as usual; the npm build turns it off, so that the `.wasm` carries none of std's
//! panic machinery and `core::fmt` (see DESIGN.md, Size).

#![no_std]
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

extern crate alloc;
#[cfg(any(feature = "std", test))]
extern crate std;

#[cfg(all(
    not(feature = "std"),
    not(all(target_arch = "wasm32", not(target_feature = "atomics")))
))]
compile_error!(
    "without the `std` feature, tokenward builds only for wasm32 without atomics (the npm build)"
);

/// What the npm build does on a panic (there is no std to do it): trap, as std's
/// `panic = "abort"` would, without formatting a message nobody reads. The code is written
/// never to panic (clippy denies `unwrap`, `expect`, indexing and `panic!`).
#[cfg(all(not(feature = "std"), not(test)))]
#[panic_handler]
fn panic(_: &::core::panic::PanicInfo<'_>) -> ! {
    ::core::arch::wasm32::unreachable()
}

/// The `alloc` names every module uses (a `no_std` crate has no prelude for them).
mod prelude {
    pub(crate) use alloc::boxed::Box;
    #[cfg(test)]
    pub(crate) use alloc::format;
    pub(crate) use alloc::string::{String, ToString};
    pub(crate) use alloc::vec;
    pub(crate) use alloc::vec::Vec;
}

mod local;

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
