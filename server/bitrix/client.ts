import { createHash } from 'node:crypto';
import {
  ApiVersion, AuthOAuthManager, HttpV2,
  type AjaxResult, type AuthActions, type AuthData, type RestrictionParams,
} from '@bitrix24/b24jssdk';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import type { Portal } from '../store/records.js';
import type { Store } from '../store/types.js';
import { BitrixError, type BatchCommand, type BatchResult, type BitrixClient, type BitrixClients } from './types.js';
import { toBitrixError } from './errors.js';
import { markNeedsReinstall, needsReinstallError, refreshPortalTokens, storedTokenAnswer, type TokenAnswer } from './oauth.js';
import { batchCommandLine } from './query.js';
import { asRecord, readBatchAnswer, sdkStatus } from './answers.js';
import { expectedAppCode, FRAME_CHECK_BATCH, readFrameCheck, type FrameProfile } from './frame-check.js';
import { MAX_IN_FLIGHT, PortalCoalescer, TokenBucket, type RateBucket } from './coalesce.js';
import { SharedTokenBucket } from './shared-bucket.js';
import { createBitrixTransport } from './guarded-transport.js';
import { createRefusedTokens } from './refused-tokens.js';
import { planForPortal, restrictionFor, type RatePlan } from './rate-plan.js';

export interface BitrixClientsOptions {
  store: Store;
  config: Config;
  log: Logger;
  now?: () => number;
  /** Overrides of the SDK's retry/limit params (tests: fewer retries, shorter delays). */
  restriction?: Partial<RestrictionParams>;
  /** Per-request timeout, ms. */
  timeoutMs?: number;
}

export type { FrameProfile } from './frame-check.js';

/** The portal address a frame or installing token is checked on (a stored portal, or an install the OAuth server confirmed). */
export type FrameTarget = Pick<Portal, 'memberId' | 'scope' | 'domain' | 'clientEndpoint' | 'serverEndpoint' | 'status'>;

export interface PortalBitrixClients extends BitrixClients {
  /** Drops the cached SDK instance: call after install stored new tokens, or uninstall removed them. */
  forget(memberId: string): void;
  /**
   * `profile` + `app.info` in one batch with a user's token, on that portal's own REST base: the user, whether they are
   * an admin, and (when our app's CODE is known) that the token was issued to our app (frame-check.ts).
   */
  profileOf(portal: FrameTarget, accessToken: string): Promise<FrameProfile>;
  /** Bitrix24 REST errors seen so far (metrics). */
  errorCount(memberId?: string): number;
}

interface Transport {
  http: HttpV2;
  plan: RatePlan;
  builtFrom: string;
}

const MAX_BATCH = 50;

/**
 * Inbound-webhook auth for the SDK's HttpV2. Why not B24Hook: its AuthHookManager rebuilds the base URL as
 * `https://<host>/rest/…` (hook/auth.ts), dropping the scheme and port the admin pasted; we keep the URL as given
 * so any Bitrix24 (or a box on plain http) is reached exactly at its own address.
 */
function webhookAuth(webhookUrl: string, memberId: string): AuthActions {
  const base = webhookUrl.replace(/\/+$/, '');
  const url = new URL(base);
  const code = base.split('/').pop() ?? '';
  const data: AuthData = { access_token: code, refresh_token: 'hook', expires: 0, expires_in: 0, domain: url.host, member_id: memberId };
  return {
    getAuthData: () => data,
    refreshAuth: () => Promise.resolve(data),
    getUniq: (prefix: string) => `${prefix}_${memberId}`,
    isAdmin: true,
    getTargetOrigin: () => url.origin,
    getTargetOriginWithPath: () => new Map([[ApiVersion.v2, base], [ApiVersion.v3, base.replace('/rest/', '/rest/api/')]]),
  };
}

/** Far above any Bitrix24 plan: the SDK's leaky bucket never holds a request. */
const UNMETERED = { burstLimit: 1_000_000, drainRate: 1_000_000 };

