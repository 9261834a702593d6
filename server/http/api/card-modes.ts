/**
 * Per-employee call card mode: `PUT /card-modes` (admin; mounted under /api after frame auth). Each employee's mode is
 * shown in `GET /users` (`cardMode`). Documented in docs/api-settings.md.
 */
import express, { type RequestHandler, type Router } from 'express';
import { z } from 'zod';
import { parseBody, portalOf } from './route-support.js';
import type { CardMode } from '../../store/records.js';
import type { Store } from '../../store/types.js';
import { locals } from '../context.js';
import type { CardModesUpdate } from '../../../contract/api-shapes.js';

const updateSchema = z.strictObject({
  modes: z.array(z.strictObject({
    userId: z.number().int().positive(),
    mode: z.enum(['ring', 'answer', 'never']),
  })).min(1).max(5_000),
}) satisfies z.ZodType<CardModesUpdate>;

export function cardModesRouter(deps: { store: Store; requireAdmin: RequestHandler }): Router {
  const router = express.Router();

  router.put('/card-modes', deps.requireAdmin, express.json({ limit: '256kb' }), async (req, res) => {
    const portal = portalOf(res);
    const { modes } = parseBody(updateSchema, req.body);
    const changes: Record<number, CardMode> = {};
    for (const { userId, mode } of modes) changes[userId] = mode;
    await deps.store.bindings.setCardModes(portal, changes);
    locals(res).log.info({ portal, users: modes.length }, 'call card modes saved');
    res.json({ modes: deps.store.bindings.cardModes(portal) });
  });

  return router;
}
