// Sign-in scenarios: tokenward's own authorization code + PKCE sign-in against
// the real authorization server, its login form driven in the page as a person would,
// and every bad input refused with its error code and nothing stored.
//
// Written against the Playwright subset the WebDriver adapter offers (newPage, goto,
// evaluate, waitForFunction, close). The app page (APP_SCRIPT) creates its client from a
// config kept in sessionStorage, so that it is re-created on every page load, like an app.
import { createServer } from 'node:net';

export const USER = 'dana';
const STORAGE_KEY = 'tokenward';
const PENDING_KEY = 'tokenward:signin';
const TIMEOUT = 15_000;

/**
 * Module code for the app page (appHtml({ script })). With `e2e:config` in sessionStorage it
 * creates the client (which handles an authorization response in the URL by itself) and
 * records every event in window.events. With `e2e:hold` set it creates nothing and keeps
 * the URL it was loaded with in window.held: that is how a test gets hold of an
 * authorization response before the app uses it.
 */
export const APP_SCRIPT = `
window.events = [];
const config = JSON.parse(sessionStorage.getItem('e2e:config') ?? 'null');
if (sessionStorage.getItem('e2e:hold') === '1') {
  sessionStorage.removeItem('e2e:hold');
  window.held = location.href;
} else if (config) {
  const record = (e) => window.events.push({
    type: e.type, status: e.status, reason: e.reason ?? null,
    code: e.error?.code ?? null, message: e.error?.message ?? null,
  });
  const on = Object.fromEntries(['change', 'refresh', 'expired', 'signedOut', 'error'].map((t) => [t, record]));
  try {
    window.auth = await tokenward.createTokenClient({ ...config, on });
  } catch (e) {
    window.createError = { code: e.code, message: e.message };
  }
}
`;

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString()));
    req.on('error', reject);
  });
}

const b64json = (part) => JSON.parse(Buffer.from(part, 'base64url').toString());
const jsonb64 = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');

/**
 * Routes for the app server (server-side, so they work in every browser):
 * - /broken/.well-known/openid-configuration: a discovery document without token_endpoint;
 * - /other/.well-known/openid-configuration: one naming another issuer;
 * - /tamper/token?claim=aud|iss|nonce|exp|drop: the real token endpoint, with the ID
 *   token's claim changed (or the ID token dropped) on the way back.
 * `getStack()` returns the started stack (the routes are created before it exists).
 */
export function signinRoutes(getStack) {
  const json = (res, status, body) => res.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' })
    .end(JSON.stringify(body));
  return {
    '/broken/.well-known/openid-configuration': (req, res) => {
      const { app, auth } = getStack();
      json(res, 200, { issuer: `${app.url}/broken`, authorization_endpoint: auth.authorizationEndpoint });
    },
    '/other/.well-known/openid-configuration': (req, res) => {
      const { auth } = getStack();
      json(res, 200, { issuer: auth.issuer, authorization_endpoint: auth.authorizationEndpoint, token_endpoint: auth.tokenEndpoint });
    },
    '/tamper/token': async (req, res) => {
      const claim = new URL(req.url, 'http://x').searchParams.get('claim');
      const answer = await fetch(getStack().auth.tokenEndpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: await readBody(req),
      });
      const body = await answer.json();
      if (answer.ok && body.id_token) {
        const [header, payload, signature] = body.id_token.split('.');
        const claims = b64json(payload);
        if (claim === 'aud') claims.aud = 'someone-else';
        if (claim === 'iss') claims.iss = 'https://evil.example';
        if (claim === 'nonce') claims.nonce = 'replayed-nonce';
        if (claim === 'exp') claims.exp = Math.floor(Date.now() / 1000) - 3600;
        body.id_token = [header, jsonb64(claims), signature].join('.');
        if (claim === 'drop') delete body.id_token;
      }
      json(res, answer.status, body);
    },
  };
}

/** The client options for a sign-in against the stack's authorization server. */
export function signinConfig(stack, extra = {}) {
  return {
    issuer: stack.auth.issuer,
    clientId: stack.auth.clientId,
    storage: 'local',
    redirectUri: `${stack.app.url}/`,
    scope: 'openid api:read',
    attachTo: [stack.api.url],
    // Fixed, so that the scenarios can look at storage (the default is derived).
    storageKey: STORAGE_KEY,
    ...extra,
  };
}

// What differs between the authorization servers' pages (stack.auth.ui): oidc-provider's
// devInteractions form names the user field `login`, Django's login form `username`.
const DEFAULT_UI = { loginField: 'login' };
const uiOf = (stack) => ({ ...DEFAULT_UI, ...stack.auth.ui });

const waitReady = (page) => page.waitForFunction(() => window.tokenwardReady === true, null, { timeout: TIMEOUT });

