// Odd calls in a real page against the real authorization server: arguments of the wrong
// type, options that can never work, and a listener that calls back into the client. Each
// gives a TokenwardError (or, for `fetch`, what `window.fetch` gives) and changes nothing,
// and the client keeps working after it.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { chromiumSuite, openApp, startStack } from './harness.mjs';

const suite = chromiumSuite('arguments', () => startStack());
let opened = null;
// The stack and the one app page the tests share, opened by the first test.
async function ready() {
  opened ??= openApp(suite.context, `${suite.stack.app.url}/`, { logs: [] });
  return { stack: suite.stack, page: await opened };
}

for (const crossTab of [true, false]) {
  test(`crossTab ${crossTab}: refresh() from a refresh listener refreshes again, and the client is signed in after it`, async () => {
    const { stack, page } = await ready();
    const tokens = await stack.auth.login();
    stack.auth.resetStats();
    const seen = await page.evaluate(async ({ options, tokens, crossTab }) => {
      let inner = null;
      const auth = await window.tokenward.createTokenClient({
        ...options, crossTab, storageKey: `reentrant-${crossTab}`,
        on: { refresh: () => { inner ??= auth.refresh(); } },
      });
      auth.setTokens(tokens);
      const outer = await auth.refresh().then(() => 'resolved', (e) => `rejected ${e.code}`);
      const nested = await inner.then(() => 'resolved', (e) => `rejected ${e.code}`);
      const token = await auth.accessToken();
      const result = { outer, nested, status: auth.status, fresh: token !== tokens.access_token };
      auth.dispose();
      return result;
    }, { options: stack.clientOptions, tokens, crossTab });
    assert.deepEqual(seen, { outer: 'resolved', nested: 'resolved', status: 'signedIn', fresh: true });
    assert.equal(stack.auth.stats.refreshOk, 2, 'the listener\'s refresh() went to the server after the first one');
  });
}

test('signOut() with options of the wrong type rejects with invalid_options and signs nothing out', async () => {
  const { stack, page } = await ready();
  const tokens = await stack.auth.login();
  stack.auth.resetStats();
  const seen = await page.evaluate(async ({ options, tokens }) => {
    const auth = await window.tokenward.createTokenClient({ ...options, storageKey: 'sign-out-args' });
    auth.setTokens(tokens);
    const out = [];
    for (const arg of ['x', 5, [], { revoke: 'no' }, { revoke: 0 }, { revoke: null }, { endSession: 'yes' },
      { postLogoutRedirectUri: 5 }, { toJSON: () => undefined }]) {
      out.push(await auth.signOut(arg).then(() => 'resolved', (e) => `${e.name} ${e.code}`));
    }
    const status = auth.status;
    await auth.signOut({ revoke: false });
    const result = { out, status, after: auth.status };
    auth.dispose();
    return result;
  }, { options: stack.clientOptions, tokens });
  assert.deepEqual(seen.out, Array(9).fill('TokenwardError invalid_options'));
  assert.equal(seen.status, 'signedIn', 'nothing was signed out');
  assert.equal(seen.after, 'signedOut', 'signOut({ revoke: false }) still works');
  assert.equal(stack.auth.stats.revocations, 0, 'no revocation was sent');
});

