import express, { type Request, type Response } from 'express';
import { fenceAdvice } from '../../store/fences.js';
import type { Store } from '../../store/types.js';
import { frameUser, locals } from '../context.js';
import { requireAdmin } from '../middleware/frame-auth.js';

export interface RepairApiDeps {
  store: Store;
  /** The portal is whole again: reopen its PBX link and resume its outbox. */
  onRepaired(memberId: string): Promise<void> | void;
}

/**
 * POST /api/repair (portal admins): a fenced portal (store/fences.ts) starts each unreadable file of its own afresh;
 * the unreadable file is kept beside it as `<file>.corrupt-<time>` for the operator. Only the caller's own portal is
 * touched (frame auth names it). Fences a repair cannot lift are answered with what to do instead: install the app
 * again (unopenable tokens in portals.json) or ask the operator (the server's webhook key).
 */
export function repairRouter(deps: RepairApiDeps): express.Router {
  const router = express.Router();
  router.post('/repair', requireAdmin, async (_req: Request, res: Response) => {
    const user = frameUser(res);
    const memberId = user.portal.memberId;
    const result = await deps.store.repairPortal(memberId);
    locals(res).log.warn({ portal: memberId, userId: user.userId, repaired: result.repaired.map((r) => r.file).join(', ') || 'nothing' },
      'portal repair requested by an admin');
    if (result.repaired.length > 0 && !deps.store.fences.isFenced(memberId)) await deps.onRepaired(memberId);
    res.json({
      repaired: result.repaired,
      remaining: result.remaining.map((f) => ({ file: f.file, repair: f.repair, advice: fenceAdvice(f) })),
      fenced: deps.store.fences.isFenced(memberId),
    });
  });
  return router;
}
