// A second real authorization server: Django OAuth Toolkit (tests/servers/dot/), run in a
// Python venv that is created on first use under ~/.cache/tokenward/dot-venv-<hash of requirements.txt>
// ($TOKENWARD_CACHE moves the cache, $TOKENWARD_DOT_VENV the folder). startDotServer() has the shape of
// startAuthServer(): { issuer, endpoints, clientId, stats, events, resetStats(), login(), close() }.
// DOT issues opaque access tokens: the API checks them at DOT's introspection endpoint.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const DOT_DIR = fileURLToPath(new URL('./dot/', import.meta.url));
export const DOT_CLIENT_ID = 'tokenward-dot';
export const DOT_USERS = ['dana', 'alice'];
const PASSWORD = 'correct horse';

function run(command, args, options = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'], ...options });
    let stderr = '';
    child.stderr.on('data', (chunk) => { stderr += chunk; });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve()
      : reject(new Error(`${command} ${args.join(' ')} exited with ${code}:\n${stderr.slice(-2000)}`))));
  });
}

let venvReady;

/**
 * The venv with the pinned requirements: created and pip-installed once per requirements
 * file (a `.ready` marker holds its hash). Resolves to the venv's python.
 */
export function ensureDotVenv() {
  venvReady ??= (async () => {
    const requirements = join(DOT_DIR, 'requirements.txt');
    const hash = createHash('sha256').update(await readFile(requirements)).digest('hex').slice(0, 12);
    const cache = process.env.TOKENWARD_CACHE || join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'tokenward');
    const venv = process.env.TOKENWARD_DOT_VENV || join(cache, `dot-venv-${hash}`);
    const python = join(venv, 'bin', 'python');
    const marker = join(venv, '.ready');
    if (existsSync(marker) && (await readFile(marker, 'utf8')) === hash) return python;
    const started = Date.now();
    await rm(venv, { recursive: true, force: true });
    const base = process.env.PYTHON || 'python3';
    try {
      await run(base, ['-m', 'venv', venv]);
    } catch (err) {
      // No venv module (Debian without python3-venv): virtualenv from PyPI does the same.
      await run(base, ['-m', 'pip', 'install', '--user', '--quiet', 'virtualenv']).catch(() => { throw err; });
      await run(base, ['-m', 'virtualenv', '--quiet', venv]);
    }
    await run(python, ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--no-input',
      '-r', requirements]);
    await writeFile(marker, hash);
    process.stderr.write(`DOT venv ready in ${((Date.now() - started) / 1000).toFixed(1)} s: ${venv}\n`);
    return python;
  })();
  venvReady.catch(() => { venvReady = undefined; });
  return venvReady;
}

/** Reads DOT's JSON helpers (/_stats) without CORS or tokens. */
async function getJson(url, init) {
  const res = await fetch(url, init);
  if (!res.ok) throw new Error(`${url} answered ${res.status}`);
  return res.json();
}

/**
 * Starts DOT on 127.0.0.1 and a free port. `cors`: 'django-cors-headers' (default, as DOT's
 * docs tell SPAs) or 'dot' (only DOT's own Application.allowed_origins).
 * `refreshTokenGracePeriodSeconds`: DOT's REFRESH_TOKEN_GRACE_PERIOD_SECONDS (default 0,
 * DOT's own default: a rotated refresh token is refused at once).
 */
