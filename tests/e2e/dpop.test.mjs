// DPoP (RFC 9449) end to end in headless Chromium: oidc-provider with features.dPoP and
// nonces required, an API that verifies every proof with jose (signature, htm, htu, iat
// window, jti replay, ath, cnf.jkt) and demands its own nonce. Counted at the servers;
// the key is looked at in the page's IndexedDB. Needs the built package (dist/).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';

import { SignJWT, exportJWK, generateKeyPair } from 'jose';

import { appHtml, launchBrowser, openApp, resultPath, startStack } from './harness.mjs';
import { startRecorder } from '../servers/index.mjs';
import {
  APP_SCRIPT, STORAGE_KEY, dpopConfig, freshApp as freshPage, keyFollowsTheSession, signIn as signInAs, waitReady,
} from './scenarios/dpop.mjs';

const TIMEOUT = 15_000;
const TTL = 4; // seconds: refreshed about every 2 s


describe('DPoP (RFC 9449)', () => {
  let stack;
  let context;
  let recorder;
  const logs = [];
  const open = (url) => openApp(context, url, { logs });

  before(async () => {
    stack = await startStack({ accessTokenTtl: 300, dpop: true, html: appHtml({ script: APP_SCRIPT }) });
    recorder = await startRecorder({ count: 1 });
    context = await launchBrowser();
  });

  after(async () => {
    await writeFile(await resultPath('dpop.log'), `${logs.join('\n')}\n--- auth server events ---\n${
      JSON.stringify(stack?.auth.events ?? [], null, 1)}\n`).catch(() => {});
    await context?.close();
    await recorder?.close();
    await stack?.close();
  });

  const config = (extra = {}) => dpopConfig(stack, extra);
  const freshApp = (cfg) => freshPage({ context, stack, openApp: (ctx, url) => openApp(ctx, url, { logs }) }, cfg);
  const signIn = (page) => signInAs(page, stack);

  const apiCall = (page, path = '/api/me', init = undefined) => page.evaluate(async ({ url, i }) => {
    const res = await window.auth.fetch(url, i);
    return { status: res.status, body: await res.json().catch(() => null) };
  }, { url: `${stack.api.url}${path}`, i: init });

  const errors = (page) => page.evaluate(() => window.events.filter((e) => e.type === 'error').map((e) => e.code));

  test('the key follows the session (shared scenario: sign-in, call, refresh, reload, sign-out)', (t) => keyFollowsTheSession({
    context, stack, openApp: (ctx, url) => openApp(ctx, url, { logs }), assert, diagnostic: (m) => t.diagnostic(m),
  }));

  for (const storage of ['memory', 'session', 'local']) {
    test(`${storage} storage: sign-in, API calls and refresh with rotation in two tabs, one key, nonces retried once`, async (t) => {
      stack.auth.setAccessTokenTtl(TTL);
      const a = await freshApp(config({ storage }));
      let b;
      try {
        stack.auth.resetStats();
        stack.api.resetStats();
        await signIn(a);
        // The code exchange: refused once for want of a nonce, then answered with a DPoP token.
        assert.equal(stack.auth.stats.codeExchanges, 2, 'the exchange is sent twice: without, then with the nonce');
        assert.equal(stack.auth.stats.dpopNonceDemanded, 1);
        assert.equal(stack.auth.stats.dpopTokens, 1);
        assert.equal(stack.auth.stats.dpopProofs, 2);
        const claims = await a.evaluate(() => window.auth.claims);
        assert.match(claims.cnf?.jkt ?? '', /^[\w-]{43}$/, 'the access token is bound to a key (cnf.jkt)');
        const stored = await a.evaluate((k) => window.storedKey(k), STORAGE_KEY);
        if (storage === 'memory') {
          assert.equal(stored, null, 'memory mode keeps the key out of IndexedDB');
          assert.equal(await a.evaluate((k) => window.storedKey(`${k}:signin`), STORAGE_KEY), null, 'the key parked for the redirect is taken out');
        } else {
          assert.equal(stored.jkt, claims.cnf.jkt, 'the stored key is the one the token is bound to');
          assert.equal(stored.extractable, false);
          assert.equal(stored.exportable, false, 'the private key cannot be exported');
        }
        if (storage !== 'memory') {
          const record = JSON.parse(await a.evaluate(([s, k]) => window[`${s}Storage`].getItem(k), [storage, STORAGE_KEY]));
          assert.equal(record.token_type, 'DPoP');
        }

        // The API: one use_dpop_nonce, one retry, then the nonce is remembered.
        assert.equal((await apiCall(a)).status, 200);
        assert.equal(stack.api.stats.nonceDemanded, 1);
        assert.equal(stack.api.requests.filter((r) => r.method === 'GET').length, 2, 'one retry');
        assert.equal((await apiCall(a)).status, 200);
        assert.equal(stack.api.stats.nonceDemanded, 1, 'the nonce is remembered');
        const sent = stack.api.requests.filter((r) => r.method === 'GET');
        for (const r of sent) {
          assert.match(r.authorization, /^DPoP [\w-]+\.[\w-]+\.[\w-]+$/);
          assert.equal(r.dpop.htm, 'GET');
          assert.equal(r.dpop.htu, `${stack.api.url}/api/me`);
          assert.equal(r.jkt, claims.cnf.jkt);
        }
        assert.equal(sent[0].dpop.nonce, undefined);
        assert.ok(sent[1].dpop.nonce);

        // A second tab: the same session and the same key (memory mode: handed over).
        b = await open(`${stack.app.url}/`);
        await b.waitForFunction(() => window.auth?.status === 'signedIn', null, { timeout: TIMEOUT });
        assert.equal((await apiCall(b)).status, 200);
        assert.equal(stack.api.requests.at(-1).jkt, claims.cnf.jkt, 'the second tab signs with the same key');

        // Both tabs call the API while 4-second tokens are refreshed under rotation.
        const nonceDemandsBefore = stack.auth.stats.dpopNonceDemanded;
        const statuses = [];
        const end = Date.now() + 9_000;
        while (Date.now() < end) {
          const r = await Promise.all([apiCall(a), apiCall(b)]);
          statuses.push(...r.map((x) => x.status));
          await a.waitForTimeout(250); // pacing of the calls, not a wait for an outcome
        }
        t.diagnostic(`${statuses.length} API calls; refreshes ${stack.auth.stats.refreshOk}/${stack.auth.stats.refreshRequests}, invalid_grant ${stack.auth.stats.invalidGrant}, token nonce demands ${stack.auth.stats.dpopNonceDemanded}, API nonce demands ${stack.api.stats.nonceDemanded}`);
        assert.deepEqual([...new Set(statuses)], [200]);
        assert.ok(stack.auth.stats.refreshOk >= 3, `refreshed (${stack.auth.stats.refreshOk})`);
        assert.ok(stack.auth.stats.refreshOk <= 6, `about one refresh per token (${stack.auth.stats.refreshOk} in 9 s of 4 s tokens)`);
        // Nonces are kept per tab: the second tab learns the token endpoint's on its first
        // refresh (one use_dpop_nonce, retried); after that the known nonce is sent.
        const demanded = stack.auth.stats.dpopNonceDemanded - nonceDemandsBefore;
        assert.ok(demanded <= 1, `at most one nonce demand, for the tab that had not met the token endpoint (${demanded})`);
        assert.equal(stack.auth.stats.refreshRequests - stack.auth.stats.refreshOk, demanded, 'the only refused refreshes are nonce demands');
        assert.equal(stack.auth.stats.invalidGrant, 0);
        assert.equal(stack.auth.stats.grantsRevoked, 0);
        const jkts = new Set(stack.api.requests.filter((r) => r.jkt).map((r) => r.jkt));
        assert.deepEqual([...jkts], [claims.cnf.jkt], 'one key for both tabs and every token');
        assert.equal((await a.evaluate(() => window.auth.claims)).cnf.jkt, claims.cnf.jkt);
        assert.deepEqual(await errors(a), []);
        assert.deepEqual(await errors(b), []);

        // Signing out in the second tab ends the session in both, and deletes the key.
        await b.evaluate(() => window.auth.signOut());
        assert.equal(stack.auth.stats.revocations, 1);
        assert.equal(stack.auth.stats.revocationProofs, 1, 'the revocation carries a proof');
        await a.waitForFunction(() => window.auth.status === 'signedOut', null, { timeout: TIMEOUT });
        assert.equal(await b.evaluate((k) => window.storedKey(k), STORAGE_KEY), null, 'the key is deleted');
      } finally {
        stack.auth.setAccessTokenTtl(300);
        await b?.close();
        await a.close();
      }
    });
  }

  test('sessionStorage without crossTab: a key per tab; a sign-out in one tab leaves the other\'s key, across a reload', async (t) => {
    stack.auth.setAccessTokenTtl(300);
    const a = await freshApp(config({ storage: 'session', crossTab: false }));
    let b;
    try {
      await signIn(a);
      b = await open(`${stack.app.url}/`);
      await waitReady(b);
      assert.equal(await b.evaluate(() => window.auth.status), 'signedOut', 'no session shared without crossTab');
      await signIn(b);
      const jktOf = (page) => page.evaluate(() => window.auth.claims.cnf.jkt);
      const [ja, jb] = [await jktOf(a), await jktOf(b)];
      t.diagnostic(`tab a ${ja}, tab b ${jb}`);
      assert.notEqual(ja, jb, 'each tab signs with a key of its own');
      // Not revoked: both tabs' sign-ins share one grant at the server, which a revocation
      // would end for both; the point is the key.
      await b.evaluate(() => window.auth.signOut({ revoke: false }));
      assert.equal(await b.evaluate(() => window.auth.status), 'signedOut');
      stack.auth.resetStats();
      stack.api.resetStats();
      await a.reload();
      await waitReady(a);
      assert.equal(await a.evaluate(() => window.auth.status), 'signedIn');
      assert.equal((await apiCall(a)).status, 200, 'the restored session still proves possession');
      assert.equal(stack.api.requests.at(-1).jkt, ja);
      await a.evaluate(() => window.auth.refresh());
      assert.equal(await jktOf(a), ja, 'the refreshed token is bound to the same key');
      assert.equal(stack.auth.stats.invalidGrant, 0);
      assert.deepEqual(await errors(a), []);
      assert.deepEqual(await errors(b), []);
    } finally {
      await b?.close();
      await a.close();
    }
  });

  test('a use_dpop_nonce answer that gives no nonce is not retried with the nonce it refused', async () => {
    stack.auth.setAccessTokenTtl(300);
    const page = await freshApp(config({ storage: 'local' }));
    try {
      await signIn(page);
      assert.equal((await apiCall(page)).status, 200, 'the API nonce learned (one retry)');
      const gets = () => stack.api.requests.filter((r) => r.method === 'GET');
      // The API moves to a nonce it never gives: the proof's nonce is refused, once.
      stack.api.rotateNonce();
      stack.api.withholdNonce(true);
      stack.api.resetStats();
      const refused = await apiCall(page);
      assert.equal(refused.status, 401);
      assert.equal(refused.body?.error, 'use_dpop_nonce');
      assert.equal(gets().length, 1, 'not sent again with the nonce just refused');
      // The nonce given again: one retry with it.
      stack.api.withholdNonce(false);
      stack.api.resetStats();
      assert.equal((await apiCall(page)).status, 200);
      assert.equal(gets().length, 2, 'refused, then retried with the nonce it gave');
      assert.equal(stack.auth.stats.invalidGrant, 0);
    } finally {
      stack.api.withholdNonce(false);
      await page.close();
    }
  });

  test('a reload keeps the key (same jkt); invalid_grant deletes it', async () => {
    const page = await freshApp(config({ storage: 'local' }));
    try {
      await signIn(page);
      const { jkt } = await page.evaluate((k) => window.storedKey(k), STORAGE_KEY);
      assert.equal((await apiCall(page)).status, 200);
      await page.reload();
      await waitReady(page);
      assert.equal(await page.evaluate(() => window.auth.status), 'signedIn');
      assert.equal((await page.evaluate((k) => window.storedKey(k), STORAGE_KEY)).jkt, jkt);
      stack.api.resetStats();
      assert.equal((await apiCall(page)).status, 200, 'the restored session still proves possession');
      assert.equal(stack.api.requests.at(-1).jkt, jkt);
      await page.evaluate(() => window.auth.refresh());
      assert.equal((await page.evaluate(() => window.auth.claims)).cnf.jkt, jkt, 'the refreshed token is bound to the same key');

      // The server ends the grant: the next refresh is invalid_grant, and the key goes.
      const record = JSON.parse(await page.evaluate((k) => localStorage.getItem(k), STORAGE_KEY));
      await stack.auth.revokeGrantOf(record.refresh_token);
      await page.evaluate(() => window.auth.refresh().catch(() => {}));
      await page.waitForFunction(() => window.events.some((e) => e.type === 'signedOut' && e.reason === 'invalid_grant'), null, { timeout: TIMEOUT });
      await page.waitForFunction(async (k) => (await window.storedKey(k)) === null, STORAGE_KEY, { timeout: TIMEOUT });
    } finally {
      await page.close();
    }
  });

  test('a sign-out another tab hears late does not delete the key of a session signed in since', async () => {
    const a = await freshApp(config({ storage: 'local' }));
    let b = null;
    try {
      await signIn(a);
      b = await open(`${stack.app.url}/`);
      await waitReady(b);
      assert.equal(await b.evaluate(() => window.auth.status), 'signedIn');
      assert.equal((await apiCall(b)).status, 200, 'tab B has used the key');
      const { jkt: first } = await a.evaluate((k) => window.storedKey(k), STORAGE_KEY);
      // Tab B is busy (its messages wait) until A has signed out and in again: a
      // synchronous request to a server that answers only when released.
      let release;
      const held = new Promise((r) => { release = r; });
      const gate = createServer((req, res) => {
        held.then(() => {
          res.writeHead(200, { 'access-control-allow-origin': '*', 'content-type': 'text/plain' });
          res.end('1');
        });
      });
      await new Promise((r) => gate.listen(0, '127.0.0.1', r));
      const gateUrl = `http://127.0.0.1:${gate.address().port}/`;
      const busy = b.evaluate((u) => {
        const x = new XMLHttpRequest();
        x.open('GET', u, false);
        x.send();
        return x.responseText === '1';
      }, gateUrl);
      await a.evaluate(() => window.auth.signOut());
      await a.waitForFunction(async (k) => (await window.storedKey(k)) === null, STORAGE_KEY, { timeout: TIMEOUT });
      await signIn(a);
      const { jkt: second } = await a.evaluate((k) => window.storedKey(k), STORAGE_KEY);
      assert.notEqual(second, first, 'a new sign-in, a new key');
      release();
      assert.equal(await busy, true, 'tab B was held until then');
      gate.close();
      // B now hears of the sign-out, and then of the new session.
      await b.waitForFunction(() => window.events.some((e) => e.type === 'signedOut'), null, { timeout: TIMEOUT });
      await b.waitForFunction(() => window.auth.status === 'signedIn', null, { timeout: TIMEOUT });
      // Let B's key clean-up run to its end: a reload of A finds the same key.
      await b.evaluate(() => new Promise((r) => setTimeout(r, 0)));
      await a.reload();
      await waitReady(a);
      const stored = await a.evaluate((k) => window.storedKey(k), STORAGE_KEY);
      assert.equal(stored?.jkt, second, 'the new session\'s key is still stored');
      stack.api.resetStats();
      assert.equal((await apiCall(a)).status, 200, 'and still proves possession after a reload');
      assert.equal(stack.api.requests.at(-1).jkt, second);
    } finally {
      await b?.close();
      await a.close();
    }
  });

  test('stolen tokens are worth nothing without the key', async () => {
    const page = await freshApp(config({ storage: 'local' }));
    try {
      await signIn(page);
      stack.auth.resetStats();
      assert.equal((await apiCall(page)).status, 200);
      const at = await page.evaluate(() => window.auth.accessToken());
      const { refresh_token: rt } = JSON.parse(await page.evaluate((k) => localStorage.getItem(k), STORAGE_KEY));
      const url = `${stack.api.url}/api/me`;
      const { privateKey, publicKey } = await generateKeyPair('ES256');
      const jwk = await exportJWK(publicKey);
      const proof = (htm, htu, extra = {}) => new SignJWT({ htm, htu, ...extra })
        .setProtectedHeader({ typ: 'dpop+jwt', alg: 'ES256', jwk })
        .setIssuedAt()
        .setJti(crypto.randomUUID())
        .sign(privateKey);
      const ath = createHash('sha256').update(at).digest('base64url');
      const call = async (headers) => (await fetch(url, { headers })).status;
      stack.api.resetStats();

      assert.equal(await call({ authorization: `DPoP ${at}` }), 401, 'no proof');
      assert.equal(await call({ authorization: `Bearer ${at}` }), 401, 'as a bearer token');
      // Another key, with everything else right (the API's current nonce included).
      const nonce = (await fetch(url)).headers.get('dpop-nonce');
      assert.ok(nonce);
      assert.equal(await call({ authorization: `DPoP ${at}`, dpop: await proof('GET', url, { ath, nonce }) }), 401, 'a proof from another key');
      assert.equal(stack.api.stats.ok, 0);

      // The refresh token from Node: without a proof, and with another key's (after the nonce dance).
      const grant = { grant_type: 'refresh_token', refresh_token: rt };
      const bare = await stack.auth.rawTokenRequest(grant);
      assert.equal(bare.status, 400);
      assert.equal(bare.body.error, 'invalid_grant');
      const first = await stack.auth.rawTokenRequest(grant, { dpop: await proof('POST', stack.auth.tokenEndpoint) });
      assert.equal(first.body.error, 'use_dpop_nonce');
      const other = await stack.auth.rawTokenRequest(grant, {
        dpop: await proof('POST', stack.auth.tokenEndpoint, { nonce: first.headers.get('dpop-nonce') }),
      });
      assert.equal(other.status, 400);
      assert.equal(other.body.error, 'invalid_grant');
      assert.equal(stack.auth.stats.grantsRevoked, 0);

      // The attempts spent nothing: the page still refreshes with its own key.
      stack.auth.resetStats();
      await page.evaluate(() => window.auth.refresh());
      assert.equal(stack.auth.stats.refreshOk, 1);
      assert.equal((await apiCall(page)).status, 200);
      assert.deepEqual(await errors(page), []);
    } finally {
      await page.close();
    }
  });

  test('a new API nonce is retried exactly once; POST bodies are replayed', async () => {
    const page = await freshApp(config({ storage: 'session' }));
    try {
      await signIn(page);
      assert.equal((await apiCall(page)).status, 200);
      stack.api.resetStats();
      stack.api.rotateNonce();
      const echo = await apiCall(page, '/api/echo', { method: 'POST', body: JSON.stringify({ n: 1 }), headers: { 'content-type': 'application/json' } });
      assert.equal(echo.status, 200);
      assert.deepEqual(echo.body.body, { n: 1 });
      assert.equal(stack.api.stats.nonceDemanded, 1);
      const posts = stack.api.requests.filter((r) => r.method === 'POST');
      assert.equal(posts.length, 2, 'sent, refused for the nonce, sent again once');
      assert.notEqual(posts[0].dpop.jti, posts[1].dpop.jti, 'each proof is new');
      assert.equal(posts[1].dpop.htm, 'POST');
    } finally {
      await page.close();
    }
  });

  test('authorizationHeaders: the headers fetch would add; nothing for other origins', async () => {
    const page = await freshApp(config({ storage: 'memory' }));
    try {
      await signIn(page);
      recorder.reset();
      stack.api.resetStats();
      const result = await page.evaluate(async ({ api, other }) => {
        const h = await window.auth.authorizationHeaders(`${api}/api/me?x=1`);
        const post = await window.auth.authorizationHeaders(`${api}/api/echo`, 'post');
        const outside = await window.auth.authorizationHeaders(`${other}/api/me`);
        const res = await fetch(`${api}/api/me?x=1`, { headers: h });
        const viaFetch = await window.auth.fetch(`${other}/leak`);
        const wrong = await window.auth.authorizationHeaders(42).catch((e) => e.code);
        return {
          keys: Object.keys(h).sort(), scheme: h.Authorization.split(' ')[0], post: Object.keys(post).sort(),
          outside, status: res.status, leak: viaFetch.status, wrong,
        };
      }, { api: stack.api.url, other: recorder.origins[0] });
      assert.deepEqual(result.keys, ['Authorization', 'DPoP']);
      assert.equal(result.scheme, 'DPoP');
      assert.deepEqual(result.post, ['Authorization', 'DPoP']);
      assert.deepEqual(result.outside, {});
      assert.equal(result.wrong, 'invalid_options');
      // Used with plain fetch, after the API's nonce: one 401 use_dpop_nonce at most.
      assert.ok([200, 401].includes(result.status));
      const proofs = stack.api.requests.filter((r) => r.dpop);
      assert.equal(proofs[0].dpop.htu, `${stack.api.url}/api/me`, 'htu without the query');
      assert.equal(proofs[0].dpop.htm, 'GET');
      assert.ok(proofs[0].dpop.ath);
      // The recorder on another origin saw the request, and no token or proof.
      assert.equal(recorder.requests.length, 1);
      assert.equal(recorder.requests[0].authorization, undefined);
      assert.equal(recorder.requests[0].dpop, undefined);
    } finally {
      await page.close();
    }
  });

  test('token types: a Bearer answer is refused unless allowBearer; no WebCrypto/IndexedDB is unsupported', async () => {
    const page = await freshApp(config({ storage: 'memory' }));
    try {
      const r = await page.evaluate(async () => {
        const strict = (() => { try { window.auth.setTokens({ access_token: 'a', token_type: 'Bearer', expires_in: 60 }); return 'ok'; } catch (e) { return e.code; } })();
        const lax = await tokenward.createTokenClient({ dpop: { allowBearer: true }, storageKey: 'lax', crossTab: false });
        lax.setTokens({ access_token: 'a', token_type: 'Bearer', expires_in: 60 });
        const plain = await tokenward.createTokenClient({ storageKey: 'plain', crossTab: false });
        const noDpop = (() => { try { plain.setTokens({ access_token: 'a', token_type: 'DPoP', expires_in: 60 }); return 'ok'; } catch (e) { return e.code; } })();
        const badOption = await tokenward.createTokenClient({ dpop: 'yes' }).then(() => 'ok', (e) => e.code);
        Object.defineProperty(window, 'indexedDB', { value: undefined, configurable: true });
        const noIdb = await tokenward.createTokenClient({ dpop: true, storageKey: 'x' }).then(() => 'ok', (e) => e.code);
        return { strict, lax: lax.status, noDpop, badOption, noIdb };
      });
      assert.deepEqual(r, { strict: 'invalid_token_response', lax: 'signedIn', noDpop: 'invalid_token_response', badOption: 'invalid_options', noIdb: 'unsupported' });
    } finally {
      await page.close();
    }
  });

  test('a Bearer answer from the token endpoint to a DPoP refresh is invalid_token_response; the session ends', async (t) => {
    const page = await freshApp(config({ storage: 'local' }));
    try {
      await signIn(page);
      stack.auth.setFault({ status: 200, body: { access_token: 'plain.bearer.token', token_type: 'Bearer', expires_in: 300 } });
      const code = await page.evaluate(() => window.auth.refresh().then(() => 'ok', (e) => e.code));
      stack.auth.setFault(null);
      t.diagnostic(`refresh() → ${code}; events ${JSON.stringify(await page.evaluate(() => window.events))}`);
      // Refused; the refresh token it was given for is spent (rotation), so the session ends.
      assert.equal(code, 'invalid_token_response');
      assert.equal(await page.evaluate(() => window.auth.status), 'signedOut');
      assert.equal(await page.evaluate((k) => localStorage.getItem(k), STORAGE_KEY), null, 'the Bearer token is not stored');
      assert.equal(await page.evaluate(() => window.auth.accessToken().catch((e) => e.code)), 'signed_out');
    } finally {
      stack.auth.setFault(null);
      await page.close();
    }
  });
});
