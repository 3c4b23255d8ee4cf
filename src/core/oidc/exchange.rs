//! The code exchange: the token request of RFC 6749 §4.1.3 with the PKCE verifier
//! (RFC 7636 §4.5).

use super::authorize::Pending;
use crate::core::form::form_encode;
use crate::prelude::*;

/// The token request that exchanges the code (RFC 6749 §4.1.3 with RFC 7636 §4.5).
pub fn exchange_form(code: &str, pending: &Pending) -> String {
    form_encode(&[
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", &pending.redirect_uri),
        ("client_id", &pending.client_id),
        ("code_verifier", &pending.verifier),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::oidc::testing::*;

    #[test]
    fn rfc6749_4_1_3_and_rfc7636_4_5_token_request() {
        assert_eq!(
            exchange_form("c 1", &pending()),
            "grant_type=authorization_code&code=c+1&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&client_id=spa\
             &code_verifier=dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
        );
    }
}
