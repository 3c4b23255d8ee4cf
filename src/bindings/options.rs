//! Reading the options into [`Options`]. `js/client.js` hands them over as JSON text (see
//! its `json`), so every member is checked for its type here (`invalid_options`
//! otherwise) without a crossing per member; the two function options (`refresh`, `now`)
//! come as they are, next to the text.

use super::*;
use crate::core::grant;
use crate::core::json::Json;

/// The JSON object in `text`: `null` reads as no members, anything but an object is
/// `what` must be an object; text the reader refuses (a lone surrogate, nesting too deep)
/// is `what` could not be read.
pub(super) fn object(text: &str, what: &str) -> Result<Json, Error> {
    let cat = crate::core::error::cat;
    match Json::parse(text) {
        Ok(Json::Null) => Ok(Json::Obj(Vec::new())),
        Ok(o @ Json::Obj(_)) => Ok(o),
        Ok(_) => Err(Error::options(cat(&[what, " must be an object"]))),
        Err(e) => Err(Error::options(cat(&[what, " could not be read"])).with_cause(e.describe())),
    }
}

/// The member `key` unless it is absent or `null`.
fn member<'a>(obj: &'a Json, key: &str) -> Option<&'a Json> {
    obj.get(key).filter(|v| !matches!(v, Json::Null))
}

pub(super) fn opt_string(obj: &Json, key: &str) -> Result<Option<String>, Error> {
    match member(obj, key) {
        None => Ok(None),
        Some(Json::Str(s)) => Ok(Some(s.clone())),
        Some(_) => Err(Error::option(key, "` must be a string")),
    }
}

pub(super) fn opt_bool(obj: &Json, key: &str, default: bool) -> Result<bool, Error> {
    match obj.get(key) {
        None => Ok(default),
        Some(Json::Bool(b)) => Ok(*b),
        Some(_) => Err(Error::option(key, "` must be a boolean")),
    }
}

/// A number member; `null` is not one (JSON has no NaN or infinity: `js/client.js` sends
/// them as text, which is not a number either).
fn opt_number(obj: &Json, key: &str) -> Result<Option<f64>, Error> {
    match obj.get(key) {
        None => Ok(None),
        Some(Json::Num(n)) => Ok(Some(*n)),
        Some(_) => Err(Error::option(key, "` must be a number")),
    }
}

/// A function option: given as a function, or not at all (a value in the JSON text is
/// one that was not a function).
fn opt_function(obj: &Json, key: &str, given: JsValue) -> Result<Option<Function>, Error> {
    if member(obj, key).is_some() {
        return Err(Error::option(key, "` must be a function"));
    }
    // typeof checks, not instanceof: values made in another frame are fine.
    Ok(given.is_function().then(|| given.unchecked_into()))
}

/// Reads the options; `emit` gets every event (`js/client.js` holds the listeners and
/// has checked `options.on`).
pub(super) fn options_from_js(
    text: &str,
    refresh: JsValue,
    now: JsValue,
    emit: Emit,
) -> Result<Options, Error> {
    let mut o = Options::default();
    read_options(&object(text, "the options")?, refresh, now, &mut o)?;
    // The listener for every event, added once nothing can fail.
    let emit: Listener = Rc::new(move |e: &Event| {
        let error = e.error.as_ref().map_or(JsValue::UNDEFINED, error_to_js);
        emit.emit(
            &JsValue::UNDEFINED,
            e.kind.as_str(),
            e.status.as_str(),
            e.expires_at,
            e.reason.map(|r| r.as_str()),
            e.session_ends_at,
            &error,
        );
    });
    for kind in EventKind::ALL {
        o.on.push((kind, emit.clone()));
    }
    Ok(o)
}

/// Puts `v` in `slot`, which holds its default (`None`): the old value owns nothing, so
/// no code to drop it is compiled in (an assignment would drop it, at every call). Were
/// the slot ever `Some`, its value would be leaked, never misread: `v` is what it holds.
fn put<T>(slot: &mut Option<T>, v: Option<T>) {
    ::core::mem::forget(::core::mem::replace(slot, v));
}

