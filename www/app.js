// tokenward demo page: sign in, watch the access token count down and refresh itself,
// call the API with auth.fetch, sign out; every tokenward event goes to the log, and a
// timeline shows each access token's lifetime, the refreshes and which tab made them.
// Tokens are never shown, only a few claims of the access token and times.
// The sign-in is tokenward's own (authorization code + PKCE, endpoints discovered from
// the issuer): the page holds no OAuth code. createTokenClient finishes a sign-in when
// the page is loaded with the authorization response; a failure is an `error` event.
//
// The timeline is shared by every open tab of the demo: tabs tell each other what they
// saw over a demo-only BroadcastChannel. tokenward fires `refresh` in every tab; the tab
// that actually ran the token request is known from this page's own count of requests to
// the token endpoint (a plain wrapper around window.fetch, below).
import { createTokenClient } from 'tokenward';

const $ = (id) => document.getElementById(id);
const EVENTS = ['change', 'refresh', 'expired', 'signedOut', 'error'];
const SVG = 'http://www.w3.org/2000/svg';
const PALETTE = ['#3355dd', '#d9480f', '#2b8a3e', '#ae3ec9', '#0c8599', '#c2255c'];
const SAME_TOKEN_MS = 1000; // two tabs' expiresAt for one token may differ by rounding

// ---- requests to the token endpoint made by this tab -------------------------------

let tokenEndpoint = null;
let tokenRequests = 0; // POSTs to the token endpoint sent from this tab
let accounted = 0; // of those, the ones already matched with a `refresh` event
const nativeFetch = window.fetch;
window.fetch = function demoFetch(input, init) {
  const url = input instanceof Request ? input.url : String(input);
  const method = (init?.method ?? (input instanceof Request ? input.method : 'GET')).toUpperCase();
  if (tokenEndpoint && method === 'POST' && url.split('?')[0] === tokenEndpoint) tokenRequests += 1;
  return nativeFetch.call(this, input, init);
};

// ---- the shared history ------------------------------------------------------------

const me = { id: Math.random().toString(36).slice(2, 8), joinedAt: Date.now(), leftAt: null };
const history = {
  origin: me.joinedAt, // time 0 of the axis: when the first of the tabs opened
  tabs: new Map([[me.id, me]]), // id -> { id, joinedAt, leftAt }
  tokens: [], // { receivedAt, expiresAt, tab, endedAt? } — tab: the one that obtained it, null
  // until known; endedAt: when the session ended (sign-out) before the token expired
  refreshes: [], // { expiresAt (of the new token), at, tab (that ran it), adopted: { tabId: at } }
};

const near = (list, expiresAt) => list.find((item) => Math.abs(item.expiresAt - expiresAt) < SAME_TOKEN_MS);

function mergeTab(tab) {
  const known = history.tabs.get(tab.id);
  if (!known) history.tabs.set(tab.id, { ...tab });
  else {
    known.joinedAt = Math.min(known.joinedAt, tab.joinedAt);
    known.leftAt = known.leftAt ?? tab.leftAt;
  }
}

function mergeToken(token) {
  const known = near(history.tokens, token.expiresAt);
  if (!known) history.tokens.push({ ...token });
  else {
    known.receivedAt = Math.min(known.receivedAt, token.receivedAt);
    known.tab = known.tab ?? token.tab;
    if (token.endedAt != null) known.endedAt = Math.min(known.endedAt ?? Infinity, token.endedAt);
  }
}

function mergeRefresh(refresh) {
  const known = near(history.refreshes, refresh.expiresAt);
  if (!known) {
    history.refreshes.push({ ...refresh, adopted: { ...refresh.adopted } });
    return;
  }
  if (refresh.tab && !known.tab) {
    known.tab = refresh.tab;
    known.at = refresh.at; // the time it was made, not when another tab heard of it
  } else if (!known.tab) known.at = Math.min(known.at, refresh.at);
  Object.assign(known.adopted, refresh.adopted);
}

