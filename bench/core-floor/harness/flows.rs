//! The core-only floor's exports for discovery, sign-in, the provider, sign-out, DPoP,
//! refreshed ID tokens, text helpers and errors (see `mod.rs`).

use super::*;

/// Discovery: the OpenID document, RFC 8414 metadata, and the requests in order.
#[no_mangle]
pub extern "C" fn floor_discovery() {
    keep(oidc::discovery_url(text()));
    keep(Discovery::from_answer(http_status(), text(), text()));
    keep(oidc::metadata_urls(text()));
    if let Some(d) = discovery() {
        keep(d.wants_metadata());
        keep(d.with_metadata(http_status(), text()));
    }
    let mut d = black_box(Discovering::new(text()));
    keep(d.next_url().map(String::from));
    keep(d.answer(outcome((http_status(), text()))));
}

/// The sign-in: the authorization request, the response, the exchange, the ID token.
#[no_mangle]
pub extern "C" fn floor_sign_in() {
    keep(oidc::random_string(bytes()));
    keep(oidc::code_challenge(bytes()));
    let req = AuthRequest {
        endpoint: string(),
        client_id: string(),
        redirect_uri: string(),
        scope: string(),
        state: string(),
        nonce: string(),
        code_challenge: string(),
        prompt: opt_string(),
        login_hint: opt_string(),
        extra: vec![(string(), string())],
    };
    keep(oidc::authorization_url(&req));
    let p = pending();
    keep(p.as_ref().map(Pending::to_json));
    keep(oidc::without_query(text()));
    for r in [
        AuthResponse::parse(text()),
        AuthResponse::in_url(text()),
    ]
    .into_iter()
    .flatten()
    {
        keep(oidc::should_handle(text(), text(), &r, flag()));
        keep(oidc::check_response(&r, p.as_ref()));
    }
    if let Some(p) = &p {
        keep(oidc::exchange_form(text(), p));
        if let Ok(resp) = TokenResponse::parse(text()) {
            keep(oidc::check_sign_in_tokens(&resp, p, num()));
        }
    }
    keep(oidc::id_claims(text(), opt_text(), opt_text()));
    keep(oidc::scope_has_openid(text()));
    keep((
        oidc::DEFAULT_SCOPE,
        oidc::RESPONSE_PARAM_LIST,
        oidc::RANDOM_BYTES,
    ));
}

/// The provider's endpoints, explicit or discovered.
#[no_mangle]
pub extern "C" fn floor_provider() {
    keep(provider().signs_in());
    keep(provider().token_endpoint());
    keep(provider().revocation_endpoint());
    keep(provider().sign_in_endpoints());
    keep(provider().end_session_endpoint());
}

/// A sign-out's steps, and every answer it is fed.
#[no_mangle]
pub extern "C" fn floor_sign_out() {
    let mut s = sign_out();
    while let Some(step) = s.poll() {
        keep(step);
    }
    keep(sign_out().revocation_endpoint(outcome(opt_string()), flag()));
    sign_out().revoked(outcome(()));
    sign_out().end_session_endpoint(outcome(string()));
    sign_out().navigation_failed(string());
    keep(oidc::end_session_url(text(), opt_text(), opt_text(), opt_text()));
    keep(oidc::no_revocation_endpoint(flag()));
}

