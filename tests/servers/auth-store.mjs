// In-memory storage for oidc-provider, one per authorization server (oidc-provider's own
// memory adapter is shared by the whole process). Tracks which tokens belong to which grant.
const GRANT_BOUND = new Set(['AccessToken', 'AuthorizationCode', 'RefreshToken']);

export function memoryStore() {
  const entries = new Map();
  const get = (key) => {
    const entry = entries.get(key);
    if (entry && entry.expiresAt && entry.expiresAt <= Date.now()) {
      entries.delete(key);
      return undefined;
    }
    return entry?.value;
  };
  const set = (key, value, expiresIn) => {
    entries.set(key, { value, expiresAt: expiresIn ? Date.now() + expiresIn * 1000 : 0 });
  };
  const revokeGrant = (grantId) => {
    for (const key of get(`grantKeys:${grantId}`) ?? []) entries.delete(key);
    entries.delete(`grantKeys:${grantId}`);
    entries.delete(`Grant:${grantId}`);
  };

  class Adapter {
    constructor(model) { this.model = model; }

    key(id) { return `${this.model}:${id}`; }

    async upsert(id, payload, expiresIn) {
      const key = this.key(id);
      if (this.model === 'Session') set(`sessionUid:${payload.uid}`, id, expiresIn);
      if (GRANT_BOUND.has(this.model) && payload.grantId) {
        const keys = get(`grantKeys:${payload.grantId}`) ?? [];
        keys.push(key);
        set(`grantKeys:${payload.grantId}`, keys);
      }
      set(key, payload, expiresIn);
    }

    async find(id) { return get(this.key(id)); }

    async findByUid(uid) {
      const id = get(`sessionUid:${uid}`);
      return id === undefined ? undefined : this.find(id);
    }

    async findByUserCode() { return undefined; }

    async consume(id) {
      const payload = get(this.key(id));
      if (payload) payload.consumed = Math.floor(Date.now() / 1000);
    }

    async destroy(id) { entries.delete(this.key(id)); }

    async revokeByGrantId(grantId) { revokeGrant(grantId); }
  }

  return { Adapter, get, set, revokeGrant };
}
