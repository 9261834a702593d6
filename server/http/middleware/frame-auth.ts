import { createHash } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import type { Store } from '../../store/types.js';
import type { FrameProfile, PortalBitrixClients } from '../../bitrix/client.js';
import { BitrixError } from '../../bitrix/types.js';
import { TokenBucket } from '../../bitrix/coalesce.js';
import { AppError, forbidden, unauthorized } from '../../errors.js';
import { frameUser, locals, type FrameUser } from '../context.js';

/** A token bucket's size and refill. */
export interface BucketLimit {
  burst: number;
  perSecond: number;
}

export interface FrameAuthOptions {
  store: Store;
  clients: Pick<PortalBitrixClients, 'profileOf'>;
  now?: () => number;
  /**
   * How long a checked token is trusted for READING. Frame tokens (AUTH_ID) live 3600 s from issue (AUTH_EXPIRES,
   * reference §1.2) and we do not learn when they were issued, so the cache keeps them for at most this long.
   */
  ttlMs?: number;
  /**
   * How old a verdict may be for a MUTATING request (default 60 s): an admin demoted or deactivated in Bitrix24 loses
   * the right to change anything here at most this long after the change; older verdicts are re-checked first.
   */
  mutationTtlMs?: number;
  /** Bound on cached tokens, per kind (accepted / refused), oldest dropped first. */
  maxEntries?: number;
  /** A refused token is not re-checked for this long: garbage tokens must not spend the portal's rate limit. */
  negativeTtlMs?: number;
  /**
   * Checks of tokens never seen before (each costs an outbound request), limited per portal and per client address
   * (req.ip: the address the trusted reverse proxy names, see `trust proxy` in app.ts). Over either → 429.
   */
  missLimitPerPortal?: BucketLimit;
  missLimitPerAddress?: BucketLimit;
}

/** What a caller may tune (tests: a clock, short TTLs, small buckets). */
export type FrameAuthTuning = Partial<Omit<FrameAuthOptions, 'store' | 'clients'>>;

export interface FrameAuth {
  /** The /api middleware. */
  middleware: (req: Request, res: Response, next: NextFunction) => Promise<void>;
  /** Drops every cached verdict of a portal (after a re-install: a verdict from before must not survive it). */
  forgetPortal(memberId: string): void;
}

interface Entry {
  profile: FrameProfile;
  checkedAt: number;
}

const BEARER = /^Bearer\s+([A-Za-z0-9._~+/=-]{8,512})$/;
const MEMBER_ID = /^[A-Za-z0-9_.-]{1,128}$/;
/** Answers meaning "this token is not good for this portal", as opposed to Bitrix24 being unreachable. */
const REFUSED = new Set([
  'NO_AUTH_FOUND', 'expired_token', 'invalid_token', 'INVALID_CREDENTIALS', 'user_access_error', 'WRONG_AUTH_TYPE',
  'insufficient_scope', 'ACCESS_DENIED', 'authorization_error', 'WRONG_APPLICATION',
]);
const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

export const FRAME_AUTH_DEFAULTS = {
  ttlMs: 10 * 60_000,
  mutationTtlMs: 60_000,
  negativeTtlMs: 30_000,
  maxEntries: 5000,
  missLimitPerPortal: { burst: 60, perSecond: 2 },
  missLimitPerAddress: { burst: 20, perSecond: 1 },
} as const;

/** 127.0.0.0/8 and ::1, also in the IPv4-mapped form Node reports for a dual-stack socket. */
function isLoopback(address: string): boolean {
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  return v4.startsWith('127.') || address === '::1';
}

/** A Map used as an LRU-ish bounded cache: re-set moves a key to the end, the oldest go first. */
function boundedSet<V>(map: Map<string, V>, key: string, value: V, max: number): void {
  map.delete(key);
  map.set(key, value);
  while (map.size > max) {
    const oldest = map.keys().next().value;
    if (oldest === undefined) break;
    map.delete(oldest);
  }
}

