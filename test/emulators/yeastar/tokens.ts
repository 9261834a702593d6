import { randomBytes } from 'node:crypto';
import type { PbxState } from './state.js';
import type { TokenStats } from './types.js';

/**
 * Access and refresh tokens of the one API app, with the PBX's rules:
 * - access token 1800 s, refresh token 86400 s (https://help.yeastar.com/en/p-series-software-edition/developer-guide/authorization-rule.html);
 * - at most 8 valid access tokens per app; a new one only after one expires or is revoked
 *   (https://help.yeastar.com/en/p-series-software-edition/developer-guide/get-access-token.html) — answered as 60002 MAX LIMITATION EXCEEDED,
 *   the code community clients saw (omarhishambadawi/milaportal:scripts/yeastar-api-probe.mjs);
 * - consecutive failed logins from one IP block that IP (5 per the "Delete Blocked API IP" pages of YCM and S-Series; P-Series page not retrieved).
 */

interface AccessToken {
  expiresAt: number;
  revoked: boolean;
}

interface RefreshToken {
  expiresAt: number;
  used: boolean;
}

export interface IssuedTokens {
  access_token_expire_time: number;
  access_token: string;
  refresh_token_expire_time: number;
  refresh_token: string;
}

export type LoginOutcome =
  | { ok: true; tokens: IssuedTokens }
  | { ok: false; reason: 'wrong_credentials' | 'cap' | 'blocked' | 'invalid_refresh' };

export class TokenStore {
  private readonly access = new Map<string, AccessToken>();
  private readonly refresh = new Map<string, RefreshToken>();
  private readonly failuresByIp = new Map<string, number>();
  private readonly blocked = new Set<string>();
  private stats = { getTokenCalls: 0, refreshCalls: 0, revokeCalls: 0, failures: 0, capRefusals: 0 };

  constructor(private readonly state: PbxState) {}

  login(ip: string, username: unknown, password: unknown, forceWrongSecret: boolean): LoginOutcome {
    this.stats.getTokenCalls += 1;
    if (this.blocked.has(ip)) return this.fail('blocked');
    const opts = this.state.options;
    if (forceWrongSecret || username !== opts.clientId || password !== opts.clientSecret) {
      const count = (this.failuresByIp.get(ip) ?? 0) + 1;
      this.failuresByIp.set(ip, count);
      if (count >= opts.authFailuresBeforeBlock) this.blocked.add(ip);
      return this.fail('wrong_credentials');
    }
    this.failuresByIp.delete(ip);
    return this.issue();
  }

  /** refresh_token rotates the pair; the old refresh token is spent (Refresh Access Token page: "use the latest refresh token"). */
  refreshPair(ip: string, refreshToken: unknown): LoginOutcome {
    this.stats.refreshCalls += 1;
    if (this.blocked.has(ip)) return this.fail('blocked');
    const entry = typeof refreshToken === 'string' ? this.refresh.get(refreshToken) : undefined;
    if (!entry || entry.used || entry.expiresAt <= this.state.now()) return this.fail('invalid_refresh');
    const outcome = this.issue();
    if (outcome.ok) entry.used = true;
    return outcome;
  }

  revoke(token: string): boolean {
    this.stats.revokeCalls += 1;
    const entry = this.access.get(token);
    if (!entry || entry.revoked || entry.expiresAt <= this.state.now()) return false;
    entry.revoked = true;
    return true;
  }

  isValid(token: string | null | undefined): boolean {
    if (!token) return false;
    const entry = this.access.get(token);
    return entry !== undefined && !entry.revoked && entry.expiresAt > this.state.now();
  }

  isBlocked(ip: string): boolean {
    return this.blocked.has(ip);
  }

  unblockAll(): void {
    this.blocked.clear();
    this.failuresByIp.clear();
  }

  /** Expires every token at once, as a PBX restart or an admin resetting the secret would. */
  expireAll(): void {
    for (const entry of this.access.values()) entry.revoked = true;
    for (const entry of this.refresh.values()) entry.used = true;
  }

  /** Every access and refresh token ever issued (expired and revoked ones too): tests scan output for leaks. */
  issued(): string[] {
    return [...this.access.keys(), ...this.refresh.keys()];
  }

  liveCount(): number {
    const now = this.state.now();
    let live = 0;
    for (const entry of this.access.values()) if (!entry.revoked && entry.expiresAt > now) live += 1;
    return live;
  }

  snapshot(): TokenStats {
    return { live: this.liveCount(), ...this.stats, blockedIps: [...this.blocked] };
  }

  private issue(): LoginOutcome {
    const opts = this.state.options;
    if (this.liveCount() >= opts.tokenCap) {
      this.stats.capRefusals += 1;
      return this.fail('cap');
    }
    const now = this.state.now();
    const access = randomBytes(16).toString('hex');
    const refresh = randomBytes(16).toString('hex');
    this.access.set(access, { expiresAt: now + opts.accessTokenTtlSec * 1000, revoked: false });
    this.refresh.set(refresh, { expiresAt: now + opts.refreshTokenTtlSec * 1000, used: false });
    return {
      ok: true,
      tokens: {
        access_token_expire_time: opts.accessTokenTtlSec,
        access_token: access,
        refresh_token_expire_time: opts.refreshTokenTtlSec,
        refresh_token: refresh,
      },
    };
  }

  private fail(reason: 'wrong_credentials' | 'cap' | 'blocked' | 'invalid_refresh'): LoginOutcome {
    this.stats.failures += 1;
    return { ok: false, reason };
  }
}
