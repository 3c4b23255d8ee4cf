//! DPoP in the browser: the key pair, the signature, and the nonces servers gave.
//!
//! The browser work (the WebCrypto P-256 key made with `extractable: false`, its place
//! in IndexedDB under the client's `storageKey`, the memory-mode hand-over between tabs
//! over a `BroadcastChannel`, the key parked across a sign-in's redirect, signing and
//! hashing) is in `js/dpop.js`: in this wasm every closure type and browser call costs
//! hundreds of bytes, the same work in JavaScript a few lines. Here there is one call per
//! operation, going on in the callback its promise settles; the private key never comes into the
//! module, only the public key's raw bytes. What a proof says is `crate::core::dpop`'s.

use super::answer::{settled, settled_bytes};
use super::Done;
use crate::core::dpop::{self, Claims, Mode, Nonces, PublicKey};
use crate::core::error::{Error, ErrorCode};
use crate::core::jwt::base64url_encode;
use crate::local::RefCell;
use crate::prelude::*;
use alloc::rc::Rc;
use js_sys::Promise;
use wasm_bindgen::prelude::*;

#[wasm_bindgen(module = "/js/dpop.js")]
extern "C" {
    /// The key of one client, in `js/dpop.js`.
    type Keys;
    /// The key of the client whose `storageKey` is `name` (`own_tab`: of this tab only);
    /// `None` where WebCrypto or IndexedDB is missing.
    #[wasm_bindgen(js_name = dpopKeys)]
    fn dpop_keys(name: &str, memory: bool, own_tab: bool) -> Option<Keys>;
    /// The public key's raw bytes, the pair loaded (memory mode with `has_session`: asked
    /// of the other tabs first) or made on first use.
    #[wasm_bindgen(method)]
    fn key(this: &Keys, has_session: bool) -> Promise;
    /// The ECDSA P-256 SHA-256 signature (r ‖ s) of `data` with the loaded key.
    #[wasm_bindgen(method)]
    fn sign(this: &Keys, data: &[u8]) -> Promise;
    /// Memory mode: parks the loaded key in IndexedDB across the sign-in's redirect.
    #[wasm_bindgen(method)]
    fn park(this: &Keys) -> Promise;
    /// Deletes the key, here and in IndexedDB (with `only_mine`, only when the stored key
    /// is the one this client used); never rejects.
    #[wasm_bindgen(method)]
    fn forget(this: &Keys, only_mine: bool) -> Promise;
    /// Other tabs no longer get the key from this client.
    #[wasm_bindgen(method)]
    fn close(this: &Keys);
    /// SHA-256 of `data`.
    pub(crate) fn digest(data: &[u8]) -> Promise;
}

crate::local::local! {
    static NONCES: RefCell<Nonces> = RefCell::new(Nonces::new());
}

/// Remembers the `DPoP-Nonce` header of an answer from `url` (every answer that carries
/// one, from any server the page's tokenward clients talk to); whether it gave one.
pub(crate) fn learn_nonce(url: &str, nonce: Option<String>) -> bool {
    NONCES.with(|x| x.borrow_mut().learn(url, nonce.as_deref()))
}

pub(crate) fn nonce_for(url: &str) -> Option<String> {
    NONCES.with(|x| x.borrow().get(url).map(str::to_string))
}

fn broken(e: JsValue) -> Error {
    Error::new(ErrorCode::Unsupported, "the DPoP key could not be used")
        .with_cause(super::describe(&e))
}

/// The bytes a `js/dpop.js` promise resolves to (a `Uint8Array`), or its typed error.
fn bytes_of(p: Promise, done: Done<Result<Vec<u8>, Error>>) {
    settled_bytes(&p, broken, done);
}

fn random_id() -> Result<String, Error> {
    let b = super::page::random(16).map_err(broken)?;
    Ok(base64url_encode(&b))
}

/// The proof's signing input: its header with `public`, and its claims (a fresh `jti`,
/// the nonce known for `url`'s origin).
fn signing_input(
    public: &PublicKey,
    htm: &str,
    url: &str,
    ath: Option<&str>,
    now_ms: f64,
) -> Result<String, Error> {
    let jti = random_id()?;
    let nonce = nonce_for(url);
    let claims = Claims {
        jti: &jti,
        htm,
        htu: dpop::htu(url),
        now_ms,
        nonce: nonce.as_deref(),
        ath,
    }
    .to_json();
    Ok(dpop::signing_input(&public.header_json(), &claims))
}

/// The DPoP state of one client.
pub(crate) struct Dpop {
    /// The `dpop` option.
    pub(crate) mode: Mode,
    memory: bool,
    keys: Keys,
}

