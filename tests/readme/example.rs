use tokenward::{EventKind, FetchError, Options, StorageKind, TokenClient};

async fn call_api(token_response_json: &str) -> Result<web_sys::Response, FetchError> {
    let auth = TokenClient::new(Options {
        storage: StorageKind::Local,
        token_endpoint: Some("https://auth.example.com/oauth/token".into()),
        client_id: Some("my-spa".into()),
        attach_to: Some(vec!["https://api.example.com/v1".into()]),
        ..Options::default()
    })
    .await?;
    auth.set_tokens_json(token_response_json)?;
    auth.on(EventKind::SignedOut, |e| {
        web_sys::console::log_1(&format!("signed out: {:?}", e.reason).into())
    });
    let request = web_sys::Request::new_with_str("https://api.example.com/v1/me")?;
    auth.fetch(request).await // Authorization added
}
