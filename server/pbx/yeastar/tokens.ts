import type { Logger } from '../../log.js';
import { PbxError } from '../adapter.js';
import { TERMINAL_AUTH_CODES, unwrapEnvelope } from './envelope.js';
import type { PbxTransport } from './transport.js';

/**
 * Access tokens for one PBX API client.
 *
 * Rules from Yeastar (https://help.yeastar.com/en/p-series-software-edition/developer-guide/get-access-token.html,
 * .../authorization-rule.html): access token 30 min, refresh token 24 h, at most 8 valid tokens per API client
 * (then `60002 MAX LIMITATION EXCEEDED`), and repeated failed logins get the server's IP blocked. Hence:
 * - one request in flight at a time, shared by every caller (single-flight);
 * - refresh with `refresh_token` shortly before expiry, `get_token` only when refresh fails;
 * - the replaced token is revoked with `del_token` (after a short grace so an open socket can move over),
 *   so at most two tokens are ever alive;
 * - a refused secret / forbidden IP stops all logins until the settings change (no login storm);
 *   the token cap and network failures back off.
 */

export type TokenHealth = 'ok' | 'idle' | 'auth_failed' | 'backing_off';

export interface TokenStatus {
  health: TokenHealth;
  error?: PbxError;
  /** When the next login will be tried (backing_off). */
  retryAt?: number;
}

export interface TokenManagerOptions {
  transport: PbxTransport;
  clientId: string;
  clientSecret: string;
  log: Logger;
  now?: () => number;
  /** Refresh this long before the access token expires. */
  refreshLeadMs?: number;
  /** The replaced token stays valid this long before del_token (lets a WebSocket reconnect on the new one). */
  revokeGraceMs?: number;
  /** Wait after `60002` token cap: first, then doubling to the max. */
  tokenCapBackoffMs?: { initial: number; max: number };
  /** Wait after a network/HTTP failure of a login: first, then doubling to the max. */
  failureBackoffMs?: { initial: number; max: number };
}

export interface TokenManager {
  /** A valid access token, fetched or refreshed when needed. Rejects with PbxError (fast while backing off). */
  getToken(): Promise<string>;
  /** The PBX said this token is expired/invalid: the next getToken renews it. */
  invalidate(token: string): void;
  /** Epoch ms the current access token expires (undefined without one). */
  expiresAt(): number | undefined;
  status(): TokenStatus;
  /** Revokes every token this manager holds (on disconnect) and stops timers. */
  close(): Promise<void>;
}

interface Held {
  accessToken: string;
  accessExpiresAt: number;
  refreshToken: string;
  refreshExpiresAt: number;
}

const API = '/openapi/v1.0';

function readTokens(json: Record<string, unknown>, at: number): Held {
  const access = json['access_token'];
  const refresh = json['refresh_token'];
  if (typeof access !== 'string' || access === '') throw new PbxError('PBX_BAD_RESPONSE', 'the PBX sent no access token');
  const accessTtl = Number(json['access_token_expire_time'] ?? 1800);
  const refreshTtl = Number(json['refresh_token_expire_time'] ?? 86400);
  return {
    accessToken: access,
    accessExpiresAt: at + (Number.isFinite(accessTtl) && accessTtl > 0 ? accessTtl : 1800) * 1000,
    refreshToken: typeof refresh === 'string' ? refresh : '',
    refreshExpiresAt: at + (Number.isFinite(refreshTtl) && refreshTtl > 0 ? refreshTtl : 86400) * 1000,
  };
}