/** One token bucket per key (portal or address), bounded in number; a dropped bucket restarts full. */
class BucketsByKey {
  private readonly buckets = new Map<string, TokenBucket>();
  constructor(private readonly limit: BucketLimit, private readonly now: () => number, private readonly max = 10_000) {}

  get(key: string): TokenBucket {
    const existing = this.buckets.get(key);
    if (existing) return existing;
    const bucket = new TokenBucket(this.limit.burst, this.limit.perSecond, this.now);
    boundedSet(this.buckets, key, bucket, this.max);
    return bucket;
  }
}

/**
 * /api auth: the Bitrix24 frame sends its AUTH_ID (`Authorization: Bearer`) and member_id (`X-Member-Id`). The portal
 * is resolved by member_id only — never a domain the client names — and the token is checked by asking THAT
 * portal's REST (`profile` + `app.info` in one batch, bitrix/frame-check.ts), so a token of another portal, or of
 * another application on the same portal, is refused there.
 *
 * Verdicts are cached: reads trust one for `ttlMs`, mutations only for `mutationTtlMs` (rights re-checked within a
 * minute of a change in Bitrix24). Tokens never seen before cost an outbound request each, so their checks are
 * metered per portal and per client address: past the limit the answer is 429 with Retry-After and nothing goes out.
 */
