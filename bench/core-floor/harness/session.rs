//! The core-only floor's exports for the session, the tabs protocol, tokens and grants,
//! the 401 policy, attach rules and JWTs (see `mod.rs`).

use super::*;

/// `config`: the options checked, the app id and the storage key.
#[no_mangle]
pub extern "C" fn floor_config() {
    keep(config::check(&given(), black_box(0)).map(|c| (c.config, c.storage_key)));
    keep(config::fnv1a64(bytes()));
    keep(config::app_id(opt_text(), opt_text()));
    keep(config::default_storage_key(opt_text()));
}

/// The session: every input it takes and every question it answers.
#[no_mangle]
pub extern "C" fn floor_session() {
    let now = num();
    keep(session().restore(now, opt_text()));
    if let Ok(resp) = TokenResponse::parse(text()) {
        keep(session().set_tokens(now, resp));
    }
    keep(session().wake(now));
    keep(session().online(now));
    keep(session().demand(now, opt_text(), flag()));
    keep(session().unauthorized(now, text(), opt_text(), flag()));
    keep(session().sign_out());
    keep(session().persist_failed(error(), opt_text()));
    keep(session().report(error()));
    keep(session().storage_changed(flag(), opt_text(), flag()));
    keep(session().reread(now, opt_text(), flag()));
    keep(session().remote_signed_out(reason(), opt_num()));
    keep(session().adopt(now, text()));
    let s = session();
    keep(s.ready_tokens(now).map(|t| (t.authorization(), t.lifetime(), t.expired(now))));
    keep(s.tokens().map(|t| (t.access_token.clone(), t.id_token.clone())));
    keep(s.next_wakeup());
    keep(s.status().as_str());
    keep(s.expires_at());
    keep(s.session_ends_at());
    keep(s.record());
    keep(s.refresh_due_at());
    keep(s.is_refreshing());
    keep(s.refresh_still_needed());
}

/// The session's refresh outcomes, each kind of result.
#[no_mangle]
pub extern "C" fn floor_refresh_done() {
    let now = num();
    // Another tab had refreshed: nothing was sent.
    keep(session().refresh_done(now, None));
    // New tokens.
    if let Ok(resp) = TokenResponse::parse(text()) {
        keep(session().refresh_done(now, Some(Ok(resp))));
    }
    // Terminal and transient failures.
    keep(session().refresh_done(now, Some(Err((Failure::Terminal, error())))));
    keep(session().refresh_done(now, Some(Err((Failure::Transient(opt_num()), error())))));
    // As the shell gets them: a token endpoint's answer, the app's refresh function.
    let retry_after = policy::retry_after_ms(text(), now, |_| num());
    keep(session().refresh_done(
        now,
        Some(grant::token_answer(http_status(), text(), retry_after)),
    ));
    keep(session().refresh_done(now, Some(Err(grant::app_refresh_failure(error())))));
    keep(session().refresh_done(
        now,
        Some(Err(grant::app_refresh_failure(grant::app_refresh_unsettled()))),
    ));
}

/// The tabs' coordination: every call and every `Input`.
#[no_mangle]
pub extern "C" fn floor_coordination() {
    keep(coordination().has_locks());
    keep(coordination().open());
    keep(coordination().close());
    keep(coordination().ask());
    keep(coordination().start_refresh(policy::lock_wait(opt_num())));
    keep(coordination().finish_refresh());
    keep(coordination().input(Input::Lock {
        id: int(),
        granted: flag(),
        refused: flag(),
    }));
    keep(coordination().input(Input::Peers {
        id: int(),
        count: black_box(0),
    }));
    keep(coordination().input(Input::Ack {
        from: string(),
        n: int(),
    }));
    keep(coordination().input(Input::Have {
        from: string(),
        record: opt_string(),
    }));
    keep(coordination().input(Input::Timer(int())));
    keep(coordination().input(Input::Busy(int())));
    keep(coordination().synced(int()));
}

