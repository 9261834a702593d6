import axios from 'axios';
import type { Logger } from '../log.js';
import type { Store } from '../store/types.js';
import type { Portal } from '../store/records.js';
import { BitrixError } from './types.js';
import { bitrixError } from './errors.js';
import type { BitrixTransport } from './guarded-transport.js';

/** What the OAuth server answers to grant_type=refresh_token (reference §1.4). */
export interface TokenAnswer {
  access_token: string;
  refresh_token: string;
  /** Epoch seconds, as a string: the SDK's HandlerRefreshAuth shape (it parseInt()s them). */
  expires: string;
  expires_in: string;
  client_endpoint: string;
  server_endpoint: string;
  member_id: string;
  scope: string;
  status: string;
  domain: string;
}

export interface AppCredentials {
  clientId: string;
  clientSecret: string;
}

/** OAuth answers meaning the refresh token is gone for good: only a re-install gives a new one. */
const TERMINAL_OAUTH_ERRORS = new Set(['invalid_grant', 'invalid_token', 'NO_AUTH_FOUND']);
/** The OAuth server refused OUR credentials: an operator's config error, which a reinstall would not cure. */
const CLIENT_ERRORS = new Set(['invalid_client', 'wrong_client']);

export const needsReinstallError = (memberId: string, reason: string) =>
  new BitrixError('PORTAL_NEEDS_REINSTALL', `portal ${memberId}: Bitrix24 refused the app's tokens (${reason}); an admin must reinstall the app`, 401, false);

/**
 * The OAuth server's origin from the portal's stored server_endpoint (e.g. https://oauth.bitrix.info/rest/ →
 * https://oauth.bitrix.info); the token endpoint is `<origin>/oauth/token/` (https://apidocs.bitrix24.com/settings/oauth/index.html).
 */
export function tokenUrl(serverEndpoint: string): string {
  const url = new URL(serverEndpoint);
  return `${url.origin}/oauth/token/`;
}

function readAnswer(data: unknown): Record<string, unknown> {
  return typeof data === 'object' && data !== null ? data as Record<string, unknown> : {};
}

/** Marks the portal so status shows it and every later call fails fast (no refresh loop). */
export async function markNeedsReinstall(store: Store, log: Logger, memberId: string, reason: string, now: number): Promise<void> {
  const portal = store.portals.get(memberId);
  if (!portal || portal.needsReinstall) return;
  await store.portals.update(memberId, { needsReinstall: { at: now, reason }, updatedAt: now });
  log.error({ portal: memberId, reason }, 'Bitrix24 refused the refresh token: the portal needs a reinstall');
}

/**
 * One refresh of the portal's tokens. The rotated refresh token is persisted (PortalsRepository.update resolves
 * once durable) BEFORE the new access token is handed back, so a crash right after leaves a usable refresh token
 * on disk: Bitrix24 invalidates the old one as soon as it issues the new one.
 */
export async function refreshPortalTokens(args: {
  store: Store; log: Logger; credentials: AppCredentials; portal: Portal; now: () => number; timeoutMs?: number;
  onRequest?: () => void;
  /** Guarded agents and redirects off (guarded-transport.ts); Node's defaults when absent (unit tests). */
  transport?: Pick<BitrixTransport, 'axiosOptions' | 'redirectRefused'>;
}): Promise<TokenAnswer> {
  const { store, log, credentials, portal, now } = args;
  if (portal.needsReinstall) throw needsReinstallError(portal.memberId, portal.needsReinstall.reason);
  if (!portal.refreshToken) throw needsReinstallError(portal.memberId, 'no refresh token stored');
  const body = new URLSearchParams({
    grant_type: 'refresh_token',
    client_id: credentials.clientId,
    client_secret: credentials.clientSecret,
    refresh_token: portal.refreshToken,
  });
  let status: number;
  let data: Record<string, unknown>;
  try {
    args.onRequest?.();
    const res = await axios.post(tokenUrl(portal.serverEndpoint), body, {
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'User-Agent': 'pbx-bitrix24-connector' },
      timeout: args.timeoutMs ?? 15_000,
      validateStatus: () => true,
      // Never follow a redirect: it would carry client_secret and the refresh token to wherever it points.
      maxRedirects: 0,
      ...args.transport?.axiosOptions,
    });
    status = res.status;
    data = readAnswer(res.data);
    if (status >= 300 && status < 400) {
      const location: unknown = res.headers.location;
      throw args.transport?.redirectRefused(portal.memberId, 'OAuth server (token refresh)', status, location)
        ?? bitrixError('REDIRECT_REFUSED', `the OAuth server answered HTTP ${status}, a redirect; not followed`, 0);
    }
  } catch (err) {
    if (err instanceof BitrixError) throw err;
    throw bitrixError('NETWORK_ERROR', `OAuth server unreachable: ${err instanceof Error ? err.message : String(err)}`, 0);
  }
  const error = typeof data.error === 'string' ? data.error : '';
  if (error || status !== 200 || typeof data.access_token !== 'string' || typeof data.refresh_token !== 'string') {
    const reason = error || `HTTP ${status}`;
    if (TERMINAL_OAUTH_ERRORS.has(error)) {
      await markNeedsReinstall(store, log, portal.memberId, reason, now());
      throw needsReinstallError(portal.memberId, reason);
    }
    if (CLIENT_ERRORS.has(error)) {
      log.error({ portal: portal.memberId, reason }, 'the OAuth server refused B24_CLIENT_ID/B24_CLIENT_SECRET');
      throw new BitrixError('OAUTH_CLIENT_REFUSED', 'the OAuth server refused the app credentials: check B24_CLIENT_ID and B24_CLIENT_SECRET', status, false);
    }
    throw bitrixError(error || 'OAUTH_REFRESH_FAILED', `token refresh failed: ${String(data.error_description ?? reason)}`, status);
  }
  const expiresIn = Number(data.expires_in ?? 3600) || 3600;
  const nowMs = now();
  // The SDK treats `expires` (epoch seconds) as the token's end; compute it when the server leaves it out.
  const expires = Number(data.expires ?? 0) || Math.floor(nowMs / 1000) + expiresIn;
  await store.portals.update(portal.memberId, {
    accessToken: data.access_token,
    refreshToken: data.refresh_token,
    expiresAt: expires * 1000,
    updatedAt: nowMs,
  });
  log.info({ portal: portal.memberId }, 'Bitrix24 tokens refreshed and persisted');
  return storedTokenAnswer({
    ...portal,
    scope: typeof data.scope === 'string' ? data.scope : portal.scope,
    status: typeof data.status === 'string' ? data.status : portal.status,
  }, data.access_token, data.refresh_token, expires, expiresIn);
}

/**
 * The SDK's refresh answer for tokens already stored: another instance refreshed them while this one waited for
 * the portal's refresh lock (bitrix/client.ts). The REST base stays the one stored at install: a refresh answer
 * must not move us to another host.
 */
export function storedTokenAnswer(
  portal: Pick<Portal, 'clientEndpoint' | 'serverEndpoint' | 'memberId' | 'scope' | 'status' | 'domain'>,
  accessToken: string, refreshToken: string, expires: number, expiresIn = 3600,
): TokenAnswer {
  return {
    access_token: accessToken,
    refresh_token: refreshToken,
    expires: String(expires),
    expires_in: String(expiresIn),
    client_endpoint: portal.clientEndpoint,
    server_endpoint: portal.serverEndpoint,
    member_id: portal.memberId,
    scope: portal.scope,
    status: portal.status,
    domain: portal.domain,
  };
}
