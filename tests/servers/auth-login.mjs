// Node-side sign-in for tests: the authorization-code + PKCE flow through oidc-provider's
// devInteractions login and consent forms, with fetch and a small cookie jar.
import { createHash, randomBytes } from 'node:crypto';

// Runs the authorization-code + PKCE flow through the devInteractions forms with fetch,
// keeping cookies, and returns the code and verifier for the token request.
export async function authorize({ authorizationEndpoint, clientId, scope, user, redirectUri }) {
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
      const [pair, ...attributes] = line.split(';');
      const [name, value] = pair.split(/=(.*)/s);
      const expired = attributes.some((a) => /^\s*(max-age=0|expires=.*1970)/i.test(a));
      if (expired) cookies.delete(name.trim());
      else cookies.set(name.trim(), value);
    }
    return res;
  };

  const authorizeUrl = new URL(authorizationEndpoint);
  authorizeUrl.search = new URLSearchParams({
    client_id: clientId,
    response_type: 'code',
    redirect_uri: redirectUri,
    scope,
    state,
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
  });

  let url = authorizeUrl.href;
  for (let step = 0; step < 12; step += 1) {
    if (url.startsWith(redirectUri)) {
      const params = new URL(url).searchParams;
      if (params.get('error')) throw new Error(`login failed: ${params.get('error')} ${params.get('error_description')}`);
      if (params.get('state') !== state) throw new Error('login failed: state mismatch');
      return { code: params.get('code'), verifier };
    }
    let res = await request(url);
    if (res.status === 200 && new URL(url).pathname.startsWith('/interaction/')) {
      const prompt = /name="prompt" value="(\w+)"/.exec(await res.text())?.[1];
      const form = prompt === 'login' ? { prompt, login: user, password: 'any' } : { prompt };
      res = await request(url, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(form),
      });
    }
    const location = res.headers.get('location');
    if (!location) throw new Error(`login failed: ${res.status} at ${new URL(url).pathname}`);
    url = new URL(location, url).href;
  }
  throw new Error('login failed: too many redirects');
}
