// Static file server for test apps and the demo: no caching, correct MIME types
// (application/wasm for streaming compilation), no directory traversal, and extra
// routes (path -> handler) or mounted folders (URL prefix -> folder) where needed.
import { createServer } from 'node:http';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { extname, resolve, sep } from 'node:path';

const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.wasm': 'application/wasm',
  '.css': 'text/css; charset=utf-8',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  '.ts': 'text/plain; charset=utf-8',
};

function notFound(res) {
  res.writeHead(404, { 'Content-Type': 'text/plain', 'Cache-Control': 'no-store' }).end('not found');
}

// The file under `folder` that `relative` (URL-decoded, '/'-separated) names, or null.
function within(folder, relative) {
  if (relative.includes('\0') || relative.includes('\\')) return null;
  const base = resolve(folder);
  const file = resolve(base, `.${relative.startsWith('/') ? '' : '/'}${relative}`);
  return file === base || file.startsWith(base + sep) ? file : null;
}

async function serveFile(req, res, file) {
  const info = await stat(file).catch(() => null);
  if (!info) return notFound(res);
  if (info.isDirectory()) return serveFile(req, res, resolve(file, 'index.html'));
  res.writeHead(200, {
    'Content-Type': MIME[extname(file).toLowerCase()] ?? 'application/octet-stream',
    'Content-Length': info.size,
    'Cache-Control': 'no-store',
  });
  if (req.method === 'HEAD') return res.end();
  return createReadStream(file).pipe(res);
}

export async function startStatic({ root, port = 0, routes = {}, mounts = {} } = {}) {
  const folders = Object.entries({ ...mounts, '/': root }); // longest prefixes first below
  folders.sort(([a], [b]) => b.length - a.length);

  async function handle(req, res) {
    const { pathname } = new URL(req.url, 'http://static.invalid');
    if (routes[pathname]) return routes[pathname](req, res);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return res.writeHead(405, { Allow: 'GET, HEAD' }).end();
    }
    let decoded;
    try {
      decoded = decodeURIComponent(pathname);
    } catch {
      return notFound(res);
    }
    const [prefix, folder] = folders.find(([p]) => decoded.startsWith(p)) ?? [];
    const file = folder && within(folder, decoded.slice(prefix.length));
    return file ? serveFile(req, res, file) : notFound(res);
  }

  const server = createServer((req, res) => {
    Promise.resolve(handle(req, res)).catch(() => {
      if (!res.headersSent) res.writeHead(500).end();
      else res.destroy();
    });
  });
  await new Promise((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolveListen);
  });

  return {
    url: `http://127.0.0.1:${server.address().port}`,
    async close() {
      server.closeAllConnections();
      await new Promise((done) => { server.close(done); });
    },
  };
}
