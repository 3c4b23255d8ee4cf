// `tokenward/react`: needs React 18 or later (an optional peer dependency of this entry only).
import type { ReactElement, ReactNode } from 'react';
import type { TokenClient, TokenClientOptions, TokenStatus } from 'tokenward';

export interface TokenwardProviderProps {
  /** Read once, when the provider mounts. */
  options?: TokenClientOptions;
  children?: ReactNode;
}

/**
 * Creates one client for its subtree (one also under `<StrictMode>`) and disposes it when
 * the provider unmounts. If `createTokenClient` rejects, the error is thrown to the
 * nearest error boundary.
 */
export function TokenwardProvider(props: TokenwardProviderProps): ReactElement;

/** The provider's client, or null until it is created. Throws outside a provider. */
export function useTokenClient(): TokenClient | null;

/** What `useSession()` returns; the same object until one of its values changes. */
export interface Session {
  readonly status: TokenStatus;
  /** ms since epoch. */
  readonly expiresAt: number | null;
  readonly claims: Record<string, unknown> | null;
  readonly idClaims: Record<string, unknown> | null;
}

/**
 * The session of the provider's client, through `useSyncExternalStore`: re-renders on
 * `change` events only. Signed out (all null) until the client is created.
 */
export function useSession(): Session;