/**
 * The SDK's limits with its leaky bucket opened up; its operating-time limiter, adaptive delays and its handling of
 * QUERY_LIMIT_EXCEEDED stay. Why: every request of a portal is already metered by the coalescer's bucket (the same
 * figures, limits.md), which forms each batch when its token is there. A second bucket in the SDK drifted out of step
 * with it (it restarts full on every rebuild, counts its own retries) and held a request our bucket had let out for
 * up to one more token: under sustained load each screen pop waited ~0.5 s inside the SDK (bench/, issue 7).
 */
export function unmetered(restriction: RestrictionParams): RestrictionParams {
  return { ...restriction, rateLimit: { adaptiveEnabled: restriction.rateLimit?.adaptiveEnabled ?? true, ...UNMETERED } };
}

function firstError(res: AjaxResult): unknown {
  for (const e of res.getErrors()) return e;
  return new BitrixError('ERROR_UNEXPECTED_ANSWER', 'Bitrix24 answered without result', 0, true);
}

/** A 200 answer can still carry `{error}` (e.g. some CRM methods); the SDK reports it as not successful. */
function resultOf<T>(res: AjaxResult): { result: T } {
  if (!res.isSuccess) throw toBitrixError(firstError(res));
  const data = res.getData();
  if (!data) throw new BitrixError('ERROR_UNEXPECTED_ANSWER', 'empty answer', 0, true);
  return { result: data.result as T };
}

function listItems(result: unknown): unknown[] {
  if (Array.isArray(result)) return result;
  // crm.item.list-style answers wrap the page: {items: [...]}.
  for (const v of Object.values(asRecord(result))) if (Array.isArray(v)) return v;
  return [];
}

