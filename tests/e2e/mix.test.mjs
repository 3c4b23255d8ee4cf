// Never mix (Chromium): an ID token that comes with a refresh must name the session's
// user, issuer and client (OpenID Connect Core §12.2), and an OpenID sign-in needs an
// `issuer` to check the ID token's `iss` against.
// Run: node --test --test-concurrency=1 tests/e2e/mix.test.mjs
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { chromiumSuite, startStack } from './harness.mjs';
import { installHelpers } from './scenarios/core.mjs';

const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
const idToken = (claims) => `${b64({ alg: 'RS256' })}.${b64(claims)}.c2ln`;

describe('never mix (Chromium)', () => {
  const suite = chromiumSuite('mix', () => startStack({ accessTokenTtl: 300 }));

  test('a refreshed ID token for another user, issuer or client ends the session; the same one is kept', async (t) => {
    const { stack, context } = suite;
    const env = suite.env(t);
    const issuer = stack.auth.issuer;
    const clientId = stack.auth.clientId;
    const base = { iss: issuer, sub: 'u1', aud: clientId, exp: Math.floor(Date.now() / 1000) + 3600, nonce: 'n' };
    const cases = {
      same: idToken({ ...base, nonce: undefined }),
      otherUser: idToken({ ...base, sub: 'u2' }),
      otherIssuer: idToken({ ...base, iss: 'https://evil.example' }),
      otherClient: idToken({ ...base, aud: 'someone-else' }),
    };
    const page = await env.openApp(context, `${stack.app.url}/`);
    try {
      await installHelpers(page);
      const results = await page.evaluate(async ({ cases, first, issuer, clientId, apiUrl }) => {
        const out = {};
        for (const [name, next] of Object.entries(cases)) {
          window.events = [];
          let n = 0;
          const auth = await window.makeClient({
            issuer, clientId, storageKey: `mix-${name}`, attachTo: [apiUrl],
            refresh: async () => { n += 1; return { access_token: `at-${name}-${n}`, expires_in: 300, refresh_token: `rt-${n}`, id_token: next }; },
          });
          auth.setTokens({ access_token: `at-${name}-0`, expires_in: 300, refresh_token: 'rt-0', id_token: first });
          const refreshed = await auth.refresh().then(() => ({ ok: true }), (e) => ({ ok: false, code: e.code }));
          out[name] = {
            refreshed,
            status: auth.status,
            sub: auth.idClaims?.sub ?? null,
            signedOut: window.events.filter((e) => e.type === 'signedOut').length,
            // What the app hears, in order: why (an `error`), then the end.
            heard: window.events.filter((e) => e.type === 'error' || e.type === 'signedOut').map((e) => e.code ?? e.type),
          };
          auth.dispose();
        }
        return out;
      }, { cases, first: idToken(base), issuer, clientId, apiUrl: stack.api.url });
      t.diagnostic(JSON.stringify(results));
      assert.deepEqual(results.same, { refreshed: { ok: true }, status: 'signedIn', sub: 'u1', signedOut: 0, heard: [] });
      for (const name of ['otherUser', 'otherIssuer', 'otherClient']) {
        assert.equal(results[name].refreshed.ok, false, `${name}: refresh refused`);
        assert.equal(results[name].refreshed.code, 'invalid_token_response', name);
        assert.equal(results[name].status, 'signedOut', `${name}: the session ended`);
        assert.equal(results[name].signedOut, 1, `${name}: one signedOut`);
        assert.deepEqual(results[name].heard, ['invalid_token_response', 'signedOut'], `${name}: the app hears why`);
      }
    } finally {
      await page.close().catch(() => {});
    }
  });

  test('the openid scope without an issuer is invalid_options; a refresh-only client keeps working', async (t) => {
    const { stack, context } = suite;
    const env = suite.env(t);
    const page = await env.openApp(context, `${stack.app.url}/`);
    try {
      const results = await page.evaluate(async ({ tokenEndpoint, clientId, authz }) => {
        const attempt = (options) => window.tokenward.createTokenClient(options)
          .then((c) => { c.dispose(); return 'ok'; }, (e) => e.code);
        return {
          explicitScope: await attempt({ tokenEndpoint, clientId, scope: 'openid profile' }),
          authorizationEndpoint: await attempt({ tokenEndpoint, clientId, authorizationEndpoint: authz }),
          refreshOnly: await attempt({ tokenEndpoint, clientId }),
          noOpenid: await attempt({ tokenEndpoint, clientId, authorizationEndpoint: authz, scope: 'api:read' }),
        };
      }, { tokenEndpoint: stack.auth.tokenEndpoint, clientId: stack.auth.clientId, authz: `${stack.auth.issuer}/auth` });
      t.diagnostic(JSON.stringify(results));
      assert.deepEqual(results, { explicitScope: 'invalid_options', authorizationEndpoint: 'invalid_options', refreshOnly: 'ok', noOpenid: 'ok' });
    } finally {
      await page.close().catch(() => {});
    }
  });
});