function merge(snapshot) {
  if (typeof snapshot.origin === 'number') history.origin = Math.min(history.origin, snapshot.origin);
  for (const tab of snapshot.tabs ?? []) mergeTab(tab);
  for (const token of snapshot.tokens ?? []) mergeToken(token);
  for (const refresh of snapshot.refreshes ?? []) mergeRefresh(refresh);
  draw();
}

const snapshot = () => ({
  origin: history.origin,
  tabs: [...history.tabs.values()], tokens: history.tokens, refreshes: history.refreshes,
});

const channel = 'BroadcastChannel' in window ? new BroadcastChannel('tokenward-demo') : null;
const share = (type = 'history') => channel?.postMessage({ type, from: me.id, history: snapshot() });
if (channel) {
  channel.onmessage = ({ data }) => {
    if (!data || typeof data !== 'object' || data.from === me.id) return;
    merge(data.history ?? {});
    if (data.type === 'hello') share(); // a new tab: tell it everything seen so far
  };
}
window.addEventListener('pagehide', () => {
  me.leftAt = Date.now();
  share();
});

// Tabs in the order they joined are A, B, C …, the same in every tab.
function tabOrder() {
  return [...history.tabs.values()].sort((a, b) => a.joinedAt - b.joinedAt || (a.id < b.id ? -1 : 1));
}
function tabInfo(id) {
  const index = tabOrder().findIndex((tab) => tab.id === id);
  if (index < 0) return { label: '?', colour: '#8a94a3' };
  return { label: String.fromCharCode(65 + (index % 26)), colour: PALETTE[index % PALETTE.length] };
}

// ---- what this tab's client reports ------------------------------------------------

function sawToken(expiresAt, obtainedHere) {
  if (expiresAt == null) return;
  mergeToken({ receivedAt: Date.now(), expiresAt, tab: obtainedHere ? me.id : null });
}

function sawSignOut() {
  const now = Date.now();
  for (const token of history.tokens) {
    if (token.expiresAt > now && token.receivedAt <= now) token.endedAt = Math.min(token.endedAt ?? Infinity, now);
  }
}

function sawRefresh(event) {
  const ran = tokenRequests > accounted;
  accounted = tokenRequests;
  const expiresAt = event.expiresAt ?? auth?.expiresAt;
  if (expiresAt == null) return ran;
  const now = Date.now();
  mergeToken({ receivedAt: now, expiresAt, tab: ran ? me.id : null });
  mergeRefresh(ran
    ? { expiresAt, at: now, tab: me.id, adopted: {} }
    : { expiresAt, at: now, tab: null, adopted: { [me.id]: now } });
  return ran;
}

// ---- the timeline ------------------------------------------------------------------

const W = 900;
const LEFT = 120;
const RIGHT = 16;
const BAR = 16;
const ROW = 30;
const MAX_SPAN_MS = 150_000;
const LEGEND_ROW = 20;

function el(name, attrs = {}, text) {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  if (text != null) node.textContent = text;
  return node;
}

function tickStep(spanSeconds) {
  return [1, 2, 5, 10, 15, 30, 60, 120].find((step) => spanSeconds / step <= 10) ?? 300;
}

