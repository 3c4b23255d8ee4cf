//! Per-thread state: std's `thread_local!` with the `std` feature; without it (the npm
//! build: wasm32 without atomics, one thread) a plain static with the same `with` method.

/// Declares statics read with `NAME.with(|value| …)`, as `thread_local!` does.
#[cfg(feature = "std")]
macro_rules! local {
    ($(static $name:ident: $t:ty = $init:expr;)*) => {
        std::thread_local! { $(static $name: $t = const { $init };)* }
    };
}

/// Declares statics read with `NAME.with(|value| …)`, as `thread_local!` does.
#[cfg(not(feature = "std"))]
macro_rules! local {
    ($(static $name:ident: $t:ty = $init:expr;)*) => {
        $(static $name: $crate::local::Local<$t> = $crate::local::Local::new($init);)*
    };
}

pub(crate) use local;

/// A static's value in the one-threaded npm build.
#[cfg(not(feature = "std"))]
pub(crate) struct Local<T>(T);

// SAFETY: without the `std` feature the crate builds only for wasm32 without atomics
// (`compile_error!` in lib.rs otherwise): there is one thread, so no value is ever shared
// between threads. The same ground as the allocator's `AssumeSingleThreaded`.
#[cfg(not(feature = "std"))]
#[allow(unsafe_code)]
unsafe impl<T> Sync for Local<T> {}

#[cfg(not(feature = "std"))]
impl<T> Local<T> {
    /// The static's value.
    pub(crate) const fn new(value: T) -> Local<T> {
        Local(value)
    }

    /// Runs `f` with the value, as `LocalKey::with` does.
    pub(crate) fn with<R>(&'static self, f: impl FnOnce(&T) -> R) -> R {
        f(&self.0)
    }
}

/// `core::cell::RefCell` whose `borrow`/`borrow_mut` report this file as the place of a
/// (never expected) double borrow, instead of each caller: std's are `#[track_caller]`,
/// so every call site would carry its own location record and file name in the `.wasm`.
pub(crate) struct RefCell<T>(::core::cell::RefCell<T>);

impl<T> RefCell<T> {
    /// A cell holding `value`.
    pub(crate) const fn new(value: T) -> RefCell<T> {
        RefCell(::core::cell::RefCell::new(value))
    }

    /// Borrows the value.
    pub(crate) fn borrow(&self) -> ::core::cell::Ref<'_, T> {
        self.0.borrow()
    }

    /// Borrows the value mutably.
    pub(crate) fn borrow_mut(&self) -> ::core::cell::RefMut<'_, T> {
        self.0.borrow_mut()
    }
}