/** A fresh app page (storage cleared) whose client uses `config`. */
async function openSignedOutApp({ context, stack, openApp }, config) {
  const page = await openApp(context, `${stack.app.url}/`);
  await page.evaluate((c) => {
    localStorage.clear();
    sessionStorage.clear();
    sessionStorage.setItem('e2e:config', JSON.stringify(c));
  }, config);
  await page.goto(`${stack.app.url}/`);
  await waitReady(page);
  return page;
}

/** Sets a new config and reloads the page with it. */
async function reconfigure(page, stack, config) {
  await page.evaluate((c) => sessionStorage.setItem('e2e:config', JSON.stringify(c)), config);
  await page.goto(`${stack.app.url}/`);
  await waitReady(page);
}

/** What the page shows about the session and storage. */
function snapshot(page) {
  return page.evaluate(({ storageKey, pendingKey }) => ({
    status: window.auth?.status ?? null,
    stored: localStorage.getItem(storageKey),
    pending: sessionStorage.getItem(pendingKey),
    errors: window.events.filter((e) => e.type === 'error').map((e) => e.code),
    events: window.events.map((e) => e.type),
    search: location.search,
    idClaims: window.auth?.idClaims ?? null,
    createError: window.createError ?? null,
  }), { storageKey: STORAGE_KEY, pendingKey: PENDING_KEY });
}

/** Runs in the page: which step of the sign-in it shows, or false while it is on its way. */
function whereIsThePage({ issuer, appOrigin, loginField = 'login' }) {
  if (window.e2eSignInError) return `error:${window.e2eSignInError}`;
  if (window.e2eSubmitted) return false;
  if (location.origin === appOrigin) return window.tokenwardReady === true && !window.e2eSignInStarted ? 'app' : false;
  if (location.origin !== new URL(issuer).origin) return false;
  if (document.querySelector(`input[name="${loginField}"]`)) return 'login';
  if (document.querySelector('input[name="prompt"][value="consent"]')) return 'consent';
  if (document.querySelector('button[name="logout"]')) return 'logout';
  return false;
}

/**
 * Calls auth.signIn() in the page, then acts as the user on the authorization server's
 * pages (login form, consent, or `cancel` on the first one) until the page is back on
 * the app. Resolves to 'app', or to the signIn() error code when it did not navigate.
 */
async function signInAsUser(page, stack, { user = USER, cancel = false, options } = {}) {
  await page.evaluate((o) => {
    window.e2eSignInStarted = true;
    window.auth.signIn(o).catch((e) => { window.e2eSignInError = e.code ?? String(e); });
  }, options ?? null);
  const seen = [];
  for (let step = 0; step < 8; step += 1) {
    const arg = { issuer: stack.auth.issuer, appOrigin: stack.app.url, loginField: uiOf(stack).loginField };
    await page.waitForFunction(whereIsThePage, arg, { timeout: TIMEOUT });
    const where = await page.evaluate(whereIsThePage, arg); // the subset has no handles
    if (!where) continue; // it moved on between the two calls: look again
    seen.push(where);
    if (where === 'app' || where.startsWith('error:')) return { where, seen };
    await page.evaluate(({ where: w, user: u, cancel: c, loginField }) => {
      window.e2eSubmitted = true;
      // Clicked after this evaluation returns, so the navigation cannot interrupt it.
      setTimeout(() => {
        if (c) {
          document.querySelector('a[href*="/abort"]').click();
          return;
        }
        if (w === 'login') {
          document.querySelector(`input[name="${loginField}"]`).value = u;
          document.querySelector('input[name="password"]').value = 'correct horse';
        }
        document.querySelector('button[type="submit"]').click();
      }, 0);
    }, { where, user, cancel, loginField: uiOf(stack).loginField });
  }
  throw new Error(`sign-in did not come back to the app: ${seen.join(' → ')}`);
}

async function closedPort() {
  const server = createServer();
  await new Promise((resolve) => { server.listen(0, '127.0.0.1', resolve); });
  const { port } = server.address();
  await new Promise((resolve) => { server.close(resolve); });
  return port;
}

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
 * Forged responses: a wrong or missing `state` is invalid_state and leaves the pending
 * sign-in, so the real response still works after it; a response with the right state but
 * a wrong or missing `iss` (RFC 9207: the provider advertises it) is invalid_state too and
 * uses the pending sign-in up. No forged code is ever exchanged, nothing is stored.
 */
