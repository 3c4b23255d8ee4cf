// TEMPORARY: the demo's own authorization-code + PKCE sign-in, until tokenward's
// signIn()/handleRedirect() land. Then delete this file and its two uses in app.js.
const PENDING = 'tokenward-demo:pkce';

const base64url = (bytes) => btoa(String.fromCharCode(...new Uint8Array(bytes)))
  .replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
const randomString = (size) => base64url(crypto.getRandomValues(new Uint8Array(size)));

/** Redirects to the authorization endpoint with PKCE (S256) and a state kept in sessionStorage. */
export async function beginSignIn({ authorizationEndpoint, clientId, redirectUri, scope }) {
  const verifier = randomString(32);
  const state = randomString(16);
  const challenge = base64url(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier)));
  sessionStorage.setItem(PENDING, JSON.stringify({ state, verifier, redirectUri }));
  const url = new URL(authorizationEndpoint);
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: clientId,
    redirect_uri: redirectUri,
    scope,
    state,
    code_challenge: challenge,
    code_challenge_method: 'S256',
  });
  location.assign(url);
}

/**
 * On return from the authorization server: checks state and iss, exchanges the code and
 * resolves to the token response. Resolves to null when the URL carries no response.
 * The response parameters are removed from the address bar either way.
 */
export async function completeSignIn({ issuer, tokenEndpoint, clientId }) {
  const url = new URL(location.href);
  const response = Object.fromEntries(url.searchParams);
  if (!response.code && !response.error) return null;

  const pending = JSON.parse(sessionStorage.getItem(PENDING) ?? 'null');
  sessionStorage.removeItem(PENDING);
  for (const name of ['code', 'state', 'iss', 'error', 'error_description']) url.searchParams.delete(name);
  history.replaceState(history.state, '', url);

  if (response.error) throw new Error(`${response.error}: ${response.error_description ?? ''}`);
  if (!pending || response.state !== pending.state) throw new Error('invalid_state: unknown state');
  if (response.iss !== undefined && response.iss !== issuer) throw new Error('invalid_state: wrong issuer');

  const res = await fetch(tokenEndpoint, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code: response.code,
      redirect_uri: pending.redirectUri,
      client_id: clientId,
      code_verifier: pending.verifier,
    }),
  });
  const body = await res.json();
  if (!res.ok) throw new Error(`${body.error}: ${body.error_description}`);
  return body;
}
