// `sessionEnding` end to end (Chromium): a token endpoint that sends `refresh_expires_in`
// the way Keycloak does (the seconds its absolute session has left, in every answer), in
// front of the real authorization server; and the app's own `maxSessionAgeSeconds`.
// Run: node --test --test-concurrency=1 tests/e2e/session-ending.test.mjs
import { createServer } from 'node:http';
import { describe, test } from 'node:test';

import { chromiumSuite, startStack } from './harness.mjs';
import { installHelpers } from './scenarios/core.mjs';

const SESSION_SECONDS = 14;
const LEAD_SECONDS = 5;

/**
 * A Keycloak-like token endpoint: forwards every token request to `target` and adds
 * `refresh_expires_in` (the time left until `endsAt`, in whole seconds) to each successful
 * answer. CORS for any loopback origin, as the real server's.
 */
async function startKeycloakLikeEndpoint(target) {
  const state = { endsAt: null, requests: 0, answers: [] };
  const server = createServer(async (req, res) => {
    const cors = {
      'access-control-allow-origin': req.headers.origin || '*',
      'access-control-allow-headers': 'content-type, dpop',
      'access-control-allow-methods': 'POST',
      vary: 'origin',
    };
    if (req.method === 'OPTIONS') {
      res.writeHead(204, cors).end();
      return;
    }
    state.requests += 1;
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const upstream = await fetch(target, {
      method: 'POST',
      headers: { 'content-type': req.headers['content-type'] || 'application/x-www-form-urlencoded' },
      body: Buffer.concat(chunks),
    });
    let body = await upstream.text();
    if (upstream.ok && state.endsAt) {
      const json = JSON.parse(body);
      json.refresh_expires_in = Math.max(1, Math.round((state.endsAt - Date.now()) / 1000));
      state.answers.push(json.refresh_expires_in);
      body = JSON.stringify(json);
    }
    res.writeHead(upstream.status, { ...cors, 'content-type': 'application/json' }).end(body);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}/token`,
    state,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

describe('sessionEnding (Chromium)', () => {
  let keycloak;
  const suite = chromiumSuite('session-ending', async () => {
    const stack = await startStack({ accessTokenTtl: 4 });
    keycloak = await startKeycloakLikeEndpoint(stack.auth.tokenEndpoint);
    const close = stack.close;
    stack.close = async () => { await keycloak.close(); await close(); };
    return stack;
  });

  test('refresh_expires_in from the token endpoint: one sessionEnding a lead before the end, refreshes keep going until then, and the session ends there', async (t) => {
    const { stack, context } = suite;
    const env = suite.env(t);
    const page = await env.openApp(context, `${stack.app.url}/`);
    try {
      await installHelpers(page);
      const tokens = await stack.auth.login();
      keycloak.state.endsAt = Date.now() + SESSION_SECONDS * 1000;
      const first = { ...tokens, refresh_expires_in: SESSION_SECONDS };
      const start = await page.evaluate(async ({ options, first }) => {
        window.auth = await window.makeClient(options);
        window.auth.on('sessionEnding', window.recordEvent);
        window.auth.setTokens(first);
        return { now: Date.now(), sessionEndsAt: window.auth.sessionEndsAt };
      }, {
        options: { ...stack.clientOptions, tokenEndpoint: keycloak.url, storageKey: 'ending-keycloak', sessionEndingLeadSeconds: LEAD_SECONDS },
        first,
      });
      t.diagnostic(`sessionEndsAt ${start.sessionEndsAt - start.now} ms after setTokens`);
      env.assert.ok(Math.abs(start.sessionEndsAt - (start.now + SESSION_SECONDS * 1000)) < 1500, 'sessionEndsAt from refresh_expires_in');

      await page.waitForFunction(() => window.events.some((e) => e.type === 'sessionEnding'), null, { timeout: SESSION_SECONDS * 1000 });
      const fired = await page.evaluate(() => ({ now: Date.now(), sessionEndsAt: window.auth.sessionEndsAt, status: window.auth.status }));
      const ending = (await page.evaluate(() => window.events)).filter((e) => e.type === 'sessionEnding');
      t.diagnostic(`sessionEnding at ${fired.sessionEndsAt - ending[0].at} ms before the end; ${keycloak.state.requests} token requests, refresh_expires_in answers ${keycloak.state.answers.join(', ')}`);
      env.assert.equal(ending.length, 1);
      env.assert.ok(keycloak.state.requests >= 2, 'the session was refreshed through the Keycloak-like endpoint first');
      env.assert.ok(ending[0].at >= fired.sessionEndsAt - LEAD_SECONDS * 1000 - 1500, 'not earlier than the lead (allowing the seconds rounding)');
      env.assert.ok(ending[0].at < fired.sessionEndsAt, 'before the end');
      env.assert.equal(fired.status === 'signedIn' || fired.status === 'refreshing', true);

      // At the end the session ends: signedOut (expired) once, and no token request after
      // it (the refresh token is dead then); sessionEnding still fired once.
      const endAt = fired.sessionEndsAt;
      await page.waitForFunction(() => window.events.some((e) => e.type === 'signedOut'), null, { timeout: 20_000 });
      const requestsAtEnd = keycloak.state.requests;
      await page.waitForFunction((t) => Date.now() > t + 1500, endAt, { timeout: 20_000 });
      const end = await page.evaluate(async () => ({
        events: window.events.filter((e) => e.type === 'sessionEnding' || e.type === 'signedOut'),
        status: window.auth.status,
        sessionEndsAt: window.auth.sessionEndsAt,
        token: await window.auth.accessToken().then(() => 'resolved', (e) => e.code),
      }));
      const signedOut = end.events.filter((e) => e.type === 'signedOut');
      t.diagnostic(`signedOut ${signedOut.map((e) => `${e.reason} at the server's end ${e.at - keycloak.state.endsAt >= 0 ? '+' : ''}${e.at - keycloak.state.endsAt} ms`).join(', ')}; ${keycloak.state.requests} token requests`);
      env.assert.equal(end.events.filter((e) => e.type === 'sessionEnding').length, 1, 'sessionEnding fired once per session');
      env.assert.deepEqual(signedOut.map((e) => e.reason), ['expired'], 'the session ended at its end');
      // The end each answer gives moves by the server's whole seconds (rounded), so it is
      // compared with the server's own end, within that rounding.
      env.assert.ok(Math.abs(signedOut[0].at - keycloak.state.endsAt) < 1500, 'at the end');
      env.assert.deepEqual([end.status, end.sessionEndsAt, end.token], ['signedOut', null, 'signed_out']);
      env.assert.equal(keycloak.state.requests, requestsAtEnd, 'no token request after the end');
    } finally {
      await page.evaluate(() => window.auth?.dispose()).catch(() => {});
      await page.close().catch(() => {});
    }
  });

  test('maxSessionAgeSeconds: sessionEnding with sessionEndsAt = first tokens + the age, across refreshes; the session ends there', async (t) => {
    const { stack, context } = suite;
    const env = suite.env(t);
    const page = await env.openApp(context, `${stack.app.url}/`);
    try {
      await installHelpers(page);
      const tokens = await stack.auth.login();
      const result = await page.evaluate(async ({ options, tokens }) => {
        const events = [];
        window.auth = await window.makeClient(options);
        window.auth.on('sessionEnding', (e) => events.push({ type: e.type, sessionEndsAt: e.sessionEndsAt, at: Date.now() }));
        const setAt = Date.now();
        window.auth.setTokens(tokens);
        const endsAt = window.auth.sessionEndsAt;
        await new Promise((resolve) => {
          const off = window.auth.on('sessionEnding', () => { off(); resolve(); });
        });
        const refreshes = window.events.filter((e) => e.type === 'refresh').length;
        // The age is a ceiling: the session ends there, though every refresh works.
        const ended = await new Promise((resolve) => {
          const off = window.auth.on('signedOut', (e) => { off(); resolve({ reason: e.reason, at: Date.now() }); });
        });
        const refreshesAfter = window.events.filter((e) => e.type === 'refresh' && e.at >= ended.at).length;
        return { setAt, endsAt, events, refreshes, ended, refreshesAfter, status: window.auth.status };
      }, { options: { ...stack.clientOptions, storageKey: 'ending-age', maxSessionAgeSeconds: 9, sessionEndingLeadSeconds: 3 }, tokens });
      t.diagnostic(`age: ${JSON.stringify(result)}`);
      env.assert.ok(Math.abs(result.endsAt - (result.setAt + 9000)) <= 50, 'sessionEndsAt = setTokens + 9 s');
      env.assert.equal(result.events.length, 1);
      env.assert.equal(result.events[0].sessionEndsAt, result.endsAt, 'refreshes did not move the age limit');
      env.assert.ok(result.events[0].at >= result.endsAt - 3000 - 50 && result.events[0].at < result.endsAt);
      env.assert.ok(result.refreshes >= 1, '4 s tokens were refreshed before the warning');
      env.assert.equal(result.ended.reason, 'expired');
      env.assert.ok(result.ended.at >= result.endsAt - 50, 'the session ended at its age, not before');
      env.assert.deepEqual([result.status, result.refreshesAfter], ['signedOut', 0]);
    } finally {
      await page.evaluate(() => window.auth?.dispose()).catch(() => {});
      await page.close().catch(() => {});
    }
  });
});
