//! DPoP in the browser: the key pair, the signature, and the nonces servers gave.
//!
//! The key is a WebCrypto ECDSA P-256 pair made with `extractable: false`: the private
//! key can sign but its bytes can never be read, exported or logged. It is kept in
//! IndexedDB under the client's `storageKey` (a `CryptoKey` survives structured cloning),
//! so every tab of the app and every reload use the same key. With memory storage it
//! lives in memory only, and another tab that adopted the session gets it over a
//! `BroadcastChannel` (structured cloning again: the key stays non-extractable and never
//! leaves the origin); only across a sign-in's redirect is it parked in IndexedDB, and
//! taken out again by the code exchange. What a proof says is `crate::core::dpop`'s.

use super::http::{self, REQUEST_TIMEOUT_MS};
use super::timer::Timeout;
use crate::core::dpop::{self, Claims, Mode, Nonces, PublicKey};
use crate::core::error::{Error, ErrorCode};
use crate::core::jwt::base64url_encode;
use crate::core::session::Failure;
use crate::core::tokens::{token_answer, TokenResponse};
use js_sys::{Object, Promise, Reflect};
use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{CryptoKey, IdbDatabase, IdbObjectStore, IdbRequest, IdbTransactionMode};

const DB: &str = "tokenward-dpop";
const STORE: &str = "keys";
const ASK: &str = "ask";
/// How long a memory-mode tab waits for another tab to hand over the key.
const ASK_WAIT_MS: f64 = 1_000.0;

/// A boxed future: each state machine exists once in the wasm, not inlined at every caller.
type Fut<'a, T> = Pin<Box<dyn Future<Output = Result<T, Error>> + 'a>>;

thread_local! {
    static NONCES: RefCell<Nonces> = RefCell::new(Nonces::default());
}

/// Remembers the `DPoP-Nonce` header of an answer from `url` (every answer that carries
/// one, from any server the page's tokenward clients talk to).
pub(crate) fn learn_nonce(url: &str, headers: &web_sys::Headers) {
    if let Ok(Some(n)) = headers.get("dpop-nonce") {
        NONCES.with(|x| x.borrow_mut().learn(url, Some(&n)));
    }
}

fn nonce_for(url: &str) -> Option<String> {
    NONCES.with(|x| x.borrow().get(url).map(str::to_string))
}

fn broken(e: JsValue) -> Error {
    Error::new(ErrorCode::Unsupported, "the DPoP key could not be used")
        .with_cause(super::describe(&e))
}

fn unsupported() -> Error {
    Error::new(
        ErrorCode::Unsupported,
        "DPoP needs WebCrypto (a page served over HTTPS or from localhost) and IndexedDB",
    )
}

fn subtle() -> Result<web_sys::SubtleCrypto, Error> {
    let crypto = web_sys::window()
        .and_then(|w| w.crypto().ok())
        .ok_or_else(unsupported)?;
    // `crypto.subtle` is undefined outside secure contexts.
    let s = Reflect::get(&crypto, &"subtle".into()).map_err(|_| unsupported())?;
    if s.is_object() {
        Ok(s.unchecked_into())
    } else {
        Err(unsupported())
    }
}

fn bytes(buffer: &JsValue) -> Vec<u8> {
    // Read byte by byte: `to_vec` asserts the length and pulls in panic formatting.
    let array = js_sys::Uint8Array::new(buffer);
    (0..array.length()).map(|i| array.get_index(i)).collect()
}

fn sha256(data: &[u8]) -> Fut<'_, Vec<u8>> {
    Box::pin(async move {
        let p = subtle()?
            .digest_with_str_and_u8_array("SHA-256", data)
            .map_err(broken)?;
        Ok(bytes(&JsFuture::from(p).await.map_err(broken)?))
    })
}