export async function forgedResponsesAreRejected({ context, stack, openApp, assert, diagnostic }) {
  const page = await openSignedOutApp({ context, stack, openApp }, signinConfig(stack));
  // Signs in with the response held back: resolves to the callback URL and the pending record.
  const holdResponse = async () => {
    await page.evaluate(() => sessionStorage.setItem('e2e:hold', '1'));
    const { where } = await signInAsUser(page, stack);
    assert.equal(where, 'app');
    const held = await page.evaluate(() => window.held);
    assert.ok(new URL(held).searchParams.get('code'), held);
    await page.goto(`${stack.app.url}/`);
    await waitReady(page);
    return { held, pending: (await snapshot(page)).pending };
  };
  const handleExplicitly = (url) => page.evaluate(async (u) => {
    history.replaceState(null, '', u);
    try {
      return `resolved ${await window.auth.handleRedirect()}`;
    } catch (e) {
      return e.code;
    }
  }, url);
  const variant = (url, change) => {
    const u = new URL(url);
    change(u.searchParams);
    return u.href;
  };
  try {
    const { held, pending } = await holdResponse();
    assert.ok(pending, 'the pending sign-in is in sessionStorage');
    assert.ok(!pending.includes(new URL(held).searchParams.get('code')));
    stack.auth.resetStats();

    await page.goto(variant(held, (p) => p.set('state', 'forged-state')));
    await waitReady(page);
    const forged = await snapshot(page);
    assert.deepEqual(forged.errors, ['invalid_state'], 'createTokenClient reports a wrong state as an error event');
    assert.equal(forged.createError, null, 'createTokenClient still resolves');
    assert.equal(forged.status, 'signedOut');
    assert.equal(forged.stored, null);
    assert.equal(forged.search, '', 'the forged response is removed from the address bar');
    assert.equal(forged.pending, pending, 'a wrong state does not use up the pending sign-in');

    const missingState = await handleExplicitly(variant(held, (p) => p.delete('state')));
    assert.equal(missingState, 'invalid_state', 'handleRedirect() rejects a response without state');
    const afterMissing = await snapshot(page);
    assert.equal(afterMissing.pending, pending);
    assert.equal(afterMissing.stored, null);
    assert.equal(afterMissing.search, '');
    assert.equal(stack.auth.stats.codeExchanges, 0, 'no forged code was exchanged');

    // The real response, held back meanwhile, is still accepted.
    await page.goto(held);
    await waitReady(page);
    const real = await snapshot(page);
    assert.deepEqual(real.errors, []);
    assert.equal(real.status, 'signedIn');
    assert.equal(real.pending, null);
    assert.equal(stack.auth.stats.codeExchanges, 1);
    await page.evaluate(() => window.auth.signOut({ revoke: false }));

    const results = { 'wrong state': forged.errors[0], 'missing state': missingState };
    for (const [name, change] of [
      ['wrong iss', (p) => p.set('iss', 'https://evil.example')],
      ['missing iss', (p) => p.delete('iss')],
    ]) {
      const next = await holdResponse();
      stack.auth.resetStats();
      results[name] = await handleExplicitly(variant(next.held, change));
      const after = await snapshot(page);
      assert.equal(results[name], 'invalid_state', name);
      assert.equal(after.stored, null, name);
      assert.equal(after.status, 'signedOut', name);
      assert.equal(after.pending, null, `${name}: the right state uses up the pending sign-in`);
      assert.equal(stack.auth.stats.codeExchanges, 0, `${name}: the code was not exchanged`);
    }
    diagnostic(Object.entries(results).map(([k, v]) => `${k} → ${v}`).join(', '));
  } finally {
    await page.close();
  }
}

/** The same code a second time (the pending sign-in put back) is the server's invalid_grant; nothing is stored. */
export async function replayedCodeIsRefused({ context, stack, openApp, assert, diagnostic }) {
  const config = signinConfig(stack);
  const page = await openSignedOutApp({ context, stack, openApp }, config);
  try {
    await page.evaluate(() => sessionStorage.setItem('e2e:hold', '1'));
    const { where } = await signInAsUser(page, stack);
    assert.equal(where, 'app');
    const held = await page.evaluate(() => window.held);
    const pending = await page.evaluate((k) => sessionStorage.getItem(k), PENDING_KEY);
    await page.goto(held);
    await waitReady(page);
    assert.equal((await snapshot(page)).status, 'signedIn');
    await page.evaluate(() => window.auth.signOut({ revoke: false }));
    assert.equal((await snapshot(page)).stored, null);

    stack.auth.resetStats();
    await page.evaluate(({ k, v }) => sessionStorage.setItem(k, v), { k: PENDING_KEY, v: pending });
    await page.goto(held);
    await waitReady(page);
    const after = await snapshot(page);
    diagnostic(`replay: errors ${after.errors.join(', ')}; server invalid_grant ${stack.auth.stats.invalidGrant}, exchanges ${stack.auth.stats.codeExchanges}`);
    assert.deepEqual(after.errors, ['invalid_grant']);
    assert.equal(stack.auth.stats.codeExchanges, 1);
    assert.equal(stack.auth.stats.invalidGrant, 1);
    assert.equal(after.status, 'signedOut');
    assert.equal(after.stored, null);
    assert.equal(after.pending, null);
    assert.equal(after.search, '');
  } finally {
    await page.close();
  }
}

