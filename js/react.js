// `tokenward/react`: a provider that owns one client, and hooks to read it. React is an
// optional peer dependency of this entry only; the main entry never imports it.
// Plain ESM with createElement (no JSX), so it needs no build step in the app.
import {
  createContext, createElement, useContext, useEffect, useRef, useState, useSyncExternalStore,
} from 'react';
import { createTokenClient } from 'tokenward';

const NO_PROVIDER = Symbol('no TokenwardProvider');
const ClientContext = createContext(NO_PROVIDER);

/**
 * Creates one client for its subtree. The client is created in an effect, never during
 * render, and kept in a ref: under <StrictMode> the effect runs mount → unmount → mount on
 * the same instance, so the first unmount only schedules the dispose and the remount that
 * follows at once cancels it. A real unmount disposes the client (also one that is still
 * being created). `options` is read once, when the provider mounts.
 */
export function TokenwardProvider({ options, children }) {
  const holder = useRef(null);
  const optionsRef = useRef(options);
  const [client, setClient] = useState(null);
  const [error, setError] = useState(null);

  useEffect(() => {
    let h = holder.current;
    if (h && h.disposeTimer !== null) {
      clearTimeout(h.disposeTimer); // the StrictMode remount: keep the same client
      h.disposeTimer = null;
    }
    if (!h) {
      h = { client: null, disposed: false, disposeTimer: null, ready: null };
      holder.current = h;
      const made = h;
      h.ready = createTokenClient(optionsRef.current).then((c) => {
        if (made.disposed) {
          c.dispose();
          return null;
        }
        made.client = c;
        return c;
      });
    }
    let live = true;
    h.ready.then(
      (c) => { if (live && c) setClient(c); },
      (e) => { if (live) setError({ e }); },
    );
    const mine = h;
    return () => {
      live = false;
      mine.disposeTimer = setTimeout(() => {
        mine.disposeTimer = null;
        mine.disposed = true;
        if (holder.current === mine) holder.current = null;
        mine.client?.dispose();
      }, 0);
    };
  }, []);

  // createTokenClient rejected (e.g. invalid_options): let an error boundary show it.
  if (error) throw error.e;
  return createElement(ClientContext.Provider, { value: client }, children);
}

/** The provider's client, or null until it is created. */
export function useTokenClient() {
  const client = useContext(ClientContext);
  if (client === NO_PROVIDER) throw new Error('useTokenClient and useSession need a <TokenwardProvider> above them');
  return client;
}

const NO_SESSION = Object.freeze({ status: 'signedOut', expiresAt: null, claims: null, idClaims: null });
const noop = () => {};
const subscribeNothing = () => noop;
const getNoSession = () => NO_SESSION;

const same = (a, b) => a === b || JSON.stringify(a) === JSON.stringify(b);

// One store per client, shared by every useSession(): it listens to `change` while
// someone is subscribed, and keeps the snapshot object until a value in it changes.
const stores = new WeakMap();
function sessionStore(client) {
  let store = stores.get(client);
  if (store) return store;
  let snapshot = null;
  let stale = true;
  const listeners = new Set();
  let unsubscribe = null;
  const read = () => {
    const next = {
      status: client.status,
      expiresAt: client.expiresAt,
      claims: client.claims,
      idClaims: client.idClaims,
    };
    if (snapshot && next.status === snapshot.status && next.expiresAt === snapshot.expiresAt
      && same(next.claims, snapshot.claims) && same(next.idClaims, snapshot.idClaims)) return;
    snapshot = Object.freeze(next);
  };
  store = {
    subscribe(listener) {
      listeners.add(listener);
      if (!unsubscribe) {
        unsubscribe = client.on('change', () => {
          stale = true;
          for (const l of [...listeners]) l();
        });
      }
      return () => {
        listeners.delete(listener);
        if (listeners.size === 0 && unsubscribe) {
          unsubscribe();
          unsubscribe = null;
          stale = true; // no events while nobody listens: read again next time
        }
      };
    },
    getSnapshot() {
      if (stale || !unsubscribe) {
        read();
        stale = !unsubscribe;
      }
      return snapshot;
    },
  };
  stores.set(client, store);
  return store;
}

/**
 * `{ status, expiresAt, claims, idClaims }` of the provider's client, re-rendering on
 * `change` only. Before the client exists: signed out, everything null.
 */
export function useSession() {
  const client = useTokenClient();
  const store = client ? sessionStore(client) : null;
  return useSyncExternalStore(
    store ? store.subscribe : subscribeNothing,
    store ? store.getSnapshot : getNoSession,
    store ? store.getSnapshot : getNoSession,
  );
}