export function createTokenManager(opts: TokenManagerOptions): TokenManager {
  const now = opts.now ?? Date.now;
  const lead = opts.refreshLeadMs ?? 60_000;
  const grace = opts.revokeGraceMs ?? 10_000;
  const capBackoff = opts.tokenCapBackoffMs ?? { initial: 5 * 60_000, max: 30 * 60_000 };
  const failBackoff = opts.failureBackoffMs ?? { initial: 1_000, max: 60_000 };
  const log = opts.log;

  let held: Held | undefined;
  let inflight: Promise<string> | undefined;
  let terminal: PbxError | undefined;
  let blockedUntil = 0;
  let blockError: PbxError | undefined;
  let capFailures = 0;
  let otherFailures = 0;
  let closed = false;
  const retired = new Map<ReturnType<typeof setTimeout>, string>();

  async function revoke(token: string): Promise<void> {
    try {
      const res = await opts.transport.requestJson({ method: 'GET', path: `${API}/del_token`, query: { access_token: token } });
      unwrapEnvelope(res.status, res.json, 'revoking a token');
    } catch (err) {
      log.debug({ err: err instanceof PbxError ? err.message : String(err) }, 'PBX token revoke failed (it expires on its own)');
    }
  }

  function retire(old: Held | undefined): void {
    if (!old) return;
    const timer = setTimeout(() => {
      retired.delete(timer);
      void revoke(old.accessToken);
    }, grace);
    timer.unref?.();
    retired.set(timer, old.accessToken);
  }

  async function login(): Promise<Held> {
    const res = await opts.transport.requestJson({
      method: 'POST', path: `${API}/get_token`, body: { username: opts.clientId, password: opts.clientSecret },
    });
    return readTokens(unwrapEnvelope(res.status, res.json, 'logging in to the PBX'), now());
  }

  async function refresh(current: Held): Promise<Held> {
    const res = await opts.transport.requestJson({
      method: 'POST', path: `${API}/refresh_token`, body: { refresh_token: current.refreshToken },
    });
    return readTokens(unwrapEnvelope(res.status, res.json, 'refreshing the PBX token'), now());
  }

  function noteFailure(err: PbxError): void {
    if (TERMINAL_AUTH_CODES.has(err.code)) {
      terminal = err;
      log.warn({ code: err.code, reason: err.message }, 'PBX login refused: no more attempts until the settings change');
      return;
    }
    if (err.code === 'PBX_TOKEN_LIMIT') {
      const wait = Math.min(capBackoff.max, capBackoff.initial * 2 ** capFailures);
      capFailures += 1;
      blockedUntil = now() + wait;
      blockError = err;
      log.warn({ code: err.code, retryInMs: wait }, 'PBX token cap reached: backing off');
      return;
    }
    const wait = Math.min(failBackoff.max, failBackoff.initial * 2 ** otherFailures);
    otherFailures += 1;
    blockedUntil = now() + wait;
    blockError = err;
    log.warn({ code: err.code, reason: err.message, retryInMs: wait }, 'PBX login failed: backing off');
  }

  async function renew(): Promise<string> {
    const old = held;
    let next: Held | undefined;
    if (old && old.refreshToken !== '' && old.refreshExpiresAt > now() + 5_000) {
      try {
        next = await refresh(old);
      } catch (err) {
        // A refresh that fails is not a failed login: fall back to get_token once.
        log.info({ code: err instanceof PbxError ? err.code : 'UNKNOWN' }, 'PBX token refresh failed, logging in again');
      }
    }
    if (!next) {
      try {
        next = await login();
      } catch (err) {
        const pbxErr = err instanceof PbxError ? err : new PbxError('PBX_ERROR', String(err), err);
        noteFailure(pbxErr);
        throw pbxErr;
      }
    }
    capFailures = 0;
    otherFailures = 0;
    blockError = undefined;
    if (closed) {
      void revoke(next.accessToken);
      throw new PbxError('PBX_CLOSED', 'the PBX link was closed');
    }
    held = next;
    if (old && old.accessToken !== next.accessToken) retire(old);
    return next.accessToken;
  }

  return {
    getToken() {
      if (closed) return Promise.reject(new PbxError('PBX_CLOSED', 'the PBX link was closed'));
      if (terminal) return Promise.reject(terminal);
      if (held && held.accessExpiresAt - lead > now()) return Promise.resolve(held.accessToken);
      if (inflight) return inflight;
      if (blockError && now() < blockedUntil) return Promise.reject(blockError);
      inflight = renew().finally(() => {
        inflight = undefined;
      });
      return inflight;
    },
    invalidate(token) {
      if (held && held.accessToken === token) held = { ...held, accessExpiresAt: 0 };
    },
    expiresAt: () => held?.accessExpiresAt,
    status() {
      if (terminal) return { health: 'auth_failed', error: terminal };
      if (blockError && now() < blockedUntil) {
        return { health: blockError.code === 'PBX_TOKEN_LIMIT' ? 'auth_failed' : 'backing_off', error: blockError, retryAt: blockedUntil };
      }
      return { health: held ? 'ok' : 'idle' };
    },
    async close() {
      closed = true;
      const pending = [...retired.values()];
      for (const t of retired.keys()) clearTimeout(t);
      retired.clear();
      if (inflight) await inflight.catch(() => undefined);
      const last = held;
      held = undefined;
      await Promise.all([...pending, ...(last ? [last.accessToken] : [])].map((t) => revoke(t)));
    },
  };
}