export async function startDotServer({
  accessTokenTtl = 300, redirectUris = [], cors = 'django-cors-headers', refreshTokenGracePeriodSeconds = 0,
  startTimeoutMs = 60_000,
} = {}) {
  const python = await ensureDotVenv();
  const state = await mkdtemp(join(tmpdir(), 'tokenward-dot-'));
  const apiSecret = randomBytes(24).toString('base64url');
  const child = spawn(python, [join(DOT_DIR, 'serve.py'), state], {
    cwd: DOT_DIR,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      PYTHONDONTWRITEBYTECODE: '1',
      PYTHONUNBUFFERED: '1',
      DOT_ACCESS_TOKEN_TTL: String(accessTokenTtl),
      DOT_CORS_MODE: cors,
      DOT_REFRESH_TOKEN_GRACE_PERIOD: String(refreshTokenGracePeriodSeconds),
      DOT_API_SECRET: apiSecret,
      DOT_REDIRECT_URIS: redirectUris.join(' '),
    },
  });
  let stderr = '';
  child.stderr.on('data', (chunk) => { stderr = `${stderr}${chunk}`.slice(-20_000); });
  const exited = new Promise((resolve) => { child.once('exit', resolve); });
  const cleanup = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await Promise.race([exited, new Promise((resolve) => { setTimeout(resolve, 5000); })]);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await rm(state, { recursive: true, force: true });
  };

  let port;
  try {
    port = await new Promise((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`DOT did not start in ${startTimeoutMs} ms:\n${stderr}`)), startTimeoutMs);
      child.stdout.on('data', (chunk) => {
        out += chunk;
        const line = out.split('\n').find((l) => l.startsWith('{'));
        if (line) {
          clearTimeout(timer);
          resolve(JSON.parse(line).port);
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`DOT exited with ${code} while starting:\n${stderr}`));
      });
    });
  } catch (err) {
    await cleanup();
    throw err;
  }

  const origin = `http://127.0.0.1:${port}`;
  const issuer = `${origin}/o`;
  const endpoint = (path) => `${issuer}${path}`;
  const loginRedirectUri = `${origin}/callback`; // never visited: login() stops at the redirect
  // The counters live in the Python process, which prints them on every change; `stats`
  // shows them relative to the last resetStats() (synchronous, as with oidc-provider).
  let latest = {};
  let baseline = {};
  const stats = {};
  for (const key of ['tokenRequests', 'refreshRequests', 'refreshOk', 'invalidGrant', 'codeExchanges', 'revocations', 'grantsRevoked']) {
    Object.defineProperty(stats, key, { enumerable: true, get: () => (latest[key] ?? 0) - (baseline[key] ?? 0) });
  }
  const events = [];
  let buffered = '';
  child.stdout.on('data', (chunk) => {
    buffered += chunk;
    const lines = buffered.split('\n');
    buffered = lines.pop();
    for (const line of lines) if (line.startsWith('STATS ')) latest = JSON.parse(line.slice(6));
  });
  const readStats = async () => {
    const { stats: now, events: list } = await getJson(`${origin}/_stats`);
    latest = now;
    return list;
  };
  const addRedirectUri = (uri) => getJson(`${origin}/_redirect_uri`, {
    method: 'POST', body: new URLSearchParams({ uri }),
  });
  try {
    await readStats(); // answers once Django is set up: the server is ready
    await addRedirectUri(loginRedirectUri);
  } catch (err) {
    await cleanup();
    throw err;
  }

  // Settings changed by the sync methods below; login() and resetStats() wait for them.
  let ttl = accessTokenTtl;
  let pending = Promise.resolve();
  const setAccessTokenTtl = (seconds) => {
    if (seconds === ttl) return;
    ttl = seconds;
    pending = pending.then(() => getJson(`${origin}/_ttl`, { method: 'POST', body: new URLSearchParams({ seconds: String(seconds) }) }));
  };

  const tokenRequest = async (params) => {
    const res = await fetch(endpoint('/token/'), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ client_id: DOT_CLIENT_ID, ...params }),
    });
    const body = await res.json();
    if (!res.ok) throw new Error(`token endpoint answered ${res.status} ${body.error}`);
    return body;
  };

  return {
    kind: 'dot',
    refreshTokenGracePeriodSeconds,
    issuer,
    origin,
    tokenEndpoint: endpoint('/token/'),
    revocationEndpoint: endpoint('/revoke_token/'),
    introspectionEndpoint: endpoint('/introspect/'),
    authorizationEndpoint: endpoint('/authorize/'),
    endSessionEndpoint: endpoint('/logout/'),
    userinfoEndpoint: endpoint('/userinfo/'),
    clientId: DOT_CLIENT_ID,
    // For the shared scenarios: Django's login form names its field `username`; access tokens are opaque.
    ui: { loginField: 'username' },
    accessTokenFormat: 'opaque',
    introspection: { url: endpoint('/introspect/'), clientId: 'tokenward-api', clientSecret: apiSecret },
    stats,
    events,
    /** Reads the counters from /_stats (for when a printed line may still be on its way). */
    async refreshStats() {
      const list = await readStats();
      events.splice(0, events.length, ...list);
    },
    resetStats() {
      baseline = { ...latest };
      events.length = 0;
    },
    addRedirectUri,
    setAccessTokenTtl,
    settled: () => pending,
    setFault(value) {
      if (value !== null) throw new Error('fault injection is an oidc-provider feature (tests/servers/auth.mjs)');
    },
    async login({ scope = 'openid api:read', user = 'alice', redirectUri = loginRedirectUri } = {}) {
      await pending;
      const code = await dotAuthorize({ origin, authorizationEndpoint: endpoint('/authorize/'), scope, user, redirectUri });
      return tokenRequest({
        grant_type: 'authorization_code', code: code.code, code_verifier: code.verifier, redirect_uri: redirectUri,
      });
    },
    stderr: () => stderr,
    close: cleanup,
  };
}

// The authorization-code + PKCE flow through Django's login form with fetch and a cookie jar.
async function dotAuthorize({ origin, authorizationEndpoint, scope, user, redirectUri }) {
  const cookies = new Map();
  const verifier = randomBytes(32).toString('base64url');
  const state = randomBytes(16).toString('base64url');
  const request = async (url, init = {}) => {
    const res = await fetch(url, {
      ...init,
      redirect: 'manual',
      headers: { ...init.headers, cookie: [...cookies].map(([k, v]) => `${k}=${v}`).join('; ') },
    });
    for (const line of res.headers.getSetCookie()) {
      const [name, value] = line.split(';')[0].split(/=(.*)/s);
      cookies.set(name.trim(), value);
    }
    return res;
  };
  const authorizeUrl = new URL(authorizationEndpoint);
  authorizeUrl.search = new URLSearchParams({
    client_id: DOT_CLIENT_ID, response_type: 'code', redirect_uri: redirectUri, scope, state,
    code_challenge: createHash('sha256').update(verifier).digest('base64url'), code_challenge_method: 'S256',
  });
  let url = authorizeUrl.href;
  for (let step = 0; step < 8; step += 1) {
    if (url.startsWith(redirectUri)) {
      const params = new URL(url).searchParams;
      if (params.get('error')) throw new Error(`login failed: ${params.get('error')}`);
      if (params.get('state') !== state) throw new Error('login failed: state mismatch');
      return { code: params.get('code'), verifier };
    }
    let res = await request(url);
    if (res.status === 200 && new URL(url).pathname === '/accounts/login/') {
      const csrf = /name="csrfmiddlewaretoken" value="([^"]+)"/.exec(await res.text())?.[1];
      res = await request(url, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', referer: origin },
        body: new URLSearchParams({ csrfmiddlewaretoken: csrf ?? '', username: user, password: PASSWORD }),
      });
    }
    const location = res.headers.get('location');
    if (!location) throw new Error(`login failed: ${res.status} at ${new URL(url).pathname}`);
    url = new URL(location, url).href;
  }
  throw new Error('login failed: too many redirects');
}