/// DPoP: the proof's header and claims, thumbprint, `htu`, `htm`, token types, nonces.
#[no_mangle]
pub extern "C" fn floor_dpop() {
    if let Some(k) = PublicKey::from_raw(bytes()) {
        keep(k.jwk_json());
        keep(k.header_json());
    }
    keep(dpop::thumbprint(bytes()));
    keep(dpop::ath(bytes()));
    keep(dpop::htu(text()));
    keep(dpop::origin(text()));
    let htm = dpop::method(text());
    let mut nonces = black_box(Nonces::new());
    keep(nonces.learn(text(), opt_text()));
    let nonces = black_box(nonces);
    let claims = dpop::Claims {
        jti: text(),
        htm: htm.as_deref().unwrap_or_default(),
        htu: dpop::htu(text()),
        now_ms: num(),
        nonce: nonces.get(text()),
        ath: opt_text(),
    };
    let input = dpop::signing_input(text(), &claims.to_json());
    keep(dpop::compact(&input, bytes()));
    keep(dpop::check_token_type(
        black_box(Some(dpop::Mode {
            allow_bearer: flag(),
        })),
        text(),
    ));
    keep(dpop::is_dpop(text()));
    let wants = dpop::token_endpoint_wants_nonce(http_status(), text())
        || dpop::resource_wants_nonce(http_status(), opt_text());
    keep(dpop::retry_with_nonce(wants, flag(), flag()));
    keep(dpop::USE_DPOP_NONCE);
}

/// A refreshed ID token checked against the session's.
#[no_mangle]
pub extern "C" fn floor_refreshed_id_token() {
    keep(refreshed_id_token::check(
        text(),
        opt_text(),
        opt_text(),
        opt_text(),
    ));
}

/// JSON read and written; forms encoded and decoded; the float helpers.
#[no_mangle]
pub extern "C" fn floor_text() {
    match Json::parse(text()) {
        Ok(v) => {
            keep(v.get(text()).and_then(Json::as_str).map(String::from));
            keep(v.get(text()).and_then(Json::as_f64));
            keep(v.as_str().map(String::from));
            keep(v.to_text());
            let mut out = String::new();
            v.write(&mut out);
            keep(out);
        }
        Err(e) => keep(e.describe()),
    }
    keep(json::parse_number(text()));
    let mut o = ObjWriter::new();
    o.str(text(), text());
    o.opt_str(text(), opt_text());
    o.num(text(), num());
    o.bool(text(), flag());
    keep(o.finish());
    keep(ObjWriter::default().finish());
    let mut s = string();
    json::push_u64(&mut s, black_box(0));
    json::push_hex(&mut s, black_box(0), int());
    json::write_str(text(), &mut s);
    keep(s);
    keep(form::form_encode(&[(text(), text())]));
    keep(form::form_decode(text()));
    let x = num();
    keep((
        crate::core::float::trunc(x),
        crate::core::float::floor(x),
        crate::core::float::round(x),
        crate::core::float::fract(x),
        crate::core::float::powi(x, black_box(0)),
    ));
}

/// Errors: every constructor, the codes as JavaScript sees them; limits; events.
#[no_mangle]
pub extern "C" fn floor_errors() {
    let e = error()
        .with_message(string())
        .with_cause(string())
        .with_server(ServerCause {
            error: opt_string(),
            error_description: opt_string(),
            status: black_box(None),
        });
    keep(e.code.as_str().len());
    keep(e.clone().into_fields());
    keep(e);
    for e in [
        Error::options(string()),
        Error::option(text(), text()),
        Error::token_response(string()),
        Error::network(string()),
        Error::storage(string()),
        Error::signed_out(),
    ] {
        keep(e.code.as_str().len());
        keep(e);
    }
    keep(error::cat(&[text(), text()]));
    keep(error::with_status(text(), http_status(), text()));
    keep(limits::check(
        black_box(0),
        limits::MAX_HTTP_BODY,
        code(),
        text(),
    ));
    keep(limits::check(
        black_box(0),
        limits::MAX_RECORD,
        code(),
        text(),
    ));
    keep(limits::check(
        black_box(0),
        limits::MAX_TAB_MESSAGE,
        code(),
        text(),
    ));
    keep(black_box(Status::SignedIn).as_str());
    keep(reason().as_str());
    keep(Reason::parse(text()));
    keep(black_box(EventKind::Change).as_str());
    keep(EventKind::parse(text()));
    for k in EventKind::ALL {
        keep(k.as_str());
    }
}
