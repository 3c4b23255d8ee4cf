// The browser work of tabs and time, for the wasm: Web Locks, the BroadcastChannel, timers
// and the page's signals. It decides nothing: every request comes from the wasm (which
// decides when to ask, how long to wait and what an answer means), and every answer goes
// back through `sink(kind, id, value)`, never synchronously from a call the wasm made.
// Kinds: 0 timer, 1 lock (1 granted, 0 not, 2 refused), 2 peers (count), 3 message (text),
// 4 visible, 5 online, 6 storage (id 1: the area was cleared; else the new value or null),
// 7 the answer to an HTTP exchange (js/http.js, which documents the value).
export function open(sink, key, crossTab, storageKey) {
  const s = { sink, timers: new Map(), locks: new Map(), off: [], ch: null };
  const call = (kind, id, value) => {
    try {
      s.sink(kind, id, value);
    } catch (e) {
      // The client was freed; nothing is listening any more.
    }
  };
  s.call = call;
  const on = (target, name, f) => {
    target.addEventListener(name, f);
    s.off.push(() => target.removeEventListener(name, f));
  };
  const w = typeof window === 'undefined' ? null : window;
  if (w) {
    const doc = w.document;
    on(doc, 'visibilitychange', () => doc.visibilityState === 'visible' && call(4, 0));
    on(w, 'pageshow', () => call(4, 0));
    on(w, 'online', () => call(5, 0));
    if (storageKey) {
      let local = null;
      try {
        local = w.localStorage;
      } catch (e) {
        // No storage access: no storage events either.
      }
      on(w, 'storage', (e) => {
        if (local === null || e.storageArea !== local) return;
        if (e.key === null) call(6, 1, null);
        else if (e.key === storageKey) call(6, 0, e.newValue);
      });
    }
  }
  if (crossTab) {
    try {
      s.ch = new BroadcastChannel(key);
      s.ch.onmessage = (e) => typeof e.data === 'string' && call(3, 0, e.data);
    } catch (e) {
      s.ch = null;
    }
  }
  return s;
}

const locks = () => globalThis.navigator?.locks;
export const hasChannel = (s) => s.ch !== null;
export const hasLocks = () => typeof locks()?.request === 'function';

export function post(s, text) {
  try {
    s.ch?.postMessage(text);
  } catch (e) {
    // A closed channel: the tab is going away.
  }
}

export function later(s, id, ms) {
  clearTimeout(s.timers.get(id));
  s.timers.set(id, setTimeout(() => {
    s.timers.delete(id);
    s.call(0, id);
  }, ms));
}

export function cancel(s, id) {
  clearTimeout(s.timers.get(id));
  s.timers.delete(id);
}

// mode: 0 wait in line (until aborted), 1 only if available, 2 steal.
export function lock(s, id, name, mode) {
  const c = new AbortController();
  const held = { c, release: null };
  s.locks.set(id, held);
  const options = mode === 2 ? { steal: true } : mode === 1 ? { ifAvailable: true } : { signal: c.signal };
  let p;
  try {
    p = locks().request(name, options, (l) => {
      if (l === null) {
        s.locks.delete(id);
        s.call(1, id, 0);
        return undefined;
      }
      s.call(1, id, 1);
      return new Promise((r) => {
        held.release = r;
        if (!s.locks.has(id)) r();
      });
    });
  } catch (e) {
    p = Promise.reject(e);
  }
  p.catch((e) => {
    s.locks.delete(id);
    s.call(1, id, e?.name === 'NotSupportedError' || e?.name === 'SecurityError' ? 2 : 0);
  });
}

export function abort(s, id) {
  s.locks.get(id)?.c.abort();
}

export function release(s, id) {
  const held = s.locks.get(id);
  s.locks.delete(id);
  held?.release?.();
}

export function peers(s, id, prefix, own) {
  let q;
  try {
    q = locks().query();
  } catch (e) {
    q = Promise.reject(e);
  }
  q.then((snapshot) => {
    const names = new Set();
    for (const l of snapshot?.held || []) {
      if (typeof l.name === 'string' && l.name.startsWith(prefix) && l.name !== own) names.add(l.name);
    }
    s.call(2, id, names.size);
  }, () => s.call(2, id, 0));
}

// Stops the page's signals, the channel and the wake-up timer (id 0). A refresh in flight
// keeps its locks and timers until it ends.
export function close(s) {
  for (const f of s.off) f();
  s.off = [];
  cancel(s, 0);
  if (s.ch) {
    s.ch.onmessage = null;
    s.ch.close();
    s.ch = null;
  }
}

// The session record's storage, for the wasm: area 1 sessionStorage, 2 localStorage. Each
// call throws what the browser threw (storage disabled, refused, over quota); without a
// window there is nothing to read or write.
const area = (a) => (typeof window === 'undefined' ? null : a === 1 ? window.sessionStorage : window.localStorage);
export const getItem = (a, key) => area(a)?.getItem(key) ?? null;
export const setItem = (a, key, value) => area(a)?.setItem(key, value);
export const removeItem = (a, key) => area(a)?.removeItem(key);

// The page, for the wasm. The browser's URL parser decides what a URL is: `url` gives its
// `parts`, or undefined when `text` is not a URL (relative to the page with `relative`).
const page = () => (typeof window === 'undefined' ? null : window.location);
// A URL in one string (one crossing): its protocol, hostname, origin and pathname, 1 or 0
// for a user or password, 1 or 0 for a query or fragment, then its href, each ended by a
// line feed, which the URL parser never leaves in a URL (js/client.js describes
// `auth.fetch`'s requests the same way, with the method after the href).
export const parts = (u) => `${u.protocol}\n${u.hostname}\n${u.origin}\n${u.pathname}\n${+!!(u.username || u.password)}\n${+!!(u.search || u.hash)}\n${u.href}\n`;
export function url(text, relative) {
  try {
    return parts(relative && page() ? new URL(text, page().href) : new URL(text));
  } catch (e) {
    return undefined;
  }
}
export const href = () => page()?.href;
// Throws what `location.assign` threw.
export const assign = (to) => page().assign(to);
// Removes the query parameters `names` (separated by spaces) from the address bar, keeping
// the rest of the URL, every other parameter as it was written (`searchParams` would write
// the whole query again: `a%20b` as `a+b`, `flag` as `flag=`) and the history entry's state.
export function dropParams(names) {
  const u = new URL(page().href);
  const drop = names.split(' ');
  u.search = u.search
    .slice(1)
    .split('&')
    .filter((p) => {
      const n = p.split('=')[0].replace(/\+/g, ' ');
      try {
        return p && !drop.includes(decodeURIComponent(n));
      } catch (e) {
        return !drop.includes(n);
      }
    })
    .join('&');
  try {
    history.replaceState(history.state, '', u.href);
  } catch (e) {
    // A page whose history refuses the change keeps its URL.
  }
}
// `n` bytes from `crypto.getRandomValues` (throws where there is no WebCrypto).
export const random = (n) => globalThis.crypto.getRandomValues(new Uint8Array(n));

// `v` when it is a string, `undefined` otherwise: read as `Option<String>` by the wasm,
// whose glue then copies it without the `Box<[u8]>` path of `JsValue::as_string`.
export const str = (v) => (typeof v === 'string' ? v : undefined);
// One string member of a thrown value (`undefined` otherwise, also when reading throws).
export function field(e, k) {
  try {
    const v = e[k];
    return typeof v === 'string' ? v : undefined;
  } catch (x) {
    return undefined;
  }
}
