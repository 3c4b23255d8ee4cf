//! DPoP in the browser: the key pair, the signature, and the nonces servers gave.
//!
//! The browser work (the WebCrypto P-256 key made with `extractable: false`, its place
//! in IndexedDB under the client's `storageKey`, the memory-mode hand-over between tabs
//! over a `BroadcastChannel`, the key parked across a sign-in's redirect, signing and
//! hashing) is in `js/dpop.js`: in this wasm every Rust future and closure type costs
//! hundreds of bytes, the same work in JavaScript a few lines. Here there is one call per
//! operation, awaiting the promise it returns; the private key never comes into the
//! module, only the public key's raw bytes. What a proof says is `crate::core::dpop`'s.

use crate::core::dpop::{self, Claims, Mode, Nonces, PublicKey};
use crate::core::error::{Error, ErrorCode};
use crate::core::jwt::base64url_encode;
use js_sys::Promise;
use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

#[wasm_bindgen(module = "/js/dpop.js")]
extern "C" {
    /// The key of one client, in `js/dpop.js`.
    type Keys;
    /// The key of the client whose `storageKey` is `name`; `None` where WebCrypto or
    /// IndexedDB is missing.
    #[wasm_bindgen(js_name = dpopKeys)]
    fn dpop_keys(name: &str, memory: bool) -> Option<Keys>;
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
    fn digest(data: &[u8]) -> Promise;
}

/// A boxed future: each state machine exists once in the wasm, not inlined at every caller.
type Fut<'a, T> = Pin<Box<dyn Future<Output = Result<T, Error>> + 'a>>;

thread_local! {
    static NONCES: RefCell<Nonces> = RefCell::new(Nonces::default());
}

/// Remembers the `DPoP-Nonce` header of an answer from `url` (every answer that carries
/// one, from any server the page's tokenward clients talk to).
pub(crate) fn learn_nonce(url: &str, nonce: Option<String>) {
    if let Some(n) = nonce {
        NONCES.with(|x| x.borrow_mut().learn(url, Some(&n)));
    }
}

pub(crate) fn nonce_for(url: &str) -> Option<String> {
    NONCES.with(|x| x.borrow().get(url).map(str::to_string))
}

fn broken(e: JsValue) -> Error {
    Error::new(ErrorCode::Unsupported, "the DPoP key could not be used")
        .with_cause(super::describe(&e))
}

/// The bytes a `js/dpop.js` promise resolves to (a `Uint8Array`), or its typed error.
async fn bytes(p: Promise) -> Result<Vec<u8>, Error> {
    let array = js_sys::Uint8Array::new(&JsFuture::from(p).await.map_err(broken)?);
    // Read byte by byte: `to_vec` asserts the length and pulls in panic formatting.
    Ok((0..array.length()).map(|i| array.get_index(i)).collect())
}

fn random_id() -> Result<String, Error> {
    let mut b = [0u8; 16];
    web_sys::window()
        .and_then(|w| w.crypto().ok())
        .ok_or_else(|| broken(JsValue::UNDEFINED))?
        .get_random_values_with_u8_array(&mut b)
        .map_err(broken)?;
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
    /// IndexedDB is missing.
    pub(crate) fn new(mode: Mode, name: &str, memory: bool) -> Result<Dpop, Error> {
        let keys = dpop_keys(name, memory).ok_or_else(|| {
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
    async fn public(&self, has_session: bool) -> Result<PublicKey, Error> {
        PublicKey::from_raw(&bytes(self.keys.key(has_session)).await?)
            .ok_or_else(|| Error::new(ErrorCode::Unsupported, "the DPoP key is not a P-256 key"))
    }

    /// The key's RFC 7638 thumbprint for `dpop_jkt`, the key made first when there is
    /// none. In memory mode the key is parked in IndexedDB for the sign-in's redirect.
    pub(crate) async fn jkt_for_sign_in(&self) -> Result<String, Error> {
        let public = self.public(false).await?;
        let jkt = dpop::thumbprint(&bytes(digest(public.jwk_json().as_bytes())).await?);
        if self.memory {
            JsFuture::from(self.keys.park()).await.map_err(broken)?;
        }
        Ok(jkt)
    }

    /// A fresh proof for `htm url` (`ath` of `access_token` when given), with the nonce
    /// known for that origin, on the client's clock `now_ms`.
    pub(crate) fn proof<'a>(
        &'a self,
        htm: &'a str,
        url: &'a str,
        access_token: Option<&'a str>,
        now_ms: f64,
        has_session: bool,
    ) -> Fut<'a, String> {
        Box::pin(async move {
            let public = self.public(has_session).await?;
            let ath = match access_token {
                Some(t) => Some(dpop::ath(&bytes(digest(t.as_bytes())).await?)),
                None => None,
            };
            let input = signing_input(&public, htm, url, ath.as_deref(), now_ms)?;
            let signature = bytes(self.keys.sign(input.as_bytes())).await?;
            dpop::compact(&input, &signature)
        })
    }

    /// The session ended: the key is deleted (here and from IndexedDB; in memory mode a
    /// key still parked by an abandoned sign-in goes too).
    /// `only_mine` (the session ended in another tab): the stored key is deleted only when
    /// it is the one this client used, so that a late message cannot delete the key of a
    /// session signed in since. The returned future need not be awaited: the deletion goes
    /// on without it.
    pub(crate) fn forget(&self, only_mine: bool) -> JsFuture {
        JsFuture::from(self.keys.forget(only_mine))
    }

    /// `dispose()`: other tabs no longer get the key from this client.
    pub(crate) fn close(&self) {
        self.keys.close();
    }
}
