// Helpers of the benchmark runner (bench/run.mjs): quantiles of a sample, a time limit
// for page.evaluate, the bench page and how to open it, and the Auth0 stand-in proxy
// used by the refresh storm.

export function quantiles(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.round(q * (sorted.length - 1))))];
  return {
    n: sorted.length, median: at(0.5), p10: at(0.1), p90: at(0.9), min: sorted[0], max: sorted.at(-1),
    mean: sorted.reduce((s, v) => s + v, 0) / sorted.length,
  };
}

// page.evaluate has no timeout of its own: a library that never settles must not hang the run.
export function within(seconds, label, promise) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${label}: no answer within ${seconds} s`)), seconds * 1000);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export const BENCH_HTML = `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>tokenward bench</title><link rel="icon" href="data:,"></head>
<body><script type="module" src="/page.js"></script></body></html>
`;

export async function openBench(context, url, logs) {
  const page = await context.newPage();
  page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') logs.push(`[${m.type()}] ${m.text()}`); });
  page.on('pageerror', (e) => logs.push(`[pageerror] ${e.message}`));
  await page.goto(url);
  await page.waitForFunction(() => window.bench?.ready === true, null, { timeout: 15_000 });
  return page;
}

// A stand-in for an Auth0 tenant in front of an oidc-provider configured as the others,
// except that its `iss` is the proxy's URL with a trailing slash (auth0-spa-js requires
// `iss` to be `https://…` or exactly `${domain}/`). auth0-spa-js posts to
// `${domain}/oauth/token` and always asks for `offline_access`, which the provider did not
// grant: the proxy maps the path and drops that one scope. Nothing else changes.
export async function startAuth0Proxy() {
  let target = null;
  const { createServer } = await import('node:http');
  const server = createServer(async (req, res) => {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    let body = Buffer.concat(chunks);
    const url = new URL(req.url, target);
    if (url.pathname === '/oauth/token') {
      url.pathname = '/token';
      const form = new URLSearchParams(body.toString());
      if (form.has('scope')) form.set('scope', form.get('scope').split(' ').filter((s) => s !== 'offline_access').join(' '));
      body = Buffer.from(form.toString());
    }
    const headers = { ...req.headers };
    delete headers.host;
    delete headers['content-length'];
    try {
      const answer = await fetch(url, { method: req.method, headers, body: ['GET', 'HEAD'].includes(req.method) ? undefined : body });
      const out = Buffer.from(await answer.arrayBuffer());
      const outHeaders = Object.fromEntries([...answer.headers].filter(([k]) => !['content-encoding', 'content-length', 'transfer-encoding', 'connection'].includes(k)));
      res.writeHead(answer.status, outHeaders).end(out);
    } catch {
      res.writeHead(502).end();
    }
  });
  await new Promise((done) => { server.listen(0, '127.0.0.1', done); });
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    setTarget(origin) { target = origin; },
    close: () => new Promise((done) => { server.closeAllConnections(); server.close(done); }),
  };
}
