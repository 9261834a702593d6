import express, { type Request, type Response } from 'express';
import { z } from 'zod';
import { frameUser } from '../context.js';
import { notFound } from '../../errors.js';
import type { FailedWriteRow } from '../../../contract/api-shapes.js';
import type { Outbox } from '../../outbox/types.js';
import { requireAdmin } from '../middleware/frame-auth.js';

const idParam = z.object({ id: z.string().min(1).max(128) });

/**
 * The Activity page's failed writes: GET /api/outbox/failed, POST /api/outbox/:id/retry (admins) puts a parked write
 * back in the queue. Parked writes carry other people's calls and Bitrix24's error texts, so only an admin gets them;
 * anyone else gets an empty list (the page shows none) rather than an error (issue 10 point 7).
 */
export function outboxRouter(deps: { outbox: Outbox }): express.Router {
  const router = express.Router();
  router.get('/outbox/failed', (_req: Request, res: Response) => {
    const { portal: { memberId: portal }, isAdmin } = frameUser(res);
    const rows: FailedWriteRow[] = !isAdmin ? [] : deps.outbox.failed(portal).map((item) => ({
      id: item.id, method: item.method, group: item.group, attempts: item.attempts, lastError: item.lastError ?? '', createdAt: item.createdAt,
    }));
    res.json(rows);
  });
  router.post('/outbox/:id/retry', requireAdmin, async (req: Request, res: Response) => {
    const { id } = idParam.parse(req.params);
    const portal = frameUser(res).portal.memberId;
    if (!deps.outbox.failed(portal).some((item) => item.id === id)) throw notFound('no parked write with this id');
    await deps.outbox.retry(portal, id);
    res.json({ ok: true });
  });
  return router;
}
