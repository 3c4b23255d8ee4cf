// Header recorder for token-leak tests: several loopback ports that answer everything
// with 200 "ok" (CORS open to any origin) and record who received which Authorization header.
import { createServer } from 'node:http';

function listen(server, port, host) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server.address().port);
    });
  });
}

export async function startRecorder({ count = 3 } = {}) {
  const requests = [];
  const servers = [];
  const ports = [];

  const handler = (port) => (req, res) => {
    const origin = req.headers.origin;
    res.setHeader('Access-Control-Allow-Origin', origin ?? '*');
    res.setHeader('Vary', 'Origin');
    if (req.method === 'OPTIONS') {
      res.setHeader('Access-Control-Allow-Methods', 'GET, POST, PUT, PATCH, DELETE');
      res.setHeader('Access-Control-Allow-Headers', 'Authorization, Content-Type, DPoP');
      res.writeHead(204).end();
      return;
    }
    requests.push({
      host: req.headers.host,
      port,
      method: req.method,
      path: req.url,
      authorization: req.headers.authorization,
      ...(req.headers.dpop === undefined ? {} : { dpop: req.headers.dpop }),
    });
    req.resume();
    // `/…/redirect?to=URL` answers 302 to URL (for the redirect cases of the leak table).
    const redirect = /\/redirect\?to=(.*)$/.exec(req.url);
    if (redirect) {
      res.writeHead(302, { Location: decodeURIComponent(redirect[1]), 'Cache-Control': 'no-store' }).end();
      return;
    }
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Cache-Control': 'no-store' }).end('ok');
  };

  const close = async () => {
    await Promise.all(servers.map((server) => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(resolve);
    })));
  };

  try {
    for (let i = 0; i < count; i += 1) {
      const v4 = createServer();
      servers.push(v4);
      const port = await listen(v4, 0, '127.0.0.1');
      v4.on('request', handler(port));
      ports.push(port);
      // localhost may resolve to ::1 first; serve the same port there when the host has IPv6.
      const v6 = createServer(handler(port));
      try {
        await listen(v6, port, '::1');
        servers.push(v6);
      } catch {
        // no IPv6 loopback (or the port is taken there): 127.0.0.1 alone serves localhost
      }
    }
  } catch (err) {
    await close();
    throw err;
  }

  return {
    ports,
    origins: ports.map((port) => `http://127.0.0.1:${port}`),
    requests,
    reset() { requests.length = 0; },
    close,
  };
}
