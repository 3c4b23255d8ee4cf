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

export type TokenEventName = 'change' | 'refresh' | 'expired' | 'signedOut' | 'error' | 'sessionEnding';

export type TokenStatus = 'signedIn' | 'signedOut' | 'refreshing';

/** Why a session ended (`signedOut` events). */
export type SignedOutReason = 'user' | 'invalid_grant' | 'expired' | 'other_tab' | 'storage';

/** What every event carries. */
export interface EventBase {
  status: TokenStatus;
  expiresAt: number | null;
}

/**
 * An event, discriminated on `type`. (`change`, `refresh` and `expired` carry the same
 * fields; they are separate members so that `Extract<TokenEvent, { type: 'change' }>`
 * names one of them.)
 */
export type TokenEvent =
  | (EventBase & { type: 'change' })
  | (EventBase & { type: 'refresh' })
  | (EventBase & { type: 'expired' })
  | (EventBase & { type: 'signedOut'; reason: SignedOutReason })
  | (EventBase & { type: 'error'; error: TokenwardError })
  | (EventBase & { type: 'sessionEnding'; sessionEndsAt: number });

/** The event a listener for `K` receives. */
export type TokenEventOf<K extends TokenEventName> = Extract<TokenEvent, { type: K }>;

/** A listener for the events named `K`. */
export type TokenEventListener<K extends TokenEventName = TokenEventName> = (event: TokenEventOf<K>) => void;

export interface TokenClientOptions {
  /** Default `'memory'`. */
  storage?: StorageMode;
  /**
   * Namespaces storage, lock and channel names. Default: derived from the issuer (or
   * `tokenEndpoint`) and `clientId`, so two apps on one origin never share a session;
   * `'tokenward'` when neither is given.
   */
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
  /**
   * RFC 9449 sender-constrained tokens; default false. One non-extractable P-256 key per
   * `storageKey` (IndexedDB; in memory with `storage: 'memory'`), proofs on token requests
   * and on attached requests with a `DPoP` token, `dpop_jkt` on sign-in. A `Bearer` answer
   * is refused (`invalid_token_response`) unless `allowBearer`. `createTokenClient`
   * rejects with `unsupported` where WebCrypto or IndexedDB is missing.
   */
  dpop?: boolean | { allowBearer?: boolean };
  /** `sessionEnding` fires this long before the session can no longer be refreshed; default 60. */
  sessionEndingLeadSeconds?: number;
  /** An app-given ceiling on the session's age. */
  maxSessionAgeSeconds?: number;
  /**
   * Listeners attached before the session is restored, so they also see what happens
   * inside `createTokenClient`. Each gets the event of its own type.
   */
  on?: { [K in TokenEventName]?: TokenEventListener<K> };
  /**
   * OpenID Provider for `signIn()`: endpoints not given explicitly come from
   * `${issuer}/.well-known/openid-configuration`, fetched when first needed and reused
   * (also the token endpoint for refreshing, and the revocation endpoint for `signOut()`).
   */
  issuer?: string;
  /** Instead of the discovered `authorization_endpoint`. */
  authorizationEndpoint?: string;
  /** Instead of the discovered `end_session_endpoint` (for `signOut({ endSession: true })`). */
  endSessionEndpoint?: string;
  /** Default: the page's URL without query and fragment. */
  redirectUri?: string;
  /** Default `'openid'`; with `openid` a token response must carry an ID token. */
  scope?: string;
}

/** Options of `signIn()`. */
export interface SignInOptions {
  /** Instead of the client's `scope`. */
  scope?: string;
  prompt?: string;
  loginHint?: string;
  /** Other authorization request parameters; those the client sets itself are refused. */
  extraParams?: Record<string, string>;
}

/** Options of `signOut()`. */
export interface SignOutOptions {
  /** Default true: revoke the refresh token first when a revocation endpoint is known. */
  revoke?: boolean;
  /**
   * Then send the page to the provider's end-session endpoint (OpenID Connect
   * RP-Initiated Logout) with `id_token_hint` and `client_id`, ending the provider's
   * session too. Failures are `error` events; the local sign-out always happens.
   */
  endSession?: boolean;
  /** Where the provider sends the user after ending its session (must be registered there). */
  postLogoutRedirectUri?: string;
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
  /**
   * The headers `fetch` would add to a `method` request to `url` (`Authorization`, and with
   * a DPoP token a fresh one-time `DPoP` proof), for transports that are not `fetch`
   * (XMLHttpRequest, axios, an `EventSource` polyfill). `{}` for a URL outside `attachTo`
   * or when signed out. `method` defaults to `'GET'`; a proof is bound to the method and
   * to the URL without query and fragment, and is good for one request.
   */
  authorizationHeaders(url: string, method?: string): Promise<Record<string, string>>;
  /** Forget the session here and in every tab, revoking the refresh token unless `revoke: false`. */
  signOut(options?: SignOutOptions): Promise<void>;
  /** Returns an unsubscribe function. The listener gets the event of type `K`. */
  on<K extends TokenEventName>(event: K, listener: (event: Extract<TokenEvent, { type: K }>) => void): () => void;
  readonly status: TokenStatus;
  /** ms since epoch. */
  readonly expiresAt: number | null;
  /** The access token's payload when it is a JWT. */
  readonly claims: Record<string, unknown> | null;
  /** When the session can no longer be refreshed (ms since epoch), when known. */
  readonly sessionEndsAt: number | null;
  /**
   * Redirects the page to the authorization endpoint with PKCE (S256), `state` and
   * `nonce`. Never settles (the page navigates away); rejects when the sign-in cannot
   * start (`invalid_options`, `invalid_discovery`, `network`, `unsupported`, `storage`).
   */
  signIn(options?: SignInOptions): Promise<never>;
  /**
   * On the redirect URI: validates `state` (and `iss`, RFC 9207), exchanges the code,
   * stores the tokens and removes the response from the address bar. Resolves false when
   * the URL carries no authorization response. Rejects with `invalid_state`,
   * `access_denied`, the server's `error` code or `invalid_token_response`; nothing is
   * stored then. `createTokenClient` calls it itself on the redirect URI.
   */
  handleRedirect(): Promise<boolean>;
  /** The ID token's payload, after checking `iss`, `aud`, `exp` and `nonce`. */
  readonly idClaims: Record<string, unknown> | null;
  /** Stop timers and listeners; the session stays stored. */
  dispose(): void;
}

/** The codes tokenward documents, open to an authorization server's own `error` code. */
export type TokenwardErrorCode =
  | 'invalid_options' | 'invalid_token_response' | 'invalid_grant' | 'network' | 'signed_out'
  | 'storage' | 'revocation_failed' | 'invalid_state' | 'access_denied' | 'invalid_discovery'
  | 'unsupported' | (string & {});

/** A server's error answer (RFC 6749 §5.2). */
export interface TokenwardServerError {
  error: string;
  error_description?: string;
  /** The HTTP status of the answer. */
  status: number;
}

export class TokenwardError extends Error {
  constructor(code: TokenwardErrorCode, message?: string, options?: { cause?: unknown });
  readonly code: TokenwardErrorCode;
  /** The server's answer, where there is one. */
  readonly server?: TokenwardServerError;
  /** The underlying error, or the server's `error`/`error_description`, where there is one. */
  readonly cause?: unknown;
}

/** Loads the WebAssembly module once per page and restores any stored session. */
export function createTokenClient(options?: TokenClientOptions): Promise<TokenClient>;