function draw() {
  const svg = $('timeline');
  if (!svg) return;
  const now = Date.now();
  const tabs = tabOrder();
  // What left the drawn window long ago is forgotten, so that a demo left open stays light.
  const forget = now - 2 * MAX_SPAN_MS;
  history.tokens = history.tokens.filter((t) => Math.min(t.expiresAt, t.endedAt ?? Infinity) > forget);
  history.refreshes = history.refreshes.filter((r) => r.at > forget);
  const tokens = [...history.tokens].sort((a, b) => a.receivedAt - b.receivedAt);
  const origin = Math.min(history.origin, ...tokens.map((t) => t.receivedAt));
  const end = Math.max(now + 5000, ...tokens.map((t) => Math.min(t.expiresAt, t.endedAt ?? Infinity) + 2000));
  const start = Math.max(origin, end - MAX_SPAN_MS);
  const span = Math.max(end - start, 1);
  const x = (time) => LEFT + ((time - start) / span) * (W - LEFT - RIGHT);
  const clampX = (time) => Math.min(Math.max(x(time), LEFT), W - RIGHT);

  const tokensTop = 24;
  const tabsTop = tokensTop + 2 * (BAR + 4) + 14;
  const axisY = tabsTop + tabs.length * ROW + 4;
  const legendY = axisY + 40;
  const height = legendY + LEGEND_ROW + 12;

  const defs = el('defs');
  const clip = el('clipPath', { id: 'plot-clip' });
  clip.append(el('rect', { x: LEFT, y: 0, width: W - LEFT - RIGHT, height: axisY + 4 }));
  defs.append(clip);
  const nodes = [
    el('title', { id: 'timeline-title' }, 'Access tokens, refreshes and the tabs that made them'),
    defs,
    el('rect', { class: 'plot', x: LEFT, y: 8, width: W - LEFT - RIGHT, height: axisY - 8 }),
  ];

  // Axis: seconds since the shared history began.
  const step = tickStep(span / 1000) * 1000;
  const axis = el('g', { class: 'axis' });
  axis.append(el('line', { x1: LEFT, y1: axisY, x2: W - RIGHT, y2: axisY }));
  for (let t = Math.ceil((start - origin) / step) * step; origin + t <= end; t += step) {
    const tx = x(origin + t);
    axis.append(
      el('line', { class: 'grid', x1: tx, y1: 8, x2: tx, y2: axisY }),
      el('line', { x1: tx, y1: axisY, x2: tx, y2: axisY + 5 }),
      el('text', { x: tx, y: axisY + 18, 'text-anchor': 'middle' }, `${Math.round(t / 1000)} s`),
    );
  }
  axis.append(el('text', { class: 'axis-title', x: LEFT - 20, y: axisY + 18, 'text-anchor': 'end' }, 'seconds'));
  nodes.push(axis);

  // Access tokens: one bar each, from when it was received to its expiresAt. Consecutive
  // tokens overlap (a refresh comes before expiry), so they alternate between two rows.
  const bars = el('g', { class: 'tokens', 'clip-path': 'url(#plot-clip)' });
  nodes.push(el('text', { class: 'lane-label', x: LEFT - 8, y: tokensTop + BAR + 2, 'text-anchor': 'end' }, 'Access tokens'));
  tokens.forEach((token, i) => {
    const info = token.tab ? tabInfo(token.tab) : { label: '?', colour: '#8a94a3' };
    const y = tokensTop + (i % 2) * (BAR + 4);
    const x1 = x(token.receivedAt);
    const until = Math.min(token.expiresAt, token.endedAt ?? Infinity);
    const width = Math.max(x(until) - x1, 2);
    const expired = until <= now;
    const bar = el('g', {
      class: 'token-bar', 'data-tab': info.label, 'data-expired': String(expired), 'data-ended': String(token.endedAt != null),
    });
    bar.append(
      el('title', {}, `Token ${i + 1}: received ${((token.receivedAt - origin) / 1000).toFixed(1)} s, `
        + `expires ${((token.expiresAt - origin) / 1000).toFixed(1)} s, ${token.tab ? `obtained by tab ${info.label}` : 'restored from storage'}`
        + (token.endedAt != null ? `, forgotten at sign-out ${((token.endedAt - origin) / 1000).toFixed(1)} s` : '')),
      el('rect', {
        x: x1, y, width, height: BAR, rx: 3, fill: info.colour, 'fill-opacity': expired ? 0.25 : 0.7,
      }),
    );
    const text = token.tab ? `token ${i + 1} · tab ${info.label}` : `token ${i + 1}`;
    if (width > text.length * 6.5 + 12) {
      bar.append(el('text', { class: 'bar-text', x: x1 + 6, y: y + BAR - 4 }, text));
    }
    bars.append(bar);
  });
  nodes.push(bars);

  // One row per tab: its life in the demo, the refreshes it ran (filled) and the ones it
  // adopted from another tab (hollow).
  const rows = el('g', { class: 'tabs' });
  const marks = el('g', { class: 'marks', 'clip-path': 'url(#plot-clip)' });
  const rowY = new Map();
  tabs.forEach((tab, i) => {
    const info = tabInfo(tab.id);
    const y = tabsTop + i * ROW + ROW / 2;
    rowY.set(tab.id, y);
    const here = tab.id === me.id;
    const label = `Tab ${info.label}${here ? ' (this tab)' : tab.leftAt ? ' (closed)' : ''}`;
    rows.append(
      el('text', {
        class: `tab-label${here ? ' here' : ''}`, 'data-tab': info.label, x: LEFT - 8, y: y + 4, 'text-anchor': 'end', fill: info.colour,
      }, label),
      el('line', {
        class: 'tab-life', x1: clampX(tab.joinedAt), y1: y, x2: clampX(tab.leftAt ?? now), y2: y, stroke: info.colour,
      }),
    );
  });
  for (const refresh of [...history.refreshes].sort((a, b) => a.at - b.at)) {
    const runner = refresh.tab ? tabInfo(refresh.tab) : { label: '?', colour: '#8a94a3' };
    const rx = x(refresh.at);
    const y = rowY.get(refresh.tab) ?? tabsTop - 8;
    const adopters = Object.keys(refresh.adopted).map((id) => tabInfo(id).label).sort();
    const mark = el('g', {
      class: 'refresh-mark', 'data-tab': runner.label, 'data-here': String(refresh.tab === me.id),
    });
    mark.append(
      el('title', {}, `Refresh at ${((refresh.at - origin) / 1000).toFixed(1)} s made by tab ${runner.label}`
        + (adopters.length ? `, adopted by tab ${adopters.join(', ')}` : '')),
      el('line', { class: 'refresh-line', x1: rx, y1: tokensTop - 4, x2: rx, y2: y, stroke: runner.colour }),
      el('circle', { cx: rx, cy: y, r: 7, fill: runner.colour }),
      el('text', { class: 'mark-text', x: rx, y: y + 4, 'text-anchor': 'middle' }, runner.label),
    );
    marks.append(mark);
    for (const [id, at] of Object.entries(refresh.adopted)) {
      const info = tabInfo(id);
      if (!rowY.has(id)) continue;
      const adopt = el('g', { class: 'adopt-mark', 'data-tab': info.label, 'data-from': runner.label });
      adopt.append(
        el('title', {}, `Tab ${info.label} adopted the refresh made by tab ${runner.label}`),
        el('circle', { cx: x(at), cy: rowY.get(id), r: 6, fill: '#fff', stroke: info.colour, 'stroke-width': 2.5 }),
      );
      marks.append(adopt);
    }
  }
  nodes.push(rows, marks);

  // Now.
  const nx = x(now);
  const nowLine = el('g', { class: 'now' });
  nodes.push(nowLine);
  nowLine.append(
    el('line', { x1: nx, y1: 8, x2: nx, y2: axisY }),
    el('text', { x: nx, y: 6, 'text-anchor': 'middle' }, 'now'),
  );

  // Legend: laid out once in the page, where its text can be measured; wraps to a second row.
  const legend = el('g', { class: 'legend', transform: `translate(${LEFT} ${legendY})` });
  const item = (shape, text) => {
    const g = el('g');
    g.append(shape, el('text', { x: 22, y: 4 }, text));
    legend.append(g);
  };
  item(el('rect', { x: 0, y: -6, width: 16, height: 10, rx: 2, fill: '#8a94a3', 'fill-opacity': 0.7 }), 'access token: received → expires (colour of the tab that got it)');
  item(el('circle', { cx: 8, cy: 0, r: 6, fill: '#8a94a3' }), 'refresh, made by that tab');
  item(el('circle', { cx: 8, cy: 0, r: 5, fill: '#fff', stroke: '#8a94a3', 'stroke-width': 2.5 }), 'adopted from another tab');
  item(el('line', { class: 'now-swatch', x1: 8, y1: -7, x2: 8, y2: 7 }), 'now');
  nodes.push(legend);

  svg.setAttribute('viewBox', `0 0 ${W} ${height}`);
  svg.replaceChildren(...nodes.filter(Boolean));

  let lx = 0;
  let ly = 0;
  for (const g of legend.children) {
    let width;
    try {
      width = g.getBBox().width;
    } catch {
      width = 22 + g.textContent.length * 6.6;
    }
    if (lx > 0 && lx + width > W - LEFT - RIGHT) {
      lx = 0;
      ly += LEGEND_ROW;
    }
    g.setAttribute('transform', `translate(${lx} ${ly})`);
    lx += width + 24;
  }

  const open = tabs.filter((tab) => !tab.leftAt).length;
  $('tab-count').textContent = `${open} tab${open === 1 ? '' : 's'} open · ${history.refreshes.length} refresh${history.refreshes.length === 1 ? '' : 'es'}`;
  const mine = tabInfo(me.id);
  $('tab-label').textContent = `Tab ${mine.label}`;
  $('tab-label').style.background = mine.colour;
  $('tab-label').dataset.tab = mine.label;
}

