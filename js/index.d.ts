/** Where the session is kept. */
export type StorageMode = 'memory' | 'session' | 'local';

/** A token endpoint's answer (RFC 6749 §5.1). */
export interface TokenResponse {
  access_token: string;
  /** `Bearer` if absent (case-insensitive). */
  token_type?: string;
  /** Seconds; if absent, taken from the JWT `exp − iat` when the token is a JWT. */
  expires_in?: number;
  refresh_token?: string;
  id_token?: string;
  scope?: string;
}

export type TokenEventName = 'change' | 'refresh' | 'expired' | 'signedOut' | 'error';

export type TokenStatus = 'signedIn' | 'signedOut' | 'refreshing';

export interface TokenEvent {
  type: TokenEventName;
  status: TokenStatus;
  expiresAt: number | null;
  /** On `signedOut`: why the session ended. */
  reason?: 'user' | 'invalid_grant' | 'expired' | 'other_tab' | 'storage';
  /** On `error`. */
  error?: TokenwardError;
}

export interface TokenClientOptions {
  /** Default `'memory'`. */
  storage?: StorageMode;
  /** Default `'tokenward'`: namespaces storage, lock and channel names. */
  storageKey?: string;
  /** OAuth 2.0 token endpoint for the refresh_token grant (RFC 6749 §6). */
  tokenEndpoint?: string;
  /** Sent as `client_id` with refresh and revocation requests. */
  clientId?: string;
  /** A custom refresh instead of `tokenEndpoint`. Throw a `TokenwardError('invalid_grant')` to end the session. */
  refresh?: (refreshToken: string | null) => Promise<TokenResponse>;
  /** RFC 7009: `signOut()` revokes the refresh token there. */
  revocationEndpoint?: string;
  /** Origins or origin + path prefixes that receive the token; default: the page's own origin. */
  attachTo?: string[];
  /** Refresh this long before expiry; default 60, never more than half the token's lifetime. */
  refreshLeadSeconds?: number;
  /** Default true. */
  retryOn401?: boolean;
  /** Default true: one refresh for all tabs, shared sign-out. */
  crossTab?: boolean;
  /** Clock in ms since epoch, for tests; default `Date.now`. */
  now?: () => number;
  /** Listeners attached before the session is restored. */
  on?: Partial<Record<TokenEventName, (event: TokenEvent) => void>>;
}

export interface TokenClient {
  /** Stores a fresh token response; throws `invalid_token_response` (nothing changes then). */
  setTokens(response: TokenResponse): void;
  /** A valid access token, refreshed first when it is about to expire. */
  accessToken(): Promise<string>;
  /** `window.fetch` with `Authorization` added for URLs matching `attachTo`. */
  fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response>;
  /** Refresh now (joins a refresh already in flight). */
  refresh(): Promise<void>;
  /** Forget the session here and in every tab, revoking the refresh token unless `revoke: false`. */
  signOut(options?: { revoke?: boolean }): Promise<void>;
  /** Returns an unsubscribe function. */
  on(event: TokenEventName, listener: (event: TokenEvent) => void): () => void;
  readonly status: TokenStatus;
  /** ms since epoch. */
  readonly expiresAt: number | null;
  /** The access token's payload when it is a JWT. */
  readonly claims: Record<string, unknown> | null;
  /** Stop timers and listeners; the session stays stored. */
  dispose(): void;
}

export type TokenwardErrorCode =
  | 'invalid_options' | 'invalid_token_response' | 'invalid_grant' | 'network' | 'signed_out'
  | 'storage' | 'revocation_failed' | 'invalid_state' | 'access_denied' | 'invalid_discovery'
  | 'unsupported' | (string & {});

export class TokenwardError extends Error {
  constructor(code: TokenwardErrorCode, message?: string, options?: { cause?: unknown });
  readonly code: TokenwardErrorCode;
}

/** Loads the WebAssembly module once per page and restores any stored session. */
export function createTokenClient(options?: TokenClientOptions): Promise<TokenClient>;