export function createFrameAuth(opts: FrameAuthOptions): FrameAuth {
  const now = opts.now ?? Date.now;
  const ttl = opts.ttlMs ?? FRAME_AUTH_DEFAULTS.ttlMs;
  const mutationTtl = Math.min(opts.mutationTtlMs ?? FRAME_AUTH_DEFAULTS.mutationTtlMs, ttl);
  const negativeTtl = opts.negativeTtlMs ?? FRAME_AUTH_DEFAULTS.negativeTtlMs;
  const max = opts.maxEntries ?? FRAME_AUTH_DEFAULTS.maxEntries;
  // Accepted and refused tokens in separate maps: a flood of garbage must not evict the verdicts of real users
  // (which would make every real user's next request a metered miss).
  const accepted = new Map<string, Entry>();
  /** Refused tokens: until when, and the portal's reason (for the log line). */
  const refused = new Map<string, { until: number; code: string }>();
  const inflight = new Map<string, Promise<FrameProfile | null>>();
  /** Bumped by forgetPortal: a check that started before a re-install must not store its verdict after it. */
  const generations = new Map<string, number>();
  const perPortal = new BucketsByKey(opts.missLimitPerPortal ?? FRAME_AUTH_DEFAULTS.missLimitPerPortal, now);
  const perAddress = new BucketsByKey(opts.missLimitPerAddress ?? FRAME_AUTH_DEFAULTS.missLimitPerAddress, now);

  function check(memberId: string, key: string, run: () => Promise<FrameProfile>): Promise<FrameProfile | null> {
    const running = inflight.get(key);
    if (running) return running;
    const generation = generations.get(memberId) ?? 0;
    const current = () => (generations.get(memberId) ?? 0) === generation;
    const pending = run().then(
      (profile) => {
        if (current()) {
          refused.delete(key);
          boundedSet(accepted, key, { profile, checkedAt: now() }, max);
        }
        return profile;
      },
      (err: unknown) => {
        if (err instanceof BitrixError && (REFUSED.has(err.code) || (err.status >= 400 && err.status < 500 && !err.retryable))) {
          accepted.delete(key);
          if (current()) boundedSet(refused, key, { until: now() + negativeTtl, code: err.code }, max);
          return null;
        }
        throw new AppError('BITRIX_UNAVAILABLE', 'could not check the frame token with Bitrix24, try again', 503, undefined, err);
      },
    ).finally(() => inflight.delete(key));
    inflight.set(key, pending);
    return pending;
  }

  /**
   * A miss (a token with no verdict at all) may go out only when both the portal's and the address's bucket allow it.
   * A loopback address has no address bucket: behind the reverse proxy every internet client carries the address the
   * proxy names (X-Forwarded-For, trusted from loopback only), so a bare loopback peer is a process on this host (the
   * operator's tools, the benchmark setting up a hundred portals). The portal's bucket applies to it like to anyone.
   */
  function admitMiss(memberId: string, address: string): number {
    const portalBucket = perPortal.get(memberId);
    const addressBucket = isLoopback(address) ? null : perAddress.get(address);
    const wait = Math.max(portalBucket.waitMs(), addressBucket?.waitMs() ?? 0);
    if (wait > 0) return wait;
    portalBucket.take();
    addressBucket?.take();
    return 0;
  }

  const middleware = async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    const match = BEARER.exec(req.get('authorization') ?? '');
    const memberId = req.get('x-member-id') ?? '';
    if (!match || !MEMBER_ID.test(memberId)) throw unauthorized('missing Bitrix24 frame auth (Authorization: Bearer <AUTH_ID> and X-Member-Id)');
    const token = match[1] ?? '';
    const portal = opts.store.portals.get(memberId);
    if (!portal || portal.uninstalledAt) throw unauthorized('unknown portal');
    const key = `${memberId}:${createHash('sha256').update(token).digest('hex')}`;
    const t = now();
    const maxAge = SAFE.has(req.method) ? ttl : mutationTtl;
    const known = accepted.get(key);
    const refusal = refused.get(key);
    let profile: FrameProfile | null;
    if (known && t - known.checkedAt < maxAge) {
      profile = known.profile;
    } else if (!known && refusal !== undefined && refusal.until > t) {
      profile = null;
    } else {
      // A token we accepted before is re-checked without metering (bounded by the real users' own requests); a token
      // we never accepted is a miss, metered, unless a check of it is already running (joining costs nothing).
      if (!known && !inflight.has(key)) {
        const address = req.ip ?? req.socket.remoteAddress ?? 'unknown';
        const waitMs = admitMiss(memberId, address);
        if (waitMs > 0) {
          const retryAfter = Math.max(1, Math.ceil(waitMs / 1000));
          locals(res).log.warn({ portal: memberId, address, retryAfter }, 'frame token check refused: too many unknown tokens');
          res.set('Retry-After', String(retryAfter));
          throw new AppError('TOO_MANY_REQUESTS', 'too many new sign-ins for this portal or from this address; try again shortly', 429);
        }
      }
      profile = await check(memberId, key, () => opts.clients.profileOf(portal, token));
    }
    if (!profile) {
      // WRONG_APPLICATION: a token of another app; authorization_error: a deactivated user; NO_AUTH_FOUND: garbage.
      locals(res).log.warn({ portal: memberId, reason: refused.get(key)?.code }, 'frame token refused by the portal');
      throw unauthorized('the Bitrix24 frame token is not valid for this portal');
    }
    const user: FrameUser = { portal, userId: profile.userId, isAdmin: profile.isAdmin };
    locals(res).user = user;
    locals(res).log = locals(res).log.child({ portal: memberId, userId: profile.userId });
    next();
  };

  return {
    middleware,
    forgetPortal(memberId: string): void {
      generations.set(memberId, (generations.get(memberId) ?? 0) + 1);
      const prefix = `${memberId}:`;
      for (const key of [...accepted.keys()]) if (key.startsWith(prefix)) accepted.delete(key);
      for (const key of [...refused.keys()]) if (key.startsWith(prefix)) refused.delete(key);
    },
  };
}

/** The middleware alone (callers that never need to drop a portal's verdicts). */
export function frameAuth(opts: FrameAuthOptions) {
  return createFrameAuth(opts).middleware;
}

/** Mutating requests only for portal admins (`profile` ADMIN). Mount after frameAuth. */
export function requireAdmin(req: Request, res: Response, next: NextFunction): void {
  if (SAFE.has(req.method)) {
    next();
    return;
  }
  if (!frameUser(res).isAdmin) throw forbidden('only a Bitrix24 administrator can change this');
  next();
}