fn random_id() -> Result<String, Error> {
    let mut b = [0u8; 16];
    web_sys::window()
        .and_then(|w| w.crypto().ok())
        .ok_or_else(unsupported)?
        .get_random_values_with_u8_array(&mut b)
        .map_err(broken)?;
    Ok(base64url_encode(&b))
}

fn algorithm(extra: (&str, &str)) -> Object {
    let o = Object::new();
    let _ = Reflect::set(&o, &"name".into(), &"ECDSA".into());
    let _ = Reflect::set(&o, &extra.0.into(), &extra.1.into());
    o
}

/// A settled `IDBRequest`: its result, or its error.
async fn done(req: &IdbRequest) -> Result<JsValue, JsValue> {
    let p = Promise::new(&mut |resolve, reject| {
        req.set_onsuccess(Some(&resolve));
        req.set_onerror(Some(&reject));
    });
    JsFuture::from(p).await?;
    req.result()
}

async fn open_db() -> Result<IdbDatabase, Error> {
    let factory = web_sys::window()
        .and_then(|w| w.indexed_db().ok().flatten())
        .ok_or_else(unsupported)?;
    let req = factory.open_with_u32(DB, 1).map_err(broken)?;
    let upgrade = Closure::once(move |e: web_sys::Event| {
        let db = e
            .target()
            .and_then(|t| t.unchecked_into::<IdbRequest>().result().ok());
        if let Some(db) = db {
            let _ = db
                .unchecked_into::<IdbDatabase>()
                .create_object_store(STORE);
        }
    });
    req.set_onupgradeneeded(Some(upgrade.as_ref().unchecked_ref()));
    let db = done(&req).await.map_err(broken);
    req.set_onupgradeneeded(None);
    Ok(db?.unchecked_into())
}

