import { createHash } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import type { Store } from '../../store/types.js';
import type { FrameProfile, PortalBitrixClients } from '../../bitrix/client.js';
import { BitrixError } from '../../bitrix/types.js';
import { AppError, forbidden, unauthorized } from '../../errors.js';
import { frameUser, locals, type FrameUser } from '../context.js';

export interface FrameAuthOptions {
  store: Store;
  clients: Pick<PortalBitrixClients, 'profileOf'>;
  now?: () => number;
  /**
   * How long a checked token is trusted. Frame tokens (AUTH_ID) live 3600 s from issue (AUTH_EXPIRES, reference §1.2)
   * and we do not learn when they were issued, so the cache keeps them for at most this long.
   */
  ttlMs?: number;
  /** Bound on cached tokens (oldest dropped first). */
  maxEntries?: number;
  /** A refused token is not re-checked for this long: garbage tokens must not spend the portal's rate limit. */
  negativeTtlMs?: number;
}

interface Entry {
  profile: FrameProfile | null;
  until: number;
}

const BEARER = /^Bearer\s+([A-Za-z0-9._~+/=-]{8,512})$/;
const MEMBER_ID = /^[A-Za-z0-9_.-]{1,128}$/;
/** Answers meaning "this token is not good for this portal", as opposed to Bitrix24 being unreachable. */
const REFUSED = new Set(['NO_AUTH_FOUND', 'expired_token', 'invalid_token', 'INVALID_CREDENTIALS', 'user_access_error', 'WRONG_AUTH_TYPE', 'insufficient_scope', 'ACCESS_DENIED']);

/**
 * /api auth: the Bitrix24 frame sends its AUTH_ID (`Authorization: Bearer`) and member_id (`X-Member-Id`). The portal
 * is resolved by member_id only — never a domain the client names — and the token is checked by asking THAT
 * portal's REST (`profile`), so a token of another portal is refused there.
 */
export function frameAuth(opts: FrameAuthOptions) {
  const now = opts.now ?? Date.now;
  const ttl = opts.ttlMs ?? 10 * 60_000;
  const negativeTtl = opts.negativeTtlMs ?? 30_000;
  const max = opts.maxEntries ?? 5000;
  const cache = new Map<string, Entry>();
  const inflight = new Map<string, Promise<FrameProfile | null>>();

  function remember(key: string, entry: Entry): void {
    cache.delete(key);
    cache.set(key, entry);
    while (cache.size > max) {
      const oldest = cache.keys().next().value;
      if (oldest === undefined) break;
      cache.delete(oldest);
    }
  }

  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    const match = BEARER.exec(req.get('authorization') ?? '');
    const memberId = req.get('x-member-id') ?? '';
    if (!match || !MEMBER_ID.test(memberId)) throw unauthorized('missing Bitrix24 frame auth (Authorization: Bearer <AUTH_ID> and X-Member-Id)');
    const token = match[1] ?? '';
    const portal = opts.store.portals.get(memberId);
    if (!portal || portal.uninstalledAt) throw unauthorized('unknown portal');
    const key = `${memberId}:${createHash('sha256').update(token).digest('hex')}`;
    const t = now();
    const hit = cache.get(key);
    let profile: FrameProfile | null;
    if (hit && hit.until > t) {
      profile = hit.profile;
    } else {
      let pending = inflight.get(key);
      if (!pending) {
        pending = opts.clients.profileOf(portal, token).then(
          (p) => { remember(key, { profile: p, until: now() + ttl }); return p; },
          (err: unknown) => {
            if (err instanceof BitrixError && (REFUSED.has(err.code) || (err.status >= 400 && err.status < 500 && !err.retryable))) {
              remember(key, { profile: null, until: now() + negativeTtl });
              return null;
            }
            throw new AppError('BITRIX_UNAVAILABLE', 'could not check the frame token with Bitrix24, try again', 503, undefined, err);
          },
        ).finally(() => inflight.delete(key));
        inflight.set(key, pending);
      }
      profile = await pending;
    }
    if (!profile) {
      locals(res).log.warn({ portal: memberId }, 'frame token refused by the portal');
      throw unauthorized('the Bitrix24 frame token is not valid for this portal');
    }
    const user: FrameUser = { portal, userId: profile.userId, isAdmin: profile.isAdmin };
    locals(res).user = user;
    locals(res).log = locals(res).log.child({ portal: memberId, userId: profile.userId });
    next();
  };
}

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Mutating requests only for portal admins (`profile` ADMIN). Mount after frameAuth. */
export function requireAdmin(req: Request, res: Response, next: NextFunction): void {
  if (SAFE.has(req.method)) {
    next();
    return;
  }
  if (!frameUser(res).isAdmin) throw forbidden('only a Bitrix24 administrator can change this');
  next();
}
