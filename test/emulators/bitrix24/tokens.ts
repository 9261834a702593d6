/**
 * Token issuing as the OAuth server does it: access token lives `accessTokenTtlSec` (3600 in Bitrix24),
 * the refresh token rotates on every refresh (the old one is then refused with invalid_grant).
 * https://apidocs.bitrix24.com/settings/oauth/index.html
 */
import { randomBytes } from 'node:crypto';
import type { AccessToken, EmulatorState, Portal } from './state.js';

export function randomHex(bytes: number): string {
  return randomBytes(bytes).toString('hex');
}

export interface IssuedTokens {
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
  expires: number;
  userId: number;
}

/** `clientId`: a token of another application installed on the same portal (default: ours). */
export function issueTokens(state: EmulatorState, portal: Portal, userId: number, kind: 'app' | 'frame', clientId?: string): IssuedTokens {
  const ttl = state.config.accessTokenTtlSec;
  const access: AccessToken = {
    // Real tokens are 70-ish lowercase hex-like characters; the length does not matter to clients.
    token: randomHex(35),
    memberId: portal.memberId,
    userId,
    kind,
    expiresAt: Date.now() + ttl * 1000,
    ...(clientId === undefined ? {} : { clientId }),
  };
  const refreshToken = randomHex(35);
  state.accessTokens.set(access.token, access);
  state.refreshTokens.set(refreshToken, { token: refreshToken, memberId: portal.memberId, userId, kind, ...(clientId === undefined ? {} : { clientId }) });
  state.issuedTokens.push(access.token, refreshToken);
  return {
    accessToken: access.token,
    refreshToken,
    expiresIn: ttl,
    expires: Math.floor(access.expiresAt / 1000),
    userId,
  };
}

export function expireAccessTokens(state: EmulatorState, memberId: string): number {
  let count = 0;
  for (const token of state.accessTokens.values()) {
    if (token.memberId === memberId && token.expiresAt > Date.now()) {
      token.expiresAt = Date.now() - 1;
      count += 1;
    }
  }
  return count;
}

/** Uninstall revokes the app's access on that portal: every token stops working. */
export function revokePortalTokens(state: EmulatorState, memberId: string): void {
  for (const [key, token] of state.accessTokens) if (token.memberId === memberId) state.accessTokens.delete(key);
  for (const [key, token] of state.refreshTokens) if (token.memberId === memberId) state.refreshTokens.delete(key);
}
