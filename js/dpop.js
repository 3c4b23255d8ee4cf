// DPoP's browser work, called by src/browser/dpop.rs (one call per operation, each a
// promise that settles): the WebCrypto P-256 key pair, made with `extractable: false` so
// that the private key can sign but its bytes can never be read, exported or logged; its
// place in IndexedDB under the client's `storageKey` (a CryptoKey survives structured
// cloning, so every tab and every reload use the same key; with sessionStorage and no
// crossTab, where each tab has a session of its own, each tab its own key); with memory
// storage, the key kept in memory, handed to another tab that adopted the session over a
// BroadcastChannel and parked in IndexedDB only across a sign-in's redirect. Only the
// public key is ever exported. What a proof says (header, claims, thumbprint, nonces) is
// decided in Rust.

const DB = 'tokenward-dpop';
const STORE = 'keys';
const ASK = 'ask';
// How long a memory-mode tab waits for another tab to hand over the key.
const ASK_WAIT_MS = 1000;

const subtle = () => globalThis.crypto.subtle;

// A settled IDBRequest: its result, or its error.
const settled = (r) => new Promise((ok, no) => {
  r.onsuccess = () => ok(r.result);
  r.onerror = () => no(r.error);
});

// One request on the key store, in its own transaction.
async function idb(mode, request) {
  const open = indexedDB.open(DB, 1);
  open.onupgradeneeded = () => open.result.createObjectStore(STORE);
  const db = await settled(open);
  try {
    return await settled(request(db.transaction(STORE, mode).objectStore(STORE)));
  } finally {
    db.close();
  }
}
const get = (name) => idb('readonly', (s) => s.get(name));
const del = (name) => idb('readwrite', (s) => s.delete(name)).catch(() => {});

// Memory mode: the key of another tab of the app (the one the session came from), or
// undefined when none answers in time.
function ask(channel) {
  return new Promise((ok) => {
    let c;
    try {
      c = new BroadcastChannel(channel);
    } catch {
      ok();
      return;
    }
    const done = (pair) => {
      clearTimeout(timer);
      c.close();
      ok(pair);
    };
    const timer = setTimeout(done, ASK_WAIT_MS);
    c.onmessage = (e) => {
      if (e.data && typeof e.data === 'object') done(e.data);
    };
    c.postMessage(ASK);
  });
}

const usable = (pair) => pair?.privateKey instanceof CryptoKey && pair.publicKey instanceof CryptoKey;

/** SHA-256 of `data` (a Uint8Array). */
export async function digest(data) {
  return new Uint8Array(await subtle().digest('SHA-256', data));
}

// A tab's own key name (sessionStorage without crossTab: each tab has its own session):
// `storageKey#id`, the id kept in this tab's sessionStorage so that a reload finds the key.
function ownTab(name) {
  const at = `${name}:dpop-tab`;
  try {
    let id = sessionStorage.getItem(at);
    if (!id) sessionStorage.setItem(at, (id = crypto.randomUUID()));
    return `${name}#${id}`;
  } catch {
    return name;
  }
}

/**
 * The DPoP key of one client (`storageKey` `name`; with `own`, of this tab only);
 * undefined where WebCrypto or IndexedDB is missing.
 */
export function dpopKeys(name, memory, own) {
  try {
    if (!globalThis.crypto?.subtle || !globalThis.indexedDB) return undefined;
  } catch {
    return undefined;
  }
  return new Keys(name, memory, own ? ownTab(name) : name);
}

class Keys {
  #name;
  #memory;
  #key;
  #pair = null;
  #raw = null;
  #loading = null;
  #channel = null;

  constructor(name, memory, key) {
    this.#name = name;
    this.#memory = memory;
    this.#key = key;
    // Memory mode: hand the key to a tab that asks (it adopted the session from us).
    if (memory) {
      try {
        this.#channel = new BroadcastChannel(`${name}:dpop`);
        this.#channel.onmessage = (e) => {
          if (e.data === ASK && this.#pair) this.#channel.postMessage(this.#pair);
        };
      } catch {
        this.#channel = null;
      }
    }
  }

  // Where the key is stored: under `storageKey` (or this tab's name), or (memory mode)
  // parked for a sign-in.
  get #stored() {
    return this.#memory ? `${this.#name}:signin` : this.#key;
  }

  async #load(hasSession) {
    const name = this.#stored;
    let pair = this.#memory && hasSession ? await ask(`${this.#name}:dpop`) : undefined;
    if (!pair) {
      pair = await get(name);
      // A key parked across the sign-in's redirect is taken out.
      if (this.#memory && pair) await del(name);
    }
    if (!pair) {
      const made = await subtle().generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']);
      // `add` fails when another tab stored its key first: then that one is used.
      pair = this.#memory ? made : await idb('readwrite', (s) => s.add(made, name)).then(() => made, () => get(name));
    }
    if (!usable(pair)) throw new Error('the stored DPoP key is unusable');
    const raw = new Uint8Array(await subtle().exportKey('raw', pair.publicKey));
    // Another call of this client may have finished first: one key per client.
    if (!this.#pair) [this.#pair, this.#raw] = [pair, raw];
    return this.#raw;
  }

  /** The public key, raw (65 bytes: 0x04 ‖ x ‖ y); the pair is loaded or made on first use. */
  async key(hasSession) {
    if (this.#pair) return this.#raw;
    const loading = this.#loading ?? (this.#loading = this.#load(hasSession));
    try {
      return await loading;
    } finally {
      if (this.#loading === loading) this.#loading = null;
    }
  }

  /** The ECDSA P-256 / SHA-256 signature of `data` (r ‖ s) with the loaded key. */
  async sign(data) {
    if (!this.#pair) throw new Error('the DPoP key is not loaded');
    const signature = await subtle().sign({ name: 'ECDSA', hash: 'SHA-256' }, this.#pair.privateKey, data);
    return new Uint8Array(signature);
  }

  /** Memory mode: parks the key in IndexedDB across the sign-in's redirect. */
  async park() {
    if (!this.#memory) return;
    if (!this.#pair) throw new Error('the DPoP key is not loaded');
    const pair = this.#pair;
    await idb('readwrite', (s) => s.put(pair, this.#stored));
  }

  /**
   * The session ended: the key is deleted, here and in IndexedDB (never rejects). With
   * `onlyMine` (another tab ended the session), the stored key is deleted only when it
   * is the one this client used: a late message must not delete the key of a session
   * signed in since.
   */
  async forget(onlyMine) {
    const raw = this.#raw;
    this.#pair = this.#raw = this.#loading = null;
    if (onlyMine) {
      if (!raw) return;
      try {
        const stored = await get(this.#stored);
        if (usable(stored)) {
          const other = new Uint8Array(await subtle().exportKey('raw', stored.publicKey));
          if (other.length !== raw.length || other.some((b, i) => b !== raw[i])) return;
        }
      } catch {
        // Unreadable: deleted below.
      }
    }
    await del(this.#stored);
  }

  /** `dispose()`: other tabs no longer get the key from this client. */
  close() {
    if (this.#channel) {
      this.#channel.onmessage = null;
      this.#channel.close();
      this.#channel = null;
    }
  }
}