test('a value whose toJSON gives nothing, or text the module cannot hold, is a TokenwardError naming what could not be read', async () => {
  const { stack, page } = await ready();
  const tokens = await stack.auth.login();
  const seen = await page.evaluate(async ({ options, tokens }) => {
    const nothing = { toJSON: () => undefined };
    const created = await window.tokenward.createTokenClient(nothing).then(() => 'resolved', (e) => `${e.name} ${e.code}`);
    const auth = await window.tokenward.createTokenClient({ ...options, storageKey: 'to-json' });
    auth.setTokens(tokens);
    let set = 'returned';
    try {
      auth.setTokens(nothing);
    } catch (e) {
      set = `${e.name} ${e.code}`;
    }
    const signIn = await auth.signIn(nothing).then(() => 'resolved', (e) => `${e.name} ${e.code}`);
    const emptyScope = await auth.signIn({ scope: ' ' }).then(() => 'resolved', (e) => `${e.name} ${e.code} ${e.message}`);
    // A lone surrogate crosses as a `\ud800` escape, which no Rust string holds.
    const lone = await window.tokenward.createTokenClient({ ...options, storageKey: 'lone', note: '\uD800' })
      .then(() => 'resolved', (e) => `${e.name} ${e.code} ${e.message}`);
    const headers = await auth.authorizationHeaders(options.attachTo[0], '\uD800')
      .then(() => 'resolved', (e) => `${e.name} ${e.code} ${e.message}`);
    const token = await auth.accessToken();
    auth.dispose();
    return { created, set, signIn, emptyScope, lone, headers, kept: token === tokens.access_token };
  }, { options: stack.clientOptions, tokens });
  assert.equal(seen.lone, 'TokenwardError invalid_options the options could not be read');
  assert.equal(seen.headers, 'TokenwardError invalid_options the authorizationHeaders arguments could not be read');
  assert.equal(seen.created, 'TokenwardError invalid_options');
  assert.equal(seen.set, 'TokenwardError invalid_token_response');
  assert.equal(seen.signIn, 'TokenwardError invalid_options');
  assert.equal(seen.emptyScope, 'TokenwardError invalid_options `scope` must not be empty');
  assert.equal(seen.kept, true, 'the stored session did not change');
});

test('endpoints with a user name or password, and attachTo entries with dot segments, are invalid_options', async () => {
  const { stack, page } = await ready();
  const seen = await page.evaluate(async ({ options }) => {
    const tries = {
      tokenEndpoint: { tokenEndpoint: 'https://user:secret-pw@auth.example.com/token' },
      revocationEndpoint: { revocationEndpoint: 'https://user:secret-pw@auth.example.com/revoke' },
      issuer: { tokenEndpoint: undefined, issuer: 'https://user:secret-pw@auth.example.com' },
      authorizationEndpoint: { authorizationEndpoint: 'http://user@127.0.0.1:9/authorize' },
      attachTo: { attachTo: ['https://api.example.com/v1/%2e%2e/'] },
      'attachTo ..': { attachTo: ['https://api.example.com/v1/../'] },
    };
    const out = {};
    for (const [name, extra] of Object.entries(tries)) {
      out[name] = await window.tokenward.createTokenClient({ ...options, storageKey: 'creds', ...extra })
        .then((auth) => { auth.dispose(); return 'created'; }, (e) => `${e.name} ${e.code} ${e.message}`);
    }
    return out;
  }, { options: stack.clientOptions });
  for (const [name, outcome] of Object.entries(seen)) {
    assert.match(outcome, /^TokenwardError invalid_options /, `${name}: ${outcome}`);
    assert.ok(!outcome.includes('secret-pw'), `${name}: the message names no password`);
  }
  assert.match(seen.tokenEndpoint, /`tokenEndpoint` must not carry a user name or password/);
  assert.match(seen.issuer, /`issuer` must not carry a user name or password/);
  assert.match(seen.attachTo, /attachTo/);
});

test('auth.fetch() with no argument rejects as window.fetch() does, sending nothing', async () => {
  const { stack, page } = await ready();
  const tokens = await stack.auth.login();
  const seen = await page.evaluate(async ({ options, tokens }) => {
    const auth = await window.tokenward.createTokenClient({ ...options, attachTo: undefined, storageKey: 'no-args' });
    auth.setTokens(tokens);
    const before = performance.getEntriesByType('resource').length;
    const ours = await auth.fetch().then(() => 'resolved', (e) => e.name);
    const native = await window.fetch().then(() => 'resolved', (e) => e.name);
    const sent = performance.getEntriesByType('resource').length - before;
    auth.dispose();
    return { ours, native, sent };
  }, { options: stack.clientOptions, tokens });
  assert.deepEqual(seen, { ours: 'TypeError', native: 'TypeError', sent: 0 });
});

