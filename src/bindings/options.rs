//! Reading the JS options object into [`Options`]: every member checked for its type
//! (`invalid_options` otherwise), functions kept as they are.

use super::*;
use crate::core::grant;

pub(super) fn get(obj: &JsValue, key: &str) -> JsValue {
    Reflect::get(obj, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

pub(super) fn opt_string(obj: &JsValue, key: &str) -> Result<Option<String>, Error> {
    let v = get(obj, key);
    if v.is_undefined() || v.is_null() {
        return Ok(None);
    }
    v.as_string()
        .map(Some)
        .ok_or_else(|| Error::option(key, "` must be a string"))
}

fn opt_bool(obj: &JsValue, key: &str, default: bool) -> Result<bool, Error> {
    let v = get(obj, key);
    if v.is_undefined() {
        return Ok(default);
    }
    v.as_bool()
        .ok_or_else(|| Error::option(key, "` must be a boolean"))
}

fn opt_function(obj: &JsValue, key: &str) -> Result<Option<Function>, Error> {
    let v = get(obj, key);
    if v.is_undefined() || v.is_null() {
        return Ok(None);
    }
    // typeof checks, not instanceof: values made in another frame are fine.
    if !v.is_function() {
        return Err(Error::option(key, "` must be a function"));
    }
    Ok(Some(v.unchecked_into()))
}

/// Reads the options; `emit` gets every event (`js/client.js` holds the listeners and
/// has checked `options.on`).
pub(super) fn options_from_js(js: &JsValue, emit: Emit) -> Result<Options, Error> {
    let mut o = Options::default();
    read_options(js, &mut o)?;
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

/// [`options_from_js`]'s reading of the members into `o`.
fn read_options(js: &JsValue, o: &mut Options) -> Result<(), Error> {
    if js.is_undefined() || js.is_null() {
        return Ok(());
    }
    if !js.is_object() {
        return Err(Error::options("options must be an object"));
    }
    if let Some(s) = opt_string(js, "storage")? {
        o.storage = StorageKind::parse(&s)
            .ok_or_else(|| Error::options("`storage` must be 'memory', 'session' or 'local'"))?;
    }
    if let Some(k) = opt_string(js, "storageKey")? {
        o.storage_key = Some(k);
    }
    o.token_endpoint = opt_string(js, "tokenEndpoint")?;
    o.client_id = opt_string(js, "clientId")?;
    o.revocation_endpoint = opt_string(js, "revocationEndpoint")?;
    if let Some(f) = opt_function(js, "refresh")? {
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
                            Ok(v) => response_from_js(&v),
                            Err(Some(e)) => Err(error_from_js(&e)),
                            Err(None) => Err(grant::app_refresh_unsettled()),
                        })
                    }),
                ),
            }
        });
        o.refresh = Some(f);
    }
    let attach = get(js, "attachTo");
    if !attach.is_undefined() && !attach.is_null() {
        if !js_sys::Array::is_array(&attach) {
            return Err(Error::options(
                "`attachTo` must be an array of origins or prefixes",
            ));
        }
        let mut list = Vec::new();
        for item in js_sys::Array::from(&attach).iter() {
            list.push(
                item.as_string()
                    .ok_or_else(|| Error::options("`attachTo` entries must be strings"))?,
            );
        }
        o.attach_to = Some(list);
    }
    let lead = get(js, "refreshLeadSeconds");
    if !lead.is_undefined() {
        o.refresh_lead_seconds = lead
            .as_f64()
            .ok_or_else(|| Error::options("`refreshLeadSeconds` must be a number"))?;
    }
    let lead = get(js, "sessionEndingLeadSeconds");
    if !lead.is_undefined() {
        o.session_ending_lead_seconds = lead
            .as_f64()
            .ok_or_else(|| Error::options("`sessionEndingLeadSeconds` must be a number"))?;
    }
    let age = get(js, "maxSessionAgeSeconds");
    if !age.is_undefined() {
        o.max_session_age_seconds = Some(
            age.as_f64()
                .ok_or_else(|| Error::options("`maxSessionAgeSeconds` must be a number"))?,
        );
    }
    o.retry_on_401 = opt_bool(js, "retryOn401", true)?;
    o.cross_tab = opt_bool(js, "crossTab", true)?;
    if let Some(f) = opt_function(js, "now")? {
        o.now = Some(Rc::new(move || {
            f.call0(&JsValue::UNDEFINED)
                .ok()
                .and_then(|v| v.as_f64())
                .filter(|n| n.is_finite())
                .unwrap_or_else(js_sys::Date::now)
        }));
    }
    o.issuer = opt_string(js, "issuer")?;
    o.authorization_endpoint = opt_string(js, "authorizationEndpoint")?;
    o.end_session_endpoint = opt_string(js, "endSessionEndpoint")?;
    o.redirect_uri = opt_string(js, "redirectUri")?;
    o.scope = opt_string(js, "scope")?;
    let dpop = get(js, "dpop");
    o.dpop = if dpop.is_undefined() || dpop.is_null() || dpop == JsValue::FALSE {
        None
    } else if dpop == JsValue::TRUE {
        Some(crate::core::dpop::Mode::default())
    } else if dpop.is_object() {
        Some(crate::core::dpop::Mode {
            allow_bearer: opt_bool(&dpop, "allowBearer", false)?,
        })
    } else {
        return Err(Error::options(
            "`dpop` must be a boolean or `{ allowBearer }`",
        ));
    };
    Ok(())
}
