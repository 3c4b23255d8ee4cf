// The JS surface in a real page against the real authorization server: methods taken off
// the client still work (`const { refresh } = auth`), and a TokenwardError from a server
// answer carries it as `error.server` ({ error, error_description?, status }).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { launchBrowser, openApp, startStack } from './harness.mjs';

let stack;
let context;
let page;
const logs = [];

before(async () => {
  stack = await startStack();
  context = await launchBrowser();
  page = await openApp(context, `${stack.app.url}/`, { logs });
}, { timeout: 120_000 });

after(async () => {
  await context?.close();
  await stack?.close();
});

test('every method works when taken off the client', async () => {
  const tokens = await stack.auth.login();
  stack.auth.resetStats();
  const seen = await page.evaluate(async ({ options, tokens }) => {
    const auth = await window.tokenward.createTokenClient({ ...options, storageKey: 'bound' });
    const { refresh, signOut, signIn, accessToken, setTokens, on, handleRedirect, dispose } = auth;
    const changes = [];
    const off = on('change', (e) => changes.push(e.status));
    setTokens(tokens);
    off();
    const redirect = await handleRedirect();
    const before = auth.expiresAt;
    await refresh();
    const token = await accessToken();
    const refreshed = { status: auth.status, newToken: token !== tokens.access_token, expiresAtSet: auth.expiresAt !== null && before !== null };
    const sessionEndsAt = auth.sessionEndsAt;
    await signOut({ revoke: false });
    const afterSignOut = auth.status;
    // No issuer and no authorizationEndpoint: signIn cannot start, and says so as a TokenwardError.
    const signInError = await signIn().then(() => null, (e) => ({ name: e.name, code: e.code }));
    dispose();
    return { refreshed, sessionEndsAt, afterSignOut, signInError, changes, redirect };
  }, { options: stack.clientOptions, tokens });
  assert.deepEqual(seen.changes, ['signedIn'], 'the detached on() listened, and its unsubscribe worked');
  assert.equal(seen.redirect, false, 'the detached handleRedirect() found no response in the URL');
  assert.deepEqual(seen.refreshed, { status: 'signedIn', newToken: true, expiresAtSet: true });
  assert.equal(stack.auth.stats.refreshOk, 1, 'the detached refresh() refreshed at the server');
  assert.equal(seen.sessionEndsAt, null, 'sessionEndsAt is null when the session end is not known');
  assert.equal(seen.afterSignOut, 'signedOut');
  assert.equal(seen.signInError?.name, 'TokenwardError', JSON.stringify(seen.signInError));
});

test('a refused refresh rejects with error.server = the token endpoint\'s answer', async () => {
  const tokens = await stack.auth.login();
  await stack.auth.revokeGrantOf(tokens.refresh_token);
  const seen = await page.evaluate(async ({ options, tokens }) => {
    const events = [];
    const auth = await window.tokenward.createTokenClient({
      ...options,
      storageKey: 'server-error',
      on: { error: (e) => events.push({ code: e.error.code, server: e.error.server ?? null }) },
    });
    auth.setTokens(tokens);
    const outcome = await auth.refresh().then(() => ({ resolved: true }), (e) => ({
      isTokenwardError: e instanceof window.tokenward.TokenwardError,
      code: e.code,
      server: e.server ?? null,
      causeIsServer: e.cause?.error === e.server?.error,
    }));
    const signedOutCode = await auth.accessToken().then(() => null, (e) => ({ code: e.code, server: e.server ?? null }));
    auth.dispose();
    return { outcome, events, signedOutCode };
  }, { options: stack.clientOptions, tokens });
  assert.equal(seen.outcome.isTokenwardError, true, JSON.stringify(seen));
  assert.equal(seen.outcome.code, 'invalid_grant');
  assert.equal(seen.outcome.server?.error, 'invalid_grant', JSON.stringify(seen));
  assert.equal(seen.outcome.server?.status, 400);
  assert.equal(typeof seen.outcome.server?.error_description, 'string');
  assert.deepEqual(Object.keys(seen.outcome.server).sort(), ['error', 'error_description', 'status']);
  assert.equal(seen.outcome.causeIsServer, true, '`cause` still carries the answer');
  assert.deepEqual(seen.signedOutCode, { code: 'signed_out', server: null }, 'no server answer, no error.server');
});

test('an app refresh function that never settles: refresh() rejects with network after the request timeout, nothing left refreshing', { timeout: 60_000 }, async () => {
  const seen = await page.evaluate(async () => {
    let calls = 0;
    const errors = [];
    const auth = await window.tokenward.createTokenClient({
      storageKey: 'never-settles',
      crossTab: false,
      refresh: () => {
        calls += 1;
        return new Promise(() => {});
      },
      on: { error: (e) => errors.push(e.error.code) },
    });
    auth.setTokens({ access_token: 'at-1', token_type: 'Bearer', expires_in: 3600, refresh_token: 'rt-1' });
    const started = Date.now();
    const failure = await auth.refresh().then(() => null, (e) => ({ name: e.name, code: e.code }));
    const waitedMs = Date.now() - started;
    const token = await auth.accessToken();
    const status = auth.status;
    auth.dispose();
    return { calls, failure, waitedMs, token, status, errors };
  });
  assert.deepEqual(seen.failure, { name: 'TokenwardError', code: 'network' });
  assert.equal(seen.calls, 1, 'the refresh function was called once');
  assert.ok(seen.waitedMs >= 9_000, `refresh() settled after the timeout, not before (${seen.waitedMs} ms)`);
  assert.equal(seen.token, 'at-1', 'the current token is kept');
  assert.equal(seen.status, 'signedIn', 'nothing is left refreshing');
});
