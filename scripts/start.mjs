// `npm start`: the tokenward demo. Starts a real authorization server (30 s access tokens,
// so the refresh is visible, DPoP-bound), the protected API (DPoP required), and a static server for www/ with the
// built package at /tokenward/ and the issuer, client and API at /config.json; prints the page URL.
// startDemo() is also what tests/e2e/demo.test.mjs starts.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { startApi, startAuthServer, startStatic } from '../tests/servers/index.mjs';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const SCOPE = 'openid api:read';

// Starts a server on `port`, or on a free port when that one is taken.
async function onPortOrFree(start, port) {
  try {
    return await start(port);
  } catch (err) {
    if (err.code !== 'EADDRINUSE' || port === 0) throw err;
    return start(0);
  }
}

const DIST = fileURLToPath(new URL('../dist/', import.meta.url));

// packageDir: the built package served at /tokenward/ (default dist/).
export async function startDemo({
  port = 8080, authPort = 8081, apiPort = 8082, accessTokenTtl = 30, packageDir = DIST,
} = {}) {
  const started = [];
  const close = async () => {
    await Promise.allSettled(started.reverse().map((server) => server.close()));
  };
  try {
    const auth = await onPortOrFree((p) => startAuthServer({
      port: p, accessTokenTtl, dpop: true, dpopNonces: false,
    }), authPort);
    started.push(auth);
    const api = await onPortOrFree(
      (p) => startApi({
        port: p, issuer: auth.issuer, jwksUri: auth.jwksUri, audience: auth.resource, dpop: true, dpopNonces: false,
      }),
      apiPort,
    );
    started.push(api);
    // All the page needs: tokenward discovers the endpoints from the issuer.
    const config = JSON.stringify({
      issuer: auth.issuer, clientId: auth.clientId, apiUrl: api.url, scope: SCOPE, accessTokenTtl,
    });
    const page = await onPortOrFree((p) => startStatic({
      root: fileURLToPath(new URL('../www/', import.meta.url)),
      port: p,
      mounts: { '/tokenward/': packageDir },
      routes: {
        '/config.json': (req, res) => {
          res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' }).end(config);
        },
      },
    }), port);
    started.push(page);
    const pagePort = new URL(page.url).port;
    auth.addRedirectUri(`http://127.0.0.1:${pagePort}/`);
    auth.addRedirectUri(`http://localhost:${pagePort}/`);
    return { url: `${page.url}/`, auth, api, close };
  } catch (err) {
    await close();
    throw err;
  }
}

async function main() {
  if (!existsSync(`${DIST}/tokenward_bg.wasm`)) {
    const build = spawnSync('npm', ['run', 'build'], { cwd: repoRoot, stdio: 'inherit' });
    if (build.status !== 0) process.exit(build.status ?? 1);
  }
  const demo = await startDemo({ port: Number(process.env.PORT ?? 8080) });
  console.log(`tokenward demo: ${demo.url}`);
  console.log(`  authorization server ${demo.auth.issuer} (sign in with any login and password)`);
  console.log(`  API ${demo.api.url}`);
  console.log('Ctrl-C to stop.');
  const stop = async () => {
    await demo.close();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
