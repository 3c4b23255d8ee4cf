// Sign-in scenarios: tokenward's own authorization code + PKCE sign-in against
// the real authorization server, its login form driven in the page as a person would,
// and every bad input refused with its error code and nothing stored.
//
// Written against the Playwright subset the WebDriver adapter offers (newPage, goto,
// evaluate, waitForFunction, close). The app page (APP_SCRIPT) creates its client from a
// config kept in sessionStorage, so that it is re-created on every page load, like an app.
//
// The helpers are in signin-helpers.mjs, the scenarios of refused responses, ID tokens,
// discovery documents and options in signin-refused.mjs; both are re-exported here.
import {
  TIMEOUT, USER, openSignedOutApp, signInAsUser, signinConfig, snapshot, waitReady,
} from './signin-helpers.mjs';

export { APP_SCRIPT, USER, signinConfig, signinRoutes } from './signin-helpers.mjs';
export * from './signin-refused.mjs';

/** Sign-in lands signed in, the API call works, a reload stays signed in, refresh uses the discovered endpoint. */
export async function signInLandsSignedIn({ context, stack, openApp, assert, diagnostic }) {
  const page = await openSignedOutApp({ context, stack, openApp }, signinConfig(stack));
  try {
    assert.equal((await snapshot(page)).status, 'signedOut');
    stack.auth.resetStats();
    const { where, seen } = await signInAsUser(page, stack);
    assert.equal(where, 'app', seen.join(' → '));
    assert.ok(seen.includes('login'), `the login form was shown: ${seen.join(' → ')}`);
    const after = await snapshot(page);
    diagnostic(`sign-in steps: ${seen.join(' → ')}; events: ${after.events.join(', ')}`);
    assert.deepEqual(after.errors, []);
    assert.equal(after.status, 'signedIn');
    assert.equal(after.search, '', 'code, state and iss are removed from the address bar');
    assert.equal(after.pending, null, 'the pending sign-in is removed once used');
    await stack.auth.refreshStats?.();
    assert.equal(stack.auth.stats.codeExchanges, 1);
    const stored = JSON.parse(after.stored);
    if (stack.auth.accessTokenFormat === 'opaque') assert.match(stored.access_token, /^\S+$/);
    else assert.match(stored.access_token, /^[\w-]+\.[\w-]+\.[\w-]+$/);
    assert.ok(stored.id_token && stored.refresh_token, 'ID and refresh tokens are stored');
    assert.equal(after.idClaims.sub, USER);
    assert.equal(after.idClaims.aud, stack.auth.clientId);
    assert.equal(after.idClaims.iss, stack.auth.issuer);
    assert.equal(typeof after.idClaims.nonce, 'string');

    const api = await page.evaluate(async (url) => {
      const res = await window.auth.fetch(`${url}/api/me`);
      return { status: res.status, body: await res.json() };
    }, stack.api.url);
    assert.equal(api.status, 200);
    assert.equal(api.body.sub, USER);
    const seenByApi = stack.api.requests.filter((r) => r.path === '/api/me').at(-1);
    assert.equal(seenByApi.authorization, `Bearer ${stored.access_token}`);

    await page.goto(`${stack.app.url}/`);
    await waitReady(page);
    const reloaded = await snapshot(page);
    assert.equal(reloaded.status, 'signedIn', 'a reload with local storage stays signed in');
    assert.equal(reloaded.idClaims?.sub, USER);
    assert.deepEqual(reloaded.errors, []);
    const again = await page.evaluate(async (url) => (await window.auth.fetch(`${url}/api/me`)).status, stack.api.url);
    assert.equal(again, 200);

    // The refresh goes to the token endpoint found by discovery (no tokenEndpoint given).
    await page.evaluate(() => window.auth.refresh());
    await stack.auth.refreshStats?.();
    assert.equal(stack.auth.stats.refreshOk, 1);
    assert.equal(stack.auth.stats.codeExchanges, 1);
    diagnostic(`code exchanges ${stack.auth.stats.codeExchanges}, refreshes ${stack.auth.stats.refreshOk}, API 200s ${stack.api.stats.ok}`);
  } finally {
    await page.close();
  }
}

