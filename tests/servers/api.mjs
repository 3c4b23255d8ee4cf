// A small protected API for tests and the demo: every request needs a bearer JWT that
// verifies against the authorization server's JWKS (issuer and audience checked) or, for a
// server with opaque tokens (Django OAuth Toolkit), a token that the server's RFC 7662
// introspection endpoint calls active (`introspection: { url, clientId, clientSecret }`,
// asked on every request, no cache: a revoked or rotated-away token is refused at once).
// Records every request as received, preflights included, for assertions.
import { createServer } from 'node:http';

import { createRemoteJWKSet, jwtVerify } from 'jose';

const LOOPBACK_ORIGIN = /^http:\/\/(127\.0\.0\.1|localhost|\[::1\])(:\d+)?$/;
const MAX_BODY = 1024 * 1024;

function cors(req, res) {
  const origin = req.headers.origin;
  if (!LOOPBACK_ORIGIN.test(origin ?? '')) return;
  res.setHeader('Access-Control-Allow-Origin', origin);
  res.setHeader('Vary', 'Origin');
  res.setHeader('Access-Control-Expose-Headers', 'WWW-Authenticate');
  if (req.method === 'OPTIONS') {
    res.setHeader('Access-Control-Allow-Methods', 'GET, POST, PUT, PATCH, DELETE');
    res.setHeader('Access-Control-Allow-Headers', 'Authorization, Content-Type');
  }
}

function send(res, status, body, headers = {}) {
  res.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', ...headers });
  res.end(JSON.stringify(body));
}

function readJson(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > MAX_BODY) req.destroy(new Error('body too large'));
      else chunks.push(chunk);
    });
    req.on('end', () => {
      try {
        resolve(chunks.length ? JSON.parse(Buffer.concat(chunks).toString()) : null);
      } catch (err) {
        reject(err);
      }
    });
    req.on('error', reject);
  });
}

// RFC 7662 §2: the API authenticates as a client; the answer's `active` decides. DOT names
// the user `username` (no `sub`): the claims returned use it as `sub`.
async function introspect({ url, clientId, clientSecret }, token) {
  const res = await fetch(url, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ token }),
  });
  if (!res.ok) throw new Error(`introspection answered ${res.status}`);
  const body = await res.json();
  if (body.active !== true) return null;
  return { ...body, sub: body.sub ?? body.username };
}

export async function startApi({
  issuer, jwksUri, audience, introspection, port = 0,
} = {}) {
  const jwks = introspection ? null : createRemoteJWKSet(new URL(jwksUri));
  const stats = {};
  const requests = [];
  const resetStats = () => {
    Object.assign(stats, { ok: 0, unauthorized: 0 });
    requests.length = 0;
  };
  resetStats();

  // Resolves to the verified claims, or to null after answering 401.
  async function authenticate(req, res) {
    const match = /^Bearer +(\S+)$/i.exec(req.headers.authorization ?? '');
    let reason = 'missing token';
    if (match && introspection) {
      const claims = await introspect(introspection, match[1]);
      if (claims) return claims;
      reason = 'token invalid';
    } else if (match) {
      try {
        return (await jwtVerify(match[1], jwks, { issuer, audience })).payload;
      } catch (err) {
        // jose errors about the token have ERR_J… codes; anything else (JWKS unreachable) is ours: 500
        if (!err.code?.startsWith('ERR_J') || err.code === 'ERR_JWKS_TIMEOUT') throw err;
        reason = err.code === 'ERR_JWT_EXPIRED' ? 'token expired' : 'token invalid';
      }
    }
    stats.unauthorized += 1;
    const challenge = req.headers.authorization ? 'Bearer error="invalid_token"' : 'Bearer';
    send(res, 401, { error: 'invalid_token', reason }, { 'WWW-Authenticate': challenge });
    return null;
  }

  async function handle(req, res) {
    const { pathname } = new URL(req.url, 'http://api.invalid');
    requests.push({ method: req.method, path: pathname, authorization: req.headers.authorization, time: Date.now() });
    cors(req, res);
    if (req.method === 'OPTIONS') {
      res.writeHead(204).end();
      return;
    }
    const route = `${req.method} ${pathname}`;
    if (route !== 'GET /api/me' && route !== 'POST /api/echo') {
      send(res, 404, { error: 'not_found' });
      return;
    }
    const claims = await authenticate(req, res);
    if (!claims) return;
    if (route === 'GET /api/me') {
      stats.ok += 1;
      const { sub, exp, iat, scope } = claims;
      send(res, 200, { sub, exp, iat, scope });
      return;
    }
    let body;
    try {
      body = await readJson(req);
    } catch {
      send(res, 400, { error: 'invalid_json' });
      return;
    }
    stats.ok += 1;
    send(res, 200, { sub: claims.sub, body });
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err) => {
      if (!res.headersSent) send(res, 500, { error: 'server_error', message: err.message });
      else res.destroy();
    });
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });

  return {
    url: `http://127.0.0.1:${server.address().port}`,
    stats,
    requests,
    resetStats,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => { server.close(resolve); });
    },
  };
}
