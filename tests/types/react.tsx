// Type test of `tokenward/react`, as a React app in TypeScript would use it (JSX with the
// automatic runtime). React's types come from the repo's pinned @types/react.
import { StrictMode, type ReactElement } from 'react';
import { TokenwardProvider, useSession, useTokenClient, type Session } from 'tokenward/react';
import type { TokenClient } from 'tokenward';

function Profile(): ReactElement {
  const auth: TokenClient | null = useTokenClient();
  const session: Session = useSession();
  const status: 'signedIn' | 'signedOut' | 'refreshing' = session.status;
  const expiresAt: number | null = session.expiresAt;
  const sub = session.idClaims?.sub ?? session.claims?.sub;
  void status; void expiresAt;
  // @ts-expect-error the client is null until it is created
  void auth.status;
  // @ts-expect-error a session is read-only
  session.status = 'signedIn';
  if (!auth) return <p>loading</p>;
  return <button type="button" onClick={() => { void auth.signOut(); }}>{String(sub)}</button>;
}

export const app = (
  <StrictMode>
    <TokenwardProvider options={{ issuer: 'https://auth.example', clientId: 'spa', storage: 'local' }}>
      <Profile />
    </TokenwardProvider>
  </StrictMode>
);

// @ts-expect-error not a storage mode
export const wrong = <TokenwardProvider options={{ storage: 'cookie' }} />;