/** signOut({ endSession: true }) revokes (discovered endpoint), forgets, ends the provider's session and comes back. */
export async function signOutEndsProviderSession({ context, stack, openApp, assert, diagnostic }) {
  const page = await openSignedOutApp({ context, stack, openApp }, signinConfig(stack));
  try {
    const { where } = await signInAsUser(page, stack);
    assert.equal(where, 'app');
    assert.equal((await snapshot(page)).status, 'signedIn');
    stack.auth.resetStats();
    await page.evaluate((uri) => {
      window.e2eSignInStarted = true;
      window.auth.signOut({ endSession: true, postLogoutRedirectUri: uri });
    }, `${stack.app.url}/`);
    await page.waitForFunction(() => document.querySelector('button[name="logout"]'), null, { timeout: TIMEOUT });
    assert.equal(stack.auth.stats.revocations, 1, 'the refresh token is revoked at the discovered revocation endpoint');
    await page.evaluate(() => setTimeout(() => document.querySelector('button[name="logout"]').click(), 0));
    await page.waitForFunction(
      (origin) => location.origin === origin && window.tokenwardReady === true,
      stack.app.url,
      { timeout: TIMEOUT },
    );
    const after = await snapshot(page);
    assert.equal(after.status, 'signedOut');
    assert.equal(after.stored, null);
    // The provider's session is over: signing in again shows the login form.
    const { where: again, seen } = await signInAsUser(page, stack);
    assert.equal(again, 'app');
    assert.ok(seen.includes('login'), `login form after end-session: ${seen.join(' → ')}`);
    diagnostic(`revocations ${stack.auth.stats.revocations}; second sign-in: ${seen.join(' → ')}`);
  } finally {
    await page.close();
  }
}

/**
 * signOut() with the client knowing only the issuer: the refresh token is revoked at the
 * revocation endpoint found by discovery (in the OpenID document, or only in the RFC 8414
 * metadata, as with Django OAuth Toolkit), with no error event; the token is then dead.
 */
export async function signOutRevokesAtDiscoveredEndpoint({ context, stack, openApp, assert, diagnostic }) {
  const page = await openSignedOutApp({ context, stack, openApp }, signinConfig(stack));
  try {
    const { where } = await signInAsUser(page, stack);
    assert.equal(where, 'app');
    const { refresh_token: refreshToken } = JSON.parse((await snapshot(page)).stored);
    stack.auth.resetStats();
    await page.evaluate(() => window.auth.signOut());
    await stack.auth.refreshStats?.();
    const after = await snapshot(page);
    const res = await fetch(stack.auth.tokenEndpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: stack.auth.clientId }),
    });
    const answer = await res.json();
    diagnostic(`revocations ${stack.auth.stats.revocations}; errors [${after.errors.join(', ')}]; later refresh → ${res.status} ${answer.error}`);
    assert.equal(stack.auth.stats.revocations, 1, 'revoked at the discovered endpoint');
    assert.deepEqual(after.errors, [], 'no error event');
    assert.equal(after.status, 'signedOut');
    assert.equal(after.stored, null);
    assert.equal(answer.error, 'invalid_grant', 'the revoked refresh token no longer works');
  } finally {
    await page.close();
  }
}

/**
 * With the default redirect URI (the page itself), a page whose URL carries `?code=…&state=…`
 * while no sign-in is pending in this tab is the app's own business: createTokenClient
 * neither exchanges nor strips it, and reports nothing.
 */
export async function strayCodeAndStateAreLeftAlone({ context, stack, openApp, assert, diagnostic }) {
  const config = signinConfig(stack, { redirectUri: undefined });
  const page = await openSignedOutApp({ context, stack, openApp }, config);
  try {
    stack.auth.resetStats();
    for (const search of ['?code=abc&state=xyz', `?code=abc&state=xyz&iss=${encodeURIComponent(stack.auth.issuer)}`, '?error=oops&state=xyz']) {
      await page.goto(`${stack.app.url}/${search}`);
      await waitReady(page);
      const s = await snapshot(page);
      diagnostic(`${search}: ${JSON.stringify({ errors: s.errors, search: s.search, status: s.status })}`);
      assert.deepEqual(s.errors, [], `${search}: no error event`);
      assert.equal(s.search, search, `${search}: the address bar keeps the page's own parameters`);
      assert.equal(s.status, 'signedOut');
      assert.equal(s.createError, null);
    }
    assert.equal(stack.auth.stats.codeExchanges, 0, 'no code was exchanged');
  } finally {
    await page.close();
  }
}