/// [`options_from_js`]'s reading of the members into `o`, which is [`Options::default`]
/// (every slot [`put`] fills is `None` there), each member read once.
fn read_options(js: &Json, refresh: JsValue, now: JsValue, o: &mut Options) -> Result<(), Error> {
    if let Some(s) = opt_string(js, "storage")? {
        o.storage = StorageKind::parse(&s)
            .ok_or_else(|| Error::options("`storage` must be 'memory', 'session' or 'local'"))?;
    }
    if let Some(k) = opt_string(js, "storageKey")? {
        put(&mut o.storage_key, Some(k));
    }
    put(&mut o.token_endpoint, opt_string(js, "tokenEndpoint")?);
    put(&mut o.client_id, opt_string(js, "clientId")?);
    put(
        &mut o.revocation_endpoint,
        opt_string(js, "revocationEndpoint")?,
    );
    if let Some(f) = opt_function(js, "refresh", refresh)? {
        let f: RefreshFn = Rc::new(move |rt: Option<String>, done: Done<_>| {
            let arg = rt.map_or(JsValue::NULL, |t| JsValue::from_str(&t));
            match f.call1(&JsValue::UNDEFINED, &arg) {
                Err(e) => done(Err(error_from_js(&e))),
                // How long it is waited for, and what no answer means, is the core's.
                Ok(returned) => crate::browser::answer::settled_within(
                    &returned,
                    grant::APP_REFRESH_TIMEOUT_MS,
                    Box::new(move |value| {
                        done(match value {
                            // `js/client.js` resolves it with the response's JSON text.
                            Ok(v) => {
                                TokenResponse::parse(&crate::browser::text(&v).unwrap_or_default())
                            }
                            Err(Some(e)) => Err(error_from_js(&e)),
                            Err(None) => Err(grant::app_refresh_unsettled()),
                        })
                    }),
                ),
            }
        });
        put(&mut o.refresh, Some(f));
    }
    match member(js, "attachTo") {
        None => {}
        Some(Json::Arr(items)) => {
            let mut list = Vec::with_capacity(items.len());
            for item in items {
                list.push(
                    item.as_str()
                        .ok_or_else(|| Error::options("`attachTo` entries must be strings"))?
                        .to_string(),
                );
            }
            put(&mut o.attach_to, Some(list));
        }
        Some(_) => {
            return Err(Error::options(
                "`attachTo` must be an array of origins or prefixes",
            ))
        }
    }
    if let Some(n) = opt_number(js, "refreshLeadSeconds")? {
        o.refresh_lead_seconds = n;
    }
    if let Some(n) = opt_number(js, "sessionEndingLeadSeconds")? {
        o.session_ending_lead_seconds = n;
    }
    o.max_session_age_seconds = opt_number(js, "maxSessionAgeSeconds")?;
    o.retry_on_401 = opt_bool(js, "retryOn401", true)?;
    o.cross_tab = opt_bool(js, "crossTab", true)?;
    if let Some(f) = opt_function(js, "now", now)? {
        put(
            &mut o.now,
            Some(Rc::new(move || {
                f.call0(&JsValue::UNDEFINED)
                    .ok()
                    .and_then(|v| v.as_f64())
                    .filter(|n| n.is_finite())
                    .unwrap_or_else(js_sys::Date::now)
            })),
        );
    }
    put(&mut o.issuer, opt_string(js, "issuer")?);
    put(
        &mut o.authorization_endpoint,
        opt_string(js, "authorizationEndpoint")?,
    );
    put(
        &mut o.end_session_endpoint,
        opt_string(js, "endSessionEndpoint")?,
    );
    put(&mut o.redirect_uri, opt_string(js, "redirectUri")?);
    put(&mut o.scope, opt_string(js, "scope")?);
    o.dpop = match member(js, "dpop") {
        None | Some(Json::Bool(false)) => None,
        Some(Json::Bool(true)) => Some(crate::core::dpop::Mode::default()),
        Some(d @ Json::Obj(_)) => Some(crate::core::dpop::Mode {
            allow_bearer: opt_bool(d, "allowBearer", false)?,
        }),
        Some(_) => {
            return Err(Error::options(
                "`dpop` must be a boolean or `{ allowBearer }`",
            ))
        }
    };
    Ok(())
}
