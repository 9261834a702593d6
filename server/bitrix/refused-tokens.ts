import { isAxiosError, type AxiosInstance } from 'axios';

/** The 401 error codes on which the SDK asks for a token refresh (b24jssdk core/http/abstract-http.ts `_isAuthError`). */
const AUTH_ERRORS = new Set(['expired_token', 'invalid_token']);

function accessTokenSent(data: unknown): string | undefined {
  let body = data;
  if (typeof body === 'string') {
    try {
      body = JSON.parse(body) as unknown;
    } catch {
      return undefined;
    }
  }
  const auth = typeof body === 'object' && body !== null ? (body as { auth?: unknown }).auth : undefined;
  return typeof auth === 'string' ? auth : undefined;
}

export interface RefusedTokens {
  /** Notes, on the portal's SDK axios instance, every access token Bitrix24 answers 401 expired/invalid for. */
  watch(instance: AxiosInstance, memberId: string): void;
  /** Whether Bitrix24 refused this access token of the portal. */
  has(memberId: string, accessToken: string): boolean;
  /** Whether any refusal of the portal's tokens was noted since the last clear. */
  any(memberId: string): boolean;
  /** After a refresh: the refused tokens are all older than the one now in use. */
  clear(memberId: string): void;
}

/**
 * Which access tokens Bitrix24 refused, so a refresh is asked for only when the token in use is the refused one.
 * The SDK coalesces the 401s that arrive while a refresh runs, but a request sent with the old token whose 401
 * arrives after that refresh settled asks for a second one: with single-use refresh tokens that rotates the pair
 * again for nothing (and on several instances, a refresh another instance must then catch up with).
 */
export function createRefusedTokens(): RefusedTokens {
  const refused = new Map<string, Set<string>>();
  return {
    watch(instance, memberId) {
      instance.interceptors.response.use(undefined, (err: unknown) => {
        if (isAxiosError(err) && err.response?.status === 401) {
          const code = (err.response.data as { error?: unknown } | undefined)?.error;
          const token = typeof code === 'string' && AUTH_ERRORS.has(code) ? accessTokenSent(err.config?.data) : undefined;
          if (token !== undefined) {
            const tokens = refused.get(memberId) ?? new Set<string>();
            tokens.add(token);
            refused.set(memberId, tokens);
          }
        }
        throw err;
      });
    },
    has: (memberId, accessToken) => refused.get(memberId)?.has(accessToken) ?? false,
    any: (memberId) => (refused.get(memberId)?.size ?? 0) > 0,
    clear: (memberId) => void refused.delete(memberId),
  };
}