/// A request on the key store.
enum Op<'a> {
    Get,
    Add(&'a JsValue),
    Put(&'a JsValue),
    Delete,
}

/// One request on the key store under `name`, in its own transaction.
fn idb<'a>(op: Op<'a>, name: &'a str) -> Fut<'a, JsValue> {
    Box::pin(async move {
        let db = open_db().await?;
        let key = JsValue::from_str(name);
        let mode = match op {
            Op::Get => IdbTransactionMode::Readonly,
            _ => IdbTransactionMode::Readwrite,
        };
        let req = db
            .transaction_with_str_and_mode(STORE, mode)
            .and_then(|tx| tx.object_store(STORE))
            .and_then(|s: IdbObjectStore| match op {
                Op::Get => s.get(&key),
                Op::Add(v) => s.add_with_key(v, &key),
                Op::Put(v) => s.put_with_key(v, &key),
                Op::Delete => s.delete(&key),
            });
        let result = match req {
            Ok(req) => done(&req).await.map_err(broken),
            Err(e) => Err(broken(e)),
        };
        db.close();
        result
    })
}

/// A key pair ready to sign: the pair as WebCrypto gave it (to store or hand over), its
/// private key and its public half as the proof's `jwk` header carries it.
struct Key {
    pair: JsValue,
    private: CryptoKey,
    public: PublicKey,
    jkt: String,
}

async fn key_from_pair(pair: JsValue) -> Result<Key, Error> {
    let part = |name: &str| -> Result<CryptoKey, Error> {
        Reflect::get(&pair, &name.into())
            .ok()
            .and_then(|k| k.dyn_into::<CryptoKey>().ok())
            .ok_or_else(|| Error::new(ErrorCode::Unsupported, "the stored DPoP key is unusable"))
    };
    let private = part("privateKey")?;
    let public = part("publicKey")?;
    let raw = subtle()?.export_key("raw", &public).map_err(broken)?;
    let raw = bytes(&JsFuture::from(raw).await.map_err(broken)?);
    let public = PublicKey::from_raw(&raw)
        .ok_or_else(|| Error::new(ErrorCode::Unsupported, "the DPoP key is not a P-256 key"))?;
    let jkt = dpop::thumbprint(&sha256(public.jwk_json().as_bytes()).await?);
    Ok(Key {
        pair,
        private,
        public,
        jkt,
    })
}

async fn generate() -> Result<JsValue, Error> {
    let usages = js_sys::Array::of2(&"sign".into(), &"verify".into());
    let p = subtle()?
        .generate_key_with_object(&algorithm(("namedCurve", "P-256")), false, &usages)
        .map_err(broken)?;
    JsFuture::from(p).await.map_err(broken)
}

/// The DPoP state of one client.
pub(crate) struct Dpop {
    /// The `dpop` option.
    pub(crate) mode: Mode,
    name: String,
    memory: bool,
    key: Rc<RefCell<Option<Rc<Key>>>>,
    channel: Option<(web_sys::BroadcastChannel, OnMessage)>,
}

type OnMessage = Closure<dyn Fn(web_sys::MessageEvent)>;

impl Drop for Dpop {
    fn drop(&mut self) {
        if let Some((c, _)) = &self.channel {
            c.close();
        }
    }
}

impl Dpop {
    /// DPoP for the client whose `storageKey` is `name`; `unsupported` where WebCrypto or
    /// IndexedDB is missing.
    pub(crate) fn new(mode: Mode, name: &str, memory: bool) -> Result<Dpop, Error> {
        subtle()?;
        let window = web_sys::window().ok_or_else(unsupported)?;
        window.indexed_db().ok().flatten().ok_or_else(unsupported)?;
        let key: Rc<RefCell<Option<Rc<Key>>>> = Rc::new(RefCell::new(None));
        // Memory mode: hand the key to a tab that asks (it adopted the session from us).
        let channel = if memory {
            web_sys::BroadcastChannel::new(&channel_name(name))
                .ok()
                .map(|c| {
                    let (held, answer) = (key.clone(), c.clone());
                    let on = OnMessage::new(move |e: web_sys::MessageEvent| {
                        if e.data().as_string().as_deref() == Some(ASK) {
                            if let Some(k) = held.borrow().as_ref() {
                                let _ = answer.post_message(&k.pair);
                            }
                        }
                    });
                    c.set_onmessage(Some(on.as_ref().unchecked_ref()));
                    (c, on)
                })
        } else {
            None
        };
        Ok(Dpop {
            mode,
            name: name.to_string(),
            memory,
            key,
            channel,
        })
    }

    fn parked(&self) -> String {
        let mut n = self.name.clone();
        n.push_str(":signin");
        n
    }

    /// The key, loaded or made on first use. `has_session`: the session came from
    /// elsewhere (memory mode asks the other tabs for its key then).
    fn key(&self, has_session: bool) -> Fut<'_, Rc<Key>> {
        Box::pin(self.load_key(has_session))
    }

    async fn load_key(&self, has_session: bool) -> Result<Rc<Key>, Error> {
        if let Some(k) = self.key.borrow().clone() {
            return Ok(k);
        }
        // Memory mode: the key of the tab the session came from, or the one parked across
        // the sign-in's redirect (taken out); otherwise the key stored under `storageKey`.
        let name = if self.memory {
            self.parked()
        } else {
            self.name.clone()
        };
        let asked = if self.memory && has_session {
            ask(&self.name).await
        } else {
            None
        };
        let (mut pair, parked) = match asked {
            Some(p) => (p, false),
            None => (idb(Op::Get, &name).await?, self.memory),
        };
        if parked && pair.is_object() {
            let _ = idb(Op::Delete, &name).await;
        }
        if !pair.is_object() {
            let made = generate().await?;
            // `add` fails when another tab stored its key first: then that one is used.
            pair = match self.memory {
                true => made,
                false => match idb(Op::Add(&made), &name).await {
                    Ok(_) => made,
                    Err(_) => idb(Op::Get, &name).await?,
                },
            };
        }
        let key = Rc::new(key_from_pair(pair).await?);
        // Another call of this tab may have finished first: one key per client.
        let mut held = self.key.borrow_mut();
        Ok(held.get_or_insert(key).clone())
    }

    /// The key's RFC 7638 thumbprint for `dpop_jkt`, the key made first when there is
    /// none. In memory mode the key is parked in IndexedDB for the sign-in's redirect.
    pub(crate) async fn jkt_for_sign_in(&self) -> Result<String, Error> {
        let key = self.key(false).await?;
        if self.memory {
            idb(Op::Put(&key.pair), &self.parked()).await?;
        }
        Ok(key.jkt.clone())
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
        Box::pin(self.make_proof(htm, url, access_token, now_ms, has_session))
    }

    async fn make_proof(
        &self,
        htm: &str,
        url: &str,
        access_token: Option<&str>,
        now_ms: f64,
        has_session: bool,
    ) -> Result<String, Error> {
        let key = self.key(has_session).await?;
        let ath = match access_token {
            Some(t) => Some(dpop::ath(&sha256(t.as_bytes()).await?)),
            None => None,
        };
        let jti = random_id()?;
        let nonce = nonce_for(url);
        let claims = Claims {
            jti: &jti,
            htm,
            htu: dpop::htu(url),
            now_ms,
            nonce: nonce.as_deref(),
            ath: ath.as_deref(),
        }
        .to_json();
        let input = dpop::signing_input(&key.public.header_json(), &claims);
        let p = subtle()?
            .sign_with_object_and_u8_array(
                &algorithm(("hash", "SHA-256")),
                &key.private,
                input.as_bytes(),
            )
            .map_err(broken)?;
        let signature = bytes(&JsFuture::from(p).await.map_err(broken)?);
        dpop::compact(&input, &signature)
    }

    /// The session ended: the key is deleted (here and from IndexedDB; in memory mode a
    /// key still parked by an abandoned sign-in goes too).
    pub(crate) async fn forget(&self) {
        self.key.borrow_mut().take();
        let name = if self.memory {
            self.parked()
        } else {
            self.name.clone()
        };
        let _ = idb(Op::Delete, &name).await;
    }

    /// `dispose()`: other tabs no longer get the key from this client.
    pub(crate) fn close(&self) {
        if let Some((c, _)) = &self.channel {
            c.set_onmessage(None);
            c.close();
        }
    }

    /// A token request (code exchange or refresh) with a proof; a `use_dpop_nonce`
    /// answer is sent again once with the nonce it gave. Such an answer was given before
    /// the grant was looked at (RFC 9449 §8), so the retry spends no refresh token twice;
    /// a second one is transient (the session is not over). The token type is checked
    /// against the `dpop` option.
    pub(crate) async fn token_request(
        &self,
        url: &str,
        form: &str,
        now: &dyn Fn() -> f64,
        has_session: bool,
    ) -> Result<TokenResponse, (Failure, Error)> {
        let transient = |e: Error| (Failure::Transient(None), e);
        let mut retried = false;
        loop {
            let proof = self
                .proof("POST", url, None, now(), has_session)
                .await
                .map_err(transient)?;
            let a = http::post_form_with(url, form, REQUEST_TIMEOUT_MS, Some(&proof))
                .await
                .map_err(transient)?;
            let wants = dpop::token_endpoint_wants_nonce(a.status, &a.body);
            if dpop::retry_with_nonce(wants, retried, nonce_for(url).as_deref()) {
                retried = true;
                continue;
            }
            if wants {
                return Err(transient(Error::network(
                    "the token endpoint asked for a DPoP nonce again",
                )));
            }
            let resp = token_answer(a.status, &a.body, a.retry_after_ms)?;
            dpop::check_token_type(Some(self.mode), &resp.token_type)
                .map_err(|e| (Failure::Terminal, e))?;
            return Ok(resp);
        }
    }
}

