// Tests of the test servers themselves (no tokenward package needed): the authorization
// server issues JWTs the API accepts, rotates refresh tokens and revokes grants on reuse,
// faults can be injected, the API challenges bad tokens, the recorder and static server work.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

import { startApi, startAuthServer, startRecorder, startStatic } from '../servers/index.mjs';

const form = (params) => ({
  method: 'POST',
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams(params),
});
const claimsOf = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url'));

describe('authorization server + API', () => {
  let auth;
  let api;
  const refresh = (refreshToken, headers = {}) => fetch(auth.tokenEndpoint, {
    ...form({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: auth.clientId }),
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
  });
  const me = (authorization) => fetch(`${api.url}/api/me`, { headers: authorization ? { authorization } : {} });

  before(async () => {
    auth = await startAuthServer({ accessTokenTtl: 60 });
    api = await startApi({ issuer: auth.issuer, jwksUri: auth.jwksUri, audience: auth.resource });
  });
  after(async () => {
    await api?.close();
    await auth?.close();
  });

  test('login issues a JWT access token for the resource that the API accepts', async () => {
    auth.resetStats();
    api.resetStats();
    const tokens = await auth.login({ user: 'bob' });
    assert.equal(tokens.token_type, 'Bearer');
    assert.equal(tokens.expires_in, 60);
    assert.ok(tokens.refresh_token, 'a refresh token without offline_access');
    assert.ok(tokens.id_token);
    const claims = claimsOf(tokens.access_token);
    assert.equal(claims.iss, auth.issuer);
    assert.equal(claims.aud, auth.resource);
    assert.equal(claims.exp - claims.iat, 60);

    const res = await me(`Bearer ${tokens.access_token}`);
    assert.equal(res.status, 200);
    const body = await res.json();
    assert.equal(body.sub, 'bob');
    assert.equal(body.scope, 'api:read');
    assert.equal(body.exp, claims.exp);
    assert.deepEqual(api.stats, { ok: 1, unauthorized: 0 });
    assert.equal(auth.stats.codeExchanges, 1);
    assert.equal(auth.stats.tokenRequests, 1);
  });

  test('refresh rotates the refresh token and gives a JWT for the resource again', async () => {
    const tokens = await auth.login();
    auth.resetStats();
    const res = await refresh(tokens.refresh_token);
    assert.equal(res.status, 200);
    const next = await res.json();
    assert.notEqual(next.refresh_token, tokens.refresh_token);
    assert.equal(claimsOf(next.access_token).aud, auth.resource);
    assert.equal((await me(`Bearer ${next.access_token}`)).status, 200);
    assert.deepEqual(
      { ...auth.stats },
      { tokenRequests: 1, refreshRequests: 1, refreshOk: 1, invalidGrant: 0, codeExchanges: 0, revocations: 0, grantsRevoked: 0 },
    );
  });

  test('reusing a rotated refresh token is invalid_grant and revokes the whole grant', async () => {
    const tokens = await auth.login();
    const rotated = await (await refresh(tokens.refresh_token)).json();
    auth.resetStats();

    const reuse = await refresh(tokens.refresh_token);
    assert.equal(reuse.status, 400);
    assert.equal((await reuse.json()).error, 'invalid_grant');
    const afterRevoke = await refresh(rotated.refresh_token);
    assert.equal(afterRevoke.status, 400);
    assert.equal((await afterRevoke.json()).error, 'invalid_grant');

    assert.equal(auth.stats.refreshRequests, 2);
    assert.equal(auth.stats.refreshOk, 0);
    assert.equal(auth.stats.invalidGrant, 2);
    assert.equal(auth.stats.grantsRevoked, 1);
    const reasons = auth.events.filter((e) => e.type === 'grant.error').map((e) => e.detail);
    assert.deepEqual(reasons, ['refresh token already used', 'refresh token not found']);
    assert.ok(!JSON.stringify(auth.events).includes(tokens.refresh_token), 'events never carry tokens');
  });

  test('revokeGrantOf and the revocation endpoint end the grant', async () => {
    const first = await auth.login();
    const second = await auth.login();
    auth.resetStats();

    await auth.revokeGrantOf(first.refresh_token);
    assert.equal((await (await refresh(first.refresh_token)).json()).error, 'invalid_grant');

    const origin = 'http://localhost:5173';
    const revoked = await fetch(auth.revocationEndpoint, {
      ...form({ token: second.refresh_token, token_type_hint: 'refresh_token', client_id: auth.clientId }),
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin },
    });
    assert.equal(revoked.status, 200);
    assert.equal(revoked.headers.get('access-control-allow-origin'), origin);
    assert.equal((await (await refresh(second.refresh_token)).json()).error, 'invalid_grant');
    assert.equal(auth.stats.revocations, 1);
    assert.equal(auth.stats.grantsRevoked, 2);
  });

  test('the token endpoint allows CORS from loopback origins only', async () => {
    const tokens = await auth.login();
    const preflight = await fetch(auth.tokenEndpoint, {
      method: 'OPTIONS',
      headers: { origin: 'http://127.0.0.1:4000', 'access-control-request-method': 'POST' },
    });
    assert.equal(preflight.headers.get('access-control-allow-origin'), 'http://127.0.0.1:4000');

    const allowed = await refresh(tokens.refresh_token, { origin: 'http://127.0.0.1:4000' });
    assert.equal(allowed.status, 200);
    assert.equal(allowed.headers.get('access-control-allow-origin'), 'http://127.0.0.1:4000');
    const { refresh_token: rotated } = await allowed.json();

    const foreign = await refresh(rotated, { origin: 'http://evil.example' });
    assert.equal(foreign.status, 400);
    assert.equal(foreign.headers.get('access-control-allow-origin'), null);
  });

  test('setAccessTokenTtl applies to tokens issued from then on', async () => {
    const tokens = await auth.login();
    auth.setAccessTokenTtl(7);
    try {
      const next = await (await refresh(tokens.refresh_token)).json();
      assert.equal(next.expires_in, 7);
      const claims = claimsOf(next.access_token);
      assert.equal(claims.exp - claims.iat, 7);
    } finally {
      auth.setAccessTokenTtl(60);
    }
  });

  test('addRedirectUri registers a redirect URI at runtime', async () => {
    const redirectUri = 'http://127.0.0.1:9/app/';
    await assert.rejects(auth.login({ redirectUri }), /login failed/);
    auth.addRedirectUri(redirectUri);
    const tokens = await auth.login({ redirectUri });
    assert.ok(tokens.access_token);
  });

  test('setFault: 503, custom 429 with Retry-After, reset, hang, then normal again', async () => {
    const tokens = await auth.login();
    auth.resetStats();
    const origin = 'http://127.0.0.1:4000';
    try {
      auth.setFault(503);
      const unavailable = await refresh(tokens.refresh_token, { origin });
      assert.equal(unavailable.status, 503);
      assert.equal((await unavailable.json()).error, 'temporarily_unavailable');
      assert.equal(unavailable.headers.get('access-control-allow-origin'), origin);

      auth.setFault({ status: 429, body: { error: 'slow_down' }, headers: { 'Retry-After': '3' } });
      const limited = await refresh(tokens.refresh_token, { origin });
      assert.equal(limited.status, 429);
      assert.equal(limited.headers.get('retry-after'), '3');
      assert.match(limited.headers.get('access-control-expose-headers'), /Retry-After/);

      auth.setFault('reset');
      await assert.rejects(refresh(tokens.refresh_token), TypeError);

      auth.setFault('hang');
      const hung = fetch(auth.tokenEndpoint, {
        ...form({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token, client_id: auth.clientId }),
        signal: AbortSignal.timeout(500),
      });
      await assert.rejects(hung, { name: 'TimeoutError' });

      assert.equal(auth.stats.refreshRequests, 4);
      assert.equal(auth.stats.refreshOk, 0);
    } finally {
      auth.setFault(null);
    }
    const res = await refresh(tokens.refresh_token);
    assert.equal(res.status, 200, 'the faults did not consume the refresh token');
    assert.equal(auth.stats.refreshOk, 1);
  });

  test('the API challenges missing, invalid, wrong-audience and expired tokens', async () => {
    api.resetStats();
    const none = await me();
    assert.equal(none.status, 401);
    assert.equal(none.headers.get('www-authenticate'), 'Bearer');

    const garbage = await me('Bearer not.a.jwt');
    assert.equal(garbage.status, 401);
    assert.equal(garbage.headers.get('www-authenticate'), 'Bearer error="invalid_token"');

    const tokens = await auth.login();
    const idToken = await me(`Bearer ${tokens.id_token}`); // signed by the same server, other audience
    assert.equal(idToken.status, 401);

    auth.setAccessTokenTtl(1);
    const short = await auth.login().finally(() => auth.setAccessTokenTtl(60));
    const { exp } = claimsOf(short.access_token);
    await delay(Math.max(0, (exp + 1) * 1000 - Date.now())); // until the token's own exp has passed
    const expired = await me(`Bearer ${short.access_token}`);
    assert.equal(expired.status, 401);
    assert.equal(expired.headers.get('www-authenticate'), 'Bearer error="invalid_token"');
    assert.equal((await expired.json()).reason, 'token expired');
    assert.deepEqual(api.stats, { ok: 0, unauthorized: 4 });
  });

  test('the API answers preflights for loopback origins without counting them, and echoes bodies', async () => {
    const tokens = await auth.login();
    api.resetStats();
    const origin = 'http://localhost:3000';
    const preflight = await fetch(`${api.url}/api/echo`, {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' },
    });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers.get('access-control-allow-origin'), origin);
    assert.match(preflight.headers.get('access-control-allow-headers'), /Authorization/);

    const echo = await fetch(`${api.url}/api/echo`, {
      method: 'POST',
      headers: { origin, authorization: `Bearer ${tokens.access_token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ hello: 'world' }),
    });
    assert.equal(echo.status, 200);
    assert.equal(echo.headers.get('access-control-expose-headers'), 'WWW-Authenticate');
    assert.deepEqual(await echo.json(), { sub: 'alice', body: { hello: 'world' } });

    const foreign = await fetch(`${api.url}/api/me`, { headers: { origin: 'http://evil.example' } });
    assert.equal(foreign.headers.get('access-control-allow-origin'), null);

    assert.deepEqual(api.stats, { ok: 1, unauthorized: 1 });
    assert.deepEqual(api.requests.map((r) => `${r.method} ${r.path}`), ['OPTIONS /api/echo', 'POST /api/echo', 'GET /api/me']);
    assert.equal(api.requests[1].authorization, `Bearer ${tokens.access_token}`);
  });

  test('close() ends hanging requests and frees the port', async () => {
    const other = await startAuthServer();
    other.setFault('hang');
    const hung = fetch(other.tokenEndpoint, form({ grant_type: 'refresh_token', refresh_token: 'x', client_id: other.clientId }));
    await waitFor(() => other.stats.tokenRequests === 1);
    await other.close();
    await assert.rejects(hung, TypeError);
    await assert.rejects(fetch(other.jwksUri), TypeError);
  });
});

describe('recorder', () => {
  let recorder;
  before(async () => { recorder = await startRecorder({ count: 2 }); });
  after(async () => { await recorder?.close(); });

  test('records Host, port, method, path and Authorization of every non-preflight request', async () => {
    const [a, b] = recorder.ports;
    assert.deepEqual(recorder.origins, [`http://127.0.0.1:${a}`, `http://127.0.0.1:${b}`]);
    await fetch(`${recorder.origins[0]}/x?y=1`, { headers: { authorization: 'Bearer one' } });
    await fetch(`http://localhost:${b}/z`, { method: 'POST', body: 'hi' });
    const preflight = await fetch(recorder.origins[1], {
      method: 'OPTIONS',
      headers: { origin: 'http://127.0.0.1:1', 'access-control-request-headers': 'authorization' },
    });
    assert.equal(preflight.headers.get('access-control-allow-origin'), 'http://127.0.0.1:1');
    assert.deepEqual(recorder.requests, [
      { host: `127.0.0.1:${a}`, port: a, method: 'GET', path: '/x?y=1', authorization: 'Bearer one' },
      { host: `localhost:${b}`, port: b, method: 'POST', path: '/z', authorization: undefined },
    ]);
    recorder.reset();
    assert.equal(recorder.requests.length, 0);
  });
});

describe('static server', () => {
  let root;
  let server;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'tokenward-static-'));
    await mkdir(join(root, 'public'));
    await mkdir(join(root, 'pkg'));
    await writeFile(join(root, 'secret.txt'), 'outside');
    await writeFile(join(root, 'public', 'index.html'), '<h1>hi</h1>');
    await writeFile(join(root, 'public', 'a.js'), 'export {}');
    await writeFile(join(root, 'pkg', 'm.wasm'), Buffer.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]));
    server = await startStatic({
      root: join(root, 'public'),
      mounts: { '/pkg/': join(root, 'pkg') },
      routes: { '/config.json': (req, res) => res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"a":1}') },
    });
  });
  after(async () => {
    await server?.close();
    if (root) await rm(root, { recursive: true, force: true });
  });

  test('serves index.html, MIME types, no-store, routes and mounts', async () => {
    const index = await fetch(`${server.url}/`);
    assert.equal(await index.text(), '<h1>hi</h1>');
    assert.match(index.headers.get('content-type'), /^text\/html/);
    assert.equal(index.headers.get('cache-control'), 'no-store');
    assert.match((await fetch(`${server.url}/a.js`)).headers.get('content-type'), /^text\/javascript/);
    assert.equal((await fetch(`${server.url}/pkg/m.wasm`)).headers.get('content-type'), 'application/wasm');
    assert.deepEqual(await (await fetch(`${server.url}/config.json`)).json(), { a: 1 });
    assert.equal((await fetch(`${server.url}/missing.js`)).status, 404);
  });

  test('does not serve files outside its folders', async () => {
    for (const path of ['/../secret.txt', '/%2e%2e/secret.txt', '/..%2fsecret.txt', '/pkg/..%2f..%2fsecret.txt', '/%5c..%5csecret.txt']) {
      const res = await fetch(`${server.url}${path}`);
      assert.equal(res.status, 404, path);
    }
  });
});

async function waitFor(condition, timeout = 5000) {
  const deadline = Date.now() + timeout;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await delay(10);
  }
}
