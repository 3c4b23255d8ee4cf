// tokenward demo page: sign in, watch the access token count down and refresh itself,
// call the API with auth.fetch, sign out; every tokenward event goes to the log.
// Tokens are never shown, only a few claims of the access token.
// The sign-in is tokenward's own (authorization code + PKCE, endpoints discovered from
// the issuer): the page holds no OAuth code. createTokenClient finishes a sign-in when
// the page is loaded with the authorization response; a failure is an `error` event.
import { createTokenClient } from 'tokenward';

const $ = (id) => document.getElementById(id);
const EVENTS = ['change', 'refresh', 'expired', 'signedOut', 'error'];

function log(type, detail = '') {
  const item = document.createElement('li');
  const time = document.createElement('time');
  const name = document.createElement('b');
  time.textContent = new Date().toLocaleTimeString();
  name.textContent = type;
  item.append(time, ' ', name, detail ? ` ${detail}` : '');
  $('log').prepend(item);
}

const describe = (event) => [
  event.reason && `reason=${event.reason}`,
  event.error && `error=${event.error.code ?? event.error.name}`,
  event.error?.message,
].filter(Boolean).join(' ');

let auth = null;

function render() {
  const status = auth?.status ?? 'loading';
  $('status').textContent = status;
  $('status').dataset.status = status;
  const claims = auth?.claims;
  $('sub').textContent = claims?.sub ?? '—';
  $('scope').textContent = claims?.scope || '—';
  $('exp').textContent = typeof claims?.exp === 'number' ? new Date(claims.exp * 1000).toLocaleTimeString() : '—';
  const signedIn = status === 'signedIn' || status === 'refreshing';
  $('sign-in').disabled = !auth || signedIn;
  for (const id of ['call-api', 'refresh', 'sign-out']) $(id).disabled = !signedIn;
}

function tick() {
  const expiresAt = auth?.expiresAt;
  const left = expiresAt == null ? null : (expiresAt - Date.now()) / 1000;
  $('countdown').textContent = left == null ? '—' : left > 0 ? `${left.toFixed(1)} s` : 'expired';
  $('countdown').dataset.seconds = left == null ? '' : String(Math.max(0, Math.floor(left)));
}

function show(error) {
  log('failed', `${error.code ? `error=${error.code} ` : ''}${error.message}`);
}

async function start() {
  render();
  const config = await (await fetch('/config.json')).json();

  const on = Object.fromEntries(EVENTS.map((type) => [type, (event) => {
    log(type, describe(event));
    render();
  }]));
  auth = await createTokenClient({
    storage: 'local',
    issuer: config.issuer,
    clientId: config.clientId,
    scope: config.scope,
    redirectUri: `${location.origin}/`,
    attachTo: [config.apiUrl],
    on,
  });
  render();
  setInterval(tick, 200);
  tick();

  $('sign-in').onclick = () => auth.signIn().catch(show);
  $('refresh').onclick = () => auth.refresh().catch(show);
  $('sign-out').onclick = () => auth.signOut().catch(show);
  $('call-api').onclick = async () => {
    $('api-result').textContent = '…';
    try {
      const res = await auth.fetch(`${config.apiUrl}/api/me`);
      const body = await res.text();
      let pretty = body;
      try {
        pretty = JSON.stringify(JSON.parse(body), null, 2);
      } catch {
        // not JSON: show it as it came
      }
      $('api-result').textContent = `${res.status} ${res.statusText}\n${pretty}`;
      $('api-result').dataset.status = String(res.status);
    } catch (error) {
      $('api-result').textContent = `${error.code ?? error.name}: ${error.message}`;
      $('api-result').dataset.status = 'error';
    }
  };
}

start().catch((error) => {
  $('status').textContent = 'error';
  $('status').dataset.status = 'error';
  show(error);
});
