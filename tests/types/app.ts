// Type test: compiled with `tsc --noEmit --strict` inside the throw-away app that has the
// packed package installed, importing 'tokenward' as an app does. Each `@ts-expect-error`
// fails the compile when the line it guards stops being an error.
import {
  createTokenClient, TokenwardError,
  type SignedOutReason, type TokenClient, type TokenClientOptions, type TokenEvent,
  type TokenEventName, type TokenwardErrorCode, type TokenwardServerError,
} from 'tokenward';

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false;
const check = <T extends true>(_: T): void => {};

check<Equal<SignedOutReason, 'user' | 'invalid_grant' | 'expired' | 'other_tab' | 'storage'>>(true);
check<Equal<TokenEventName, 'change' | 'refresh' | 'expired' | 'signedOut' | 'error' | 'sessionEnding'>>(true);
check<Equal<TokenEvent['type'], TokenEventName>>(true);

export async function app(): Promise<void> {
  const options: TokenClientOptions = {
    storage: 'local',
    storageKey: 'my-app',
    tokenEndpoint: 'https://auth.example/token',
    clientId: 'spa',
    attachTo: ['https://api.example/'],
    dpop: { allowBearer: true },
    sessionEndingLeadSeconds: 120,
    maxSessionAgeSeconds: 8 * 3600,
    on: {
      signedOut: (e) => { const r: SignedOutReason = e.reason; void r; },
      error: (e) => { const c: TokenwardErrorCode = e.error.code; void c; },
      sessionEnding: (e) => { const at: number = e.sessionEndsAt; void at; },
      // @ts-expect-error a 'change' event has no reason
      change: (e) => { void e.reason; },
    },
  };
  // @ts-expect-error dpop is a boolean or { allowBearer }
  const badDpop: TokenClientOptions = { dpop: 'yes' };
  void badDpop;

  const auth: TokenClient = await createTokenClient(options);

  auth.on('change', (e) => {
    const s: 'signedIn' | 'signedOut' | 'refreshing' = e.status;
    const t: 'change' | 'refresh' | 'expired' = e.type;
    void s; void t;
    // @ts-expect-error a 'change' event has no reason
    void e.reason;
    // @ts-expect-error a 'change' event has no error
    void e.error;
  });
  auth.on('signedOut', (e) => {
    const r: SignedOutReason = e.reason;
    void r;
    // @ts-expect-error a 'signedOut' event has no error
    void e.error;
  });
  auth.on('error', (e) => {
    const err: TokenwardError = e.error;
    const server: TokenwardServerError | undefined = err.server;
    if (server) {
      const status: number = server.status;
      const code: string = server.error;
      const description: string | undefined = server.error_description;
      void status; void code; void description;
    }
    void err.cause;
    // @ts-expect-error an 'error' event has no reason
    void e.reason;
  });
  const off: () => void = auth.on('sessionEnding', (e) => { const at: number = e.sessionEndsAt; void at; });
  off();
  // @ts-expect-error not an event name
  auth.on('changed', () => {});
  // A name only known at run time: the listener gets any event.
  const name = 'signedOut' as TokenEventName;
  auth.on(name, (e: TokenEvent) => { void e.type; });

  // A listener for any event narrows with a switch on `type`.
  const any = (e: TokenEvent): string => {
    switch (e.type) {
      case 'signedOut': return e.reason;
      case 'error': return e.error.code;
      case 'sessionEnding': return String(e.sessionEndsAt);
      default: return e.type;
    }
  };
  void any;

  const endsAt: number | null = auth.sessionEndsAt;
  // @ts-expect-error read-only
  auth.sessionEndsAt = 0;
  void endsAt;

  // Methods are bound: they can be taken off the client.
  const { refresh, signOut, signIn, fetch: authFetch, accessToken } = auth;
  await refresh();
  await signOut({ revoke: false });
  void signIn; void authFetch; void accessToken;

  try {
    await auth.accessToken();
  } catch (e) {
    if (e instanceof TokenwardError) {
      if (e.code === 'signed_out' || e.code === 'invalid_grant' || e.code === 'some_server_code') {
        // the code union is open to the authorization server's own codes
      }
      const server = e.server;
      // @ts-expect-error server may be absent
      void server.status;
    }
  }
  // @ts-expect-error a code is a string
  void new TokenwardError(401);
  // @ts-expect-error setTokens needs an access_token
  auth.setTokens({ token_type: 'Bearer' });

  // DPoP: the option, and the headers for transports that are not fetch.
  await createTokenClient({ dpop: true });
  await createTokenClient({ dpop: { allowBearer: true } });
  // @ts-expect-error dpop is a boolean or { allowBearer }
  await createTokenClient({ dpop: 'yes' });
  const headers: Record<string, string> = await auth.authorizationHeaders('https://api.example/x', 'POST');
  void headers;
  await auth.authorizationHeaders('/relative');
  // @ts-expect-error the URL is a string
  await auth.authorizationHeaders(42);
}