fn channel_name(name: &str) -> String {
    let mut n = name.to_string();
    n.push_str(":dpop");
    n
}

/// Memory mode: asks the app's other tabs for the key; `None` when none answers in time.
async fn ask(name: &str) -> Option<JsValue> {
    let channel = web_sys::BroadcastChannel::new(&channel_name(name)).ok()?;
    let mut keep = None;
    let p = Promise::new(&mut |resolve, _| {
        let r = resolve.clone();
        let on = OnMessage::new(move |e: web_sys::MessageEvent| {
            let data = e.data();
            if data.is_object() {
                let _ = r.call1(&JsValue::UNDEFINED, &data);
            }
        });
        channel.set_onmessage(Some(on.as_ref().unchecked_ref()));
        let timeout = Timeout::new(ASK_WAIT_MS, move || {
            let _ = resolve.call0(&JsValue::UNDEFINED);
        });
        keep = Some((on, timeout));
    });
    let _ = channel.post_message(&ASK.into());
    let got = JsFuture::from(p).await.ok();
    channel.close();
    drop(keep);
    got.filter(JsValue::is_object)
}

impl Dpop {
    /// A revocation with a proof, sent again once when the server asks for a nonce.
    pub(crate) async fn revoke(
        &self,
        url: &str,
        form: &str,
        now: &dyn Fn() -> f64,
    ) -> Result<(), Error> {
        let mut retried = false;
        loop {
            let proof = self.proof("POST", url, None, now(), true).await?;
            let r = http::revoke(url, form, Some(&proof)).await;
            let wants = matches!(&r, Err(e) if e.server.as_ref().and_then(|s| s.error.as_deref()) == Some(dpop::USE_DPOP_NONCE));
            if dpop::retry_with_nonce(wants, retried, nonce_for(url).as_deref()) {
                retried = true;
                continue;
            }
            return r;
        }
    }