impl Drop for Dpop {
    fn drop(&mut self) {
        self.keys.close();
    }
}

impl Dpop {
    /// DPoP for the client whose `storageKey` is `name`; `unsupported` where WebCrypto or
    /// IndexedDB is missing. `own_tab`: each tab has a session of its own (`sessionStorage`
    /// without `crossTab`), so each has its own key: one tab's sign-out must not delete the
    /// key another tab's tokens are bound to.
    pub(crate) fn new(mode: Mode, name: &str, memory: bool, own_tab: bool) -> Result<Dpop, Error> {
        let keys = dpop_keys(name, memory, own_tab).ok_or_else(|| {
            Error::new(
                ErrorCode::Unsupported,
                "DPoP needs WebCrypto (a page served over HTTPS or from localhost) and IndexedDB",
            )
        })?;
        Ok(Dpop { mode, memory, keys })
    }

    /// The public key, the pair loaded or made on first use (`js/dpop.js` keeps it).
    /// `has_session`: the session came from elsewhere (memory mode asks the other tabs
    /// for its key then).
    fn public(&self, has_session: bool, done: Done<Result<PublicKey, Error>>) {
        bytes_of(
            self.keys.key(has_session),
            Box::new(move |raw| {
                done(raw.and_then(|raw| {
                    PublicKey::from_raw(&raw).ok_or_else(|| {
                        Error::new(ErrorCode::Unsupported, "the DPoP key is not a P-256 key")
                    })
                }))
            }),
        );
    }

    /// The key's RFC 7638 thumbprint for `dpop_jkt`, the key made first when there is
    /// none. In memory mode the key is parked in IndexedDB for the sign-in's redirect.
    pub(crate) fn jkt_for_sign_in(self: &Rc<Self>, done: Done<Result<String, Error>>) {
        let d = self.clone();
        self.public(
            false,
            Box::new(move |public| {
                let public = match public {
                    Ok(p) => p,
                    Err(e) => return done(Err(e)),
                };
                bytes_of(
                    digest(public.jwk_json().as_bytes()),
                    Box::new(move |hash| {
                        let jkt = match hash {
                            Ok(h) => dpop::thumbprint(&h),
                            Err(e) => return done(Err(e)),
                        };
                        if !d.memory {
                            return done(Ok(jkt));
                        }
                        settled(
                            &d.keys.park(),
                            Box::new(move |r| done(r.map(|_| jkt).map_err(broken))),
                        );
                    }),
                );
            }),
        );
    }

    /// A fresh proof for `htm url` (`ath` of `access_token` when given), with the nonce
    /// known for that origin, on the client's clock `now_ms`.
    pub(crate) fn proof(
        self: &Rc<Self>,
        htm: String,
        url: String,
        access_token: Option<String>,
        now_ms: f64,
        has_session: bool,
        done: Done<Result<String, Error>>,
    ) {
        let d = self.clone();
        self.public(
            has_session,
            Box::new(move |public| {
                let public = match public {
                    Ok(p) => p,
                    Err(e) => return done(Err(e)),
                };
                let sign = move |ath: Result<Option<String>, Error>| {
                    let input = ath
                        .and_then(|ath| signing_input(&public, &htm, &url, ath.as_deref(), now_ms));
                    let input = match input {
                        Ok(i) => i,
                        Err(e) => return done(Err(e)),
                    };
                    bytes_of(
                        d.keys.sign(input.as_bytes()),
                        Box::new(move |sig| done(sig.and_then(|sig| dpop::compact(&input, &sig)))),
                    );
                };
                match access_token {
                    Some(t) => bytes_of(
                        digest(t.as_bytes()),
                        Box::new(move |hash| sign(hash.map(|h| Some(dpop::ath(&h))))),
                    ),
                    None => sign(Ok(None)),
                }
            }),
        );
    }

    /// The session ended: the key is deleted (here and from IndexedDB; in memory mode a
    /// key still parked by an abandoned sign-in goes too).
    /// `only_mine` (the session ended in another tab): the stored key is deleted only when
    /// it is the one this client used, so that a late message cannot delete the key of a
    /// session signed in since. The deletion goes on without `then`; with it, `then` is
    /// called once it is done.
    pub(crate) fn forget(&self, only_mine: bool, then: Option<Done<()>>) {
        let p = self.keys.forget(only_mine);
        if let Some(then) = then {
            settled(&p, Box::new(move |_| then(())));
        }
    }

    /// `dispose()`: other tabs no longer get the key from this client.
    pub(crate) fn close(&self) {
        self.keys.close();
    }
}