// ---- the rest of the page ----------------------------------------------------------

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
  // DPoP: the token names the thumbprint of this browser's key; without the key it is worthless.
  $('jkt').textContent = claims?.cnf?.jkt ?? '—';
  const signedIn = status === 'signedIn' || status === 'refreshing';
  $('sign-in').disabled = !auth || signedIn;
  for (const id of ['call-api', 'refresh', 'sign-out']) $(id).disabled = !signedIn;
}

function tick() {
  const expiresAt = auth?.expiresAt;
  const left = expiresAt == null ? null : (expiresAt - Date.now()) / 1000;
  $('countdown').textContent = left == null ? '—' : left > 0 ? `${left.toFixed(1)} s` : 'expired';
  $('countdown').dataset.seconds = left == null ? '' : String(Math.max(0, Math.floor(left)));
  draw();
}

function show(error) {
  log('failed', `${error.code ? `error=${error.code} ` : ''}${error.message}`);
}

async function start() {
  render();
  draw();
  share('hello');
  $('open-tab').onclick = () => window.open(location.href);
  const config = await (await fetch('/config.json')).json();
  if (config.accessTokenTtl) $('ttl').textContent = String(config.accessTokenTtl);
  try {
    const discovery = await (await fetch(`${config.issuer}/.well-known/openid-configuration`)).json();
    tokenEndpoint = typeof discovery.token_endpoint === 'string' ? discovery.token_endpoint : null;
  } catch {
    // the timeline then cannot tell which tab ran a refresh; tokenward reports its own errors
  }

  const on = Object.fromEntries(EVENTS.map((type) => [type, (event) => {
    let detail = describe(event);
    if (type === 'refresh') detail = sawRefresh(event) ? 'made by this tab' : 'adopted from another tab';
    if (type === 'change') sawToken(event.expiresAt, tokenRequests > accounted);
    if (type === 'signedOut') sawSignOut();
    log(type, detail);
    render();
    if (type === 'refresh' || type === 'change' || type === 'signedOut') share();
    draw();
  }]));
  auth = await createTokenClient({
    storage: 'local',
    issuer: config.issuer,
    clientId: config.clientId,
    scope: config.scope,
    redirectUri: `${location.origin}/`,
    attachTo: [config.apiUrl],
    dpop: true,
    on,
  });
  sawToken(auth.expiresAt, tokenRequests > accounted); // a session restored or just signed in (code exchange)
  accounted = tokenRequests;
  share();
  render();
  setInterval(tick, 250);
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