test('a refresh answer that arrives after its session ended and another began goes nowhere; the new session refreshes with its own token', async () => {
  const { page } = await ready();
  const seen = await page.evaluate(async () => {
    const asked = [];
    const auth = await window.tokenward.createTokenClient({
      crossTab: false, storageKey: 'ended-mid-refresh',
      refresh: (rt) => new Promise((resolve) => asked.push({ rt, resolve })),
    });
    const answer = (at, rt) => ({ access_token: at, refresh_token: rt, token_type: 'Bearer', expires_in: 3600 });
    const until = async (f) => { for (let i = 0; i < 200 && !f(); i += 1) await new Promise((r) => setTimeout(r, 10)); };
    auth.setTokens(answer('A', 'rA'));
    const first = auth.refresh().then(() => 'resolved', (e) => `rejected ${e.code}`);
    await until(() => asked.length === 1);
    await auth.signOut({ revoke: false });
    auth.setTokens(answer('B', 'rB'));
    const second = auth.refresh().then(() => 'resolved', (e) => `rejected ${e.code}`);
    // The ended session's answer arrives now.
    asked[0].resolve(answer('A2', 'rA2'));
    await until(() => asked.length === 2);
    const meanwhile = auth.status;
    asked[1]?.resolve(answer('B2', 'rB2'));
    const result = {
      asked: asked.map((a) => a.rt), meanwhile, first: await first, second: await second,
      token: await auth.accessToken(),
    };
    auth.dispose();
    return result;
  });
  assert.deepEqual(seen.asked, ['rA', 'rB'], 'the new session was refreshed with its own refresh token');
  assert.equal(seen.meanwhile, 'refreshing');
  assert.equal(seen.second, 'resolved');
  assert.equal(seen.token, 'B2', 'the ended session\'s tokens never became the new one\'s');
  assert.match(seen.first, /^(resolved|rejected \w+)$/, 'the first refresh() settled');
});

test('window.fetch replaced by a wrapper that copies each request into auth.fetch: every request goes out once', async () => {
  const { stack, page } = await ready();
  const tokens = await stack.auth.login();
  stack.auth.resetStats();
  stack.api.resetStats();
  const seen = await page.evaluate(async ({ options, tokens, api }) => {
    const original = window.fetch;
    const auth = await window.tokenward.createTokenClient({ ...options, storageKey: 'copying-wrapper' });
    auth.setTokens(tokens);
    let calls = 0;
    window.fetch = (input, init) => {
      calls += 1;
      return auth.fetch(new Request(input, init));
    };
    try {
      const refreshed = await auth.refresh().then(() => 'resolved', (e) => `rejected ${e.name} ${e.message}`);
      const status = await window.fetch(`${api}/api/me`).then((r) => r.status, (e) => `rejected ${e.name}`);
      return { refreshed, status, calls };
    } finally {
      window.fetch = original;
      auth.dispose();
    }
  }, { options: stack.clientOptions, tokens, api: stack.api.url });
  assert.deepEqual(seen, { refreshed: 'resolved', status: 200, calls: 3 },
    'the token request and the API request each passed the wrapper twice at most: its own call, then tokenward\'s');
  assert.equal(stack.auth.stats.refreshRequests, 1);
  assert.equal(stack.api.stats.ok, 1);
});

test('signIn extraParams that would take the request out of the client\'s hands are invalid_options; the page stays', async () => {
  const { stack, page } = await ready();
  const seen = await page.evaluate(async ({ options }) => {
    // Never reached: each call is refused before any navigation.
    const authorizationEndpoint = 'http://127.0.0.1:9/authorize';
    const auth = await window.tokenward.createTokenClient({ ...options, authorizationEndpoint, scope: 'api', storageKey: 'extra-params' });
    const before = { url: location.href, pending: sessionStorage.length };
    const out = {};
    for (const name of ['response_mode', 'request', 'request_uri', 'state', 'redirect_uri']) {
      out[name] = await auth.signIn({ extraParams: { [name]: 'x' } })
        .then(() => 'resolved', (e) => `${e.name} ${e.code} ${e.message}`);
    }
    auth.dispose();
    return { out, stayed: location.href === before.url, pending: sessionStorage.length - before.pending };
  }, { options: stack.clientOptions });
  for (const [name, result] of Object.entries(seen.out)) {
    assert.ok(result.startsWith(`TokenwardError invalid_options \`extraParams\` may not set \`${name}\``), `${name}: ${result}`);
  }
  assert.equal(seen.stayed, true, 'no navigation');
  assert.equal(seen.pending, 0, 'no pending sign-in stored');
});
