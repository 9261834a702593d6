/**
 * `GET /checklist` and `PUT /checklist/default-line` (mounted under /api after frame auth): the settings page's
 * first-run checklist (portals/checklist.ts). Documented in docs/api-settings.md.
 */
import express, { type RequestHandler, type Router } from 'express';
import { z } from 'zod';
import { parseBody, portalOf } from './route-support.js';
import { firstRunChecklist } from '../../portals/checklist.js';
import type { PbxStatusLookup } from '../../portals/status.js';
import type { Store } from '../../store/types.js';
import { locals } from '../context.js';
import { bytes, jsonBody } from '../middleware/body.js';
import type { ChecklistResponse, DefaultLineUpdate } from '../../../contract/api-shapes.js';

const defaultLineSchema = z.strictObject({ confirmed: z.boolean() }) satisfies z.ZodType<DefaultLineUpdate>;

export function checklistRouter(deps: { store: Store; pbxStatus: PbxStatusLookup; requireAdmin: RequestHandler }): Router {
  const router = express.Router();
  const checklist = (portal: string): ChecklistResponse => firstRunChecklist(deps.store, deps.pbxStatus(portal), portal);

  router.get('/checklist', (_req, res) => {
    res.json(checklist(portalOf(res)));
  });

  router.put('/checklist/default-line', deps.requireAdmin, jsonBody(bytes('1kb')), async (req, res) => {
    const portal = portalOf(res);
    const { confirmed } = parseBody(defaultLineSchema, req.body);
    await deps.store.portals.update(portal, confirmed ? { defaultLineConfirmedAt: Date.now() } : { defaultLineConfirmedAt: 0 });
    locals(res).log.info({ portal, confirmed }, 'default line for click-to-call ticked on the checklist');
    res.json(checklist(portal));
  });

  return router;
}