/** The user cancels on the login page: access_denied, nothing stored. */
export async function deniedSignInIsAccessDenied({ context, stack, openApp, assert, diagnostic }) {
  const page = await openSignedOutApp({ context, stack, openApp }, signinConfig(stack));
  try {
    // prompt=login shows the login form even when the provider has a session.
    const { where, seen } = await signInAsUser(page, stack, { cancel: true, options: { prompt: 'login' } });
    assert.equal(where, 'app', seen.join(' → '));
    const after = await snapshot(page);
    diagnostic(`cancel: ${seen.join(' → ')} → errors ${after.errors.join(', ')}`);
    assert.deepEqual(after.errors, ['access_denied']);
    assert.equal(after.status, 'signedOut');
    assert.equal(after.stored, null);
    assert.equal(after.pending, null, 'the pending sign-in is used up by the error response');
    assert.equal(after.search, '', 'error and error_description are removed from the address bar');
  } finally {
    await page.close();
  }
}

/** ID tokens with the wrong aud, iss or nonce, an expired one, or none: invalid_token_response, nothing stored. */
export async function badIdTokensAreRejected({ context, stack, openApp, assert, diagnostic }) {
  const page = await openSignedOutApp({ context, stack, openApp }, signinConfig(stack));
  const results = {};
  try {
    for (const claim of ['aud', 'iss', 'nonce', 'exp', 'drop']) {
      await reconfigure(page, stack, signinConfig(stack, { tokenEndpoint: `${stack.app.url}/tamper/token?claim=${claim}` }));
      const { where, seen } = await signInAsUser(page, stack);
      assert.equal(where, 'app', seen.join(' → '));
      const after = await snapshot(page);
      results[claim] = after.errors.join(',');
      assert.deepEqual(after.errors, ['invalid_token_response'], claim);
      assert.equal(after.status, 'signedOut', claim);
      assert.equal(after.stored, null, claim);
      assert.equal(after.idClaims, null, claim);
      assert.equal(after.search, '', claim);
    }
    // The same path without tampering signs in: the proxy itself is not what failed.
    await reconfigure(page, stack, signinConfig(stack, { tokenEndpoint: `${stack.app.url}/tamper/token?claim=none` }));
    await signInAsUser(page, stack);
    const ok = await snapshot(page);
    results.none = ok.status;
    assert.equal(ok.status, 'signedIn');
    diagnostic(`ID token checks: ${Object.entries(results).map(([k, v]) => `${k} → ${v}`).join(', ')}`);
  } finally {
    await page.close();
  }
}

/** Discovery documents that lack an endpoint, name another issuer, or cannot be reached. */
export async function discoveryFailures({ context, stack, openApp, assert, diagnostic }) {
  const port = await closedPort();
  const cases = [
    ['missing token_endpoint', `${stack.app.url}/broken`, 'invalid_discovery'],
    ['another issuer', `${stack.app.url}/other`, 'invalid_discovery'],
    ['no document (404)', `${stack.app.url}/nowhere`, 'invalid_discovery'],
    ['unreachable', `http://127.0.0.1:${port}`, 'network'],
  ];
  const page = await openSignedOutApp({ context, stack, openApp }, signinConfig(stack));
  const seen = [];
  try {
    for (const [name, issuer, code] of cases) {
      await reconfigure(page, stack, signinConfig(stack, { issuer }));
      const { where } = await signInAsUser(page, stack);
      const after = await snapshot(page);
      seen.push(`${name} → ${where}`);
      assert.equal(where, `error:${code}`, name);
      assert.equal(after.stored, null, name);
      assert.equal(after.pending, null, `${name}: no pending sign-in is stored`);
      assert.equal(after.status, 'signedOut', name);
    }
    const bad = await page.evaluate(async () => {
      const out = [];
      for (const options of [{ issuer: 'not a url' }, { issuer: 'ftp://op.example' }, { redirectUri: 'javascript:alert(1)' }]) {
        try {
          await window.tokenward.createTokenClient(options);
          out.push('created');
        } catch (e) {
          out.push(e.code);
        }
      }
      return out;
    });
    seen.push(`bad options → ${bad.join(', ')}`);
    assert.deepEqual(bad, ['invalid_options', 'invalid_options', 'invalid_options']);
    diagnostic(seen.join('; '));
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