export function createBitrixClients(opts: BitrixClientsOptions): PortalBitrixClients {
  const { store, config, log } = opts;
  const now = opts.now ?? Date.now;
  const transports = new Map<string, Transport>();
  const refreshes = new Map<string, Promise<TokenAnswer>>();
  const requests = new Map<string, number>();
  const errors = new Map<string, number>();
  const credentials = { clientId: config.b24ClientId, clientSecret: config.b24ClientSecret };
  // Address policy at connect time and no redirects, for the SDK's axios and the token refresh (guarded-transport.ts).
  const guarded = createBitrixTransport(config, log);

  const bump = (map: Map<string, number>, memberId: string) => map.set(memberId, (map.get(memberId) ?? 0) + 1);
  const total = (map: Map<string, number>, memberId?: string) =>
    memberId === undefined ? [...map.values()].reduce((a, b) => a + b, 0) : map.get(memberId) ?? 0;

  function countRequests(http: HttpV2, memberId: string): void {
    guarded.guardAxios(http.ajaxClient, memberId);
    http.ajaxClient.interceptors.request.use((req) => {
      bump(requests, memberId);
      return req;
    });
    if (opts.timeoutMs) http.ajaxClient.defaults.timeout = opts.timeoutMs;
  }

  function requirePortal(memberId: string): Portal {
    const portal = store.portals.get(memberId);
    if (!portal) throw new BitrixError('PORTAL_NOT_FOUND', `portal ${memberId} is not installed`, 404, false);
    if (portal.needsReinstall) throw needsReinstallError(memberId, portal.needsReinstall.reason);
    if (portal.uninstalledAt && !portal.webhookUrl) {
      throw new BitrixError('PORTAL_UNINSTALLED', `the app was uninstalled from portal ${memberId}`, 401, false);
    }
    return portal;
  }

  /** The tokens each portal's SDK instance uses now (its refresh token is the one it would spend), and the access tokens Bitrix24 refused. */
  const inUse = new Map<string, TokenAnswer>();
  const refused = createRefusedTokens();

  const refreshNow = (portal: Portal): Promise<TokenAnswer> => refreshPortalTokens({
    store, log, credentials, portal, now, timeoutMs: opts.timeoutMs, onRequest: () => bump(requests, portal.memberId), transport: guarded,
  });

  /**
   * Bitrix24 refresh tokens are single-use: with several instances on one database (store.database), one refresher
   * at a time per portal across all of them (an advisory lock), and the row read again under the lock. When its
   * refresh token is no longer the one this instance holds, another instance (or a re-install) already rotated it:
   * those tokens are used, and nothing is sent to the OAuth server (a second refresh with the spent token would be
   * refused as invalid_grant and mark the portal for reinstall).
   */
  async function refreshAcrossInstances(memberId: string): Promise<TokenAnswer> {
    const database = store.database;
    if (!database) return refreshNow(requirePortal(memberId));
    return database.withPortalLock(memberId, 'oauth-refresh', async () => {
      await database.reloadPortalRecord(memberId);
      const portal = requirePortal(memberId);
      const mine = inUse.get(memberId)?.refresh_token;
      if (mine !== undefined && portal.refreshToken !== '' && portal.refreshToken !== mine) {
        log.info({ portal: memberId }, 'Bitrix24 tokens were already refreshed by another instance: using them');
        return storedTokenAnswer(portal, portal.accessToken, portal.refreshToken, Math.floor(portal.expiresAt / 1000));
      }
      return refreshNow(portal);
    });
  }

  /**
   * Single flight per portal: many concurrent expired calls → one refresh, one rotation persisted. A refresh asked
   * for when Bitrix24 refused an older token but not the one in use (nor is it expired) comes from a 401 of a request
   * sent before the last refresh: the request is retried with the token in use, and the refresh token is not spent
   * again. Without a refusal on record (its token could not be read) it refreshes, as it always did.
   */
  function singleFlightRefresh(memberId: string): Promise<TokenAnswer> {
    const running = refreshes.get(memberId);
    if (running) return running;
    const current = inUse.get(memberId);
    if (current && refused.any(memberId) && !refused.has(memberId, current.access_token) && Number(current.expires) * 1000 > now()) {
      log.debug({ portal: memberId }, 'a 401 for an access token already replaced: retried with the current one');
      return Promise.resolve(current);
    }
    const started = refreshAcrossInstances(memberId).then((answer) => {
      inUse.set(memberId, answer);
      refused.clear(memberId);
      return answer;
    });
    refreshes.set(memberId, started);
    started.finally(() => refreshes.delete(memberId)).catch(() => undefined);
    return started;
  }

  /** What a transport was built from: a change (re-install, plan, webhook) builds a new one. */
  function transportKey(portal: Portal): string {
    if (portal.webhookUrl) return `hook:${createHash('sha256').update(portal.webhookUrl).digest('hex')}`;
    return `oauth:${portal.clientEndpoint}:${portal.serverEndpoint}:${planForPortal(config, portal)}`;
  }

  function build(portal: Portal): Transport {
    const plan = planForPortal(config, portal);
    // One SDK retry at most: the outbox owns durable retrying with its own backoff, and an inner wait (the SDK
    // sleeps ≥ 10 s on OPERATION_TIME_LIMIT) would only hold the portal's queue.
    const restriction = unmetered(restrictionFor(plan, { maxRetries: 2, ...opts.restriction }));
    if (portal.webhookUrl) {
      const http = new HttpV2(webhookAuth(portal.webhookUrl, portal.memberId), {}, restriction);
      countRequests(http, portal.memberId);
      return { http, plan, builtFrom: transportKey(portal) };
    }
    // The SDK's OAuth auth with our own HttpV2, not a B24OAuth: B24OAuth also builds an HttpV3 (a second axios
    // instance, restriction manager and request-id generator per portal) that nothing here calls. Issue 14: one
    // client per linked portal, so every object in it is multiplied by a thousand portals.
    const auth = new AuthOAuthManager({
      applicationToken: portal.applicationToken,
      userId: 0,
      memberId: portal.memberId,
      accessToken: portal.accessToken,
      refreshToken: portal.refreshToken,
      expires: Math.floor(portal.expiresAt / 1000),
      expiresIn: 3600,
      scope: portal.scope,
      domain: portal.domain,
      clientEndpoint: portal.clientEndpoint,
      serverEndpoint: portal.serverEndpoint,
      status: sdkStatus(portal.status),
    }, credentials);
    // Our refresh instead of the SDK's: it reads the refresh token from the store (the latest rotation), persists
    // the new pair before the SDK uses it, and turns invalid_grant into a terminal "needs reinstall".
    auth.setCustomRefreshAuth(() => singleFlightRefresh(portal.memberId));
    inUse.set(portal.memberId, storedTokenAnswer(portal, portal.accessToken, portal.refreshToken, Math.floor(portal.expiresAt / 1000)));
    const http = new HttpV2(auth, null, restriction);
    countRequests(http, portal.memberId);
    refused.watch(http.ajaxClient, portal.memberId);
    return { http, plan, builtFrom: transportKey(portal) };
  }

  function transportFor(memberId: string): Transport {
    const portal = requirePortal(memberId);
    const key = transportKey(portal);
    const cached = transports.get(memberId);
    if (cached && cached.builtFrom === key) return cached;
    const built = build(portal);
    transports.set(memberId, built);
    return built;
  }

  async function settle(memberId: string, method: string, err: BitrixError): Promise<BitrixError> {
    bump(errors, memberId);
    // The SDK refreshes once on 401 invalid_token and retries; if Bitrix24 still says invalid_token, the
    // grant is gone: mark the portal instead of looping.
    if (err.code === 'invalid_token' && err.status === 401) {
      await markNeedsReinstall(store, log, memberId, 'invalid_token', now());
      return needsReinstallError(memberId, 'invalid_token');
    }
    if (err.code === 'WRONG_AUTH_TYPE' && store.portals.get(memberId)?.webhookUrl) {
      return new BitrixError('WRONG_AUTH_TYPE', `${method} needs the installed app: Bitrix24 refuses it for an inbound webhook (reinstall the app to use telephony)`, 403, false);
    }
    return err;
  }

  async function send(memberId: string, method: string, params: Record<string, unknown>): Promise<AjaxResult> {
    const { http } = transportFor(memberId);
    try {
      return await http.call(method, params);
    } catch (err) {
      throw await settle(memberId, method, toBitrixError(err));
    }
  }

  async function call<T>(memberId: string, method: string, params: Record<string, unknown> = {}): Promise<T> {
    const res = await send(memberId, method, params);
    try {
      return resultOf<T>(res).result;
    } catch (err) {
      throw await settle(memberId, method, toBitrixError(err));
    }
  }

  async function list<T>(memberId: string, method: string, params: Record<string, unknown> = {}): Promise<T[]> {
    const out: T[] = [];
    // Each page is a request of the portal: counted by the same bucket as everything else (see `unmetered`).
    const coalescer = coalescerFor(memberId);
    await coalescer.admit();
    let res = await send(memberId, method, { ...params, start: 0 });
    // Offset paging, 50 per page, `start` = previous `next` (list-methods-pecularities.md), through the SDK's own
    // AjaxResult.getNext(). Bounded so a portal that keeps answering `next` cannot loop forever.
    for (let page = 0; page < 10_000; page++) {
      try {
        out.push(...listItems(resultOf<unknown>(res).result) as T[]);
        if (!res.isMore()) break;
        await coalescer.admit();
        const next = await res.getNext(transportFor(memberId).http);
        if (next === false) break;
        res = next;
      } catch (err) {
        throw await settle(memberId, method, toBitrixError(err));
      }
    }
    return out;
  }

  async function batch(memberId: string, commands: BatchCommand[], halt = false): Promise<BatchResult> {
    if (commands.length === 0) return { results: {}, errors: {} };
    if (commands.length > MAX_BATCH) {
      throw new BitrixError('ERROR_BATCH_LENGTH_EXCEEDED', `a batch holds at most ${MAX_BATCH} commands, got ${commands.length}`, 400, false);
    }
    const cmd: Record<string, string> = {};
    for (const c of commands) cmd[c.key] = batchCommandLine(c.method, c.params);
    return readBatchAnswer(await call<unknown>(memberId, 'batch', { halt: halt ? 1 : 0, cmd }), commands);
  }

  const clients = new Map<string, BitrixClient>();
  // What each portal asks while one of its requests is out goes together in the next one (coalesce.ts).
  const coalescers = new Map<string, PortalCoalescer>();
  // The portal's bucket outlives its coalescer and SDK instance (forget() after a reinstall): Bitrix24's own bucket
  // does not empty because we rebuilt ours.
  const buckets = new Map<string, RateBucket>();
  function bucketFor(memberId: string): RateBucket | undefined {
    const existing = buckets.get(memberId);
    if (existing) return existing;
    const portal = store.portals.get(memberId);
    if (!portal) return undefined;
    const { rateLimit } = restrictionFor(planForPortal(config, portal), opts.restriction);
    if (!rateLimit) return undefined;
    // Several instances on one database share the portal's bucket: Bitrix24 meters the portal, not our process.
    const bucket = store.database
      ? new SharedTokenBucket(store.database.pool, memberId, rateLimit.burstLimit, rateLimit.drainRate, log)
      : new TokenBucket(rateLimit.burstLimit, rateLimit.drainRate, now);
    buckets.set(memberId, bucket);
    return bucket;
  }
  function coalescerFor(memberId: string): PortalCoalescer {
    let c = coalescers.get(memberId);
    if (!c) {
      c = new PortalCoalescer({
        call: (method, params) => call<unknown>(memberId, method, params),
        batch: (commands, halt) => batch(memberId, commands, halt),
      }, MAX_BATCH, () => bump(errors, memberId), MAX_IN_FLIGHT, bucketFor(memberId));
      coalescers.set(memberId, c);
    }
    return c;
  }

  return {
    forPortal(memberId: string): BitrixClient {
      const existing = clients.get(memberId);
      if (existing) return existing;
      const client: BitrixClient = {
        memberId,
        call: async <T>(method: string, params?: Record<string, unknown>) => await coalescerFor(memberId).call(method, params ?? {}) as T,
        list: <T>(method: string, params?: Record<string, unknown>) => list<T>(memberId, method, params),
        batch: (commands: BatchCommand[], halt?: boolean) => coalescerFor(memberId).batch(commands, halt ?? false),
      };
      clients.set(memberId, client);
      return client;
    },
    requestCount: (memberId?: string) => total(requests, memberId),
    errorCount: (memberId?: string) => total(errors, memberId),
    forget(memberId: string): void {
      transports.delete(memberId);
      coalescers.delete(memberId);
      refused.clear(memberId);
    },
    async profileOf(portal: FrameTarget, accessToken: string): Promise<FrameProfile> {
      const auth = new AuthOAuthManager({
        applicationToken: '', userId: 0, memberId: portal.memberId, accessToken, refreshToken: '',
        expires: Math.floor(now() / 1000) + 3600, expiresIn: 3600, scope: portal.scope, domain: portal.domain,
        clientEndpoint: portal.clientEndpoint, serverEndpoint: portal.serverEndpoint, status: sdkStatus(portal.status),
      }, credentials);
      // A frame token is the user's own: we never refresh it. An expired one is simply refused.
      auth.setCustomRefreshAuth(() => Promise.reject(new BitrixError('expired_token', 'the frame token expired', 401, false)));
      // HttpV2 alone, as in build(): no unused HttpV3 per frame check.
      const http = new HttpV2(auth, null, restrictionFor('standard', { maxRetries: 1 }));
      countRequests(http, portal.memberId);
      let res: AjaxResult;
      try {
        res = await http.call('batch', { ...FRAME_CHECK_BATCH, cmd: { ...FRAME_CHECK_BATCH.cmd } });
      } catch (err) {
        throw toBitrixError(err);
      }
      return readFrameCheck(resultOf<unknown>(res).result, expectedAppCode(config.b24ClientId));
    },
  };
}
