// A fault proxy between the client and the real token endpoint (Chromium): a connection
// reset, a hang longer than the request timeout, a slow body, truncated JSON, an HTML 502
// page, `200` with an error JSON and a wrong content type. Each is classified (transient:
// the call fails with `network` or `invalid_token_response`, the session stays; or a
// success), nothing signs the user out, and the session is bridged: the valid token keeps
// being served and the next refresh through a healthy endpoint works.
// Run: node --test --test-concurrency=1 tests/e2e/faults.test.mjs
import { createServer } from 'node:http';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { chromiumSuite, startStack } from './harness.mjs';
import { installHelpers } from './scenarios/core.mjs';

async function startFaultProxy(target) {
  const state = { mode: 'pass', requests: 0, hanging: [] };
  const server = createServer(async (req, res) => {
    const cors = { 'access-control-allow-origin': req.headers.origin || '*', 'access-control-allow-headers': 'content-type', vary: 'origin' };
    if (req.method === 'OPTIONS') { res.writeHead(204, cors).end(); return; }
    state.requests += 1;
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const forward = async () => {
      const upstream = await fetch(target, { method: 'POST', headers: { 'content-type': req.headers['content-type'] }, body: Buffer.concat(chunks) });
      return { status: upstream.status, body: await upstream.text() };
    };
    switch (state.mode) {
      case 'reset': req.socket.destroy(); return;
      case 'hang': state.hanging.push(res); return;
      case 'slow': {
        const { status, body } = await forward();
        res.writeHead(status, { ...cors, 'content-type': 'application/json' });
        const step = Math.ceil(body.length / 4);
        for (let i = 0; i < body.length; i += step) {
          res.write(body.slice(i, i + step));
          await new Promise((r) => setTimeout(r, 400));
        }
        res.end();
        return;
      }
      case 'truncated': res.writeHead(200, { ...cors, 'content-type': 'application/json' }).end('{"access_token":"abc","token_ty'); return;
      case 'html502': res.writeHead(502, { ...cors, 'content-type': 'text/html' }).end('<html><body><h1>502 Bad Gateway</h1></body></html>'); return;
      case 'error200': res.writeHead(200, { ...cors, 'content-type': 'application/json' }).end('{"error":"server_error","error_description":"try later"}'); return;
      case 'wrongType': {
        const { status, body } = await forward();
        res.writeHead(status, { ...cors, 'content-type': 'text/plain' }).end(body);
        return;
      }
      default: {
        const { status, body } = await forward();
        res.writeHead(status, { ...cors, 'content-type': 'application/json' }).end(body);
      }
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}/token`,
    state,
    close: () => new Promise((resolve) => {
      for (const res of state.hanging) res.destroy();
      server.closeAllConnections();
      server.close(resolve);
    }),
  };
}

// Expected outcome of refresh() per fault: 'ok' (a valid answer, only slow or mislabelled)
// or the transient error code it fails with.
const FAULTS = [
  ['reset', 'network'],
  ['hang', 'network'],
  ['slow', 'ok'],
  ['truncated', 'transient'],
  ['html502', 'network'],
  ['error200', 'transient'],
  ['wrongType', 'ok'],
];

describe('token endpoint faults (Chromium)', () => {
  let proxy;
  const suite = chromiumSuite('faults', async () => {
    const stack = await startStack({ accessTokenTtl: 300 });
    proxy = await startFaultProxy(stack.auth.tokenEndpoint);
    const close = stack.close;
    stack.close = async () => { await proxy.close(); await close(); };
    return stack;
  });

  for (const [mode, expected] of FAULTS) {
    test(`${mode}: ${expected === 'ok' ? 'the refresh succeeds' : 'a transient failure'}, no sign-out, the session is bridged`, async (t) => {
      const { stack, context } = suite;
      const env = suite.env(t);
      const tokens = await stack.auth.login();
      const page = await env.openApp(context, `${stack.app.url}/`);
      try {
        await installHelpers(page);
        await page.evaluate(async ({ options, tokens }) => {
          window.auth = await window.makeClient(options);
          window.auth.setTokens(tokens);
        }, { options: { ...stack.clientOptions, tokenEndpoint: proxy.url, storageKey: `faults-${mode}` }, tokens });
        proxy.state.mode = mode;
        proxy.state.requests = 0;
        const during = await page.evaluate(async (token) => {
          const refreshed = await window.auth.refresh().then(() => ({ ok: true }), (e) => ({ ok: false, code: e.code, isTokenwardError: e instanceof window.tokenward.TokenwardError }));
          const current = await window.auth.accessToken();
          return { refreshed, status: window.auth.status, sameToken: current === token, signedOut: window.events.filter((e) => e.type === 'signedOut').length };
        }, tokens.access_token);
        const faultRequests = proxy.state.requests;
        proxy.state.mode = 'pass';
        const after = await page.evaluate(async () => {
          const refreshed = await window.auth.refresh().then(() => ({ ok: true }), (e) => ({ ok: false, code: e.code }));
          return { refreshed, status: window.auth.status, signedOut: window.events.filter((e) => e.type === 'signedOut').length };
        });
        t.diagnostic(`${mode}: ${JSON.stringify({ during, faultRequests, after })}`);
        if (expected === 'ok') {
          assert.deepEqual(during.refreshed, { ok: true }, `${mode}: a valid answer, however delivered, is used`);
        } else {
          assert.equal(during.refreshed.ok, false, `${mode}: refresh() rejects`);
          assert.equal(during.refreshed.isTokenwardError, true);
          if (expected === 'network') assert.equal(during.refreshed.code, 'network', mode);
          else assert.ok(['network', 'invalid_token_response'].includes(during.refreshed.code), `${mode}: ${during.refreshed.code}`);
          assert.equal(during.sameToken, true, `${mode}: the valid token is still served`);
        }
        assert.equal(during.status, 'signedIn', `${mode}: still signed in`);
        assert.equal(during.signedOut, 0, `${mode}: no sign-out`);
        assert.ok(faultRequests <= 2, `${mode}: bounded requests (${faultRequests})`);
        assert.deepEqual(after.refreshed, { ok: true }, `${mode}: the next refresh through a healthy endpoint works`);
        assert.equal(after.signedOut, 0);
      } finally {
        proxy.state.mode = 'pass';
        await page.evaluate(() => window.auth?.dispose()).catch(() => {});
        await page.close().catch(() => {});
      }
    });
  }
});