/// The tabs' messages, written and read.
#[no_mangle]
pub extern "C" fn floor_tab_message() {
    for msg in [
        Msg::Tokens(string()),
        Msg::SignedOut(reason(), opt_num()),
        Msg::Ask,
        Msg::Have(opt_string()),
        Msg::Sync(int()),
        Msg::Ack(int()),
        Msg::Busy(int()),
        black_box(Msg::Ask),
    ] {
        keep(tab_message::encode(text(), opt_text(), opt_text(), &msg));
    }
    if let Some((from, to, msg)) = tab_message::decode(text(), opt_text()) {
        keep(tab_message::encode(&from, opt_text(), to.as_deref(), &msg));
    }
    // The end-of-session marker, written and read.
    keep(tab_message::ended(opt_text(), reason(), num()));
    keep(tab_message::ended_by(text(), opt_text()));
    // What the session announces becomes a message.
    if let Some(a) = black_box(None::<crate::core::session::Announce>) {
        keep(tab_message::encode(text(), opt_text(), None, &Msg::from(a)));
    }
}

/// Token responses, token sets and their stored records.
#[no_mangle]
pub extern "C" fn floor_tokens() {
    let now = num();
    keep(TokenResponse::parse(text()));
    if let Ok(v) = Json::parse(text()) {
        keep(TokenResponse::from_json(&v));
        keep(TokenSet::from_record_json(&v));
    }
    if let Ok(resp) = TokenResponse::parse(text()) {
        let previous = TokenSet::from_record(text()).ok();
        let t = TokenSet::from_response(resp, now, previous.as_ref());
        keep(t.authorization());
        keep(t.expired(now));
        keep(t.lifetime());
        keep(t.to_record());
        keep(t.to_record_for(opt_text()));
    }
    keep(TokenSet::from_record_for(text(), opt_text()));
    keep(record::json_string(text()));
}

/// What the authorization server's answers mean, and the forms sent to it.
#[no_mangle]
pub extern "C" fn floor_grant() {
    keep(grant::is_terminal(&code()));
    keep(grant::parse_error_body(text()));
    keep(grant::token_answer(http_status(), text(), opt_num()));
    keep(grant::refresh_form(text(), opt_text()));
    keep(grant::revocation_form(text(), opt_text()));
    keep(grant::refresh_plan(
        flag(),
        opt_text(),
        flag(),
        opt_text(),
        opt_text(),
    ));
    keep(grant::app_refresh_failure(error()));
    keep(grant::app_refresh_unsettled());
    keep(grant::revocation_answer(
        black_box(Some((0, ""))),
        flag(),
    ));
    keep(grant::APP_REFRESH_TIMEOUT_MS);
}

/// Timing policy and `WWW-Authenticate` challenges.
#[no_mangle]
pub extern "C" fn floor_policy() {
    let now = num();
    keep(policy::refresh_at(num(), num(), num(), num()));
    for c in policy::parse_challenges(text()) {
        keep(c.param(text()).map(String::from));
        keep(c);
    }
    keep(policy::refresh_can_help(opt_text()));
    keep(policy::backoff(int(), num(), opt_num(), opt_num()));
    keep(policy::retry_after_ms(text(), now, |_| num()));
    keep(policy::lock_wait(opt_num()));
    keep(policy::timer_delay(now, num()));
    let mut rng = black_box(Rng::new(black_box(0)));
    keep(rng.next_f64());
}

/// Which requests receive the token; which URLs are secure.
#[no_mangle]
pub extern "C" fn floor_attach() {
    let mut rules = Vec::new();
    match AttachRule::new(parsed_url()) {
        Ok(r) => rules.push(r),
        Err(e) => keep(e),
    }
    match AttachRule::page_origin(parsed_url()) {
        Ok(r) => rules.push(r),
        Err(e) => keep(e),
    }
    let rules = black_box(rules);
    keep(attach::allowed(&rules, parsed_url()));
    if let Some(r) = rules.first() {
        keep(r.matches(parsed_url()));
    }
    keep(attach::require_secure(text(), text(), text()));
    keep(attach::secure_transport(text(), text()));
    keep(attach::is_loopback_host(text()));
    keep(attach::after_scheme(text()));
    keep(attach::host_of(text()));
    keep(attach::secure_url_text(text()));
    keep(attach::has_encoded_separator(text()));
}

/// Reading a JWT's payload; base64url.
#[no_mangle]
pub extern "C" fn floor_jwt() {
    if let Some(c) = jwt::decode(text()) {
        keep(c.number(text()));
        keep(c.string(text()).map(String::from));
        keep(c.audiences().len());
        keep(c);
    }
    keep(jwt::base64url_decode(text()));
    keep(jwt::base64url_encode(bytes()));
}