    /// Sends an attached request with `Authorization: DPoP <token>` and a proof; a
    /// resource server's `use_dpop_nonce` challenge is answered once with its nonce.
    pub(crate) fn send<'a>(
        &'a self,
        request: web_sys::Request,
        token: &'a str,
        now: &'a dyn Fn() -> f64,
    ) -> Pin<Box<dyn Future<Output = Result<web_sys::Response, super::client::FetchError>> + 'a>>
    {
        Box::pin(self.send_once(request, token, now))
    }

    async fn send_once(
        &self,
        request: web_sys::Request,
        token: &str,
        now: &dyn Fn() -> f64,
    ) -> Result<web_sys::Response, super::client::FetchError> {
        use super::client::FetchError;
        let (url, method) = (request.url(), request.method());
        // A copy made before sending, for the retry (a body is read only once).
        let mut spare = request.clone().ok();
        let mut current = request;
        let mut retried = false;
        loop {
            let proof = self
                .proof(&method, &url, Some(token), now(), true)
                .await
                .map_err(FetchError::Token)?;
            let headers = current.headers();
            let mut scheme = String::from("DPoP ");
            scheme.push_str(token);
            headers
                .set("authorization", &scheme)
                .and_then(|_| headers.set("dpop", &proof))
                .map_err(FetchError::Fetch)?;
            let response: web_sys::Response =
                match JsFuture::from(super::global_fetch(&current)).await {
                    Ok(r) => r.unchecked_into(),
                    Err(e) => return Err(FetchError::Fetch(e)),
                };
            learn_nonce(&url, &response.headers());
            let challenge = response.headers().get("www-authenticate").ok().flatten();
            let wants = dpop::resource_wants_nonce(response.status(), challenge.as_deref());
            match spare.take() {
                Some(next)
                    if dpop::retry_with_nonce(wants, retried, nonce_for(&url).as_deref()) =>
                {
                    retried = true;
                    current = next;
                }
                _ => return Ok(response),
            }
        }
    }
}
