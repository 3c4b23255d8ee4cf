// How the packed package loads its .wasm (the glue's loader, scripts/trim-glue.mjs), seen
// from a real page that imports it through an import map: a server that sends the .wasm
// with another type than application/wasm still gets a working client (compiled after the
// download, with one console warning); a failed load rejects createTokenClient with a
// TokenwardError and the next call loads again; once loaded, the .wasm is not fetched again.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { appDir, launchBrowser, openApp, startApp } from './harness.mjs';

const WASM_PATH = '/node_modules/tokenward/dist/tokenward_bg.wasm';

let app;
let context;
let wasm;
// What the .wasm's route answers next: 'wasm' (application/wasm), 'octet' (another type), or a status.
let serve = 'wasm';
let requests = 0;

before(async () => {
  wasm = await readFile(join(await appDir(), WASM_PATH));
  app = await startApp({
    routes: {
      [WASM_PATH]: (req, res) => {
        requests += 1;
        if (typeof serve === 'number') return res.writeHead(serve, { 'Cache-Control': 'no-store' }).end('no');
        const type = serve === 'wasm' ? 'application/wasm' : 'application/octet-stream';
        return res.writeHead(200, { 'Content-Type': type, 'Cache-Control': 'no-store' }).end(wasm);
      },
    },
  });
  context = await launchBrowser();
}, { timeout: 120_000 });

after(async () => {
  await context?.close();
  await app?.close();
});

// createTokenClient's outcome in the page: the client's status, or the error's parts.
const create = (page) => page.evaluate(async () => {
  try {
    const auth = await window.tokenward.createTokenClient({ storage: 'memory', crossTab: false });
    const status = auth.status;
    auth.dispose();
    return { status };
  } catch (e) {
    return { error: { name: e.name, code: e.code, message: e.message, isError: e instanceof window.tokenward.TokenwardError } };
  }
});

test('a .wasm served as application/octet-stream still loads, with one console warning', async () => {
  serve = 'octet';
  requests = 0;
  const logs = [];
  const page = await openApp(context, `${app.url}/`, { logs });
  try {
    assert.deepEqual(await create(page), { status: 'signedOut' });
    assert.equal(requests, 1, 'the .wasm was fetched once');
    const warnings = logs.filter((l) => l.startsWith('[warning]') && l.includes('application/wasm'));
    assert.equal(warnings.length, 1, logs.join('\n'));
  } finally {
    await page.close();
  }
});

test('a failed load rejects with a TokenwardError; the next createTokenClient loads it, and later ones do not fetch again', async () => {
  requests = 0;
  const logs = [];
  const page = await openApp(context, `${app.url}/`, { logs });
  try {
    for (const status of [404, 500]) {
      serve = status;
      const failed = await create(page);
      assert.deepEqual(failed.error && { ...failed.error, message: undefined }, {
        name: 'TokenwardError', code: 'unsupported', message: undefined, isError: true,
      }, JSON.stringify(failed));
      assert.match(failed.error.message, /WebAssembly module could not be loaded/);
    }
    assert.equal(requests, 2, 'each failed call fetched the .wasm once');
    serve = 'wasm';
    assert.deepEqual(await create(page), { status: 'signedOut' });
    assert.deepEqual(await create(page), { status: 'signedOut' });
    assert.equal(requests, 3, 'loaded once after the failures, then not again');
    assert.deepEqual(logs.filter((l) => l.startsWith('[warning]') || l.startsWith('[pageerror]')), []);
  } finally {
    await page.close();
  }
});
