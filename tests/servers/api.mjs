// A small protected API for tests and the demo: every request needs a bearer JWT that
// verifies against the authorization server's JWKS (issuer and audience checked) or, for a
// server with opaque tokens (Django OAuth Toolkit), a token that the server's RFC 7662
// introspection endpoint calls active (`introspection: { url, clientId, clientSecret }`,
// asked on every request, no cache: a revoked or rotated-away token is refused at once).
// Records every request as received, preflights included, for assertions.
// `dpop: true` (RFC 9449 §7): only `Authorization: DPoP` with a proof that verifies (ES256
// signature with its embedded key, `htm`, `htu`, `iat` within a minute, `jti` not seen
// before, `ath` of the token, key thumbprint = the token's `cnf.jkt`), and a nonce of this
// server's (§9: `use_dpop_nonce` with a `DPoP-Nonce` first; `rotateNonce()` changes it;
// `dpopNonces: false` asks for none).
import { createHash, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';

import {
  EmbeddedJWK, calculateJwkThumbprint, createRemoteJWKSet, decodeJwt, jwtVerify,
} from 'jose';

const LOOPBACK_ORIGIN = /^http:\/\/(127\.0\.0\.1|localhost|\[::1\])(:\d+)?$/;
const MAX_BODY = 1024 * 1024;

function cors(req, res, dpop) {
  const origin = req.headers.origin;
  if (!LOOPBACK_ORIGIN.test(origin ?? '')) return;
  res.setHeader('Access-Control-Allow-Origin', origin);
  res.setHeader('Vary', 'Origin');
  res.setHeader('Access-Control-Expose-Headers', dpop ? 'WWW-Authenticate, DPoP-Nonce' : 'WWW-Authenticate');
  if (req.method === 'OPTIONS') {
    res.setHeader('Access-Control-Allow-Methods', 'GET, POST, PUT, PATCH, DELETE');
    res.setHeader('Access-Control-Allow-Headers', 'Authorization, Content-Type, DPoP');
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

const DPOP_IAT_WINDOW_S = 60;

class ProofError extends Error {}

export async function startApi({
  issuer, jwksUri, audience, introspection, port = 0, dpop = false, dpopNonces = true,
} = {}) {
  const jwks = introspection ? null : createRemoteJWKSet(new URL(jwksUri));
  const stats = {};
  const requests = [];
  let nonce = randomBytes(16).toString('base64url');
  // withholdNonce(true): `use_dpop_nonce` answers and the rest carry no `DPoP-Nonce`.
  let withhold = false;
  const seenJti = new Map(); // jti -> expiry (ms)
  let url = ''; // the API's own origin, set once it listens
  const resetStats = () => {
    Object.assign(stats, { ok: 0, unauthorized: 0 }, dpop ? { nonceDemanded: 0, proofRefused: 0 } : {});
    requests.length = 0;
  };
  resetStats();

  // RFC 9449 §4.3: the checks of a proof for `token`; resolves to the key's thumbprint.
  async function checkProof(req, proof, token) {
    if (!proof || proof.includes(',')) throw new ProofError('one DPoP proof is required');
    let verified;
    try {
      verified = await jwtVerify(proof, EmbeddedJWK, { typ: 'dpop+jwt', algorithms: ['ES256'] });
    } catch (err) {
      throw new ProofError(`proof does not verify: ${err.code}`);
    }
    const { payload, protectedHeader } = verified;
    if (protectedHeader.jwk.d !== undefined) throw new ProofError('private key in the proof');
    if (payload.htm !== req.method) throw new ProofError('htm mismatch');
    const target = new URL(req.url, url);
    target.search = '';
    let htu;
    try {
      htu = new URL(payload.htu);
      htu.search = '';
      htu.hash = '';
    } catch {
      throw new ProofError('htu is not a URL');
    }
    if (htu.href !== target.href) throw new ProofError('htu mismatch');
    if (typeof payload.iat !== 'number' || Math.abs(Date.now() / 1000 - payload.iat) > DPOP_IAT_WINDOW_S) {
      throw new ProofError('iat outside the window');
    }
    if (typeof payload.jti !== 'string' || !payload.jti) throw new ProofError('jti missing');
    const now = Date.now();
    for (const [jti, until] of seenJti) if (until < now) seenJti.delete(jti);
    if (seenJti.has(payload.jti)) throw new ProofError('jti replayed');
    seenJti.set(payload.jti, now + 2 * DPOP_IAT_WINDOW_S * 1000);
    if (payload.ath !== createHash('sha256').update(token).digest('base64url')) throw new ProofError('ath mismatch');
    return { jkt: await calculateJwkThumbprint(protectedHeader.jwk), nonce: payload.nonce };
  }

  // Resolves to the verified claims, or to null after answering 401.
  async function authenticate(req, res, entry) {
    if (dpop) return authenticateDpop(req, res, entry);
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

  // DPoP mode: the scheme must be DPoP, the token a JWT bound to the proof's key.
  async function authenticateDpop(req, res, entry) {
    const refuse = (error, reason, extra = {}) => {
      stats.unauthorized += 1;
      send(res, 401, { error, reason }, {
        'WWW-Authenticate': `DPoP algs="ES256", error="${error}", error_description="${reason}"`, ...extra,
      });
      return null;
    };
    const match = /^DPoP +(\S+)$/i.exec(req.headers.authorization ?? '');
    if (!match) return refuse('invalid_token', 'a DPoP token is required');
    let claims;
    try {
      claims = (await jwtVerify(match[1], jwks, { issuer, audience })).payload;
    } catch (err) {
      if (!err.code?.startsWith('ERR_J') || err.code === 'ERR_JWKS_TIMEOUT') throw err;
      return refuse('invalid_token', err.code === 'ERR_JWT_EXPIRED' ? 'token expired' : 'token invalid');
    }
    let proof;
    try {
      proof = await checkProof(req, req.headers.dpop, match[1]);
      entry.jkt = proof.jkt; // eslint-disable-line no-param-reassign
    } catch (err) {
      if (!(err instanceof ProofError)) throw err;
      stats.proofRefused += 1;
      return refuse('invalid_dpop_proof', err.message);
    }
    if (!claims.cnf?.jkt || claims.cnf.jkt !== proof.jkt) {
      stats.proofRefused += 1;
      return refuse('invalid_token', 'the token is not bound to the key of the proof');
    }
    if (dpopNonces && proof.nonce !== nonce) {
      stats.nonceDemanded += 1;
      return refuse('use_dpop_nonce', 'Resource server requires nonce in DPoP proof', withhold ? {} : { 'DPoP-Nonce': nonce });
    }
    return claims;
  }

  async function handle(req, res) {
    const { pathname } = new URL(req.url, 'http://api.invalid');
    let proof = null;
    try {
      proof = req.headers.dpop ? decodeJwt(req.headers.dpop) : null;
    } catch {
      proof = 'undecodable';
    }
    const entry = {
      method: req.method, path: pathname, authorization: req.headers.authorization, dpop: proof, time: Date.now(),
    };
    requests.push(entry);
    if (dpop && dpopNonces && !withhold) res.setHeader('DPoP-Nonce', nonce);
    cors(req, res, dpop);
    if (req.method === 'OPTIONS') {
      res.writeHead(204).end();
      return;
    }
    const route = `${req.method} ${pathname}`;
    if (route !== 'GET /api/me' && route !== 'POST /api/echo') {
      send(res, 404, { error: 'not_found' });
      return;
    }
    const claims = await authenticate(req, res, entry);
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
  url = `http://127.0.0.1:${server.address().port}`;

  return {
    url,
    stats,
    requests,
    resetStats,
    /** DPoP mode: a new nonce; the next proof with the old one is answered `use_dpop_nonce`. */
    rotateNonce() { nonce = randomBytes(16).toString('base64url'); },
    /** DPoP mode: answers without `DPoP-Nonce` (a server that asks for a nonce it never gives). */
    withholdNonce(on) { withhold = on; },
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => { server.close(resolve); });
    },
  };
}
